//! trivy-operator: the ConfigMaps it reads.

use super::*;

// ---------------------------------------------------------------------------------------
// trivy-operator
// ---------------------------------------------------------------------------------------

/// A vulnerability severity as Trivy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Not rated.
    Unknown,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Trivy's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// How scan jobs reach the vulnerability database (`trivy.mode`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TrivyMode {
    /// Every scan job downloads the database itself.
    #[default]
    Standalone,
    /// Scan jobs ask a Trivy server.
    ClientServer {
        /// The server's URL (`trivy.serverURL`), e.g. `http://trivy.trivy-system:4954`.
        server_url: String,
    },
}

/// Settings of the trivy-operator, as the two ConfigMaps it reads in its namespace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TrivySettings {
    /// The operator's namespace (where it reads its ConfigMaps).
    pub namespace: String,
    /// Repository of the Trivy image used by scan jobs (`trivy.repository`).
    pub image_repository: String,
    /// Tag of that image (`trivy.tag`, never `latest`).
    pub image_tag: String,
    /// Severities reported (`trivy.severity`). The seed reports all five.
    pub severity: Vec<Severity>,
    /// Report only vulnerabilities with a fix (`trivy.ignoreUnfixed`).
    pub ignore_unfixed: bool,
    /// OCI repository of the vulnerability database (`trivy.dbRepository`).
    pub db_repository: String,
    /// OCI repository of the Java index database (`trivy.javaDbRepository`).
    pub java_db_repository: String,
    /// Standalone or client/server.
    pub mode: TrivyMode,
    /// Scan timeout (`trivy.timeout`).
    pub timeout: String,
    /// Scan jobs' resources (`trivy.resources.*`).
    pub resources: Resources,
    /// Failed entries kept per control in compliance reports (`compliance.failEntriesLimit`).
    pub compliance_fail_entries_limit: u32,
    /// Run scan jobs in the scanned workload's namespace
    /// (`vulnerabilityReports.scanJobsInSameNamespace`).
    pub scan_jobs_in_same_namespace: bool,
}

impl Default for TrivySettings {
    fn default() -> Self {
        Self {
            namespace: "trivy-system".into(),
            image_repository: "mirror.gcr.io/aquasec/trivy".into(),
            image_tag: "0.57.1".into(),
            severity: vec![
                Severity::Unknown,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical,
            ],
            ignore_unfixed: false,
            db_repository: "mirror.gcr.io/aquasec/trivy-db".into(),
            java_db_repository: "mirror.gcr.io/aquasec/trivy-java-db".into(),
            mode: TrivyMode::Standalone,
            timeout: "5m0s".into(),
            resources: Resources {
                cpu_request: "100m".into(),
                memory_request: "100M".into(),
                cpu_limit: Some("500m".into()),
                memory_limit: "500M".into(),
            },
            compliance_fail_entries_limit: 10,
            scan_jobs_in_same_namespace: false,
        }
    }
}

pub(super) fn oci_repository(field: &str, repo: &str) -> Result<(), OperationsError> {
    let ok = !repo.is_empty()
        && !repo.contains("://")
        && !repo.contains('@')
        && repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "./-_:".contains(c))
        && !repo.starts_with('/')
        && !repo.ends_with('/');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{repo:?} is not an OCI repository such as mirror.gcr.io/aquasec/trivy"),
        ))
    }
}

impl TrivySettings {
    /// Checks the settings; the first problem is returned.
    pub fn validate(&self) -> Result<(), OperationsError> {
        dns_label("namespace", &self.namespace)?;
        oci_repository("imageRepository", &self.image_repository)?;
        if self
            .image_repository
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
        {
            return Err(invalid(
                "imageRepository",
                "give the tag in imageTag, not in the repository",
            ));
        }
        image_tag("imageTag", &self.image_tag)?;
        oci_repository("dbRepository", &self.db_repository)?;
        oci_repository("javaDbRepository", &self.java_db_repository)?;
        if self.severity.is_empty() {
            return Err(invalid("severity", "at least one severity is required"));
        }
        duration("timeout", &self.timeout)?;
        if let TrivyMode::ClientServer { server_url } = &self.mode {
            let ok = (server_url.starts_with("http://") || server_url.starts_with("https://"))
                && !server_url.chars().any(|c| c.is_whitespace() || c == '@');
            if !ok {
                return Err(invalid(
                    "mode.clientServer.serverUrl",
                    format!("{server_url:?} is not an http(s) URL without credentials"),
                ));
            }
        }
        if self.compliance_fail_entries_limit == 0 {
            return Err(invalid("complianceFailEntriesLimit", "must be at least 1"));
        }
        Ok(())
    }
}

