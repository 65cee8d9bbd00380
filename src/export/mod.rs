//! Taking the workspace to where a data team already works.
//!
//! flowgauge's own figures come from `queries/*.sql` over tables that [`crate::metrics::prepare`]
//! derives in Rust (as-of joins, calendar labels). Every way out of flowgauge starts from the same
//! [`Snapshot`] of those tables, so an ad-hoc query ([`adhoc`], `flowgauge sql`), an external engine
//! ([`dialect`], `flowgauge export --sql`) and a dashboard database ([`postgres`]) all see exactly
//! what the metric queries saw, and never a second, drifting copy of the definitions.

pub mod adhoc;

use polars::prelude::*;

use crate::calendar::Grain;
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{self, Computation, Query, QueryGrain, prepare};

/// The column that tells apart the rows of each grain where the grains share one table.
pub const GRAIN_COLUMN: &str = "grain";

/// Every table the metric queries read or write, by name, plus the computation itself.
pub struct Snapshot {
    /// The prepared inputs (domain tables with `*_ts` epoch seconds, `deploys`, `shipped`,
    /// `incident_links`), sorted by name.
    pub inputs: Vec<(String, DataFrame)>,
    /// `periods` and `service_weeks` of every grain, with a `grain` column.
    pub calendar: Vec<(String, DataFrame)>,
    /// Record queries' outputs, in execution order.
    pub records: Vec<(String, DataFrame)>,
    /// Period queries' outputs of every grain, in execution order, with a `grain` column first.
    pub periods: Vec<(String, DataFrame)>,
    pub computation: Computation,
}

impl Snapshot {
    /// Every table, inputs first: the order in which they can be registered or loaded.
    pub fn all(&self) -> impl Iterator<Item = &(String, DataFrame)> {
        self.inputs.iter().chain(&self.calendar).chain(&self.records).chain(&self.periods)
    }
}

/// Prepares the tables and runs every query once, keeping what each query read and wrote.
pub fn snapshot(tables: &prepare::Frames, config: &Config, queries: &[Query]) -> Result<Snapshot> {
    let prepared = prepare::prepare(tables, config)?;
    let computation = metrics::compute_prepared(&prepared, config, queries)?;
    let mut inputs = prepared.frames;
    inputs.sort_by(|a, b| a.0.cmp(&b.0));

    let window = &config.analysis.window;
    let (mut periods, mut weeks) = (Vec::new(), Vec::new());
    for grain in Grain::ALL {
        let (p, w) = prepare::calendar_frames(&prepared.services, grain, window)?;
        periods.push(with_grain(p, grain));
        weeks.push(with_grain(w, grain));
    }
    let calendar = vec![("periods".to_string(), stack(periods)?), ("service_weeks".to_string(), stack(weeks)?)];

    let mut records = Vec::new();
    let mut period_outputs = Vec::new();
    for query in queries {
        match query.grain {
            QueryGrain::Record => {
                if let Some(df) = computation.records.get(&query.file) {
                    records.push((query.file.clone(), df.clone()));
                }
            }
            QueryGrain::Period => {
                let per_grain: Vec<LazyFrame> = Grain::ALL
                    .iter()
                    .filter_map(|&g| {
                        computation.aggregates.get(&(g, query.file.clone())).map(|df| with_grain(df.clone(), g))
                    })
                    .collect();
                period_outputs.push((query.file.clone(), stack(per_grain)?));
            }
        }
    }
    Ok(Snapshot { inputs, calendar, records, periods: period_outputs, computation })
}

/// The frame with the grain's name as its first column.
fn with_grain(df: DataFrame, grain: Grain) -> LazyFrame {
    let columns: Vec<Expr> = std::iter::once(lit(grain.name()).alias(GRAIN_COLUMN))
        .chain(df.get_column_names().iter().map(|n| col(n.as_str())))
        .collect();
    df.lazy().select(columns)
}

/// One frame of the grains' frames, one under another; a column empty in one grain takes the type
/// it has in the others.
fn stack(frames: Vec<LazyFrame>) -> Result<DataFrame> {
    let args = UnionArgs { to_supertypes: true, ..Default::default() };
    Ok(concat(frames, args)?.collect()?)
}
