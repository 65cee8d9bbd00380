//! Benchmark: the full ownership analysis (read the history once, with renames, then degree of
//! authorship, truck factor and knowledge loss) beside `git log --name-status --find-renames` on the
//! same repository — the floor any history-based analysis pays.
//!
//! `cargo bench --bench ownership [-- --commits N | --repo PATH]`. Without `--repo`, a deterministic
//! repository of N commits (default 100,000) is generated once with `git fast-import` and cached
//! under the target directory. Target (issue 3): ≤ 1.5 × the floor, ≤ 1 GB peak memory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

/// SplitMix64: deterministic, so every machine generates the same repository.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Writes a fast-import stream: `commits` commits by 60 developers over ~6,000 files in 40
/// directories, each changing one to three files, with occasional additions, deletions and renames.
fn generate(dir: &Path, commits: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let git = |args: &[&str]| Command::new("git").args(args).current_dir(dir).status().unwrap();
    git(&["init", "-q", "-b", "main"]);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import runs");
    let mut out = std::io::BufWriter::new(child.stdin.take().unwrap());
    let mut rng = Rng(42);
    let mut files: Vec<String> = Vec::new();
    let mut next_file = 0usize;
    let start: i64 = 1_600_000_000;
    for n in 1..=commits {
        let who = rng.below(60);
        let when = start + n as i64 * 900;
        let message = format!("change {n}");
        writeln!(out, "commit refs/heads/main\nmark :{n}").unwrap();
        writeln!(out, "author Dev {who} <dev{who}@example.com> {when} +0000").unwrap();
        writeln!(out, "committer Dev {who} <dev{who}@example.com> {when} +0000").unwrap();
        writeln!(out, "data {}\n{message}", message.len()).unwrap();
        if n > 1 {
            writeln!(out, "from :{}", n - 1).unwrap();
        }
        let touches = 1 + rng.below(3) as usize;
        for _ in 0..touches {
            let roll = rng.below(100);
            if files.len() < 50 || (roll < 8 && files.len() < 6_000) {
                let path = format!("dir{:02}/file{next_file}.txt", next_file % 40);
                next_file += 1;
                let content = format!("created in {n}\n");
                writeln!(out, "M 100644 inline {path}\ndata {}\n{content}", content.len()).unwrap();
                files.push(path);
            } else if roll < 9 && files.len() > 100 {
                let i = rng.below(files.len() as u64) as usize;
                writeln!(out, "D {}", files.swap_remove(i)).unwrap();
            } else if roll < 11 {
                let i = rng.below(files.len() as u64) as usize;
                let to = format!("dir{:02}/moved{next_file}.txt", rng.below(40));
                next_file += 1;
                writeln!(out, "R {} {to}", files[i]).unwrap();
                files[i] = to;
            } else {
                let i = rng.below(files.len() as u64) as usize;
                let content = format!("created earlier\nchanged in {n}\n");
                writeln!(out, "M 100644 inline {}\ndata {}\n{content}", files[i], content.len()).unwrap();
            }
        }
    }
    drop(out);
    assert!(child.wait().unwrap().success(), "fast-import failed");
    git(&["reset", "-q", "--hard", "main"]);
}

fn main() {
    let (repo, generated): (PathBuf, bool) = match arg("--repo") {
        Some(path) => (PathBuf::from(path), false),
        None => {
            let commits: usize = arg("--commits").and_then(|v| v.parse().ok()).unwrap_or(100_000);
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            let dir = PathBuf::from(target).join(format!("flowgauge-bench-repo-{commits}"));
            if !dir.join(".git").exists() {
                let started = Instant::now();
                generate(&dir, commits);
                println!("generated {commits} commits in {:.1} s", started.elapsed().as_secs_f64());
            }
            (dir, true)
        }
    };
    println!("flowgauge ownership benchmark on {}{}", repo.display(), if generated { " (generated)" } else { "" });

    let started = Instant::now();
    let floor = Command::new("git")
        .args(["log", "--name-status", "--find-renames", "HEAD"])
        .current_dir(&repo)
        .stdout(Stdio::null())
        .status()
        .expect("git log runs");
    assert!(floor.success());
    let floor_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let history = flowgauge::collect::git::read(&repo, None, &[]).expect("history reads");
    let read_s = started.elapsed().as_secs_f64();
    let service = flowgauge::collect::default_service(&history.repo);
    let report = flowgauge::ownership::analyse(&history, &[&service], chrono::Utc::now(), 180);
    let total_s = started.elapsed().as_secs_f64();

    println!("git log floor   {floor_s:>8.2} s   (git log --name-status --find-renames)");
    println!("flowgauge       {total_s:>8.2} s   (history {read_s:.2} s + authorship {:.2} s)", total_s - read_s);
    println!("ratio           {:>8.2} ×  the floor (target ≤ 1.5 ×)", total_s / floor_s);
    if let Some(mib) = peak_memory_mib() {
        println!("peak memory     {mib:>8.0} MiB (target ≤ 1024 MiB)");
    }
    println!(
        "result          {} commits, {} files at HEAD, truck factor {}",
        history.commits.len(),
        history.head_files.len(),
        report.repository.truck_factor.value
    );
}
