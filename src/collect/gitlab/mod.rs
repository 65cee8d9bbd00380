//! The GitLab source.

pub mod codeowners;
pub mod dora;
pub mod groups;
pub mod incidents;
