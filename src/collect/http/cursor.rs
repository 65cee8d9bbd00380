//! Sync state of an HTTP API source, kept per source and resource as JSON in the workspace
//! manifest: the high-water mark of what has been read, the ETag of a snapshot, the run in progress
//! (so an interrupted run continues from its last page) and the items whose listings were cut
//! short. The shape is the same for every API; what fills it is each source's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::DataWarning;
use crate::store::{SourceState, Workspace};

/// Per-repository, per-resource sync state, stored as JSON in the manifest's cursor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// Every item updated at or before this instant has been read.
    pub high_water: Option<DateTime<Utc>>,
    /// ETag of the last answer of a snapshot resource, for a conditional request next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// A run in progress (present only while a run is unfinished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Run>,
    /// Items whose listings GitHub cut short, by item, kept until the item is read whole again: the
    /// data in the workspace stays cut until then. They are the source's data warnings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub truncated: BTreeMap<String, Cut>,
}

/// What was cut from one item's listing, and the metrics it weakens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cut {
    pub detail: String,
    pub affects: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// GraphQL cursor of the next page to read.
    pub after: Option<String>,
    /// The high-water mark the run started from: it stops at items older than this.
    pub stop_at: Option<DateTime<Utc>>,
    /// The newest `updatedAt` of the run's first page, the next high-water mark.
    pub next_high_water: Option<DateTime<Utc>>,
    /// The oldest unfinished item seen, read again by the next run.
    #[serde(default)]
    pub oldest_unfinished: Option<DateTime<Utc>>,
    pub pages: usize,
    /// Ranges of creation times still to list, the one being listed last (GitHub's workflow runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<CreatedRange>,
    /// Items the listing of the current range has returned so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub listed: u64,
    /// How many items GitHub reported for the whole run when it started, for progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An inclusive range of creation times in whole seconds (GitHub's `created=FROM..TO` filter).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct CreatedRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl CreatedRange {
    /// The older and the newer half, or `None` for a single second.
    pub fn halves(&self) -> Option<(CreatedRange, CreatedRange)> {
        let seconds = (self.to - self.from).num_seconds();
        if seconds < 1 {
            return None;
        }
        let middle = self.from + chrono::Duration::seconds(seconds / 2);
        Some((
            CreatedRange { from: self.from, to: middle },
            CreatedRange { from: middle + chrono::Duration::seconds(1), to: self.to },
        ))
    }
}

pub fn load_cursor(workspace: &Workspace, name: &str) -> Cursor {
    workspace.manifest().sources.get(name).and_then(|s| serde_json::from_str(&s.cursor).ok()).unwrap_or_default()
}

/// Records `cursor` as the state of source `name`, with the data warnings its source draws from it.
pub fn save(workspace: &mut Workspace, name: &str, cursor: &Cursor, warnings: Vec<DataWarning>) -> Result<()> {
    let text = serde_json::to_string(cursor).expect("cursor serialises");
    workspace.record_source(name, SourceState { last_run: Utc::now(), cursor: text, warnings })
}

/// The data warnings every source entry under `prefix` (e.g. `gitlab:group/app:`) holds in the
/// manifest: what a run's report says was cut short or left out, whichever resource found it.
pub fn warnings_under(workspace: &Workspace, prefix: &str) -> Vec<DataWarning> {
    workspace
        .manifest()
        .sources
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .flat_map(|(_, state)| state.warnings.iter().cloned())
        .collect()
}

/// The data warnings of a source whose items have `cuts`: one `truncated-listing` warning per set of
/// metrics affected, naming the first few items. `api` names the API that cut them (`GitHub`).
pub fn cut_warnings(api: &str, source: &str, cuts: &BTreeMap<String, Cut>) -> Vec<DataWarning> {
    let mut by_affects: BTreeMap<Vec<String>, Vec<&str>> = BTreeMap::new();
    for cut in cuts.values() {
        let mut affects = cut.affects.clone();
        affects.sort();
        by_affects.entry(affects).or_default().push(&cut.detail);
    }
    const NAMED: usize = 5;
    by_affects
        .into_iter()
        .map(|(affects, details)| {
            let more = details.len().saturating_sub(NAMED);
            let named = details.iter().take(NAMED).copied().collect::<Vec<_>>().join("; ");
            let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
            let n = details.len();
            DataWarning {
                kind: "truncated-listing".into(),
                source: source.to_string(),
                message: format!(
                    "{api} listed {n} {} only in part, so what lies past the cut was not read: {named}{tail}",
                    if n == 1 { "item's records" } else { "items' records" }
                ),
                affects,
            }
        })
        .collect()
}

/// Starts a run of the resource whose cursor is `name`, or resumes the one an interrupted
/// collection left: the cursor (with no run), the run, and whether it was resumed. A new run
/// starts from the high-water mark unless `fresh` says otherwise.
pub fn begin(workspace: &Workspace, name: &str, fresh: impl FnOnce(&Cursor) -> Run) -> (Cursor, Run, bool) {
    let mut cursor = load_cursor(workspace, name);
    match cursor.run.take() {
        Some(run) => (cursor, run, true),
        None => {
            let run = fresh(&cursor);
            (cursor, run, false)
        }
    }
}

/// A fresh run from the high-water mark: it stops at items older than the mark.
pub fn from_high_water(cursor: &Cursor) -> Run {
    Run { stop_at: cursor.high_water, ..Default::default() }
}
