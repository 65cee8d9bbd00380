//! The loop a paged HTTP API source runs over its resources, whatever the API: for each resource,
//! its cursor is loaded (or an interrupted run resumed), pages are fetched, kept in the raw layer,
//! turned into rows and upserted, and the cursor is saved after every page and advanced at the end;
//! the collection's report then gets the client's request and retry counts and the data warnings
//! every resource recorded, and the configured services are written.
//!
//! Why apart: the GitHub and GitLab sources ran this same loop, each with its own copy of the
//! per-resource state ([`Fetch`]), the page budget of interrupted-run tests, the cursor's begin,
//! save and finish, the progress report and the row counts. Here it is written once; a source
//! declares its [`Api`] (its request, client and report) and, per resource, how pages are asked
//! for and how a page becomes rows — its API's shape and nothing else.

use std::time::Instant;

use crate::collect::http::cursor::{self, Cursor, Run};
use crate::collect::http::progress::{Progress, ProgressSink};
use crate::collect::http::raw::RawPages;
use crate::collect::http::rows::Extracted;
use crate::config::{Config, Service};
use crate::error::{Error, Result};
use crate::model::{self, DataWarning};
use crate::store::{UpsertStats, Workspace};

/// What an API source tells the runner about itself.
pub trait Api {
    type Request: ApiRequest;
    type Client: ApiClient;
    type Report: ApiReport;
    /// The API's name as messages say it (`GitHub`).
    const NAME: &'static str;
    /// Unfinished items that have been unfinished for longer than this, relative to the newest
    /// item read, no longer hold the high-water mark back: a run stuck in a queue must not make
    /// every later collection read that much history again.
    const MAX_REWIND_DAYS: i64;
}

/// What the runner needs of a source's request.
pub trait ApiRequest {
    /// What the request reads, as progress names it (`acme/shop`).
    fn target(&self) -> &str;
    /// The prefix of every cursor of this request (`github:acme/shop`): a resource's cursor is
    /// `{source}:{resource}`.
    fn source(&self) -> String;
    /// Stop (with an error) after this many pages in this run; for tests of interrupted runs.
    fn stop_after_pages(&self) -> Option<usize>;
    fn progress(&self) -> Option<&ProgressSink>;
    /// An error of this source (the target named), for what the runner itself refuses.
    fn error(&self, message: String) -> Error;
}

/// What is left of an API's budgets, for the progress line; all unknown by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budgets {
    /// GraphQL points this run spent.
    pub points: u64,
    pub graphql_remaining: Option<u64>,
    pub rest_remaining: Option<u64>,
}

/// What the runner needs of a source's client: what it has spent.
pub trait ApiClient {
    /// Requests made so far (every attempt counts).
    fn requests(&self) -> u64;
    fn retries(&self) -> u64;
    fn budgets(&self) -> Budgets {
        Budgets::default()
    }
}

/// What the runner needs of a source's report.
pub trait ApiReport {
    /// Pages fetched so far.
    fn pages(&self) -> usize;
    /// The run continues an interrupted one.
    fn mark_resumed(&mut self);
    /// What the upserts did, per table.
    fn tables(&mut self) -> &mut Vec<UpsertStats>;
    /// Counts the rows of a page into the report's figures.
    fn count(&mut self, rows: &Extracted);
    /// Records what the collection cost and what limits its data, once every resource was read.
    fn close(&mut self, requests: u64, retries: u64, data_warnings: Vec<DataWarning>);
}

/// What a collection runs with: the same for every resource.
pub struct Session<'a, A: Api> {
    pub request: &'a A::Request,
    pub service: &'a Service,
    pub runtime: &'a tokio::runtime::Runtime,
    pub client: &'a A::Client,
}

