//! AdmissionReview v1 in and out. The request is read straight from the JSON value (never
//! deserialised into a second copy of a possibly large object), and every way a body can
//! be malformed becomes a [`ReviewError`] naming the field and what was expected.

use serde_json::{Map, Value, json};

/// Why a request body is not a usable AdmissionReview (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON at all, or truncated.
    #[error("request body is not valid JSON ({0}); send an admission.k8s.io/v1 AdmissionReview")]
    Json(String),
    /// JSON of another kind.
    #[error(
        "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got {api_version:?} {kind:?}"
    )]
    WrongKind {
        /// The body's apiVersion.
        api_version: String,
        /// The body's kind.
        kind: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("AdmissionReview field {field}: {problem}")]
    Field {
        /// JSON path of the field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The operation of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CREATE.
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CONNECT.
    Connect,
}

impl Operation {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// A parsed admission request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.kind.group`.
    pub group: String,
    /// `request.kind.version`.
    pub version: String,
    /// `request.kind.kind`.
    pub kind: String,
    /// `request.resource.resource` (plural).
    pub resource: String,
    /// `request.resource.group`.
    pub resource_group: String,
    /// `request.subResource` (`""` when none).
    pub sub_resource: String,
    /// `request.name`.
    pub name: String,
    /// `request.namespace`.
    pub namespace: String,
    /// `request.operation`.
    pub operation: Operation,
    /// `request.userInfo.username`.
    pub username: String,
    /// `request.object`.
    pub object: Option<Value>,
    /// `request.oldObject`.
    pub old_object: Option<Value>,
    /// The whole `request` as Gatekeeper's `input.review` wants it (see
    /// [`Request::gatekeeper_review`]), prepared at parse time.
    raw: Value,
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn field_str(
    obj: &Map<String, Value>,
    key: &str,
    field: &'static str,
    required: bool,
) -> Result<String, ReviewError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) if !required => Ok(String::new()),
        None | Some(Value::Null) => Err(ReviewError::Field {
            field,
            problem: "is required".into(),
        }),
        Some(other) => Err(ReviewError::Field {
            field,
            problem: format!("must be a string, not {}", json_type(other)),
        }),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object_field(
    obj: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<Value>, ReviewError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(other) => Err(ReviewError::Field {
            field,
            problem: format!("must be an object, not {}", json_type(other)),
        }),
    }
}

/// Parses a request body.
pub fn parse(body: &[u8]) -> Result<Request, ReviewError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ReviewError::Json(e.to_string()))?;
    let api_version = str_at(&value, "apiVersion").unwrap_or_default();
    let kind = str_at(&value, "kind").unwrap_or_default();
    if api_version != "admission.k8s.io/v1" || kind != "AdmissionReview" {
        return Err(ReviewError::WrongKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        });
    }
    let Some(Value::Object(req)) = value.get("request") else {
        return Err(ReviewError::Field {
            field: "request",
            problem: "is required and must be an object".into(),
        });
    };
    let gvk = match req.get("kind") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(ReviewError::Field {
                field: "request.kind",
                problem: "is required and must be an object {group, version, kind}".into(),
            });
        }
    };
    let gvr = match req.get("resource") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(ReviewError::Field {
                field: "request.resource",
                problem: "is required and must be an object {group, version, resource}".into(),
            });
        }
    };
    let operation = match field_str(req, "operation", "request.operation", true)?.as_str() {
        "CREATE" => Operation::Create,
        "UPDATE" => Operation::Update,
        "DELETE" => Operation::Delete,
        "CONNECT" => Operation::Connect,
        other => {
            return Err(ReviewError::Field {
                field: "request.operation",
                problem: format!("{other:?} is not one of CREATE, UPDATE, DELETE, CONNECT"),
            });
        }
    };
    let username = match req.get("userInfo") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Object(u)) => field_str(u, "username", "request.userInfo.username", false)?,
        Some(other) => {
            return Err(ReviewError::Field {
                field: "request.userInfo",
                problem: format!("must be an object, not {}", json_type(other)),
            });
        }
    };
    let object = object_field(req, "object", "request.object")?;
    let old_object = object_field(req, "oldObject", "request.oldObject")?;
    let kind_name = field_str(gvk, "kind", "request.kind.kind", true)?;
    if kind_name.is_empty() {
        return Err(ReviewError::Field {
            field: "request.kind.kind",
            problem: "must not be empty".into(),
        });
    }
    // `input.review` for Gatekeeper templates, built once here (the request is copied
    // anyway) so that deciding does not copy it again.
    let mut raw = req.clone();
    if !raw.contains_key("oldObject") {
        raw.insert("oldObject".into(), Value::Null);
    }
    let group = field_str(gvk, "group", "request.kind.group", false)?;
    if kind_name == "Namespace" && group.is_empty() {
        raw.remove("namespace");
    }
    if operation == Operation::Delete
        && let Some(old) = &old_object
    {
        raw.insert("object".into(), old.clone());
    }
    Ok(Request {
        uid: field_str(req, "uid", "request.uid", true)?,
        group,
        version: field_str(gvk, "version", "request.kind.version", true)?,
        kind: kind_name,
        resource: field_str(gvr, "resource", "request.resource.resource", true)?,
        resource_group: field_str(gvr, "group", "request.resource.group", false)?,
        sub_resource: field_str(req, "subResource", "request.subResource", false)?,
        name: field_str(req, "name", "request.name", false)?,
        namespace: field_str(req, "namespace", "request.namespace", false)?,
        operation,
        username,
        object,
        old_object,
        raw: Value::Object(raw),
    })
}

