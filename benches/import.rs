//! Import at scale: a generated `changes.csv` of a million changes (50 services, two commits each)
//! imported by the flowgauge binary, beside DuckDB turning the same file into parquet, each a whole
//! process measured by `/usr/bin/time -v` (wall time and peak resident memory).
//!
//! Prints, side by side: the first import, the same file imported again, incremental imports of
//! 1,000, then 10,000, then 100,000 new changes into the workspace that holds the million (an
//! upsert should cost in proportion to its rows, not to the table), an update of 1,000 of the
//! million (appended in a file superseding their rows), `flowgauge metrics` reading the workspace
//! before and after that update (what a superseding file costs a reader; the figures must be the
//! same, only titles changed), and DuckDB's CSV → parquet (the Python `duckdb` package;
//! `pip install duckdb`), with the ratios to DuckDB and to the first import. Every step runs `IMPORT_RUNS` times (default 2, each
//! time into a new workspace) and the median is printed. Rows: `IMPORT_ROWS` (default 1,000,000).
//! Run with `cargo bench --bench import`; `FLOWGAUGE_BIN` names another binary to measure.
//!
//! Then the whole organisation of `benches/metrics.rs` at the same size (changes with their commits,
//! deployments with what they shipped, reviews, incidents; `benches/synth.rs`) written as the CSV
//! files an export would give and imported by one `flowgauge collect`, beside DuckDB turning the same
//! files into parquet; and, as a check that nothing is lost on the way, `flowgauge metrics` over the
//! imported workspace against the same organisation written straight into a workspace: every figure
//! must agree. `IMPORT_ORG=0` leaves this part out, `IMPORT_ORG=only` runs only this part;
//! `IMPORT_KEEP=DIR` writes the organisation's CSV files into DIR and keeps them.

mod support;
mod synth;
use support::thousands;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERVICES: usize = 50;

/// Wall time in seconds and peak resident memory in kilobytes of one run, `None` when it failed.
type Measured = Option<(f64, u64)>;

/// New changes imported one after the other into the workspace holding the first import.
const INCREMENTS: [usize; 3] = [1_000, 10_000, 100_000];

