//! The rows a page of any HTTP API source becomes, per table, with the nested listings the API
//! returned only in part — and how those cuts are judged again page after page. Every source's
//! extraction fills the same [`Extracted`], so the resource runner ([`super::runner`]) stores and
//! counts them the same way for every API.

use std::collections::BTreeMap;

use crate::collect::http::cursor::Cut;
use crate::model::{self, Row, TableSchema, Value};

/// Rows extracted from some pages, per table.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Extracted {
    pub tables: BTreeMap<&'static str, Vec<Row>>,
    /// Nested listings the API cut at one page (more than 100 commits or reviews on one pull
    /// request, more than 20 statuses on one deployment, …).
    pub truncated: Vec<Truncated>,
}

/// One listing the API returned only in part, knowingly: the item it belongs to, what was cut, and
/// the metrics (by their `explain` names) whose figures the missing part weakens.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncated {
    /// The row id of the item (`github:pr:acme/shop#12`), or what names the listing.
    pub item: String,
    pub detail: String,
    pub affects: &'static [&'static str],
}

impl Extracted {
    pub(crate) fn push(&mut self, schema: &'static TableSchema, row: Row) {
        self.tables.entry(schema.name).or_default().push(row);
    }

    /// The batches in the shape [`crate::store::Workspace::upsert`] takes.
    pub fn batches(self) -> Vec<(&'static TableSchema, Vec<Row>)> {
        self.tables
            .into_iter()
            .map(|(name, rows)| (model::table(name).expect("extracted tables exist"), rows))
            .collect()
    }

    pub fn rows(&self, schema: &TableSchema) -> usize {
        self.tables.get(schema.name).map_or(0, Vec::len)
    }

    /// The ids of the changes and deployments read whole or in part: an item read again is
    /// judged again (a listing cut before may be whole now).
    pub fn items(&self) -> impl Iterator<Item = &str> {
        [model::CHANGES.name, model::DEPLOYMENTS.name]
            .into_iter()
            .flat_map(|t| self.tables.get(t).into_iter().flatten())
            .filter_map(|row| match row.first() {
                Some(Value::Text(id)) => Some(id.as_str()),
                _ => None,
            })
    }

    /// Judges the items of these rows again in `cuts`: an item read again loses its old cut, and
    /// keeps (or gains) the cuts found this time.
    pub fn note_cuts(&self, cuts: &mut BTreeMap<String, Cut>) {
        for item in self.items() {
            cuts.remove(item);
        }
        for t in &self.truncated {
            let cut = cuts.entry(t.item.clone()).or_default();
            cut.detail = if cut.detail.is_empty() { t.detail.clone() } else { format!("{}; {}", cut.detail, t.detail) };
            for metric in t.affects {
                if !cut.affects.iter().any(|a| a == metric) {
                    cut.affects.push(metric.to_string());
                }
            }
        }
    }
}
