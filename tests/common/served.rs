//! A running `azpath mock serve …` and its output lines as they come (tests/mock_serve.rs,
//! tests/scheduled_flow.rs).

use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::{azpath, lines};

/// How long a line is waited for.
const WAIT: Duration = Duration::from_secs(60);

/// A running `azpath mock serve`, killed when dropped.
pub struct Served {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// The banner, up to its last line (`Scan it …`).
    pub banner: Vec<String>,
    /// Every stderr line seen so far.
    errors: Vec<String>,
}

impl Served {
    /// Starts `azpath mock serve ARGS` and waits for its banner.
    pub fn start(args: &[&str]) -> Served {
        let mut child =
            azpath().args(["mock", "serve"]).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let mut served = Served { child, stdout, stderr, banner: Vec::new(), errors: Vec::new() };
        served.banner = served.stdout_line(|l| l.starts_with("Scan it"));
        served
    }

    /// Waits for a stdout line that passes `want`; the lines before it are returned too.
    pub fn stdout_line(&mut self, want: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + WAIT;
        while let Ok(line) = self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            let done = want(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
        self.errors.extend(self.stderr.try_iter());
        panic!("no such line on stdout; got {seen:?}; stderr {:?}", self.errors);
    }

    /// Waits for a stderr line that passes `want`.
    pub fn stderr_line(&mut self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        while let Ok(line) = self.stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.errors.push(line.clone());
            if want(&line) {
                return line;
            }
        }
        panic!("no such line on stderr; got {:?}", self.errors);
    }

    /// Sends `signal` to it.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
    }

    /// Stops it with `signal`; returns its exit code and the stats line.
    pub fn stop(mut self, signal: libc::c_int) -> (Option<i32>, String) {
        self.signal(signal);
        let line = self.stderr_line(|l| l.starts_with("served "));
        let status = self.child.wait().unwrap();
        (status.code(), line)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
