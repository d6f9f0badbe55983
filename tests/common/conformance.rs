//! The conformance example's binary for integration tests: built once per
//! test process by cargo, for the test's own profile and target dir
//! (`RINGCAST_CONFORMANCE_BIN` overrides it). Included with
//! `#[path = "common/conformance.rs"] mod conformance;`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The conformance example, built by cargo for this test's profile.
pub(crate) fn conformance_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("RINGCAST_CONFORMANCE_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_owned(),
            Some(p) => p.to_owned(),
            None => panic!("unexpected test location"),
        };
        let target_dir = profile_dir.parent().expect("target dir");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let status = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--example", "conformance", "--profile", &profile])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("running cargo");
        assert!(status.success(), "cargo build --example conformance failed");
        profile_dir.join("examples").join("conformance")
    })
    .clone()
}
