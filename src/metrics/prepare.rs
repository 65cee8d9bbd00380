//! The steps polars SQL cannot express well, done in Rust before the queries run.
//!
//! * Every timestamp becomes whole seconds since the Unix epoch (`*_at` → `*_ts`), so durations in
//!   SQL are plain subtraction.
//! * `deploys`: each deployment with its predecessor among the service's successful production
//!   deployments, whether it is the first one ever observed, and its calendar labels.
//! * `shipped`: what each deployment shipped — `deployment_commits` as recorded, or, for a production
//!   deployment with none recorded, the service's changes merged since the previous one (an as-of join).
//! * `incident_links`: each incident's causing deployment — as recorded, or the service's latest
//!   production deployment within the link window before it opened (another as-of join).
//! * integer codes beside the text keys `change_lead_times` joins on ([`keys`]).
//! * `periods` and `service_weeks`: the calendar every service is reported on, so a service with no
//!   events still gets a row of zeros rather than vanishing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::DateTime;
use polars::prelude::*;

use super::keys;
use crate::calendar::{self, Grain, Window};
use crate::config::Config;
use crate::error::Result;

/// The domain tables as frames, keyed by table name.
pub type Frames = HashMap<&'static str, DataFrame>;

/// Converts every datetime column `x_at` into `x_ts`: Int64 seconds since the epoch.
pub fn epochize(df: &DataFrame) -> Result<DataFrame> {
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dtype)| match dtype {
            DataType::Datetime(_, _) => {
                let base = name.strip_suffix("_at").unwrap_or(name.as_str());
                col(name.clone()).cast(DataType::Int64).floor_div(lit(1_000_000i64)).alias(format!("{base}_ts"))
            }
            _ => col(name.clone()),
        })
        .collect();
    Ok(df.clone().lazy().select(exprs).collect()?)
}

pub(crate) fn strs<'a>(df: &'a DataFrame, name: &str) -> Result<&'a StringChunked> {
    Ok(df.column(name)?.str()?)
}

pub(crate) fn ints<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Int64Chunked> {
    Ok(df.column(name)?.i64()?)
}

pub(crate) fn bools<'a>(df: &'a DataFrame, name: &str) -> Result<&'a BooleanChunked> {
    Ok(df.column(name)?.bool()?)
}

/// Calendar labels of one instant, or nulls outside the window.
struct Labels {
    day: Vec<Option<String>>,
    week: Vec<Option<String>>,
    month: Vec<Option<String>>,
    quarter: Vec<Option<String>>,
    window: Vec<Option<String>>,
    position: Vec<Option<&'static str>>,
    /// The labels of each (date, inside the window) already seen: they depend on nothing else, and
    /// a year has a few hundred dates for hundreds of thousands of instants.
    seen: HashMap<(chrono::NaiveDate, bool), DayLabels>,
}

/// The labels of one date: the grains' labels only when inside the window (`calendar::label_of`).
struct DayLabels {
    day: String,
    week: Option<String>,
    month: Option<String>,
    quarter: Option<String>,
    window: Option<String>,
}

impl DayLabels {
    fn of(t: DateTime<chrono::Utc>, window: &Window) -> DayLabels {
        DayLabels {
            day: t.date_naive().to_string(),
            week: calendar::label_of(Grain::Week, t, window),
            month: calendar::label_of(Grain::Month, t, window),
            quarter: calendar::label_of(Grain::Quarter, t, window),
            window: calendar::label_of(Grain::Window, t, window),
        }
    }
}

impl Labels {
    fn new(capacity: usize) -> Self {
        Labels {
            day: Vec::with_capacity(capacity),
            week: Vec::with_capacity(capacity),
            month: Vec::with_capacity(capacity),
            quarter: Vec::with_capacity(capacity),
            window: Vec::with_capacity(capacity),
            position: Vec::with_capacity(capacity),
            seen: HashMap::new(),
        }
    }

    fn push(&mut self, ts: Option<i64>, window: &Window) {
        let Some(t) = ts.and_then(|s| DateTime::from_timestamp(s, 0)) else {
            self.day.push(None);
            self.week.push(None);
            self.month.push(None);
            self.quarter.push(None);
            self.window.push(None);
            self.position.push(None);
            return;
        };
        let inside = t >= window.since && t < window.until;
        let labels = self.seen.entry((t.date_naive(), inside)).or_insert_with(|| DayLabels::of(t, window));
        self.day.push(Some(labels.day.clone()));
        self.week.push(labels.week.clone());
        self.month.push(labels.month.clone());
        self.quarter.push(labels.quarter.clone());
        self.window.push(labels.window.clone());
        self.position.push(Some(if t < window.since {
            "before"
        } else if t >= window.until {
            "after"
        } else {
            "inside"
        }));
    }

