//! ConstraintTemplates (`templates.gatekeeper.sh/v1`): validation as Gatekeeper does it,
//! and compilation of the Rego (v0 syntax) into a cached regorus engine per template.

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

/// The only target Gatekeeper knows.
pub const TARGET: &str = "admission.k8s.gatekeeper.sh";

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template's shape is wrong (Gatekeeper: `invalid ConstraintTemplate: ...`).
    #[error("invalid ConstraintTemplate: {0}")]
    Invalid(String),
    /// The Rego does not compile (Gatekeeper status `ingest_error`).
    #[error("Could not ingest Rego: {0}")]
    Ingest(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    metadata: Meta,
    spec: Spec,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
}

#[derive(Deserialize)]
struct Spec {
    crd: Crd,
    #[serde(default)]
    targets: Vec<TargetDoc>,
}

#[derive(Deserialize)]
struct Crd {
    spec: CrdSpec,
}

#[derive(Deserialize)]
struct CrdSpec {
    names: Names,
    #[serde(default)]
    validation: Option<Validation>,
}

#[derive(Deserialize)]
struct Names {
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Validation {
    #[serde(default, rename = "openAPIV3Schema")]
    open_api_v3_schema: Option<Value>,
    #[serde(default)]
    legacy_schema: Option<bool>,
}

#[derive(Deserialize)]
struct TargetDoc {
    #[serde(default)]
    target: String,
    #[serde(default)]
    rego: Option<String>,
    #[serde(default)]
    libs: Vec<String>,
    #[serde(default)]
    code: Vec<CodeDoc>,
}

#[derive(Deserialize)]
struct CodeDoc {
    engine: String,
    #[serde(default)]
    source: Option<SourceDoc>,
}

#[derive(Deserialize)]
struct SourceDoc {
    #[serde(default)]
    rego: Option<String>,
    #[serde(default)]
    libs: Vec<String>,
    #[serde(default)]
    version: Option<String>,
}

/// One violation as the Rego produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawViolation {
    /// `msg`.
    pub msg: String,
    /// `details` (`{}` when absent).
    pub details: Value,
}

/// A compiled template.
pub struct Template {
    /// `metadata.name`.
    pub name: String,
    /// The constraint kind it defines.
    pub kind: String,
    /// The entry module's package (`data.<package>.violation` is queried).
    pub package: String,
    /// Schema of the constraints' `spec.parameters`, if given.
    pub parameters_schema: Option<Value>,
    /// Whether unknown parameters are kept (`legacySchema`).
    pub legacy_schema: bool,
    base: regorus::Engine,
    /// Ready engines: evaluation mutates an engine (input, caches), so concurrent
    /// evaluations each take one and give it back.
    pool: Mutex<Vec<regorus::Engine>>,
    query: String,
    /// The template compiled for regorus' virtual machine (RVM), when it compiles; it is
    /// several times faster than the tree-walking interpreter, which stays as the
    /// fallback for Rego the RVM compiler does not take.
    program: Option<Arc<regorus::rvm::Program>>,
    /// `data` for the VMs (the synced inventory).
    data: regorus::Value,
    /// Ready VMs (evaluation mutates a VM, so concurrent evaluations each take one).
    vms: Mutex<Vec<regorus::rvm::RegoVM>>,
}

/// The RVM's instruction budget per evaluation: its default (25,000) is too small for a
/// large pod. This budget is what stops a runaway template — the webhook answers at its
/// deadline, but an evaluation already running finishes on its blocking thread.
const MAX_INSTRUCTIONS: usize = 50_000_000;

fn rvm_program(engine: &regorus::Engine, query: &str) -> Option<Arc<regorus::rvm::Program>> {
    let mut engine = engine.clone();
    let policy = engine.compile_with_entrypoint(&query.into()).ok()?;
    regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &[query]).ok()
}

impl Clone for Template {
    fn clone(&self) -> Template {
        Template {
            name: self.name.clone(),
            kind: self.kind.clone(),
            package: self.package.clone(),
            parameters_schema: self.parameters_schema.clone(),
            legacy_schema: self.legacy_schema,
            base: self.base.clone(),
            pool: Mutex::new(Vec::new()),
            query: self.query.clone(),
            program: self.program.clone(),
            data: self.data.clone(),
            vms: Mutex::new(Vec::new()),
        }
    }
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("package", &self.package)
            .finish_non_exhaustive()
    }
}

