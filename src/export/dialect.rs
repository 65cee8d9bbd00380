//! The metric queries and their input tables for other SQL engines: DuckDB, Trino, Spark SQL.
//!
//! `queries/*.sql` keep to a core that DuckDB runs unchanged (tested against polars' figures). Trino
//! and Spark SQL lack some functions the queries use, so each gets a small rewrite of its own, applied
//! to the calls and nothing else (docs/export.md, "Dialect limits"):
//!
//! * Spark SQL: `MEDIAN(x)` and `QUANTILE_CONT(x, p)` become `percentile(x, p)`, Spark's exact
//!   percentile with the same linear interpolation.
//! * Trino: it has no exact percentile (only `approx_percentile`), so the same interpolation is
//!   written out over the sorted array of the group's values; and `LEAST`/`GREATEST`, which do not
//!   skip empty values there, become `array_min`/`array_max` over the non-empty arguments.

use std::fmt::Write as _;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::metrics::{Query, QueryGrain};

/// An engine the metric queries can be exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Trino,
    Spark,
}

impl Dialect {
    pub const NAMES: [&'static str; 3] = ["duckdb", "trino", "spark"];

    pub fn parse(name: &str) -> Option<Dialect> {
        match name {
            "duckdb" => Some(Dialect::DuckDb),
            "trino" => Some(Dialect::Trino),
            "spark" => Some(Dialect::Spark),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Trino => "trino",
            Dialect::Spark => "spark",
        }
    }

    /// Where the tables live: a schema (Trino: `catalog.schema`) or none for DuckDB's default.
    fn home(self) -> &'static str {
        match self {
            Dialect::DuckDb => "main",
            Dialect::Trino => "hive.flowgauge",
            Dialect::Spark => "flowgauge",
        }
    }

    /// The schema holding the period queries of one grain.
    fn grain_home(self, grain: &str) -> String {
        match self {
            Dialect::DuckDb => format!("by_{grain}"),
            Dialect::Trino | Dialect::Spark => format!("{}_by_{grain}", self.home()),
        }
    }
}

/// A metric query's text as the dialect needs it.
pub fn rewrite(dialect: Dialect, sql: &str) -> Result<String> {
    match dialect {
        Dialect::DuckDb => Ok(sql.to_string()),
        Dialect::Spark => rewrite_calls(&strip_comments(sql), &|name, args| match (name, args) {
            ("MEDIAN", [x]) => Some(format!("percentile({x}, 0.5)")),
            ("QUANTILE_CONT", [x, p]) => Some(format!("percentile({x}, {p})")),
            _ => None,
        }),
        Dialect::Trino => rewrite_calls(&strip_comments(sql), &|name, args| match (name, args) {
            ("MEDIAN", [x]) => Some(trino_percentile(x, "0.5")),
            ("QUANTILE_CONT", [x, p]) => Some(trino_percentile(x, p)),
            ("LEAST", _) => Some(format!("array_min(filter(ARRAY[{}], v -> v IS NOT NULL))", args.join(", "))),
            ("GREATEST", _) => Some(format!("array_max(filter(ARRAY[{}], v -> v IS NOT NULL))", args.join(", "))),
            _ => None,
        }),
    }
}

/// `QUANTILE_CONT(x, p)` in Trino: with the group's `n` non-empty values sorted as `s`, the value at
/// the 1-based position `1 + p(n − 1)`, interpolated linearly between its neighbours. `p` is made a
/// DOUBLE: a literal like `0.75` is a DECIMAL in Trino, which would round the result.
fn trino_percentile(x: &str, p: &str) -> String {
    let pos = format!("(1 + CAST({p} AS DOUBLE) * (cardinality(s) - 1))");
    format!(
        "transform(ARRAY[array_sort(filter(array_agg({x}), v -> v IS NOT NULL))], s -> IF(cardinality(s) = 0, NULL, \
         s[CAST(floor({pos}) AS integer)] + ({pos} - floor({pos})) * (s[CAST(ceiling({pos}) AS integer)] - s[CAST(floor({pos}) AS integer)])))[1]"
    )
}