    fn into_columns(self) -> Vec<Column> {
        vec![
            Column::new("day".into(), self.day),
            Column::new("week".into(), self.week),
            Column::new("month".into(), self.month),
            Column::new("quarter".into(), self.quarter),
            Column::new("window".into(), self.window),
            Column::new("window_position".into(), self.position),
        ]
    }
}

/// A successful production deployment, as the as-of joins need it.
#[derive(Clone)]
struct ProdDeployment {
    id: String,
    deployed_ts: i64,
    started_ts: i64,
    is_rollback: bool,
}

/// Everything the queries read, ready to register.
pub struct Prepared {
    pub frames: Vec<(String, DataFrame)>,
    pub services: Vec<String>,
}

/// Builds the frames the record-level queries read.
pub fn prepare(tables: &Frames, config: &Config) -> Result<Prepared> {
    let window = &config.analysis.window;
    let deployments = epochize(&tables["deployments"])?;
    let changes = epochize(&tables["changes"])?;
    let incidents = epochize(&tables["incidents"])?;

    let (deploys, prod_by_service) = build_deploys(&deployments, config)?;
    let shipped = build_shipped(tables, &changes, &prod_by_service, config)?;
    // Only incidents that name a cause need the commit → deployment index; most data has none.
    let named = incidents.column("caused_by_change_id")?.null_count() < incidents.height()
        || incidents.column("caused_by_sha")?.null_count() < incidents.height();
    let culprits = if named {
        Culprits::new(tables, &changes, &deployments, &shipped, &prod_by_service, &incidents)?
    } else {
        Culprits::default()
    };
    let incident_links = build_incident_links(&incidents, &prod_by_service, &culprits, config)?;
    let incidents = with_labels(&incidents, "opened_ts", window)?;
    let services = service_names(tables, config)?;

    let mut frames: Vec<(String, DataFrame)> = Vec::new();
    for (name, df) in tables {
        if !matches!(*name, "deployments" | "changes" | "incidents" | "change_commits" | "reviews") {
            frames.push((name.to_string(), epochize(df)?));
        }
    }
    let (mut changes, mut deploys, mut shipped) = (changes, deploys, shipped);
    let mut change_commits = epochize(&tables["change_commits"])?;
    let mut reviews = epochize(&tables["reviews"])?;
    keys::add_codes(keys::Coded {
        changes: &mut changes,
        change_commits: &mut change_commits,
        reviews: &mut reviews,
        deploys: &mut deploys,
        shipped: &mut shipped,
    })?;
    frames.push(("change_commits".into(), change_commits));
    frames.push(("reviews".into(), reviews));
    frames.push(("deployments".into(), deployments));
    frames.push(("changes".into(), changes));
    frames.push(("incidents".into(), incidents));
    frames.push(("deploys".into(), deploys));
    frames.push(("shipped".into(), shipped));
    frames.push(("incident_links".into(), incident_links));
    Ok(Prepared { frames, services })
}

fn with_labels(df: &DataFrame, ts_column: &str, window: &Window) -> Result<DataFrame> {
    let ts = ints(df, ts_column)?;
    let mut labels = Labels::new(df.height());
    for t in ts.iter() {
        labels.push(t, window);
    }
    let mut out = df.clone();
    for column in labels.into_columns() {
        out.with_column(column)?;
    }
    Ok(out)
}

/// Every configured service and every service the data names, each once, sorted by name.
fn service_names(tables: &Frames, config: &Config) -> Result<Vec<String>> {
    let mut names: BTreeSet<String> = config.services.iter().map(|s| s.name.clone()).collect();
    for (table, column) in
        [("services", "service"), ("deployments", "service"), ("changes", "service"), ("incidents", "service")]
    {
        for name in strs(&tables[table], column)?.iter().flatten() {
            names.insert(name.to_string());
        }
    }
    Ok(names.into_iter().collect())
}

type ProdIndex = HashMap<String, Vec<ProdDeployment>>;

