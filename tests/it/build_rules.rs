//! Build settings the code relies on, read from the manifests and the lock file: release
//! binaries unwind on panic (cargo-lambda builds with `abort` when the profile is silent, and
//! lambda_runtime only survives a panic by unwinding) and are stripped, the declared minimum
//! Rust version is at least every locked crate's, and the AWS SDK behavior version is pinned,
//! not `latest()`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

fn manifest() -> String {
    std::fs::read_to_string(root().join("Cargo.toml")).expect("the workspace Cargo.toml")
}

/// The `key = "value"` lines of one `[section]` of the workspace manifest.
fn section(name: &str) -> Vec<(String, String)> {
    let text = manifest();
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            (!key.trim_start().starts_with('#'))
                .then(|| (key.trim().to_owned(), value.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

fn version(text: &str) -> Vec<u64> {
    text.split('.').map(|part| part.parse().expect("a numeric version part")).collect()
}

#[test]
fn release_binaries_unwind_on_panic() {
    let release = section("profile.release");

    assert!(
        release.contains(&("panic".to_owned(), "unwind".to_owned())),
        "[profile.release] must say panic = \"unwind\": {release:?}"
    );
}

#[test]
fn every_function_binary_is_stripped_even_with_its_own_optimisation() {
    // Arrange: the functions, by their package directories.
    let functions: Vec<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    let release = section("profile.release");

    // Act: the overrides of function packages. Cargo links the binaries of a package whose
    // override is silent about `strip` with `strip = "debuginfo"`, the profile's `strip = true`
    // notwithstanding (the webhook's zip was 4.6 MB instead of 3.7 for that).
    let silent: Vec<&String> = functions
        .iter()
        .filter(|name| manifest().contains(&format!("[profile.release.package.{name}]")))
        .filter(|name| {
            !section(&format!("profile.release.package.{name}"))
                .contains(&("strip".to_owned(), "true".to_owned()))
        })
        .collect();

    // Assert
    assert!(release.contains(&("strip".to_owned(), "true".to_owned())), "[profile.release] strip = true");
    assert!(silent.is_empty(), "these overrides must repeat strip = true: {silent:?}");
}

#[test]
fn the_declared_rust_version_is_at_least_every_locked_crates() {
    // Arrange
    let declared = section("workspace.package")
        .into_iter()
        .find(|(key, _)| key == "rust-version")
        .map(|(_, value)| value)
        .expect("[workspace.package] rust-version");
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");

    // Act
    let newer: Vec<String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|package| {
            let needs = package["rust_version"].as_str()?;
            (version(needs) > version(&declared))
                .then(|| format!("{} {} needs {needs}", package["name"], package["version"]))
        })
        .collect();

    // Assert
    assert!(
        newer.is_empty(),
        "rust-version {declared} is below what the lock file needs:\n{}",
        newer.join("\n")
    );
}

#[test]
fn the_sdk_behavior_version_is_pinned() {
    let mut unpinned = Vec::new();
    for dir in ["shared", "functions", "infra", "tests", "fuzz"] {
        let mut stack = vec![root().join(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.extend(std::fs::read_dir(&path).expect("readable").flatten().map(|e| e.path()));
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable");
                if text.contains(concat!("BehaviorVersion::", "latest()")) {
                    unpinned.push(path.display().to_string());
                }
            }
        }
    }

    assert!(unpinned.is_empty(), "use shared::config::aws_behavior_version(): {unpinned:?}");
    let aws_config = manifest().lines().find(|line| line.starts_with("aws-config")).map(str::to_owned);
    assert!(
        aws_config.as_deref().is_some_and(|line| !line.contains(concat!("behavior-version-", "latest"))),
        "the aws-config feature that makes clients default to the latest version: {aws_config:?}"
    );
}
