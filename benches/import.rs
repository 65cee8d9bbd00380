//! Import at scale: a generated `changes.csv` of a million changes (50 services, two commits each)
//! imported by the flowgauge binary, beside DuckDB turning the same file into parquet, each a whole
//! process measured by `/usr/bin/time -v` (wall time and peak resident memory).
//!
//! Prints, side by side: the first import, the same file imported again, an incremental import of
//! 1,000 new changes into the workspace that holds the million, and DuckDB's CSV → parquet (the
//! Python `duckdb` package; `pip install duckdb`). Rows: `IMPORT_ROWS` (default 1,000,000).
//! Run with `cargo bench --bench import`; `FLOWGAUGE_BIN` names another binary to measure.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERVICES: usize = 50;

fn main() {
    let rows: usize = std::env::var("IMPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("flowgauge.toml");
    std::fs::write(&config, configuration()).expect("configuration");
    let changes = dir.path().join("changes.csv");
    write_changes(&changes, 0, rows);
    let more = dir.path().join("more.csv");
    write_changes(&more, rows, 1_000);
    let size = std::fs::metadata(&changes).map(|m| m.len()).unwrap_or(0);
    println!("binary: {}", binary().display());
    println!("import: {rows} changes ({:.0} MB, {} change commits), {SERVICES} services", size as f64 / 1e6, rows * 2);

    let workspace = dir.path().join("ws");
    let import = |file: &Path| {
        measure(
            Command::new(binary())
                .arg("--quiet")
                .arg("--config")
                .arg(&config)
                .arg("--workspace")
                .arg(&workspace)
                .args(["import", "--kind", "changes"])
                .arg(file),
        )
    };
    let first = import(&changes);
    let again = import(&changes);
    let incremental = import(&more);
    let duckdb =
        measure(Command::new("python3").args(["-c", &duckdb_script(&changes, &dir.path().join("duck.parquet"))]));
    let workspace_size = directory_size(&workspace.join("tables"));

    println!("{:<48} {:>9} {:>11}", "", "wall", "peak RSS");
    for (name, run) in [
        ("flowgauge import changes.csv (first)", &first),
        ("flowgauge import changes.csv (again, unchanged)", &again),
        ("flowgauge import 1,000 new changes", &incremental),
        ("DuckDB CSV -> parquet", &duckdb),
    ] {
        match run {
            Some((wall, rss)) => println!("{name:<48} {wall:>8.2}s {:>8.0} MB", *rss as f64 / 1e3),
            None => println!("{name:<48} {:>9} {:>11}", "failed", "-"),
        }
    }
    if let (Some((ours, our_rss)), Some((theirs, their_rss))) = (first, duckdb) {
        println!(
            "ratio flowgauge / DuckDB: {:.1}x time, {:.1}x memory (targets: <= 2x time, <= 2 GB)",
            ours / theirs,
            our_rss as f64 / their_rss as f64
        );
    }
    if let (Some((all, _)), Some((thousand, _))) = (first, incremental) {
        println!("incremental 1,000 rows / first import of {rows}: {:.2}x the time", thousand / all);
    }
    println!("workspace tables: {:.0} MB", workspace_size as f64 / 1e6);
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
/// times), spread over the services' repositories, each with two commits.
fn write_changes(path: &Path, first: usize, count: usize) {
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
            "{i},acme/svc{service:02},{i},Change {i}: adjust the svc{service:02} handler,dev{},{},{},{},{},{},main,feature/change-{i},{},{},{},{},{} {}",
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
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-v").arg(command.get_program()).args(command.get_args());
    let output = timed.output().expect("/usr/bin/time runs");
    let report = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        eprintln!("{report}");
        return None;
    }
    let field = |name: &str| report.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()));
    let rss = field("Maximum resident set size (kbytes):")?.parse().ok()?;
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")?;
    Some((seconds(&wall), rss))
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
