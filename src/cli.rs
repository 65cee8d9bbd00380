//! Command-line wiring: arguments in, library calls, output and an exit code out.
//!
//! This is the only place that knows about terminals, flags and exit codes, and the only place that
//! uses `anyhow`. Exit codes (also in `docs/cli.md`): 0 success, 1 unexpected failure (including I/O),
//! 2 usage error or refused overwrite, 3 configuration error, 4 bad input data, 5 workspace busy or
//! invalid, 6 query or template error, 7 not found.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use flowgauge::assess::capabilities;
use flowgauge::collect::{self, Format, ImportKind, ImportRequest};
use flowgauge::config::{Config, Overrides};
use flowgauge::store::Workspace;
use flowgauge::{Error, export, metrics, report};

const EXAMPLES: &str = "\
Examples:
  flowgauge init                                   write a commented flowgauge.toml
  flowgauge import deploys.csv --kind deployments --service checkout
  flowgauge collect                                run every source in flowgauge.toml
  flowgauge metrics                                DORA metrics per service, as a table
  flowgauge metrics --period month --format json   for machines (shape: docs/cli.md)
  flowgauge explain lead-time --service checkout   which changes counted, which did not and why
  flowgauge report --out report.html               one self-contained HTML report
  flowgauge report --format md --out -             a Markdown summary for a pull-request comment
  flowgauge assess questionnaire --out answers.toml   the maturity questionnaire; then:
  flowgauge assess --answers answers.toml          capabilities scored from records and answers
  flowgauge --config sample-data/acme/flowgauge.toml metrics --collect

Exit codes: 0 ok, 1 unexpected (I/O), 2 usage, 3 configuration, 4 bad input, 5 workspace busy or
invalid, 6 query or template error, 7 not found.";