fn main() {
    let rows: usize = std::env::var("IMPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runs: usize = std::env::var("IMPORT_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2).max(1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("flowgauge.toml");
    std::fs::write(&config, configuration()).expect("configuration");
    if std::env::var("IMPORT_ORG").is_ok_and(|v| v == "only") {
        import_organisation(rows, runs, dir.path());
        return;
    }
    let changes = dir.path().join("changes.csv");
    write_changes(&changes, 0, rows, "");
    let mut first_new = rows;
    let increments: Vec<(usize, PathBuf)> = INCREMENTS
        .iter()
        .map(|&count| {
            let file = dir.path().join(format!("new-{count}.csv"));
            write_changes(&file, first_new, count, "");
            first_new += count;
            (count, file)
        })
        .collect();
    let updates = dir.path().join("updates.csv");
    write_changes(&updates, rows / 2, 1_000.min(rows), " (edited)");
    let size = std::fs::metadata(&changes).map(|m| m.len()).unwrap_or(0);
    println!("binary: {}", binary().display());
    println!("import: {rows} changes ({:.0} MB, {} change commits), {SERVICES} services", size as f64 / 1e6, rows * 2);
    println!("runs: {runs} of each step (medians below)");

    let mut steps: Vec<(String, Vec<Measured>)> = vec![
        ("flowgauge import changes.csv (first)".into(), Vec::new()),
        ("flowgauge import changes.csv (again, unchanged)".into(), Vec::new()),
    ];
    for (count, _) in &increments {
        steps.push((format!("flowgauge import {} new changes", thousands(*count as u64)), Vec::new()));
    }
    steps.push(("flowgauge metrics (appended files only)".into(), Vec::new()));
    steps.push(("flowgauge import 1,000 changed changes".into(), Vec::new()));
    steps.push(("flowgauge metrics (and a superseding file)".into(), Vec::new()));
    steps.push(("DuckDB CSV -> parquet".into(), Vec::new()));
    let mut workspace_size = 0;
    let mut same_figures = true;
    for run in 0..runs {
        let workspace = dir.path().join(format!("ws-{run}"));
        let import =
            |file: &Path| measure(flowgauge(&config, &workspace).args(["import", "--kind", "changes"]).arg(file));
        let metrics = || {
            measure_output(flowgauge(&config, &workspace).args([
                "metrics",
                "--format",
                "json",
                "--since",
                "2025-01-01",
                "--until",
                "2026-01-01",
            ]))
        };
        let mut results = vec![import(&changes)];
        workspace_size = directory_size(&workspace.join("tables"));
        results.push(import(&changes));
        for (_, file) in &increments {
            results.push(import(file));
        }
        let (before, figures_before) = metrics();
        results.push(before);
        results.push(import(&updates));
        let (after, figures_after) = metrics();
        results.push(after);
        same_figures &= figures_before.is_some() && figures_before == figures_after;
        results.push(measure(
            Command::new("python3").args(["-c", &duckdb_script(&changes, &dir.path().join("duck.parquet"))]),
        ));
        for ((_, measured), result) in steps.iter_mut().zip(results) {
            measured.push(result);
        }
        let _ = std::fs::remove_dir_all(&workspace);
    }
    let medians: Vec<Measured> = steps.iter().map(|(_, measured)| median(measured)).collect();
    let duckdb = medians[medians.len() - 1];
    let first = medians[0];

    println!("{:<48} {:>9} {:>11} {:>11} {:>14}", "", "wall", "peak RSS", "/ DuckDB", "/ first import");
    for ((name, _), run) in steps.iter().zip(&medians) {
        match run {
            Some((wall, rss)) => {
                let ratio = |base: Option<(f64, u64)>| base.map_or("-".into(), |(b, _)| format!("{:.2}x", wall / b));
                println!(
                    "{name:<48} {wall:>8.2}s {:>8.0} MB {:>11} {:>14}",
                    *rss as f64 / 1e3,
                    ratio(duckdb),
                    ratio(first)
                );
            }
            None => println!("{name:<48} {:>9} {:>11}", "failed", "-"),
        }
    }
    if let (Some((ours, our_rss)), Some((theirs, their_rss))) = (first, duckdb) {
        println!(
            "first import / DuckDB: {:.2}x time, {:.2}x memory (targets: <= 2x time, <= 2 GB peak)",
            ours / theirs,
            our_rss as f64 / their_rss as f64
        );
    }
    let per_row: Vec<String> = INCREMENTS
        .iter()
        .zip(&medians[2..2 + INCREMENTS.len()])
        .filter_map(|(count, run)| {
            run.map(|(wall, _)| format!("{}: {:.1} µs", thousands(*count as u64), wall * 1e6 / *count as f64))
        })
        .collect();
    println!("incremental import, wall per new row (whole process): {}", per_row.join(", "));
    println!("workspace tables after the first import: {:.0} MB", workspace_size as f64 / 1e6);
    let index = |name: &str| medians[steps.iter().position(|(n, _)| n == name).expect("a step")];
    if let (Some((before, _)), Some((after, _))) =
        (index("flowgauge metrics (appended files only)"), index("flowgauge metrics (and a superseding file)"))
    {
        println!(
            "metrics with a superseding file / without: {:.2}x; the same figures in every run: {}",
            after / before,
            if same_figures { "yes" } else { "NO" }
        );
    }
    if std::env::var("IMPORT_ORG").map_or(true, |v| v != "0") {
        import_organisation(rows, runs, dir.path());
    }
}

/// The analysis window of the organisation (as in `benches/metrics.rs`).
const SINCE: &str = "2025-01-01";
const UNTIL: &str = "2026-01-01";

/// The import kinds of the organisation's files, in the order `collect` imports them.
const ORGANISATION_FILES: [(&str, &str); 4] =
    [("changes", "changes"), ("deployments", "deployments"), ("reviews", "reviews"), ("incidents", "incidents")];

/// Imports the generated organisation of `changes` changes from CSV files by one `flowgauge collect`
/// (measured beside DuckDB's CSV → parquet of the same files), then checks that `flowgauge metrics`
/// over it agrees with the organisation written straight into a workspace.
fn import_organisation(changes: usize, runs: usize, dir: &Path) {
    let tables = synth::organisation(synth::Size::scaled(changes, synth::Links::ChangeIds));
    let csv_dir = std::env::var_os("IMPORT_KEEP").map(PathBuf::from).unwrap_or_else(|| dir.join("organisation"));
    std::fs::create_dir_all(&csv_dir).expect("organisation directory");
    let mut bytes = 0;
    for (table, _) in ORGANISATION_FILES {
        let path = csv_dir.join(format!("{table}.csv"));
        write_table_csv(&tables, table, &path);
        bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    let config = csv_dir.join("flowgauge.toml");
    std::fs::write(&config, organisation_configuration()).expect("configuration");
    let rows = |t: &str| thousands(tables[t].height() as u64);
    println!(
        "\nthe whole organisation: {} changes ({} change commits), {} deployments ({} recorded deployment commits), \
         {} reviews, {} incidents: {:.0} MB of CSV in {} files",
        rows("changes"),
        rows("change_commits"),
        rows("deployments"),
        rows("deployment_commits"),
        rows("reviews"),
        rows("incidents"),
        bytes as f64 / 1e6,
        ORGANISATION_FILES.len()
    );
    let reference = dir.join("organisation-reference");
    synth::write_workspace(&reference, &tables).expect("reference workspace");
    drop(tables); // not held while the processes measured run
    let duckdb_script = organisation_duckdb_script(&csv_dir, &dir.join("duck-organisation"));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let imported = dir.join("organisation-workspace");
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&imported);
        ours.push(measure(flowgauge(&config, &imported).arg("collect")));
        theirs.push(measure(Command::new("python3").args(["-c", &duckdb_script])));
    }
    let (ours, theirs) = (median(&ours), median(&theirs));
    for (name, run) in
        [("flowgauge collect (4 CSV files, first import)", ours), ("DuckDB CSV -> parquet (4 files)", theirs)]
    {
        match run {
            Some((wall, rss)) => println!("{name:<48} {wall:>8.2}s {:>8.0} MB", rss as f64 / 1e3),
            None => println!("{name:<48} {:>9}", "failed"),
        }
    }
    if let (Some((a, a_rss)), Some((b, b_rss))) = (ours, theirs) {
        println!(
            "organisation import / DuckDB: {:.2}x time, {:.2}x memory (targets: <= 2x time, <= 2 GB peak)",
            a / b,
            a_rss as f64 / b_rss as f64
        );
    }
    print_organisation_files(&config, &csv_dir, &dir.join("organisation-by-file"));
    compare_metrics(&config, &imported, &reference);
}

