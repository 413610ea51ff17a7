//! Writing reports and snapshots, which map an organisation's attack surface. Every output file azpath writes
//! (`-o/--output`, `collect -o`, `scan --snapshot`, `mock generate --snapshot`) goes through [`write_private`],
//! which decides by what the path names now, looked at without following a symlink (`symlink_metadata`):
//!
//! - `-` or `/dev/stdout` (`/dev/stderr`): the process's own stdout (stderr); `/dev/stdout` is a symlink, so it
//!   is recognised by name rather than followed. A reader that closes the pipe early (`| head`) ends the
//!   output quietly: a broken pipe there is not an error (the exit code is the run's own).
//! - nothing yet, or a regular file: a temp file `.azpath-XXXX` beside it, mode 0600, written, synced and
//!   renamed over it, so a reader never sees half a report and a replaced file ends up owner-only.
//! - a FIFO or a character device (`/dev/null`, a named pipe, a terminal): opened with `O_NOFOLLOW` and written
//!   straight into; never replaced, never chmod-ed. A FIFO without a reader blocks until one opens it, as a
//!   shell redirection does.
//! - a symlink (dangling or not), a directory, a socket, a block device: refused with an error naming the path.
//!
//! Races (TOCTOU): between the check and the write, someone with write access to the directory could swap the
//! entry. A FIFO/device is opened with `O_NOFOLLOW` (a symlink swapped in fails to open) and without `O_CREAT`,
//! and its device and inode must still be those that were checked, or nothing is written. A rename replaces
//! the directory entry itself and never writes through a symlink or into a device, so the worst a swap can do
//! is have its own new entry replaced.
//!
//! Temp files being written are kept in a small registry; [`remove_temp_files_on_signal`] starts a thread that,
//! on SIGINT or SIGTERM, removes them and exits with 128 + the signal number (130, 143).

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The path is a symlink: following it could write anywhere, replacing it would drop the link.
    #[error("refusing to replace symlink {}; write to its target or remove it", path.display())]
    Symlink {
        /// The output path given.
        path: PathBuf,
    },
    /// The path is something a report cannot go into (a directory, a socket, a block device…).
    #[error(
        "refusing to write to {}: it is a {kind}; give a file, a FIFO, a character device or `-` for stdout",
        path.display()
    )]
    Unsupported {
        /// The output path given.
        path: PathBuf,
        /// What it is, in words.
        kind: &'static str,
    },
    /// A FIFO or device was replaced by something else between its check and its opening.
    #[error("{} changed while it was being opened; nothing was written", path.display())]
    Changed {
        /// The output path given.
        path: PathBuf,
    },
    /// Looking at the path failed (permissions on its directory, say).
    #[error("checking output path {}", path.display())]
    Inspect {
        /// The output path given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The temp file beside the target could not be created.
    #[error("creating a temporary file in {}", dir.display())]
    TempFile {
        /// The target's directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Opening, writing, syncing or renaming into the target failed.
    #[error("writing {}", path.display())]
    Write {
        /// The output path given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Writes `bytes` to `path` as the module docs describe: stdout for `-`, atomically with mode 0600 for a new
/// path or a regular file, straight into a FIFO or character device; refuses symlinks and anything else.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_private_with(path, |out| out.write_all(bytes))
}

/// [`write_private`] for output produced piece by piece (`--format ndjson`): `write` writes into a buffered
/// writer over stdout, the FIFO/device, or the temp file, which replaces `path` only once `write` and the
/// sync succeeded (on an error it is removed and `path` is left as it was). Nothing is held whole in memory.
pub fn write_private_with<F>(path: &Path, write: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    match Target::of(path)? {
        Target::Stdout => write_std(&mut io::stdout().lock(), path, write),
        Target::Stderr => write_std(&mut io::stderr().lock(), path, write),
        Target::Replace => write_atomic(path, write),
        Target::Stream(checked) => write_stream(path, &checked, write),
    }
}

/// Fails, without writing anything, when [`write_private`] would refuse `path` now: lets a command refuse a
/// bad `-o` before a long collection rather than after.
pub fn check(path: &Path) -> Result<(), OutputError> {
    Target::of(path).map(drop)
}

/// Writes `bytes` to stdout (reports when no `-o` is given).
pub fn write_stdout(bytes: &[u8]) -> Result<(), OutputError> {
    write_stdout_with(|out| out.write_all(bytes))
}

/// [`write_stdout`] for output produced piece by piece: `write` writes into buffered stdout.
pub fn write_stdout_with<F>(write: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    write_std(&mut io::stdout().lock(), Path::new("-"), write)
}

/// What an output path names now.
enum Target {
    /// `-` or `/dev/stdout`.
    Stdout,
    /// `/dev/stderr`.
    Stderr,
    /// Nothing, or a regular file: temp file + rename.
    Replace,
    /// A FIFO or character device, with the metadata it was checked with.
    Stream(Metadata),
}

impl Target {
    fn of(path: &Path) -> Result<Self, OutputError> {
        if path == Path::new("-") || path == Path::new("/dev/stdout") {
            return Ok(Self::Stdout);
        }
        if path == Path::new("/dev/stderr") {
            return Ok(Self::Stderr);
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::Replace),
            Err(source) => return Err(OutputError::Inspect { path: path.to_owned(), source }),
        };
        let kind = meta.file_type();
        if kind.is_file() {
            Ok(Self::Replace)
        } else if kind.is_symlink() {
            Err(OutputError::Symlink { path: path.to_owned() })
        } else if is_stream(&meta) {
            Ok(Self::Stream(meta))
        } else {
            Err(OutputError::Unsupported { path: path.to_owned(), kind: kind_name(&meta) })
        }
    }
}

#[cfg(unix)]
fn is_stream(meta: &Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_fifo() || meta.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_stream(_: &Metadata) -> bool {
    false
}

/// What a refused path is, for the error message.
fn kind_name(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_socket() {
            return "socket";
        }
        if t.is_block_device() {
            return "block device";
        }
    }
    if meta.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

fn write_std<F>(out: &mut dyn Write, path: &Path, write: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    match write_buffered(out, write) {
        // The reader stopped reading (`azpath scan | head`): not an error, the rest is not wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|source| OutputError::Write { path: path.to_owned(), source }),
    }
}

/// Runs `write` over a buffer in front of `out` and flushes it.
fn write_buffered<F>(out: &mut dyn Write, write: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    write(&mut buffered)?;
    buffered.flush()
}

/// Temp file beside `path` (registered for removal on a signal), mode 0600, synced, renamed over `path`.
fn write_atomic<F>(path: &Path, write: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = TempOutput::create(dir)?;
    let write_err = |source| OutputError::Write { path: path.to_owned(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.file.as_file().set_permissions(fs::Permissions::from_mode(0o600)).map_err(write_err)?;
    }
    write_buffered(&mut tmp.file, write).map_err(write_err)?;
    tmp.file.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(write_err)
}

/// Opens a checked FIFO or character device without following a symlink or creating anything, makes sure it
/// is still the node that was checked, and writes into it.
fn write_stream<F>(path: &Path, checked: &Metadata, write: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let write_err = |source| OutputError::Write { path: path.to_owned(), source };
    let file = open_stream(path)?;
    if !same_node(&file.metadata().map_err(write_err)?, checked) {
        return Err(OutputError::Changed { path: path.to_owned() });
    }
    write_buffered(&mut &file, write).map_err(write_err)
}

#[cfg(unix)]
fn open_stream(path: &Path) -> Result<File, OutputError> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NOCTTY: writing to a terminal device must not make it our controlling terminal.
    OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY).open(path).map_err(|source| {
        if source.raw_os_error() == Some(libc::ELOOP) {
            OutputError::Symlink { path: path.to_owned() }
        } else {
            OutputError::Write { path: path.to_owned(), source }
        }
    })
}

#[cfg(not(unix))]
fn open_stream(path: &Path) -> Result<File, OutputError> {
    OpenOptions::new().write(true).open(path).map_err(|source| OutputError::Write { path: path.to_owned(), source })
}

#[cfg(unix)]
fn same_node(opened: &Metadata, checked: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (opened.dev(), opened.ino()) == (checked.dev(), checked.ino())
}

#[cfg(not(unix))]
fn same_node(opened: &Metadata, checked: &Metadata) -> bool {
    opened.file_type() == checked.file_type()
}

/// Temp files being written now; the signal thread removes them before exiting.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_flight() -> MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every registered temp file (a signal arrived).
fn remove_in_flight(pending: &mut Vec<PathBuf>) {
    for path in pending.drain(..) {
        let _ = fs::remove_file(path);
    }
}

/// A `.azpath-XXXX` temp file, in the registry from its creation until it is renamed or dropped (deleted).
struct TempOutput {
    file: tempfile::NamedTempFile,
    _registered: Registered,
}

/// Takes a path out of the registry when dropped.
struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        in_flight().retain(|p| *p != self.0);
    }
}

