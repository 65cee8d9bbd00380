//! The report: every format renders, untrusted text is escaped, and a real browser shows and prints it.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::helpers::{flowgauge, repo_root, text};

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = flowgauge(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Renders the sample organisation's report in `format` into a temporary directory.
fn sample_report(format: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = repo_root().join("sample-data/acme/flowgauge.toml");
    let ws = dir.path().join("ws");
    let out = dir.path().join(format!("report.{format}"));
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "--workspace",
        ws.to_str().unwrap(),
        "-q",
        "report",
        "--collect",
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(dir.path(), &args);
    (dir, out)
}

#[test]
fn the_sample_report_has_every_section_and_stays_self_contained() {
    let (_dir, out) = sample_report("html", &[]);
    let html = fs::read_to_string(&out).unwrap();
    for expected in [
        "Portfolio",
        "What holds delivery back",
        "Where are release steps manual?",
        "Where is rollback uncertain?",
        "Where is monitoring thin?",
        "Where is operational ownership vague?",
        "Recommendations",
        "How a change reaches production",
        "Trends by quarter",
        "Quarter over quarter",
        "Manual steps",
        "Ownership gaps",
        "Methodology and provenance",
        "Appendix: records counted and excluded",
        "@media print",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
    for service in ["storefront", "payments", "ledger"] {
        assert!(html.contains(&format!("<h2>{service}</h2>")), "no section for {service}");
    }
    // Self-contained: no script, no external reference of any kind.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("Content-Security-Policy"));
    // Payments' manual approval job is found as a manual step.
    assert!(html.contains("approve-production"), "manual job missing");
    assert!(html.len() < 3_000_000);
}

#[test]
fn markdown_and_json_carry_the_same_levels() {
    let (_d1, md) = sample_report("md", &[]);
    let md = fs::read_to_string(md).unwrap();
    assert!(md.contains("| ledger | low |"), "{md}");
    let (_d2, json) = sample_report("json", &[]);
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(doc["schema"], "flowgauge.report/1");
    let ledger = doc["portfolio"].as_array().unwrap().iter().find(|r| r["name"] == "ledger").unwrap();
    assert_eq!(ledger["overall"]["level"], "low");
    assert_eq!(doc["services"].as_array().unwrap().len(), 4);
}

#[test]
fn anonymise_replaces_every_name() {
    // People who appear in the sample data (deployers and incident assignees).
    let people = ["olivia.grant", "amara.okafor", "priya.nair", "felix.braun", "daniel.silva", "erik.lindqvist"];
    let (_d, plain) = sample_report("json", &[]);
    let plain = fs::read_to_string(plain).unwrap();
    assert!(people.iter().any(|p| plain.contains(p)), "the plain report names someone");
    let (_d2, anon) = sample_report("json", &["--anonymise"]);
    let anon = fs::read_to_string(anon).unwrap();
    for person in people {
        assert!(!anon.contains(person), "{person} survived anonymisation");
    }
    assert!(anon.contains(&flowgauge::report::pseudonym("olivia.grant")));
    assert_eq!(flowgauge::report::pseudonym("Olivia.Grant "), flowgauge::report::pseudonym("olivia.grant"));
    assert!(anon.contains("names pseudonymised") || anon.contains("\"anonymised\": true"));
}

#[test]
fn templates_can_be_overridden_and_a_broken_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("t");
    fs::create_dir(&templates).unwrap();
    fs::write(templates.join("report.md"), "{{ title }} for {{ services|length }} services").unwrap();
    let (_d, out) = sample_report("md", &["--templates", templates.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(out).unwrap(), "Software delivery performance for 4 services");
    fs::write(templates.join("report.md"), "{% for %}").unwrap();
    let config = repo_root().join("sample-data/acme/flowgauge.toml");
    let ws = dir.path().join("ws");
    let args = ["--config", config.to_str().unwrap(), "--workspace", ws.to_str().unwrap(), "-q", "report", "--collect"];
    let mut with_templates: Vec<&str> = args.to_vec();
    with_templates.extend(["--format", "md", "--templates", templates.to_str().unwrap(), "--out", "x.md"]);
    let out = flowgauge(dir.path(), &with_templates);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("report.md"), "{}", text(&out.stderr));
    assert!(!dir.path().join("x.md").exists(), "nothing is written when rendering fails");
}

const HOSTILE_SERVICE: &str = "<script>document.title='pwned'</script>";

/// A project whose data carries hostile text everywhere the report shows text; `leak` is a URL
/// that would be fetched if any of it became markup.
fn hostile_project(leak: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let trigger = format!("\"><img src={leak}/trigger onerror=\"document.title='pwned'\">");
    let mut deploys = String::from("id,service,environment,finished_at,status,triggered_by,is_manual\n");
    for day in 1..=9 {
        deploys.push_str(&format!(
            "javascript:alert({day}),\"{}\",production,2025-01-0{day}T10:00:00Z,success,\"{}\",true\n",
            HOSTILE_SERVICE.replace('"', "\"\""),
            trigger.replace('"', "\"\"")
        ));
    }
    fs::write(dir.path().join("deploys.csv"), deploys).unwrap();
    let pipelines = format!(
        "id,service,name,trigger,started_at,status\np1,\"{}\",\"<img src={leak}/pipeline>\",manual,2025-01-02T10:00:00Z,success\n",
        HOSTILE_SERVICE.replace('"', "\"\"")
    );
    fs::write(dir.path().join("pipelines.csv"), pipelines).unwrap();
    let jobs = format!(
        "id,pipeline_id,name,is_manual,queued_at,started_at\nj1,p1,\"<a href=javascript:alert(1)>deploy</a><img src={leak}/job>\",true,2025-01-02T10:00:00Z,2025-01-02T12:00:00Z\n"
    );
    fs::write(dir.path().join("jobs.csv"), jobs).unwrap();
    fs::write(
        dir.path().join("incidents.ndjson"),
        format!(
            "{{\"id\": \"<img src={leak}/incident>\", \"service\": \"{}\", \"title\": \"<iframe src={leak}/title>\", \"opened_at\": \"2025-01-03T11:00:00Z\", \"assignee\": \"<b onmouseover=alert(1)>x</b>\"}}\n",
            HOSTILE_SERVICE.replace('"', "\\\"")
        ),
    )
    .unwrap();
    fs::write(dir.path().join("flowgauge.toml"), "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-04-01\"\n[report]\nclient = \"<script>x</script> & Co\"\nfooter = \"</footer><script>document.title='pwned'</script>\"\n").unwrap();
    for (file, kind) in [
        ("deploys.csv", "deployments"),
        ("pipelines.csv", "pipelines"),
        ("jobs.csv", "jobs"),
        ("incidents.ndjson", "incidents"),
    ] {
        ok(dir.path(), &["-q", "import", file, "--kind", kind]);
    }
    dir
}

#[test]
fn hostile_text_is_escaped_in_html_and_markdown() {
    let dir = hostile_project("http://127.0.0.1:9");
    ok(dir.path(), &["-q", "report", "--out", "r.html"]);
    let html = fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("&lt;script&gt;document.title="), "the service name is shown, escaped");
    assert_eq!(html.matches("<script").count(), 0);
    assert_eq!(html.matches("<img src=http").count(), 0);
    assert_eq!(html.matches("<iframe").count(), 0);
    assert_eq!(html.matches("<a href=javascript").count(), 0);
    ok(dir.path(), &["-q", "report", "--format", "md", "--out", "r.md"]);
    let md = fs::read_to_string(dir.path().join("r.md")).unwrap();
    assert!(!md.contains("<script>") && !md.contains("<img"), "{md}");
}

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        // CI installs Chromium and sets this, so there the browser tests can never be skipped.
        assert!(
            std::env::var_os("FLOWGAUGE_REQUIRE_BROWSER").is_none(),
            "FLOWGAUGE_REQUIRE_BROWSER is set but Chromium is missing"
        );
        eprintln!("skipping: no Chromium (install the Debian package `chromium`)");
    }
    found
}

