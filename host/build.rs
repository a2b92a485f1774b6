//! Builds the guest components (`guest-components/`, target `wasm32-wasip2`)
//! so the host binary can embed the generic `rest_api` connector and the
//! tests can find every vendor component.
//!
//! The guests are a separate cargo workspace with their own target dir, so
//! this nested build never waits on the outer build's lock (the pattern of
//! Wasmtime's `test-programs`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let guests = root.join("guest-components");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    println!("cargo:rerun-if-changed={}", guests.display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=EXTRACT_GUEST_TARGET_DIR");

    let target_dir = env::var_os("EXTRACT_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| out_dir.join("guest-target"));

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guests)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
        ])
        .arg("--manifest-path")
        .arg(guests.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir);
    // The outer build's flags target the host; they must not leak into the
    // wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd
        .status()
        .expect("failed to run cargo for the guest components");
    assert!(
        status.success(),
        "building guest-components for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );

    let wasm_dir = target_dir.join("wasm32-wasip2").join("release");
    let components = out_dir.join("components");
    std::fs::create_dir_all(&components).expect("create components dir");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&wasm_dir).expect("read guest output dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path.file_name().expect("file name").to_owned();
            copy_if_changed(&path, &components.join(&name));
            found.push(name.to_string_lossy().into_owned());
        }
    }
    assert!(
        found.iter().any(|n| n == "rest_api.wasm"),
        "guest build produced no rest_api.wasm in {}",
        wasm_dir.display()
    );
    println!(
        "cargo:rustc-env=EXTRACT_COMPONENTS_DIR={}",
        components.display()
    );
}

fn copy_if_changed(from: &Path, to: &Path) {
    let new = std::fs::read(from).expect("read built component");
    if std::fs::read(to).ok().as_deref() != Some(new.as_slice()) {
        std::fs::write(to, new).expect("copy built component");
    }
}
