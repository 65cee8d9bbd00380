//! How patiently an HTTP API source retries: the first backoff, the longest single wait and the
//! attempts per request, how long each wait is and what a request given up on says — and how a
//! client's messages lose its secrets before they are shown. The same policy for every API; what
//! counts as transient is each client's.

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

impl Pacing {
    /// The default pacing, with the longest single wait a source's `max_wait_seconds` sets.
    pub fn with_max_wait(max_wait_seconds: Option<u64>) -> Pacing {
        let mut pacing = Pacing::default();
        if let Some(seconds) = max_wait_seconds {
            pacing.max_wait = Duration::from_secs(seconds);
        }
        pacing
    }

    /// Whether the `attempt`th failed attempt (counting from 1) was the last one allowed.
    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.attempts
    }

    /// How long to wait after the `attempt`th failed attempt: what the API asked for
    /// (`Retry-After`, a rate-limit reset), else the first backoff doubled per further attempt —
    /// never longer than `max_wait`.
    pub fn wait_after(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let backoff = self.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        asked.unwrap_or(backoff).min(self.max_wait)
    }
}

/// The message of a request given up on: what was asked, how often, and the last failure; the
/// next run resumes, as every source keeps its place after each page.
pub fn gave_up(what: &str, attempt: u32, why: &str) -> String {
    format!(
        "{what}: gave up after {attempt} attempts, last: {why}; try again later (the next run resumes where this one stopped)"
    )
}

/// Replaces every occurrence of each secret (of four characters or more: a shorter one would
/// blank out ordinary text) with `***`, so no token reaches output, logs or files.
pub fn redact<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    secrets.into_iter().filter(|s| s.len() >= 4).fold(text.to_string(), |out, secret| out.replace(secret, "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_backoff_unless_the_api_asks_and_never_pass_the_longest() {
        let pacing = Pacing { backoff: Duration::from_secs(1), max_wait: Duration::from_secs(10), attempts: 3 };
        let waits: Vec<u64> = (1..=5).map(|a| pacing.wait_after(a, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10]);
        assert_eq!(pacing.wait_after(1, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(pacing.wait_after(1, Some(Duration::from_secs(70))), Duration::from_secs(10));
        assert!(!pacing.exhausted(2) && pacing.exhausted(3));
    }

    #[test]
    fn secrets_are_blanked_but_not_short_ones() {
        assert_eq!(redact("token abcd1234 and abcd1234", ["abcd1234"]), "token *** and ***");
        assert_eq!(redact("a b c", ["a", "b"]), "a b c");
        assert_eq!(redact("x:y secret", ["secret", "eh"]), "x:y ***");
    }
}