/// The text without `--` comments (engines whose command-line tools split statements at every `;`
/// would split inside one).
fn strip_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            in_string = c != '\'';
            out.push(c);
        } else if c == '\'' {
            in_string = true;
            out.push(c);
        } else if c == '-' && chars.peek() == Some(&'-') {
            for c in chars.by_ref() {
                if c == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// Replaces every call `NAME(args)` for which `replace` (given the upper-case name and the
/// already-rewritten arguments) returns a text; nested calls are rewritten first.
fn rewrite_calls(sql: &str, replace: &dyn Fn(&str, &[String]) -> Option<String>) -> Result<String> {
    let bytes: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '\'' {
            let end = string_end(&bytes, i);
            out.extend(&bytes[i..end]);
            i = end;
            continue;
        }
        let starts_word = c.is_ascii_alphabetic() || c == '_';
        if !starts_word
            || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == '.'))
        {
            out.push(c);
            i += 1;
            continue;
        }
        let word_end =
            (i..bytes.len()).find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == '_')).unwrap_or(bytes.len());
        let word: String = bytes[i..word_end].iter().collect();
        let open = (word_end..bytes.len()).find(|&j| !bytes[j].is_whitespace());
        let Some(open) = open.filter(|&j| bytes[j] == '(') else {
            out.push_str(&word);
            i = word_end;
            continue;
        };
        let gap: String = bytes[word_end..open].iter().collect();
        let close = matching_paren(&bytes, open)
            .ok_or_else(|| Error::Query { name: word.clone(), message: "unbalanced parentheses".into() })?;
        let inner: String = bytes[open + 1..close].iter().collect();
        let args: Vec<String> =
            split_args(&inner).iter().map(|a| rewrite_calls(a.trim(), replace)).collect::<Result<_>>()?;
        match replace(&word.to_ascii_uppercase(), &args) {
            Some(text) => out.push_str(&text),
            None => {
                out.push_str(&word);
                out.push_str(&gap);
                out.push('(');
                out.push_str(&rewrite_calls(&inner, replace)?);
                out.push(')');
            }
        }
        i = close + 1;
    }
    Ok(out)
}

/// Index just past the string literal starting at `start` (`''` is an escaped quote).
fn string_end(chars: &[char], start: usize) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        if chars[j] == '\'' {
            if chars.get(j + 1) == Some(&'\'') {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    chars.len()
}

fn matching_paren(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut j = open;
    while j < chars.len() {
        match chars[j] {
            '\'' => {
                j = string_end(chars, j);
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// The arguments of a call, split at the commas outside parentheses and strings.
fn split_args(inner: &str) -> Vec<String> {
    let chars: Vec<char> = inner.chars().collect();
    let (mut args, mut current, mut depth, mut j) = (Vec::new(), String::new(), 0, 0);
    while j < chars.len() {
        let c = chars[j];
        if c == '\'' {
            let end = string_end(&chars, j);
            current.extend(&chars[j..end]);
            j = end;
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut current));
                j += 1;
                continue;
            }
            _ => {}
        }
        current.push(c);
        j += 1;
    }
    if !current.trim().is_empty() || !args.is_empty() {
        args.push(current);
    }
    args
}

/// A table the script defines over a directory of parquet files.
pub struct TableFiles<'a> {
    pub name: &'a str,
    pub schema: &'a Schema,
}

/// `'text'` with quotes doubled.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn trino_type(dtype: &DataType) -> Result<&'static str> {
    Ok(match dtype {
        DataType::String => "varchar",
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "integer",
        DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "bigint",
        DataType::Float32 => "real",
        DataType::Float64 => "double",
        other => {
            return Err(Error::Query {
                name: "export".into(),
                message: format!("a column of type {other} has no Trino counterpart here"),
            });
        }
    })
}

