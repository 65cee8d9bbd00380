//! The fast path of a CSV import: fields parsed straight into typed columns.
//!
//! The record-by-record path (the parent module) turns every record into a map of owned strings and
//! every row into a [`crate::model::Row`] before gathering them into frames: at a million rows most
//! of an import's time went there. This path reads the same records with the same CSV reader and
//! pushes each field, trimmed and converted, into the column it belongs to, with the same defaults,
//! namespacing and normalisation. It does not report errors: at the first thing it does not accept
//! (a bad value, a missing required value, a duplicate key, an unknown column, bytes that are not
//! UTF-8, a malformed record) it gives up and the record-by-record path reads the file again, so
//! every rejection names its file, line and field exactly as it always did. The two paths build
//! identical frames for every file both accept (tested below).

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::BufRead;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{
    DETECTED_BY, ImportBatch, ImportKind, ImportRequest, REFERENCES, STATUSES, allowed_columns, namespaced, parse_time,
};
use crate::config::Config;
use crate::error::Result;
use crate::model::{self, ColumnType, TableSchema};

/// Rows of a CSV file as the batch to import, or `None` when the file has anything the
/// record-by-record path must look at (it then reports the error, or reads a file this path does
/// not handle, like one without rows).
pub(super) fn read_csv(request: &ImportRequest, config: &Config) -> Result<Option<ImportBatch>> {
    let schema = request.kind.table();
    // Keys are text in every importable table; anything else is left to the general path.
    if schema.key.iter().any(|k| schema.column(k).map(|c| c.kind) != Some(ColumnType::Text)) {
        return Ok(None);
    }
    let Ok(file) = std::fs::File::open(&request.path) else {
        return Ok(None);
    };
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    match input.fill_buf() {
        Ok(start) if start.starts_with("\u{feff}".as_bytes()) => input.consume(3),
        Ok(_) => {}
        Err(_) => return Ok(None),
    }
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let Some(targets) = header_targets(request.kind, schema, &mut reader) else {
        return Ok(None);
    };
    let key_hasher = RandomState::new();
    let Some(chunks) =
        convert_in_parallel(&mut reader, |records| convert(request, config, &targets, &key_hasher, records))
    else {
        return Ok(None);
    };
    let chunks = chunks.into_iter().collect::<Result<Vec<Chunk>>>()?;
    let mut keys = HashSet::with_capacity(chunks.iter().map(|c| c.keys.len()).sum());
    if !chunks.iter().flat_map(|c| &c.keys).all(|key| keys.insert(*key)) {
        return Ok(None); // maybe a duplicate key, which the record-by-record path names
    }
    let mut batch = ImportBatch::default();
    for chunk in chunks {
        batch.rows_read += chunk.rows;
        if batch.tables.is_empty() {
            batch.tables = chunk.tables;
            continue;
        }
        for ((_, df), (_, more)) in batch.tables.iter_mut().zip(chunk.tables) {
            df.vstack_mut_owned(more)?;
        }
    }
    Ok((batch.rows_read > 0).then_some(batch))
}

/// Records converted a chunk at a time.
const CHUNK_ROWS: usize = 32_768;
/// Chunks read and not yet converted, at most: bounds the memory when reading outpaces converting.
const CHUNKS_WAITING: usize = 4;

