//! Label selectors and node selector requirements.
//!
//! A selector is validated once ([`Selector::from_label_selector`],
//! [`Selector::from_node_selector_requirements`]) and then matched against label maps
//! without further allocation. Semantics follow `metav1.LabelSelectorAsSelector` and
//! `v1.NodeSelectorRequirement`:
//!
//! - all requirements are ANDed; an empty selector matches everything;
//! - `In` / `NotIn` need at least one value, `Exists` / `DoesNotExist` none;
//! - `NotIn` and `DoesNotExist` match objects that lack the key;
//! - `Gt` / `Lt` (node selectors only) need exactly one integer value and match when the
//!   label's value parses as an integer greater / less than it.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A set operator of a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value is an integer greater than the single value.
    Gt,
    /// The label's value is an integer less than the single value.
    Lt,
}

impl Operator {
    fn parse(op: &str, allow_numeric: bool) -> Option<Operator> {
        match op {
            "In" => Some(Operator::In),
            "NotIn" => Some(Operator::NotIn),
            "Exists" => Some(Operator::Exists),
            "DoesNotExist" => Some(Operator::DoesNotExist),
            "Gt" if allow_numeric => Some(Operator::Gt),
            "Lt" if allow_numeric => Some(Operator::Lt),
            _ => None,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Exists => "Exists",
            Operator::DoesNotExist => "DoesNotExist",
            Operator::Gt => "Gt",
            Operator::Lt => "Lt",
        })
    }
}

/// One validated requirement: `key op values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and deduplicated, so matching is a binary search.
    values: Vec<String>,
    /// The single integer operand of `Gt` / `Lt`.
    bound: i64,
}

/// Why a selector was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The operator is not one of the allowed names.
    #[error("requirement on {key:?}: unknown operator {operator:?} (allowed: {allowed})")]
    UnknownOperator {
        /// The requirement's key.
        key: String,
        /// The operator as given.
        operator: String,
        /// The operators allowed in this kind of selector.
        allowed: &'static str,
    },
    /// The values do not fit the operator.
    #[error("requirement {key:?} {operator}: {problem}")]
    BadValues {
        /// The requirement's key.
        key: String,
        /// The operator.
        operator: Operator,
        /// What is wrong with the values.
        problem: &'static str,
    },
    /// The key is not a valid label key.
    #[error("{0}")]
    BadKey(#[from] LabelError),
}

impl Requirement {
    fn new(key: &str, op: Operator, values: &[String]) -> Result<Requirement, SelectorError> {
        validate_label_key(key)?;
        let bad = |problem| SelectorError::BadValues {
            key: key.to_owned(),
            operator: op,
            problem,
        };
        let mut bound = 0;
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(bad("needs at least one value"));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(bad("must not have values"));
            }
            Operator::Gt | Operator::Lt => {
                let [single] = values else {
                    return Err(bad("needs exactly one value"));
                };
                bound = single
                    .parse()
                    .map_err(|_| bad("its value must be an integer"))?;
            }
            _ => {}
        }
        let mut values = values.to_vec();
        values.sort();
        values.dedup();
        Ok(Requirement {
            key: key.to_owned(),
            operator: op,
            values,
            bound,
        })
    }

    /// The label key this requirement looks at.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > self.bound),
            Operator::Lt => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < self.bound),
        }
    }

    fn contains(&self, v: &str) -> bool {
        self.values
            .binary_search_by(|probe| probe.as_str().cmp(v))
            .is_ok()
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::In if self.values.len() == 1 => write!(f, "{}={}", self.key, self.values[0]),
            Operator::NotIn if self.values.len() == 1 => {
                write!(f, "{}!={}", self.key, self.values[0])
            }
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            Operator::Gt => write!(f, "{}>{}", self.key, self.bound),
            Operator::Lt => write!(f, "{}<{}", self.key, self.bound),
        }
    }
}

