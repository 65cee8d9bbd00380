//! The library's one error type.
//!
//! Every failure a user can cause (bad configuration, a malformed import file, a locked workspace, a
//! broken query) has its own variant that names *where* the problem is — file, line, field or key —
//! so the CLI can print it as is and map it to a precise exit code.

use std::path::PathBuf;

/// Result with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },

    /// An object store (the workspace's `s3://`, `gs://` or `az://` bucket) refused or failed a
    /// request; the message names the object and the store's answer, never a credential.
    #[error("{url}: {message}")]
    ObjectStore { url: String, message: String },

    /// The configuration file is not valid TOML or has a value of the wrong shape.
    #[error("{path}: {message}")]
    ConfigSyntax { path: PathBuf, message: String },

    /// A configuration value is present but not acceptable.
    #[error("configuration key `{key}`: {message}")]
    ConfigValue { key: String, message: String },

    /// An import file has a bad row; nothing from the file was written.
    #[error("{}:{line}: field `{field}`: {message}", path.display())]
    ImportRow { path: PathBuf, line: usize, field: String, message: String },

    /// An import file cannot be read as the declared format at all.
    #[error("{}: {message}", path.display())]
    ImportFile { path: PathBuf, message: String },

    /// Another flowgauge process holds the workspace.
    #[error(
        "workspace {} is in use by another flowgauge run (lock file {}); wait for it to finish",
        workspace.display(),
        lock.display()
    )]
    WorkspaceLocked { workspace: PathBuf, lock: PathBuf },

    /// The workspace was written by an incompatible version.
    #[error("workspace {}: {message}", path.display())]
    Workspace { path: PathBuf, message: String },

    /// A metric query is malformed or failed to run.
    #[error("query {name}: {message}")]
    Query { name: String, message: String },

    /// A git repository cannot be opened or read.
    #[error("{}: {message}", path.display())]
    Git { path: PathBuf, message: String },

    /// GitHub refused or failed a request; the message says what to fix (token, repository, access).
    #[error("GitHub {repo}: {message}")]
    Github { repo: String, message: String },

    /// GitLab refused or failed a request; the message says what to fix (token, scope, project).
    #[error("GitLab {project}: {message}")]
    Gitlab { project: String, message: String },
    /// PagerDuty refused or failed a request; the message says what to fix (token, permission,
    /// service, region).
    #[error("PagerDuty {account}: {message}")]
    Pagerduty { account: String, message: String },
    /// Jira refused or failed a request; the message says what to fix (credentials, permission,
    /// project, JQL — with Jira's own `errorMessages`).
    #[error("Jira {site}: {message}")]
    Jira { site: String, message: String },
    /// An export destination (a database) refused or failed; the message never holds a password.
    #[error("{target}: {message}")]
    Export { target: String, message: String },

    /// A report template or chart failed to render.
    #[error("template {name}: {message}")]
    Template { name: String, message: String },

    /// The command would overwrite or destroy something; it needs an explicit flag.
    #[error("{0}")]
    Refused(String),

    /// A request names something that does not exist (a service, a metric).
    #[error("{0}")]
    NotFound(String),

    /// The dataframe engine failed on data that passed validation.
    #[error("dataframe engine: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), error: source }
    }
}
