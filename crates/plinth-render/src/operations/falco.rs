//! Falco: the platform's runtime-security rules file.

use super::*;

// ---------------------------------------------------------------------------------------
// Falco
// ---------------------------------------------------------------------------------------

/// Settings of the plinth Falco rules (section 4.1 of the seed). Lists are Falco list items:
/// no whitespace, commas, parentheses or quotes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FalcoSettings {
    /// Namespace of the ConfigMap (Falco's own; not rendered here).
    pub namespace: String,
    /// Name of the ConfigMap.
    pub config_map_name: String,
    /// Key of the rules file in the ConfigMap (mounted into Falco's `rules_files`).
    pub file_name: String,
    /// Process names counted as shells.
    pub shell_binaries: Vec<String>,
    /// Image repositories allowed to run interactive shells (e.g. debug images).
    pub shell_allowed_images: Vec<String>,
    /// Process names allowed to write below `/etc` in containers.
    pub etc_writers: Vec<String>,
    /// Image repositories of database containers.
    pub database_images: Vec<String>,
    /// Namespaces whose containers are all database containers.
    pub database_namespaces: Vec<String>,
    /// Public networks (CIDRs) database containers may connect to (private ranges are
    /// already excluded by Falco's `outbound` macro).
    pub database_allowed_networks: Vec<String>,
    /// Image repositories allowed to run privileged (e.g. CNI and Falco itself).
    pub privileged_allowed_images: Vec<String>,
    /// Files whose reads are reported.
    pub sensitive_files: Vec<String>,
    /// Process names allowed to read them.
    pub sensitive_file_readers: Vec<String>,
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for FalcoSettings {
    fn default() -> Self {
        Self {
            namespace: "falco".into(),
            config_map_name: "falco-rules".into(),
            file_name: "plinth_rules.yaml".into(),
            shell_binaries: strings(&["ash", "bash", "csh", "dash", "ksh", "sh", "tcsh", "zsh"]),
            shell_allowed_images: Vec::new(),
            etc_writers: Vec::new(),
            database_images: strings(&[
                "docker.io/library/mariadb",
                "docker.io/library/mongo",
                "docker.io/library/mysql",
                "docker.io/library/postgres",
                "docker.io/library/redis",
                "mariadb",
                "mongo",
                "mysql",
                "postgres",
                "redis",
            ]),
            database_namespaces: Vec::new(),
            database_allowed_networks: Vec::new(),
            privileged_allowed_images: strings(&[
                "docker.io/falcosecurity/falco",
                "docker.io/falcosecurity/falco-no-driver",
            ]),
            sensitive_files: strings(&[
                "/etc/gshadow",
                "/etc/pam.conf",
                "/etc/shadow",
                "/etc/sudoers",
                "/root/.ssh/authorized_keys",
                "/root/.ssh/id_ed25519",
                "/root/.ssh/id_rsa",
            ]),
            sensitive_file_readers: Vec::new(),
        }
    }
}

/// A Falco condition that is never true (Falco's `never_true` macro, spelt out).
pub(super) const NEVER: &str = "(evt.num = 0)";

pub(super) fn falco_items(field: &str, items: &[String]) -> Result<(), OperationsError> {
    for (i, item) in items.iter().enumerate() {
        if item.is_empty()
            || item
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || ",()\"'".contains(c))
        {
            return Err(invalid(
                format!("{field}[{i}]"),
                format!(
                    "{item:?} is not a Falco list item (no whitespace, commas, parentheses or quotes)"
                ),
            ));
        }
    }
    Ok(())
}

pub(super) struct RulesFile {
    entries: Vec<Value>,
}

impl RulesFile {
    fn list(&mut self, name: &str, items: &[String]) {
        self.entries.push(json!({"list": name, "items": items}));
    }

    fn macro_(&mut self, name: &str, condition: String) {
        self.entries
            .push(json!({"macro": name, "condition": condition}));
    }

    /// `field in (list)` with the list defined, or never-true when it is empty (Falco
    /// rejects `in ()` in some versions).
    fn membership(&mut self, list: &str, field: &str, items: &[String]) -> String {
        if items.is_empty() {
            NEVER.to_owned()
        } else {
            self.list(list, items);
            format!("{field} in ({list})")
        }
    }

