//! A deterministic generator of synthetic organisations of a given size, for benchmarks.
//!
//! Frames are built column by column (not row by row) so that a million changes fit comfortably in
//! memory; every table has exactly the columns and types of its schema in `flowgauge::model`.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use flowgauge::model::{self, ColumnType, TableSchema};
use polars::prelude::*;

/// How big an organisation to make.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub services: usize,
    pub changes: usize,
    pub deployments: usize,
    pub incidents: usize,
    /// Years of history from 1 January 2025.
    pub years: usize,
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
}

const SECOND: i64 = 1_000_000; // microseconds

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

/// Generates every domain table for an organisation of `size`, over 2025.
pub fn organisation(size: Size) -> HashMap<&'static str, DataFrame> {
    let mut rng = Rng(20_251_123);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap().timestamp_micros();
    // The whole span of history; the name says what it is in the one-year default.
    let year = 365 * 86_400 * SECOND * size.years.max(1) as i64;
    let service_name = |i: usize| format!("svc-{i:03}");

    // Deployments: sorted per service so changes can find the next production deployment.
    let mut deploy_times: Vec<Vec<(i64, usize)>> = vec![Vec::new(); size.services];
    let (mut d_id, mut d_service, mut d_env, mut d_prod, mut d_start, mut d_finish, mut d_status) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut d_rollback, mut d_hotfix) = (vec![], vec![]);
    for i in 0..size.deployments {
        let service = i % size.services;
        let finished = start + rng.below(year as u64) as i64;
        let production = !rng.chance(15);
        let success = !rng.chance(5);
        d_id.push(Some(format!("synth:deployment:{i}")));
        d_service.push(Some(service_name(service)));
        d_env.push(Some(if production { "production" } else { "staging" }.to_string()));
        d_prod.push(Some(production));
        d_start.push(Some(finished - (5 + rng.below(20) as i64) * 60 * SECOND));
        d_finish.push(Some(finished));
        d_status.push(Some(if success { "success" } else { "failure" }.to_string()));
        d_rollback.push(Some(rng.chance(1)));
        d_hotfix.push(Some(rng.chance(2)));
        if production && success {
            deploy_times[service].push((finished, i));
        }
    }
    for list in &mut deploy_times {
        list.sort_unstable();
    }

    // Changes: merged at a random time, shipped by the next production deployment of their service.
    let n = size.changes;
    let (mut c_id, mut c_service, mut c_author, mut c_created, mut c_first, mut c_review, mut c_merged, mut c_sha) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut c_revert, mut c_reverts) = (vec![], vec![]);
    let (mut dc_deploy, mut dc_sha) = (vec![], vec![]);
    let (mut r_id, mut r_change, mut r_reviewer, mut r_time) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let service = rng.below(size.services as u64) as usize;
        let merged = start + rng.below(year as u64) as i64;
        let coding = (1 + rng.below(72)) as i64 * 3600 * SECOND;
        let review = (1 + rng.below(48)) as i64 * 3600 * SECOND;
        let created = merged - review;
        let first_review = created + rng.below((review / SECOND) as u64) as i64 * SECOND;
        let sha = format!("{i:040x}");
        c_id.push(Some(format!("synth:change:{i}")));
        c_service.push(Some(service_name(service)));
        c_author.push(Some(format!("dev{}", rng.below(2_000))));
        c_created.push(Some(created));
        c_first.push(Some(created - coding));
        c_review.push(Some(first_review));
        c_merged.push(Some(merged));
        let is_revert = i > 0 && rng.chance(1);
        c_revert.push(Some(is_revert));
        c_reverts.push(is_revert.then(|| format!("synth:change:{}", rng.below(i as u64))));
        r_id.push(Some(format!("synth:review:{i}")));
        r_change.push(Some(format!("synth:change:{i}")));
        r_reviewer.push(Some(format!("dev{}", rng.below(2_000))));
        r_time.push(Some(first_review));
        let list = &deploy_times[service];
        let next = list.partition_point(|(t, _)| *t < merged);
        if let Some((_, d)) = list.get(next) {
            dc_deploy.push(Some(format!("synth:deployment:{d}")));
            dc_sha.push(Some(sha.clone()));
        }
        c_sha.push(Some(sha));
    }

    // Incidents: a third name the deployment that caused them; the rest are linked by the window.
    let (mut i_id, mut i_service, mut i_opened, mut i_resolved, mut i_cause) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..size.incidents {
        let service = rng.below(size.services as u64) as usize;
        let opened = start + rng.below(year as u64) as i64;
        let resolved = opened + (10 * 60 + rng.below(48 * 3600)) as i64 * SECOND;
        let cause = if rng.chance(33) {
            let list = &deploy_times[service];
            let before = list.partition_point(|(t, _)| *t <= opened);
            before.checked_sub(1).map(|k| format!("synth:deployment:{}", list[k].1))
        } else {
            None
        };
        i_id.push(Some(format!("synth:incident:{i}")));
        i_service.push(Some(service_name(service)));
        i_opened.push(Some(opened));
        i_resolved.push((!rng.chance(2)).then_some(resolved));
        i_cause.push(cause);
    }

    let source = |n: usize| vec![Some("synth".to_string()); n];
    let mut tables = HashMap::new();
    tables.insert(
        "deployments",
        FrameBuilder::new(&model::DEPLOYMENTS, size.deployments)
            .text("id", d_id)
            .text("source", source(size.deployments))
            .text("service", d_service)
            .text("environment", d_env)
            .boolean("is_production", d_prod)
            .time("started_at", d_start)
            .time("finished_at", d_finish)
            .text("status", d_status)
            .boolean("is_rollback", d_rollback)
            .boolean("is_hotfix", d_hotfix)
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
            .build(),
    );
    for schema in model::TABLES {
        tables.entry(schema.name).or_insert_with(|| FrameBuilder::new(schema, 0).build());
    }
    tables
}
