//! Gatekeeper compatibility: ConstraintTemplates with Rego (v0) targets, Constraints with
//! `spec.match` and enforcement actions, and the evaluation pipeline that turns one
//! admission review into Gatekeeper-form results (`[constraint] message`).

pub mod constraint;
pub mod crd;
pub mod rego_value;
pub mod schema;
pub mod template;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

pub use constraint::{Action, Constraint, ConstraintError, Point, Target};
pub use template::{RawViolation, Template, TemplateError};

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A template is invalid or its Rego does not compile.
    #[error("ConstraintTemplate {name}: {source}")]
    Template {
        /// `metadata.name`.
        name: String,
        /// What is wrong.
        source: TemplateError,
    },
    /// A constraint is invalid.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
    /// A constraint of a kind no template defines.
    #[error(
        "constraint {kind}/{name}: missing ConstraintTemplate: template {template:?} not found"
    )]
    MissingTemplate {
        /// The constraint's kind.
        kind: String,
        /// The constraint's name.
        name: String,
        /// The template that would define the kind.
        template: String,
    },
    /// Parameters do not match the template's schema.
    #[error("The {kind} {name:?} is invalid: {}", errors.join(", "))]
    Parameters {
        /// The constraint's kind.
        kind: String,
        /// The constraint's name.
        name: String,
        /// API-server style field errors.
        errors: Vec<String>,
    },
}

/// One result of evaluating a constraint on an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The constraint's kind.
    pub constraint_kind: String,
    /// The constraint's name.
    pub constraint_name: String,
    /// What the constraint does at this enforcement point.
    pub actions: Vec<Action>,
    /// The template's message (or the evaluation error, which Gatekeeper also reports
    /// as a violation so that a broken template fails closed).
    pub message: String,
    /// The template's `details`.
    pub details: Value,
}

impl Violation {
    /// The Gatekeeper webhook's form: `[name] message`.
    pub fn line(&self) -> String {
        format!("[{}] {}", self.constraint_name, self.message)
    }

    /// Whether this violation rejects the request.
    pub fn denies(&self) -> bool {
        self.actions.contains(&Action::Deny)
    }

    /// Whether this violation becomes an admission warning.
    pub fn warns(&self) -> bool {
        self.actions.contains(&Action::Warn)
    }
}

/// The object under review and what the matcher needs to know around it.
#[derive(Debug, Clone, Copy)]
pub struct Review<'a> {
    /// `input.review`: an `AdmissionRequest` as JSON (see [`synthetic_review`] for
    /// audit and offline checks).
    pub request: &'a Value,
    /// Labels of the object's namespace, when known.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

/// The review Gatekeeper synthesises for objects that are not admission requests (audit
/// and offline checks): kind, name and namespace from the object, no operation or user.
pub fn synthetic_review(object: &Value) -> Value {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut review = json!({
        "kind": {"group": group, "version": version, "kind": kind},
        "object": object,
        "oldObject": null,
        "operation": "",
        "uid": "",
        "userInfo": {},
    });
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) {
        review["name"] = json!(name);
    }
    if kind != "Namespace"
        && let Some(ns) = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    {
        review["namespace"] = json!(ns);
    }
    review
}

/// A compiled, immutable set of templates and constraints. Build a new one to change it
/// (templates are compiled once and shared through `Arc`, so rebuilding after a
/// constraint change is cheap).
#[derive(Debug, Default, Clone)]
pub struct PolicySet {
    templates: BTreeMap<String, Arc<Template>>,
    constraints: BTreeMap<(String, String), Arc<Constraint>>,
}

impl PolicySet {
    /// An empty set.
    pub fn new() -> PolicySet {
        PolicySet::default()
    }

    /// Compiles and adds (or replaces) a template; returns its constraint kind.
    pub fn add_template(&mut self, doc: &Value) -> Result<String, PolicyError> {
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let template =
            Template::compile(doc).map_err(|source| PolicyError::Template { name, source })?;
        let kind = template.kind.clone();
        self.templates.insert(kind.clone(), Arc::new(template));
        Ok(kind)
    }

    /// Adds an already compiled template (shared with another set).
    pub fn insert_template(&mut self, template: Arc<Template>) {
        self.templates.insert(template.kind.clone(), template);
    }

    /// Validates and adds (or replaces) a constraint; its template must be present.
    pub fn add_constraint(&mut self, doc: &Value) -> Result<(), PolicyError> {
        let mut constraint = Constraint::parse(doc)?;
        let Some(template) = self.templates.get(&constraint.kind) else {
            return Err(PolicyError::MissingTemplate {
                template: constraint.kind.to_lowercase(),
                kind: constraint.kind,
                name: constraint.name,
            });
        };
        if let Some(schema) = &template.parameters_schema {
            let mut parameters = constraint.parameters.clone();
            let errors = schema::validate(
                schema,
                &mut parameters,
                "spec.parameters",
                !template.legacy_schema,
            );
            if !errors.is_empty() {
                return Err(PolicyError::Parameters {
                    kind: constraint.kind,
                    name: constraint.name,
                    errors,
                });
            }
            constraint.set_parameters(parameters);
        }
        self.constraints.insert(
            (constraint.kind.clone(), constraint.name.clone()),
            Arc::new(constraint),
        );
        Ok(())
    }

