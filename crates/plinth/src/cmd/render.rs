//! `plinth render PLATFORM --out DIR`: the platform as a GitOps tree, written atomically
//! (a failed render leaves the previous tree as it was), plus the API server's
//! encryption configuration with a fresh random key, outside the tree, mode 0600.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use plinth_render::tree::{self, Extras};

use super::Outcome;
use crate::cli::RenderArgs;
use crate::output;

/// Runs `plinth render`.
pub fn run(args: &RenderArgs) -> anyhow::Result<Outcome> {
    run_to(args, output::line)
}

/// [`run`], with the summary written by `say` (`plinth up` sends it to stderr, keeping
/// stdout for its report).
pub(super) fn run_to(args: &RenderArgs, say: fn(String)) -> anyhow::Result<Outcome> {
    check_paths(args)?;
    let docs = plinth_core::manifest::read_paths(&[&args.platform]).map_err(|e| anyhow!("{e}"))?;
    let platform = plinth_render::platform::from_documents(&docs)
        .map_err(super::manifest_errors)?
        .ok_or_else(|| {
            anyhow!(
                "{}: no Platform ({}) document found",
                args.platform.display(),
                plinth_render::platform::API_VERSION
            )
        })?;
    let mut extras = Extras::default();
    if let Some(model) = &platform.spec.zero_trust_model {
        let base = args.platform.parent().unwrap_or(Path::new("."));
        let path = base.join(model);
        let model = super::zt_model::read_model(&path)
            .with_context(|| format!("spec.zeroTrustModel {}", path.display()))?;
        extras.zero_trust = plinth_netpol::intent::compile::compile(&model)
            .files()
            .context("serializing the zero-trust objects")?;
    }
    let rendered = tree::render(&platform, &extras)?;
    write_atomically(&args.out, &rendered.files)?;
    let secrets = args
        .secrets_dir
        .clone()
        .unwrap_or_else(|| sibling(&args.out, "secrets"));
    let key_note = encryption(&platform, &secrets)?;
    let mut folders: BTreeMap<&str, usize> = BTreeMap::new();
    for f in rendered.files.keys() {
        *folders
            .entry(f.split('/').next().unwrap_or(""))
            .or_default() += 1;
    }
    say(format!(
        "rendered platform {:?}: {} files under {}",
        platform.name,
        rendered.files.len(),
        args.out.display()
    ));
    for (folder, n) in folders {
        say(format!("  {n:>4}  {folder}"));
    }
    say(key_note);
    Ok(Outcome::Ok)
}

/// `DIR` → `DIR.suffix` next to it.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "render".to_owned());
    dir.with_file_name(format!("{name}.{suffix}"))
}

/// Writes the tree next to `out`, then swaps it in: readers see the old tree or the new,
/// never a mixture, and an error leaves the old tree untouched.
fn write_atomically(out: &Path, files: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let pid = std::process::id();
    let tmp = sibling(out, &format!("tmp-{pid}"));
    let old = sibling(out, &format!("old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = (|| -> anyhow::Result<()> {
        for (name, text) in files {
            let path = tmp.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old).with_context(|| format!("moving {} aside", out.display()))?;
    }
    if let Err(e) = std::fs::rename(&tmp, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| format!("moving the new tree to {}", out.display()));
    }
    if had_old {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

/// Writes the EncryptionConfiguration with a fresh key unless one is already there (a
/// new key for an existing cluster would make its stored Secrets unreadable; rotating is
/// a deliberate operation).
fn encryption(platform: &plinth_render::platform::Platform, dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("encryption-config.yaml");
    if path.exists() {
        return Ok(format!(
            "encryption configuration kept: {} (its key is not replaced)",
            path.display()
        ));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
    let text = serde_saphyr::to_string(&tree::encryption_config(platform, &key))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    if platform.spec.encryption.kms.is_some() {
        return Ok(format!(
            "encryption configuration (KMS v2) written: {}",
            path.display()
        ));
    }
    Ok(format!(
        "encryption configuration with a new random key written: {} (mode 0600; keep it out of Git)",
        path.display()
    ))
}

/// Refuses a secrets directory that is the output directory or inside it.
fn check_paths(args: &RenderArgs) -> anyhow::Result<()> {
    if let Some(s) = &args.secrets_dir
        && (s == &args.out || s.starts_with(&args.out))
    {
        bail!(
            "--secrets-dir {} is inside --out {}: the key must stay outside the GitOps tree",
            s.display(),
            args.out.display()
        );
    }
    Ok(())
}
