//! Dated snapshots of assessments with answers, kept in the workspace so that later runs and the
//! report can show how the survey and evidence scores moved between assessments.
//!
//! Snapshots are one JSON file, `assessments.json`, in the workspace directory (not a domain table:
//! they are derived results, not collected records, and their shape nests per capability). It is
//! written while the workspace lock is held (a `&mut Workspace` proves it), through a synced
//! temporary file renamed over the old one, like the workspace's tables: a reader sees the old file
//! or the new one, never half. A snapshot is keyed by date and service: assessing twice on one day
//! replaces that day's snapshot, so re-runs are idempotent.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Workspace;

/// The snapshots file's name inside the workspace.
pub const FILE: &str = "assessments.json";

/// One capability's scores at the snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CapabilityScores {
    pub evidence: Option<f64>,
    pub survey: Option<f64>,
}

/// One service's assessment on one date.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub date: NaiveDate,
    pub service: String,
    pub respondents: usize,
    pub capabilities: BTreeMap<String, CapabilityScores>,
    /// Indicator id → value over the window (known ones).
    pub indicators: BTreeMap<String, f64>,
}

fn path_in(root: &Path) -> PathBuf {
    root.join(FILE)
}

/// Every snapshot in the workspace at `root`, oldest first; none when the file does not exist.
pub fn load(root: &Path) -> Result<Vec<Snapshot>> {
    let path = path_in(root);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Workspace {
        path: path.clone(),
        message: format!("assessment snapshots are not valid: {e}"),
    })
}

/// Adds `snapshots` to the workspace's, replacing any of the same date and service.
pub fn save(workspace: &mut Workspace, snapshots: &[Snapshot]) -> Result<()> {
    let root = workspace.root().to_path_buf();
    let mut all = load(&root)?;
    all.retain(|old| !snapshots.iter().any(|new| new.date == old.date && new.service == old.service));
    all.extend(snapshots.iter().cloned());
    all.sort_by(|a, b| (a.date, &a.service).cmp(&(b.date, &b.service)));
    let text = serde_json::to_string_pretty(&all).expect("snapshots serialise") + "\n";
    let path = path_in(&root);
    let tmp = root.join(format!(".{FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(text.as_bytes()).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    // On object storage the workspace's directory is a local mirror: the snapshots go up too.
    workspace.publish_local_files()
}

/// How one capability's scores moved between two snapshots of a service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SnapshotMovement {
    pub capability: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub survey: (Option<f64>, Option<f64>),
    pub evidence: (Option<f64>, Option<f64>),
}

/// The capabilities whose survey or evidence score changed since the service's latest earlier
/// snapshot (dated before `current`).
pub fn movement_since(earlier: &[Snapshot], current: &Snapshot) -> Vec<SnapshotMovement> {
    let Some(before) =
        earlier.iter().filter(|s| s.service == current.service && s.date < current.date).max_by_key(|s| s.date)
    else {
        return Vec::new();
    };
    let after = current;
    after
        .capabilities
        .iter()
        .filter_map(|(id, now)| {
            let then =
                before.capabilities.get(id).cloned().unwrap_or(CapabilityScores { evidence: None, survey: None });
            (then != *now).then(|| SnapshotMovement {
                capability: id.clone(),
                from: before.date,
                to: after.date,
                survey: (then.survey, now.survey),
                evidence: (then.evidence, now.evidence),
            })
        })
        .collect()
}