    /// Removes a constraint; true if it was there.
    pub fn remove_constraint(&mut self, kind: &str, name: &str) -> bool {
        self.constraints
            .remove(&(kind.to_owned(), name.to_owned()))
            .is_some()
    }

    /// Removes a template and its constraints; true if it was there.
    pub fn remove_template(&mut self, kind: &str) -> bool {
        self.constraints.retain(|(k, _), _| k != kind);
        self.templates.remove(kind).is_some()
    }

    /// The compiled templates, by constraint kind.
    pub fn templates(&self) -> impl Iterator<Item = &Arc<Template>> {
        self.templates.values()
    }

    /// The constraints, sorted by kind and name.
    pub fn constraints(&self) -> impl Iterator<Item = &Arc<Constraint>> {
        self.constraints.values()
    }

    /// Whether there is nothing to evaluate.
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Replaces the synced inventory (`data.inventory`) every template sees. Templates
    /// shared with other sets are copied first, so those sets keep their inventory.
    pub fn set_inventory(&mut self, inventory: &Value) -> Result<(), PolicyError> {
        for template in self.templates.values_mut() {
            let name = template.name.clone();
            Arc::make_mut(template)
                .set_inventory(inventory)
                .map_err(|source| PolicyError::Template { name, source })?;
        }
        Ok(())
    }