/// One chunk's rows as frames (the table's, then the links'), with the hashes of their keys.
struct Chunk {
    tables: Vec<(&'static TableSchema, DataFrame)>,
    keys: Vec<u64>,
    rows: usize,
}

/// Reads the records on one thread and converts them, a chunk at a time, on as many threads as
/// there are cores. The chunks' results in file order; `None` when a record cannot be read or a
/// chunk holds one the fast path does not accept.
fn convert_in_parallel<R: std::io::Read + Send>(
    reader: &mut csv::Reader<R>,
    convert: impl Fn(&[csv::ByteRecord]) -> Option<Result<Chunk>> + Sync,
) -> Option<Vec<Result<Chunk>>> {
    let converters = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (send, receive) = std::sync::mpsc::sync_channel::<(usize, Vec<csv::ByteRecord>)>(CHUNKS_WAITING);
    let receive = std::sync::Mutex::new(receive);
    let results = std::sync::Mutex::new(Vec::<(usize, Option<Result<Chunk>>)>::new());
    let gave_up = std::sync::atomic::AtomicBool::new(false);
    // Converted chunks' records go back to the reader, which reads the next records into them: a
    // million records then cost a few dozen allocations, not millions.
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<csv::ByteRecord>>();
    let read_all = std::thread::scope(|scope| {
        for _ in 0..converters {
            let (receive, results, gave_up, convert) = (&receive, &results, &gave_up, &convert);
            let recycle = recycle.clone();
            scope.spawn(move || {
                loop {
                    let next = receive.lock().expect("not poisoned").recv();
                    let Ok((index, records)) = next else { break };
                    if gave_up.load(std::sync::atomic::Ordering::Relaxed) {
                        continue;
                    }
                    let chunk = convert(&records);
                    if chunk.is_none() {
                        gave_up.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    results.lock().expect("not poisoned").push((index, chunk));
                    let _ = recycle.send(records);
                }
            });
        }
        let mut index = 0;
        loop {
            if gave_up.load(std::sync::atomic::Ordering::Relaxed) {
                return false;
            }
            let mut records = recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK_ROWS));
            let mut filled = 0;
            while filled < CHUNK_ROWS {
                if filled == records.len() {
                    records.push(csv::ByteRecord::with_capacity(512, 32));
                }
                match reader.read_byte_record(&mut records[filled]) {
                    Ok(true) => filled += 1,
                    Ok(false) => break,
                    Err(_) => return false,
                }
            }
            records.truncate(filled);
            let last = filled < CHUNK_ROWS;
            if !records.is_empty() && send.send((index, records)).is_err() {
                return false;
            }
            index += 1;
            if last {
                break;
            }
        }
        drop(send);
        true
    });
    // The scope has joined every converter: `send` is dropped on every path.
    if !read_all || gave_up.into_inner() {
        return None;
    }
    let mut results = results.into_inner().expect("not poisoned");
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, chunk)| chunk).collect()
}

/// Converts a chunk of records, or `None` at the first one the fast path does not accept.
fn convert(
    request: &ImportRequest,
    config: &Config,
    targets: &[Target],
    key_hasher: &RandomState,
    records: &[csv::ByteRecord],
) -> Option<Result<Chunk>> {
    let schema = request.kind.table();
    let mut builder = ColumnsBuilder::new(request, config, schema, key_hasher.clone());
    let (mut cells, mut texts) = (Vec::with_capacity(schema.columns.len()), Vec::with_capacity(schema.columns.len()));
    for record in records {
        cells.clear();
        cells.resize(schema.columns.len(), None);
        let mut commits = None;
        for (target, field) in targets.iter().zip(record.iter()) {
            let text = std::str::from_utf8(field).ok()?;
            match target {
                Target::Column(i) => cells[*i] = Some(text.trim()).filter(|t| !t.is_empty()),
                Target::Commits => commits = Some(text.trim()),
                Target::Ignored => {}
            }
        }
        builder.add(&cells, commits, &mut texts)?;
    }
    Some(builder.finish())
}

/// Where a header's field goes.
enum Target {
    Column(usize),
    Commits,
    /// A column with an empty header.
    Ignored,
}

/// What each header names, or `None` when a header is not valid UTF-8, names a column twice or
/// names one the table does not have.
fn header_targets<R: std::io::Read>(
    kind: ImportKind,
    schema: &TableSchema,
    reader: &mut csv::Reader<R>,
) -> Option<Vec<Target>> {
    let allowed = allowed_columns(kind, schema);
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    for header in reader.byte_headers().ok()?.iter() {
        let header = std::str::from_utf8(header).ok()?.trim();
        if header.is_empty() {
            targets.push(Target::Ignored);
            continue;
        }
        if !seen.insert(header.to_string()) || !allowed.contains(&header) {
            return None;
        }
        targets.push(match schema.position(header) {
            Some(i) => Target::Column(i),
            None => Target::Commits,
        });
    }
    Some(targets)
}

/// One column's values as they are read.
enum ColumnValues {
    Text(StringChunkedBuilder),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    /// Microseconds since the epoch, UTC.
    Time(Vec<Option<i64>>),
}

impl ColumnValues {
    fn new(column: &model::Column) -> ColumnValues {
        match column.kind {
            ColumnType::Text => ColumnValues::Text(StringChunkedBuilder::new(column.name.into(), 1 << 16)),
            ColumnType::Int => ColumnValues::Int(Vec::new()),
            ColumnType::Float => ColumnValues::Float(Vec::new()),
            ColumnType::Bool => ColumnValues::Bool(Vec::new()),
            ColumnType::Time => ColumnValues::Time(Vec::new()),
        }
    }

