//! The `import` source: CSV, JSON and NDJSON files from any CI/CD or incident system.
//!
//! A file holds rows of one kind (deployments, incidents, changes, …) whose columns are the domain
//! table's columns (see `docs/import.md`). Every row is validated against the table's schema before
//! anything is written, and the first bad value rejects the whole file with its path, line and field,
//! so a half-imported file can never skew a metric. Ids are namespaced (`import:deployment:42`) unless
//! they already carry a namespace (`jenkins:deployment:42`).

mod columnar;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{self, ColumnType, Row, TableSchema, Value};

// The vocabulary the configuration shares with the importer lives below both of them.
pub use crate::import_spec::{Format, ImportKind};

/// References to other tables' ids that are namespaced like the ids they point at.
const REFERENCES: &[(&str, &str)] = &[
    ("caused_by_deployment_id", "deployment"),
    ("tracker_deployment_id", "deployment"),
    ("reverts_change_id", "change"),
    ("caused_by_change_id", "change"),
    ("change_id", "change"),
    ("deployment_id", "deployment"),
    ("pipeline_id", "pipeline"),
];

/// Columns that a file may carry beyond its table's own: the commits a deployment shipped or a change
/// is made of, space separated, which become `deployment_commits` / `change_commits` rows.
const COMMITS_COLUMN: &str = "commits";

/// One import to perform.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub path: PathBuf,
    pub kind: ImportKind,
    pub format: Option<Format>,
    /// Service for rows that name none.
    pub service: Option<String>,
    /// Namespace for ids, `import` unless a source names itself (`jenkins`).
    pub namespace: String,
}

/// Validated rows, per table, ready to upsert (as frames: a million rows held as [`Row`]s would
/// take gigabytes, see [`RowsInChunks`]).
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub tables: Vec<(&'static TableSchema, polars::prelude::DataFrame)>,
    pub rows_read: usize,
    /// What looks wrong with a file that can still be imported (it holds no rows).
    pub warnings: Vec<String>,
}

/// A raw record: field name → text (CSV) or JSON value, with the line it started on.
struct Record {
    line: usize,
    fields: BTreeMap<String, serde_json::Value>,
}

/// Reads and validates a file. Fails on the first bad row; returns nothing partial.
///
/// A CSV file is first read straight into columns ([`columnar`]); when that path meets anything it
/// does not accept, the file is read again record by record, each record converted to a row as it
/// is read and the rows gathered into frames a chunk at a time, which names the first bad row.
pub fn read(request: &ImportRequest, config: &Config) -> Result<ImportBatch> {
    let path = &request.path;
    let format = match request.format.or_else(|| Format::from_path(path)) {
        Some(f) => f,
        None => {
            return Err(Error::ImportFile {
                path: path.clone(),
                message: "cannot tell the format from the extension; pass --format csv|json|ndjson".into(),
            });
        }
    };
    let schema = request.kind.table();
    if format == Format::Csv
        && let Some(batch) = columnar::read_csv(request, config)?
    {
        return Ok(batch);
    }
    let mut batch = BatchBuilder::new(request, config, schema);
    match format {
        Format::Csv => read_csv(path, &mut |record| batch.add(&record))?,
        Format::Json | Format::Ndjson => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::ImportFile { path: path.clone(), message: format!("cannot read: {e}") })?;
            // Spreadsheet programs and Windows editors start UTF-8 files with a byte-order mark.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let records = match format {
                Format::Json => read_json(path, text)?,
                _ => read_ndjson(path, text)?,
            };
            for record in &records {
                batch.add(record)?;
            }
        }
    }
    batch.finish()
}

/// Rows gathered into frames a chunk at a time: a [`Row`] costs about a kilobyte, a row in a frame
/// a small fraction of that.
struct RowsInChunks {
    schema: &'static TableSchema,
    rows: Vec<Row>,
    frames: Vec<polars::prelude::DataFrame>,
}

impl RowsInChunks {
    const CHUNK: usize = 10_000;

    fn new(schema: &'static TableSchema) -> RowsInChunks {
        RowsInChunks { schema, rows: Vec::new(), frames: Vec::new() }
    }