/// Each file of the organisation imported by its own `flowgauge import`, one after the other into
/// one workspace (one run): where the organisation's import spends its time.
fn print_organisation_files(config: &Path, csv_dir: &Path, workspace: &Path) {
    for (table, kind) in ORGANISATION_FILES {
        let run = measure(
            flowgauge(config, workspace)
                .args(["import", "--namespace", "synth", "--kind", kind])
                .arg(csv_dir.join(format!("{table}.csv"))),
        );
        let name = format!("  of which flowgauge import {table}.csv");
        match run {
            Some((wall, rss)) => println!("{name:<48} {wall:>8.2}s {:>8.0} MB", rss as f64 / 1e3),
            None => println!("{name:<48} {:>9}", "failed"),
        }
    }
    let _ = std::fs::remove_dir_all(workspace);
}

fn organisation_configuration() -> String {
    let mut toml = format!("[analysis]\nsince = \"{SINCE}\"\nuntil = \"{UNTIL}\"\n");
    for (table, kind) in ORGANISATION_FILES {
        let _ = write!(
            toml,
            "\n[[sources]]\ntype = \"import\"\npath = \"{table}.csv\"\nkind = \"{kind}\"\nnamespace = \"synth\"\n"
        );
    }
    toml
}

/// `flowgauge metrics --format json` over the imported workspace and over the reference: the same
/// organisation must give the same figures however it reached the workspace.
fn compare_metrics(config: &Path, imported: &Path, reference: &Path) {
    let metrics = |workspace: &Path| {
        let output =
            flowgauge(config, workspace).args(["metrics", "--format", "json"]).output().expect("flowgauge runs");
        if !output.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let (ours, expected) = (metrics(imported), metrics(reference));
    if !ours.is_empty() && ours == expected {
        println!(
            "metrics over the imported organisation: identical to the organisation written directly ({} bytes of JSON)",
            ours.len()
        );
    } else {
        let line = ours.lines().zip(expected.lines()).position(|(a, b)| a != b).unwrap_or(0);
        println!(
            "metrics over the imported organisation DIFFER from the organisation written directly, first at line {}:\n  imported: {}\n  direct:   {}",
            line + 1,
            ours.lines().nth(line).unwrap_or(""),
            expected.lines().nth(line).unwrap_or("")
        );
    }
}

/// Writes `table` as the CSV file an export would give: the columns of its frame that hold a value,
/// plus `commits` for changes and deployments (their `change_commits` / `deployment_commits` rows).
fn write_table_csv(
    tables: &std::collections::HashMap<&'static str, polars::prelude::DataFrame>,
    table: &str,
    path: &Path,
) {
    use polars::prelude::*;
    let df = &tables[table];
    let columns: Vec<&Column> = df.columns().iter().filter(|c| c.null_count() < df.height()).collect();
    let commits = match table {
        "changes" => Some(commits_by_owner(&tables["change_commits"], "change_id")),
        "deployments" => Some(commits_by_owner(&tables["deployment_commits"], "deployment_id")),
        _ => None,
    };
    let ids = df.column("id").and_then(|c| c.str().cloned()).expect("an id column");
    let mut cells: Vec<Vec<String>> = columns.iter().map(|c| csv_cells(c)).collect();
    let mut header: Vec<&str> = columns.iter().map(|c| c.name().as_str()).collect();
    if let Some(commits) = &commits {
        header.push("commits");
        cells.push(ids.iter().map(|id| id.and_then(|id| commits.get(id)).cloned().unwrap_or_default()).collect());
    }
    let file = std::fs::File::create(path).expect("CSV file");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "{}", header.join(",")).unwrap();
    for row in 0..df.height() {
        let line: Vec<&str> = cells.iter().map(|column| column[row].as_str()).collect();
        writeln!(out, "{}", line.join(",")).unwrap();
    }
    out.flush().unwrap();
}

