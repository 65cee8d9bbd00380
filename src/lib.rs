//! flowgauge: how well an organisation delivers software, and why.
//!
//! Data flows one way, and modules depend only on those before them:
//! sources → [`collect`] (rows of the [`model`] tables) → [`store`] (parquet workspace) →
//! [`metrics`] (`queries/*.sql` over the tables) → [`assess`] (levels, confidence) → [`report`].
//! [`config`] and [`calendar`] are shared by all. The command-line interface lives in the binary
//! and only wires these together.

pub mod assess;
pub mod calendar;
pub mod collect;
pub mod config;
pub mod error;
pub mod metrics;
pub mod model;
pub mod ownership;
pub mod report;
pub mod store;

pub use error::{Error, Result};
