//! Compiles the tenants of `tenants/` into the crate, so `azpath scan --mock demo` works from any folder.
//! Writes `$OUT_DIR/bundled.rs`: `TENANTS: &[(name, &[(relative file, include_str!(file))])]`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tenants");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from("pub(super) static TENANTS: &[(&str, &[(&str, &str)])] = &[\n");
    let mut tenants: Vec<PathBuf> = match std::fs::read_dir(&root) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect(),
        Err(_) => Vec::new(),
    };
    tenants.sort();
    for dir in tenants {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files = Vec::new();
        collect(&dir, &dir, &mut files);
        files.sort();
        writeln!(out, "    ({name:?}, &[").unwrap();
        for (rel, abs) in files {
            writeln!(out, "        ({rel:?}, include_str!({abs:?})),").unwrap();
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(dest, out).unwrap();
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "toml")) {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            out.push((rel, path.display().to_string()));
        }
    }
}