/// Every `data.<name>` root the Rego references (Gatekeeper allows only `lib` and
/// `inventory`).
fn data_roots(rego: &str) -> Vec<String> {
    let mut roots = Vec::new();
    let bytes = rego.as_bytes();
    let mut i = 0;
    while let Some(pos) = rego[i..].find("data.") {
        let start = i + pos;
        let preceded_by_ident = start > 0 && {
            let c = bytes[start - 1];
            c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
        };
        let name: String = rego[start + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !preceded_by_ident && !name.is_empty() {
            roots.push(name);
        }
        i = start + 5;
    }
    roots
}

/// The deepest bracket nesting (`[`, `{`, `(` together) a template's Rego may have.
/// Gatekeeper-library templates stay under 8; regorus' parser backtracks on brackets,
/// and its time doubles with every further level (18 levels take seconds), so deeper
/// Rego is refused before it reaches the parser — a template is otherwise a way to stall
/// the webhook's policy loading.
pub const MAX_NESTING: usize = 12;

/// The first place where `rego` nests brackets deeper than [`MAX_NESTING`]: (depth,
/// line). Strings, raw strings and comments are skipped. Hand-written because it is a
/// single pass over characters that only has to be conservative, not a Rego lexer.
fn too_deep(rego: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut chars = rego.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') | (_, '\n') => break,
                        _ => escaped = false,
                    }
                }
            }
            '`' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                    } else if c == '`' {
                        break;
                    }
                }
            }
            '[' | '{' | '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some((depth, line));
                }
            }
            ']' | '}' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The Rego of a ConstraintTemplate document as written in `targets[0].rego` and
