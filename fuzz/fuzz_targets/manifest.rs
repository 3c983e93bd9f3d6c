//! Any text as a manifest file, as `plinth check` reads it: the multi-document reader
//! never panics, and what it reads is checked against Pod Security (namespace labels from
//! the input) and every shipped constraint, and offered to the policy loader.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use plinth_guard::check::{CheckOptions, check};
use plinth_guard::gatekeeper::PolicySet;
use plinth_guard::library;

static POLICIES: LazyLock<PolicySet> =
    LazyLock::new(|| library::defaults().expect("the shipped policies load"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = plinth_core::manifest::parse_str("fuzz.yaml", text) else {
        return;
    };
    let _ = check(&docs, &POLICIES, &CheckOptions::default());
    let mut set = PolicySet::new();
    let _ = library::add_documents(&mut set, &docs);
});