fn browser(chromium: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium starts")
}

/// Serves `page` at `/report.html` and records every path any client asks for.
fn serve(listener: TcpListener, page: Vec<u8>) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(path.clone());
            let mut stream = stream;
            let (status, body): (&str, &[u8]) =
                if path == "/report.html" { ("200 OK", &page) } else { ("404 Not Found", b"") };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    seen
}

#[test]
fn in_a_real_browser_no_script_runs_and_no_request_leaves_the_page() {
    let Some(chromium) = chromium() else { return };
    // The hostile URLs point at the server that serves the page, so any request they cause is seen.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = hostile_project(&format!("http://127.0.0.1:{port}/leak"));
    ok(dir.path(), &["-q", "report", "--out", "r.html"]);
    let seen = serve(listener, fs::read(dir.path().join("r.html")).unwrap());
    let profile = tempfile::tempdir().unwrap();
    let out = browser(
        &chromium,
        profile.path(),
        &["--virtual-time-budget=3000", "--dump-dom", &format!("http://127.0.0.1:{port}/report.html")],
    );
    let dom = text(&out.stdout);
    assert!(dom.contains("Software delivery performance"), "the page loaded: {}", text(&out.stderr));
    let title = dom.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default();
    assert!(!title.contains("pwned"), "a script ran: {title}");
    assert!(!dom.contains("<script"), "a script element exists in the DOM");
    // Chromium may open a spare connection without sending anything (an empty path) and asks for
    // the favicon on its own; neither comes from the page.
    let requests: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| !p.is_empty() && p.as_str() != "/report.html" && p.as_str() != "/favicon.ico")
        .cloned()
        .collect();
    assert!(requests.is_empty(), "the page made requests: {requests:?}");
    assert!(seen.lock().unwrap().iter().any(|p| p == "/report.html"), "the browser never fetched the page");
}