/// A validated conjunction of requirements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches every label set.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// Compiles a `metav1.LabelSelector` (`matchLabels` and `matchExpressions`, operators
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`).
    pub fn from_label_selector(selector: &LabelSelector) -> Result<Selector, SelectorError> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            validate_label_value(value)?;
            requirements.push(Requirement::new(
                key,
                Operator::In,
                std::slice::from_ref(value),
            )?);
        }
        for expr in selector.match_expressions.iter().flatten() {
            let op = Operator::parse(&expr.operator, false).ok_or_else(|| {
                SelectorError::UnknownOperator {
                    key: expr.key.clone(),
                    operator: expr.operator.clone(),
                    allowed: "In, NotIn, Exists, DoesNotExist",
                }
            })?;
            requirements.push(Requirement::new(
                &expr.key,
                op,
                expr.values.as_deref().unwrap_or_default(),
            )?);
        }
        Ok(Selector { requirements })
    }

    /// Compiles the `matchExpressions` of one node selector term (operators include `Gt`
    /// and `Lt`).
    pub fn from_node_selector_requirements(
        exprs: &[NodeSelectorRequirement],
    ) -> Result<Selector, SelectorError> {
        let requirements = exprs
            .iter()
            .map(|expr| {
                let op = Operator::parse(&expr.operator, true).ok_or_else(|| {
                    SelectorError::UnknownOperator {
                        key: expr.key.clone(),
                        operator: expr.operator.clone(),
                        allowed: "In, NotIn, Exists, DoesNotExist, Gt, Lt",
                    }
                })?;
                Requirement::new(&expr.key, op, expr.values.as_deref().unwrap_or_default())
            })
            .collect::<Result<_, _>>()?;
        Ok(Selector { requirements })
    }

    /// A selector requiring each `key=value` of a plain map (a pod's `nodeSelector`).
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Selector, SelectorError> {
        let requirements = map
            .iter()
            .map(|(k, v)| Requirement::new(k, Operator::In, std::slice::from_ref(v)))
            .collect::<Result<_, _>>()?;
        Ok(Selector { requirements })
    }

    /// Whether every requirement holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in the order given.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for Selector {
    /// The kubectl string form (`app=web,tier in (a,b),!legacy`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Why a label key or value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {text:?} is not valid: {problem}")]
pub struct LabelError {
    what: &'static str,
    text: String,
    problem: &'static str,
}

/// Checks a label key: an optional DNS-subdomain prefix (≤ 253 characters) and `/`, then
/// a name of 1–63 characters of `[A-Za-z0-9._-]` that starts and ends alphanumeric.
pub fn validate_label_key(key: &str) -> Result<(), LabelError> {
    let err = |problem| LabelError {
        what: "label key",
        text: key.to_owned(),
        problem,
    };
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || prefix.len() > 253 {
            return Err(err("the prefix before '/' must be 1 to 253 characters"));
        }
        let ok_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !prefix.split('.').all(ok_label) {
            return Err(err(
                "the prefix before '/' must be a lower-case DNS subdomain (e.g. example.com)",
            ));
        }
    }
    if name.is_empty() {
        return Err(err("the name part must not be empty"));
    }
    check_name_part(name).map_err(err)
}

/// Checks a label value: empty, or 1–63 characters of `[A-Za-z0-9._-]` that start and
/// end alphanumeric.
pub fn validate_label_value(value: &str) -> Result<(), LabelError> {
    if value.is_empty() {
        return Ok(());
    }
    check_name_part(value).map_err(|problem| LabelError {
        what: "label value",
        text: value.to_owned(),
        problem,
    })
}

fn check_name_part(s: &str) -> Result<(), &'static str> {
    if s.len() > 63 {
        return Err("must be at most 63 characters");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("may only contain letters, digits, '-', '_' and '.'");
    }
    let first_last_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !first_last_ok(s.as_bytes().first()) || !first_last_ok(s.as_bytes().last()) {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    fn node_expr(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    #[test]
    fn label_selector_operators() {
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
            match_expressions: Some(vec![
                expr("tier", "In", &["front", "edge"]),
                expr("env", "NotIn", &["prod"]),
                expr("team", "Exists", &[]),
                expr("legacy", "DoesNotExist", &[]),
            ]),
        };
        let s = Selector::from_label_selector(&sel).unwrap();
        let base = [("app", "web"), ("tier", "edge"), ("team", "a")];
        let table: &[(&[(&str, &str)], bool)] = &[
            (&base, true),
            (
                &[
                    ("app", "web"),
                    ("tier", "edge"),
                    ("team", "a"),
                    ("env", "dev"),
                ],
                true,
            ),
            (
                &[
                    ("app", "web"),
                    ("tier", "edge"),
                    ("team", "a"),
                    ("env", "prod"),
                ],
                false,
            ),
            (&[("app", "web"), ("tier", "back"), ("team", "a")], false),
            (&[("app", "web"), ("tier", "edge")], false),
            (
                &[
                    ("app", "web"),
                    ("tier", "edge"),
                    ("team", "a"),
                    ("legacy", ""),
                ],
                false,
            ),
            (&[("app", "api"), ("tier", "edge"), ("team", "a")], false),
        ];
        for (input, want) in table {
            assert_eq!(s.matches(&labels(input)), *want, "{input:?}");
        }
        assert_eq!(
            s.to_string(),
            "app=web,tier in (edge,front),env!=prod,team,!legacy"
        );
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = Selector::from_label_selector(&LabelSelector::default()).unwrap();
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn numeric_operators_only_in_node_selectors() {
        let s = Selector::from_node_selector_requirements(&[
            node_expr("gpu-count", "Gt", &["1"]),
            node_expr("cores", "Lt", &["64"]),
        ])
        .unwrap();
        assert!(s.matches(&labels(&[("gpu-count", "2"), ("cores", "32")])));
        assert!(!s.matches(&labels(&[("gpu-count", "1"), ("cores", "32")])));
        assert!(!s.matches(&labels(&[("gpu-count", "two"), ("cores", "32")])));
        assert!(!s.matches(&labels(&[("cores", "32")])));
        let err = Selector::from_label_selector(&LabelSelector {
            match_expressions: Some(vec![expr("a", "Gt", &["1"])]),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("unknown operator \"Gt\""), "{err}");
    }

    #[test]
    fn values_must_fit_operator() {
        let cases = [
            node_expr("a", "In", &[]),
            node_expr("a", "Exists", &["x"]),
            node_expr("a", "Gt", &["1", "2"]),
            node_expr("a", "Lt", &["x"]),
            node_expr("a", "Matches", &["x"]),
            node_expr("-bad", "Exists", &[]),
        ];
        for case in cases {
            assert!(
                Selector::from_node_selector_requirements(std::slice::from_ref(&case)).is_err(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn label_keys_and_values() {
        for ok in [
            "app",
            "app.kubernetes.io/name",
            "topology.kubernetes.io/zone",
            "a_b.c-d",
            "x/y",
        ] {
            validate_label_key(ok).unwrap();
        }
        for bad in [
            "",
            "/name",
            "Example.com/x",
            "a/",
            "-a",
            "a-",
            "a b",
            &"x".repeat(64),
        ] {
            assert!(validate_label_key(bad).is_err(), "{bad:?}");
        }
        validate_label_value("").unwrap();
        validate_label_value("v1.2_3-x").unwrap();
        assert!(validate_label_value("-x").is_err());
    }
}
