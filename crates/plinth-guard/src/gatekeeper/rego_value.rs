//! JSON to Rego values for admission reviews.
//!
//! Written here rather than using regorus' serde path because every admission request
//! is converted once, and that conversion was a fifth of the time spent per request:
//! regorus' deserializer copies each string twice (to a `String`, then to the shared
//! string the value holds) and allocates every object key anew. Here each string is
//! copied once, and object keys — the same few hundred names in every Kubernetes
//! object — come from a per-thread table, so a key costs a reference-count increment.
//! The values produced are equal to regorus' own conversion (a test checks it), with
//! one deliberate exception: regorus reads an object whose first key is
//! `$serde_json::private::Number` as a number (and fails the whole conversion when its
//! value is not numeric, which made the review undefined); here it stays an ordinary
//! object, as OPA treats it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use regorus::Value as Rego;
use serde_json::Value;

/// At most this many distinct keys are kept per thread. Keys come from untrusted
/// requests; when the table is full it is emptied, so unusual keys cannot crowd out the
/// common ones for good. With the length limit below a table stays under ~200 KiB.
const MAX_KEYS: usize = 1024;

/// Keys longer than this are not remembered (Kubernetes field names are short; long
/// label and annotation keys are converted without the table).
const MAX_KEY_LEN: usize = 64;

thread_local! {
    static KEYS: RefCell<HashMap<Box<str>, Rego>> = RefCell::new(HashMap::new());
}

fn key(k: &str) -> Rego {
    if k.len() > MAX_KEY_LEN {
        return Rego::from(k);
    }
    KEYS.with(|keys| {
        let Ok(mut keys) = keys.try_borrow_mut() else {
            return Rego::from(k);
        };
        if let Some(v) = keys.get(k) {
            return v.clone();
        }
        let v = Rego::from(k);
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(k.into(), v.clone());
        v
    })
}

/// Converts a JSON value into the Rego value regorus would make of it.
pub fn to_rego(value: &Value) -> Rego {
    match value {
        Value::Null => Rego::Null,
        Value::Bool(b) => Rego::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Rego::from(u)
            } else if let Some(i) = n.as_i64() {
                Rego::from(i)
            } else {
                // serde_json numbers that are neither u64 nor i64 are finite f64s.
                Rego::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Rego::from(s.as_str()),
        Value::Array(items) => Rego::from(items.iter().map(to_rego).collect::<Vec<_>>()),
        Value::Object(map) => {
            if map.is_empty() {
                return Rego::new_object();
            }
            Rego::from(
                map.iter()
                    .map(|(k, v)| (key(k), to_rego(v)))
                    .collect::<BTreeMap<_, _>>(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn regorus_own(v: &Value) -> Rego {
        <Rego as serde::Deserialize>::deserialize(v).expect("regorus converts JSON")
    }

    #[test]
    fn equals_regorus_conversion_on_a_pod() {
        let v = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "web"}, "annotations": {}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": 1.5, "memory": "1Gi"}}}],
                "securityContext": {"runAsUser": -1, "fsGroup": 18446744073709551615u64}},
            "status": null, "empty": [], "flag": true
        });
        assert_eq!(to_rego(&v), regorus_own(&v));
    }

    #[test]
    fn a_serde_number_marker_key_stays_an_object() {
        let v = json!({"$serde_json::private::Number": "not a number", "x": 1});
        let r = to_rego(&v);
        assert_eq!(r["x"], Rego::from(1u64));
        assert_eq!(
            r["$serde_json::private::Number"],
            Rego::from("not a number")
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            (-1e300f64..1e300).prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn equals_regorus_conversion(v in json_value()) {
            prop_assert_eq!(to_rego(&v), regorus_own(&v));
        }
    }
}