#[test]
fn the_sample_report_renders_to_png_and_prints_to_pdf() {
    let Some(chromium) = chromium() else { return };
    let (dir, out) = sample_report("html", &[]);
    let png = dir.path().join("report.png");
    let pdf = dir.path().join("report.pdf");
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", out.display());
    let shot = browser(
        &chromium,
        profile.path(),
        &["--window-size=1280,2400", &format!("--screenshot={}", png.display()), &url],
    );
    assert!(png.exists(), "no screenshot: {}", text(&shot.stderr));
    assert_eq!(&fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let print = browser(
        &chromium,
        profile.path(),
        &["--no-pdf-header-footer", &format!("--print-to-pdf={}", pdf.display()), &url],
    );
    assert!(pdf.exists(), "no PDF: {}", text(&print.stderr));
    let bytes = fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    // A4 pages (595 × 842 points) and several of them: one per service at least.
    let body = String::from_utf8_lossy(&bytes);
    assert!(body.contains("595") && body.contains("842"), "not A4");
    assert!(bytes.len() > 50_000, "suspiciously small PDF: {} bytes", bytes.len());
}

/// Replaces what changes from run to run (times of generation and collection, the version) and the
/// chart bodies (checked by their own tests) so the snapshot shows structure and text.
fn mask(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</svg>").map(|e| start + e + "</svg>".len()).unwrap_or(rest.len());
        out.push_str("<svg><!-- chart masked --></svg>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    mask_times(&out).replace(env!("CARGO_PKG_VERSION"), "VERSION")
}

/// `2026-11-23 11:09 UTC` → `TIME UTC`.
fn mask_times(text: &str) -> String {
    let shape = |s: &str| {
        s.len() == 16
            && s.chars().enumerate().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == ' ',
                13 => c == ':',
                _ => c.is_ascii_digit(),
            })
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(" UTC") {
        let (before, after) = rest.split_at(i);
        if before.len() >= 16 && before.is_char_boundary(before.len() - 16) && shape(&before[before.len() - 16..]) {
            out.push_str(&before[..before.len() - 16]);
            out.push_str("TIME");
        } else {
            out.push_str(before);
        }
        out.push_str(" UTC");
        rest = &after[4..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_rendered_html_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("flowgauge.toml"),
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-07-01\"\n[[services]]\nname = \"checkout\"\n[[services]]\nname = \"search\"\n[report]\nclient = \"Acme & Co\"\naccent_colour = \"#8250df\"\nfooter = \"Confidential\"\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("deploys.csv"),
        "id,service,environment,started_at,finished_at,status,commits,is_manual,approval_wait_seconds,triggered_by,is_rollback\n\
         1,checkout,production,2025-01-06T10:00:00Z,2025-01-06T10:10:00Z,success,aaa,true,7200,dana,\n\
         2,checkout,production,2025-02-03T10:00:00Z,2025-02-03T10:10:00Z,success,bbb,true,3600,dana,\n\
         3,checkout,production,2025-02-03T12:00:00Z,2025-02-03T12:10:00Z,success,,false,,dana,true\n\
         4,checkout,production,2025-04-08T10:00:00Z,2025-04-08T10:10:00Z,success,ccc,false,,eli,\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("changes.csv"),
        "id,title,author,created_at,first_commit_at,first_review_at,merged_at,merge_commit_sha\n\
         1,First,alice,2025-01-05T10:00:00Z,2025-01-05T08:00:00Z,2025-01-05T11:00:00Z,2025-01-05T12:00:00Z,aaa\n\
         2,Second,bob,2025-02-01T09:00:00Z,2025-02-01T08:00:00Z,,2025-02-01T09:30:00Z,bbb\n\
         3,Third,bob,2025-04-07T09:00:00Z,2025-04-07T08:00:00Z,2025-04-07T09:10:00Z,2025-04-07T09:30:00Z,ccc\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("incidents.csv"),
        "id,service,title,opened_at,acknowledged_at,resolved_at,assignee\n\
         1,checkout,Payments fail,2025-02-03T11:00:00Z,2025-02-03T11:05:00Z,2025-02-03T12:30:00Z,\n",
    )
    .unwrap();
    ok(dir.path(), &["-q", "import", "deploys.csv", "--kind", "deployments"]);
    ok(dir.path(), &["-q", "import", "changes.csv", "--kind", "changes", "--service", "checkout"]);
    ok(dir.path(), &["-q", "import", "incidents.csv", "--kind", "incidents"]);
    ok(dir.path(), &["-q", "report", "--out", "r.html"]);
    let actual = mask(&fs::read_to_string(dir.path().join("r.html")).unwrap());
    let snapshot = repo_root().join("tests/snapshots/report-small.html");
    if std::env::var_os("FLOWGAUGE_UPDATE_SNAPSHOTS").is_some() {
        fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        fs::write(&snapshot, &actual).unwrap();
    }
    let expected = fs::read_to_string(&snapshot)
        .expect("tests/snapshots/report-small.html exists (create it with FLOWGAUGE_UPDATE_SNAPSHOTS=1)");
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "the report differs from tests/snapshots/report-small.html from line {}:\n- {}\n+ {}\n(review, then FLOWGAUGE_UPDATE_SNAPSHOTS=1 cargo test)",
            line + 1,
            expected.lines().nth(line).unwrap_or(""),
            actual.lines().nth(line).unwrap_or("")
        );
    }
}

