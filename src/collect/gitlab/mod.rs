//! The GitLab source (in progress).

pub mod client;