    fn push(&mut self, row: Row) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= Self::CHUNK {
            self.frames.push(crate::store::rows_to_frame(self.schema, &std::mem::take(&mut self.rows))?);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<polars::prelude::DataFrame> {
        if !self.rows.is_empty() || self.frames.is_empty() {
            self.frames.push(crate::store::rows_to_frame(self.schema, &self.rows)?);
        }
        let mut frames = self.frames.into_iter();
        let mut df = frames.next().expect("one frame at least");
        // Left in chunks: the upsert's merge writes the rows out contiguous anyway, and making them
        // contiguous here would hold the table twice.
        for frame in frames {
            df.vstack_mut_owned(frame)?;
        }
        Ok(df)
    }
}

/// Converts and checks records one at a time into the batch's rows.
struct BatchBuilder<'a> {
    request: &'a ImportRequest,
    config: &'a Config,
    schema: &'static TableSchema,
    rows: RowsInChunks,
    /// The `deployment_commits` / `change_commits` rows of the `commits` column.
    links: Option<RowsInChunks>,
    /// Each key seen, as its values joined, with the line it was first on.
    first_line_of_key: std::collections::HashMap<String, usize>,
    records: usize,
}

impl<'a> BatchBuilder<'a> {
    fn new(request: &'a ImportRequest, config: &'a Config, schema: &'static TableSchema) -> BatchBuilder<'a> {
        let links = match request.kind {
            ImportKind::Deployments => Some(RowsInChunks::new(&model::DEPLOYMENT_COMMITS)),
            ImportKind::Changes => Some(RowsInChunks::new(&model::CHANGE_COMMITS)),
            _ => None,
        };
        BatchBuilder {
            request,
            config,
            schema,
            rows: RowsInChunks::new(schema),
            links,
            first_line_of_key: std::collections::HashMap::new(),
            records: 0,
        }
    }

    fn add(&mut self, record: &Record) -> Result<()> {
        let (row, shas) = convert(self.request, self.config, self.schema, record)?;
        reject_duplicate_key(self.request, self.schema, &row, record.line, &mut self.first_line_of_key)?;
        if let (Some(shas), Some(links)) = (shas, self.links.as_mut()) {
            let owner = match &row[0] {
                Value::Text(id) => id.clone(),
                _ => unreachable!("id is required and text"),
            };
            for sha in shas {
                links.push(vec![Value::Text(owner.clone()), Value::Text(sha)])?;
            }
        }
        self.rows.push(row)?;
        self.records += 1;
        Ok(())
    }

    fn finish(self) -> Result<ImportBatch> {
        let warnings = if self.records == 0 { vec![empty_file_warning(self.request)] } else { Vec::new() };
        let mut tables = vec![(self.schema, self.rows.finish()?)];
        if let Some(links) = self.links {
            tables.push((links.schema, links.finish()?));
        }
        Ok(ImportBatch { tables, rows_read: self.records, warnings })
    }
}

/// Two rows with the same key in one file would silently keep only the last (a success replaced
/// by a failure): the file is ambiguous, so it is rejected, naming both lines.
fn reject_duplicate_key(
    request: &ImportRequest,
    schema: &TableSchema,
    row: &Row,
    line: usize,
    first_line_of_key: &mut std::collections::HashMap<String, usize>,
) -> Result<()> {
    let key: Vec<String> =
        schema.key.iter().map(|k| display_value(&row[schema.position(k).expect("key is a column")])).collect();
    // One string per key (values joined by a separator no text value holds) keeps a million keys small.
    let joined = key.join("\u{1f}");
    match first_line_of_key.get(&joined) {
        Some(first) => {
            let shown: Vec<String> = key.iter().map(|v| format!("`{v}`")).collect();
            Err(row_error(
                request,
                line,
                &schema.key.join(", "),
                format!(
                    "duplicate {} {} (first on line {first}); each record may appear once in a file",
                    schema.key.join(" and "),
                    shown.join(" and ")
                ),
            ))
        }
        None => {
            first_line_of_key.insert(joined, line);
            Ok(())
        }
    }
}

fn display_value(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        Value::Int(v) => v.to_string(),
        Value::Float(v) => v.to_string(),
        Value::Bool(v) => v.to_string(),
        Value::Time(t) => t.to_rfc3339(),
        Value::Null => String::new(),
    }
}