/// The shas of each owner (change or deployment), separated by spaces, in the table's order.
fn commits_by_owner(df: &polars::prelude::DataFrame, owner: &str) -> std::collections::HashMap<String, String> {
    let owners = df.column(owner).and_then(|c| c.str().cloned()).expect("owner column");
    let shas = df.column("sha").and_then(|c| c.str().cloned()).expect("sha column");
    let mut by_owner: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (owner, sha) in owners.iter().zip(shas.iter()) {
        if let (Some(owner), Some(sha)) = (owner, sha) {
            let list = by_owner.entry(owner.to_string()).or_default();
            if !list.is_empty() {
                list.push(' ');
            }
            list.push_str(sha);
        }
    }
    by_owner
}

/// A column's values as CSV fields: text quoted when it must be, times as RFC 3339 in UTC.
fn csv_cells(column: &polars::prelude::Column) -> Vec<String> {
    use polars::prelude::*;
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
    };
    let series = column.as_materialized_series();
    match series.dtype() {
        DataType::String => series.str().unwrap().iter().map(|v| v.map(quote).unwrap_or_default()).collect(),
        DataType::Int64 => series.i64().unwrap().iter().map(|v| v.map(|v| v.to_string()).unwrap_or_default()).collect(),
        DataType::Float64 => {
            series.f64().unwrap().iter().map(|v| v.map(|v| v.to_string()).unwrap_or_default()).collect()
        }
        DataType::Boolean => {
            series.bool().unwrap().iter().map(|v| v.map(|v| v.to_string()).unwrap_or_default()).collect()
        }
        DataType::Datetime(TimeUnit::Microseconds, _) => {
            let micros = series.cast(&DataType::Int64).expect("datetime casts to i64");
            micros
                .i64()
                .unwrap()
                .iter()
                .map(|v| {
                    v.and_then(chrono::DateTime::from_timestamp_micros)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                        .unwrap_or_default()
                })
                .collect()
        }
        other => panic!("no CSV form for a column of type {other}"),
    }
}

fn organisation_duckdb_script(csv_dir: &Path, out: &Path) -> String {
    let mut script = format!("import duckdb, os; os.makedirs('{}', exist_ok=True)", out.display());
    for (table, _) in ORGANISATION_FILES {
        let _ = write!(
            script,
            "; duckdb.sql(\"COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)\")",
            csv_dir.join(format!("{table}.csv")).display(),
            out.join(format!("{table}.parquet")).display()
        );
    }
    script
}

