//! The GitLab source (in progress).

pub mod client;
pub mod codeowners;
pub mod dora;
pub mod extras;
pub mod groups;
pub mod incidents;