/// A file without rows is imported (it changes nothing), but it is most likely the wrong file or
/// an export that failed: say so, and what a file of this kind holds.
fn empty_file_warning(request: &ImportRequest) -> String {
    let schema = request.kind.table();
    // `source` is always filled in (the namespace) and `is_production` from the environment.
    let required: Vec<&str> = schema
        .columns
        .iter()
        .filter(|c| c.required && !["source", "is_production"].contains(&c.name))
        .map(|c| c.name)
        .collect();
    let kind = ImportKind::NAMES[request.kind as usize];
    format!(
        "{}: no rows to import; a `{kind}` file has one row per record with the columns {} required (docs/import.md)",
        request.path.display(),
        required.join(", ")
    )
}

fn row_error(request: &ImportRequest, line: usize, field: &str, message: impl Into<String>) -> Error {
    Error::ImportRow { path: request.path.clone(), line, field: field.to_string(), message: message.into() }
}

fn allowed_columns(kind: ImportKind, schema: &TableSchema) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = schema.columns.iter().map(|c| c.name).collect();
    if matches!(kind, ImportKind::Deployments | ImportKind::Changes) {
        names.push(COMMITS_COLUMN);
    }
    names
}

/// Turns a record into a row of `schema`, plus the shas of its `commits` column.
fn convert(
    request: &ImportRequest,
    config: &Config,
    schema: &TableSchema,
    record: &Record,
) -> Result<(Row, Option<Vec<String>>)> {
    let line = record.line;
    let allowed = allowed_columns(request.kind, schema);
    if let Some(unknown) = record.fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(row_error(
            request,
            line,
            unknown,
            format!("unknown column; known columns: {}", allowed.join(", ")),
        ));
    }
    let mut row: Row = Vec::with_capacity(schema.columns.len());
    for column in schema.columns {
        let raw = record.fields.get(column.name);
        let value = parse_value(column.kind, raw).map_err(|m| row_error(request, line, column.name, m))?;
        row.push(value);
    }
    fill_defaults(request, config, schema, &mut row, line)?;
    for column in schema.columns {
        let i = schema.position(column.name).expect("own column");
        if column.required && row[i] == Value::Null {
            return Err(row_error(request, line, column.name, "is required but empty or missing"));
        }
    }
    normalise_status(request, schema, &mut row, line)?;
    normalise_detected_by(request, schema, &mut row, line)?;
    check_order(request, schema, &row, line)?;
    let shas = record.fields.get(COMMITS_COLUMN).map(|v| {
        text_of(v)
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    });
    Ok((row, shas))
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn set(schema: &TableSchema, row: &mut Row, name: &str, value: Value) {
    if let Some(i) = schema.position(name) {
        row[i] = value;
    }
}

fn get<'r>(schema: &TableSchema, row: &'r Row, name: &str) -> Option<&'r Value> {
    schema.position(name).map(|i| &row[i]).filter(|v| **v != Value::Null)
}

fn namespaced(namespace: &str, noun: &str, id: &str) -> String {
    if id.contains(':') { id.to_string() } else { format!("{namespace}:{noun}:{id}") }
}

