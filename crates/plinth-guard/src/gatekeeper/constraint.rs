//! Constraints (`constraints.gatekeeper.sh/v1beta1`): enforcement actions and
//! `spec.match`, with Gatekeeper's matching semantics.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use plinth_core::selector::Selector;
use serde::Deserialize;
use serde_json::Value;

/// The constraint API group.
pub const GROUP: &str = "constraints.gatekeeper.sh";

/// What a violation of a constraint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Reject the request.
    Deny,
    /// Admit with a warning.
    Warn,
    /// Only report (audit).
    Dryrun,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s {
            "deny" => Some(Action::Deny),
            "warn" => Some(Action::Warn),
            "dryrun" => Some(Action::Dryrun),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Warn => "warn",
            Action::Dryrun => "dryrun",
        }
    }
}

/// Where a constraint is being enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The validating webhook (`validation.gatekeeper.sh`).
    Webhook,
    /// The auditor (`audit.gatekeeper.sh`).
    Audit,
    /// Offline checks (`gator.gatekeeper.sh`).
    Offline,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::Webhook => "validation.gatekeeper.sh",
            Point::Audit => "audit.gatekeeper.sh",
            Point::Offline => "gator.gatekeeper.sh",
        }
    }
}

/// Why a constraint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("constraint {name}: {message}")]
pub struct ConstraintError {
    /// `kind/name`.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct MatchDoc {
    #[serde(default)]
    kinds: Vec<KindsDoc>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    excluded_namespaces: Vec<String>,
    #[serde(default)]
    label_selector: Option<LabelSelector>,
    #[serde(default)]
    namespace_selector: Option<LabelSelector>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KindsDoc {
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopedDoc {
    action: String,
    #[serde(default)]
    enforcement_points: Vec<NamedPoint>,
}

#[derive(Deserialize)]
struct NamedPoint {
    name: String,
}

/// Which objects a constraint applies to.
#[derive(Debug, Clone, Default)]
pub struct Match {
    kinds: Vec<(Vec<String>, Vec<String>)>,
    scope: Scope,
    namespaces: Vec<String>,
    excluded_namespaces: Vec<String>,
    label_selector: Option<Selector>,
    namespace_selector: Option<Selector>,
    name: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Scope {
    #[default]
    All,
    Cluster,
    Namespaced,
}

/// What the matcher needs to know about an object.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// API group (`""` for core).
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// The object (`metadata.name`, `generateName`, `namespace`, `labels` are read).
    pub object: &'a Value,
    /// The request's namespace (cleared for Namespace objects).
    pub namespace: Option<&'a str>,
    /// The labels of that namespace, when known.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

/// `x*`, `*x`, `*x*` or exact, as Gatekeeper's wildcard.
pub fn wildcard(pattern: &str, candidate: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') && !rest.is_empty() => {
            candidate.contains(&rest[..rest.len() - 1])
        }
        (Some(""), _) => true,
        (Some(suffix), _) => candidate.ends_with(suffix),
        (None, Some(prefix)) => candidate.starts_with(prefix),
        (None, None) => pattern == candidate,
    }
}

fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl Match {
    fn compile(doc: MatchDoc) -> Result<Match, String> {
        let selector = |s: Option<LabelSelector>, what: &str| {
            s.map(|s| Selector::from_label_selector(&s).map_err(|e| format!("{what}: {e}")))
                .transpose()
        };
        for pattern in doc
            .namespaces
            .iter()
            .chain(&doc.excluded_namespaces)
            .chain(&doc.name)
        {
            let inner = pattern.trim_start_matches('*').trim_end_matches('*');
            if inner.contains('*')
                || !inner.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'-'
                        || b == b':'
                        || b == b'.'
                })
            {
                return Err(format!(
                    "{pattern:?} is not a valid wildcard (a name with an optional leading and/or trailing *)"
                ));
            }
        }
        Ok(Match {
            kinds: doc
                .kinds
                .into_iter()
                .map(|k| (k.api_groups, k.kinds))
                .collect(),
            scope: match doc.scope.as_deref() {
                Some("Cluster") => Scope::Cluster,
                Some("Namespaced") => Scope::Namespaced,
                _ => Scope::All,
            },
            namespaces: doc.namespaces,
            excluded_namespaces: doc.excluded_namespaces,
            label_selector: selector(doc.label_selector, "labelSelector")?,
            namespace_selector: selector(doc.namespace_selector, "namespaceSelector")?,
            name: doc.name.filter(|n| !n.is_empty()),
        })
    }

    /// `(group, kind)` pairs the constraint matches, `*` for any; empty when it names no
    /// kinds (it then matches every kind).
    pub fn kind_patterns(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (groups, kinds) in &self.kinds {
            let groups: Vec<&str> = if groups.is_empty() {
                vec!["*"]
            } else {
                groups.iter().map(String::as_str).collect()
            };
            let kinds: Vec<&str> = if kinds.is_empty() {
                vec!["*"]
            } else {
                kinds.iter().map(String::as_str).collect()
            };
            for g in &groups {
                for k in &kinds {
                    out.push(((*g).to_owned(), (*k).to_owned()));
                }
            }
        }
        out
    }

    /// Whether the constraint applies; an error when it cannot be decided (a namespace
    /// selector on an object whose namespace is unknown).
    pub fn matches(&self, t: &Target<'_>) -> Result<bool, String> {
        let is_namespace = t.kind == "Namespace" && t.group.is_empty();
        let obj_ns = t
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let own_name = t
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // The namespace the object belongs to (a Namespace belongs to itself).
        let ns_name = if is_namespace {
            Some(own_name)
        } else {
            t.namespace.filter(|s| !s.is_empty()).or(obj_ns)
        };
        if !self.kinds.is_empty()
            && !self.kinds.iter().any(|(groups, kinds)| {
                (kinds.is_empty() || kinds.iter().any(|k| k == "*" || k == t.kind))
                    && (groups.is_empty() || groups.iter().any(|g| g == "*" || g == t.group))
            })
        {
            return Ok(false);
        }
        let has_namespace = !is_namespace && ns_name.is_some();
        match self.scope {
            Scope::Cluster if has_namespace => return Ok(false),
            Scope::Namespaced if !has_namespace => return Ok(false),
            _ => {}
        }
        if let Some(ns) = ns_name {
            if !self.namespaces.is_empty() && !self.namespaces.iter().any(|p| wildcard(p, ns)) {
                return Ok(false);
            }
            if self.excluded_namespaces.iter().any(|p| wildcard(p, ns)) {
                return Ok(false);
            }
        }
        if let Some(sel) = &self.label_selector
            && !sel.matches(&labels_of(t.object))
        {
            return Ok(false);
        }
        if let Some(sel) = &self.namespace_selector {
            if is_namespace {
                if !sel.matches(&labels_of(t.object)) {
                    return Ok(false);
                }
            } else if ns_name.is_some() {
                let Some(labels) = t.namespace_labels else {
                    return Err(format!(
                        "namespace {:?} is unknown, so namespaceSelector cannot be evaluated",
                        ns_name.unwrap_or_default()
                    ));
                };
                if !sel.matches(labels) {
                    return Ok(false);
                }
            }
        }
        if let Some(pattern) = &self.name {
            let generate = t
                .object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let by_generate =
                !generate.is_empty() && pattern.ends_with('*') && wildcard(pattern, generate);
            if !wildcard(pattern, own_name) && !by_generate {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A constraint.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// Its kind (the template's).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// `spec.parameters` (`{}` when absent).
    pub parameters: Value,
    /// Which objects it applies to.
    pub matcher: Match,
    enforcement: Enforcement,
    /// `parameters` converted for the Rego engine once, not per evaluation.
    rego_parameters: regorus::Value,
}

#[derive(Debug, Clone)]
enum Enforcement {
    Single(Action),
    Scoped(Vec<(Action, Vec<String>)>),
}

impl Constraint {
    /// Reads a constraint given as JSON.
    pub fn parse(value: &Value) -> Result<Constraint, ConstraintError> {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let err = |message: String| ConstraintError {
            name: format!("{kind}/{name}"),
            message,
        };
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !api_version.starts_with(&format!("{GROUP}/")) {
            return Err(err(format!(
                "apiVersion {api_version:?} is not {GROUP}/v1beta1 (constraints live in the {GROUP} group)"
            )));
        }
        if kind.is_empty() || name.is_empty() {
            return Err(err("a constraint needs a kind and metadata.name".into()));
        }
        let spec = value.get("spec").cloned().unwrap_or(Value::Null);
        let matcher = match spec.get("match") {
            None | Some(Value::Null) => Match::default(),
            Some(m @ Value::Object(_)) => {
                let doc: MatchDoc = serde_json::from_value(m.clone())
                    .map_err(|e| err(format!("spec.match: {e}")))?;
                Match::compile(doc).map_err(|e| err(format!("spec.match: {e}")))?
            }
            Some(_) => return Err(err("spec.match must be an object, not a list".into())),
        };
        let action = spec
            .get("enforcementAction")
            .and_then(Value::as_str)
            .unwrap_or("deny");
        let enforcement = match action {
            "" => Enforcement::Single(Action::Deny),
            "scoped" => {
                let scoped: Vec<ScopedDoc> = spec
                    .get("scopedEnforcementActions")
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| err(format!("spec.scopedEnforcementActions: {e}")))?
                    .ok_or_else(|| err("scopedEnforcementActions is required".into()))?;
                let mut out = Vec::new();
                for s in scoped {
                    let a = Action::parse(&s.action).ok_or_else(|| {
                        err(format!("unrecognized enforcementAction: {:?} is not within the supported list [deny dryrun warn]", s.action))
                    })?;
                    out.push((a, s.enforcement_points.into_iter().map(|p| p.name).collect()));
                }
                Enforcement::Scoped(out)
            }
            other => Enforcement::Single(Action::parse(other).ok_or_else(|| {
                err(format!(
                    "unrecognized enforcementAction: {other:?} is not within the supported list [deny dryrun warn scoped]"
                ))
            })?),
        };
        let parameters = match spec.get("parameters") {
            None | Some(Value::Null) => serde_json::json!({}),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => return Err(err("spec.parameters must be an object".into())),
        };
        Ok(Constraint {
            kind,
            name,
            rego_parameters: super::rego_value::to_rego(&parameters),
            parameters,
            matcher,
            enforcement,
        })
    }

    /// Replaces the parameters (after schema defaulting and pruning).
    pub fn set_parameters(&mut self, parameters: Value) {
        self.rego_parameters = super::rego_value::to_rego(&parameters);
        self.parameters = parameters;
    }

    /// The parameters as the Rego engine sees them.
    pub fn rego_parameters(&self) -> &regorus::Value {
        &self.rego_parameters
    }

    /// The actions that apply at `point` (none: not evaluated there).
    pub fn actions(&self, point: Point) -> Vec<Action> {
        match &self.enforcement {
            Enforcement::Single(a) => vec![*a],
            Enforcement::Scoped(list) => {
                let mut v: Vec<Action> = list
                    .iter()
                    .filter(|(_, points)| points.iter().any(|p| p == "*" || p == point.name()))
                    .map(|(a, _)| *a)
                    .collect();
                v.sort();
                v.dedup();
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn constraint(spec: Value) -> Constraint {
        Constraint::parse(
            &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDemo",
            "metadata": {"name": "demo"}, "spec": spec}),
        )
        .unwrap()
    }

    fn pod(ns: &str, labels: Value) -> Value {
        json!({"kind": "Pod", "metadata": {"name": "web-1", "namespace": ns, "labels": labels}})
    }

    fn target<'a>(
        obj: &'a Value,
        kind: &'a str,
        group: &'a str,
        ns_labels: Option<&'a BTreeMap<String, String>>,
    ) -> Target<'a> {
        Target {
            group,
            kind,
            object: obj,
            namespace: obj.pointer("/metadata/namespace").and_then(Value::as_str),
            namespace_labels: ns_labels,
        }
    }

    #[test]
    fn wildcards() {
        for (p, c, want) in [
            ("kube-*", "kube-system", true),
            ("kube-*", "default", false),
            ("*-system", "kube-system", true),
            ("*sys*", "kube-system", true),
            ("*", "anything", true),
            ("default", "default", true),
            ("default", "default2", false),
        ] {
            assert_eq!(wildcard(p, c), want, "{p} {c}");
        }
    }

    #[test]
    fn kinds_scope_and_namespaces() {
        let c = constraint(
            json!({"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}],
            "namespaces": ["prod-*"], "excludedNamespaces": ["prod-sandbox"]}}),
        );
        let m = &c.matcher;
        let p = pod("prod-eu", json!({}));
        assert!(m.matches(&target(&p, "Pod", "", None)).unwrap());
        let p = pod("prod-sandbox", json!({}));
        assert!(!m.matches(&target(&p, "Pod", "", None)).unwrap());
        let p = pod("dev", json!({}));
        assert!(!m.matches(&target(&p, "Pod", "", None)).unwrap());
        let d = json!({"kind": "Deployment", "metadata": {"name": "d", "namespace": "prod-eu"}});
        assert!(!m.matches(&target(&d, "Deployment", "apps", None)).unwrap());

        // Namespace matchers do not disqualify cluster-scoped objects; scope does.
        let node = json!({"kind": "Node", "metadata": {"name": "n1"}});
        let any = constraint(json!({"match": {"namespaces": ["prod"]}}));
        assert!(
            any.matcher
                .matches(&target(&node, "Node", "", None))
                .unwrap()
        );
        let scoped = constraint(json!({"match": {"namespaces": ["prod"], "scope": "Namespaced"}}));
        assert!(
            !scoped
                .matcher
                .matches(&target(&node, "Node", "", None))
                .unwrap()
        );
        let cluster = constraint(json!({"match": {"scope": "Cluster"}}));
        assert!(
            cluster
                .matcher
                .matches(&target(&node, "Node", "", None))
                .unwrap()
        );
        assert!(
            !cluster
                .matcher
                .matches(&target(&pod("x", json!({})), "Pod", "", None))
                .unwrap()
        );
    }

    #[test]
    fn selectors_and_names() {
        let c = constraint(
            json!({"match": {"labelSelector": {"matchLabels": {"tier": "web"}},
            "namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
            "name": "web-*"}}),
        );
        let prod: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())].into();
        let dev: BTreeMap<String, String> = [("env".to_owned(), "dev".to_owned())].into();
        let p = pod("shop", json!({"tier": "web"}));
        assert!(
            c.matcher
                .matches(&target(&p, "Pod", "", Some(&prod)))
                .unwrap()
        );
        assert!(
            !c.matcher
                .matches(&target(&p, "Pod", "", Some(&dev)))
                .unwrap()
        );
        assert!(
            c.matcher.matches(&target(&p, "Pod", "", None)).is_err(),
            "unknown namespace"
        );
        let other = pod("shop", json!({"tier": "db"}));
        assert!(
            !c.matcher
                .matches(&target(&other, "Pod", "", Some(&prod)))
                .unwrap()
        );
        // A Namespace is selected by its own labels.
        let ns = json!({"kind": "Namespace", "metadata": {"name": "web-ns", "labels": {"env": "prod", "tier": "web"}}});
        assert!(
            c.matcher
                .matches(&Target {
                    group: "",
                    kind: "Namespace",
                    object: &ns,
                    namespace: None,
                    namespace_labels: None
                })
                .unwrap()
        );
    }

    #[test]
    fn enforcement_actions() {
        assert_eq!(
            constraint(json!({})).actions(Point::Webhook),
            [Action::Deny]
        );
        assert_eq!(
            constraint(json!({"enforcementAction": "warn"})).actions(Point::Audit),
            [Action::Warn]
        );
        let scoped = constraint(
            json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
            {"action": "warn", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
            {"action": "deny", "enforcementPoints": [{"name": "audit.gatekeeper.sh"}]}]}),
        );
        assert_eq!(scoped.actions(Point::Webhook), [Action::Warn]);
        assert_eq!(scoped.actions(Point::Audit), [Action::Deny]);
        assert!(scoped.actions(Point::Offline).is_empty());
        let bad = Constraint::parse(
            &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K", "metadata": {"name": "n"}, "spec": {"enforcementAction": "block"}}),
        );
        assert!(
            bad.unwrap_err()
                .message
                .contains("unrecognized enforcementAction")
        );
        let seed_shape = Constraint::parse(
            &json!({"apiVersion": "config.gatekeeper.sh/v1alpha1", "kind": "K", "metadata": {"name": "n"}}),
        );
        assert!(
            seed_shape
                .unwrap_err()
                .message
                .contains("constraints.gatekeeper.sh")
        );
        let list_match = Constraint::parse(
            &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K", "metadata": {"name": "n"}, "spec": {"match": [{"namespaces": ["x"]}]}}),
        );
        assert!(
            list_match
                .unwrap_err()
                .message
                .contains("must be an object")
        );
    }
}