#[derive(Parser)]
#[command(name = "flowgauge", version, about = "How well does this organisation deliver software, and why?")]
#[command(after_help = EXAMPLES)]
struct Cli {
    /// Configuration file [default: ./flowgauge.toml when present]
    #[arg(long, global = true, env = "FLOWGAUGE_CONFIG")]
    config: Option<PathBuf>,
    /// Workspace directory holding collected data [default: ./.flowgauge]
    #[arg(long, global = true)]
    workspace: Option<PathBuf>,
    /// Start of the analysis window (YYYY-MM-DD, UTC, inclusive)
    #[arg(long, global = true)]
    since: Option<String>,
    /// End of the analysis window (YYYY-MM-DD, UTC, exclusive)
    #[arg(long, global = true)]
    until: Option<String>,
    /// Only print errors
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print what is being done and how long it took
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented starter flowgauge.toml
    Init {
        /// Where to write it
        #[arg(default_value = "flowgauge.toml")]
        path: PathBuf,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
    },
    /// Import a CSV, JSON or NDJSON file of deployments, incidents, changes, … (docs/import.md)
    Import {
        /// The file
        file: PathBuf,
        /// What the rows are
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(ImportKind::NAMES))]
        kind: String,
        /// Service for rows that name none
        #[arg(long)]
        service: Option<String>,
        /// File format [default: from the extension]
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
        /// Namespace for ids: rows' ids become NAMESPACE:KIND:ID
        #[arg(long, default_value = "import")]
        namespace: String,
    },
    /// Run every source configured in flowgauge.toml, or read one repository
    Collect {
        #[command(subcommand)]
        source: Option<CollectSource>,
        /// Collect only shard I of N of the configured sources (every N-th, from the I-th), beside other
        /// shards writing the same workspace at the same time (docs/workspace.md)
        #[arg(long, value_name = "I/N", value_parser = collect::shard::Shard::parse)]
        shard: Option<collect::shard::Shard>,
    },
    /// Who owns what: CODEOWNERS coverage, degree of authorship, truck factor, knowledge loss
    Ownership {
        /// The repository to analyse
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Its name as `services.repos` lists it (`owner/name`) [default: the directory name]
        #[arg(long)]
        name: Option<String>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Whose CODEOWNERS rules apply [default: gitlab when .gitlab-ci.yml or .gitlab/ exists, else github]
        #[arg(long, value_enum)]
        forge: Option<Forge>,
    },
    /// Compute the DORA metrics per service
    Metrics {
        #[command(flatten)]
        common: MetricArgs,
        /// Period of the trend rows in the table: week, month or quarter
        #[arg(long)]
        period: Option<String>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Collect the configured sources first
        #[arg(long)]
        collect: bool,
    },
    /// Write the report: one self-contained HTML file (or a Markdown summary, or JSON)
    Report {
        #[command(flatten)]
        common: MetricArgs,
        #[command(flatten)]
        options: ReportOptions,
        /// Collect the configured sources first
        #[arg(long)]
        collect: bool,
    },
    /// List the records behind a metric: those counted and those excluded, with the reason
    Explain {
        /// lead-time, deployment-frequency, change-failure-rate, recovery-time, time-to-restore, rework-rate
        metric: String,
        #[command(flatten)]
        common: MetricArgs,
        /// Output format (json is not offered: use csv for machines)
        #[arg(long, value_enum, default_value = "table")]
        format: RecordFormat,
    },
    /// Run ad-hoc SQL over the tables the metric queries see (docs/export.md lists them)
    Sql {
        /// One SQL statement, e.g. "SELECT service, COUNT(*) FROM deployment_outcomes GROUP BY service"
        statement: String,
        #[command(flatten)]
        common: QueryArgs,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Write the tables and metric queries for DuckDB, Trino or Spark SQL, or load them into PostgreSQL (docs/export.md)
    Export {
        /// The engine whose script to write, beside the tables as parquet
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(export::dialect::Dialect::NAMES), required_unless_present = "postgres", conflicts_with = "postgres")]
        sql: Option<String>,
        /// Load the domain tables and the metrics into PostgreSQL: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (password also from PGPASSWORD)
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
        /// With --postgres: the schema to load into (created when missing)
        #[arg(long, default_value = "flowgauge", requires = "postgres")]
        schema: String,
        /// The directory to write (an earlier export there is replaced)
        #[arg(long, default_value = "flowgauge-export")]
        out: PathBuf,
        /// Where the engine will find the tables, e.g. s3://bucket/flowgauge [default: the absolute path of OUT/tables]
        #[arg(long, conflicts_with = "postgres")]
        location: Option<String>,
        #[command(flatten)]
        common: QueryArgs,
    },
    /// Maturity assessment: every delivery capability scored from the records and from the team's answers
    Assess {
        #[command(subcommand)]
        action: Option<AssessAction>,
        #[command(flatten)]
        common: MetricArgs,
        /// The team's answers (TOML answers files or survey-tool CSV) [default: `assessment.answers` in flowgauge.toml]
        #[arg(long, num_args = 1..)]
        answers: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Capability catalogue replacing the built-in one
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AssessAction {
    /// Write the questionnaire to fill in: every survey item and the Quick Check's five questions
    Questionnaire {
        /// The service it asks about [default: every service]
        #[arg(long)]
        service: Option<String>,
        /// Where to write it
        #[arg(long, short)]
        out: PathBuf,
        /// How many blank respondent tables to write
        #[arg(long, default_value_t = 1)]
        respondents: usize,
        /// Overwrite an existing file
        #[arg(long)]
        force: bool,
        /// Capability catalogue replacing the built-in one
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
    /// List the records behind an indicator
    Explain {
        /// Indicator id, e.g. ci.pipeline_before_merge
        indicator: String,
        /// The service
        #[arg(long)]
        service: String,
        /// Capability catalogue replacing the built-in one
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CollectSource {
    /// Read a local git repository's history (commits, changes from merges and squashes, tag releases)
    Git {
        /// Path to the repository
        path: PathBuf,
        /// Its name as `services.repos` lists it (`owner/name`) [default: the directory name]
        #[arg(long)]
        name: Option<String>,
        /// Tags (glob) that mark releases, e.g. `v*` or `app-*` [default: each service's deploy_tags, else semantic versions]
        #[arg(long, value_name = "GLOB")]
        tags: Option<String>,
    },
    /// Collect pull requests (commits, reviews, first responses) from GitHub; token from GITHUB_TOKEN or GH_TOKEN
    Github {
        /// The repository, owner/name [default: every `type = "github"` source in flowgauge.toml]
        #[arg(long)]
        repo: Option<String>,
        /// REST API root, for GitHub Enterprise: https://HOST/api/v3 [default: the source's api_url, else https://api.github.com]
        #[arg(long)]
        api_url: Option<String>,
        /// Rebuild the rows from the raw pages already in the workspace, without the network
        #[arg(long)]
        offline: bool,
    },
    /// Collect merge requests, pipelines, jobs and deployments from GitLab; token from GITLAB_TOKEN (or CI_JOB_TOKEN in GitLab CI)
    Gitlab {
        /// The project, group/subgroup/name or its numeric id [default: every `type = "gitlab"` source in flowgauge.toml]
        #[arg(long)]
        project: Option<String>,
        /// The instance's root URL, for self-managed GitLab: https://HOST [default: the source's api_url, else https://gitlab.com]
        #[arg(long)]
        api_url: Option<String>,
        /// Rebuild the rows from the raw pages already in the workspace, without the network
        #[arg(long)]
        offline: bool,
        /// Every project of this group and its subgroups that a service names in `repos`; the others are listed, not collected
        #[arg(long, conflicts_with_all = ["project", "offline"])]
        group: Option<String>,
    },
    /// Collect incidents (with their log entries and related change events) from PagerDuty; token from PAGERDUTY_TOKEN
    Pagerduty {
        /// The account, as the source's `account` names it [default: every `type = "pagerduty"` source in flowgauge.toml]
        #[arg(long)]
        account: Option<String>,
        /// REST API root, e.g. https://api.eu.pagerduty.com [default: the source's api_url, else https://api.pagerduty.com]
        #[arg(long)]
        api_url: Option<String>,
        /// Rebuild the rows from the raw pages already in the workspace, without the network
        #[arg(long)]
        offline: bool,
    },
    /// Collect incidents from Jira Cloud / Jira Service Management or Jira Data Center; credentials from JIRA_EMAIL and JIRA_TOKEN, or JIRA_PAT
    Jira {
        /// Only the configured jira source with this site root [default: every `type = "jira"` source in flowgauge.toml]
        #[arg(long)]
        api_url: Option<String>,
        /// Rebuild the rows from the raw pages already in the workspace, without the network
        #[arg(long)]
        offline: bool,
    },
}

#[derive(Args, Default)]
struct MetricArgs {
    /// Read this local git repository first (no configuration needed: releases come from semantic-version tags),
    /// into its own workspace under .flowgauge/repos/ unless --workspace or a configuration file names one
    #[arg(long)]
    repo: Option<PathBuf>,
    /// With --repo: tags (glob) that mark releases, e.g. `v*` [default: each service's deploy_tags, else semantic versions]
    #[arg(long, value_name = "GLOB", requires = "repo")]
    tags: Option<String>,
    /// Only this service
    #[arg(long)]
    service: Option<String>,
    /// Directory of .sql files replacing the built-in metric definitions of the same name
    #[arg(long)]
    queries: Option<PathBuf>,
    /// DORA report whose thresholds set the levels
    #[arg(long)]
    benchmark_year: Option<i64>,
}

/// What `sql` and `export` read: the workspace, optionally a repository first, and the query files.
#[derive(Args)]
struct QueryArgs {
    /// Read this local git repository first, as for `metrics --repo`
    #[arg(long)]
    repo: Option<PathBuf>,
    /// With --repo: tags (glob) that mark releases, e.g. `v*` [default: each service's deploy_tags, else semantic versions]
    #[arg(long, value_name = "GLOB", requires = "repo")]
    tags: Option<String>,
    /// Directory of .sql files replacing the built-in metric definitions of the same name
    #[arg(long)]
    queries: Option<PathBuf>,
}

impl QueryArgs {
    fn as_metric_args(&self) -> MetricArgs {
        MetricArgs {
            repo: self.repo.clone(),
            tags: self.tags.clone(),
            queries: self.queries.clone(),
            ..Default::default()
        }
    }
}

#[derive(Args)]
struct ReportOptions {
    /// Where to write it; `-` for standard output [default: report.html, report.md or report.json]
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// html: the full report; md: a short summary for a CI job or pull-request comment; json: the data
    #[arg(long, value_enum, default_value = "html")]
    format: ReportFormat,
    /// Directory of templates replacing the built-in ones of the same name (report.html, service.html, style.css, report.md, capabilities.html)
    #[arg(long)]
    templates: Option<PathBuf>,
    /// Replace people's names with stable pseudonyms everywhere
    #[arg(long)]
    anonymise: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Html,
    Md,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Forge {
    Github,
    Gitlab,
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Csv,
    Json,
    Ndjson,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum RecordFormat {
    Table,
    Csv,
}

/// Parses arguments, runs, prints any error and returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match execute(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

fn exit_code(e: &anyhow::Error) -> i32 {
    match e.downcast_ref::<Error>() {
        Some(Error::ConfigSyntax { .. } | Error::ConfigValue { .. }) => 3,
        Some(
            Error::ImportRow { .. }
            | Error::ImportFile { .. }
            | Error::Git { .. }
            | Error::Github { .. }
            | Error::Gitlab { .. }
            | Error::Pagerduty { .. }
            | Error::Jira { .. },
        ) => 4,
        Some(Error::WorkspaceLocked { .. } | Error::Workspace { .. }) => 5,
        Some(Error::Query { .. } | Error::Template { .. }) => 6,
        Some(Error::NotFound(_)) => 7,
        Some(Error::Refused(_)) => 2,
        _ => 1,
    }
}

struct Session {
    config: Config,
    workspace_dir: PathBuf,
    quiet: bool,
    verbose: bool,
}

impl Session {
    /// Where GitHub collection draws its progress line; nothing with `--quiet`.
    fn progress(&self) -> Option<collect::github::ProgressSink> {
        (!self.quiet).then(progress_line)
    }

    fn note(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", message.as_ref());
        }
    }

    fn detail(&self, message: impl AsRef<str>) {
        if self.verbose && !self.quiet {
            eprintln!("{}", message.as_ref());
        }
    }

    fn workspace(&self) -> flowgauge::Result<Workspace> {
        Workspace::open(&self.workspace_dir)
    }
}

fn load_context(cli: &Cli, extra: Overrides) -> anyhow::Result<Session> {
    load_context_for(cli, extra, None)
}

/// Like [`load_context`], for a command reading the repository `repo` (`--repo`): unless a
/// workspace is named (`--workspace`, `FLOWGAUGE_WORKSPACE`, the configuration), the repository
/// gets a workspace of its own, so a report on one repository never shows another's data.
fn load_context_for(cli: &Cli, extra: Overrides, repo: Option<&Path>) -> anyhow::Result<Session> {
    let file = match &cli.config {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from("flowgauge.toml")).filter(|p| p.exists()),
    };
    let overrides =
        Overrides { since: cli.since.clone(), until: cli.until.clone(), workspace: cli.workspace.clone(), ..extra };
    let config = Config::load(file.as_deref(), &|k| std::env::var(k).ok(), &overrides, chrono::Utc::now())?;
    let shared = PathBuf::from(".flowgauge");
    let workspace_dir = match (&config.workspace, repo) {
        (Some(dir), _) => dir.clone(),
        // A configuration file describes one organisation: `--repo` adds a repository to its data.
        (None, Some(_)) if file.is_some() => shared.clone(),
        (None, Some(repo)) => repo_workspace(repo),
        (None, None) => shared.clone(),
    };
    let session = Session { config, workspace_dir, quiet: cli.quiet, verbose: cli.verbose };
    if let Some(repo) = repo {
        session.detail(format!("workspace for {}: {}", repo.display(), session.workspace_dir.display()));
        // Say so when data imported or collected into the shared workspace is left out.
        if session.workspace_dir != shared && shared.join("manifest.json").is_file() {
            session.note(format!(
                "note: --repo {} reads into its own workspace {}; the data already in {} (imports, other sources) is not included: pass --workspace {} to combine them",
                repo.display(),
                session.workspace_dir.display(),
                shared.display(),
                shared.display()
            ));
        }
    }
    Ok(session)
}

/// `.flowgauge/repos/<directory name>-<hash of the canonical path>`: the same repository always
/// lands in the same workspace (collecting it again upserts), two repositories never share one,
/// even when their directories have the same name.
fn repo_workspace(repo: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    let name = canonical.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "repo".into());
    let name: String = name.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    PathBuf::from(".flowgauge").join("repos").join(format!("{name}-{:08x}", path_hash(&canonical) as u32))
}

/// FNV-1a: stable across runs, platforms and Rust versions (unlike the standard library's hasher).
fn path_hash(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Init { path, force } => init(path, *force, cli.quiet),
        Command::Import { file, kind, service, format, namespace } => {
            let ctx = load_context(&cli, Overrides::default())?;
            let request = ImportRequest {
                path: file.clone(),
                kind: ImportKind::parse(kind).expect("clap checked the kind"),
                format: format.map(|f| match f {
                    FileFormat::Csv => Format::Csv,
                    FileFormat::Json => Format::Json,
                    FileFormat::Ndjson => Format::Ndjson,
                }),
                service: service.clone(),
                namespace: namespace.clone(),
            };
            if let Some(service) = service
                && !ctx.config.services.is_empty()
                && ctx.config.service(service).is_none()
            {
                return Err(
                    Error::NotFound(format!("--service {service}: no such service in the configuration")).into()
                );
            }
            let mut workspace = ctx.workspace()?;
            let report = collect::import_file(&mut workspace, &ctx.config, &request)?;
            print_import(&ctx, &report);
            Ok(())
        }
        Command::Collect { source, shard } => {
            let ctx = load_context(&cli, Overrides::default())?;
            match source {
                None => match shard {
                    Some(shard) => collect_shard(&ctx, *shard),
                    None => collect_all(&ctx),
                },
                Some(_) if shard.is_some() => Err(Error::Refused(
                    "--shard splits the configured sources: give it to `flowgauge collect` without a source".into(),
                )
                .into()),
                Some(CollectSource::Git { path, name, tags }) => {
                    let ctx = with_release_tags(ctx, tags.as_deref())?;
                    collect_repo(&ctx, path, name.as_deref())
                }
                Some(CollectSource::Github { repo, api_url, offline }) => {
                    collect_github(&ctx, repo.as_deref(), api_url.as_deref(), *offline)
                }
                Some(CollectSource::Gitlab { api_url, group: Some(group), .. }) => {
                    collect_gitlab_group(&ctx, group, api_url.as_deref())
                }
                Some(CollectSource::Gitlab { project, api_url, offline, group: None }) => {
                    collect_gitlab(&ctx, project.as_deref(), api_url.as_deref(), *offline)
                }
                Some(CollectSource::Jira { api_url, offline }) => collect_jira(&ctx, api_url.as_deref(), *offline),
                Some(CollectSource::Pagerduty { account, api_url, offline }) => {
                    collect_pagerduty(&ctx, account.as_deref(), api_url.as_deref(), *offline)
                }
            }
        }
        Command::Ownership { repo, name, format, forge } => {
            let ctx = load_context(&cli, Overrides::default())?;
            let dialect = forge.map(|f| match f {
                Forge::Github => flowgauge::ownership::codeowners::Dialect::GitHub,
                Forge::Gitlab => flowgauge::ownership::codeowners::Dialect::GitLab,
            });
            ownership(&ctx, repo, name.as_deref(), *format, dialect)
        }
        Command::Metrics { common, period, format, collect } => {
            let ctx = metric_context(&cli, common, Overrides { period: period.clone(), ..Default::default() })?;
            if *collect {
                collect_all(&ctx)?;
            }
            let c = compute_all(&ctx, common, false)?;
            let notes = metrics::limitations(&c.tables);
            let mut metrics_report = c.report;
            if let Some(service) = &common.service {
                metrics_report.services.retain(|s| &s.service == service);
            }
            let data_warnings = report::warnings::recorded(Some(&c.manifest));
            let rated = report::rate(&metrics_report, &ctx.config, notes, &data_warnings);
            let text = match format {
                OutputFormat::Table => report::render_table(&rated, ctx.config.analysis.period),
                OutputFormat::Json => report::render_json(&rated),
                OutputFormat::Csv => report::render_csv(&rated),
            };
            write_stdout(&text)
        }
        Command::Report { common, options, collect } => {
            let ctx = metric_context(&cli, common, Overrides::default())?;
            if *collect {
                collect_all(&ctx)?;
            }
            write_report(&ctx, common, options)
        }
        Command::Explain { metric, common, format } => {
            let ctx = metric_context(&cli, common, Overrides::default())?;
            let c = compute_all(&ctx, common, false)?;
            let records = metrics::explain(&c.computation, metric, common.service.as_deref())?;
            let text = match format {
                RecordFormat::Table => {
                    let mut text = report::render_records(&records);
                    // GitLab's own figures, beside the records (not in CSV, which stays one table).
                    for line in forge_figures(&c, Some(metric), common.service.as_deref())? {
                        text.push_str(&format!("\n{line}\n"));
                    }
                    text
                }
                RecordFormat::Csv => report::render_records_csv(&records),
            };
            write_stdout(&text)
        }
        Command::Sql { statement, common, format } => {
            let common = &common.as_metric_args();
            let ctx = metric_context(&cli, common, Overrides::default())?;
            let (_, snapshot) = snapshot(&ctx, common)?;
            let df = export::adhoc::run(&snapshot, statement)?;
            let text = match format {
                OutputFormat::Table => export::adhoc::render_table(&df),
                OutputFormat::Csv => export::adhoc::render_csv(&df),
                OutputFormat::Json => export::adhoc::render_json(&df),
            };
            write_stdout(&text)
        }
        Command::Export { sql, postgres, schema, out, location, common } => {
            let common = &common.as_metric_args();
            let ctx = metric_context(&cli, common, Overrides::default())?;
            let (tables, snapshot) = snapshot(&ctx, common)?;
            if let Some(url) = postgres {
                let password = std::env::var("PGPASSWORD").ok();
                let target = export::postgres::Target { url, password: password.as_deref(), schema };
                let loaded = export::postgres::load(&tables, &snapshot, &target)?;
                let rows: usize = loaded.tables.iter().map(|(_, n)| n).sum();
                ctx.note(format!(
                    "loaded {} tables ({rows} rows) into schema {} of {}",
                    loaded.tables.len(),
                    loaded.schema,
                    loaded.target
                ));
                return Ok(());
            }
            let sql = sql.as_deref().expect("clap requires --sql or --postgres");
            let dialect = export::dialect::Dialect::parse(sql).expect("clap checked the dialect");
            let queries = metrics::queries::load(common.queries.as_deref())?;
            let written = export::write_sql(&snapshot, &queries, dialect, out, location.as_deref())?;
            ctx.note(format!(
                "wrote {} tables under {} and {}",
                written.tables,
                written.dir.join("tables").display(),
                written.script.display()
            ));
            Ok(())
        }
        Command::Assess { action, common, answers, format, catalogue: outer } => {
            let ctx = metric_context(&cli, common, Overrides::default())?;
            match action {
                None => assess(&ctx, common, answers, *format, outer.as_deref()),
                Some(AssessAction::Questionnaire { service, out, respondents, force, catalogue }) => {
                    let catalogue = catalogue.as_deref().or(outer.as_deref());
                    questionnaire(&ctx, service.as_deref(), out, *respondents, *force, catalogue)
                }
                Some(AssessAction::Explain { indicator, service, catalogue }) => {
                    let catalogue = catalogue.as_deref().or(outer.as_deref());
                    let args = MetricArgs { service: Some(service.clone()), ..MetricArgs::default() };
                    let c = compute_all(&ctx, &args, false)?;
                    let catalogue = capabilities::Catalogue::load(catalogue_file(&ctx, catalogue))?;
                    let answers = capabilities::survey::Answers::default();
                    let input = assess_input(&ctx, &c, &catalogue, &answers);
                    let (known, measurement) = capabilities::explain(&input, indicator, service)?;
                    write_stdout(&capabilities::render_explain(&known, &measurement))
                }
            }
        }
    }
}

fn assess_input<'a>(
    ctx: &'a Session,
    c: &'a Computed,
    catalogue: &'a capabilities::Catalogue,
    answers: &'a capabilities::survey::Answers,
) -> capabilities::AssessInput<'a> {
    capabilities::AssessInput {
        catalogue,
        tables: &c.tables,
        computation: &c.computation,
        metrics: &c.report,
        config: &ctx.config,
        answers,
    }
}