fn build_deploys(deployments: &DataFrame, config: &Config) -> Result<(DataFrame, ProdIndex)> {
    let lookback = (config.analysis.first_deployment_lookback_days * 86_400.0) as i64;
    let n = deployments.height();
    let ids = strs(deployments, "id")?;
    let services = strs(deployments, "service")?;
    let status = strs(deployments, "status")?;
    let production = bools(deployments, "is_production")?;
    let finished = ints(deployments, "finished_ts")?;
    let started = ints(deployments, "started_ts")?;
    let rollback = bools(deployments, "is_rollback")?;
    let hotfix = bools(deployments, "is_hotfix")?;

    let mut is_prod_success = Vec::with_capacity(n);
    let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let ok = status.get(i) == Some("success") && production.get(i) == Some(true) && finished.get(i).is_some();
        is_prod_success.push(ok);
        if ok {
            by_service.entry(services.get(i).unwrap_or_default().to_string()).or_default().push(i);
        }
    }

    let mut prev_id: Vec<Option<String>> = vec![None; n];
    let mut is_first = vec![false; n];
    let mut baseline: Vec<Option<i64>> = vec![None; n];
    let mut index: ProdIndex = HashMap::new();
    for (service, mut rows) in by_service {
        // Order by time, then id, so simultaneous deployments have a stable order.
        rows.sort_by(|&a, &b| finished.get(a).cmp(&finished.get(b)).then_with(|| ids.get(a).cmp(&ids.get(b))));
        let mut list = Vec::with_capacity(rows.len());
        for (k, &i) in rows.iter().enumerate() {
            let deployed_ts = finished.get(i).expect("checked above");
            let started_ts = started.get(i).unwrap_or(deployed_ts).min(deployed_ts);
            if k == 0 {
                is_first[i] = true;
                baseline[i] = Some(started_ts - lookback);
            } else {
                prev_id[i] = ids.get(rows[k - 1]).map(str::to_string);
            }
            list.push(ProdDeployment {
                id: ids.get(i).unwrap_or_default().to_string(),
                deployed_ts,
                started_ts,
                is_rollback: rollback.get(i).unwrap_or(false),
            });
        }
        index.insert(service, list);
    }

    let mut labels = Labels::new(n);
    for t in finished.iter() {
        labels.push(t, &config.analysis.window);
    }
    let mut columns = vec![
        Column::new("deployment_id".into(), ids.clone().into_series()),
        Column::new("service".into(), services.clone().into_series()),
        deployments.column("environment")?.clone(),
        deployments.column("status")?.clone(),
        deployments.column("is_production")?.clone(),
        Column::new("is_prod_success".into(), is_prod_success),
        Column::new("deployed_ts".into(), finished.clone().into_series()),
        Column::new("started_ts".into(), started.clone().into_series()),
        Column::new("is_rollback".into(), rollback.iter().map(|v| v.unwrap_or(false)).collect::<Vec<_>>()),
        Column::new("is_hotfix".into(), hotfix.iter().map(|v| v.unwrap_or(false)).collect::<Vec<_>>()),
        Column::new("prev_deployment_id".into(), prev_id),
        Column::new("is_first".into(), is_first),
        Column::new("baseline_ts".into(), baseline),
    ];
    columns.extend(labels.into_columns());
    Ok((DataFrame::new(n, columns)?, index))
}

/// The latest deployment in `list` (sorted by time) at or before `ts`.
fn latest_at_or_before(list: &[ProdDeployment], ts: i64) -> Option<&ProdDeployment> {
    let after = list.partition_point(|d| d.deployed_ts <= ts);
    after.checked_sub(1).map(|i| &list[i])
}

