//! Benchmark: compute every metric for a synthetic organisation, beside a baseline.
//!
//! `cargo bench --bench metrics [-- --changes N --deployments N --incidents N --services N]`
//! Default size is the target of issue 2: 1,000,000 changes, 200,000 deployments, 20,000 incidents.
//! The baseline is the floor any implementation pays: one polars pass that joins changes to what
//! shipped them and the deployments, and groups by service. Peak memory is the process's high-water
//! mark (VmHWM), which includes the generated tables themselves.

mod synth;

use std::time::Instant;

use flowgauge::config::Config;
use flowgauge::metrics;
use polars::prelude::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn baseline(tables: &std::collections::HashMap<&'static str, DataFrame>) -> PolarsResult<DataFrame> {
    tables["changes"]
        .clone()
        .lazy()
        .join(
            tables["deployment_commits"].clone().lazy(),
            [col("merge_commit_sha")],
            [col("sha")],
            JoinArgs::new(JoinType::Inner),
        )
        .join(tables["deployments"].clone().lazy(), [col("deployment_id")], [col("id")], JoinArgs::new(JoinType::Inner))
        .group_by([col("service")])
        .agg([len().alias("changes")])
        .collect()
}

fn main() {
    let size = synth::Size {
        services: arg("--services", 50),
        changes: arg("--changes", 1_000_000),
        deployments: arg("--deployments", 200_000),
        incidents: arg("--incidents", 20_000),
        years: 1,
    };
    println!("flowgauge metrics benchmark: {size:?}");
    let started = Instant::now();
    let tables = synth::organisation(size);
    println!("generate        {:>8.2} s", started.elapsed().as_secs_f64());

    let config = Config::from_toml("[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n", chrono::Utc::now())
        .expect("benchmark configuration is valid");
    let queries = metrics::queries::load(None).expect("embedded queries load");

    let started = Instant::now();
    let floor = baseline(&tables).expect("baseline runs");
    let baseline_s = started.elapsed().as_secs_f64();
    assert!(floor.height() > 0);

    let started = Instant::now();
    let computation = metrics::compute(&tables, &config, &queries).expect("metrics compute");
    let report = metrics::report(&computation, &config).expect("report assembles");
    let compute_s = started.elapsed().as_secs_f64();
    let counted: u64 = report.services.iter().map(|s| s.window.lead_time.changes).sum();
    let deployments: u64 = report.services.iter().map(|s| s.window.deployment_frequency.deployments).sum();

    println!("baseline        {baseline_s:>8.2} s   (join changes→shipped→deployments, group by service)");
    println!("all metrics     {compute_s:>8.2} s   (every query, 4 grains, {} services)", report.services.len());
    println!("ratio           {:>8.1} ×  baseline", compute_s / baseline_s);
    println!("target          {:>8.2} s   → {:.0}% of the 10 s budget", 10.0, compute_s / 10.0 * 100.0);
    match peak_memory_mib() {
        Some(mib) => println!("peak memory     {mib:>8.0} MiB (target ≤ 4096 MiB, includes the generated tables)"),
        None => println!("peak memory     unavailable (no /proc/self/status)"),
    }
    println!("sanity          {counted} changes with a lead time, {deployments} production deployments counted");
}
