//! plinth's shared vocabulary: the small, pure pieces every engine speaks.
//!
//! - [`quantity`]: Kubernetes resource quantities (`500m`, `2Gi`, `1e3`) parsed exactly as
//!   `resource.Quantity` does, with the rounding kube-scheduler applies.
//! - [`selector`]: label selectors (`matchLabels` / `matchExpressions`) and node selector
//!   requirements (with `Gt` / `Lt`), validated once and then matched cheaply.
//! - [`manifest`]: reading ordinary Kubernetes YAML or JSON — files or directories,
//!   multi-document, `kind: List` — into documents that remember where they came from, so
//!   every later error can say `file:line: what is wrong`.
//! - [`object`]: object identity (`kind`, `namespace/name`) for messages and maps.
//! - [`rng`]: the deterministic generator behind every synthetic benchmark input.
//!
//! What this crate is not: it does no network or process I/O (only reading the files it is
//! asked to read), keeps no global state and knows nothing about API servers.
//!
//! ```
//! use plinth_core::manifest::parse_str;
//! use plinth_core::quantity::Quantity;
//!
//! let docs = parse_str("inline.yaml", "kind: Node\nmetadata: {name: a}\n---\nkind: Pod\n").unwrap();
//! assert_eq!(docs.len(), 2);
//! assert_eq!(docs[1].location().to_string(), "inline.yaml:4");
//! assert_eq!("1500m".parse::<Quantity>().unwrap().milli_value(), 1500);
//! ```
#![forbid(unsafe_code)]

pub mod manifest;
pub mod names;
pub mod object;
pub mod quantity;
pub mod rng;
pub mod selector;