/// Reads `resources` in order, each through `read` (the source's shape of that resource), then
/// closes the report; stops at the first error, leaving the cursors where the last page left
/// them so the next run resumes. The configured services are written once all went well.
pub fn collect<A: Api, R>(
    workspace: &mut Workspace,
    config: &Config,
    session: Session<'_, A>,
    report: &mut A::Report,
    resources: impl IntoIterator<Item = R>,
    mut read: impl FnMut(&mut Fetch<'_, A>, R) -> Result<()>,
) -> Result<()> {
    let mut pages_left = PageBudget::new(session.request.stop_after_pages());
    let mut raw = RawPages::default();
    let started = Instant::now();
    let mut result = Ok(());
    for resource in resources {
        let mut fetch = Fetch {
            workspace: &mut *workspace,
            request: session.request,
            service: session.service,
            runtime: session.runtime,
            client: session.client,
            report: &mut *report,
            raw: &mut raw,
            pages_left: &mut pages_left,
            started,
            items: 0,
        };
        result = read(&mut fetch, resource);
        if result.is_err() {
            break;
        }
    }
    let warnings = cursor::warnings_under(workspace, &format!("{}:", session.request.source()));
    report.close(session.client.requests(), session.client.retries(), warnings);
    result?;
    workspace.replace(&model::SERVICES, &crate::collect::service_rows(config))?;
    Ok(())
}

/// The pages a run may still fetch: none asked for, or a number for tests of interrupted runs
/// (`stop_after_pages`), past which the run stops with an error and the next one resumes.
#[derive(Debug, Clone, Copy)]
pub struct PageBudget(Option<usize>);

impl PageBudget {
    pub fn new(limit: Option<usize>) -> PageBudget {
        PageBudget(limit)
    }

    /// Counts one page; `source_error` makes the source's error once the budget is spent.
    pub fn spend(&mut self, source_error: impl FnOnce(String) -> Error) -> Result<()> {
        match &mut self.0 {
            Some(0) => Err(source_error("stopped after the pages asked for; the next run resumes".into())),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// The runtime one collection's requests run on (the store, which keeps its own, runs outside
/// it); `source_error` makes the source's error when it cannot start.
pub fn network_runtime(source_error: impl FnOnce(String) -> Error) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| source_error(format!("cannot start the network runtime: {e}")))
}

/// Merges the upsert figures of a page into those of the collection: incoming rows add up, the
/// table's size is the latest.
pub fn merge_stats(all: &mut Vec<UpsertStats>, new: Vec<UpsertStats>) {
    for s in new {
        match all.iter_mut().find(|a| a.table == s.table) {
            Some(a) => {
                a.incoming += s.incoming;
                a.after = s.after;
            }
            None => all.push(s),
        }
    }
}

/// One resource being fetched, page by page. The source's own methods (in its `mod.rs`) ask for
/// the pages; these keep the state every API shares.
pub struct Fetch<'a, A: Api> {
    pub workspace: &'a mut Workspace,
    pub request: &'a A::Request,
    pub service: &'a Service,
    pub runtime: &'a tokio::runtime::Runtime,
    pub client: &'a A::Client,
    pub report: &'a mut A::Report,
    pub raw: &'a mut RawPages,
    pages_left: &'a mut PageBudget,
    started: Instant,
    /// Items read so far of the current resource.
    items: u64,
}

impl<A: Api> Fetch<'_, A> {
    /// The cursor name of one of the request's resources.
    pub fn cursor_name(&self, resource: &str) -> String {
        format!("{}:{resource}", self.request.source())
    }

    /// Counts a page against `stop_after_pages`.
    pub fn page_budget(&mut self) -> Result<()> {
        let request = self.request;
        self.pages_left.spend(|message| request.error(message))
    }

    /// Tells the progress sink where `resource` stands after `items` more were read.
    pub fn progress(&mut self, resource: &'static str, items: u64, total: Option<u64>, done: bool) {
        self.items += items;
        let Some(sink) = self.request.progress() else { return };
        let budgets = self.client.budgets();
        (sink.0)(&Progress {
            repo: self.request.target().to_string(),
            resource,
            pages: self.report.pages(),
            items: self.items,
            total,
            requests: self.client.requests(),
            points: budgets.points,
            graphql_remaining: budgets.graphql_remaining,
            rest_remaining: budgets.rest_remaining,
            elapsed: self.started.elapsed(),
            done,
        });
    }

    /// Starts or resumes a run of `resource`: its cursor's name, the cursor and the run.
    pub fn begin(&mut self, resource: &str) -> (String, Cursor, Run) {
        let name = self.cursor_name(resource);
        let (cursor, run, resumed) = cursor::begin(self.workspace, &name, cursor::from_high_water);
        if resumed {
            self.report.mark_resumed();
        }
        (name, cursor, run)
    }

    /// Upserts a page's rows and counts them.
    pub fn store(&mut self, rows: Extracted) -> Result<()> {
        self.report.count(&rows);
        let stats = self.workspace.upsert(&rows.batches())?;
        merge_stats(self.report.tables(), stats);
        Ok(())
    }

    /// Replaces the evidence rows under `prefix` (a snapshot of settings) with those in `rows`.
    pub fn replace_evidence(&mut self, prefix: &str, rows: Extracted) -> Result<()> {
        replace_evidence::<A>(self.workspace, self.report, prefix, rows)
    }

    /// Records `cursor` as the state of `name`, with the data warnings its cuts make.
    pub fn save_cursor(&mut self, name: &str, cursor: &Cursor) -> Result<()> {
        save_cursor::<A>(self.workspace, name, cursor)
    }

    /// Records a run in progress, so that an interrupted run continues from here.
    pub fn save_run(&mut self, name: &str, cursor: &Cursor, run: &Run) -> Result<()> {
        let mut state = cursor.clone();
        state.run = Some(run.clone());
        self.save_cursor(name, &state)
    }

    /// Ends a run: the high-water mark moves to the newest item read, or back to the oldest
    /// unfinished one (read again next time) unless that is more than [`Api::MAX_REWIND_DAYS`]
    /// older.
    pub fn finish(&mut self, name: &str, mut cursor: Cursor, run: Run) -> Result<()> {
        let high = cursor.high_water.max(run.next_high_water);
        cursor.high_water = match (high, run.oldest_unfinished) {
            (Some(h), Some(u)) if h - u <= chrono::Duration::days(A::MAX_REWIND_DAYS) => Some(h.min(u)),
            (Some(h), _) => Some(h),
            (None, u) => u,
        };
        cursor.run = None;
        self.save_cursor(name, &cursor)
    }
}

/// [`Fetch::save_cursor`], for what runs outside a fetch.
pub fn save_cursor<A: Api>(workspace: &mut Workspace, name: &str, cursor: &Cursor) -> Result<()> {
    cursor::save(workspace, name, cursor, cursor::cut_warnings(A::NAME, name, &cursor.truncated))
}

/// [`Fetch::replace_evidence`], for offline re-extraction.
pub fn replace_evidence<A: Api>(
    workspace: &mut Workspace,
    report: &mut A::Report,
    prefix: &str,
    rows: Extracted,
) -> Result<()> {
    report.count(&rows);
    let rows = rows.tables.get(model::EVIDENCE.name).cloned().unwrap_or_default();
    let stats = workspace.replace_prefixed(&model::EVIDENCE, "id", prefix, &rows)?;
    merge_stats(report.tables(), vec![stats]);
    Ok(())
}
