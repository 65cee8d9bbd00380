//! How patiently an HTTP API source retries: the first backoff, the longest single wait and the
//! attempts per request. The same policy for every API; what counts as transient is each client's.

use std::time::Duration;

/// How patiently to retry. Tests shrink every wait; production waits as GitHub asks.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// First backoff after a transient failure; doubled on every further attempt.
    pub backoff: Duration,
    /// No single wait (backoff, `Retry-After`, rate-limit reset) is longer than this.
    pub max_wait: Duration,
    /// Attempts per request before a transient failure becomes an error.
    pub attempts: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { backoff: Duration::from_secs(1), max_wait: Duration::from_secs(3600), attempts: 6 }
    }
}
