//! Benchmark: `flowgauge metrics` over a generated organisation, beside DuckDB computing the same
//! documented definitions over the same workspace parquet (issue 13).
//!
//! `cargo bench --bench metrics [-- --changes 100000,300000,1000000 --links ids,full,short,none
//! --runs 3 --dir target/bench-orgs --no-duckdb]`
//!
//! For every size and incident link shape (see `synth::Links`) it writes the organisation once as a
//! workspace (kept under `--dir` and reused), then runs, as whole processes and in turn, the
//! `flowgauge` binary (`metrics --format json`) and `benches/duckdb_metrics.py` (Python `duckdb`
//! package: `pip install duckdb`), `--runs` times each. It prints the median wall time and peak
//! resident memory of each (from `/usr/bin/time`), the median of the paired ratios, and then compares
//! every figure of the two JSON outputs, printing how many were compared and every disagreement.
//! For a link shape measured at several sizes it ends with the growth line of each side: the
//! median wall times from the smallest size to the largest and, between neighbours, the factor the
//! time grew by beside the factor the data grew by.
//! Timings depend on the machine and what else runs on it: read the ratios side by side, never as
//! pass/fail.

mod synth;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use synth::{Links, Size};

const SINCE: &str = "2025-01-01";
const UNTIL: &str = "2026-01-01";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn list<T>(name: &str, default: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    let text = arg(name).unwrap_or_else(|| default.to_string());
    text.split(',').map(|v| parse(v.trim()).unwrap_or_else(|| panic!("{name}: cannot read `{v}`"))).collect()
}

/// One whole-process run: wall seconds and peak resident set in MiB.
#[derive(Clone, Copy)]
struct Run {
    wall_s: f64,
    peak_mib: f64,
}

/// Runs `program args` under `/usr/bin/time`, its output to `out`; panics with the program's error
/// output when it fails, since a failed run has no figures to compare.
fn timed(program: &str, args: &[String], out: &Path) -> Run {
    let usage = out.with_extension("time");
    let stdout = std::fs::File::create(out).expect("output file");
    let started = Instant::now();
    let result = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&usage)
        .arg(program)
        .args(args)
        .stdout(stdout)
        .output()
        .unwrap_or_else(|e| panic!("cannot run /usr/bin/time {program}: {e}"));
    let wall_s = started.elapsed().as_secs_f64();
    assert!(result.status.success(), "{program} failed: {}", String::from_utf8_lossy(&result.stderr));
    let text = std::fs::read_to_string(&usage).unwrap_or_default();
    let kib: f64 = text.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    Run { wall_s, peak_mib: kib / 1024.0 }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// The workspace for one size and shape, generated on first use.
fn workspace(root: &Path, size: Size) -> PathBuf {
    let dir = root.join(format!("{}-{}", size.changes, size.links.name()));
    let done = dir.join("generated");
    if !done.exists() {
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(&dir);
        let tables = synth::organisation(size);
        synth::write_workspace(&dir, &tables).expect("workspace is written");
        let rows = |t: &str| tables[t].height();
        println!(
            "generated {} in {:.1} s: {} changes, {} change commits, {} deployments, {} recorded deployment commits, {} reviews, {} incidents",
            dir.display(),
            started.elapsed().as_secs_f64(),
            rows("changes"),
            rows("change_commits"),
            rows("deployments"),
            rows("deployment_commits"),
            rows("reviews"),
            rows("incidents"),
        );
        std::fs::write(dir.join("flowgauge.toml"), format!("[analysis]\nsince = \"{SINCE}\"\nuntil = \"{UNTIL}\"\n"))
            .expect("config");
        std::fs::write(&done, "").expect("marker");
    }
    dir
}