fn build_shipped(tables: &Frames, changes: &DataFrame, prod: &ProdIndex, config: &Config) -> Result<DataFrame> {
    let recorded = &tables["deployment_commits"];
    let with_record: HashSet<&str> = strs(recorded, "deployment_id")?.iter().flatten().collect();

    // Merged changes per service, sorted by merge time: the candidates for inference.
    let services = strs(changes, "service")?;
    let merged = ints(changes, "merged_ts")?;
    let merge_shas = strs(changes, "merge_commit_sha")?;
    let mut merged_by_service: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for i in 0..changes.height() {
        if let (Some(service), Some(ts), Some(sha)) = (services.get(i), merged.get(i), merge_shas.get(i)) {
            merged_by_service.entry(service).or_default().push((ts, sha));
        }
    }
    for list in merged_by_service.values_mut() {
        list.sort_unstable();
    }

    let lookback = (config.analysis.first_deployment_lookback_days * 86_400.0) as i64;
    let mut extra_ids = Vec::new();
    let mut extra_shas = Vec::new();
    for (service, deployments) in prod {
        let Some(candidates) = merged_by_service.get(service.as_str()) else {
            continue;
        };
        // A rollback ships nothing new, so the changes merged before it ride the next real deployment.
        let mut previous_start: Option<i64> = None;
        for d in deployments {
            if d.is_rollback {
                continue;
            }
            let low = previous_start.unwrap_or(d.started_ts - lookback);
            previous_start = Some(d.started_ts);
            if with_record.contains(d.id.as_str()) {
                continue;
            }
            let from = candidates.partition_point(|(ts, _)| *ts <= low);
            let to = candidates.partition_point(|(ts, _)| *ts <= d.started_ts);
            for &(_, sha) in &candidates[from..to.max(from)] {
                extra_ids.push(d.id.as_str());
                extra_shas.push(sha);
            }
        }
    }
    // The recorded rows as they are (no copy of their text), then the inferred ones.
    let mut shipped = recorded
        .select(["deployment_id", "sha"])?
        .lazy()
        .filter(col("deployment_id").is_not_null().and(col("sha").is_not_null()))
        .with_column(lit(false).alias("inferred"))
        .collect()?;
    let n = extra_ids.len();
    shipped.vstack_mut(&DataFrame::new(
        n,
        vec![
            Column::new("deployment_id".into(), extra_ids),
            Column::new("sha".into(), extra_shas),
            Column::new("inferred".into(), vec![true; n]),
        ],
    )?)?;
    Ok(shipped)
}

/// Which successful production deployment first shipped each commit and change, for incidents that
/// name their cause (`caused_by_change_id`, `caused_by_sha`).
///
/// Only the commits and changes the incidents name are indexed (and the commits of the changes they
/// name): an organisation has millions of shipped commits and a few thousand incidents, so indexing
/// every commit would cost more than everything else the metrics do.
#[derive(Default)]
struct Culprits {
    /// (service, commit) → (deployed_ts, deployment id) of the service's earliest production
    /// deployment that shipped it: an incident is caused by its own service's deployment.
    /// Ordered, so that an abbreviated sha finds its commits as one range of keys, not by a scan of
    /// every shipped commit.
    by_sha: BTreeMap<(String, String), (i64, String)>,
    /// Change → its merge commit and its own commits.
    change_shas: HashMap<String, Vec<String>>,
    /// Commit → the changes it belongs to (the inverse of `change_shas`), ordered like `by_sha`.
    commit_changes: BTreeMap<String, Vec<String>>,
}

/// `sha` in lower case, borrowed when it already is (it nearly always is).
fn lower(sha: &str) -> std::borrow::Cow<'_, str> {
    if sha.bytes().any(|b| b.is_ascii_uppercase()) { sha.to_ascii_lowercase().into() } else { sha.into() }
}

/// Commits (lower case) to look up, full or abbreviated: `matches` tells whether a commit of the data
/// is one of them or, for an abbreviated one, starts with it.
#[derive(Default)]
struct Wanted {
    exact: HashSet<String>,
    /// Abbreviated commits by their first 7 bytes (every abbreviation has at least 7).
    prefixes: HashMap<[u8; 7], Vec<String>>,
}

fn head(sha: &str) -> Option<[u8; 7]> {
    sha.as_bytes().get(..7).and_then(|h| h.try_into().ok())
}

impl Wanted {
    fn insert(&mut self, sha: &str) {
        if is_abbreviated(sha)
            && let Some(head) = head(sha)
        {
            let list = self.prefixes.entry(head).or_default();
            if !list.iter().any(|p| p == sha) {
                list.push(sha.to_string());
            }
        }
        self.exact.insert(sha.to_string());
    }

    fn matches(&self, sha: &str) -> bool {
        self.exact.contains(sha)
            || head(sha)
                .and_then(|h| self.prefixes.get(&h))
                .is_some_and(|list| list.iter().any(|p| sha.starts_with(p.as_str())))
    }
}

