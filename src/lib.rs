//! flowgauge: how well an organisation delivers software, and why.
//!
//! Data flows one way, and modules depend only on those before them:
//! sources → [`collect`] (rows of the [`model`] tables) → [`store`] (parquet workspace) →
//! [`metrics`] (`queries/*.sql` over the tables) → [`assess`] (levels, confidence) → [`report`].
//! [`export`] takes the tables and queries of [`metrics`] to other engines (`flowgauge sql`, DuckDB,
//! Trino, Spark SQL, PostgreSQL).
//!
//! Below them all lies the vocabulary every layer shares, and it depends on nothing above it:
//! [`error`]; [`calendar`] (the analysis [`calendar::Window`] and its periods); [`model`] (the
//! tables); [`import_spec`] (what an import file holds and how it is written, on top of `model`);
//! and [`config`], which uses only those; [`spreadsheet`] makes every CSV safe to open in a
//! spreadsheet. The command-line interface lives in the binary and only
//! wires the layers together.

pub mod assess;
pub mod calendar;
pub mod collect;
pub mod config;
pub mod error;
pub mod export;
pub mod import_spec;
pub mod metrics;
pub mod model;
pub mod ownership;
pub mod report;
pub mod spreadsheet;
pub mod store;

pub use error::{Error, Result};
