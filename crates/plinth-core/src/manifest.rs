//! Reading Kubernetes manifests: YAML or JSON, files or directories, multi-document,
//! `kind: List` — into [`Document`]s that remember where each value came from.
//!
//! Every document keeps a tree of source positions next to its JSON value, so an error
//! found later — by typed deserialisation ([`Document::parse`]) or by an engine's own
//! validation ([`Document::error_at`]) — points at the exact `file:line:column` of the
//! offending field, not just at the document.
//!
//! Semantics chosen to match `kubectl apply -f`:
//!
//! - documents are separated by `---`; empty documents (only comments, or `~`) are skipped;
//! - a directory is read recursively in sorted order, taking `*.yaml`, `*.yml` and
//!   `*.json`; a file named explicitly is read whatever its extension; `-` is stdin;
//! - a list (`kind: List`, or any `kind: XxxList` with `items`, as the API server returns)
//!   is expanded into its items; items of a typed list without `kind` get the list's
//!   `apiVersion` and the kind without `List`;
//! - the YAML 1.2 core schema: only `true`/`false` are booleans (`n`, `no`, `on` stay
//!   strings, so `name: n` is a name), numbers with leading zeros (`0755`) stay strings,
//!   and duplicate keys are errors.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::object::ObjectRef;

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    file: Arc<str>,
    line: u64,
    column: Option<u64>,
}

impl Location {
    /// A location with a known line (and maybe column) in `file`.
    pub fn new(file: impl Into<Arc<str>>, line: u64, column: Option<u64>) -> Location {
        Location {
            file: file.into(),
            line,
            column,
        }
    }

    /// The file name as given to the reader (`-` for stdin).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// 1-based column, when known.
    pub fn column(&self) -> Option<u64> {
        self.column
    }

    /// The same position without its column (`file:line`).
    pub fn without_column(&self) -> Location {
        Location {
            column: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}:{}:{}", self.file, self.line, c),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML or JSON.
    #[error("{location}: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// What the parser expected.
        message: String,
    },
    /// The text parsed but a value is not what it must be.
    #[error("{location}: {path}{sep}{message}", sep = if path.is_empty() { "" } else { ": " })]
    Invalid {
        /// Where the offending value is.
        location: Location,
        /// Dotted path of the offending value inside its object (`spec.containers[0].image`).
        path: String,
        /// What is wrong and, where possible, how to fix it.
        message: String,
    },
    /// Nothing to read: a directory without manifests.
    #[error("{path}: no manifests found (looked for *.yaml, *.yml and *.json)")]
    Empty {
        /// The path as given.
        path: PathBuf,
    },
}

impl ManifestError {
    /// The source position the error is about, when there is one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ManifestError::Syntax { location, .. } | ManifestError::Invalid { location, .. } => {
                Some(location)
            }
            _ => None,
        }
    }
}

/// One Kubernetes object read from a manifest, with the positions of all its fields.
#[derive(Debug, Clone)]
pub struct Document {
    value: Value,
    positions: Arc<Positions>,
    file: Arc<str>,
}

impl Document {
    /// The object as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The object as JSON, consuming the document.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Where the object starts.
    pub fn location(&self) -> Location {
        Location::new(self.file.clone(), self.positions.line, None)
    }

    /// `apiVersion`, if present.
    pub fn api_version(&self) -> Option<&str> {
        self.value.get("apiVersion").and_then(Value::as_str)
    }

    /// `kind`, if present.
    pub fn kind(&self) -> Option<&str> {
        self.value.get("kind").and_then(Value::as_str)
    }

    /// The object's identity.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::from_value(&self.value)
    }

    /// The position of the value at `path` (JSON-pointer segments such as
    /// `["spec", "containers", "0", "image"]`), or of its nearest existing parent.
    pub fn location_of<S: AsRef<str>>(&self, path: &[S]) -> Location {
        let (line, column) = self.positions.find(path);
        Location::new(self.file.clone(), line, Some(column))
    }

    /// An [`ManifestError::Invalid`] about the value at `path` — for an engine's own
    /// validation (an unknown zone, a port out of range, ...).
    pub fn error_at<S: AsRef<str>>(&self, path: &[S], message: impl Into<String>) -> ManifestError {
        ManifestError::Invalid {
            location: self.location_of(path),
            path: dotted(path.iter().map(AsRef::as_ref)),
            message: message.into(),
        }
    }

    /// Deserialises the object into `T`; an error names the file, line and field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ManifestError> {
        serde_path_to_error::deserialize::<_, T>(&self.value).map_err(|err| {
            let segments: Vec<String> = err
                .path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect();
            self.error_at(&segments, err.into_inner().to_string())
        })
    }
}

