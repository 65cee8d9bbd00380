//! Taking the workspace to where a data team already works.
//!
//! flowgauge's own figures come from `queries/*.sql` over tables that [`crate::metrics::prepare`]
//! derives in Rust (as-of joins, calendar labels). Every way out of flowgauge starts from the same
//! [`Snapshot`] of those tables, so an ad-hoc query ([`adhoc`], `flowgauge sql`), an external engine
//! ([`dialect`], `flowgauge export --sql`) and a dashboard database ([`postgres`]) all see exactly
//! what the metric queries saw, and never a second, drifting copy of the definitions.

pub mod adhoc;
pub mod dialect;
pub mod postgres;

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::calendar::Grain;
use crate::config::Config;
use crate::error::{Error, Result};
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
    let mut inputs =
        prepared.frames.into_iter().map(|(name, df)| Ok((name, in_stable_order(df)?))).collect::<Result<Vec<_>>>()?;
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

/// The rows of a prepared table sorted by all its columns, so that an export of the same workspace
/// is the same file every time: some prepared tables (`shipped`) come out of hash joins run on
/// several threads, in an order that changes from run to run.
fn in_stable_order(df: DataFrame) -> Result<DataFrame> {
    let by: Vec<PlSmallStr> =
        df.columns().iter().filter(|c| !c.dtype().is_nested()).map(|c| c.name().clone()).collect();
    if by.is_empty() || df.height() < 2 {
        return Ok(df);
    }
    Ok(df.sort(by, SortMultipleOptions::default().with_maintain_order(true))?)
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

/// What `export --sql` wrote.
pub struct SqlExport {
    /// The directory: `tables/<table>/part-0.parquet` and the script.
    pub dir: PathBuf,
    pub script: PathBuf,
    pub tables: usize,
}

/// Marks a directory as written by `export --sql`, so a later export may replace it.
const EXPORT_MARKER: &str = ".flowgauge-export";

/// Writes the snapshot's inputs as parquet under `out/tables/` and a script for `dialect` that
/// defines them as tables (over `location`, default the absolute path of `out/tables`) and the
/// queries as views. The directory appears whole or not at all; an earlier export in `out` is
/// replaced, anything else there is refused.
pub fn write_sql(
    snapshot: &Snapshot,
    queries: &[Query],
    dialect: dialect::Dialect,
    out: &Path,
    location: Option<&str>,
) -> Result<SqlExport> {
    if out.exists() && !out.join(EXPORT_MARKER).is_file() {
        return Err(Error::Refused(format!(
            "{} exists and was not written by `flowgauge export`; name a new directory with --out",
            out.display()
        )));
    }
    let out = std::path::absolute(out).map_err(|e| Error::io(out, e))?;
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "export".into());
    let parent = out.parent().unwrap_or(Path::new("/")).to_path_buf();
    let staging = parent.join(format!(".{name}.partial"));
    let written = stage_sql(snapshot, queries, dialect, &out, &staging, location).and_then(|export| {
        replace_dir(&staging, &out, &parent.join(format!(".{name}.old")))?;
        Ok(export)
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written
}

fn stage_sql(
    snapshot: &Snapshot,
    queries: &[Query],
    dialect: dialect::Dialect,
    out: &Path,
    staging: &Path,
    location: Option<&str>,
) -> Result<SqlExport> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    }
    let mut schemas = Vec::new();
    for (name, df) in snapshot.inputs.iter().chain(&snapshot.calendar) {
        let dir = staging.join("tables").join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut df = portable_types(df)?;
        let path = dir.join("part-0.parquet");
        let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        ParquetWriter::new(&mut file).finish(&mut df)?;
        schemas.push((name.as_str(), df.schema().clone()));
    }
    let tables: Vec<dialect::TableFiles> =
        schemas.iter().map(|(name, schema)| dialect::TableFiles { name, schema: schema.as_ref() }).collect();
    let location = match location {
        Some(given) => given.trim_end_matches('/').to_string(),
        None => {
            let local = out.join("tables").display().to_string();
            match dialect {
                dialect::Dialect::DuckDb => local,
                dialect::Dialect::Trino | dialect::Dialect::Spark => format!("file://{local}"),
            }
        }
    };
    let grains: Vec<&str> = Grain::ALL.iter().map(|g| g.name()).collect();
    let text = dialect::script(dialect, &tables, queries, &location, &grains)?;
    let script_name = format!("{}.sql", dialect.name());
    let script = staging.join(&script_name);
    std::fs::write(&script, text).map_err(|e| Error::io(&script, e))?;
    let marker = staging.join(EXPORT_MARKER);
    std::fs::write(&marker, "written by flowgauge export --sql\n").map_err(|e| Error::io(&marker, e))?;
    Ok(SqlExport { dir: out.to_path_buf(), script: out.join(script_name), tables: tables.len() })
}

/// Unsigned integers (polars' counts) as signed 64-bit: not every engine reads unsigned parquet.
fn portable_types(df: &DataFrame) -> Result<DataFrame> {
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dtype)| match dtype {
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                col(name.clone()).cast(DataType::Int64)
            }
            _ => col(name.clone()),
        })
        .collect();
    Ok(df.clone().lazy().select(exprs).collect()?)
}

/// Moves `staging` to `out`, replacing an earlier `out` (kept aside as `old` until the move is done).
fn replace_dir(staging: &Path, out: &Path, old: &Path) -> Result<()> {
    if old.exists() {
        std::fs::remove_dir_all(old).map_err(|e| Error::io(old, e))?;
    }
    let had_one = out.exists();
    if had_one {
        std::fs::rename(out, old).map_err(|e| Error::io(out, e))?;
    }
    if let Err(e) = std::fs::rename(staging, out) {
        if had_one {
            let _ = std::fs::rename(old, out);
        }
        return Err(Error::io(out, e));
    }
    if had_one {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}
