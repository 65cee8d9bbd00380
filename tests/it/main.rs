//! The integration tests: one binary (`autotests = false`), one module per area, shared helpers.

mod assess;
mod cli;
mod config;
mod docs;
mod evidence;
mod export;
mod git;
mod github;
mod gitlab;
mod gitlab_more;
mod helpers;
mod import;
mod jira;
mod metrics;
mod objstore;
mod pagerduty;
mod recorded;
mod report;
mod sample;
mod store;