impl Request {
    /// `input.review` for Gatekeeper templates: the request as sent, with `oldObject`
    /// explicitly null when absent, the namespace cleared for Namespace objects, and, for
    /// DELETE, the old object as `object` (as Gatekeeper does).
    pub fn gatekeeper_review(&self) -> &Value {
        &self.raw
    }
}

/// An admission decision, ready to be sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// HTTP-style status code of a denial (403 policy, 422 invalid, 500 error).
    pub code: u16,
    /// `Forbidden`, `Invalid`, `InternalError`, `BadRequest`.
    pub reason: String,
    /// The denial's message.
    pub message: String,
    /// Warnings shown to the client.
    pub warnings: Vec<String>,
    /// Audit annotations (keys unprefixed; the API server prefixes the webhook name).
    pub audit_annotations: std::collections::BTreeMap<String, String>,
}

/// The AdmissionReview response body for `uid`.
pub fn response(uid: &str, d: &Decision) -> Value {
    let mut resp = json!({"uid": uid, "allowed": d.allowed});
    if !d.allowed {
        resp["status"] = json!({"metadata": {}, "status": "Failure", "code": d.code, "reason": d.reason, "message": d.message});
    }
    if !d.warnings.is_empty() {
        resp["warnings"] = json!(d.warnings);
    }
    if !d.audit_annotations.is_empty() {
        resp["auditAnnotations"] = json!(d.audit_annotations);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn body(request: Value) -> Vec<u8> {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
            .to_string()
            .into_bytes()
    }

    fn pod_request() -> Value {
        json!({"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "web", "namespace": "shop", "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}})
    }

    #[test]
    fn parses_a_pod_request() {
        let r = parse(&body(pod_request())).unwrap();
        assert_eq!(
            (r.kind.as_str(), r.resource.as_str(), r.namespace.as_str()),
            ("Pod", "pods", "shop")
        );
        assert_eq!(r.operation, Operation::Create);
        assert_eq!(r.username, "alice");
        let review = r.gatekeeper_review();
        assert_eq!(review["oldObject"], Value::Null);
        assert_eq!(review["object"]["metadata"]["name"], "web");
    }

    #[test]
    fn delete_reviews_carry_the_old_object() {
        let mut req = pod_request();
        req["operation"] = json!("DELETE");
        req["oldObject"] = req["object"].take();
        let r = parse(&body(req)).unwrap();
        assert_eq!(r.gatekeeper_review()["object"]["metadata"]["name"], "web");
    }

    #[test]
    fn malformed_bodies_are_explained() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\"".to_vec(),
                "not valid JSON",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod"})
                    .to_string()
                    .into_bytes(),
                "expected apiVersion admission.k8s.io/v1",
            ),
            (
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
                    .to_string()
                    .into_bytes(),
                "field request",
            ),
            (body(json!({"uid": "u"})), "request.kind"),
            (
                body({
                    let mut r = pod_request();
                    r["operation"] = json!("PATCH");
                    r
                }),
                "request.operation",
            ),
            (
                body({
                    let mut r = pod_request();
                    r["object"] = json!([1]);
                    r
                }),
                "request.object: must be an object",
            ),
            (
                body({
                    let mut r = pod_request();
                    r["uid"] = json!(7);
                    r
                }),
                "request.uid: must be a string",
            ),
        ];
        for (b, needle) in cases {
            let err = parse(&b).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn responses_have_the_upstream_shape() {
        let d = Decision {
            allowed: false,
            code: 403,
            reason: "Forbidden".into(),
            message: "no".into(),
            warnings: vec!["w".into()],
            audit_annotations: [("enforce-policy".to_owned(), "restricted:latest".to_owned())]
                .into(),
        };
        let r = response("u1", &d);
        assert_eq!(r["response"]["status"]["code"], 403);
        assert_eq!(r["response"]["warnings"], json!(["w"]));
        assert_eq!(
            r["response"]["auditAnnotations"]["enforce-policy"],
            "restricted:latest"
        );
        assert!(
            response(
                "u1",
                &Decision {
                    allowed: true,
                    ..Decision::default()
                }
            )["response"]
                .get("status")
                .is_none()
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_reviews(cut in 0usize..400, junk in "[\\[\\]{}\":,a-z0-9 ]{0,8}") {
            let mut b = body(pod_request());
            let at = cut.min(b.len());
            b.splice(at..at, junk.bytes());
            let _ = parse(&b);
        }
    }
}