    fn rule(
        &mut self,
        name: &str,
        desc: &str,
        condition: &str,
        output: &str,
        priority: &str,
        tags: &[&str],
    ) {
        self.entries.push(json!({
            "rule": name,
            "desc": desc,
            "condition": condition,
            "output": output,
            "priority": priority,
            "tags": tags,
        }));
    }
}

impl FalcoSettings {
    /// Checks the settings; the first problem is returned.
    pub fn validate(&self) -> Result<(), OperationsError> {
        dns_label("namespace", &self.namespace)?;
        dns_label("configMapName", &self.config_map_name)?;
        let key_ok = !self.file_name.is_empty()
            && self.file_name.len() <= 253
            && self
                .file_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && (self.file_name.ends_with(".yaml") || self.file_name.ends_with(".yml"));
        if !key_ok {
            return Err(invalid(
                "fileName",
                format!(
                    "{:?} is not a ConfigMap key ending in .yaml",
                    self.file_name
                ),
            ));
        }
        if self.shell_binaries.is_empty() {
            return Err(invalid("shellBinaries", "at least one shell is required"));
        }
        if self.sensitive_files.is_empty() {
            return Err(invalid("sensitiveFiles", "at least one file is required"));
        }
        if self.database_images.is_empty() && self.database_namespaces.is_empty() {
            return Err(invalid(
                "databaseImages",
                "databaseImages or databaseNamespaces must name the database containers",
            ));
        }
        for (field, items) in [
            ("shellBinaries", &self.shell_binaries),
            ("shellAllowedImages", &self.shell_allowed_images),
            ("etcWriters", &self.etc_writers),
            ("databaseImages", &self.database_images),
            ("databaseNamespaces", &self.database_namespaces),
            ("databaseAllowedNetworks", &self.database_allowed_networks),
            ("privilegedAllowedImages", &self.privileged_allowed_images),
            ("sensitiveFiles", &self.sensitive_files),
            ("sensitiveFileReaders", &self.sensitive_file_readers),
        ] {
            falco_items(field, items)?;
        }
        for (i, ns) in self.database_namespaces.iter().enumerate() {
            dns_label(format!("databaseNamespaces[{i}]"), ns)?;
        }
        for (i, cidr) in self.database_allowed_networks.iter().enumerate() {
            if !is_cidr(cidr) {
                return Err(invalid(
                    format!("databaseAllowedNetworks[{i}]"),
                    format!("{cidr:?} is not a CIDR such as 203.0.113.0/24"),
                ));
            }
        }
        for (i, f) in self.sensitive_files.iter().enumerate() {
            if !f.starts_with('/') {
                return Err(invalid(
                    format!("sensitiveFiles[{i}]"),
                    format!("{f:?} is not an absolute path"),
                ));
            }
        }
        Ok(())
    }

