//! A deterministic generator of synthetic organisations of a given size, for benchmarks, with every
//! shape real data has: several commits per change (squash merges whose branch commits never reach
//! the mainline, merge commits, rebases), deployments that record what they shipped and deployments
//! whose shipments must be inferred, rollbacks, hotfixes and reverts, reviews by the author and by
//! others, unmerged changes, unresolved incidents, and incidents that name their cause by deployment,
//! by change id, by full sha, by abbreviated sha or not at all ([`Links`]).
//!
//! Frames are built column by column (not row by row) so that a million changes fit comfortably in
//! memory; every table has exactly the columns and types of its schema in `flowgauge::model`.
//! [`write_workspace`] stores them as a workspace the `flowgauge` binary and DuckDB both read.

#![allow(dead_code)] // each bench uses part of this module

use std::collections::HashMap;
use std::path::Path;

use chrono::{TimeZone, Utc};
use flowgauge::model::{self, ColumnType, TableSchema};
use polars::prelude::*;

/// How incidents that name no deployment name their cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// 10 % of incidents name the change that caused them (`caused_by_change_id`).
    ChangeIds,
    /// 10 % name a full sha: half a merge commit, half a commit of the change's branch.
    FullShas,
    /// 1,020 incidents per million changes name an 8-character abbreviated sha.
    ShortShas,
    /// No incident names a change or a commit.
    None,
}

impl Links {
    pub const ALL: [Links; 4] = [Links::ChangeIds, Links::FullShas, Links::ShortShas, Links::None];

    pub fn name(self) -> &'static str {
        match self {
            Links::ChangeIds => "ids",
            Links::FullShas => "full",
            Links::ShortShas => "short",
            Links::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Links> {
        Links::ALL.into_iter().find(|l| l.name() == s)
    }
}

/// How big an organisation to make.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub services: usize,
    pub changes: usize,
    pub deployments: usize,
    pub incidents: usize,
    /// Years of history from 1 January 2025.
    pub years: usize,
    pub links: Links,
}

impl Size {
    /// The organisation of issue 13 scaled to `changes`: a deployment per five changes, an incident per
    /// fifty, 50 services, one year.
    pub fn scaled(changes: usize, links: Links) -> Size {
        Size { services: 50, changes, deployments: changes / 5, incidents: changes / 50, years: 1, links }
    }
}

/// A small, fast, deterministic pseudo-random sequence (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random 40-digit commit id, so abbreviated shas spread over the key space as real ones do.
    fn sha(&mut self) -> String {
        format!("{:016x}{:016x}{:08x}", self.next(), self.next(), self.next() as u32)
    }
}

const SECOND: i64 = 1_000_000; // microseconds
const HOUR: i64 = 3600 * SECOND;

/// Columns of one table under construction; unset columns become all-null of the schema's type.
struct FrameBuilder {
    schema: &'static TableSchema,
    height: usize,
    columns: HashMap<&'static str, Column>,
}

impl FrameBuilder {
    fn new(schema: &'static TableSchema, height: usize) -> Self {
        FrameBuilder { schema, height, columns: HashMap::new() }
    }

    fn text(mut self, name: &'static str, values: Vec<Option<String>>) -> Self {
        self.columns.insert(name, Column::new(name.into(), values));
        self
    }

    fn int(mut self, name: &'static str, values: Vec<Option<i64>>) -> Self {
        self.columns.insert(name, Column::new(name.into(), values));
        self
    }

    fn boolean(mut self, name: &'static str, values: Vec<Option<bool>>) -> Self {
        self.columns.insert(name, Column::new(name.into(), values));
        self
    }

    fn time(mut self, name: &'static str, micros: Vec<Option<i64>>) -> Self {
        let column = Column::new(name.into(), micros)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .expect("i64 casts to datetime");
        self.columns.insert(name, column);
        self
    }

    fn build(mut self) -> DataFrame {
        let columns = self
            .schema
            .columns
            .iter()
            .map(|c| {
                self.columns.remove(c.name).unwrap_or_else(|| {
                    let dtype = match c.kind {
                        ColumnType::Text => DataType::String,
                        ColumnType::Int => DataType::Int64,
                        ColumnType::Float => DataType::Float64,
                        ColumnType::Bool => DataType::Boolean,
                        ColumnType::Time => DataType::Datetime(TimeUnit::Microseconds, None),
                    };
                    Column::full_null(c.name.into(), self.height, &dtype)
                })
            })
            .collect();
        DataFrame::new(self.height, columns).expect("columns have the frame's height")
    }
}