/// `targets[0].libs` (what another engine, e.g. OPA, is given to evaluate it).
pub fn rego_sources(doc: &Value) -> (String, Vec<String>) {
    let target = &doc["spec"]["targets"][0];
    let rego = target["rego"].as_str().unwrap_or_default().to_owned();
    let libs = target["libs"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (rego, libs)
}

/// Whether the module defines a rule named `violation` (at the start of a line).
fn defines_violation(rego: &str) -> bool {
    rego.lines().any(|l| {
        let t = l.trim_start();
        t.strip_prefix("violation").is_some_and(|rest| {
            rest.trim_start().starts_with(['[', '{', 'c', 'i', '=']) || rest.is_empty()
        })
    })
}

impl Template {
    /// Validates and compiles a template given as JSON.
    pub fn compile(value: &Value) -> Result<Template, TemplateError> {
        let invalid = |m: String| TemplateError::Invalid(m);
        let doc: Doc = serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
        let kind = doc.spec.crd.spec.names.kind.clone();
        if kind.is_empty() {
            return Err(invalid("spec.crd.spec.names.kind must not be empty".into()));
        }
        if doc.metadata.name != kind.to_lowercase() {
            return Err(invalid(format!(
                "the ConstraintTemplate's name {:?} is not equal to the lowercase of CRD's Kind: {:?}",
                doc.metadata.name,
                kind.to_lowercase()
            )));
        }
        if doc.metadata.name.len() > 63 {
            return Err(invalid(format!(
                "resource cannot have metadata.name larger than 63 char; length: {}",
                doc.metadata.name.len()
            )));
        }
        let [target] = doc.spec.targets.as_slice() else {
            return Err(invalid("must declare exactly one target".into()));
        };
        if target.target.is_empty() {
            return Err(invalid("target name must not be empty".into()));
        }
        if target.target != TARGET {
            return Err(invalid(format!(
                "target {:?} not recognized, known targets [{TARGET}]",
                target.target
            )));
        }
        let from_code = target
            .code
            .iter()
            .find(|c| c.engine == "Rego")
            .and_then(|c| c.source.as_ref());
        let (rego, libs, v1) = match (&target.rego, from_code) {
            (Some(r), None) => (r.clone(), target.libs.clone(), false),
            (None, Some(src)) => (
                src.rego.clone().unwrap_or_default(),
                src.libs.clone(),
                src.version.as_deref() == Some("v1"),
            ),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "rego may be given in targets[].rego or in code, not both".into(),
                ));
            }
            (None, None) => {
                return Err(TemplateError::Ingest(
                    "Could not extract Rego from the constraint template".into(),
                ));
            }
        };
        for (i, module) in std::iter::once(&rego).chain(libs.iter()).enumerate() {
            if let Some((depth, line)) = too_deep(module) {
                let which = if i == 0 {
                    "rego".to_owned()
                } else {
                    format!("libs[{}]", i - 1)
                };
                return Err(invalid(format!(
                    "{which} nests brackets {depth} deep at line {line}; at most {MAX_NESTING} levels are accepted (deeper nesting makes Rego parsing exponentially slow)"
                )));
            }
        }
        if !defines_violation(&rego) {
            return Err(invalid(
                "invalid rego: invalid module: missing required rules: [violation]".into(),
            ));
        }
        for root in libs
            .iter()
            .chain(std::iter::once(&rego))
            .flat_map(|m| data_roots(m))
        {
            if root != "lib" && root != "inventory" {
                return Err(TemplateError::Ingest(format!("disallowed ref data.{root}")));
            }
        }
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(!v1);
        // Gatekeeper evaluates with non-strict built-ins: a built-in error is undefined.
        engine.set_strict_builtin_errors(false);
        let package = engine
            .add_policy(format!("{}.rego", doc.metadata.name), rego)
            .map_err(|e| TemplateError::Ingest(e.to_string()))?;
        for (i, lib) in libs.into_iter().enumerate() {
            let pkg = engine
                .add_policy(format!("{}-lib{i}.rego", doc.metadata.name), lib)
                .map_err(|e| TemplateError::Ingest(e.to_string()))?;
            if !pkg.starts_with("data.lib.") {
                return Err(TemplateError::Ingest(format!(
                    "path {pkg} not found in lib prefixes"
                )));
            }
        }
        let package = package.trim_start_matches("data.").to_owned();
        let validation = doc.spec.crd.spec.validation;
        let query = format!("data.{package}.violation");
        // Compile now, so a broken template fails at load rather than at its first use.
        let mut probe = engine.clone();
        probe.set_input(regorus::Value::new_object());
        probe
            .eval_rule(query.clone())
            .map_err(|e| TemplateError::Ingest(e.to_string()))?;
        let program = rvm_program(&engine, &query);
        Ok(Template {
            program,
            data: regorus::Value::from(serde_json::json!({ "inventory": {} })),
            vms: Mutex::new(Vec::new()),
            name: doc.metadata.name,
            kind,
            package,
            parameters_schema: validation
                .as_ref()
                .and_then(|v| v.open_api_v3_schema.clone()),
            legacy_schema: validation.and_then(|v| v.legacy_schema).unwrap_or(false),
            base: engine,
            pool: Mutex::new(Vec::new()),
            query,
        })
    }

    /// Replaces the synced inventory (`data.inventory`) seen by this template.
    pub fn set_inventory(&mut self, inventory: &Value) -> Result<(), TemplateError> {
        let data = regorus::Value::from(serde_json::json!({ "inventory": inventory }));
        self.base.clear_data();
        self.base
            .add_data(data.clone())
            .map_err(|e| TemplateError::Ingest(e.to_string()))?;
        self.data = data;
        if let Ok(mut pool) = self.pool.lock() {
            pool.clear();
        }
        if let Ok(mut vms) = self.vms.lock() {
            vms.clear();
        }
        Ok(())
    }

    /// Whether evaluation runs on regorus' virtual machine (else on its interpreter).
    pub fn compiled_for_vm(&self) -> bool {
        self.program.is_some()
    }

    fn evaluate_vm(
        &self,
        program: &Arc<regorus::rvm::Program>,
        input: regorus::Value,
    ) -> Result<regorus::Value, String> {
        let vm = self.vms.lock().ok().and_then(|mut p| p.pop());
        let mut vm = match vm {
            Some(vm) => vm,
            None => {
                let mut vm = regorus::rvm::RegoVM::new();
                vm.load_program(Arc::clone(program));
                vm.set_strict_builtin_errors(false);
                vm.set_max_instructions(MAX_INSTRUCTIONS);
                vm.set_data(self.data.clone()).map_err(|e| e.to_string())?;
                vm
            }
        };
        vm.set_input(input);
        let result = vm.execute().map_err(|e| e.to_string());
        if let Ok(mut pool) = self.vms.lock() {
            pool.push(vm);
        }
        result
    }

    /// Evaluates the template on `input` (`{"review": ..., "parameters": ...}`).
    pub fn evaluate(&self, input: regorus::Value) -> Result<Vec<RawViolation>, String> {
        let value = match &self.program {
            Some(program) => self.evaluate_vm(program, input)?,
            None => self.evaluate_interpreter(input)?,
        };
        violations(&value)
    }

    fn evaluate_interpreter(&self, input: regorus::Value) -> Result<regorus::Value, String> {
        let mut engine = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| self.base.clone());
        engine.set_input(input);
        let result = engine.eval_rule(self.query.clone());
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(engine);
        }
        result.map_err(|e| e.to_string())
    }
}

/// The violation set's items as messages and details.
fn violations(value: &regorus::Value) -> Result<Vec<RawViolation>, String> {
    {
        let set = match value {
            regorus::Value::Undefined => return Ok(Vec::new()),
            v => v
                .as_set()
                .map_err(|_| "violation is not a set".to_owned())?,
        };
        let mut out = Vec::with_capacity(set.len());
        for item in set.iter() {
            let obj = item
                .as_object()
                .map_err(|_| "a violation is not an object".to_owned())?;
            let msg = match obj.get(&regorus::Value::from("msg")) {
                Some(regorus::Value::String(s)) => s.to_string(),
                Some(other) => {
                    return Err(format!(
                        "message binding was {} but want string",
                        type_name(other)
                    ));
                }
                None => return Err("no binding for msg".to_owned()),
            };
            let details = obj
                .get(&regorus::Value::from("details"))
                .and_then(|d| serde_json::to_value(d).ok())
                .unwrap_or_else(|| serde_json::json!({}));
            out.push(RawViolation { msg, details });
        }
        Ok(out)
    }
}