fn size_label(changes: usize) -> String {
    match changes {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

struct Row {
    label: String,
    changes: usize,
    links: Links,
    flowgauge: Vec<Run>,
    duckdb: Vec<Run>,
}

fn main() {
    let sizes = list("--changes", "1000000", |v| v.replace('_', "").parse::<usize>().ok());
    let shapes = list("--links", "ids,full,short,none", Links::parse);
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let root = PathBuf::from(arg("--dir").unwrap_or_else(|| "target/bench-orgs".into()));
    let with_duckdb = !flag("--no-duckdb");
    let flowgauge = env!("CARGO_BIN_EXE_flowgauge");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_metrics.py");
    let script = script.to_string_lossy().to_string();
    println!("flowgauge metrics vs DuckDB, whole processes, {runs} paired runs each, medians");

    let mut rows = Vec::new();
    for &changes in &sizes {
        for &links in &shapes {
            let size = Size::scaled(changes, links);
            let dir = workspace(&root, size);
            if runs == 0 {
                continue; // `--runs 0`: generate the workspaces only
            }
            let ours_out = dir.join("flowgauge.json");
            let theirs_out = dir.join("duckdb.json");
            let ours_args: Vec<String> = vec![
                "--config".into(),
                dir.join("flowgauge.toml").to_string_lossy().into(),
                "--workspace".into(),
                dir.to_string_lossy().into(),
                "metrics".into(),
                "--format".into(),
                "json".into(),
            ];
            let theirs_args: Vec<String> = vec![
                script.clone(),
                "--workspace".into(),
                dir.to_string_lossy().into(),
                "--since".into(),
                SINCE.into(),
                "--until".into(),
                UNTIL.into(),
            ];
            let mut row = Row {
                label: format!("{}, {}", size_label(changes), links.name()),
                changes,
                links,
                flowgauge: vec![],
                duckdb: vec![],
            };
            for _ in 0..runs {
                row.flowgauge.push(timed(flowgauge, &ours_args, &ours_out));
                if with_duckdb {
                    row.duckdb.push(timed("python3", &theirs_args, &theirs_out));
                }
            }
            print_row(&row);
            if with_duckdb {
                let compared = Command::new("python3")
                    .arg(&script)
                    .arg("--compare")
                    .arg(&ours_out)
                    .arg(&theirs_out)
                    .output()
                    .expect("python3 runs the comparison");
                print!("{}", String::from_utf8_lossy(&compared.stdout));
                eprint!("{}", String::from_utf8_lossy(&compared.stderr));
            }
            rows.push(row);
        }
    }
    println!("\nsummary (median wall s, median peak MiB; ratio = median of paired flowgauge/DuckDB wall times)");
    println!("{:<14} {:>10} {:>9}   {:>10} {:>9}   {:>6}", "data", "flowgauge", "MiB", "DuckDB", "MiB", "ratio");
    for row in &rows {
        print_row(row);
    }
    print_growth(&rows, &shapes);
}

fn wall(runs: &[Run]) -> f64 {
    median(runs.iter().map(|r| r.wall_s).collect())
}

/// For each link shape measured at several sizes, how the median wall time grows from one size to
/// the next beside how the data grows: linear cost has the two factors equal.
fn print_growth(rows: &[Row], shapes: &[Links]) {
    for &links in shapes {
        let mut sized: Vec<&Row> = rows.iter().filter(|r| r.links == links).collect();
        if sized.len() < 2 {
            continue;
        }
        sized.sort_by_key(|r| r.changes);
        let sizes: Vec<String> = sized.iter().map(|r| size_label(r.changes)).collect();
        let line = |side: &str, runs: &dyn Fn(&Row) -> &[Run]| {
            let times: Vec<String> = sized.iter().map(|r| format!("{:.2}", wall(runs(r)))).collect();
            let factors: Vec<String> = sized
                .windows(2)
                .map(|w| {
                    let time = wall(runs(w[1])) / wall(runs(w[0]));
                    let data = w[1].changes as f64 / w[0].changes as f64;
                    format!("×{time:.1} for ×{data:.1} rows")
                })
                .collect();
            println!("  {side:<9} {} s ({})", times.join(" → "), factors.join(", "));
        };
        println!("\ngrowth, {}: {}", links.name(), sizes.join(" → "));
        line("flowgauge", &|r: &Row| &r.flowgauge);
        if sized.iter().all(|r| !r.duckdb.is_empty()) {
            line("DuckDB", &|r: &Row| &r.duckdb);
        }
    }
}

fn print_row(row: &Row) {
    let peak = |runs: &[Run]| median(runs.iter().map(|r| r.peak_mib).collect());
    if row.duckdb.is_empty() {
        println!("{:<14} {:>8.2} s {:>9.0}", row.label, wall(&row.flowgauge), peak(&row.flowgauge));
        return;
    }
    let ratio = median(row.flowgauge.iter().zip(&row.duckdb).map(|(a, b)| a.wall_s / b.wall_s).collect());
    println!(
        "{:<14} {:>8.2} s {:>9.0}   {:>8.2} s {:>9.0}   {:>5.2}×",
        row.label,
        wall(&row.flowgauge),
        peak(&row.flowgauge),
        wall(&row.duckdb),
        peak(&row.duckdb),
        ratio
    );
}