/// How a change reached the mainline, which decides which of its commits a deployment ships.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// One new commit on the mainline; the branch commits never reach it.
    Squash,
    /// A merge commit; the branch commits reach the mainline too.
    Merged,
    /// The branch commits replayed on the mainline; the last one is the merge commit sha.
    Rebase,
}

/// One generated deployment, as the changes and incidents need it.
#[derive(Clone, Copy)]
struct Deployment {
    index: usize,
    started: i64,
    finished: i64,
    production_success: bool,
    rollback: bool,
}

struct Deployments {
    rows: Vec<Deployment>,
    environment: Vec<Option<String>>,
    is_production: Vec<Option<bool>>,
    status: Vec<Option<String>>,
    hotfix: Vec<Option<bool>>,
    /// Per service, its successful production deployments sorted by finish time.
    production: Vec<Vec<Deployment>>,
}

fn deployments(size: &Size, rng: &mut Rng, start: i64, span: i64) -> Deployments {
    let mut rows = Vec::with_capacity(size.deployments);
    let (mut environment, mut is_production_column, mut status, mut hotfix) = (vec![], vec![], vec![], vec![]);
    let mut production = vec![Vec::new(); size.services];
    for index in 0..size.deployments {
        let finished = start + rng.below(span as u64) as i64;
        let started = finished - (5 + rng.below(20) as i64) * 60 * SECOND;
        let is_production = !rng.chance(15);
        let success = !rng.chance(5);
        let deployment = Deployment {
            index,
            started,
            finished,
            production_success: is_production && success,
            rollback: rng.chance(1),
        };
        is_production_column.push(Some(is_production));
        environment.push(Some(if is_production { "production" } else { "staging" }.to_string()));
        status.push(Some(if success { "success" } else { "failure" }.to_string()));
        hotfix.push(Some(rng.chance(2)));
        if deployment.production_success {
            production[index % size.services].push(deployment);
        }
        rows.push(deployment);
    }
    for list in &mut production {
        list.sort_unstable_by_key(|d| (d.finished, d.index));
    }
    Deployments { rows, environment, is_production: is_production_column, status, hotfix, production }
}

/// One generated change, as deployments and incidents need it.
#[derive(Clone)]
struct Change {
    index: usize,
    merged: Option<i64>,
    merge_sha: Option<String>,
    /// The commits of its branch (`change_commits`).
    commits: Vec<String>,
    merge: Merge,
}

impl Change {
    /// The commits a deployment that shipped this change carries on the mainline.
    fn mainline(&self) -> Vec<&str> {
        let mut shas: Vec<&str> = self.merge_sha.iter().map(String::as_str).collect();
        if self.merge != Merge::Squash {
            shas.extend(self.commits.iter().map(String::as_str).filter(|s| Some(*s) != self.merge_sha.as_deref()));
        }
        shas
    }
}

fn service_name(i: usize) -> String {
    format!("svc-{i:03}")
}