    /// The rules file's entries (lists, then macros, then rules), as Falco reads them.
    pub fn rules_entries(&self) -> Result<Vec<Value>, OperationsError> {
        self.validate()?;
        let mut f = RulesFile {
            entries: Vec::new(),
        };

        let shells = f.membership("plinth_shell_binaries", "proc.name", &self.shell_binaries);
        f.macro_("plinth_shell_procs", shells);
        let allowed_shell = f.membership(
            "plinth_shell_allowed_images",
            "container.image.repository",
            &self.shell_allowed_images,
        );
        f.macro_("plinth_shell_allowed_containers", allowed_shell);
        let etc_writers = f.membership("plinth_etc_writers", "proc.name", &self.etc_writers);
        f.macro_("plinth_allowed_etc_writers", etc_writers);
        let db_images = f.membership(
            "plinth_database_images",
            "container.image.repository",
            &self.database_images,
        );
        let db_namespaces = f.membership(
            "plinth_database_namespaces",
            "k8s.ns.name",
            &self.database_namespaces,
        );
        f.macro_(
            "plinth_database_containers",
            format!("container and ({db_images} or {db_namespaces})"),
        );
        let db_nets = f.membership(
            "plinth_database_allowed_networks",
            "fd.snet",
            &self.database_allowed_networks,
        );
        f.macro_("plinth_database_allowed_destinations", db_nets);
        let privileged_ok = f.membership(
            "plinth_privileged_allowed_images",
            "container.image.repository",
            &self.privileged_allowed_images,
        );
        f.macro_("plinth_privileged_allowed_containers", privileged_ok);
        let sensitive = f.membership("plinth_sensitive_files", "fd.name", &self.sensitive_files);
        f.macro_("plinth_sensitive_file_paths", sensitive);
        let readers = f.membership(
            "plinth_sensitive_file_readers",
            "proc.name",
            &self.sensitive_file_readers,
        );
        f.macro_("plinth_allowed_sensitive_readers", readers);
        // A container's first process: works with or without the container engine's
        // `container` event.
        f.macro_(
            "plinth_container_started",
            "spawned_process and container and proc.vpid = 1".to_owned(),
        );

        let who = "k8s_ns=%k8s.ns.name k8s_pod=%k8s.pod.name container_id=%container.id \
                   image=%container.image.repository:%container.image.tag";
        f.rule(
            "Plinth Shell Spawned in Container",
            "An interactive shell was started in a container (kubectl exec or attach).",
            "spawned_process and container and plinth_shell_procs and proc.tty != 0 \
             and not plinth_shell_allowed_containers",
            &format!(
                "Shell spawned in a container (user=%user.name shell=%proc.name \
                 parent=%proc.pname cmdline=%proc.cmdline {who})"
            ),
            "WARNING",
            &["container", "shell", "mitre_execution", "T1059"],
        );
        f.rule(
            "Plinth Write below etc in Container",
            "A file below /etc was opened for writing in a container; configuration in an \
             immutable container should never change at run time.",
            "open_write and container and fd.name startswith /etc/ \
             and not plinth_allowed_etc_writers",
            &format!(
                "File below /etc opened for writing (user=%user.name command=%proc.cmdline \
                 file=%fd.name parent=%proc.pname {who})"
            ),
            "ERROR",
            &["container", "filesystem", "mitre_persistence", "T1543"],
        );
        f.rule(
            "Plinth Unexpected Outbound Connection from Database",
            "A database container connected to a public address it is not allowed to reach.",
            "outbound and plinth_database_containers \
             and not plinth_database_allowed_destinations",
            &format!(
                "Unexpected outbound connection from a database container \
                 (command=%proc.cmdline connection=%fd.name {who})"
            ),
            "CRITICAL",
            &[
                "container",
                "network",
                "database",
                "mitre_exfiltration",
                "T1041",
            ],
        );
        f.rule(
            "Plinth Privileged Container Started",
            "A privileged container started from an image not allowed to run privileged.",
            "plinth_container_started and container.privileged = true \
             and not plinth_privileged_allowed_containers",
            &format!("Privileged container started (user=%user.name command=%proc.cmdline {who})"),
            "WARNING",
            &[
                "container",
                "privilege_escalation",
                "mitre_privilege_escalation",
                "T1610",
            ],
        );
        f.rule(
            "Plinth Read Sensitive File in Container",
            "A sensitive file (credential stores, the shadow file, sudo configuration) was opened \
             for reading in a container.",
            "open_read and container and plinth_sensitive_file_paths \
             and not plinth_allowed_sensitive_readers",
            &format!(
                "Sensitive file opened for reading (user=%user.name command=%proc.cmdline \
                 file=%fd.name parent=%proc.pname {who})"
            ),
            "WARNING",
            &[
                "container",
                "filesystem",
                "mitre_credential_access",
                "T1555",
            ],
        );
        Ok(f.entries)
    }

    /// The rules file's text (YAML).
    pub fn rules_yaml(&self) -> Result<String, OperationsError> {
        let entries = self.rules_entries()?;
        yaml_text("Falco rules", &entries)
    }
}

pub(super) fn is_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    len <= if ip.is_ipv4() { 32 } else { 128 }
}

/// The ConfigMap holding the plinth Falco rules file. The namespace itself belongs to the
/// namespaces folder and is not rendered here; Falco loads the file when it is mounted into
/// its `rules_files` (e.g. `/etc/falco/rules.d`).
pub fn falco(settings: &FalcoSettings) -> Result<Vec<Value>, OperationsError> {
    let text = settings.rules_yaml()?;
    let mut data = serde_json::Map::new();
    data.insert(settings.file_name.clone(), Value::String(text));
    Ok(vec![json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": settings.config_map_name,
            "namespace": settings.namespace,
            "labels": {"app.kubernetes.io/name": "falco", "app.kubernetes.io/component": "rules"},
        },
        "data": data,
    })])
}