/// Runs git in `dir` with a fixed author and date, isolated from the developer's configuration.
fn git(dir: &Path, args: &[&str], who: (&str, &str), date: &str) {
    let empty = dir.join("..").join("empty.gitconfig");
    if !empty.exists() {
        fs::write(&empty, "").unwrap();
    }
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", who.0)
        .env("GIT_AUTHOR_EMAIL", who.1)
        .env("GIT_COMMITTER_NAME", who.0)
        .env("GIT_COMMITTER_EMAIL", who.1)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", &empty)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

const ANA: (&str, &str) = ("Ana", "ana@example.com");
const BEN: (&str, &str) = ("Ben", "ben@example.com");

/// A repository with `releases` commits in February 2025, the n-th by `authors[n % len]` on its own
/// file and released by an annotated tag six hours later, plus `extra` files in the first commit.
fn tagged_repo(dir: &Path, releases: usize, authors: &[(&str, &str)], extra: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"], ANA, "2025-02-01T09:00:00Z");
    for (path, content) in extra {
        let file = dir.join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, content).unwrap();
    }
    for n in 0..releases {
        let who = authors[n % authors.len()];
        let date = format!("2025-02-{:02}T10:00:00Z", n + 2);
        fs::write(dir.join(format!("file{n}.txt")), format!("{n}\n")).unwrap();
        git(dir, &["add", "-A"], who, &date);
        git(dir, &["commit", "-q", "-m", &format!("Change {n}")], who, &date);
        let tag_date = format!("2025-02-{:02}T16:00:00Z", n + 2);
        git(dir, &["tag", "-a", &format!("v1.{n}.0"), "-m", "release"], who, &tag_date);
    }
}

fn json_report(dir: &Path, repo: &Path, ws: &str) -> serde_json::Value {
    let repo = repo.to_str().unwrap();
    ok(dir, &["-q", "--workspace", ws, "report", "--repo", repo, "--format", "json", "--out", "r.json"]);
    serde_json::from_str(&fs::read_to_string(dir.join("r.json")).unwrap()).unwrap()
}

fn finding<'a>(doc: &'a serde_json::Value, question: &str) -> &'a serde_json::Value {
    doc["services"][0]["findings"].as_array().unwrap().iter().find(|f| f["question"] == question).unwrap()
}

