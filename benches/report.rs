//! Benchmark: render the HTML report for a 50-service portfolio over 8 quarters.
//!
//! `cargo bench --bench report [-- --services N --changes N]`. Target (issues 4 and 13): ≤ 1 s and ≤ 3 MB
//! for 50 services over the 1M-change organisation.
//! Metrics are computed first and not timed here (see the `metrics` bench); the figure is building
//! the report document (findings, charts, tables) plus rendering the templates. The baseline beside
//! it is rendering the Markdown summary from the same document: the cost of templating alone.

mod synth;

use std::time::Instant;

use flowgauge::assess::findings;
use flowgauge::config::Config;
use flowgauge::metrics;
use flowgauge::report::{document, render};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // Issue 13's organisation: a million changes (a deployment per five, an incident per fifty).
    let changes = arg("--changes", 1_000_000);
    let size = synth::Size {
        services: arg("--services", 50),
        changes,
        deployments: arg("--deployments", changes / 5),
        incidents: arg("--incidents", changes / 50),
        years: 2,
        links: synth::Links::ChangeIds,
    };
    println!("flowgauge report benchmark: {size:?}, 8 quarters");
    let tables = synth::organisation(size);
    let config = Config::from_toml("[analysis]\nsince = \"2025-01-01\"\nuntil = \"2027-01-01\"\n", chrono::Utc::now())
        .expect("benchmark configuration is valid");
    let queries = metrics::queries::load(None).expect("embedded queries load");
    let started = Instant::now();
    let computation = metrics::compute(&tables, &config, &queries).expect("metrics compute");
    let report = metrics::report(&computation, &config).expect("report assembles");
    println!("metrics (untimed) {:>7.2} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let found = findings::assess_services(&tables, &computation, &report, &config).expect("findings");
    let input = document::ReportInput {
        metrics: &report,
        findings: &found,
        computation: &computation,
        config: &config,
        manifest: None,
        table_rows: tables.iter().map(|(n, df)| (n.to_string(), df.height())).collect(),
        repositories: document::repositories(&tables).expect("repositories are listed"),
        queries: &queries,
        limitations: metrics::limitations(&tables),
        generated_at: chrono::Utc::now(),
        anonymised: false,
        appendix_budget: 6_000,
    };
    let doc = document::build(&input).expect("document builds");
    let built = started.elapsed().as_secs_f64();
    let html = render::render(&doc, "report.html", None).expect("html renders");
    let total = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let md = render::render(&doc, "report.md", None).expect("markdown renders");
    let baseline = started.elapsed().as_secs_f64();

    let quarters = report.services.first().map(|s| s.quarter.len()).unwrap_or(0);
    println!("services        {:>8}   quarters {quarters}", report.services.len());
    println!("document        {built:>8.3} s   (findings, charts, tables)");
    println!("html report     {total:>8.3} s   (document + templates) → {:.0}% of the 1 s target", total * 100.0);
    println!(
        "size            {:>8.2} MB  → {:.0}% of the 3 MB target",
        html.len() as f64 / 1e6,
        html.len() as f64 / 3e6 * 100.0
    );
    println!("baseline        {baseline:>8.3} s   (Markdown summary from the same document, {} bytes)", md.len());
}