/// `["spec", "containers", "0", "image"]` → `spec.containers[0].image`.
fn dotted<'a>(segments: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for seg in segments {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Source positions of a value and, recursively, of its children.
#[derive(Debug, Default)]
struct Positions {
    line: u64,
    column: u64,
    children: Children,
}

#[derive(Debug, Default)]
enum Children {
    #[default]
    None,
    Seq(Vec<Positions>),
    Map(BTreeMap<String, Positions>),
}

impl Positions {
    fn find<S: AsRef<str>>(&self, path: &[S]) -> (u64, u64) {
        let mut here = self;
        for seg in path {
            let next = match &here.children {
                Children::Map(m) => m.get(seg.as_ref()),
                Children::Seq(v) => seg.as_ref().parse::<usize>().ok().and_then(|i| v.get(i)),
                Children::None => None,
            };
            match next {
                Some(n) => here = n,
                None => break,
            }
        }
        (here.line, here.column)
    }
}

/// A YAML node as parsed, with positions (the shape `Spanned` needs to record them).
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Uint(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<MapKey>()? {
                    entries.push((key.0, map.next_value()?));
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// A mapping key; Kubernetes objects only have string keys, but YAML allows `80: x` or
/// `true: y`, which JSON (and the API server) read as the strings "80" and "true".
struct MapKey(String);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MapKey, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = MapKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<MapKey, E> {
                Ok(MapKey(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<MapKey, E> {
                Ok(MapKey(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<MapKey, E> {
                Ok(MapKey("null".to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<MapKey, A::Error> {
                Err(de::Error::custom(
                    "a mapping key must be a scalar, not a list",
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<MapKey, A::Error> {
                Err(de::Error::custom(
                    "a mapping key must be a scalar, not a mapping",
                ))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// Converts a positioned node into JSON plus its position tree.
fn convert(node: Spanned<Node>, file: &str) -> Result<(Value, Positions), ManifestError> {
    let line = node.referenced.line();
    let column = node.referenced.column();
    let (value, children) = match node.value {
        Node::Null => (Value::Null, Children::None),
        Node::Bool(b) => (Value::Bool(b), Children::None),
        Node::Int(i) => (Value::from(i), Children::None),
        Node::Uint(u) => (Value::from(u), Children::None),
        Node::Float(f) => {
            let number = serde_json::Number::from_f64(f).ok_or_else(|| ManifestError::Invalid {
                location: Location::new(file, line, Some(column)),
                path: String::new(),
                message: format!("{f} is not a finite number; quote it if a string is meant"),
            })?;
            (Value::Number(number), Children::None)
        }
        Node::Str(s) => (Value::String(s), Children::None),
        Node::Seq(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut positions = Vec::with_capacity(items.len());
            for item in items {
                let (v, p) = convert(item, file)?;
                values.push(v);
                positions.push(p);
            }
            (Value::Array(values), Children::Seq(positions))
        }
        Node::Map(entries) => {
            let mut values = serde_json::Map::new();
            let mut positions = BTreeMap::new();
            for (key, item) in entries {
                let (v, p) = convert(item, file)?;
                values.insert(key.clone(), v);
                positions.insert(key, p);
            }
            (Value::Object(values), Children::Map(positions))
        }
    };
    Ok((
        value,
        Positions {
            line,
            column,
            children,
        },
    ))
}

/// The YAML reading options every plinth parser uses (see the module documentation).
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        // serde-saphyr's default budget (1,024 documents, 250,000 nodes, 1,000,000
        // events) refuses a real cluster's export — 1,000 pods and 1,000 policies are
        // already past it. The size limits are raised to what fits comfortably in memory;
        // the limits that stop alias bombs (aliases, anchors, depth) stay as they are.
        budget: serde_saphyr::budget! {
            max_documents: 1_000_000,
            max_nodes: 50_000_000,
            max_events: 200_000_000,
            max_total_scalar_bytes: 1 << 30,
        },
    }
}

/// Parses YAML or JSON text (`name` is used in locations) into documents.
pub fn parse_str(name: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    let file: Arc<str> = Arc::from(name);
    let nodes: Vec<Spanned<Node>> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|err| syntax_error(&file, &err))?;
    let mut docs = Vec::new();
    for node in nodes {
        let (value, positions) = convert(node, &file)?;
        push_document(&mut docs, &file, value, positions)?;
    }
    Ok(docs)
}

fn syntax_error(file: &Arc<str>, err: &serde_saphyr::Error) -> ManifestError {
    let plain = err.without_snippet().to_string();
    // The plain message reads "error: line L column C: what"; keep only "what".
    let message = plain
        .strip_prefix("error: ")
        .unwrap_or(&plain)
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("line "))
        .map_or(plain.as_str(), |(_, rest)| rest)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let (line, column) = err
        .location()
        .map_or((1, None), |l| (l.line(), Some(l.column())));
    ManifestError::Syntax {
        location: Location::new(file.clone(), line, column),
        message,
    }
}

fn push_document(
    docs: &mut Vec<Document>,
    file: &Arc<str>,
    mut value: Value,
    positions: Positions,
) -> Result<(), ManifestError> {
    let here = |p: &Positions| Location::new(file.clone(), p.line, Some(p.column));
    match &value {
        Value::Null => return Ok(()),
        Value::Object(_) => {}
        _ => {
            return Err(ManifestError::Invalid {
                location: here(&positions),
                path: String::new(),
                message:
                    "a manifest document must be a mapping (an object with apiVersion and kind)"
                        .to_owned(),
            });
        }
    }
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let is_list = kind.ends_with("List") && value.get("items").is_some();
    if !is_list {
        docs.push(Document {
            value,
            positions: Arc::new(positions),
            file: file.clone(),
        });
        return Ok(());
    }
    let item_kind = kind.strip_suffix("List").unwrap_or_default().to_owned();
    let kind = kind.as_str();
    let list_api_version = value.get("apiVersion").cloned();
    let items = match value.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) => Vec::new(),
        _ => {
            let at = match &positions.children {
                Children::Map(m) => m.get("items").map_or_else(|| here(&positions), here),
                _ => here(&positions),
            };
            return Err(ManifestError::Invalid {
                location: at,
                path: "items".to_owned(),
                message: format!("the items of a {kind} must be a list"),
            });
        }
    };
    let mut item_positions = match positions.children {
        Children::Map(mut m) => match m.remove("items").map(|p| p.children) {
            Some(Children::Seq(v)) => v,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    item_positions.resize_with(items.len(), || Positions {
        line: positions.line,
        column: positions.column,
        children: Children::None,
    });
    for (mut item, item_pos) in items.into_iter().zip(item_positions) {
        if let Value::Object(obj) = &mut item {
            // Typed lists from the API server leave kind and apiVersion off their items.
            if kind != "List" {
                obj.entry("kind")
                    .or_insert_with(|| Value::String(item_kind.clone()));
                if let Some(av) = &list_api_version {
                    obj.entry("apiVersion").or_insert_with(|| av.clone());
                }
            }
        }
        push_document(docs, file, item, item_pos)?;
    }
    Ok(())
}

/// Reads one file (`-` for stdin).
pub fn read_file(path: &Path) -> Result<Vec<Document>, ManifestError> {
    let io = |source| ManifestError::Io {
        path: path.to_owned(),
        source,
    };
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(io)?;
        s
    } else {
        std::fs::read_to_string(path).map_err(io)?
    };
    parse_str(&path.display().to_string(), &text)
}

/// Reads files and directories (recursively, sorted, `*.yaml|*.yml|*.json`) in the order
/// given. A directory without manifests is an error, since it is almost always a typo.
pub fn read_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Document>, ManifestError> {
    let mut docs = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path != Path::new("-") && path.is_dir() {
            let files = manifest_files(path)?;
            if files.is_empty() {
                return Err(ManifestError::Empty {
                    path: path.to_owned(),
                });
            }
            for file in files {
                docs.extend(read_file(&file)?);
            }
        } else {
            docs.extend(read_file(path)?);
        }
    }
    Ok(docs)
}

fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let io = |source| ManifestError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            files.extend(manifest_files(&entry)?);
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(entry);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[test]
    fn a_large_cluster_export_is_within_the_budget() {
        // 5,000 documents of a few dozen nodes each: past serde-saphyr's defaults.
        let text = (0..5000)
            .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, labels: {{a: b, c: d}}}}\ndata: {{k: v, l: w}}\n"))
            .collect::<Vec<_>>()
            .join("---\n");
        assert_eq!(
            parse_str("big.yaml", &text).map(|d| d.len()).ok(),
            Some(5000)
        );
    }

    #[test]
    fn multi_document_with_locations() {
        let text = "# leading comment\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n# only a comment\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";
        let docs = parse_str("x.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].location().to_string(), "x.yaml:2");
        assert_eq!(docs[1].location().to_string(), "x.yaml:9");
        assert_eq!(docs[1].object_ref().to_string(), "Node n1");
        assert_eq!(
            docs[1].location_of(&["metadata", "name"]).to_string(),
            "x.yaml:12:9"
        );
    }

    #[test]
    fn yaml_1_2_scalars() {
        let docs = parse_str(
            "s.yaml",
            "kind: Node\nmetadata: {name: n}\nflags: [yes, on, true, False]\nmode: 0755\n",
        )
        .unwrap();
        let v = docs[0].value();
        assert_eq!(v["metadata"]["name"], "n");
        assert_eq!(v["flags"], serde_json::json!(["yes", "on", true, false]));
        assert_eq!(v["mode"], "0755");
    }

    #[test]
    fn json_documents() {
        let docs = parse_str(
            "x.json",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#,
        )
        .unwrap();
        assert_eq!(docs[0].object_ref().to_string(), "Pod p");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_str("bad.yaml", "kind: Pod\nmetadata: [a, b\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("bad.yaml:2:"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        let err = parse_str("dup.yaml", "kind: Pod\nkind: Node\n").unwrap_err();
        assert!(err.to_string().starts_with("dup.yaml:2:"), "{err}");
    }

    #[test]
    fn scalar_documents_are_refused() {
        let err = parse_str("s.yaml", "kind: Pod\n---\n- a\n- b\n").unwrap_err();
        assert!(err.to_string().starts_with("s.yaml:3:"), "{err}");
        assert!(err.to_string().contains("must be a mapping"), "{err}");
    }

    #[test]
    fn lists_are_expanded() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p, namespace: d}\n";
        let docs = parse_str("l.yaml", text).unwrap();
        let refs: Vec<String> = docs.iter().map(|d| d.object_ref().to_string()).collect();
        assert_eq!(refs, ["Node a", "Pod d/p"]);
        assert_eq!(docs[1].location().line(), 7);

        let typed = "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p, namespace: d}\n";
        let docs = parse_str("t.yaml", typed).unwrap();
        assert_eq!(docs[0].object_ref().to_string(), "Pod d/p");
        assert_eq!(docs[0].api_version(), Some("v1"));

        let empty = parse_str("e.yaml", "apiVersion: v1\nkind: List\nitems: []\n").unwrap();
        assert!(empty.is_empty());
        let err = parse_str("b.yaml", "apiVersion: v1\nkind: List\nitems: 3\n").unwrap_err();
        assert!(err.to_string().starts_with("b.yaml:3:"), "{err}");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Small {
        kind: String,
        spec: SmallSpec,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct SmallSpec {
        replicas: u32,
        #[serde(default)]
        ports: Vec<u16>,
    }

    #[test]
    fn typed_errors_point_at_the_field() {
        let text = "kind: Thing\nspec:\n  replicas: 3\n  ports:\n  - 80\n  - 70000\n";
        let err = parse_str("t.yaml", text).unwrap()[0]
            .parse::<Small>()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("t.yaml:6:5: spec.ports[1]: "), "{msg}");

        let text = "kind: Thing\nspec:\n  replicas: 3\n  replica: 4\n";
        let err = parse_str("t.yaml", text).unwrap()[0]
            .parse::<Small>()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown field `replica`"), "{msg}");
        assert!(msg.starts_with("t.yaml:4:"), "{msg}");

        let ok = parse_str("t.yaml", "kind: T\nspec: {replicas: 2}\n").unwrap()[0]
            .parse::<Small>()
            .unwrap();
        assert_eq!(ok.spec.replicas, 2);
    }

    #[test]
    fn engine_errors_at_a_path() {
        let docs = parse_str(
            "z.yaml",
            "kind: Zone\nspec:\n  cidrs:\n  - 10.0.0.0/8\n  - bogus\n",
        )
        .unwrap();
        let err = docs[0].error_at(&["spec", "cidrs", "1"], "not a CIDR");
        assert_eq!(err.to_string(), "z.yaml:5:5: spec.cidrs[1]: not a CIDR");
    }

    #[test]
    fn directories_are_read_recursively_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.yaml"), "kind: B\n").unwrap();
        std::fs::write(dir.path().join("a.json"), "{\"kind\": \"A\"}").unwrap();
        std::fs::write(dir.path().join("sub/c.yml"), "kind: C\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "kind: Ignored\n").unwrap();
        let docs = read_paths(&[dir.path()]).unwrap();
        let kinds: Vec<_> = docs.iter().filter_map(Document::kind).collect();
        assert_eq!(kinds, ["A", "B", "C"]);

        let empty = tempfile::tempdir().unwrap();
        let err = read_paths(&[empty.path()]).unwrap_err();
        assert!(err.to_string().contains("no manifests found"), "{err}");
        let err = read_paths(&[dir.path().join("missing.yaml")]).unwrap_err();
        assert!(err.to_string().contains("missing.yaml"), "{err}");
    }

    proptest! {
        #[test]
        fn reader_never_panics(text in "\\PC{0,200}") {
            let _ = parse_str("fuzz.yaml", &text);
        }

        #[test]
        fn yamlish_text_never_panics(lines in proptest::collection::vec(
            "(- |  |---|kind: |items:|[a-z]{1,5}: |\\{|\\}|\\[|\\]|,|'|\"|#|&a|\\*a|!!str|~|[0-9]{1,3})*",
            0..12,
        )) {
            let _ = parse_str("fuzz.yaml", &lines.join("\n"));
        }
    }
}
