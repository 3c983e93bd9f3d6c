//! Architecture invariants that a test can check (see ARCHITECTURE.md).

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_owned()
}

/// The `[dependencies]` names of a crate (not dev-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let manifest =
        std::fs::read_to_string(crates_dir().join(krate).join("Cargo.toml")).expect("Cargo.toml");
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if let (true, Some((name, _))) = (in_deps, line.split_once('=')) {
            let name = name.trim().trim_end_matches(".workspace").to_owned();
            if !name.is_empty() && !name.starts_with('#') {
                deps.push(name);
            }
        }
    }
    deps
}

/// **Architecture invariant:** engines are pure — they never talk to an API server, start
/// processes or run an async runtime. Shells (plinth-kube, plinth-testenv, the binary)
/// depend on engines, never the other way round.
#[test]
fn engines_do_not_depend_on_shells() {
    let engines = [
        "plinth-core",
        "plinth-plan",
        "plinth-render",
        "plinth-sched",
        "plinth-guard",
        "plinth-netpol",
        "plinth-fleet",
        "plinth-crds",
    ];
    let forbidden = [
        "kube",
        "kube-runtime",
        "plinth-kube",
        "plinth-testenv",
        "tokio",
        "hyper",
        "reqwest",
    ];
    for engine in engines {
        let deps = dependencies(engine);
        for f in forbidden {
            assert!(
                !deps.iter().any(|d| d == f),
                "{engine} depends on {f}: engines must stay pure (see ARCHITECTURE.md)"
            );
        }
    }
}

/// Every crate says what it is for in a crate-level doc comment.
#[test]
fn every_crate_has_a_crate_doc() {
    for entry in std::fs::read_dir(crates_dir()).expect("crates/").flatten() {
        let src = entry.path().join("src");
        let root = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| src.join(f))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{} has no lib.rs or main.rs", entry.path().display()));
        let text = std::fs::read_to_string(&root).expect("read crate root");
        assert!(
            text.trim_start().starts_with("//!"),
            "{} must open with a //! crate doc",
            root.display()
        );
    }
}
