//! `plinth plan` as a user runs it: every output format of the example, a replacement
//! price sheet, and bad input (exit 2 with file:line).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plan/requirements.yaml")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn table_is_the_default() {
    let o = plinth(&["plan", s(&example())]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = stdout(&o);
    for words in [
        "multi_region_ha",
        "memory-optimized",
        "2190d",
        "monthly total",
        "Assumptions:",
    ] {
        assert!(out.contains(words), "{words}: {out}");
    }
    assert!(!out.contains("gpu"));
}

#[test]
fn json_output() {
    let o = plinth(&["plan", s(&example()), "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["topology"]["type"], "multi_region_ha");
    assert_eq!(v["backup"]["retention"], "2190d");
    assert!(v["cost"]["monthly"]["total"].as_f64().expect("number") > 0.0);
    assert!(v["nodePools"].as_array().expect("pools").len() >= 3);
}

#[test]
fn yaml_output() {
    let o = plinth(&["plan", s(&example()), "-o", "yaml"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = stdout(&o);
    assert!(out.contains("type: multi_region_ha"), "{out}");
    assert!(out.contains("nodePools:"), "{out}");
    assert!(out.contains("crossRegion: true"), "{out}");
}

#[test]
fn prices_file_replaces_the_shipped_sheet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sheet = include_str!("../../plinth-plan/prices/aws-us-east-1.yaml")
        .replace("m6i.2xlarge: 0.384", "m6i.2xlarge: 0.768");
    let path = dir.path().join("prices.yaml");
    std::fs::write(&path, sheet).expect("write");
    let cheap: Value =
        serde_json::from_slice(&plinth(&["plan", s(&example()), "-o", "json"]).stdout)
            .expect("JSON");
    let dear: Value = serde_json::from_slice(
        &plinth(&["plan", s(&example()), "-o", "json", "--prices", s(&path)]).stdout,
    )
    .expect("JSON");
    let general = |v: &Value| {
        v["cost"]["pools"]
            .as_array()
            .expect("pools")
            .iter()
            .find(|p| p["pool"] == "general")
            .and_then(|p| p["monthly"].as_f64())
            .expect("general")
    };
    assert!((general(&dear) - 2.0 * general(&cheap)).abs() < 0.02);
    let bad = dir.path().join("bad-prices.yaml");
    std::fs::write(
        &bad,
        include_str!("../../plinth-plan/prices/aws-us-east-1.yaml")
            .replace("hoursPerMonth: 730", "hoursPerMonth: many"),
    )
    .expect("write");
    let o = plinth(&["plan", s(&example()), "--prices", s(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad-prices.yaml:"));
}

#[test]
fn bad_input_exits_2_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("req.yaml");
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replace("availability: 0.9999", "availability: 99.99");
    let line = text
        .lines()
        .position(|l| l.contains("availability: 99.99"))
        .expect("line")
        + 1;
    std::fs::write(&path, text).expect("write");
    let o = plinth(&["plan", s(&path)]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("req.yaml:{line}")), "{err}");
    assert!(err.contains("spec.availability"), "{err}");
    assert!(o.stdout.is_empty());
}
