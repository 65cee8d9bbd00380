//! A forge's successful production deployments in time order, per environment, and the rollbacks
//! among them — the same for every source that reads deployments from a forge (GitHub, GitLab):
//! neither records a rollback flag, so one is inferred from the order of deployed commits.
//!
//! Why apart: the sources differ in how they list deployments, not in what a sequence of deployed
//! commits says; each passes the id prefixes of the deployments it wrote.

use std::collections::{BTreeMap, HashSet};

use crate::error::Result;
use crate::model;
use crate::store::Workspace;

/// One successful production deployment: when it finished (microseconds), its id and its commit
/// (lower-cased).
pub type Deployed = (i64, String, String);

/// Successful production deployments per environment (lower-cased), in time order.
pub type DeploymentsByEnvironment = BTreeMap<String, Vec<Deployed>>;

/// The successful production deployments whose id starts with one of `prefixes`.
pub fn production_deployments(workspace: &Workspace, prefixes: &[String]) -> Result<DeploymentsByEnvironment> {
    let d = workspace.load(&model::DEPLOYMENTS)?;
    let (ids, envs, shas, status, production) = (
        d.column("id")?.str()?,
        d.column("environment")?.str()?,
        d.column("sha")?.str()?,
        d.column("status")?.str()?,
        d.column("is_production")?.bool()?,
    );
    let finished = d.column("finished_at")?.datetime()?.physical().clone();
    let mut by_env = DeploymentsByEnvironment::new();
    for i in 0..d.height() {
        let (Some(id), Some(env), Some(sha), Some(at)) = (ids.get(i), envs.get(i), shas.get(i), finished.get(i)) else {
            continue;
        };
        if status.get(i) == Some("success")
            && production.get(i) == Some(true)
            && prefixes.iter().any(|p| id.starts_with(p.as_str()))
        {
            by_env.entry(env.to_ascii_lowercase()).or_default().push((at, id.to_string(), sha.to_ascii_lowercase()));
        }
    }
    for list in by_env.values_mut() {
        list.sort();
    }
    Ok(by_env)
}

/// Marks as rollbacks the production deployments (ids under `prefixes`) that put back a commit the
/// environment already ran before the one it replaced (A, B, A: the second A restores an earlier
/// version). Without the mark the metrics would credit a rollback with shipping the changes merged
/// before it. Returns how many deployments the mark changed.
pub fn mark_rollbacks(workspace: &mut Workspace, prefixes: &[String]) -> Result<usize> {
    let mut rollbacks = HashSet::new();
    for list in production_deployments(workspace, prefixes)?.values() {
        let mut seen = HashSet::new();
        let mut previous: Option<&str> = None;
        for (_, id, sha) in list {
            if previous.is_some_and(|p| p != sha) && seen.contains(sha.as_str()) {
                rollbacks.insert(id.clone());
            }
            seen.insert(sha.as_str());
            previous = Some(sha);
        }
    }
    workspace.mark(&model::DEPLOYMENTS, "is_rollback", &rollbacks)
}
