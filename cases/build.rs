//! Facts of the C toolchain the suite is built with, gathered once at build time: the output of
//! each C program in `toolchain/*.c` and the text of the headers in `toolchain/headers.list`.
//! They describe the C library and compiler, not the kernel, so they travel with the binary (a
//! static runner in a kernel-matrix guest has no compiler or headers).
//!
//! For another target (ci/lib/cross.sh builds for aarch64, powerpc64le, s390x, riscv64 and
//! i686) the probes are compiled with that target's C compiler (`CC_<target>`, as the cc crate
//! names it) and run under `CARGO_TARGET_<TARGET>_RUNNER` (qemu-user), and the headers are read
//! from `IPC_CONFORM_HEADERS_ROOT` (the cross sysroot's include directory). Either way a header
//! is known by the path it has on a native Debian system of the target, `<multiarch>` standing
//! for its multiarch directory (`x86_64-linux-gnu`, `aarch64-linux-gnu`, ...).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dir = Path::new("toolchain");
    let target = std::env::var("TARGET").unwrap_or_default();
    let cross = std::env::var("HOST").ok().as_deref() != Some(target.as_str());
    println!("cargo:rerun-if-changed=toolchain");
    for var in ["CC", &format!("CC_{}", target.replace('-', "_")), "IPC_CONFORM_HEADERS_ROOT", &runner_var(&target)] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let multiarch = multiarch();
    let mut generated = format!(
        "/// Debian's multiarch directory of the target (`/usr/include/<it>/...`).\npub const MULTIARCH: &str = {multiarch:?};\n\n"
    );
    generated += "/// (probe name, its standard output when it compiled and ran).\npub const PROBES: &[(&str, Option<&str>)] = &[\n";
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cases/toolchain")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    for source in sources {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let output = run_probe(&source, &out_dir.join(format!("probe-{name}")), &target, cross);
        generated += &format!("    ({name:?}, {output:?}),\n");
    }
    generated += "];\n\n/// (header path on a native system of the target, its text when installed where the suite was built).\npub const HEADERS: &[(&str, Option<&str>)] = &[\n";
    let list = std::fs::read_to_string(dir.join("headers.list")).expect("toolchain/headers.list");
    let headers_root = std::env::var("IPC_CONFORM_HEADERS_ROOT").ok().filter(|_| cross);
    for entry in list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let native = entry.replace("<multiarch>", multiarch);
        // In a cross sysroot the include directory has no multiarch level.
        let file = match &headers_root {
            Some(root) => {
                format!("{root}/{}", entry.trim_start_matches("/usr/include/").trim_start_matches("<multiarch>/"))
            }
            None => native.clone(),
        };
        let text = std::fs::read_to_string(&file).ok();
        if text.is_some() {
            println!("cargo:rerun-if-changed={file}");
        }
        generated += &format!("    ({native:?}, {text:?}),\n");
    }
    generated += "];\n";
    std::fs::write(out_dir.join("toolchain.rs"), generated).expect("writing toolchain.rs");
}

/// Debian's multiarch triplet of the target being built.
fn multiarch() -> &'static str {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let endian = std::env::var("CARGO_CFG_TARGET_ENDIAN").unwrap_or_default();
    match (arch.as_str(), endian.as_str()) {
        ("x86_64", _) => "x86_64-linux-gnu",
        ("x86", _) => "i386-linux-gnu",
        ("aarch64", _) => "aarch64-linux-gnu",
        ("powerpc64", "little") => "powerpc64le-linux-gnu",
        ("powerpc64", _) => "powerpc64-linux-gnu",
        ("s390x", _) => "s390x-linux-gnu",
        ("riscv64", _) => "riscv64-linux-gnu",
        _ => "unknown-linux-gnu",
    }
}

fn runner_var(target: &str) -> String {
    format!("CARGO_TARGET_{}_RUNNER", target.to_uppercase().replace('-', "_"))
}

fn run_probe(source: &Path, binary: &Path, target: &str, cross: bool) -> Option<String> {
    let cc = std::env::var(format!("CC_{}", target.replace('-', "_")))
        .or_else(|_| std::env::var("CC"))
        .unwrap_or_else(|_| "cc".into());
    let mut compile = Command::new(cc);
    if cross {
        // Run under qemu-user, which needs no target libraries for a static program.
        compile.arg("-static");
    }
    let built = compile.arg("-o").arg(binary).arg(source).output().ok()?;
    if !built.status.success() {
        println!("cargo:warning=toolchain probe {} did not compile", source.display());
        return None;
    }
    let runner = std::env::var(runner_var(target)).ok().filter(|_| cross);
    let mut words = runner.as_deref().unwrap_or_default().split_whitespace();
    let out = match words.next() {
        Some(program) => Command::new(program).args(words).arg(binary).output().ok()?,
        None => Command::new(binary).output().ok()?,
    };
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
