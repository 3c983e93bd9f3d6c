//! The Alertmanager configuration: routes by severity and namespace, inhibitions,
//! receivers whose secrets are files.

use super::*;

/// Receiver names of the Alertmanager configuration.
pub mod receivers {
    /// Warnings and everything not matched otherwise: the webhook only.
    pub const DEFAULT: &str = "platform-webhook";
    /// Critical alerts of platform namespaces or without a namespace: platform on-call mail
    /// plus the webhook.
    pub const PLATFORM_CRITICAL: &str = "platform-critical";
    /// Critical alerts of any other namespace: workload on-call mail plus the webhook.
    pub const WORKLOAD_CRITICAL: &str = "workload-critical";
    /// `info` alerts: kept in Alertmanager's UI, never notified.
    pub const NULL: &str = "null";
}

/// The Alertmanager configuration (`alertmanager.yaml`) as a JSON value.
///
/// Routing: `info` goes nowhere; `critical` pages platform on-call for the platform's
/// namespaces and for alerts without a namespace (nodes, API server), workload on-call for
/// every other namespace, both by mail and webhook; everything else goes to the webhook.
/// A critical alert inhibits the warning with the same `alertname` and `namespace`, and a
/// warning the info. Secrets are referenced by file (`smtp_auth_password_file`,
/// `credentials_file`), never included.
pub fn alertmanager_config(settings: &MonitoringSettings) -> Result<Value, MonitoringError> {
    settings.validate()?;
    let a = &settings.alertmanager;
    let mut http_config = Map::new();
    if let Some(file) = &a.webhook_credentials_file {
        http_config.insert(
            "authorization".into(),
            json!({"type": "Bearer", "credentials_file": file}),
        );
    }
    let mut webhook = Map::new();
    webhook.insert("url".into(), a.webhook_url.clone().into());
    webhook.insert("send_resolved".into(), true.into());
    if !http_config.is_empty() {
        webhook.insert("http_config".into(), Value::Object(http_config));
    }
    let webhook = Value::Object(webhook);
    let email = |to: &str| json!({"to": to, "send_resolved": true});
    // The empty alternative matches alerts without a namespace label.
    let platform_ns = format!("namespace=~\"|{}\"", a.platform_namespaces.join("|"));
    Ok(json!({
        "global": {
            "resolve_timeout": "5m",
            "smtp_smarthost": a.smtp_smarthost,
            "smtp_from": a.smtp_from,
            "smtp_auth_username": a.smtp_auth_username,
            "smtp_auth_password_file": a.smtp_auth_password_file,
            "smtp_require_tls": true,
        },
        "route": {
            "receiver": receivers::DEFAULT,
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [
                {
                    "matchers": ["severity=\"info\""],
                    "receiver": receivers::NULL,
                },
                {
                    "matchers": ["severity=\"critical\""],
                    "receiver": receivers::WORKLOAD_CRITICAL,
                    "group_wait": "10s",
                    "group_interval": "1m",
                    "repeat_interval": "1h",
                    "routes": [
                        {
                            "matchers": [platform_ns],
                            "receiver": receivers::PLATFORM_CRITICAL,
                        },
                    ],
                },
                {
                    "matchers": ["severity=\"warning\""],
                    "receiver": receivers::DEFAULT,
                    "group_interval": "10m",
                    "repeat_interval": "24h",
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ["severity=\"critical\""],
                "target_matchers": ["severity=\"warning\""],
                "equal": ["alertname", "namespace"],
            },
            {
                "source_matchers": ["severity=\"warning\""],
                "target_matchers": ["severity=\"info\""],
                "equal": ["alertname", "namespace"],
            },
        ],
        "receivers": [
            {"name": receivers::NULL},
            {"name": receivers::DEFAULT, "webhook_configs": [webhook]},
            {
                "name": receivers::PLATFORM_CRITICAL,
                "email_configs": [email(&a.platform_email_to)],
                "webhook_configs": [webhook],
            },
            {
                "name": receivers::WORKLOAD_CRITICAL,
                "email_configs": [email(&a.workload_email_to)],
                "webhook_configs": [webhook],
            },
        ],
    }))
}

/// [`alertmanager_config`] as YAML text, the content of `alertmanager.yaml`.
pub fn alertmanager_yaml(settings: &MonitoringSettings) -> Result<String, MonitoringError> {
    to_yaml(
        "the Alertmanager configuration",
        &alertmanager_config(settings)?,
    )
}