/// The services answers may name: the configured ones, or, with none configured, those in the data.
fn answerable_services(ctx: &Session, data: &[String]) -> Vec<String> {
    if ctx.config.services.is_empty() {
        data.to_vec()
    } else {
        ctx.config.services.iter().map(|s| s.name.clone()).collect()
    }
}

fn assess(
    ctx: &Session,
    common: &MetricArgs,
    answers: &[PathBuf],
    format: OutputFormat,
    catalogue: Option<&Path>,
) -> anyhow::Result<()> {
    let catalogue = capabilities::Catalogue::load(catalogue_file(ctx, catalogue))?;
    let c = compute_all(ctx, common, false)?;
    let files = if answers.is_empty() { ctx.config.assessment.answers.clone() } else { answers.to_vec() };
    let answers =
        capabilities::survey::Answers::read(&files, &catalogue, &answerable_services(ctx, &c.computation.services))?;
    let mut cards = capabilities::assess(&assess_input(ctx, &c, &catalogue, &answers), common.service.as_deref())?;
    if !answers.respondents.is_empty() {
        let date = answers.date.unwrap_or_else(|| chrono::Utc::now().date_naive());
        let mut workspace = ctx.workspace()?;
        let earlier = capabilities::snapshot::load(workspace.root())?;
        let mut snapshots = Vec::new();
        for card in cards.iter_mut().filter(|c| c.respondents > 0) {
            let snapshot = card.snapshot(date);
            card.since_last_assessment = capabilities::snapshot::movement_since(&earlier, &snapshot);
            snapshots.push(snapshot);
        }
        capabilities::snapshot::save(&mut workspace, &snapshots)?;
        ctx.note(format!(
            "kept the assessment of {date} in {}",
            workspace.location().join(capabilities::snapshot::FILE).display()
        ));
    }
    let text = match format {
        OutputFormat::Table => capabilities::scorecard::render_table(&cards),
        OutputFormat::Json => serde_json::to_string_pretty(&cards).context("serialising")? + "\n",
        OutputFormat::Csv => capabilities::scorecard::render_csv(&cards),
    };
    write_stdout(&text)
}