impl TempOutput {
    /// Creates and registers the file under the registry's lock, so a signal thread that holds the lock either
    /// sees the file or runs before it exists.
    fn create(dir: &Path) -> Result<Self, OutputError> {
        let mut pending = in_flight();
        let file = tempfile::Builder::new()
            .prefix(".azpath-")
            .tempfile_in(dir)
            .map_err(|source| OutputError::TempFile { dir: dir.to_owned(), source })?;
        pending.push(file.path().to_owned());
        Ok(Self { _registered: Registered(file.path().to_owned()), file })
    }

    fn persist(self, path: &Path) -> io::Result<()> {
        let Self { file, _registered } = self;
        file.persist(path).map(drop).map_err(|e| e.error)
    }
}

/// Starts the thread that handles Ctrl-C (SIGINT) and SIGTERM for the whole process: it removes the temp
/// files being written and exits with 130 or 143. The signal handler itself only wakes that thread
/// (signal-hook's self-pipe), so the cleanup runs as ordinary code. Call once, at start.
#[cfg(unix)]
pub fn remove_temp_files_on_signal() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("azpath-signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // The lock is held until exit: no new temp file can be created meanwhile.
            let mut pending = in_flight();
            remove_in_flight(&mut pending);
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests below look at the process-wide registry: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn writes_owner_only_and_replaces() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_private(&p, b"one").unwrap();
        write_private(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
        assert!(in_flight().is_empty(), "a finished write leaves nothing for the signal thread to remove");
    }

    /// What the signal thread does, minus the exit: the half-written temp file, still open, is removed.
    #[test]
    fn a_signal_removes_the_temp_files_being_written() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let mut tmp = TempOutput::create(dir.path()).unwrap();
        tmp.file.write_all(b"half a report").unwrap();
        let path = tmp.file.path().to_owned();
        assert!(path.file_name().unwrap().to_string_lossy().starts_with(".azpath-"));
        let mut pending = in_flight();
        assert_eq!(pending.as_slice(), std::slice::from_ref(&path));
        remove_in_flight(&mut pending);
        drop(pending);
        assert!(!path.exists(), "temp file removed");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        drop(tmp);
        assert!(in_flight().is_empty());
    }

    #[test]
    fn a_failed_write_unregisters_its_temp_file() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let tmp = TempOutput::create(dir.path()).unwrap();
        let err = tmp.persist(&dir.path().join("missing-dir/r.json")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(in_flight().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temp file deleted");
    }

    /// A stream that fails half way (the analysis, say) leaves the earlier file whole and no temp file.
    #[test]
    fn a_failed_stream_leaves_the_file_as_it_was() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pairs.ndjson");
        write_private(&p, b"earlier\n").unwrap();
        let err = write_private_with(&p, |out| {
            out.write_all(&[b'x'; 200_000])?;
            Err(io::Error::other("analysis failed"))
        })
        .unwrap_err();
        assert!(matches!(err, OutputError::Write { .. }) && err.to_string().contains("pairs.ndjson"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"earlier\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temp file removed");
        assert!(in_flight().is_empty());
        write_private_with(&p, |out| (0..3).try_for_each(|i| writeln!(out, "line {i}"))).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "line 0\nline 1\nline 2\n");
    }

    #[test]
    fn refusals_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = check(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()) && err.contains("it is a directory"), "{err}");
        assert!(check(&dir.path().join("new.json")).is_ok());
        assert!(check(Path::new("-")).is_ok());
    }
}
