//! A namespace's policy (enforce, audit and warn modes) from its
//! `pod-security.kubernetes.io/*` labels, with upstream's fallbacks for missing and
//! invalid values.

use std::collections::BTreeMap;
use std::fmt;

use super::level::{Level, LevelVersion, Version};
use super::quote::go_quote;

/// The prefix of the namespace labels (and, in kube-apiserver, of the audit annotations).
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
/// The enforce level label.
pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// The enforce version label.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
/// The audit level label.
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
/// The audit version label.
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
/// The warn level label.
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
/// The warn version label.
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

/// The level and version of each of the three modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    /// Violations deny the pod.
    pub enforce: LevelVersion,
    /// Violations are recorded in the audit log.
    pub audit: LevelVersion,
    /// Violations are returned to the user as warnings.
    pub warn: LevelVersion,
}

impl Policy {
    /// All three modes are privileged.
    pub fn fully_privileged(&self) -> bool {
        [self.enforce, self.audit, self.warn]
            .iter()
            .all(|lv| lv.level == Level::Privileged)
    }

    /// Every mode is [equivalent](LevelVersion::equivalent).
    pub fn equivalent(&self, other: &Policy) -> bool {
        self.enforce.equivalent(&other.enforce)
            && self.audit.equivalent(&other.audit)
            && self.warn.equivalent(&other.warn)
    }
}

/// An invalid namespace label, rendered as upstream's field error, e.g.
/// `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata.labels[{label}]: {}", self.body())]
pub struct FieldError {
    label: &'static str,
    value: String,
    message: String,
}

impl FieldError {
    fn invalid(label: &'static str, value: &str, message: impl fmt::Display) -> FieldError {
        FieldError {
            label,
            value: value.to_owned(),
            message: message.to_string(),
        }
    }

    /// The label key, e.g. `pod-security.kubernetes.io/enforce`.
    pub fn label(&self) -> &str {
        self.label
    }

    /// The field path, e.g. `metadata.labels[pod-security.kubernetes.io/enforce]`.
    pub fn field(&self) -> String {
        format!("metadata.labels[{}]", self.label)
    }

    /// The invalid value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What is wrong, e.g. `must be "latest" or "v1.x"`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error without its field, e.g. `Invalid value: "bogus": must be one of …`.
    pub fn body(&self) -> String {
        format!("Invalid value: {}: {}", go_quote(&self.value), self.message)
    }
}

