//! The CustomResourceDefinition Gatekeeper generates for a template's constraint kind,
//! so constraints can be created on clusters where Gatekeeper itself is not installed.

use serde_json::{Value, json};

use super::constraint::GROUP;
use super::template::Template;

fn selector_schema() -> Value {
    json!({"type": "object",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "matchExpressions": {"type": "array", "items": {"type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}}}}}}})
}

fn match_schema() -> Value {
    let names = json!({"type": "array", "items": {"type": "string"}});
    json!({"type": "object",
        "properties": {
            "kinds": {"type": "array", "items": {"type": "object", "properties": {
                "apiGroups": {"type": "array", "items": {"type": "string"}},
                "kinds": {"type": "array", "items": {"type": "string"}}}}},
            "scope": {"type": "string", "enum": ["*", "Cluster", "Namespaced"]},
            "namespaces": names,
            "excludedNamespaces": names,
            "labelSelector": selector_schema(),
            "namespaceSelector": selector_schema(),
            "name": {"type": "string"},
            "source": {"type": "string", "enum": ["All", "Generated", "Original"]}}})
}

/// The constraint CRD for `template` (`<kind lowercase>.constraints.gatekeeper.sh`):
/// cluster-scoped, served as v1beta1 (storage), v1alpha1 and v1, with the template's
/// parameter schema under `spec.parameters`.
pub fn constraint_crd(template: &Template) -> Value {
    let plural = template.kind.to_lowercase();
    let mut parameters = template
        .parameters_schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if template.legacy_schema
        && let Value::Object(m) = &mut parameters
    {
        m.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
    let schema = json!({"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}},
        "spec": {"type": "object", "properties": {
            "match": match_schema(),
            "enforcementAction": {"type": "string", "default": "deny"},
            "scopedEnforcementActions": {"type": "array", "items": {"type": "object", "properties": {
                "action": {"type": "string"},
                "enforcementPoints": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}}}}}}},
            "parameters": parameters}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
    let version = |name: &str, storage: bool| {
        json!({"name": name, "served": true, "storage": storage,
            "schema": {"openAPIV3Schema": schema.clone()},
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "enforcement-action", "type": "string", "jsonPath": ".spec.enforcementAction"},
                {"name": "total-violations", "type": "integer", "jsonPath": ".status.totalViolations"}]})
    };
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{GROUP}"),
            "labels": {"gatekeeper.sh/constraint": "yes", "app.kubernetes.io/managed-by": "plinth"}},
        "spec": {"group": GROUP,
            "names": {"kind": template.kind, "listKind": format!("{}List", template.kind),
                "plural": plural, "singular": plural, "categories": ["constraint", "constraints"]},
            "scope": "Cluster",
            "versions": [version("v1beta1", true), version("v1alpha1", false), version("v1", false)]}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_schema_follow_gatekeeper() {
        let set = crate::library::policy_set(&[]).unwrap();
        let t = set
            .templates()
            .find(|t| t.kind == "K8sRequiredLabels")
            .unwrap();
        let crd = constraint_crd(t);
        assert_eq!(
            crd["metadata"]["name"],
            "k8srequiredlabels.constraints.gatekeeper.sh"
        );
        assert_eq!(crd["spec"]["names"]["plural"], "k8srequiredlabels");
        let v = &crd["spec"]["versions"][0];
        assert_eq!(v["name"], "v1beta1");
        assert_eq!(v["storage"], true);
        let params =
            &v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["parameters"];
        assert_eq!(params["properties"]["labels"]["type"], "array");
    }
}