    /// The column, typed as [`crate::store::rows_to_frame`] types it.
    fn finish(self, name: &str) -> Result<Column> {
        let name = PlSmallStr::from(name);
        let series = match self {
            ColumnValues::Text(builder) => builder.finish().into_series(),
            ColumnValues::Int(values) => Series::new(name, values),
            ColumnValues::Float(values) => Series::new(name, values),
            ColumnValues::Bool(values) => Series::new(name, values),
            ColumnValues::Time(values) => {
                Series::new(name, values).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            }
        };
        Ok(series.into_column())
    }
}

/// The table's columns (and the `commits` links) filled a row at a time.
struct ColumnsBuilder<'a> {
    request: &'a ImportRequest,
    config: &'a Config,
    schema: &'static TableSchema,
    columns: Vec<ColumnValues>,
    /// The owners and shas of the `commits` column's links.
    links: Option<(StringChunkedBuilder, StringChunkedBuilder)>,
    /// Hashes of the rows' keys: a repeated hash may be a duplicate key, which the record-by-record
    /// path then reports (or, for a collision, accepts).
    keys: Vec<u64>,
    key_hasher: RandomState,
    /// Which service a repository belongs to, as the configuration says (`None`: no single one).
    service_of_repo: HashMap<String, Option<String>>,
    /// Services found configured.
    known_services: HashSet<String>,
    /// Positions of the columns the defaults and checks read.
    positions: Positions,
    /// What each column's text becomes (`Plain` for columns of other types).
    roles: Vec<TextRole>,
    /// The time columns whose order is checked: (earlier, later).
    ordered: Vec<(usize, usize)>,
    rows: usize,
}

#[derive(Default)]
struct Positions {
    id: Option<usize>,
    repo: Option<usize>,
    service: Option<usize>,
    environment: Option<usize>,
    is_production: Option<usize>,
}

