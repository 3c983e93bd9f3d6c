//! `plinth plan -o html` opened in real headless Chromium: the report is deterministic,
//! its DOM holds the topology diagram, the cost chart (one bar per non-zero category) and
//! the timeline chart (one phase per timeline phase), and a screenshot of it is not blank
//! and shows the cost bars' colour.
//!
//! Chromium comes from `tools/deps`; without it this test fails (it never skips).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Fill of `rect.bar` (plinth_plan::html::COST_BAR_COLOUR, #2563eb).
const BAR_RGB: [u8; 3] = [0x25, 0x63, 0xeb];
/// Fill of `rect.phase` (plinth_plan::html::PHASE_COLOUR, #059669).
const PHASE_RGB: [u8; 3] = [0x05, 0x96, 0x69];

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plan/requirements.yaml")
}

fn plinth(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .expect("plinth runs");
    assert_eq!(o.status.code(), Some(0), "plinth {args:?}: {o:?}");
    o
}

/// `chromium` on PATH, or a failure telling how to install it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not on PATH: this test opens the HTML report in headless Chromium; \
                 run tools/deps to install it (Debian package `chromium`)"
            )
        })
}

/// Runs headless Chromium with a throwaway profile directory and HOME.
fn run_chromium(args: &[&str]) -> Output {
    let profile = tempfile::tempdir().expect("temp dir");
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .env("HOME", profile.path())
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "chromium {args:?}: {o:?}");
    o
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The text of `<svg id="ID" ...> ... </svg>` in the DOM.
fn svg<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("<svg id=\"{id}\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in the DOM"));
    let len = dom[start..].find("</svg>").expect("svg closed");
    &dom[start..start + len]
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("temp dir");
    let example = example();
    let example = example.to_str().expect("UTF-8 path");

    // Deterministic: two runs give the same bytes.
    let first = plinth(&["plan", example, "-o", "html"]).stdout;
    let second = plinth(&["plan", example, "-o", "html"]).stdout;
    assert_eq!(first, second, "two runs of plan -o html differ");
    let html = String::from_utf8(first).expect("UTF-8 HTML");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(!html.contains("<script"), "the report has a script");
    assert!(!html.contains("<link"), "the report links a resource");
    let file = dir.path().join("plan.html");
    std::fs::write(&file, &html).expect("write HTML");
    let url = format!("file://{}", file.display());

    // What the DOM must hold, from the same plan as JSON.
    let plan: Value =
        serde_json::from_slice(&plinth(&["plan", example, "-o", "json"]).stdout).expect("JSON");
    let monthly = &plan["cost"]["monthly"];
    let bars = ["compute", "storage", "networking", "monitoring", "security"]
        .iter()
        .filter(|k| monthly[**k].as_f64().expect("a figure") != 0.0)
        .count();
    let phases = plan["timeline"].as_array().expect("timeline").len();
    let pools = plan["nodePools"].as_array().expect("nodePools");
    let clusters = plan["topology"]["clusters"].as_array().expect("clusters");
    let pools_in_diagram: usize = clusters
        .iter()
        .map(|c| {
            pools
                .iter()
                .filter(|p| p["clusterRole"] == c["role"])
                .count()
        })
        .sum();
    assert!(bars >= 4 && phases >= 5, "{bars} bars, {phases} phases");

    // (1) The DOM as Chromium parsed it.
    let dom = String::from_utf8(run_chromium(&["--dump-dom", &url]).stdout).expect("UTF-8 DOM");
    let topology = svg(&dom, "topology");
    assert_eq!(
        count(topology, "<g class=\"cluster "),
        clusters.len(),
        "{topology}"
    );
    assert_eq!(
        count(topology, "class=\"pool\""),
        pools_in_diagram,
        "{topology}"
    );
    for c in clusters {
        let name = c["name"].as_str().expect("cluster name");
        assert!(topology.contains(name), "{name} not in the diagram");
    }
    // Two regions: a DR arrow and a cross-region backup arrow.
    assert_eq!(count(topology, "class=\"arrow dr\""), 1, "{topology}");
    assert_eq!(count(topology, "class=\"arrow backup\""), 1, "{topology}");
    let cost = svg(&dom, "cost-chart");
    assert_eq!(count(cost, "class=\"bar\""), bars, "{cost}");
    assert!(cost.contains("153,865.09"), "total missing: {cost}");
    let timeline = svg(&dom, "timeline-chart");
    assert_eq!(count(timeline, "class=\"phase\""), phases, "{timeline}");
    assert_eq!(count(&dom, "class=\"pool-row\""), pools.len());
    assert_eq!(
        count(&dom, "<tr class=\"risk\">"),
        plan["risks"].as_array().expect("risks").len()
    );

    // (2) A screenshot of the whole page: not blank, and the charts' colours are there.
    let png_path = dir.path().join("plan.png");
    run_chromium(&[
        "--hide-scrollbars",
        "--window-size=1200,4400",
        &format!("--screenshot={}", png_path.display()),
        &url,
    ]);
    let bytes = std::fs::read(&png_path).expect("screenshot written");
    if let Ok(keep) = std::env::var("PLINTH_PLAN_SCREENSHOT") {
        std::fs::write(keep, &bytes).expect("copy screenshot");
    }
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!((info.width, info.height), (1200, 4400));
    let (mut total, mut non_white, mut bar, mut phase) = (0usize, 0usize, 0usize, 0usize);
    for row in buf.chunks(info.line_size).take(info.height as usize) {
        for px in row[..info.width as usize * channels].chunks(channels) {
            let rgb = [px[0], px[1], px[2]];
            total += 1;
            if rgb.iter().any(|&c| c < 235) {
                non_white += 1;
            }
            let near = |want: [u8; 3]| {
                rgb.iter()
                    .zip(want)
                    .all(|(&a, b)| (i16::from(a) - i16::from(b)).abs() <= 6)
            };
            if near(BAR_RGB) {
                bar += 1;
            }
            if near(PHASE_RGB) {
                phase += 1;
            }
        }
    }
    let share = non_white as f64 / total as f64;
    assert!(share > 0.03, "the page looks blank: {share:.4} non-white");
    // The compute bar alone is hundreds of pixels wide and 28 high.
    assert!(bar > 5_000, "cost bar colour: {bar} pixels");
    assert!(phase > 5_000, "timeline phase colour: {phase} pixels");
}
