//! `flowgauge export --postgres URL`: the domain tables, the metric queries' records and the
//! per-period metrics loaded into PostgreSQL, for dashboards (`docs/grafana-dashboard.json`).
//!
//! Each table is replaced in one transaction (readers see the old rows or the new, never a mix),
//! and a second run with the same data leaves the same rows. A table whose columns are unchanged is
//! emptied and refilled rather than dropped, so views a team built on it keep working. The password
//! comes from the URL or is passed in (the CLI reads `PGPASSWORD`); it never appears in a message.

use std::fmt::Write as _;
use std::io::Write as _;
use std::str::FromStr;

use polars::prelude::*;
use postgres::{Client, NoTls, Transaction};

use super::Snapshot;
use crate::error::{Error, Result};
use crate::metrics::prepare::Frames;
use crate::model;

/// What was loaded.
pub struct Loaded {
    /// `host:port/database`, for messages (no user, no password).
    pub target: String,
    pub schema: String,
    /// Table name and rows, in load order.
    pub tables: Vec<(String, usize)>,
}

/// Where to load and as whom.
pub struct Target<'a> {
    pub url: &'a str,
    /// Used when the URL carries none.
    pub password: Option<&'a str>,
    /// The schema the tables go to; created when missing.
    pub schema: &'a str,
}

/// Loads the domain tables (`tables`, timestamps as `timestamptz`), the record queries' outputs and
/// the period queries' outputs (with `period_start` and `period_end`) into `target.schema`.
pub fn load(tables: &Frames, snapshot: &Snapshot, target: &Target) -> Result<Loaded> {
    if !is_identifier(target.schema) {
        return Err(Error::Refused(format!(
            "--schema `{}`: use lower-case letters, digits and `_`, starting with a letter",
            target.schema
        )));
    }
    let mut config = postgres::Config::from_str(target.url).map_err(|e| Error::Export {
        target: "PostgreSQL URL".into(),
        message: format!("{e}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"),
    })?;
    if config.get_password().is_none()
        && let Some(password) = target.password
    {
        config.password(password);
    }
    let place = describe(&config);
    let fail = |what: &str, e: postgres::Error| Error::Export {
        target: place.clone(),
        message: format!("{what}: {}", explain(&e)),
    };
    let table_failed = |name: &str, message: String| Error::Export {
        target: place.clone(),
        message: format!("table {}.{name} (left as it was): {message}", target.schema),
    };
    let mut client = config.connect(NoTls).map_err(|e| fail("cannot connect", e))?;
    client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", target.schema))
        .map_err(|e| fail("cannot create the schema", e))?;

    let mut loaded = Vec::new();
    let mut domain: Vec<&str> = model::TABLES.iter().map(|t| t.name).collect();
    domain.retain(|name| tables.contains_key(name));
    for name in domain {
        let df = &tables[name];
        replace_table(&mut client, target.schema, name, df).map_err(|e| table_failed(name, e))?;
        loaded.push((name.to_string(), df.height()));
    }
    for (name, df) in &snapshot.records {
        replace_table(&mut client, target.schema, name, df).map_err(|e| table_failed(name, e))?;
        loaded.push((name.clone(), df.height()));
    }
    let calendar = snapshot.calendar.iter().find(|(n, _)| n == "periods").map(|(_, df)| df);
    for (name, df) in &snapshot.periods {
        let df = with_period_times(df, calendar)?;
        replace_table(&mut client, target.schema, name, &df).map_err(|e| table_failed(name, e))?;
        loaded.push((name.clone(), df.height()));
    }
    Ok(Loaded { target: place, schema: target.schema.to_string(), tables: loaded })
}

/// `host:port/database` without credentials.
fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("PostgreSQL {host}:{port}/{}", config.get_dbname().unwrap_or("(default database)"))
}

/// The server's own message when there is one (it names the table, column or role), else the
/// client's.
fn explain(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let text = e.to_string();
            match std::error::Error::source(e) {
                Some(source) => format!("{text}: {source}"),
                None => text,
            }
        }
    }
}

fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// The period outputs with the period's start and end as times, for time-series panels.
fn with_period_times(df: &DataFrame, calendar: Option<&DataFrame>) -> Result<DataFrame> {
    let Some(calendar) = calendar else {
        return Ok(df.clone());
    };
    let to_time = |name: &str, alias: &str| {
        (col(name) * lit(1_000_000i64))
            .cast(DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))
            .alias(alias)
    };
    let times = calendar.clone().lazy().select([
        col("grain"),
        col("service"),
        col("period"),
        to_time("start_ts", "period_start"),
        to_time("end_ts", "period_end"),
    ]);
    let keys = [col("grain"), col("service"), col("period")];
    Ok(df.clone().lazy().join(times, keys.clone(), keys, JoinArgs::new(JoinType::Left)).collect()?)
}

/// The PostgreSQL type of a column.
fn sql_type(dtype: &DataType) -> &'static str {
    match dtype {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "bigint",
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => "bigint",
        DataType::Float32 | DataType::Float64 => "double precision",
        DataType::Datetime(_, _) => "timestamptz",
        DataType::Date => "date",
        _ => "text",
    }
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Replaces the rows of `schema.name` with `df` in one transaction.
fn replace_table(client: &mut Client, schema: &str, name: &str, df: &DataFrame) -> std::result::Result<(), String> {
    let db = |e: postgres::Error| explain(&e);
    let table = format!("{schema}.{}", quote_identifier(name));
    let wanted: Vec<(String, String)> =
        df.schema().iter().map(|(n, t)| (n.to_string(), sql_type(t).to_string())).collect();
    let mut tx = client.transaction().map_err(db)?;
    let existing = existing_columns(&mut tx, schema, name).map_err(db)?;
    if existing != wanted {
        let columns: Vec<String> = wanted.iter().map(|(n, t)| format!("{} {t}", quote_identifier(n))).collect();
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({})", columns.join(", ")))
            .map_err(db)?;
    } else {
        tx.batch_execute(&format!("TRUNCATE {table}")).map_err(db)?;
    }
    let mut writer = tx.copy_in(&format!("COPY {table} FROM STDIN (FORMAT csv)")).map_err(db)?;
    let mut line = String::new();
    let columns = df.columns();
    for i in 0..df.height() {
        line.clear();
        for (k, column) in columns.iter().enumerate() {
            if k > 0 {
                line.push(',');
            }
            csv_cell(&mut line, column.get(i).unwrap_or(AnyValue::Null));
        }
        line.push('\n');
        writer.write_all(line.as_bytes()).map_err(|e| format!("sending rows: {e}"))?;
    }
    writer.finish().map_err(db)?;
    tx.commit().map_err(db)
}

fn existing_columns(
    tx: &mut Transaction,
    schema: &str,
    name: &str,
) -> std::result::Result<Vec<(String, String)>, postgres::Error> {
    let rows = tx.query(
        "SELECT column_name, CASE WHEN data_type = 'timestamp with time zone' THEN 'timestamptz' ELSE data_type END \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        &[&schema, &name],
    )?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect())
}

/// One cell of PostgreSQL's CSV format: empty unquoted is NULL, text is always quoted (so an empty
/// string stays one), non-finite numbers are NULL.
fn csv_cell(out: &mut String, value: AnyValue) {
    match value {
        AnyValue::Null => {}
        AnyValue::Boolean(b) => out.push(if b { 't' } else { 'f' }),
        AnyValue::Float64(v) if !v.is_finite() => {}
        AnyValue::Float32(v) if !v.is_finite() => {}
        AnyValue::Datetime(v, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => v / 1000,
                TimeUnit::Microseconds => v,
                TimeUnit::Milliseconds => v * 1000,
            };
            if let Some(t) = chrono::DateTime::from_timestamp_micros(micros) {
                let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
            }
        }
        other => match other.get_str() {
            Some(text) => {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            }
            None => {
                let _ = write!(out, "{other}");
            }
        },
    }
}
