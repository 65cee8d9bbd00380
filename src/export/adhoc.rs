//! `flowgauge sql`: ad-hoc SQL over the tables the metric queries see, printed as a table, CSV or
//! JSON.
//!
//! The tables are those of a [`Snapshot`]: the prepared inputs, `periods` and `service_weeks` and
//! the period queries' outputs (each with a `grain` column: `window`, `quarter`, `month`, `week`), and
//! the record queries' outputs, all under the names the queries use (docs/export.md).

use polars::prelude::*;
use polars::sql::SQLContext;

use super::Snapshot;
use crate::error::{Error, Result};
use crate::spreadsheet::CsvOut;

/// What errors of an ad-hoc query are reported as.
const NAME: &str = "(ad-hoc SQL)";

/// Runs one statement over the snapshot's tables.
pub fn run(snapshot: &Snapshot, sql: &str) -> Result<DataFrame> {
    if sql.trim().is_empty() {
        return Err(bad("the statement is empty; try `SELECT * FROM deployment_outcomes LIMIT 10`".into()));
    }
    let mut ctx = SQLContext::new();
    for (name, df) in snapshot.all() {
        ctx.register(name, df.clone().lazy());
    }
    // polars may panic on SQL it does not support instead of returning an error; a user's typo must
    // not abort the process.
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.execute(sql).and_then(|lf| lf.collect())));
    match outcome {
        Ok(Ok(df)) => Ok(df),
        Ok(Err(e)) => Err(bad(format!("{e}; tables: {}", table_names(snapshot)))),
        Err(_) => Err(bad("the SQL engine could not run this statement (see above)".into())),
    }
}

fn bad(message: String) -> Error {
    Error::Query { name: NAME.into(), message }
}

fn table_names(snapshot: &Snapshot) -> String {
    let mut names: Vec<&str> = snapshot.all().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.join(", ")
}

fn names(df: &DataFrame) -> Vec<&str> {
    df.get_column_names().iter().map(|s| s.as_str()).collect()
}

/// A cell as text; empty values are empty.
fn text(value: AnyValue) -> String {
    match value {
        AnyValue::Null => String::new(),
        other => other.get_str().map(str::to_string).unwrap_or_else(|| other.to_string()),
    }
}

/// Rows under aligned headers; control characters in cells (from untrusted titles) are dropped so
/// they cannot drive the terminal.
pub fn render_table(df: &DataFrame) -> String {
    let headers = names(df);
    let columns = df.columns();
    let rows: Vec<Vec<String>> = (0..df.height())
        .map(|i| {
            columns
                .iter()
                .map(|c| text(c.get(i).unwrap_or(AnyValue::Null)).chars().filter(|ch| !ch.is_control()).collect())
                .collect()
        })
        .collect();
    let mut out = crate::report::table(&headers, &rows);
    out.push_str(&format!("({} row{})\n", df.height(), if df.height() == 1 { "" } else { "s" }));
    out
}

/// CSV with a header row, every cell safe to open in a spreadsheet.
pub fn render_csv(df: &DataFrame) -> String {
    let mut out = CsvOut::new();
    out.row(names(df));
    let columns = df.columns();
    for i in 0..df.height() {
        out.row(columns.iter().map(|c| text(c.get(i).unwrap_or(AnyValue::Null))));
    }
    out.finish()
}

/// A JSON array with one object per row, its keys in the statement's column order; numbers stay
/// numbers, empty values and non-finite numbers are `null`.
pub fn render_json(df: &DataFrame) -> String {
    let keys: Vec<String> = names(df).iter().map(|n| serde_json::Value::from(*n).to_string()).collect();
    let columns = df.columns();
    let rows: Vec<String> = (0..df.height())
        .map(|i| {
            let fields: Vec<String> = keys
                .iter()
                .zip(columns)
                .map(|(key, c)| format!("{key}: {}", json(c.get(i).unwrap_or(AnyValue::Null))))
                .collect();
            format!("  {{{}}}", fields.join(", "))
        })
        .collect();
    if rows.is_empty() { "[]\n".to_string() } else { format!("[\n{}\n]\n", rows.join(",\n")) }
}

fn json(value: AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::Float32(v) => serde_json::Number::from_f64(v as f64).map(Value::Number).unwrap_or(Value::Null),
        AnyValue::Float64(v) => serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null),
        v @ (AnyValue::Int8(_) | AnyValue::Int16(_) | AnyValue::Int32(_) | AnyValue::Int64(_)) => {
            v.extract::<i64>().map(Value::from).unwrap_or(Value::Null)
        }
        v @ (AnyValue::UInt8(_) | AnyValue::UInt16(_) | AnyValue::UInt32(_) | AnyValue::UInt64(_)) => {
            v.extract::<u64>().map(Value::from).unwrap_or(Value::Null)
        }
        other => Value::String(text(other)),
    }
}