/// Generates every domain table for an organisation of `size`, from 1 January 2025.
pub fn organisation(size: Size) -> HashMap<&'static str, DataFrame> {
    let mut rng = Rng(20_251_123);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap().timestamp_micros();
    let span = 365 * 86_400 * SECOND * size.years.max(1) as i64;
    let deploys = deployments(&size, &mut rng, start, span);

    // Changes: merged at a random time, with one to three commits (two on average).
    let n = size.changes;
    let (mut c_id, mut c_service, mut c_author, mut c_created, mut c_first, mut c_review, mut c_merged, mut c_sha) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut c_revert, mut c_reverts) = (vec![], vec![]);
    let (mut cc_change, mut cc_sha) = (vec![], vec![]);
    let (mut r_id, mut r_change, mut r_reviewer, mut r_time) = (vec![], vec![], vec![], vec![]);
    let mut by_service: Vec<Vec<Change>> = vec![Vec::new(); size.services];
    for i in 0..n {
        let service = rng.below(size.services as u64) as usize;
        let merged_at = start + rng.below(span as u64) as i64;
        let coding = (1 + rng.below(72)) as i64 * HOUR;
        let review = (1 + rng.below(48)) as i64 * HOUR;
        let created = merged_at - review;
        let first_review = created + rng.below((review / SECOND) as u64) as i64 * SECOND;
        let author = rng.below(2_000);
        let merged = !rng.chance(2);
        let merge = match rng.below(3) {
            0 => Merge::Squash,
            1 => Merge::Merged,
            _ => Merge::Rebase,
        };
        let commits: Vec<String> = (0..1 + rng.below(3)).map(|_| rng.sha()).collect();
        let merge_sha =
            merged.then(|| if merge == Merge::Rebase { commits[commits.len() - 1].clone() } else { rng.sha() });
        let id = format!("synth:change:{i}");
        for sha in &commits {
            cc_change.push(Some(id.clone()));
            cc_sha.push(Some(sha.clone()));
        }
        // A revert undoes an earlier change of its own service.
        let earlier = &by_service[service];
        let reverts = (merged && !earlier.is_empty() && rng.chance(1))
            .then(|| format!("synth:change:{}", earlier[rng.below(earlier.len() as u64) as usize].index));
        c_revert.push(Some(reverts.is_some()));
        c_reverts.push(reverts);
        c_id.push(Some(id.clone()));
        c_service.push(Some(service_name(service)));
        c_author.push(Some(format!("dev{author}")));
        c_created.push(Some(created));
        c_first.push(Some(created - coding));
        c_review.push(Some(first_review));
        c_merged.push(merged.then_some(merged_at));
        c_sha.push(merge_sha.clone());
        // One review per change; one in ten is the author's own comment, which is not a response.
        r_id.push(Some(format!("synth:review:{i}")));
        r_change.push(Some(id));
        let reviewer = if rng.chance(10) { author } else { rng.below(2_000) };
        r_reviewer.push(Some(format!("dev{reviewer}")));
        r_time.push(Some(created + rng.below((review / SECOND) as u64 + 3600) as i64 * SECOND));
        by_service[service].push(Change { index: i, merged: merged.then_some(merged_at), merge_sha, commits, merge });
    }
    for list in &mut by_service {
        list.sort_by_key(|c| (c.merged.is_none(), c.merged, c.index));
    }

    // Half the services (the even ones) record what each production deployment shipped: the
    // mainline commits of the changes merged since the previous one started. The others record
    // nothing, so flowgauge infers it from the merged changes.
    let (mut dc_deploy, mut dc_sha) = (vec![], vec![]);
    let mut deployed_sha: Vec<Option<String>> = vec![None; size.deployments];
    for (service, list) in deploys.production.iter().enumerate() {
        let changes = &by_service[service];
        let merged_count = changes.iter().take_while(|c| c.merged.is_some()).count();
        let merged = &changes[..merged_count];
        let mut previous_start: Option<i64> = None;
        for d in list.iter().filter(|d| !d.rollback) {
            let low = previous_start.unwrap_or(d.started - 7 * 24 * HOUR);
            previous_start = Some(d.started);
            let from = merged.partition_point(|c| c.merged.is_some_and(|m| m <= low));
            let to = merged.partition_point(|c| c.merged.is_some_and(|m| m <= d.started));
            if service % 2 == 0 {
                for change in &merged[from..to.max(from)] {
                    for sha in change.mainline() {
                        dc_deploy.push(Some(format!("synth:deployment:{}", d.index)));
                        dc_sha.push(Some(sha.to_string()));
                    }
                }
            }
            // The commit the deployment tool reports: the newest merged before it started.
            deployed_sha[d.index] = to.checked_sub(1).and_then(|k| merged[k].merge_sha.clone());
        }
    }

    // Incidents: a fifth name the deployment that caused them; others name a change or commit as the
    // link shape says; the rest are linked by the window or not at all.
    let short_quota = size.changes * 1_020 / 1_000_000;
    let mut short_named = 0;
    let (mut i_id, mut i_service, mut i_opened, mut i_resolved, mut i_cause) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut i_change, mut i_sha) = (vec![], vec![]);
    for i in 0..size.incidents {
        let service = rng.below(size.services as u64) as usize;
        let opened = start + rng.below(span as u64) as i64;
        let resolved = opened + (10 * 60 + rng.below(48 * 3600)) as i64 * SECOND;
        let production = &deploys.production[service];
        let cause = if rng.chance(20) {
            let before = production.partition_point(|d| d.finished <= opened);
            before.checked_sub(1).map(|k| format!("synth:deployment:{}", production[k].index))
        } else {
            None
        };
        // The culprit: a change of the service merged shortly before the incident opened.
        let changes = &by_service[service];
        let merged_before = changes.partition_point(|c| c.merged.is_some_and(|m| m <= opened));
        let culprit = merged_before.checked_sub(1 + rng.below(40) as usize).map(|k| &changes[k]);
        let (mut by_change, mut by_sha) = (None, None);
        if let (None, Some(change)) = (&cause, culprit) {
            let branch_commit = || change.commits[change.commits.len() / 2].clone();
            match size.links {
                Links::ChangeIds if rng.chance(10) => by_change = Some(format!("synth:change:{}", change.index)),
                Links::FullShas if rng.chance(10) => {
                    by_sha = Some(if rng.chance(50) {
                        change.merge_sha.clone().unwrap_or_else(branch_commit)
                    } else {
                        branch_commit()
                    })
                }
                Links::ShortShas if short_named < short_quota => {
                    short_named += 1;
                    let sha = if rng.chance(50) {
                        change.merge_sha.clone().unwrap_or_else(branch_commit)
                    } else {
                        branch_commit()
                    };
                    by_sha = Some(sha[..8].to_string());
                }
                _ => {}
            }
        }
        i_id.push(Some(format!("synth:incident:{i}")));
        i_service.push(Some(service_name(service)));
        i_opened.push(Some(opened));
        i_resolved.push((!rng.chance(2)).then_some(resolved));
        i_cause.push(cause);
        i_change.push(by_change);
        i_sha.push(by_sha);
    }

    let source = |n: usize| vec![Some("synth".to_string()); n];
    let mut tables = HashMap::new();
    let d = &deploys.rows;
    tables.insert(
        "deployments",
        FrameBuilder::new(&model::DEPLOYMENTS, size.deployments)
            .text("id", d.iter().map(|d| Some(format!("synth:deployment:{}", d.index))).collect())
            .text("source", source(size.deployments))
            .text("service", d.iter().map(|d| Some(service_name(d.index % size.services))).collect())
            .text("environment", deploys.environment)
            .boolean("is_production", deploys.is_production)
            .time("started_at", d.iter().map(|d| Some(d.started)).collect())
            .time("finished_at", d.iter().map(|d| Some(d.finished)).collect())
            .text("status", deploys.status)
            .text("sha", deployed_sha)
            .boolean("is_rollback", d.iter().map(|d| Some(d.rollback)).collect())
            .boolean("is_hotfix", deploys.hotfix)
            .build(),
    );
    let shipped = dc_sha.len();
    tables.insert(
        "deployment_commits",
        FrameBuilder::new(&model::DEPLOYMENT_COMMITS, shipped)
            .text("deployment_id", dc_deploy)
            .text("sha", dc_sha)
            .build(),
    );
    let commits = cc_sha.len();
    tables.insert(
        "change_commits",
        FrameBuilder::new(&model::CHANGE_COMMITS, commits).text("change_id", cc_change).text("sha", cc_sha).build(),
    );
    tables.insert(
        "changes",
        FrameBuilder::new(&model::CHANGES, n)
            .text("id", c_id)
            .text("source", source(n))
            .text("service", c_service)
            .text("author", c_author)
            .time("created_at", c_created)
            .time("first_commit_at", c_first)
            .time("first_review_at", c_review)
            .time("merged_at", c_merged)
            .text("merge_commit_sha", c_sha)
            .boolean("is_revert", c_revert)
            .text("reverts_change_id", c_reverts)
            .int("additions", vec![Some(10); n])
            .build(),
    );
    tables.insert(
        "reviews",
        FrameBuilder::new(&model::REVIEWS, n)
            .text("id", r_id)
            .text("change_id", r_change)
            .text("reviewer", r_reviewer)
            .time("submitted_at", r_time)
            .build(),
    );
    tables.insert(
        "incidents",
        FrameBuilder::new(&model::INCIDENTS, size.incidents)
            .text("id", i_id)
            .text("source", source(size.incidents))
            .text("service", i_service)
            .time("opened_at", i_opened)
            .time("resolved_at", i_resolved)
            .text("caused_by_deployment_id", i_cause)
            .text("caused_by_change_id", i_change)
            .text("caused_by_sha", i_sha)
            .build(),
    );
    for schema in model::TABLES {
        tables.entry(schema.name).or_insert_with(|| FrameBuilder::new(schema, 0).build());
    }
    tables
}

/// Writes `tables` as a workspace at `dir`: one parquet file per table and a manifest — the
/// one-file-per-table layout of schema version 1, which the store reads as it is (and migrates on
/// its first write; see docs/workspace.md) — and reads one table back through the store to prove it.
pub fn write_workspace(dir: &Path, tables: &HashMap<&'static str, DataFrame>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for schema in model::TABLES {
        let mut df = tables[schema.name].clone();
        let file = std::fs::File::create(dir.join(format!("{}.parquet", schema.name)))?;
        ParquetWriter::new(file).finish(&mut df).map_err(std::io::Error::other)?;
    }
    let manifest = flowgauge::store::Manifest {
        schema_version: 1,
        generation: 1,
        sources: Default::default(),
        tables: Default::default(),
    };
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?)?;
    let workspace = flowgauge::store::Workspace::open_existing(dir).map_err(std::io::Error::other)?;
    let changes = workspace.load(&model::CHANGES).map_err(std::io::Error::other)?;
    assert_eq!(changes.height(), tables["changes"].height(), "the store reads back what was written");
    Ok(())
}
