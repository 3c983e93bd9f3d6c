//! Validation of a constraint's `spec.parameters` against its template's
//! `openAPIV3Schema`, the way the API server treats a structural CRD schema: wrong types
//! and values outside an `enum` are refused, missing `required` fields are refused,
//! schema `default`s are filled in, and unknown fields are pruned unless the schema (or
//! the template's `legacySchema`) preserves them.
//!
//! Written here rather than with a JSON-Schema crate because the semantics are the
//! Kubernetes structural-schema ones (pruning, `x-kubernetes-preserve-unknown-fields`,
//! `int-or-string`), not JSON Schema's, and the messages must read like the API server's.

use serde_json::{Map, Value};

/// Validates and normalises `value` in place; returns every problem found, each as
/// `path: Invalid value: ...` / `path: Required value`.
pub fn validate(schema: &Value, value: &mut Value, path: &str, prune: bool) -> Vec<String> {
    let mut errors = Vec::new();
    walk(schema, value, path, prune, &mut errors);
    errors
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    match (want, v) {
        ("number", Value::Number(_)) => true,
        (w, v) => w == type_of(v),
    }
}

fn walk(schema: &Value, value: &mut Value, path: &str, prune: bool, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    let nullable = schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if value.is_null() && nullable {
        return;
    }
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if int_or_string {
        if !matches!(type_of(value), "integer" | "string") {
            errors.push(format!(
                "{path}: Invalid value: \"{}\": {path} in body must be of type integer,string: \"{}\"",
                type_of(value),
                type_of(value)
            ));
        }
        return;
    }
    if let Some(want) = schema.get("type").and_then(Value::as_str)
        && !type_matches(want, value)
    {
        errors.push(format!(
            "{path}: Invalid value: \"{got}\": {path} in body must be of type {want}: \"{got}\"",
            got = type_of(value)
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
        errors.push(format!(
            "{path}: Unsupported value: {value}: supported values: {}",
            list.join(", ")
        ));
    }
    match value {
        Value::Object(map) => walk_object(schema, map, path, prune, errors),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), prune, errors);
                }
            }
        }
        _ => {}
    }
}

fn walk_object(
    schema: &Map<String, Value>,
    map: &mut Map<String, Value>,
    path: &str,
    prune: bool,
    errors: &mut Vec<String>,
) {
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    if let Some(props) = properties {
        for (name, prop) in props {
            if !map.contains_key(name)
                && let Some(default) = prop.get("default")
            {
                map.insert(name.clone(), default.clone());
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errors.push(format!("{path}.{name}: Required value"));
            }
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let child_path = format!("{path}.{key}");
        let child_schema = properties
            .and_then(|p| p.get(&key))
            .or(additional.filter(|a| a.is_object()));
        match child_schema {
            Some(s) => {
                if let Some(child) = map.get_mut(&key) {
                    walk(s, child, &child_path, prune, errors);
                }
            }
            None => {
                let allowed_by_schema = preserve || additional == Some(&Value::Bool(true));
                // A schema with neither properties nor additionalProperties says nothing
                // about the object's fields.
                let unconstrained = properties.is_none() && additional.is_none();
                if prune && !allowed_by_schema && !unconstrained {
                    map.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "labels": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["strict", "lax"], "default": "strict"},
            "limit": {"type": "integer"},
            "port": {"x-kubernetes-int-or-string": true},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
    }

    #[test]
    fn accepts_defaults_and_prunes() {
        let mut v = json!({"labels": ["a"], "unknown": 1, "port": "http", "free": {"x": 1}});
        let errs = validate(&schema(), &mut v, "spec.parameters", true);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            v,
            json!({"labels": ["a"], "mode": "strict", "port": "http", "free": {"x": 1}})
        );
        let mut kept = json!({"unknown": 1});
        validate(&schema(), &mut kept, "spec.parameters", false);
        assert_eq!(kept["unknown"], 1);
    }

    #[test]
    fn reports_like_the_api_server() {
        let mut v = json!({"labels": [1], "mode": "other", "limit": 1.5, "port": true});
        let errs = validate(&schema(), &mut v, "spec.parameters", true);
        assert_eq!(
            errs,
            [
                "spec.parameters.labels[0]: Invalid value: \"integer\": spec.parameters.labels[0] in body must be of type string: \"integer\"",
                "spec.parameters.limit: Invalid value: \"number\": spec.parameters.limit in body must be of type integer: \"number\"",
                "spec.parameters.mode: Unsupported value: \"other\": supported values: \"strict\", \"lax\"",
                "spec.parameters.port: Invalid value: \"boolean\": spec.parameters.port in body must be of type integer,string: \"boolean\"",
            ]
        );
        let mut arr = json!(["x"]);
        let errs = validate(&schema(), &mut arr, "spec.parameters", true);
        assert!(
            errs[0].contains("must be of type object: \"array\""),
            "{errs:?}"
        );
    }
}