    /// The constraints enabled at `point` with their templates and whether each matches
    /// the review (`Err` when the match cannot be decided, e.g. a bad label selector).
    fn candidates<'s>(
        &'s self,
        review: &Review<'_>,
        point: Point,
    ) -> impl Iterator<
        Item = (
            &'s Arc<Constraint>,
            &'s Arc<Template>,
            Vec<Action>,
            Result<bool, String>,
        ),
    > {
        let request = review.request;
        let group = request
            .pointer("/kind/group")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = request
            .pointer("/kind/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let namespace = if kind == "Namespace" && group.is_empty() {
            None
        } else {
            request.get("namespace").and_then(Value::as_str)
        };
        let object = request.get("object").filter(|o| o.is_object());
        let old = request.get("oldObject").filter(|o| o.is_object());
        let labels = review.namespace_labels;
        self.constraints.values().filter_map(move |constraint| {
            let actions = constraint.actions(point);
            if actions.is_empty() {
                return None;
            }
            let template = self.templates.get(&constraint.kind)?;
            let matched = [object, old]
                .into_iter()
                .flatten()
                .try_fold(false, |acc, o| {
                    if acc {
                        return Ok(true);
                    }
                    constraint.matcher.matches(&Target {
                        group,
                        kind,
                        object: o,
                        namespace,
                        namespace_labels: labels,
                    })
                });
            Some((constraint, template, actions, matched))
        })
    }

    /// The constraints (with their templates) that [`PolicySet::evaluate`] would run Rego
    /// for on this review, in evaluation order. Benchmarks use it to give another engine
    /// exactly the same work.
    pub fn matching(
        &self,
        review: &Review<'_>,
        point: Point,
    ) -> Vec<(Arc<Constraint>, Arc<Template>)> {
        self.candidates(review, point)
            .filter(|(_, _, _, m)| matches!(m, Ok(true)))
            .map(|(c, t, _, _)| (Arc::clone(c), Arc::clone(t)))
            .collect()
    }

    /// Evaluates every constraint enabled at `point` that matches the review. Results are
    /// in Gatekeeper's order: by enforcement action, then message.
    pub fn evaluate(&self, review: &Review<'_>, point: Point) -> Vec<Violation> {
        let request = review.request;
        let mut rego_review: Option<regorus::Value> = None;
        let mut out = Vec::new();
        for (constraint, template, actions, matched) in self.candidates(review, point) {
            let violation = |message: String, details: Value| Violation {
                constraint_kind: constraint.kind.clone(),
                constraint_name: constraint.name.clone(),
                actions: actions.clone(),
                message,
                details,
            };
            match matched {
                Ok(false) => continue,
                Err(e) => {
                    out.push(violation(
                        format!("unable to match constraints: {e}"),
                        json!({}),
                    ));
                    continue;
                }
                Ok(true) => {}
            }
            let review_value = rego_review
                .get_or_insert_with(|| rego_value::to_rego(request))
                .clone();
            let mut input = BTreeMap::new();
            input.insert(regorus::Value::from("review"), review_value);
            input.insert(
                regorus::Value::from("parameters"),
                constraint.rego_parameters().clone(),
            );
            match template.evaluate(regorus::Value::from(input)) {
                Ok(raw) => out.extend(raw.into_iter().map(|r| violation(r.msg, r.details))),
                Err(e) => out.push(violation(e, json!({}))),
            }
        }
        out.sort_by(|a, b| {
            let key = |v: &Violation| v.actions.first().map_or("", |a| a.as_str());
            key(a)
                .cmp(key(b))
                .then_with(|| a.message.cmp(&b.message))
                .then_with(|| a.constraint_name.cmp(&b.constraint_name))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_set(action: &str) -> PolicySet {
        let mut set = PolicySet::new();
        set.add_template(&json!({"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
            "metadata": {"name": "k8sforbiddenname"},
            "spec": {"crd": {"spec": {"names": {"kind": "K8sForbiddenName"},
                "validation": {"openAPIV3Schema": {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}}}}}},
              "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego":
                "package k8sforbiddenname\nviolation[{\"msg\": msg}] {\n  n := input.review.object.metadata.name\n  n == input.parameters.names[_]\n  msg := sprintf(\"name %v is forbidden\", [n])\n}\n"}]}}))
            .unwrap();
        set.add_constraint(&json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sForbiddenName",
            "metadata": {"name": "no-bad"},
            "spec": {"enforcementAction": action, "match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]},
                     "parameters": {"names": ["bad"]}}}))
            .unwrap();
        set
    }

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"}})
    }

    #[test]
    fn evaluates_matching_constraints() {
        let set = demo_set("deny");
        let bad = synthetic_review(&pod("bad"));
        let v = set.evaluate(
            &Review {
                request: &bad,
                namespace_labels: None,
            },
            Point::Webhook,
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].line(), "[no-bad] name bad is forbidden");
        assert!(v[0].denies());
        let good = synthetic_review(&pod("good"));
        assert!(
            set.evaluate(
                &Review {
                    request: &good,
                    namespace_labels: None
                },
                Point::Webhook
            )
            .is_empty()
        );
        let mut deploy = pod("bad");
        deploy["kind"] = json!("ConfigMap");
        let cm = synthetic_review(&deploy);
        assert!(
            set.evaluate(
                &Review {
                    request: &cm,
                    namespace_labels: None
                },
                Point::Webhook
            )
            .is_empty()
        );
    }

    #[test]
    fn dryrun_and_warn_do_not_deny() {
        for (action, warns) in [("dryrun", false), ("warn", true)] {
            let set = demo_set(action);
            let bad = synthetic_review(&pod("bad"));
            let v = set.evaluate(
                &Review {
                    request: &bad,
                    namespace_labels: None,
                },
                Point::Audit,
            );
            assert_eq!(v.len(), 1);
            assert!(!v[0].denies());
            assert_eq!(v[0].warns(), warns);
        }
    }

    #[test]
    fn constraints_are_checked_against_their_template() {
        let mut set = demo_set("deny");
        let err = set
            .add_constraint(&json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sForbiddenName",
                "metadata": {"name": "wrong"}, "spec": {"parameters": {"names": "bad"}}}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.parameters.names in body must be of type array"),
            "{err}"
        );
        let err = set
            .add_constraint(
                &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sOther",
                "metadata": {"name": "x"}}),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("template \"k8sother\" not found"), "{err}");
    }

    #[test]
    fn runtime_errors_fail_closed() {
        let mut set = PolicySet::new();
        set.add_template(
            &json!({"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
            "metadata": {"name": "k8sbroken"},
            "spec": {"crd": {"spec": {"names": {"kind": "K8sBroken"}}},
              "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego":
                "package k8sbroken\nviolation[{\"msg\": msg}] {\n  msg := 7\n}\n"}]}}),
        )
        .unwrap();
        set.add_constraint(
            &json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sBroken",
            "metadata": {"name": "broken"}}),
        )
        .unwrap();
        let r = synthetic_review(&pod("x"));
        let v = set.evaluate(
            &Review {
                request: &r,
                namespace_labels: None,
            },
            Point::Webhook,
        );
        assert_eq!(v.len(), 1);
        assert!(
            v[0].denies() && v[0].message.contains("want string"),
            "{v:?}"
        );
    }

    #[test]
    fn synthetic_reviews_clear_the_namespace_of_namespaces() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "a"}});
        let r = synthetic_review(&ns);
        assert!(r.get("namespace").is_none());
        assert_eq!(
            r["kind"],
            json!({"group": "", "version": "v1", "kind": "Namespace"})
        );
        let d = synthetic_review(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}}),
        );
        assert_eq!(d["kind"]["group"], "apps");
        assert_eq!(d["namespace"], "n");
    }
}