/// The median of the runs that succeeded (wall and peak memory each), `None` when one failed.
fn median(runs: &[Measured]) -> Measured {
    let runs: Vec<(f64, u64)> = runs.iter().copied().collect::<Option<_>>()?;
    let mut walls: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let mut peaks: Vec<u64> = runs.iter().map(|r| r.1).collect();
    walls.sort_by(f64::total_cmp);
    peaks.sort_unstable();
    let middle = |n: usize| if n % 2 == 1 { (n / 2, n / 2) } else { (n / 2 - 1, n / 2) };
    let (a, b) = middle(walls.len());
    Some(((walls[a] + walls[b]) / 2.0, (peaks[a] + peaks[b]) / 2))
}

/// The measured binary, quiet, with `config` and `workspace`; the caller adds the command.
fn flowgauge(config: &Path, workspace: &Path) -> Command {
    let mut command = Command::new(binary());
    command.arg("--quiet").arg("--config").arg(config).arg("--workspace").arg(workspace);
    command
}

/// The binary measured: `FLOWGAUGE_BIN` when set (a release build measured by a bench built
/// otherwise), else the one built with this bench.
fn binary() -> PathBuf {
    std::env::var_os("FLOWGAUGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_flowgauge")))
}

fn configuration() -> String {
    let mut toml = String::new();
    for s in 0..SERVICES {
        let _ = writeln!(toml, "[[services]]\nname = \"svc{s:02}\"\nrepos = [\"acme/svc{s:02}\"]\n");
    }
    toml
}

/// Writes `count` changes numbered from `first`: realistic widths (titles, branches, full shas,
/// times), spread over the services' repositories, each with two commits; `edit` ends each title.
fn write_changes(path: &Path, first: usize, count: usize, edit: &str) {
    let file = std::fs::File::create(path).expect("changes file");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(
        out,
        "id,repo,number,title,author,created_at,first_commit_at,first_review_at,merged_at,closed_at,\
         base_branch,head_branch,merge_commit_sha,additions,deletions,files_changed,commits"
    )
    .unwrap();
    let start = 1_735_689_600i64; // 2025-01-01
    for i in first..first + count {
        let service = i % SERVICES;
        let created = start + (i as i64 * 29) % 31_000_000;
        let time = |offset: i64| {
            chrono::DateTime::from_timestamp(created + offset, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        writeln!(
            out,
            "{i},acme/svc{service:02},{i},Change {i}: adjust the svc{service:02} handler{edit},dev{},{},{},{},{},{},main,feature/change-{i},{},{},{},{},{} {}",
            i % 400,
            time(0),
            time(-7_200),
            time(3_600),
            time(14_400),
            time(14_400),
            sha(i, 0),
            (i * 7) % 500,
            (i * 3) % 200,
            1 + i % 20,
            sha(i, 1),
            sha(i, 2),
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn sha(i: usize, n: usize) -> String {
    let a = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let b = a.rotate_left(17).wrapping_mul(0x1656_67B1_9E37_79F9);
    format!("{a:016x}{b:016x}{:08x}", (a ^ b) as u32)
}

fn duckdb_script(csv: &Path, parquet: &Path) -> String {
    format!(
        "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)\")",
        csv.display(),
        parquet.display()
    )
}

/// Runs a command under `/usr/bin/time -v`: its wall time in seconds and peak RSS in kilobytes, or
/// `None` (with its error output shown) when it fails.
fn measure(command: &mut Command) -> Option<(f64, u64)> {
    measure_output(command).0
}

/// [`measure`], and what the command printed (`None` when it failed).
fn measure_output(command: &mut Command) -> (Measured, Option<Vec<u8>>) {
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-v").arg(command.get_program()).args(command.get_args());
    let output = timed.output().expect("/usr/bin/time runs");
    let report = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        eprintln!("{report}");
        return (None, None);
    }
    let field = |name: &str| report.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()));
    let rss = field("Maximum resident set size (kbytes):").and_then(|v| v.parse().ok());
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):");
    (wall.zip(rss).map(|(wall, rss)| (seconds(&wall), rss)), Some(output.stdout))
}

/// `m:ss.cc` or `h:mm:ss` as seconds.
fn seconds(clock: &str) -> f64 {
    clock.split(':').fold(0.0, |total, part| total * 60.0 + part.parse::<f64>().unwrap_or(0.0))
}

fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| e.path())
        .map(
            |p: PathBuf| {
                if p.is_dir() { directory_size(&p) } else { std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) }
            },
        )
        .sum()
}