/// Every (change, commit) pair of the data: each change's merge commit and its `change_commits`.
fn for_each_change_sha(tables: &Frames, changes: &DataFrame, mut visit: impl FnMut(&str, &str)) -> Result<()> {
    for (id, sha) in strs(changes, "id")?.iter().zip(strs(changes, "merge_commit_sha")?.iter()) {
        if let (Some(id), Some(sha)) = (id, sha) {
            visit(id, &lower(sha));
        }
    }
    let commits = &tables["change_commits"];
    for (id, sha) in strs(commits, "change_id")?.iter().zip(strs(commits, "sha")?.iter()) {
        if let (Some(id), Some(sha)) = (id, sha) {
            visit(id, &lower(sha));
        }
    }
    Ok(())
}

impl Culprits {
    fn new(
        tables: &Frames,
        changes: &DataFrame,
        deployments: &DataFrame,
        shipped: &DataFrame,
        prod: &ProdIndex,
        incidents: &DataFrame,
    ) -> Result<Culprits> {
        // What the incidents name: changes by id, commits in full or abbreviated.
        let mut named_changes: HashSet<String> =
            strs(incidents, "caused_by_change_id")?.iter().flatten().map(str::to_string).collect();
        let mut named_shas = Wanted::default();
        for sha in strs(incidents, "caused_by_sha")?.iter().flatten() {
            named_shas.insert(&sha.trim().to_ascii_lowercase());
        }
        // The changes a named commit belongs to, and the commits of every change named either way.
        let mut commit_changes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if !named_shas.exact.is_empty() {
            for_each_change_sha(tables, changes, |id, sha| {
                if named_shas.matches(sha) {
                    commit_changes.entry(sha.to_string()).or_default().push(id.to_string());
                }
            })?;
        }
        named_changes.extend(commit_changes.values().flatten().cloned());
        let mut change_shas: HashMap<String, Vec<String>> = HashMap::new();
        for_each_change_sha(tables, changes, |id, sha| {
            if named_changes.contains(id) {
                change_shas.entry(id.to_string()).or_default().push(sha.to_string());
            }
        })?;
        let mut wanted = named_shas;
        for sha in change_shas.values().flatten() {
            // As `shipping` looks it up.
            wanted.insert(sha.trim());
        }

        let deployed: HashMap<&str, (i64, &str)> = prod
            .iter()
            .flat_map(|(service, list)| list.iter().map(move |d| (d.id.as_str(), (d.deployed_ts, service.as_str()))))
            .collect();
        let mut by_sha: BTreeMap<(String, String), (i64, String)> = BTreeMap::new();
        let mut note = |sha: &str, deployment: &str| {
            let sha = lower(sha);
            if !wanted.matches(&sha) {
                return;
            }
            if let Some(&(ts, service)) = deployed.get(deployment) {
                let candidate = (ts, deployment.to_string());
                by_sha
                    .entry((service.to_string(), sha.into_owned()))
                    .and_modify(|best| {
                        if candidate < *best {
                            *best = candidate.clone();
                        }
                    })
                    .or_insert(candidate);
            }
        };
        for (deployment, sha) in strs(shipped, "deployment_id")?.iter().zip(strs(shipped, "sha")?.iter()) {
            if let (Some(d), Some(sha)) = (deployment, sha) {
                note(sha, d);
            }
        }
        // The deployed commit itself, for incidents that name it.
        for (deployment, sha) in strs(deployments, "id")?.iter().zip(strs(deployments, "sha")?.iter()) {
            if let (Some(d), Some(sha)) = (deployment, sha) {
                note(sha, d);
            }
        }
        Ok(Culprits { by_sha, change_shas, commit_changes })
    }

    /// The service's deployment that first shipped the commit `sha` itself (an abbreviated sha of 7+
    /// digits matches by prefix).
    fn shipping(&self, service: &str, sha: &str) -> Option<&(i64, String)> {
        let sha = sha.trim().to_ascii_lowercase();
        let key = (service.to_string(), sha.clone());
        if let Some(hit) = self.by_sha.get(&key) {
            return Some(hit);
        }
        if !is_abbreviated(&sha) {
            return None;
        }
        // The service's commits that start with the prefix sort right after it, together.
        self.by_sha
            .range(key..)
            .take_while(|((s, full), _)| s == service && full.starts_with(&sha))
            .map(|(_, hit)| hit)
            .min()
    }