/// Fills what the file may leave out: source, service, production flag, ids; namespaces ids.
fn fill_defaults(
    request: &ImportRequest,
    config: &Config,
    schema: &TableSchema,
    row: &mut Row,
    line: usize,
) -> Result<()> {
    if schema.column("source").is_some() && get(schema, row, "source").is_none() {
        set(schema, row, "source", Value::Text(request.namespace.clone()));
    }
    if schema.column("service").is_some() {
        let service = match get(schema, row, "service") {
            Some(Value::Text(s)) => Some(s.clone()),
            _ => request.service.clone().or_else(|| match get(schema, row, "repo") {
                Some(Value::Text(repo)) => config.service_for_repo(repo).map(|s| s.name.clone()),
                _ => None,
            }),
        };
        if let Some(service) = &service
            && !config.services.is_empty()
            && config.service(service).is_none()
        {
            let known: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
            return Err(row_error(
                request,
                line,
                "service",
                format!("`{service}` is not a configured service ({})", known.join(", ")),
            ));
        }
        if let Some(service) = service {
            set(schema, row, "service", Value::Text(service));
        }
    }
    if request.kind == ImportKind::Deployments
        && get(schema, row, "is_production").is_none()
        && let (Some(Value::Text(service)), Some(Value::Text(env))) =
            (get(schema, row, "service"), get(schema, row, "environment"))
    {
        let is_production = match config.service(service) {
            Some(s) => s.is_production(env),
            None => crate::config::is_default_production(env),
        };
        set(schema, row, "is_production", Value::Bool(is_production));
    }
    if let Some(noun) = request.kind.id_noun() {
        if get(schema, row, "id").is_none() {
            return Err(row_error(request, line, "id", "is required but empty or missing"));
        }
        if let Some(Value::Text(id)) = get(schema, row, "id") {
            let id = namespaced(&request.namespace, noun, id);
            set(schema, row, "id", Value::Text(id));
        }
    }
    for (column, noun) in REFERENCES {
        if let Some(Value::Text(reference)) = get(schema, row, column) {
            let reference = namespaced(&request.namespace, noun, reference);
            set(schema, row, column, Value::Text(reference));
        }
    }
    Ok(())
}

const STATUSES: &[(&str, &str)] = &[
    ("success", "success"),
    ("succeeded", "success"),
    ("successful", "success"),
    ("passed", "success"),
    ("ok", "success"),
    ("failure", "failure"),
    ("failed", "failure"),
    ("error", "failure"),
    ("errored", "failure"),
    ("cancelled", "cancelled"),
    ("canceled", "cancelled"),
    ("aborted", "cancelled"),
    ("running", "running"),
    ("in_progress", "running"),
    ("pending", "running"),
    ("queued", "running"),
    ("skipped", "skipped"),
];

fn normalise_status(request: &ImportRequest, schema: &TableSchema, row: &mut Row, line: usize) -> Result<()> {
    let Some(Value::Text(status)) = get(schema, row, "status") else {
        return Ok(());
    };
    let lower = status.to_ascii_lowercase();
    match STATUSES.iter().find(|(alias, _)| *alias == lower) {
        Some((_, "skipped")) if request.kind == ImportKind::Deployments => Err(row_error(
            request,
            line,
            "status",
            format!("`{status}`: a deployment is success, failure, cancelled or running"),
        )),
        Some((_, canonical)) => {
            set(schema, row, "status", Value::Text(canonical.to_string()));
            Ok(())
        }
        None => Err(row_error(
            request,
            line,
            "status",
            format!("`{status}` is not a known status (success, failure, cancelled, running, skipped)"),
        )),
    }
}

/// Who opened an incident is one of two words, so that the share opened by monitoring can be
/// counted; case is ignored and the lower-case word is stored.
const DETECTED_BY: &[&str] = &["monitoring", "person"];

fn normalise_detected_by(request: &ImportRequest, schema: &TableSchema, row: &mut Row, line: usize) -> Result<()> {
    let Some(Value::Text(who)) = get(schema, row, "detected_by") else {
        return Ok(());
    };
    let lower = who.to_ascii_lowercase();
    if !DETECTED_BY.contains(&lower.as_str()) {
        return Err(row_error(
            request,
            line,
            "detected_by",
            format!("`{who}` is neither `monitoring` (an alerting integration opened it) nor `person`"),
        ));
    }
    set(schema, row, "detected_by", Value::Text(lower));
    Ok(())
}

/// Times of one row that must not contradict each other (earlier, later): they would produce
/// negative durations.
const ORDERED_TIMES: &[(&str, &str)] = &[
    ("started_at", "finished_at"),
    ("opened_at", "resolved_at"),
    ("opened_at", "acknowledged_at"),
    ("opened_at", "mitigated_at"),
    // Mitigation ends the impact; the incident is resolved then or later.
    ("mitigated_at", "resolved_at"),
    ("created_at", "merged_at"),
    ("created_at", "closed_at"),
];