impl<'a> ColumnsBuilder<'a> {
    fn new(
        request: &'a ImportRequest,
        config: &'a Config,
        schema: &'static TableSchema,
        key_hasher: RandomState,
    ) -> ColumnsBuilder<'a> {
        let links = matches!(request.kind, ImportKind::Deployments | ImportKind::Changes).then(|| {
            let (owner, sha) = match request.kind {
                ImportKind::Deployments => ("deployment_id", "sha"),
                _ => ("change_id", "sha"),
            };
            (StringChunkedBuilder::new(owner.into(), 1 << 16), StringChunkedBuilder::new(sha.into(), 1 << 16))
        });
        let ordered = super::ORDERED_TIMES
            .iter()
            .filter_map(|(earlier, later)| Some((schema.position(earlier)?, schema.position(later)?)))
            .collect();
        ColumnsBuilder {
            request,
            config,
            schema,
            columns: schema.columns.iter().map(ColumnValues::new).collect(),
            links,
            keys: Vec::new(),
            key_hasher,
            service_of_repo: HashMap::new(),
            known_services: HashSet::new(),
            positions: Positions {
                id: request.kind.id_noun().and_then(|_| schema.position("id")),
                repo: schema.position("repo"),
                service: schema.position("service"),
                environment: schema.position("environment"),
                is_production: schema.position("is_production"),
            },
            ordered,
            roles: schema.columns.iter().map(|c| TextRole::of(request.kind, c.name)).collect(),
            rows: 0,
        }
    }

    /// Adds one record's cells (trimmed, blank ones `None`), or `None` when the record-by-record
    /// path must look at it.
    /// `texts` is room for the row's text cells, reused from row to row.
    fn add<'c>(
        &mut self,
        cells: &[Option<&'c str>],
        commits: Option<&str>,
        texts: &mut Vec<Option<Cow<'c, str>>>,
    ) -> Option<()> {
        self.texts(cells, texts)?;
        let texts = &*texts;
        for (i, column) in self.schema.columns.iter().enumerate() {
            match &mut self.columns[i] {
                ColumnValues::Text(builder) => match &texts[i] {
                    Some(text) => builder.append_value(text.as_ref()),
                    None if column.required => return None,
                    None => builder.append_null(),
                },
                ColumnValues::Int(values) => {
                    values.push(parsed(cells[i], |s| s.parse::<i64>().ok())?);
                }
                ColumnValues::Float(values) => {
                    let value = parsed(cells[i], |s| s.parse::<f64>().ok().filter(|f| f.is_finite()))?;
                    values.push(value);
                }
                ColumnValues::Bool(values) => {
                    let mut value = parsed(cells[i], parse_bool)?;
                    if value.is_none() && Some(i) == self.positions.is_production {
                        value = default_is_production(self.request, self.config, texts, &self.positions);
                    }
                    values.push(value);
                }
                ColumnValues::Time(values) => values.push(parsed(cells[i], parse_micros)?),
            }
            if column.required && column.kind != ColumnType::Text && self.last_is_null(i) {
                return None;
            }
        }
        self.check_order()?;
        self.remember_key(texts)?;
        if let (Some(commits), Some((owners, shas))) = (commits, self.links.as_mut()) {
            let owner = texts[self.positions.id?].as_deref()?;
            for sha in commits.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()) {
                owners.append_value(owner);
                shas.append_value(sha);
            }
        }
        self.rows += 1;
        Some(())
    }

    /// The row's text cells with their defaults filled in, ids and references namespaced, and
    /// statuses normalised; `None` when one is not acceptable.
    fn texts<'c>(&mut self, cells: &[Option<&'c str>], texts: &mut Vec<Option<Cow<'c, str>>>) -> Option<()> {
        let request = self.request;
        texts.clear();
        for (i, column) in self.schema.columns.iter().enumerate() {
            if column.kind != ColumnType::Text {
                texts.push(None);
                continue;
            }
            let cell = cells[i];
            let text = match self.roles[i] {
                TextRole::Source => Some(cell.map_or_else(|| Cow::Owned(request.namespace.clone()), Cow::Borrowed)),
                TextRole::Service => self.service(cell, self.positions.repo.and_then(|r| cells[r]))?,
                TextRole::Id(noun) => Some(Cow::Owned(namespaced(&request.namespace, noun, cell?))),
                TextRole::Status => match cell {
                    Some(status) => Some(Cow::Borrowed(canonical_status(request.kind, status)?)),
                    None => None,
                },
                // The word as stored is the lower-case one.
                TextRole::DetectedBy => match cell {
                    Some(who) => Some(Cow::Borrowed(*DETECTED_BY.iter().find(|d| d.eq_ignore_ascii_case(who))?)),
                    None => None,
                },
                TextRole::Reference(noun) => cell.map(|r| Cow::Owned(namespaced(&request.namespace, noun, r))),
                TextRole::Plain => cell.map(Cow::Borrowed),
            };
            texts.push(text);
        }
        Some(())
    }

    /// The row's service: its own, else the request's, else its repository's; `Some(None)` when it
    /// has none, `None` when it names one the configuration does not have.
    fn service<'c>(&mut self, cell: Option<&'c str>, repo: Option<&str>) -> Option<Option<Cow<'c, str>>> {
        let service: Option<Cow<'c, str>> = match cell {
            Some(service) => Some(Cow::Borrowed(service)),
            None => match (&self.request.service, repo) {
                (Some(service), _) => Some(Cow::Owned(service.clone())),
                (None, Some(repo)) => {
                    if !self.service_of_repo.contains_key(repo) {
                        let found = self.config.service_for_repo(repo).map(|s| s.name.clone());
                        self.service_of_repo.insert(repo.to_string(), found);
                    }
                    self.service_of_repo[repo].clone().map(Cow::Owned)
                }
                (None, None) => None,
            },
        };
        if let Some(name) = &service
            && !self.config.services.is_empty()
            && !self.known_services.contains(name.as_ref())
        {
            self.config.service(name)?;
            self.known_services.insert(name.to_string());
        }
        Some(service)
    }

    fn last_is_null(&self, i: usize) -> bool {
        match &self.columns[i] {
            ColumnValues::Text(_) => false,
            ColumnValues::Int(v) => v.last().is_some_and(Option::is_none),
            ColumnValues::Float(v) => v.last().is_some_and(Option::is_none),
            ColumnValues::Bool(v) => v.last().is_some_and(Option::is_none),
            ColumnValues::Time(v) => v.last().is_some_and(Option::is_none),
        }
    }

    /// `None` when a later time of the row is before an earlier one.
    fn check_order(&self) -> Option<()> {
        let last = |i: usize| match &self.columns[i] {
            ColumnValues::Time(v) => v.last().copied().flatten(),
            _ => None,
        };
        for &(earlier, later) in &self.ordered {
            if let (Some(a), Some(b)) = (last(earlier), last(later))
                && b < a
            {
                return None;
            }
        }
        Some(())
    }

    /// Keeps the hash of the row's key, checked against every other row's when all are read.
    fn remember_key(&mut self, texts: &[Option<Cow<str>>]) -> Option<()> {
        let mut hasher = self.key_hasher.build_hasher();
        for key in self.schema.key {
            let i = self.schema.position(key)?;
            texts[i].as_deref().hash(&mut hasher);
        }
        self.keys.push(hasher.finish());
        Some(())
    }

    fn finish(self) -> Result<Chunk> {
        let mut columns = Vec::with_capacity(self.columns.len());
        for (values, column) in self.columns.into_iter().zip(self.schema.columns) {
            columns.push(values.finish(column.name)?);
        }
        let mut tables = vec![(self.schema, DataFrame::new(self.rows, columns)?)];
        if let Some((owners, shas)) = self.links {
            let links_schema = match self.request.kind {
                ImportKind::Deployments => &model::DEPLOYMENT_COMMITS,
                _ => &model::CHANGE_COMMITS,
            };
            let (owners, shas) = (owners.finish().into_series(), shas.finish().into_series());
            tables.push((links_schema, DataFrame::new(owners.len(), vec![owners.into_column(), shas.into_column()])?));
        }
        Ok(Chunk { tables, keys: self.keys, rows: self.rows })
    }
}