    /// The service's deployment that first shipped `sha`; when none shipped the commit itself (a
    /// branch commit of a squash-merged change never reaches the mainline), the deployment that
    /// took a change the commit belongs to into production, as lead time finds it.
    fn for_sha(&self, service: &str, sha: &str) -> Option<&(i64, String)> {
        if let Some(hit) = self.shipping(service, sha) {
            return Some(hit);
        }
        let sha = sha.trim().to_ascii_lowercase();
        let changes: Vec<&String> = match self.commit_changes.get(&sha) {
            Some(changes) => changes.iter().collect(),
            None if is_abbreviated(&sha) => self
                .commit_changes
                .range(sha.clone()..)
                .take_while(|(full, _)| full.starts_with(&sha))
                .flat_map(|(_, changes)| changes)
                .collect(),
            None => Vec::new(),
        };
        changes.into_iter().filter_map(|change| self.for_change(service, change)).min()
    }

    /// The service's deployment that first shipped any commit of the change.
    fn for_change(&self, service: &str, change: &str) -> Option<&(i64, String)> {
        self.change_shas.get(change)?.iter().filter_map(|sha| self.shipping(service, sha)).min()
    }
}

/// Whether `sha` (lower case) may be an abbreviated commit id: 7 to 39 characters.
fn is_abbreviated(sha: &str) -> bool {
    (7..40).contains(&sha.len())
}

/// `incident_links.link`: the incident's cause was given as a deployment id.
pub const EXPLICIT_LINK: &str = "explicit";
/// `incident_links.link`: the incident tracker correlated the incident with this deployment
/// (PagerDuty's related change events).
pub const TRACKER_LINK: &str = "tracker";
/// `incident_links.link`: the incident names a change or commit, and this deployment shipped it.
pub const REFERENCE_LINK: &str = "reference";
/// `incident_links.link`: the service's latest deployment within the link window before it opened.
pub const WINDOW_LINK: &str = "window";
/// Every link an incident can have, in the order the rules are tried (`docs/metrics.md`).
pub const INCIDENT_LINKS: [&str; 4] = [EXPLICIT_LINK, TRACKER_LINK, REFERENCE_LINK, WINDOW_LINK];

/// Successful production deployments by id (with their service and time), for the incidents'
/// `tracker_deployment_id`; empty when no incident names one, as most data does not.
type TrackerIndex<'a> = HashMap<&'a str, (&'a str, i64)>;

fn tracker_index<'a>(tracker: &StringChunked, prod: &'a ProdIndex) -> TrackerIndex<'a> {
    if tracker.null_count() == tracker.len() {
        return HashMap::new();
    }
    prod.iter()
        .flat_map(|(service, list)| list.iter().map(move |d| (d.id.as_str(), (service.as_str(), d.deployed_ts))))
        .collect()
}

/// The deployment the incident tracker correlated with the incident (`tracker_deployment_id`),
/// when it is a successful production deployment of the incident's own service that finished at
/// or before the incident opened; anything else (a change event not read as a deployment, another
/// service's deployment, a later one) is no link, and the next rule is tried.
fn tracker_link<'a>(
    tracker: Option<&str>,
    service: &str,
    opened: Option<i64>,
    index: &TrackerIndex<'a>,
) -> Option<&'a str> {
    let (id, (owner, deployed_ts)) = index.get_key_value(tracker?)?;
    (*owner == service && *deployed_ts <= opened?).then_some(*id)
}

