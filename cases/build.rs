//! Facts of the C toolchain the suite is built with, gathered once at build time: the output of
//! each C program in `toolchain/*.c` (compiled with `$CC`, else `cc`) and the text of the headers
//! in `toolchain/headers.list`. They describe the C library and compiler, not the kernel, so they
//! travel with the binary (a static runner in a kernel-matrix guest has no compiler or headers).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dir = Path::new("toolchain");
    println!("cargo:rerun-if-changed=toolchain");
    println!("cargo:rerun-if-env-changed=CC");
    let mut generated = String::from("/// (probe name, its standard output when it compiled and ran).\npub const PROBES: &[(&str, Option<&str>)] = &[\n");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cases/toolchain")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    for source in sources {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let output = run_probe(&source, &out_dir.join(format!("probe-{name}")));
        generated += &format!("    ({name:?}, {output:?}),\n");
    }
    generated += "];\n\n/// (header path, its text when installed on the build machine).\npub const HEADERS: &[(&str, Option<&str>)] = &[\n";
    let list = std::fs::read_to_string(dir.join("headers.list")).expect("toolchain/headers.list");
    for header in list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let text = std::fs::read_to_string(header).ok();
        if text.is_some() {
            println!("cargo:rerun-if-changed={header}");
        }
        generated += &format!("    ({header:?}, {text:?}),\n");
    }
    generated += "];\n";
    std::fs::write(out_dir.join("toolchain.rs"), generated).expect("writing toolchain.rs");
}

fn run_probe(source: &Path, binary: &Path) -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(cc).arg("-o").arg(binary).arg(source).output().ok()?;
    if !built.status.success() {
        println!("cargo:warning=toolchain probe {} did not compile", source.display());
        return None;
    }
    let out = Command::new(binary).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