#[test]
fn a_git_only_report_judges_ownership_by_the_history_never_by_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("flowgauge.toml"), "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-07-01\"\n")
        .unwrap();
    // One author, no CODEOWNERS, no incidents, no reviews: the history shows a truck factor of 1.
    let solo = dir.path().join("solo");
    tagged_repo(&solo, 4, &[ANA], &[]);
    let doc = json_report(dir.path(), &solo, "ws-solo");
    let ownership = finding(&doc, "ownership");
    assert_eq!(ownership["status"], "concern", "{ownership}");
    assert!(!ownership["summary"].as_str().unwrap().contains("Incidents are assigned"), "{ownership}");
    let areas: Vec<&str> =
        doc["services"][0]["ownership_gaps"].as_array().unwrap().iter().map(|g| g["area"].as_str().unwrap()).collect();
    assert!(areas.contains(&"truck factor") && areas.contains(&"codeowners coverage"), "{areas:?}");
    // With no incident collected, failures without one say nothing about monitoring.
    assert_ne!(finding(&doc, "monitoring")["status"], "fine");

    // The analysis is stored as evidence rows of the agreed shape.
    let ws = flowgauge::store::Workspace::open(&dir.path().join("ws-solo")).unwrap();
    let evidence = ws.load(&flowgauge::model::EVIDENCE).unwrap();
    let rows: Vec<(String, String, String, Option<f64>)> = (0..evidence.height())
        .filter_map(|i| {
            let cell = |c: &str| evidence.column(c).unwrap().get(i).unwrap().get_str().map(str::to_string);
            let value = evidence.column("value").unwrap().f64().unwrap().get(i);
            Some((cell("id")?, cell("source")?, cell("kind")?, value))
        })
        .filter(|r| r.1 == "ownership")
        .collect();
    let get = |id: &str| rows.iter().find(|r| r.0 == id).unwrap_or_else(|| panic!("no {id} in {rows:?}"));
    assert_eq!(
        (get("ownership:solo::truck-factor").2.as_str(), get("ownership:solo::truck-factor").3),
        ("gap", Some(1.0))
    );
    assert_eq!(get("ownership:solo::codeowners-coverage").3, Some(0.0));
    assert_eq!(get("ownership:solo::knowledge-loss").2, "practice");

    // Two people sharing the code under a CODEOWNERS file that covers it: judged, and fine.
    let shared = dir.path().join("shared");
    // Ana writes CODEOWNERS and one file, Ben two: each authors half of the files.
    tagged_repo(&shared, 3, &[ANA, BEN, BEN], &[(".github/CODEOWNERS", "* @acme/team\n")]);
    let doc = json_report(dir.path(), &shared, "ws-shared");
    let ownership = finding(&doc, "ownership");
    assert_eq!(ownership["status"], "fine", "{ownership}");
    assert!(ownership["summary"].as_str().unwrap().contains("git history"), "{ownership}");
    assert!(ownership["evidence"].to_string().contains("truck factor 2"), "{ownership}");
}

#[test]
fn a_shallow_clone_is_named_in_every_format_and_weakens_what_it_affects() {
    let dir = tempfile::tempdir().unwrap();
    // One event is enough for a confident level here, so only the warning can lower it.
    fs::write(
        dir.path().join("flowgauge.toml"),
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-07-01\"\nmin_sample = 1\nmin_weeks = 1\n",
    )
    .unwrap();
    let origin = dir.path().join("origin");
    tagged_repo(&origin, 6, &[ANA, BEN], &[]);
    let lead_time = |doc: &serde_json::Value| {
        doc["services"][0]["badges"].as_array().unwrap().iter().find(|b| b["metric"] == "Lead time").unwrap().clone()
    };
    let full = json_report(dir.path(), &origin, "ws-full");
    assert_eq!(lead_time(&full)["low_confidence"], false, "{}", lead_time(&full));
    assert!(full["data_warnings"].as_array().unwrap().is_empty());

    let clone = dir.path().join("clone");
    let url = format!("file://{}", origin.display());
    git(dir.path(), &["clone", "-q", "--depth", "3", &url, clone.to_str().unwrap()], ANA, "2025-03-01T00:00:00Z");
    let shallow = json_report(dir.path(), &clone, "ws-shallow");
    assert_eq!(shallow["data_warnings"][0]["kind"], "shallow-clone", "{}", shallow["data_warnings"]);
    let badge = lead_time(&shallow);
    assert_eq!(badge["low_confidence"], true, "{badge}");
    assert_eq!(badge["data_warnings"][0], "shallow clone", "{badge}");
    assert!(shallow["methodology"]["warnings"].to_string().contains("shallow clone"));
    assert!(shallow["services"][0]["warnings"].to_string().contains("Shallow clone"));
    assert_eq!(shallow["covers"]["repositories"][0], "clone");
    let ownership = &shallow["services"][0]["findings"][3];
    assert!(ownership["evidence"].to_string().contains("weakened by a data warning: shallow clone"), "{ownership}");

    // The Markdown summary and `metrics` say it too, and rate the level low-confidence.
    ok(dir.path(), &["-q", "--workspace", "ws-shallow", "report", "--format", "md", "--out", "r.md"]);
    assert!(fs::read_to_string(dir.path().join("r.md")).unwrap().contains("shallow clone"));
    let metrics: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["--workspace", "ws-shallow", "metrics", "--format", "json"])).unwrap();
    assert!(metrics["notes"].to_string().contains("shallow clone"), "{}", metrics["notes"]);
    assert_eq!(metrics["services"][0]["window"]["levels"]["lead_time"]["confidence"], "low");
    let table = ok(dir.path(), &["--workspace", "ws-shallow", "metrics"]);
    assert!(table.contains("shallow clone") && table.contains("low confidence"), "{table}");
}