fn type_name(v: &regorus::Value) -> &'static str {
    match v {
        regorus::Value::Null => "null",
        regorus::Value::Bool(_) => "boolean",
        regorus::Value::Number(_) => "number",
        regorus::Value::String(_) => "string",
        regorus::Value::Array(_) => "array",
        regorus::Value::Set(_) => "set",
        regorus::Value::Object(_) => "object",
        _ => "undefined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(name: &str, kind: &str, rego: &str) -> Value {
        json!({"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
            "metadata": {"name": name},
            "spec": {"crd": {"spec": {"names": {"kind": kind}}},
                     "targets": [{"target": TARGET, "rego": rego}]}})
    }

    #[test]
    fn refuses_rego_nested_deep_enough_to_stall_the_parser() {
        let deep = format!(
            "package t\nviolation[{{\"msg\": m}}] {{\n  x := a{}b\n  m := \"x\"\n}}\n",
            "[".repeat(40)
        );
        let err = Template::compile(&template("k8st", "K8sT", &deep)).unwrap_err();
        assert!(
            err.to_string().contains("nests brackets 13 deep at line 3"),
            "{err}"
        );
        // Brackets inside strings and comments do not count.
        let fine = format!(
            "package t\n# {}\nviolation[{{\"msg\": m}}] {{\n  m := \"{}\"\n}}\n",
            "[".repeat(40),
            "(".repeat(40)
        );
        assert!(Template::compile(&template("k8st", "K8sT", &fine)).is_ok());
    }

    #[test]
    fn compiles_and_evaluates_v0_rego() {
        let t = Template::compile(&template(
            "k8sdemo",
            "K8sDemo",
            "package k8sdemo\nviolation[{\"msg\": msg, \"details\": {\"n\": n}}] {\n  n := input.review.object.metadata.name\n  n == input.parameters.forbidden\n  msg := sprintf(\"name %v is forbidden\", [n])\n}\n",
        ))
        .unwrap();
        assert_eq!(t.package, "k8sdemo");
        let input = |name: &str| {
            regorus::Value::from(
                json!({"review": {"object": {"metadata": {"name": name}}}, "parameters": {"forbidden": "bad"}}),
            )
        };
        let v = t.evaluate(input("bad")).unwrap();
        assert_eq!(
            v,
            [RawViolation {
                msg: "name bad is forbidden".into(),
                details: json!({"n": "bad"})
            }]
        );
        assert!(t.evaluate(input("good")).unwrap().is_empty());
    }

    #[test]
    fn refuses_what_gatekeeper_refuses() {
        let cases = [
            (
                template(
                    "wrong",
                    "K8sDemo",
                    "package x\nviolation[{\"msg\": \"m\"}] { true }",
                ),
                "is not equal to the lowercase",
            ),
            (
                template(
                    "k8sdemo",
                    "K8sDemo",
                    "package x\ndeny[{\"msg\": \"m\"}] { true }",
                ),
                "missing required rules: [violation]",
            ),
            (
                template(
                    "k8sdemo",
                    "K8sDemo",
                    "package x\nviolation[{\"msg\": \"m\"}] { data.other.x }",
                ),
                "disallowed ref data.other",
            ),
            (
                template(
                    "k8sdemo",
                    "K8sDemo",
                    "package x\nviolation[{\"msg\": \"m\"} { true",
                ),
                "Could not ingest Rego",
            ),
        ];
        for (doc, needle) in cases {
            let err = Template::compile(&doc).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let mut two = template(
            "k8sdemo",
            "K8sDemo",
            "package x\nviolation[{\"msg\": \"m\"}] { true }",
        );
        two["spec"]["targets"][0]["target"] = json!("other");
        assert!(
            Template::compile(&two)
                .unwrap_err()
                .to_string()
                .contains("not recognized")
        );
    }

    #[test]
    fn message_must_be_a_string() {
        let t = Template::compile(&template(
            "k8sdemo",
            "K8sDemo",
            "package x\nviolation[{\"msg\": 3}] { true }",
        ))
        .unwrap();
        let err = t.evaluate(regorus::Value::new_object()).unwrap_err();
        assert!(err.contains("want string"), "{err}");
    }
}
