//! The integration tests: one binary (`autotests = false`), one module per area, shared helpers.

mod assess;
mod cli;
mod config;
mod docs;
mod evidence;
mod git;
mod github;
mod helpers;
mod import;
mod metrics;
mod recorded;
mod report;
mod sample;
mod store;
