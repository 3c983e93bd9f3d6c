//! The documentation runs: every `sh` block of `docs/*.md` is executed, line by line,
//! from the repository root with this build's `plinth` first on `PATH` and `$OUT` a fresh
//! directory. A line must exit 0, or N when it ends with `# exit N`; a `text` block
//! right after an `sh` block lists lines the block's last command must print (stdout and
//! stderr, compared with runs of spaces collapsed). Docs with examples that drift from
//! what plinth does fail here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One runnable example: the commands of an `sh` block and the lines expected after it.
#[derive(Debug)]
struct Example {
    file: String,
    line: usize,
    commands: Vec<(String, i32)>,
    expected: Vec<String>,
}

fn examples(file: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(file).expect("read doc");
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Example> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_end();
        if fence == "```sh" || fence == "```text" {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end].trim_end() != "```" {
                end += 1;
            }
            let body: Vec<&str> = lines[start..end.min(lines.len())].to_vec();
            if fence == "```sh" {
                let commands = body
                    .iter()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .map(|l| match l.rsplit_once("# exit ") {
                        Some((cmd, code)) => (
                            cmd.trim().to_owned(),
                            code.trim().parse().expect("`# exit N` takes a number"),
                        ),
                        None => ((*l).trim().to_owned(), 0),
                    })
                    .collect();
                out.push(Example {
                    file: name.clone(),
                    line: i + 1,
                    commands,
                    expected: Vec::new(),
                });
            } else {
                let previous_is_sh = out.last().is_some_and(|e| e.expected.is_empty())
                    && lines[..i]
                        .iter()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .is_some_and(|l| l.trim_end() == "```");
                assert!(
                    previous_is_sh,
                    "{name}:{}: a text block must follow an sh block",
                    i + 1
                );
                if let Some(last) = out.last_mut() {
                    last.expected = body
                        .iter()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| (*l).to_owned())
                        .collect();
                }
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_documented_example_runs_as_shown() {
    let docs = root().join("docs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&docs)
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_plinth"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    let mut failures = Vec::new();
    for file in &files {
        for example in examples(file) {
            let out = tempfile::tempdir().expect("tempdir");
            let mut last_output = String::new();
            for (command, code) in &example.commands {
                let o = Command::new("bash")
                    .args(["-c", command])
                    .current_dir(root())
                    .env("PATH", &path)
                    .env("OUT", out.path())
                    .output()
                    .expect("bash runs");
                ran += 1;
                last_output = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                if o.status.code() != Some(*code) {
                    failures.push(format!(
                        "{}:{}: `{command}` exited {:?}, the doc says {code}:\n{last_output}",
                        example.file,
                        example.line,
                        o.status.code()
                    ));
                }
            }
            let printed = squash(&last_output);
            for want in &example.expected {
                if !printed.contains(&squash(want)) {
                    failures.push(format!(
                        "{}:{}: the output lacks {want:?}:\n{last_output}",
                        example.file, example.line
                    ));
                }
            }
        }
    }
    assert!(ran >= 10, "only {ran} documented commands found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_harness_notices_a_wrong_doc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("x.md");
    std::fs::write(
        &doc,
        "```sh\nplinth check a.yaml  # exit 1\nplinth version\n```\n```text\nplinth\n```\n",
    )
    .expect("write");
    let found = examples(&doc);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].commands,
        [
            ("plinth check a.yaml".to_owned(), 1),
            ("plinth version".to_owned(), 0)
        ]
    );
    assert_eq!(found[0].expected, ["plinth"]);
}