fn questionnaire(
    ctx: &Session,
    service: Option<&str>,
    out: &Path,
    respondents: usize,
    force: bool,
    catalogue: Option<&Path>,
) -> anyhow::Result<()> {
    let catalogue = capabilities::Catalogue::load(catalogue_file(ctx, catalogue))?;
    if let Some(service) = service
        && !ctx.config.services.is_empty()
        && ctx.config.service(service).is_none()
    {
        return Err(Error::NotFound(format!("--service {service}: no such service in the configuration")).into());
    }
    if out.exists() && !force {
        return Err(Error::Refused(format!("{} already exists; pass --force to overwrite it", out.display())).into());
    }
    let text = capabilities::survey::questionnaire(&catalogue, service, chrono::Utc::now().date_naive(), respondents);
    write_atomically(out, text.as_bytes())?;
    ctx.note(format!("wrote {} ({} survey items, 5 Quick Check questions)", out.display(), catalogue.items.len()));
    Ok(())
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

fn init(path: &Path, force: bool, quiet: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        return Err(Error::Refused(format!("{} already exists; pass --force to overwrite it", path.display())).into());
    }
    std::fs::write(path, flowgauge::config::STARTER).map_err(|e| Error::io(path, e))?;
    if !quiet {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn collect_all(ctx: &Session) -> anyhow::Result<()> {
    if ctx.config.sources.is_empty() {
        ctx.note("no sources configured: add [[sources]] to flowgauge.toml (see `flowgauge init`)");
    }
    let mut workspace = ctx.workspace()?;
    collect_into(ctx, &mut workspace, &ctx.config)
}

/// `collect --shard I/N`: this shard's sources, written beside the other shards' (docs/workspace.md).
fn collect_shard(ctx: &Session, shard: collect::shard::Shard) -> anyhow::Result<()> {
    let config = shard.of(&ctx.config);
    ctx.note(format!(
        "shard {}/{}: {} of {} configured sources",
        shard.index,
        shard.count,
        config.sources.len(),
        ctx.config.sources.len()
    ));
    let mut workspace = Workspace::open_shared(&ctx.workspace_dir)?;
    collect_into(ctx, &mut workspace, &config)
}

/// Every HTTP source's secret, read from the environment here, at the edge, and passed into the
/// library, which never reads the environment itself.
fn credentials_from_env() -> collect::Credentials {
    let env = |k: &str| std::env::var(k).ok();
    collect::Credentials {
        github: collect::github::token_from_env(&env),
        gitlab: collect::gitlab::Credentials::from_env(&env),
        pagerduty: collect::pagerduty::token_from_env(&env),
        jira: collect::jira::client::Auth::from_env(&env),
    }
}

fn collect_into(ctx: &Session, workspace: &mut Workspace, config: &Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let credentials = credentials_from_env();
    for report in collect::collect_configured_with_credentials(workspace, config, &credentials, ctx.progress())? {
        match report {
            collect::SourceReport::Import(r) => print_import(ctx, &r),
            collect::SourceReport::Git(r) => print_git(ctx, &r),
            collect::SourceReport::Github(r) => print_github(ctx, &r),
            collect::SourceReport::Gitlab(r) => print_gitlab(ctx, &r),
            collect::SourceReport::Jira(r) => print_jira(ctx, &r),
            collect::SourceReport::Pagerduty(r) => print_pagerduty(ctx, &r),
        }
    }
    ctx.detail(format!("collected in {:.2?}", started.elapsed()));
    Ok(())
}

/// The session with `--tags` applied: the given tags mark the releases of the repository read.
/// The session of a command that computes metrics: its benchmark year, the repository's own
/// workspace for `--repo`, and `--tags` as the release tags.
fn metric_context(cli: &Cli, common: &MetricArgs, extra: Overrides) -> anyhow::Result<Session> {
    let overrides = Overrides { benchmark_year: common.benchmark_year, ..extra };
    let ctx = load_context_for(cli, overrides, common.repo.as_deref())?;
    with_release_tags(ctx, common.tags.as_deref())
}

fn with_release_tags(mut ctx: Session, tags: Option<&str>) -> anyhow::Result<Session> {
    if let Some(pattern) = tags {
        ctx.config.git.set_release_tags(pattern)?;
    }
    Ok(ctx)
}

fn collect_repo(ctx: &Session, path: &Path, name: Option<&str>) -> anyhow::Result<()> {
    let started = Instant::now();
    // Read first: a path that is not a repository must not leave an empty workspace behind.
    let history = flowgauge::collect::git::read(path, name, &ctx.config.git.bots)?;
    let mut workspace = ctx.workspace()?;
    let report = collect::store_git(&mut workspace, &ctx.config, &history)?;
    print_git(ctx, &report);
    ctx.detail(format!("read {} in {:.2?}", path.display(), started.elapsed()));
    Ok(())
}

/// The sources `collect <type>` reads: with a name on the command line, the configured sources of
/// the type it names (`names`) or, when none does, what `unconfigured` makes of the name; without
/// one, every configured source of the type (`of_type`), and `none_configured` when there is none.
fn sources_to_collect<T>(
    ctx: &Session,
    of_type: impl Fn(&flowgauge::config::Source) -> Option<T>,
    named: Option<&str>,
    names: impl Fn(&T, &str) -> bool,
    unconfigured: impl FnOnce(&str) -> anyhow::Result<T>,
    none_configured: &str,
) -> anyhow::Result<Vec<T>> {
    let configured = ctx.config.sources.iter().filter_map(of_type);
    match named {
        Some(name) => {
            let chosen: Vec<T> = configured.filter(|s| names(s, name)).collect();
            if chosen.is_empty() { Ok(vec![unconfigured(name)?]) } else { Ok(chosen) }
        }
        None => {
            let all: Vec<T> = configured.collect();
            if all.is_empty() { Err(Error::NotFound(none_configured.to_string()).into()) } else { Ok(all) }
        }
    }
}

/// `--api-url` points a source at another server; one read from recorded pages asks none, so the
/// flag is refused rather than silently ignored. `recorded` names a source read from pages.
fn refuse_api_url_for_recorded<T>(
    api_url: Option<&str>,
    targets: &[T],
    recorded: impl Fn(&T) -> Option<String>,
) -> anyhow::Result<()> {
    match (api_url, targets.iter().find_map(recorded)) {
        (Some(_), Some(name)) => Err(Error::Refused(format!(
            "--api-url does not apply to {name}: the configuration reads it from recorded pages"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// What one HTTP source's collection did: its summary line, then each of its warnings.
fn print_collected(ctx: &Session, summary: String, warnings: &[String]) {
    ctx.note(summary);
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// How a summary line says that a run continued an interrupted one.
fn resumed_note(resumed: bool) -> &'static str {
    if resumed { ", resumed an interrupted run" } else { "" }
}

fn collect_github(ctx: &Session, repo: Option<&str>, api_url: Option<&str>, offline: bool) -> anyhow::Result<()> {
    use flowgauge::config::{GithubSource, Source};
    let targets = sources_to_collect(
        ctx,
        |s| match s {
            Source::Github(g) => Some(g.clone()),
            _ => None,
        },
        repo,
        |g: &GithubSource, repo| g.repo == repo,
        |repo| {
            Ok(GithubSource {
                repo: repo.to_string(),
                api_url: None,
                max_wait_seconds: None,
                incident_labels: vec!["incident".to_string()],
                recorded: None,
                all_jobs: false,
            })
        },
        "no GitHub repository to collect: pass --repo owner/name or add [[sources]] type = \"github\" to flowgauge.toml",
    )?;
    refuse_api_url_for_recorded(api_url, &targets, |s| s.recorded.is_some().then(|| s.repo.clone()))?;
    let mut workspace = ctx.workspace()?;
    let token = credentials_from_env().github;
    if token.is_none() && !offline && targets.iter().any(|s| s.recorded.is_none()) {
        ctx.note("warning: neither GITHUB_TOKEN nor GH_TOKEN is set: unauthenticated requests are limited to 60 an hour and see public repositories only");
    }
    for mut source in targets {
        let repo = source.repo.clone();
        if let Some(url) = api_url {
            source.api_url = Some(url.to_string());
        }
        let started = Instant::now();
        // Recorded pages are read as they are, --offline or not.
        let report = if offline && source.recorded.is_none() {
            collect::github::reextract(&mut workspace, &ctx.config, &repo)?
        } else {
            collect::collect_github_source(&mut workspace, &ctx.config, &source, token.clone(), ctx.progress())?
        };
        print_github(ctx, &report);
        ctx.detail(format!("collected {repo} in {:.2?}", started.elapsed()));
    }
    Ok(())
}

fn collect_gitlab(ctx: &Session, project: Option<&str>, api_url: Option<&str>, offline: bool) -> anyhow::Result<()> {
    use flowgauge::config::{GitlabSource, Source};
    if let Some(project) = project {
        collect::gitlab::check_project(project)?;
    }
    let targets = sources_to_collect(
        ctx,
        |s| match s {
            Source::Gitlab(g) => Some(g.clone()),
            _ => None,
        },
        project,
        |g: &GitlabSource, project| g.project == project,
        |project| {
            Ok(GitlabSource {
                project: project.to_string(),
                api_url: None,
                max_wait_seconds: None,
                recorded: None,
                incident_labels: Vec::new(),
            })
        },
        "no GitLab project to collect: pass --project group/name or add [[sources]] type = \"gitlab\" to flowgauge.toml",
    )?;
    refuse_api_url_for_recorded(api_url, &targets, |s| s.recorded.is_some().then(|| s.project.clone()))?;
    let mut workspace = ctx.workspace()?;
    let credentials = credentials_from_env().gitlab;
    if credentials.secret().is_none() && !offline && targets.iter().any(|s| s.recorded.is_none()) {
        ctx.note("warning: neither GITLAB_TOKEN nor CI_JOB_TOKEN is set: unauthenticated requests see public projects only, without approvals or protected environments");
    }
    for mut source in targets {
        let project = source.project.clone();
        if let Some(url) = api_url {
            source.api_url = Some(url.to_string());
        }
        let started = Instant::now();
        let report = if offline && source.recorded.is_none() {
            let mut report = collect::gitlab::reextract(&mut workspace, &ctx.config, &project)?;
            let service =
                ctx.config.service_for_repo(&project).cloned().unwrap_or_else(|| collect::default_service(&project));
            let extras = collect::gitlab::extras::reextract(&mut workspace, &project, &service)?;
            report.pages += extras.pages;
            report.evidence += extras.evidence_rows;
            report
        } else {
            collect::collect_gitlab_source(&mut workspace, &ctx.config, &source, credentials.clone(), ctx.progress())?
        };
        print_gitlab(ctx, &report);
        ctx.detail(format!("collected {project} in {:.2?}", started.elapsed()));
    }
    Ok(())
}

/// `collect gitlab --group`: walks the group, names the projects no service claims, and collects
/// the others one by one.
fn collect_gitlab_group(ctx: &Session, group: &str, api_url: Option<&str>) -> anyhow::Result<()> {
    let credentials = credentials_from_env().gitlab;
    let mut request = collect::gitlab::GitlabRequest::new(group, api_url, credentials.clone());
    request.project = group.to_string();
    let plan = collect::gitlab::extras::walk_group_blocking(&ctx.config, &request)?;
    if let Some(warning) = plan.unmapped_warning(group) {
        ctx.note(format!("warning: {warning}"));
    }
    if plan.mapped.is_empty() {
        return Err(Error::NotFound(format!(
            "group {group}: no project of it is named in a service's `repos`; add them to flowgauge.toml"
        ))
        .into());
    }
    let mut workspace = ctx.workspace()?;
    for (project, _) in &plan.mapped {
        // A project also configured as a source keeps its settings (incident labels, longest wait).
        let configured = ctx.config.sources.iter().find_map(|s| match s {
            flowgauge::config::Source::Gitlab(g) if g.project == project.path && g.recorded.is_none() => Some(g),
            _ => None,
        });
        let source = flowgauge::config::GitlabSource {
            project: project.path.clone(),
            api_url: Some(request.api_url.clone()),
            max_wait_seconds: configured.and_then(|g| g.max_wait_seconds),
            recorded: None,
            incident_labels: configured.map(|g| g.incident_labels.clone()).unwrap_or_default(),
        };
        let report =
            collect::collect_gitlab_source(&mut workspace, &ctx.config, &source, credentials.clone(), ctx.progress())?;
        print_gitlab(ctx, &report);
    }
    Ok(())
}

fn print_gitlab(ctx: &Session, r: &collect::gitlab::GitlabReport) {
    let left =
        r.rate_remaining.map(|n| format!(", {n} requests left in GitLab's rate-limit window")).unwrap_or_default();
    print_collected(
        ctx,
        format!(
            "GitLab {}: {} pages, {} requests ({} retried){}{}; {} merge requests, {} reviews and approvals, {} commits of merge requests, {} pipelines, {} jobs, {} deployments, {} deployment approvals, {} commits shipped, {} settings findings",
            r.project,
            r.pages,
            r.requests,
            r.retries,
            resumed_note(r.resumed),
            left,
            r.changes,
            r.reviews,
            r.change_commits,
            r.pipelines,
            r.jobs,
            r.deployments,
            r.approvals,
            r.deployment_commits,
            r.evidence,
        ),
        &r.warnings,
    );
}

fn collect_pagerduty(ctx: &Session, account: Option<&str>, api_url: Option<&str>, offline: bool) -> anyhow::Result<()> {
    use flowgauge::collect::pagerduty;
    use flowgauge::config::{PagerdutySource, Source};
    let targets = sources_to_collect(
        ctx,
        |s| match s {
            Source::Pagerduty(p) => Some(p.clone()),
            _ => None,
        },
        account,
        |p: &PagerdutySource, account| pagerduty::account_name(p) == account,
        |account| {
            Err(Error::NotFound(format!(
                "--account {account}: no [[sources]] type = \"pagerduty\" with that account in the configuration"
            ))
            .into())
        },
        "no PagerDuty account to collect: add [[sources]] type = \"pagerduty\" (with its service_map) to flowgauge.toml",
    )?;
    refuse_api_url_for_recorded(api_url, &targets, |s| s.recorded.is_some().then(|| pagerduty::account_name(s)))?;
    let mut workspace = ctx.workspace()?;
    let token = credentials_from_env().pagerduty;
    for mut source in targets {
        if let Some(url) = api_url {
            source.api_url = Some(url.to_string());
        }
        let started = Instant::now();
        let report = if offline && source.recorded.is_none() {
            pagerduty::reextract(&mut workspace, &ctx.config, &source)?
        } else {
            pagerduty::collect_source(&mut workspace, &ctx.config, &source, token.clone(), ctx.progress())?
        };
        print_pagerduty(ctx, &report);
        ctx.detail(format!("collected {} in {:.2?}", report.account, started.elapsed()));
    }
    Ok(())
}

fn print_pagerduty(ctx: &Session, r: &collect::pagerduty::PagerdutyReport) {
    print_collected(
        ctx,
        format!(
            "PagerDuty {}: {} pages, {} requests ({} retried, {} windows split){}{}; {} incidents ({} linked to a deployment by PagerDuty's change correlation), {} deployments from change events, {} detection findings",
            r.account,
            r.pages,
            r.requests,
            r.retries,
            r.splits,
            resumed_note(r.resumed),
            r.remaining.map(|n| format!(", {n} requests left this minute")).unwrap_or_default(),
            r.incidents,
            r.tracker_links,
            r.deployments,
            r.evidence,
        ),
        &r.warnings,
    );
}

fn collect_jira(ctx: &Session, api_url: Option<&str>, offline: bool) -> anyhow::Result<()> {
    use flowgauge::config::{JiraSource, Source};
    let missing = |which: String| {
        format!(
            "no jira source{which} in the configuration: add [[sources]] type = \"jira\" with api_url and projects, labels or jql to flowgauge.toml (docs/jira.md)"
        )
    };
    let targets = sources_to_collect(
        ctx,
        |s| match s {
            Source::Jira(j) => Some((**j).clone()),
            _ => None,
        },
        api_url,
        |j: &JiraSource, url| url.trim_end_matches('/') == j.api_url,
        |url| Err(Error::NotFound(missing(format!(" with api_url = \"{url}\""))).into()),
        &missing(String::new()),
    )?;
    let mut workspace = ctx.workspace()?;
    let auth = credentials_from_env().jira;
    for source in targets {
        let started = Instant::now();
        // Recorded pages are read as they are, --offline or not.
        let report = if offline && source.recorded.is_none() {
            collect::jira::reextract(&mut workspace, &ctx.config, &source)?
        } else {
            collect::collect_jira_source(&mut workspace, &ctx.config, &source, auth.clone(), ctx.progress())?
        };
        print_jira(ctx, &report);
        ctx.detail(format!("collected {} in {:.2?}", source.api_url, started.elapsed()));
    }
    Ok(())
}

fn print_jira(ctx: &Session, r: &collect::jira::JiraReport) {
    let flavour = match r.flavour {
        Some(flowgauge::config::JiraFlavour::Cloud) => "Cloud",
        Some(flowgauge::config::JiraFlavour::DataCenter) => "Data Center",
        None => "from raw pages",
    };
    print_collected(
        ctx,
        format!(
            "Jira {} ({flavour}): {} pages, {} requests ({} search, {} changelog, {} remote links; {} retried){}; {} incidents ({} restored at mitigation, {} at resolution), {} post-incident reviews",
            r.site,
            r.pages,
            r.requests,
            r.search_requests,
            r.changelog_requests,
            r.remote_link_requests,
            r.retries,
            resumed_note(r.resumed),
            r.incidents,
            r.by_mitigation,
            r.by_resolution,
            r.reviews,
        ),
        &r.warnings,
    );
}

/// Draws GitHub collection progress on stderr: one line redrawn in place on a terminal (items,
/// ETA, requests and GraphQL points spent, GraphQL points and REST requests left), one line per
/// finished resource otherwise.
fn progress_line() -> collect::github::ProgressSink {
    use std::io::{IsTerminal, Write};
    let terminal = std::io::stderr().is_terminal();
    collect::github::ProgressSink(std::sync::Arc::new(move |p: &collect::github::Progress| {
        if !terminal && !p.done {
            return;
        }
        let of = p.total.map(|t| format!("/{t}")).unwrap_or_default();
        let eta = p.eta().map(|d| format!(", ETA {}:{:02}", d.as_secs() / 60, d.as_secs() % 60)).unwrap_or_default();
        let left = budgets_left(p.graphql_remaining, p.rest_remaining);
        let line = format!(
            "{} {}: {}{} items, {} pages{} · {} requests, {} GraphQL points{} · {:.1?}",
            p.repo, p.resource, p.items, of, p.pages, eta, p.requests, p.points, left, p.elapsed
        );
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r\x1b[2K{line}{}", if p.done { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }))
}

/// What is left of GitHub's two hourly budgets, each named (they are spent and refilled apart):
/// `, 4990 GraphQL points and 4321 REST requests left this hour`.
fn budgets_left(graphql: Option<u64>, rest: Option<u64>) -> String {
    let parts: Vec<String> =
        [graphql.map(|n| format!("{n} GraphQL points")), rest.map(|n| format!("{n} REST requests"))]
            .into_iter()
            .flatten()
            .collect();
    if parts.is_empty() { String::new() } else { format!(", {} left this hour", parts.join(" and ")) }
}

fn print_github(ctx: &Session, r: &collect::github::GithubReport) {
    print_collected(
        ctx,
        format!(
            "GitHub {}: {} pages, {} requests ({} retried, {} unchanged), {} GraphQL points{}{}; {} pull requests, {} reviews, {} commits of pull requests, {} deployments, {} commits shipped, {} settings findings",
            r.repo,
            r.pages,
            r.requests,
            r.retries,
            r.not_modified,
            r.points,
            resumed_note(r.resumed),
            budgets_left(r.graphql_remaining, r.rest_remaining),
            r.changes,
            r.reviews,
            r.change_commits,
            r.deployments,
            r.deployment_commits,
            r.evidence,
        ),
        &r.warnings,
    );
}

fn print_git(ctx: &Session, r: &collect::GitReport) {
    let prereleases = match r.tags.prereleases {
        0 => String::new(),
        n => format!(", {n} pre-releases kept out of production"),
    };
    ctx.note(format!(
        "read {} ({}): {} commits, {} changes, {} tag releases ({} of {} tags match {}{}), {} delivery findings{}",
        r.path.display(),
        r.repo,
        r.commits,
        r.changes,
        r.deployments,
        r.tags.releases,
        r.tags.seen,
        r.tags.pattern,
        prereleases,
        r.evidence,
        if r.outside_services > 0 {
            format!(", {} changes outside every service's paths", r.outside_services)
        } else {
            String::new()
        }
    ));
    for w in &r.warnings {
        ctx.note(format!("warning: {w}"));
    }
}

fn ownership(
    ctx: &Session,
    repo: &Path,
    name: Option<&str>,
    format: OutputFormat,
    dialect: Option<flowgauge::ownership::codeowners::Dialect>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let history = flowgauge::collect::git::read(repo, name, &ctx.config.git.bots)?;
    let fallback = collect::default_service(&history.repo);
    let mut services: Vec<&flowgauge::config::Service> =
        ctx.config.services.iter().filter(|s| s.repos.iter().any(|r| r == &history.repo)).collect();
    if services.is_empty() {
        services.push(&fallback);
    }
    let window = (ctx.config.analysis.window.since, ctx.config.analysis.window.until);
    // Line counts read blobs; only worth it when a CODEOWNERS file will be measured with them.
    let has_codeowners = flowgauge::ownership::codeowners::locate(
        &history.path,
        dialect.unwrap_or_else(|| flowgauge::ownership::detect_dialect(&history.path)),
    )
    .is_some();
    let lines = if has_codeowners {
        flowgauge::collect::git::lines_changed(&history, window.0, window.1)?
    } else {
        Default::default()
    };
    let analysis = flowgauge::ownership::analyse_with(
        &history,
        &services,
        chrono::Utc::now(),
        ctx.config.git.inactive_days,
        dialect,
        window,
        &lines,
    );
    for w in &analysis.warnings {
        ctx.note(format!("warning: {w}"));
    }
    ctx.detail(format!("analysed {} commits in {:.2?}", history.commits.len(), started.elapsed()));
    let text = match format {
        OutputFormat::Table => report::render_ownership(&analysis),
        OutputFormat::Json => serde_json::to_string_pretty(&analysis).context("serialising")? + "\n",
        OutputFormat::Csv => report::render_ownership_csv(&analysis),
    };
    write_stdout(&text)
}

fn print_import(ctx: &Session, report: &collect::ImportReport) {
    let tables: Vec<String> = report
        .tables
        .iter()
        .filter(|t| t.table != "services")
        .map(|t| format!("{} {} → {} rows", t.table, t.before, t.after))
        .collect();
    let tables = if tables.is_empty() { String::new() } else { format!(" ({})", tables.join(", ")) };
    ctx.note(format!("imported {} rows from {}{tables}", report.rows_read, report.path.display()));
    for w in &report.warnings {
        ctx.note(format!("warning: {w}"));
    }
}

/// Everything computed from the workspace for one command.
struct Computed {
    tables: metrics::prepare::Frames,
    manifest: flowgauge::store::Manifest,
    computation: metrics::Computation,
    report: metrics::MetricsReport,
    queries: Vec<metrics::Query>,
}

/// A forge's own DORA figures beside flowgauge's, one line per service and metric.
fn forge_figures(c: &Computed, metric: Option<&str>, service: Option<&str>) -> anyhow::Result<Vec<String>> {
    let Some(forge) = c.tables.get(flowgauge::model::FORGE_METRICS.name) else {
        return Ok(Vec::new());
    };
    Ok(report::forge::compare(forge, &c.report, metric, service)?.iter().map(|f| f.line()).collect())
}

fn compute_all(ctx: &Session, args: &MetricArgs, anonymise: bool) -> anyhow::Result<Computed> {
    if let Some(repo) = &args.repo {
        collect_repo(ctx, repo, None)?;
    }
    let started = Instant::now();
    // A collection may commit while this reads: the read is repeated until it sees one state.
    let (mut tables, manifest) = Workspace::read_consistent(&ctx.workspace_dir, |workspace| {
        if workspace.is_empty() {
            return Err(Error::NotFound(format!(
                "workspace {} holds no data yet: run `flowgauge collect` or `flowgauge import` first",
                ctx.workspace_dir.display()
            )));
        }
        Ok((metrics::load_tables(workspace)?, workspace.manifest().clone()))
    })?;
    if anonymise {
        report::anonymise(&mut tables)?;
    }
    ctx.detail(format!("loaded tables in {:.2?}", started.elapsed()));
    let queries = metrics::queries::load(args.queries.as_deref())?;
    let started = Instant::now();
    let computation = metrics::compute(&tables, &ctx.config, &queries)?;
    let metrics_report = metrics::report(&computation, &ctx.config)?;
    ctx.detail(format!("computed metrics in {:.2?}", started.elapsed()));
    if let Some(service) = &args.service
        && !computation.services.iter().any(|s| s == service)
    {
        return Err(Error::NotFound(format!(
            "no service `{service}`; known services: {}",
            computation.services.join(", ")
        ))
        .into());
    }
    Ok(Computed { tables, manifest, computation, report: metrics_report, queries })
}

/// Every table the metric queries read and write, for `sql` and `export`.
fn snapshot(ctx: &Session, args: &MetricArgs) -> anyhow::Result<(metrics::prepare::Frames, export::Snapshot)> {
    if let Some(repo) = &args.repo {
        collect_repo(ctx, repo, None)?;
    }
    let started = Instant::now();
    let tables = Workspace::read_consistent(&ctx.workspace_dir, |workspace| {
        if workspace.is_empty() {
            return Err(Error::NotFound(format!(
                "workspace {} holds no data yet: run `flowgauge collect` or `flowgauge import` first",
                ctx.workspace_dir.display()
            )));
        }
        metrics::load_tables(workspace)
    })?;
    let queries = metrics::queries::load(args.queries.as_deref())?;
    let snapshot = export::snapshot(&tables, &ctx.config, &queries)?;
    ctx.detail(format!("prepared the tables and ran the queries in {:.2?}", started.elapsed()));
    Ok((tables, snapshot))
}

fn write_report(ctx: &Session, common: &MetricArgs, options: &ReportOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    refuse_directory_out(options)?;
    let mut c = compute_all(ctx, common, options.anonymise)?;
    if let Some(service) = &common.service {
        c.report.services.retain(|s| &s.service == service);
    }
    let findings = flowgauge::assess::findings::assess_services(&c.tables, &c.computation, &c.report, &ctx.config)?;
    let mut table_rows: Vec<(String, usize)> =
        c.tables.iter().map(|(name, df)| (name.to_string(), df.height())).collect();
    table_rows.sort();
    let input = report::document::ReportInput {
        metrics: &c.report,
        findings: &findings,
        computation: &c.computation,
        config: &ctx.config,
        manifest: Some(&c.manifest),
        table_rows,
        repositories: report::document::repositories(&c.tables)?,
        queries: &c.queries,
        limitations: metrics::limitations(&c.tables),
        generated_at: chrono::Utc::now(),
        anonymised: options.anonymise,
        appendix_budget: 6_000,
    };
    let mut doc = report::document::build(&input)?;
    doc.methodology.forge_figures = forge_figures(&c, None, common.service.as_deref())?;
    let assessed = assess_for_report(ctx, &c, common)?;
    // Without a single score (no answers, no indicator measured) the section would be all "unknown".
    let scored = |a: &capabilities::scorecard::ServiceAssessment| {
        a.capabilities.iter().any(|c| c.evidence.score.is_some() || c.survey.score.is_some())
    };
    if assessed.iter().any(scored) {
        doc.capabilities = Some(report::capabilities::view(&assessed));
    }
    doc.fold_recommendations(&findings, &assessed);
    let (text, default_name) = match options.format {
        ReportFormat::Html => {
            (report::render::render(&doc, "report.html", options.templates.as_deref())?, "report.html")
        }
        ReportFormat::Md => (report::render::render(&doc, "report.md", options.templates.as_deref())?, "report.md"),
        ReportFormat::Json => {
            (serde_json::to_string_pretty(&doc).context("serialising the report")? + "\n", "report.json")
        }
    };
    let out = options.out.clone().unwrap_or_else(|| PathBuf::from(default_name));
    if out.as_os_str() == "-" {
        return write_stdout(&text);
    }
    if out.is_dir() {
        return Err(Error::Refused(format!(
            "--out {} is a directory; name the file to write, e.g. {}",
            out.display(),
            out.join(default_name).display()
        ))
        .into());
    }
    write_atomically(&out, text.as_bytes())?;
    ctx.note(format!("wrote {} ({} KiB) in {:.2?}", out.display(), text.len() / 1024, started.elapsed()));
    Ok(())
}

/// The catalogue file to read: `--catalogue`, else `assessment.catalogue`, else the embedded one.
fn catalogue_file<'a>(ctx: &'a Session, flag: Option<&'a Path>) -> Option<&'a Path> {
    flag.or(ctx.config.assessment.catalogue.as_deref())
}

/// The maturity assessment the report shows: the configured catalogue and answers.
fn assess_for_report(
    ctx: &Session,
    c: &Computed,
    common: &MetricArgs,
) -> anyhow::Result<Vec<capabilities::scorecard::ServiceAssessment>> {
    let catalogue = capabilities::Catalogue::load(catalogue_file(ctx, None))?;
    let services = answerable_services(ctx, &c.computation.services);
    let answers = capabilities::survey::Answers::read(&ctx.config.assessment.answers, &catalogue, &services)?;
    Ok(capabilities::assess(&assess_input(ctx, c, &catalogue, &answers), common.service.as_deref())?)
}

/// `--out DIR` is refused before any work is done (reading a repository can take minutes).
fn refuse_directory_out(options: &ReportOptions) -> anyhow::Result<()> {
    match &options.out {
        Some(out) if out.is_dir() => Err(Error::Refused(format!(
            "--out {} is a directory; name the file to write, e.g. {}",
            out.display(),
            out.join("report.html").display()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Writes through a temporary file in the same directory, so a reader never sees half a report.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(
            Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "the directory does not exist")).into()
        );
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        // Whatever failed, no temporary file may outlive the run.
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}