#[test]
fn recommendation_titles_are_short_instructions_and_the_detail_is_the_body() {
    let (_dir, out) = sample_report("json", &[]);
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(out).unwrap()).unwrap();
    let mut manual = 0;
    for service in doc["services"].as_array().unwrap() {
        for r in service["recommendations"].as_array().unwrap() {
            let title = r["title"].as_str().unwrap();
            // A title names what to do; the step, file or finding that motivates it is a reason.
            assert!(title.chars().count() <= 100 && !title.contains('“') && !title.contains(':'), "{title}");
            if title == "Replace manual release steps with automated checks" {
                manual += 1;
                assert!(r["because"][0].as_str().unwrap().starts_with("start with the "), "{r}");
            }
        }
    }
    assert!(manual > 0, "the sample's manual steps are recommended away");
}

/// Incident trackers record who resolved an incident: `--anonymise` replaces those names like the
/// other people columns, and keeps `monitoring` (an auto-resolve, not a person) as it is.
#[test]
fn anonymise_replaces_who_resolved_an_incident() {
    use polars::prelude::*;
    let incidents = df!(
        "id" => ["a", "b", "c"],
        "assignee" => [Some("Olivia Grant"), None, Some("dana")],
        "resolved_by" => [Some("Olivia Grant"), Some("monitoring"), None],
        "detected_by" => [Some("person"), Some("monitoring"), None],
        "team" => [Some("Payments"), None, None],
    )
    .unwrap();
    let mut frames = flowgauge::metrics::prepare::Frames::new();
    frames.insert("incidents", incidents);
    flowgauge::report::anonymise(&mut frames).unwrap();
    let incidents = &frames["incidents"];
    let column = |name: &str| -> Vec<Option<String>> {
        incidents.column(name).unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    };
    let olivia = flowgauge::report::pseudonym("Olivia Grant");
    assert_eq!(column("resolved_by"), [Some(olivia.clone()), Some("monitoring".into()), None]);
    assert_eq!(column("assignee")[0], Some(olivia));
    // Who opened it is a kind (`monitoring`/`person`), and a team is no person: both stay.
    assert_eq!(column("detected_by"), [Some("person".into()), Some("monitoring".into()), None]);
    assert_eq!(column("team")[0].as_deref(), Some("Payments"));
}

/// The columns `--anonymise` rewrites are the ones docs/report.md and docs/data-model.md list.
#[test]
fn the_anonymised_columns_are_documented() {
    let report = fs::read_to_string(repo_root().join("docs/report.md")).unwrap();
    let section = &report[report.find("## Anonymisation").unwrap()..];
    let section = &section[..section.find("Limits:").unwrap()];
    let model = fs::read_to_string(repo_root().join("docs/data-model.md")).unwrap();
    for (table, column) in flowgauge::report::PEOPLE {
        let name = format!("`{table}.{column}`");
        assert!(section.contains(&name), "docs/report.md does not list {name}");
        assert!(model.contains(&name), "docs/data-model.md does not list {name}");
    }
    let digits = flowgauge::report::pseudonym("x").len() - "person-".len();
    assert!(section.contains(&format!("{digits} hexadecimal digits")), "docs/report.md misstates the pseudonym");
}
