//! The CLI's output layer: the only place that writes to stdout or stderr directly.
//!
//! Results go to stdout; progress, notices and errors to stderr. Progress is a spinner on
//! a terminal and one plain line per step otherwise, so pipes and CI logs stay readable.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Sets up `tracing` on stderr; the level comes from `PLINTH_LOG` (default `warn`).
pub fn init_logging(format: LogFormat) {
    // kube's client logs every failed connection at ERROR; plinth reports those failures
    // itself (once, with context), so that logger is silent unless asked for.
    let filter = EnvFilter::try_from_env("PLINTH_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,kube_client::client::builder=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Prints an error and its causes on one line.
pub fn error(err: &anyhow::Error) {
    let _ = writeln!(std::io::stderr(), "error: {err:#}");
}

/// Prints a line of results.
pub fn line(text: impl AsRef<str>) {
    let _ = writeln!(std::io::stdout(), "{}", text.as_ref());
}

/// Prints a notice (not a result) to stderr.
pub fn notice(text: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "{}", text.as_ref());
}

/// Prints a JSON value, pretty, to stdout.
pub fn json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    line(text);
}

/// Progress of one long step.
pub struct Step {
    bar: Option<ProgressBar>,
}

impl Step {
    /// Starts a step: a spinner on a terminal, a plain line otherwise.
    pub fn start(message: impl Into<String>) -> Step {
        let message = message.into();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                bar.set_style(style);
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(120));
            Step { bar: Some(bar) }
        } else {
            notice(format!("{message} ..."));
            Step { bar: None }
        }
    }

    /// Ends the step with a final message.
    pub fn finish(self, message: impl Into<String>) {
        let message = message.into();
        match self.bar {
            Some(bar) => bar.finish_with_message(message),
            None => notice(message),
        }
    }

    /// Ends the step silently (an error will be reported instead).
    pub fn abandon(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
