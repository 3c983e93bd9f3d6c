//! The policies plinth ships: the seed's two ConstraintTemplates (corrected) and a
//! library of templates in the gatekeeper-library family, with the constraints a
//! platform team would start from. Embedded, so an installed `plinth` carries them.

use serde_json::Value;

use crate::gatekeeper::{PolicyError, PolicySet};

/// Every shipped template, as `(file name, YAML)`, sorted by file name.
pub const TEMPLATES: &[(&str, &str)] = &[
    t(
        "allowedimageregistries.yaml",
        include_str!("../policies/templates/allowedimageregistries.yaml"),
    ),
    t(
        "k8sallowedrepos.yaml",
        include_str!("../policies/templates/k8sallowedrepos.yaml"),
    ),
    t(
        "k8sblocknodeport.yaml",
        include_str!("../policies/templates/k8sblocknodeport.yaml"),
    ),
    t(
        "k8scontainerlimits.yaml",
        include_str!("../policies/templates/k8scontainerlimits.yaml"),
    ),
    t(
        "k8sdisallowedtags.yaml",
        include_str!("../policies/templates/k8sdisallowedtags.yaml"),
    ),
    t(
        "k8spspallowprivilegeescalationcontainer.yaml",
        include_str!("../policies/templates/k8spspallowprivilegeescalationcontainer.yaml"),
    ),
    t(
        "k8spspcapabilities.yaml",
        include_str!("../policies/templates/k8spspcapabilities.yaml"),
    ),
    t(
        "k8spsphostfilesystem.yaml",
        include_str!("../policies/templates/k8spsphostfilesystem.yaml"),
    ),
    t(
        "k8spsphostnamespace.yaml",
        include_str!("../policies/templates/k8spsphostnamespace.yaml"),
    ),
    t(
        "k8spsphostnetworkingports.yaml",
        include_str!("../policies/templates/k8spsphostnetworkingports.yaml"),
    ),
    t(
        "k8spspprivilegedcontainer.yaml",
        include_str!("../policies/templates/k8spspprivilegedcontainer.yaml"),
    ),
    t(
        "k8spspreadonlyrootfilesystem.yaml",
        include_str!("../policies/templates/k8spspreadonlyrootfilesystem.yaml"),
    ),
    t(
        "k8spspvolumetypes.yaml",
        include_str!("../policies/templates/k8spspvolumetypes.yaml"),
    ),
    t(
        "k8srequiredlabels.yaml",
        include_str!("../policies/templates/k8srequiredlabels.yaml"),
    ),
    t(
        "k8suniqueingresshost.yaml",
        include_str!("../policies/templates/k8suniqueingresshost.yaml"),
    ),
    t(
        "requiredsecuritycontext.yaml",
        include_str!("../policies/templates/requiredsecuritycontext.yaml"),
    ),
];

/// The seed's two constraints, corrected.
pub const SEED_CONSTRAINTS: &str = include_str!("../policies/constraints/seed.yaml");

/// One starting constraint per library template.
pub const LIBRARY_CONSTRAINTS: &str = include_str!("../policies/constraints/library.yaml");

const fn t(name: &'static str, yaml: &'static str) -> (&'static str, &'static str) {
    (name, yaml)
}

/// Why the shipped policies could not be loaded (a build defect, reported not hidden).
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A shipped file is not valid YAML.
    #[error(transparent)]
    Yaml(#[from] plinth_core::manifest::ManifestError),
    /// A shipped policy is refused by the engine.
    #[error("{file}: {source}")]
    Policy {
        /// The shipped file.
        file: &'static str,
        /// Why.
        source: PolicyError,
    },
}

/// The documents of one shipped file.
pub fn documents(name: &'static str, yaml: &'static str) -> Result<Vec<Value>, LibraryError> {
    Ok(plinth_core::manifest::parse_str(name, yaml)?
        .into_iter()
        .map(|d| d.into_value())
        .collect())
}

/// All shipped templates, compiled, with the given constraint files added.
pub fn policy_set(
    constraint_files: &[(&'static str, &'static str)],
) -> Result<PolicySet, LibraryError> {
    let mut set = PolicySet::new();
    for (file, yaml) in TEMPLATES {
        for doc in documents(file, yaml)? {
            set.add_template(&doc)
                .map_err(|source| LibraryError::Policy { file, source })?;
        }
    }
    for (file, yaml) in constraint_files {
        for doc in documents(file, yaml)? {
            set.add_constraint(&doc)
                .map_err(|source| LibraryError::Policy { file, source })?;
        }
    }
    Ok(set)
}

/// Whether a document is a ConstraintTemplate.
pub fn is_template(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("ConstraintTemplate")
        && doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("templates.gatekeeper.sh/"))
}

/// Whether a document is a Gatekeeper constraint.
pub fn is_constraint(doc: &Value) -> bool {
    doc.get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("constraints.gatekeeper.sh/"))
}

/// Adds the templates, then the constraints, among `docs` to `set`; other documents are
/// left alone. Every refused document is reported with its file and line.
pub fn add_documents(
    set: &mut PolicySet,
    docs: &[plinth_core::manifest::Document],
) -> Result<(), Vec<plinth_core::manifest::ManifestError>> {
    let mut errors = Vec::new();
    for doc in docs.iter().filter(|d| is_template(d.value())) {
        if let Err(e) = set.add_template(doc.value()) {
            errors.push(doc.error_at(&["spec"], e.to_string()));
        }
    }
    for doc in docs.iter().filter(|d| is_constraint(d.value())) {
        if let Err(e) = set.add_constraint(doc.value()) {
            let path: &[&str] = match &e {
                PolicyError::Parameters { .. } => &["spec", "parameters"],
                _ => &["spec"],
            };
            errors.push(doc.error_at(path, e.to_string()));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The shipped templates with the seed's and the library's constraints.
pub fn defaults() -> Result<PolicySet, LibraryError> {
    policy_set(&[
        ("seed.yaml", SEED_CONSTRAINTS),
        ("library.yaml", LIBRARY_CONSTRAINTS),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_policy_loads() {
        let set = defaults().unwrap();
        assert_eq!(set.templates().count(), TEMPLATES.len());
        assert_eq!(set.constraints().count(), 16);
        let interpreted: Vec<&str> = set
            .templates()
            .filter(|t| !t.compiled_for_vm())
            .map(|t| t.kind.as_str())
            .collect();
        assert!(
            interpreted.is_empty(),
            "not compiled for the RVM: {interpreted:?}"
        );
        let mut names: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        assert_eq!(names, TEMPLATES.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    }
}
