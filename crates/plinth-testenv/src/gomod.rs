//! Go modules from the module proxy, for tests that read upstream files (test fixtures,
//! CRDs) at the version plinth pins, without committing them.
//!
//! `go mod download -json MODULE@VERSION` puts the module into Go's module cache (or
//! finds it there) and prints its directory. The cache is read-only and shared, so
//! callers read the files in place.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::error::Error;

/// The directory of `module` at `version` (e.g. `k8s.io/pod-security-admission`,
/// `v0.37.2`) in Go's module cache, downloading it first if needed.
pub fn module_dir(module: &str, version: &str) -> Result<PathBuf, Error> {
    let fail = |problem: String| Error::GoModule {
        module: format!("{module}@{version}"),
        problem,
    };
    let go = crate::upstream::find_go()?;
    // Outside any Go module or workspace, so no go.mod is consulted or changed.
    let output = Command::new(go)
        .args(["mod", "download", "-json"])
        .arg(format!("{module}@{version}"))
        .current_dir(std::env::temp_dir())
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("running `go mod download` failed: {e}")))?;
    // With -json, go reports a failed download in the JSON and exits non-zero.
    let info: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    if let Some(err) = info.get("Error").and_then(Value::as_str) {
        return Err(fail(err.to_owned()));
    }
    if !output.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let dir = info
        .get("Dir")
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| fail("`go mod download -json` printed no Dir".to_owned()))?;
    if !dir.is_dir() {
        return Err(fail(format!(
            "`go mod download -json` named {}, which is not a directory",
            dir.display()
        )));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_module_versions_are_explained() {
        if crate::upstream::find_go().is_err() {
            return;
        }
        // Rejected by go itself, before any network access.
        let err = module_dir("not a module", "v1.0.0").expect_err("malformed path");
        let text = err.to_string();
        assert!(
            text.starts_with("fetching Go module not a module@v1.0.0: ")
                && text.contains("malformed module path"),
            "{text}"
        );
    }
}