/// Rejects rows whose times contradict each other.
fn check_order(request: &ImportRequest, schema: &TableSchema, row: &Row, line: usize) -> Result<()> {
    for (earlier, later) in ORDERED_TIMES {
        if let (Some(Value::Time(a)), Some(Value::Time(b))) = (get(schema, row, earlier), get(schema, row, later))
            && b < a
        {
            return Err(row_error(request, line, later, format!("{b} is before {earlier} {a}")));
        }
    }
    Ok(())
}

/// Parses one cell. Empty text and JSON null are "no value".
fn parse_value(kind: ColumnType, raw: Option<&serde_json::Value>) -> std::result::Result<Value, String> {
    use serde_json::Value as J;
    let raw = match raw {
        None | Some(J::Null) => return Ok(Value::Null),
        Some(J::String(s)) if s.trim().is_empty() => return Ok(Value::Null),
        Some(v) => v,
    };
    match (kind, raw) {
        (ColumnType::Text, J::String(s)) => Ok(Value::Text(s.trim().to_string())),
        (ColumnType::Text, J::Number(n)) => Ok(Value::Text(n.to_string())),
        (ColumnType::Int, J::Number(n)) => {
            n.as_i64().map(Value::Int).ok_or_else(|| format!("`{n}` is not a whole number"))
        }
        (ColumnType::Int, J::String(s)) => {
            s.trim().parse().map(Value::Int).map_err(|_| format!("`{s}` is not a whole number"))
        }
        (ColumnType::Float, J::Number(n)) => Ok(Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        (ColumnType::Float, J::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(format!("`{s}` is not a number")),
        },
        (ColumnType::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (ColumnType::Bool, J::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("`{s}` is not true/false")),
        },
        (ColumnType::Bool, J::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(Value::Bool(n.as_i64() == Some(1)))
        }
        (ColumnType::Time, J::String(s)) => parse_time(s.trim()).map(Value::Time),
        (ColumnType::Time, J::Number(n)) => n
            .as_i64()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map(Value::Time)
            .ok_or_else(|| format!("`{n}` is not a Unix time in seconds")),
        (kind, other) => Err(format!("`{other}` is not a {}", kind.name())),
    }
}

/// RFC 3339 with any offset (converted to UTC), or a naive `YYYY-MM-DD[ T]HH:MM[:SS]` taken as UTC.
pub fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    Err(format!("`{s}` is not a time (RFC 3339, e.g. 2025-03-30T01:30:00+01:00, or YYYY-MM-DD HH:MM:SS in UTC)"))
}