/// The whole script: the tables over `location/<table>/`, the record queries as views, and each
/// period query once per grain (a schema per grain, whose views see the grain's `period`) and once
/// over all grains with a `grain` column.
pub fn script(
    dialect: Dialect,
    tables: &[TableFiles],
    queries: &[Query],
    location: &str,
    grains: &[&str],
) -> Result<String> {
    let home = dialect.home();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- Written by `flowgauge export --sql {}`: the tables flowgauge's metric queries read, over",
        dialect.name()
    );
    let _ = writeln!(out, "-- the parquet files under {location}, and the queries themselves (docs/export.md).");
    let _ = writeln!(
        out,
        "-- Timestamps are whole seconds since the Unix epoch (`*_ts`); durations are seconds (`*_s`).\n"
    );
    match dialect {
        Dialect::DuckDb => {}
        Dialect::Trino => {
            let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {home};\nUSE {home};\n");
        }
        Dialect::Spark => {
            let _ = writeln!(out, "CREATE DATABASE IF NOT EXISTS {home};\nUSE {home};\n");
        }
    }
    for table in tables {
        let dir = format!("{}/{}", location.trim_end_matches('/'), table.name);
        match dialect {
            Dialect::DuckDb => {
                let files = quoted(&format!("{dir}/*.parquet"));
                let _ = writeln!(out, "CREATE OR REPLACE VIEW {} AS SELECT * FROM read_parquet({files});", table.name);
            }
            Dialect::Trino => {
                let columns: Vec<String> = table
                    .schema
                    .iter()
                    .map(|(name, dtype)| Ok(format!("\"{name}\" {}", trino_type(dtype)?)))
                    .collect::<Result<_>>()?;
                let _ = writeln!(out, "DROP TABLE IF EXISTS {};", table.name);
                let _ = writeln!(
                    out,
                    "CREATE TABLE {} ({}) WITH (external_location = {}, format = 'PARQUET');",
                    table.name,
                    columns.join(", "),
                    quoted(&dir)
                );
            }
            Dialect::Spark => {
                let _ = writeln!(out, "DROP TABLE IF EXISTS {};", table.name);
                let _ = writeln!(out, "CREATE TABLE {} USING parquet LOCATION {};", table.name, quoted(&dir));
            }
        }
    }
    out.push('\n');
    let records: Vec<&Query> = queries.iter().filter(|q| q.grain == QueryGrain::Record).collect();
    let periods: Vec<&Query> = queries.iter().filter(|q| q.grain == QueryGrain::Period).collect();
    for query in &records {
        let _ = writeln!(out, "-- {} ({})", query.name, query.file);
        let _ = writeln!(
            out,
            "CREATE OR REPLACE VIEW {} AS\n{};\n",
            query.file,
            rewrite(dialect, body(&query.sql))?.trim_end()
        );
    }
    let use_schema = |out: &mut String, schema: &str| {
        let _ = writeln!(out, "USE {schema};");
    };
    for grain in grains {
        let schema = dialect.grain_home(grain);
        let _ = writeln!(out, "-- The period queries by {grain}.");
        match dialect {
            Dialect::Spark => {
                let _ = writeln!(out, "CREATE DATABASE IF NOT EXISTS {schema};");
            }
            _ => {
                let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {schema};");
            }
        }
        use_schema(&mut out, &schema);
        for calendar in ["periods", "service_weeks"] {
            let _ = writeln!(
                out,
                "CREATE OR REPLACE VIEW {calendar} AS SELECT * FROM {home}.{calendar} WHERE grain = {};",
                quoted(grain)
            );
        }
        for query in &records {
            let _ = writeln!(
                out,
                "CREATE OR REPLACE VIEW {0} AS SELECT r.*, r.{grain} AS period FROM {home}.{0} r;",
                query.file
            );
        }
        for query in &periods {
            let _ = writeln!(
                out,
                "CREATE OR REPLACE VIEW {} AS\n{};",
                query.file,
                rewrite(dialect, body(&query.sql))?.trim_end()
            );
        }
        use_schema(&mut out, home);
        out.push('\n');
    }
    for query in &periods {
        let _ = writeln!(out, "-- {} ({}), every grain", query.name, query.file);
        let parts: Vec<String> = grains
            .iter()
            .map(|g| format!("SELECT {} AS grain, * FROM {}.{}", quoted(g), dialect.grain_home(g), query.file))
            .collect();
        let _ = writeln!(out, "CREATE OR REPLACE VIEW {} AS\n{};\n", query.file, parts.join("\nUNION ALL\n"));
    }
    Ok(out)
}

/// The query without its header comment (the script names the query above it instead).
fn body(sql: &str) -> &str {
    let mut rest = sql;
    while let Some(line_end) = rest.find('\n') {
        if !rest[..line_end].trim_start().starts_with("--") {
            break;
        }
        rest = &rest[line_end + 1..];
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_gets_exact_percentiles() {
        let sql = "SELECT MEDIAN(c.x) / 3600.0 AS m, QUANTILE_CONT(c.x, 0.75) AS p FROM t -- median; here\n";
        let out = rewrite(Dialect::Spark, sql).unwrap();
        assert_eq!(out, "SELECT percentile(c.x, 0.5) / 3600.0 AS m, percentile(c.x, 0.75) AS p FROM t ");
    }

    #[test]
    fn trino_gets_interpolated_percentiles_and_null_skipping_least() {
        let out = rewrite(Dialect::Trino, "SELECT LEAST(a, GREATEST(b, 0)), median(x), 'MEDIAN(y)' FROM t").unwrap();
        assert!(out.starts_with("SELECT array_min(filter(ARRAY[a, array_max(filter(ARRAY[b, 0], v -> v IS NOT NULL))], v -> v IS NOT NULL)), transform(ARRAY[array_sort(filter(array_agg(x)"), "{out}");
        assert!(out.ends_with(", 'MEDIAN(y)' FROM t"), "{out}");
        assert!(!out.contains("median("), "{out}");
    }

    #[test]
    fn duckdb_runs_the_queries_unchanged() {
        for (_, text) in crate::metrics::queries::EMBEDDED {
            assert_eq!(rewrite(Dialect::DuckDb, text).unwrap(), *text);
        }
    }

    #[test]
    fn every_percentile_and_least_call_of_the_queries_is_rewritten_for_trino() {
        for (file, text) in crate::metrics::queries::EMBEDDED {
            let out = rewrite(Dialect::Trino, text).unwrap().to_ascii_uppercase();
            for call in ["MEDIAN(", "QUANTILE_CONT(", "LEAST(", "GREATEST("] {
                assert!(!out.contains(call), "{file}: {call}");
            }
        }
    }
}
