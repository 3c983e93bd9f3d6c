//! Object identity: which object a message, a map entry or an error is about.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Kubernetes object's identity: group/version/kind plus namespace and name.
///
/// Orders by kind, namespace, name (what people scan for), so collections of objects sort
/// into a stable, diff-friendly order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `Kind`, e.g. `Deployment`.
    pub kind: String,
    /// Namespace, absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
}

impl ObjectRef {
    /// Identity of an object given as JSON (`apiVersion`, `kind`, `metadata.name`,
    /// `metadata.namespace`); missing parts are empty strings.
    pub fn from_value(value: &serde_json::Value) -> ObjectRef {
        fn s(v: Option<&serde_json::Value>) -> &str {
            v.and_then(|v| v.as_str()).unwrap_or_default()
        }
        let meta = value.get("metadata");
        ObjectRef {
            kind: s(value.get("kind")).to_owned(),
            namespace: meta
                .and_then(|m| m.get("namespace"))
                .and_then(|n| n.as_str())
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            name: s(meta.and_then(|m| m.get("name"))).to_owned(),
            api_version: s(value.get("apiVersion")).to_owned(),
        }
    }

    /// `namespace/name`, or `name` for cluster-scoped objects (kubectl's short form).
    pub fn namespaced_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind namespace/name`, e.g. `Pod default/web-0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.namespaced_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_json() {
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}});
        let node =
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
        assert_eq!(ObjectRef::from_value(&pod).to_string(), "Pod shop/web");
        assert_eq!(ObjectRef::from_value(&node).to_string(), "Node n1");
        assert_eq!(ObjectRef::from_value(&node).namespace, None);
    }
}