/// The trivy-operator's configuration: the `trivy-operator` ConfigMap (operator and scan-job
/// settings) and `trivy-operator-trivy-config` (the Trivy plugin's settings), with the keys
/// the operator's Helm chart writes. The operator's CRDs and Deployment are not rendered
/// here, and no CRD schema is available to this crate (the Go module proxy does not serve
/// trivy-operator): these objects are validated as ConfigMaps only, and the keys against
/// the chart's templates. The seed's `VulnerabilityReport` "policy" is not rendered: that
/// kind is the operator's output, not configuration.
pub fn trivy(settings: &TrivySettings) -> Result<Vec<Value>, OperationsError> {
    settings.validate()?;
    let ns = &settings.namespace;
    let labels = json!({"app.kubernetes.io/name": "trivy-operator"});

    // Scan jobs run non-root with nothing but their own files (the chart's defaults).
    let container_sc = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "privileged": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "runAsUser": 65534,
        "runAsGroup": 65534,
    });
    let pod_sc = json!({
        "runAsNonRoot": true,
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    let operator = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "trivy-operator", "namespace": ns, "labels": labels},
        "data": {
            "vulnerabilityReports.scanner": "Trivy",
            "vulnerabilityReports.scanJobsInSameNamespace":
                settings.scan_jobs_in_same_namespace.to_string(),
            "configAuditReports.scanner": "Trivy",
            "compliance.failEntriesLimit": settings.compliance_fail_entries_limit.to_string(),
            "scanJob.podTemplateContainerSecurityContext":
                json_text("scan job container securityContext", &container_sc)?,
            "scanJob.podTemplatePodSecurityContext":
                json_text("scan job pod securityContext", &pod_sc)?,
            "scanJob.compressLogs": "true",
        },
    });

    let severity = {
        let mut s = settings.severity.clone();
        s.sort();
        s.dedup();
        s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    };
    let mut data = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        data.insert(k.to_owned(), Value::String(v));
    };
    put("trivy.repository", settings.image_repository.clone());
    put("trivy.tag", settings.image_tag.clone());
    put("trivy.imagePullPolicy", "IfNotPresent".into());
    put("trivy.command", "image".into());
    put("trivy.severity", severity);
    put("trivy.ignoreUnfixed", settings.ignore_unfixed.to_string());
    put("trivy.dbRepository", settings.db_repository.clone());
    put(
        "trivy.javaDbRepository",
        settings.java_db_repository.clone(),
    );
    put("trivy.timeout", settings.timeout.clone());
    match &settings.mode {
        TrivyMode::Standalone => put("trivy.mode", "Standalone".into()),
        TrivyMode::ClientServer { server_url } => {
            put("trivy.mode", "ClientServer".into());
            put("trivy.serverURL", server_url.clone());
        }
    }
    let r = &settings.resources;
    r.to_json("resources")?;
    put("trivy.resources.requests.cpu", r.cpu_request.clone());
    put("trivy.resources.requests.memory", r.memory_request.clone());
    if let Some(cpu) = &r.cpu_limit {
        put("trivy.resources.limits.cpu", cpu.clone());
    }
    put("trivy.resources.limits.memory", r.memory_limit.clone());
    let trivy_config = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "trivy-operator-trivy-config", "namespace": ns, "labels": labels},
        "data": data,
    });
    Ok(vec![operator, trivy_config])
}
