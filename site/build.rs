//! Embeds `content/` and `templates/site/` into the crate, so that `Site::from_embedded` needs
//! no file at run time (a Lambda function has none).
//!
//! Writes `$OUT_DIR/embedded.rs` with two tables of `(relative path, text)`, each file taken
//! with `include_str!`, in path order so that the build is reproducible. The included paths
//! start from `env!("CARGO_MANIFEST_DIR")` rather than this run's absolute path, so that two
//! checkouts sharing one target folder each embed their own files.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("the crate sits in the workspace");
    let mut code = String::new();
    for (name, dir, from_manifest) in [
        ("CONTENT", root.join("content"), "/../content/"),
        (
            "TEMPLATES",
            root.join("templates").join("site"),
            "/../templates/site/",
        ),
    ] {
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        walk(&dir, &dir, &mut files);
        files.sort();
        code.push_str(&format!("pub static {name}: &[(&str, &str)] = &[\n"));
        for (rel, abs) in files {
            println!("cargo:rerun-if-changed={}", abs.display());
            code.push_str(&format!(
                "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))),\n",
                format!("{from_manifest}{rel}")
            ));
        }
        code.push_str("];\n");
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    fs::write(out, code).expect("write embedded.rs");
}