/// A cell's value: `Some(None)` for no value, `None` when `parse` does not accept it.
fn parsed<T>(cell: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> Option<Option<T>> {
    match cell {
        None => Some(None),
        Some(text) => parse(text).map(Some),
    }
}

/// What a text column's cells become.
#[derive(Clone, Copy)]
enum TextRole {
    /// Filled in with the namespace when empty.
    Source,
    /// Filled in from the request or the repository, and checked against the configuration.
    Service,
    /// Required, and namespaced with this noun.
    Id(&'static str),
    /// Normalised to a canonical status.
    Status,
    /// `monitoring` or `person`, in any case.
    DetectedBy,
    /// Namespaced with this noun like the ids it points at.
    Reference(&'static str),
    /// Taken as it is.
    Plain,
}

impl TextRole {
    fn of(kind: ImportKind, column: &str) -> TextRole {
        match (column, kind.id_noun()) {
            ("source", _) => TextRole::Source,
            ("service", _) => TextRole::Service,
            ("id", Some(noun)) => TextRole::Id(noun),
            ("status", _) => TextRole::Status,
            ("detected_by", _) => TextRole::DetectedBy,
            (name, _) => match REFERENCES.iter().find(|(reference, _)| *reference == name) {
                Some((_, noun)) => TextRole::Reference(noun),
                None => TextRole::Plain,
            },
        }
    }
}

/// The canonical status a status alias stands for (in any case); `None` for an unknown one, or for
/// `skipped` in a deployment.
fn canonical_status(kind: ImportKind, status: &str) -> Option<&'static str> {
    let (_, canonical) = STATUSES.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(status))?;
    (!(*canonical == "skipped" && kind == ImportKind::Deployments)).then_some(canonical)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A deployment without `is_production` is in production when its service (or, for a service the
/// configuration does not have, the default list) says its environment is.
fn default_is_production(
    request: &ImportRequest,
    config: &Config,
    texts: &[Option<Cow<str>>],
    positions: &Positions,
) -> Option<bool> {
    if request.kind != ImportKind::Deployments {
        return None;
    }
    let service = texts[positions.service?].as_deref()?;
    let environment = texts[positions.environment?].as_deref()?;
    Some(match config.service(service) {
        Some(s) => s.is_production(environment),
        None => crate::config::is_default_production(environment),
    })
}

/// A time as microseconds since the epoch: `YYYY-MM-DDTHH:MM:SSZ`, with or without a fraction of a
/// second (the forms exports write most), read directly, any other form by [`parse_time`].
fn parse_micros(s: &str) -> Option<i64> {
    if let Some(micros) = parse_utc_seconds(s.as_bytes()) {
        return Some(micros);
    }
    parse_time(s).ok().map(|t| t.timestamp_micros())
}

fn parse_utc_seconds(b: &[u8]) -> Option<i64> {
    // `YYYY-MM-DDTHH:MM:SS`, a fraction of 1 to 9 digits or none (GitLab and most JSON exports
    // write milliseconds), then `Z`.
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let digits =
        |digits: &[u8]| digits.iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')));
    let number = |range: std::ops::Range<usize>| digits(&b[range]);
    let micros = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let value = i64::from(digits(fraction)?);
            let places = fraction.len() as u32;
            // Beyond microseconds the digits are dropped, as chrono's `timestamp_micros` does.
            if places <= 6 { value * 10i64.pow(6 - places) } else { value / 10i64.pow(places - 6) }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
    let time = date.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)?;
    Some(time.and_utc().timestamp_micros() + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_directly_equal_the_general_parser_with_or_without_a_fraction() {
        for text in [
            "2025-03-30T01:30:00Z",
            "2025-03-30T01:30:00.5Z",
            "2025-03-30T01:30:00.123Z",
            "2025-03-30T01:30:00.909958Z",
            "2025-03-30T01:30:00.123456789Z",
            "1969-12-31T23:59:59.25Z",
        ] {
            let general = crate::collect::import::parse_time(text).unwrap().timestamp_micros();
            assert_eq!(parse_utc_seconds(text.as_bytes()), Some(general), "{text}");
        }
        for text in [
            "2025-03-30T01:30:00.Z",
            "2025-03-30T01:30:00.1234567890Z",
            "2025-03-30T01:30:00,5Z",
            "2025-03-30T01:30:00.5",
        ] {
            assert_eq!(parse_utc_seconds(text.as_bytes()), None, "{text}");
        }
    }
    use crate::collect::import::{BatchBuilder, read_csv as read_records};

    fn config() -> Config {
        let text = "[[services]]\nname = \"checkout\"\nrepos = [\"acme/shop\"]\nproduction_environments = [\"prod-*\"]\n\
                    [[services]]\nname = \"search\"\nrepos = [\"acme/search\"]\n";
        Config::from_toml(text, chrono::Utc::now()).unwrap()
    }

    fn both_paths(kind: ImportKind, csv: &str) -> (Option<ImportBatch>, Result<ImportBatch>) {
        both_paths_with(&config(), kind, csv)
    }

    fn both_paths_with(config: &Config, kind: ImportKind, csv: &str) -> (Option<ImportBatch>, Result<ImportBatch>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file.csv");
        std::fs::write(&path, csv).unwrap();
        let request =
            ImportRequest { path: path.clone(), kind, format: None, service: None, namespace: "jenkins".into() };
        let fast = read_csv(&request, config).unwrap();
        let mut slow = BatchBuilder::new(&request, config, kind.table());
        let slow = read_records(&path, &mut |record| slow.add(&record)).and_then(|()| slow.finish());
        (fast, slow)
    }

    fn assert_same(kind: ImportKind, csv: &str) {
        assert_same_with(&config(), kind, csv);
    }

    fn assert_same_with(config: &Config, kind: ImportKind, csv: &str) {
        let (fast, slow) = both_paths_with(config, kind, csv);
        let slow = slow.expect("the slow path reads it");
        let fast = fast.expect("the fast path reads it");
        assert_eq!(fast.rows_read, slow.rows_read);
        assert_eq!(fast.tables.len(), slow.tables.len());
        for ((fast_schema, fast), (slow_schema, slow)) in fast.tables.iter().zip(&slow.tables) {
            assert_eq!(fast_schema.name, slow_schema.name);
            assert!(fast.equals_missing(slow), "{}:\n{fast}\n{slow}", fast_schema.name);
        }
    }

    #[test]
    fn deployments_read_column_wise_equal_those_read_record_by_record() {
        assert_same(
            ImportKind::Deployments,
            "\u{feff}id, service ,environment,status,started_at,finished_at,commits,repo,,is_production\n\
             1,,prod-eu,Succeeded,2025-01-02T03:04:05Z,2025-01-02 03:14:05,\"a1, b2  c3\",acme/shop,x,\n\
             2,checkout,staging,FAILED,2025-01-02T03:04:05+02:00,2025-01-02T03:04:05+02:00,,,,yes\n\
             3,search,production,running,2025-02-28T23:59:59Z,2025-03-01T00:00:00Z,,acme/search,,\n\
             jenkins:deployment:9,search,qa,canceled,,2025-03-01T00:00:00Z,d4,,,0\n",
        );
    }

    #[test]
    fn changes_and_incidents_read_column_wise_equal_those_read_record_by_record() {
        assert_same(
            ImportKind::Changes,
            "id,repo,number,title,created_at,merged_at,additions,commits,reverts_change_id,service\n\
             10,acme/shop,10,\" Fix, the \"\"thing\"\" \",2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,12,aaa bbb,,\n\
             11,acme/search,11,Tune,2025-01-01T00:00:00Z,,,,10,\n\
             12,acme/other,+12,Other,2025-01-01T00:00:00.5Z,,-3,ccc,github:pr:acme/shop#1,search\n",
        );
        assert_same(
            ImportKind::Incidents,
            "id,service,opened_at,resolved_at,detected_by,caused_by_deployment_id,severity,mitigated_at\n\
             1,checkout,2025-01-01T00:00:00Z,2025-01-01T02:00:00Z,Monitoring,7,sev1,2025-01-01T01:00:00Z\n\
             2,search,2025-01-01T00:00:00Z,,person,,,\n",
        );
    }

    /// Every kind the sample organisation imports from CSV, with its configuration: real files with
    /// time zones, staging deployments, manual jobs and reviews, read the same both ways.
    #[test]
    fn the_sample_organisation_s_csv_files_read_the_same_both_ways() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/acme");
        let overrides = crate::config::Overrides::default();
        let config =
            Config::load(Some(&root.join("flowgauge.toml")), &|_| None, &overrides, chrono::Utc::now()).unwrap();
        for (file, kind) in [
            ("deployments.csv", ImportKind::Deployments),
            ("changes.csv", ImportKind::Changes),
            ("reviews.csv", ImportKind::Reviews),
            ("pipelines.csv", ImportKind::Pipelines),
            ("jobs.csv", ImportKind::Jobs),
        ] {
            let csv = std::fs::read_to_string(root.join(file)).unwrap();
            assert_same_with(&config, kind, &csv);
        }
    }

    #[test]
    fn a_file_of_several_chunks_is_read_in_order_and_its_duplicates_found_across_chunks() {
        let rows = 2 * CHUNK_ROWS + 100;
        let mut csv = String::from("id,repo,created_at,commits\n");
        for n in 0..rows {
            csv.push_str(&format!("{n},acme/shop,2025-01-01T00:00:00Z,{n:x} f{n:x}\n"));
        }
        assert_same(ImportKind::Changes, &csv);
        csv.push_str("5,acme/shop,2025-01-01T00:00:00Z,\n");
        let (fast, slow) = both_paths(ImportKind::Changes, &csv);
        assert!(fast.is_none());
        assert!(slow.unwrap_err().to_string().contains("first on line 7"));
    }

    #[test]
    fn the_fast_path_leaves_what_it_does_not_accept_to_the_record_by_record_path() {
        let header = "id,service,environment,status,started_at,finished_at\n";
        for bad in [
            "1,checkout,prod,success,yesterday,\n",                                // bad time
            "1,nowhere,prod,success,2025-01-01T00:00:00Z,\n",                      // unknown service
            "1,checkout,prod,skipped,2025-01-01T00:00:00Z,\n",                     // skipped deployment
            "1,checkout,prod,success,2025-01-02T00:00:00Z,2025-01-01T00:00:00Z\n", // order
            ",checkout,prod,success,2025-01-01T00:00:00Z,\n",                      // no id
            "1,checkout,prod,success,2025-01-01T00:00:00Z,\n1,checkout,prod,success,2025-01-01T00:00:00Z,\n",
            "1,checkout,prod,success\n", // too few fields
        ] {
            let (fast, slow) = both_paths(ImportKind::Deployments, &format!("{header}{bad}"));
            assert!(fast.is_none(), "{bad}");
            assert!(slow.is_err(), "{bad}");
        }
        let (fast, _) = both_paths(ImportKind::Deployments, "id,colour\n1,red\n");
        assert!(fast.is_none());
    }

    #[test]
    fn utc_seconds_are_read_as_parse_time_reads_them() {
        for s in ["2025-01-02T03:04:05Z", "2024-02-29T23:59:59Z", "1969-12-31T23:59:59Z"] {
            assert_eq!(parse_utc_seconds(s.as_bytes()), Some(parse_time(s).unwrap().timestamp_micros()), "{s}");
        }
        for s in ["2025-02-29T00:00:00Z", "2025-01-02T24:00:00Z", "2025-01-02T03:04:60Z", "2025-01-02 03:04:05Z"] {
            assert_eq!(parse_utc_seconds(s.as_bytes()), None, "{s}");
        }
    }
}