/// Reads a CSV file record by record, handing each to `each` as it is read.
fn read_csv(path: &Path, each: &mut dyn FnMut(Record) -> Result<()>) -> Result<()> {
    use std::io::BufRead;
    let cannot_read = |e: &dyn std::fmt::Display| Error::ImportFile {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    };
    let file = std::fs::File::open(path).map_err(|e| cannot_read(&e))?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    // Spreadsheet programs and Windows editors start UTF-8 files with a byte-order mark.
    if input.fill_buf().map_err(|e| cannot_read(&e))?.starts_with("\u{feff}".as_bytes()) {
        input.consume(3);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(|e| Error::ImportFile { path: path.to_path_buf(), message: format!("cannot read the header: {e}") })?
        .iter()
        .map(|h| std::str::from_utf8(h).map(|h| h.trim().to_string()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| cannot_read(&"stream did not contain valid UTF-8"))?;
    if let Some(duplicate) = first_duplicate(headers.iter().filter(|h| !h.is_empty())) {
        return Err(Error::ImportRow {
            path: path.to_path_buf(),
            line: 1,
            field: duplicate.clone(),
            message: "the header names this column twice; only one of the two can be meant".into(),
        });
    }
    for result in reader.byte_records() {
        let record = result.map_err(|e| match e.kind() {
            csv::ErrorKind::Io(e) => cannot_read(e),
            _ => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                Error::ImportRow { path: path.to_path_buf(), line, field: "-".into(), message: e.to_string() }
            }
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let mut fields = BTreeMap::new();
        for (header, value) in headers.iter().zip(record.iter()) {
            if header.is_empty() {
                continue;
            }
            // The whole file was once read as text first: a file that is not UTF-8 fails as then.
            let value = std::str::from_utf8(value).map_err(|_| cannot_read(&"stream did not contain valid UTF-8"))?;
            fields.insert(header.clone(), serde_json::Value::String(value.to_string()));
        }
        each(Record { line, fields })?;
    }
    Ok(())
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}

/// One JSON element as read, keeping every key of an object, so a key given twice is seen
/// (`serde_json::Value` would silently keep the last).
enum JsonItem {
    Object(Vec<(String, serde_json::Value)>),
    Other(serde_json::Value),
}

impl<'de> serde::Deserialize<'de> for JsonItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(JsonItemVisitor)
    }
}

struct JsonItemVisitor;

impl<'de> serde::de::Visitor<'de> for JsonItemVisitor {
    type Value = JsonItem;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<JsonItem, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            entries.push((key, value));
        }
        Ok(JsonItem::Object(entries))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> std::result::Result<JsonItem, A::Error> {
        let value = serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(JsonItem::Other(value))
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<JsonItem, E> {
        Ok(JsonItem::Other(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<JsonItem, E> {
        Ok(JsonItem::Other(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<JsonItem, E> {
        Ok(JsonItem::Other(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<JsonItem, E> {
        Ok(JsonItem::Other(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<JsonItem, E> {
        Ok(JsonItem::Other(v.into()))
    }

    fn visit_unit<E>(self) -> std::result::Result<JsonItem, E> {
        Ok(JsonItem::Other(serde_json::Value::Null))
    }
}

fn object_record(path: &Path, line: usize, item: JsonItem) -> Result<Record> {
    match item {
        JsonItem::Object(entries) => {
            if let Some(duplicate) = first_duplicate(entries.iter().map(|(k, _)| k)) {
                return Err(Error::ImportRow {
                    path: path.to_path_buf(),
                    line,
                    field: duplicate.clone(),
                    message: "the object names this field twice; only one of the two can be meant".into(),
                });
            }
            Ok(Record { line, fields: entries.into_iter().collect() })
        }
        JsonItem::Other(other) => Err(Error::ImportRow {
            path: path.to_path_buf(),
            line,
            field: "-".into(),
            message: format!("expected an object, found `{}`", truncate(&other.to_string())),
        }),
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s.to_string() }
}

fn read_ndjson(path: &Path, text: &str) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: JsonItem = serde_json::from_str(line).map_err(|e| Error::ImportRow {
            path: path.to_path_buf(),
            line: i + 1,
            field: "-".into(),
            message: format!("not valid JSON: {e}"),
        })?;
        records.push(object_record(path, i + 1, value)?);
    }
    Ok(records)
}

fn read_json(path: &Path, text: &str) -> Result<Vec<Record>> {
    // An empty file holds no rows, like an empty CSV or NDJSON file (the caller warns).
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    // Every element reads as a `JsonItem`, so a data error can only mean the top level is no array.
    let items: Vec<JsonItem> = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            Error::ImportFile { path: path.to_path_buf(), message: "expected a JSON array of objects".into() }
        }
        _ => Error::ImportRow {
            path: path.to_path_buf(),
            line: e.line(),
            field: "-".into(),
            message: format!("not valid JSON: {e}"),
        },
    })?;
    let lines = element_lines(text);
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| object_record(path, lines.get(i).copied().unwrap_or(0), item))
        .collect()
}

/// The line on which each element of a top-level JSON array starts, so errors can name it.
fn element_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut depth, mut line, mut in_string, mut escaped, mut expecting) = (0usize, 1usize, false, false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if expecting && !c.is_whitespace() && c != ']' {
            lines.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 && c == '[' {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_elements_know_their_lines() {
        let text = "[\n {\"a\": \"x,[\"},\n\n {\"b\": 1}\n]";
        assert_eq!(element_lines(text), vec![2, 4]);
    }

    #[test]
    fn times_with_offsets_become_utc() {
        let t = parse_time("2025-03-30T03:30:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-03-30T01:30:00+00:00");
        assert!(parse_time("30/03/2025").is_err());
    }
}
