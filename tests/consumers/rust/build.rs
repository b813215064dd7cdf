// Links libturbo as pkg-config describes it (no crates: std::process only).
// PKG_CONFIG_PATH selects the installation, e.g. <prefix>/lib/pkgconfig.
use std::process::Command;

fn pkg_config(arg: &str) -> String {
    let out = Command::new("pkg-config")
        .args([arg, "turbo"])
        .output()
        .expect("cannot run pkg-config");
    if !out.status.success() {
        panic!(
            "pkg-config {} turbo failed (is PKG_CONFIG_PATH set?): {}",
            arg,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("pkg-config printed non-UTF-8")
}

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-changed=build.rs");
    for dir in pkg_config("--libs-only-L").split_whitespace() {
        if let Some(dir) = dir.strip_prefix("-L") {
            // turbo.pc is relocatable: "<prefix>/lib/pkgconfig/../../lib".
            let dir = std::fs::canonicalize(dir)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| dir.to_string());
            println!("cargo:rustc-link-search=native={}", dir);
            // An RPATH to the same directory, so that the program runs
            // without LD_LIBRARY_PATH from a prefix outside the loader's
            // default paths (harmless when libturbo is in /usr/lib).
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
        }
    }
    for lib in pkg_config("--libs-only-l").split_whitespace() {
        if let Some(name) = lib.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", name);
        }
    }
}