/// Upstream's aggregate of field errors: duplicates removed; one error as is, several
/// as `[e1, e2]`. Empty for no errors.
pub fn aggregate_errors(errors: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::with_capacity(errors.len());
    for e in errors {
        let text = e.to_string();
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen.swap_remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// The policy a namespace's labels select, starting from `defaults`, and the errors of
/// its invalid labels (in label order: enforce, enforce-version, audit, audit-version,
/// warn, warn-version).
///
/// Always usable: an invalid enforce level means `restricted` (fail closed), invalid
/// audit and warn levels mean `privileged` (fail open), an invalid version means
/// `latest`. Without its own warn label, warn follows a stricter valid enforce level
/// (and its version, unless warn-version is set).
pub fn policy_to_evaluate(
    labels: &BTreeMap<String, String>,
    defaults: &Policy,
) -> (Policy, Vec<FieldError>) {
    let mut policy = *defaults;
    let mut errors = Vec::new();
    if labels.is_empty() {
        return (policy, errors);
    }
    let enforce_level = apply_level(
        labels,
        ENFORCE_LEVEL_LABEL,
        Level::Restricted,
        &mut policy.enforce.level,
        &mut errors,
    );
    apply_version(
        labels,
        ENFORCE_VERSION_LABEL,
        &mut policy.enforce.version,
        &mut errors,
    );
    apply_level(
        labels,
        AUDIT_LEVEL_LABEL,
        Level::Privileged,
        &mut policy.audit.level,
        &mut errors,
    );
    apply_version(
        labels,
        AUDIT_VERSION_LABEL,
        &mut policy.audit.version,
        &mut errors,
    );
    let warn_level = apply_level(
        labels,
        WARN_LEVEL_LABEL,
        Level::Privileged,
        &mut policy.warn.level,
        &mut errors,
    );
    let has_warn_version = apply_version(
        labels,
        WARN_VERSION_LABEL,
        &mut policy.warn.version,
        &mut errors,
    );
    // An invalid enforce level does not lift warn; a present warn label (even an
    // invalid one) keeps warn as it is.
    if warn_level.is_none()
        && enforce_level == Some(true)
        && policy.enforce.level > policy.warn.level
    {
        policy.warn.level = policy.enforce.level;
        if !has_warn_version {
            policy.warn.version = policy.enforce.version;
        }
    }
    (policy, errors)
}

/// Sets `target` from `label` if present (to `invalid` if the value is not a level).
/// `None` if absent, else whether the value was valid.
fn apply_level(
    labels: &BTreeMap<String, String>,
    label: &'static str,
    invalid: Level,
    target: &mut Level,
    errors: &mut Vec<FieldError>,
) -> Option<bool> {
    let value = labels.get(label)?;
    match value.parse() {
        Ok(level) => {
            *target = level;
            Some(true)
        }
        Err(e) => {
            *target = invalid;
            errors.push(FieldError::invalid(label, value, e));
            Some(false)
        }
    }
}

/// Sets `target` from `label` if present (to `latest` if the value is not a version).
/// True if the label is present.
fn apply_version(
    labels: &BTreeMap<String, String>,
    label: &'static str,
    target: &mut Version,
    errors: &mut Vec<FieldError>,
) -> bool {
    let Some(value) = labels.get(label) else {
        return false;
    };
    match value.parse() {
        Ok(version) => *target = version,
        Err(e) => {
            *target = Version::Latest;
            errors.push(FieldError::invalid(label, value, e));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{LABEL_PREFIX}{k}"), (*v).to_owned()))
            .collect()
    }

    fn show(pairs: &[(&str, &str)]) -> String {
        let (p, errs) = policy_to_evaluate(&labels(pairs), &Policy::default());
        format!(
            "enforce={} audit={} warn={} errs={}",
            p.enforce,
            p.audit,
            p.warn,
            aggregate_errors(&errs)
        )
    }

    #[test]
    fn labels_and_fallbacks_like_upstream() {
        // Right-hand sides printed by upstream's api.PolicyToEvaluate.
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[],
                "enforce=privileged:latest audit=privileged:latest warn=privileged:latest errs=",
            ),
            (
                &[("enforce", "restricted")],
                "enforce=restricted:latest audit=privileged:latest warn=restricted:latest errs=",
            ),
            (
                &[("enforce", "baseline"), ("warn", "privileged")],
                "enforce=baseline:latest audit=privileged:latest warn=privileged:latest errs=",
            ),
            (
                &[
                    ("enforce", "restricted"),
                    ("enforce-version", "v1.22"),
                    ("warn-version", "v1.30"),
                ],
                "enforce=restricted:v1.22 audit=privileged:latest warn=restricted:v1.30 errs=",
            ),
            (
                &[("enforce", "bogus")],
                "enforce=restricted:latest audit=privileged:latest warn=privileged:latest errs=metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"bogus\": must be one of privileged, baseline, restricted",
            ),
            (
                &[
                    ("audit", "bogus"),
                    ("warn", "bogus"),
                    ("warn-version", "bogus"),
                ],
                "enforce=privileged:latest audit=privileged:latest warn=privileged:latest errs=[metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: \"bogus\": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: \"bogus\": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"bogus\": must be \"latest\" or \"v1.x\"]",
            ),
            (
                &[("enforce-version", "v1.0")],
                "enforce=privileged:v1.0 audit=privileged:latest warn=privileged:latest errs=",
            ),
            (
                &[
                    ("enforce", "baseline"),
                    ("enforce-version", "v1.22"),
                    ("warn", "baseline"),
                ],
                "enforce=baseline:v1.22 audit=privileged:latest warn=baseline:latest errs=",
            ),
            (
                &[
                    ("enforce", "baseline"),
                    ("enforce-version", "v1.22"),
                    ("audit", "restricted"),
                    ("audit-version", "v1.05"),
                ],
                "enforce=baseline:v1.22 audit=restricted:latest warn=baseline:v1.22 errs=metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: \"v1.05\": must be \"latest\" or \"v1.x\"",
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(show(pairs), *want, "{pairs:?}");
        }
    }

    #[test]
    fn unrelated_labels_keep_defaults() {
        let defaults = Policy {
            enforce: "baseline:v1.30".parse().expect("lv"),
            audit: "restricted".parse().expect("lv"),
            warn: "restricted:v1.31".parse().expect("lv"),
        };
        let mut l = BTreeMap::new();
        l.insert("team".to_owned(), "a".to_owned());
        assert_eq!(policy_to_evaluate(&l, &defaults), (defaults, vec![]));
        // A stricter enforce label lifts warn only if warn is less strict.
        l.insert(ENFORCE_LEVEL_LABEL.to_owned(), "restricted".to_owned());
        let (p, errs) = policy_to_evaluate(&l, &defaults);
        assert!(errs.is_empty());
        assert_eq!(p.enforce.to_string(), "restricted:v1.30");
        assert_eq!(p.warn.to_string(), "restricted:v1.31");
    }

    #[test]
    fn field_errors_quote_like_go() {
        let (_, errs) = policy_to_evaluate(
            &labels(&[("enforce-version", "v1.\"x\"\n")]),
            &Policy::default(),
        );
        assert_eq!(
            errs[0].to_string(),
            r#"metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "v1.\"x\"\n": must be "latest" or "v1.x""#
        );
        assert_eq!(
            errs[0].field(),
            "metadata.labels[pod-security.kubernetes.io/enforce-version]"
        );
        assert_eq!(errs[0].label(), ENFORCE_VERSION_LABEL);
        assert_eq!(errs[0].value(), "v1.\"x\"\n");
        assert_eq!(
            aggregate_errors(&[errs[0].clone(), errs[0].clone()]),
            errs[0].to_string()
        );
    }
}