fn build_incident_links(
    incidents: &DataFrame,
    prod: &ProdIndex,
    culprits: &Culprits,
    config: &Config,
) -> Result<DataFrame> {
    let ids = strs(incidents, "id")?;
    let services = strs(incidents, "service")?;
    let opened = ints(incidents, "opened_ts")?;
    let caused_by = strs(incidents, "caused_by_deployment_id")?;
    let by_change = strs(incidents, "caused_by_change_id")?;
    let by_sha = strs(incidents, "caused_by_sha")?;
    let tracker = incidents.column("tracker_deployment_id")?.str()?.clone();
    let tracked = tracker_index(&tracker, prod);
    let (mut incident_ids, mut deployment_ids, mut links) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..incidents.height() {
        let Some(id) = ids.get(i) else { continue };
        if let Some(deployment) = caused_by.get(i) {
            incident_ids.push(id.to_string());
            deployment_ids.push(deployment.to_string());
            links.push(EXPLICIT_LINK);
            continue;
        }
        if let Some(deployment) =
            tracker_link(tracker.get(i), services.get(i).unwrap_or_default(), opened.get(i), &tracked)
        {
            incident_ids.push(id.to_string());
            deployment_ids.push(deployment.to_string());
            links.push(TRACKER_LINK);
            continue;
        }
        // A cause is shipped before the failure it causes: a reference to something deployed only
        // later (an incident titled "Incident #3" is not about pull request #3) is not a link.
        let shipped_before = |hit: &&(i64, String)| opened.get(i).is_some_and(|o| hit.0 <= o);
        let service = services.get(i).unwrap_or_default();
        let named = by_change
            .get(i)
            .and_then(|c| culprits.for_change(service, c))
            .filter(shipped_before)
            .or_else(|| by_sha.get(i).and_then(|s| culprits.for_sha(service, s)).filter(shipped_before));
        if let Some((_, deployment)) = named {
            incident_ids.push(id.to_string());
            deployment_ids.push(deployment.clone());
            links.push(REFERENCE_LINK);
            continue;
        }
        let (Some(service), Some(opened_ts)) = (services.get(i), opened.get(i)) else {
            continue;
        };
        let hours =
            config.service(service).map(|s| s.incident_link_hours).unwrap_or(config.analysis.incident_link_hours);
        let Some(list) = prod.get(service) else {
            continue;
        };
        if let Some(d) = latest_at_or_before(list, opened_ts)
            && (opened_ts - d.deployed_ts) as f64 <= hours * 3600.0
        {
            incident_ids.push(id.to_string());
            deployment_ids.push(d.id.clone());
            links.push(WINDOW_LINK);
        }
    }
    let n = incident_ids.len();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new("incident_id".into(), incident_ids),
            Column::new("deployment_id".into(), deployment_ids),
            Column::new("link".into(), links),
        ],
    )?)
}

/// `periods` (service, period, start_ts, end_ts, days, months) and `service_weeks` (service, period,
/// week) for one grain.
pub fn calendar_frames(services: &[String], grain: Grain, window: &Window) -> Result<(DataFrame, DataFrame)> {
    let periods = calendar::periods(grain, window);
    let (mut svc, mut label, mut start, mut end) = (vec![], vec![], vec![], vec![]);
    let (mut days, mut months) = (vec![], vec![]);
    for service in services {
        for p in &periods {
            svc.push(service.clone());
            label.push(p.label.clone());
            start.push(p.start.timestamp());
            end.push(p.end.timestamp());
            days.push(p.days());
            months.push(p.months());
        }
    }
    let n = svc.len();
    let periods_df = DataFrame::new(
        n,
        vec![
            Column::new("service".into(), svc),
            Column::new("period".into(), label),
            Column::new("start_ts".into(), start),
            Column::new("end_ts".into(), end),
            Column::new("days".into(), days),
            Column::new("months".into(), months),
        ],
    )?;
    let weeks = calendar::whole_weeks(window);
    let (mut svc, mut period, mut week) = (vec![], vec![], vec![]);
    for service in services {
        for monday in &weeks {
            let t = monday.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
            svc.push(service.clone());
            period.push(calendar::label_of(grain, t, window));
            week.push(calendar::label_of(Grain::Week, t, window));
        }
    }
    let n = svc.len();
    let weeks_df = DataFrame::new(
        n,
        vec![
            Column::new("service".into(), svc),
            Column::new("period".into(), period),
            Column::new("week".into(), week),
        ],
    )?;
    Ok((periods_df, weeks_df))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wanted_abbreviation_matches_the_commits_it_prefixes_and_nothing_else() {
        let mut wanted = Wanted::default();
        wanted.insert("abcdef12");
        wanted.insert("0123456789012345678901234567890123456789");
        assert!(wanted.matches("abcdef1234567890abcdef1234567890abcdef12"));
        assert!(wanted.matches("abcdef12"));
        assert!(!wanted.matches("abcdef13ffffffffffffffffffffffffffffffff"), "same first 7 digits, not the prefix");
        assert!(wanted.matches("0123456789012345678901234567890123456789"));
        assert!(!wanted.matches("0123456789012345678901234567890123456788"), "a full sha matches only itself");
        assert!(!wanted.matches("abc"), "shorter than any abbreviation");
    }

    #[test]
    fn commits_are_compared_in_lower_case_without_copying_those_that_already_are() {
        assert!(matches!(lower("abc123"), std::borrow::Cow::Borrowed("abc123")));
        assert_eq!(lower("ABC123"), "abc123");
    }
}
