//! The one place that talks HTTP to PagerDuty's REST API v2: every request goes through
//! [`Client::get`], which sends the token, retries what is transient, waits out the rate limit and
//! turns what is permanent into an [`Error::Pagerduty`] that says what to fix.
//!
//! Why reqwest and not a PagerDuty crate: none is maintained (the ones on crates.io speak the Events
//! API or a 2018 REST shape). reqwest with rustls is the client stack the binary already carries for
//! the other HTTP sources, and it builds its TLS configuration with its own aws-lc-rs provider, so no
//! process-wide rustls provider has to be chosen for it.
//!
//! PagerDuty allows 960 requests a minute per token and asks for serial requests per token, so the
//! client never has two requests in flight: the collection awaits each answer before the next.
//! The token is sent only in the `Authorization: Token token=…` header; every message built here
//! is passed through [`redact`], so a token echoed by a proxy or a server cannot reach output or the
//! workspace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::collect::http::headers::header_u64;
use crate::collect::http::retry::{self, Pacing, gave_up};
use crate::error::{Error, Result};

/// A successful answer: its body as text (already checked to be JSON) and the parsed value.
pub struct Page {
    pub body: String,
    pub json: serde_json::Value,
}

/// What one attempt came to.
enum Outcome {
    Done(Page),
    Retry { wait: Option<Duration>, why: String },
}

/// A reqwest client for one PagerDuty account (api.pagerduty.com, or api.eu.pagerduty.com).
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    token: String,
    pacing: Pacing,
    account: String,
    requests: AtomicU64,
    retries: AtomicU64,
    /// `ratelimit-remaining` of the last answer that carried it (`u64::MAX`: not said yet).
    remaining: AtomicU64,
}

/// PagerDuty's advice when a 429 comes without `ratelimit-reset`: the limit is per minute.
const RATE_LIMIT_FALLBACK: Duration = Duration::from_secs(60);

impl Client {
    pub fn new(api_url: &str, token: &str, pacing: Pacing, account: &str) -> Result<Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("flowgauge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Pagerduty {
                account: account.to_string(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Client {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            pacing,
            account: account.to_string(),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            remaining: AtomicU64::new(u64::MAX),
        })
    }

    /// Requests made so far (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Requests left this minute, once PagerDuty has said.
    pub fn remaining(&self) -> Option<u64> {
        Some(self.remaining.load(Ordering::Relaxed)).filter(|n| *n != u64::MAX)
    }

    /// GETs a path relative to the API root (with its query string); `what` names the resource in
    /// errors (`service PXXXX`), so a 404 can say which thing is unknown.
    pub async fn get(&self, path_and_query: &str, what: &str) -> Result<Page> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.attempt(path_and_query, what).await? {
                Outcome::Done(page) => return Ok(page),
                Outcome::Retry { wait, why } => {
                    if self.pacing.exhausted(attempt) {
                        return Err(self.error(gave_up(path_and_query, attempt, &why)));
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.pacing.wait_after(attempt, wait)).await;
                }
            }
        }
    }

    async fn attempt(&self, path: &str, what: &str) -> Result<Outcome> {
        let url = format!("{}{path}", self.api_url);
        let sent = self
            .http
            .get(&url)
            .header(http::header::AUTHORIZATION, format!("Token token={}", self.token))
            .header(http::header::ACCEPT, "application/vnd.pagerduty+json;version=2")
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::Retry { wait: None, why: self.redact(&format!("connection failed: {e}")) }),
        };
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(n) = header_u64(&headers, "ratelimit-remaining") {
            self.remaining.store(n, Ordering::Relaxed);
        }
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) => {
                return Ok(Outcome::Retry {
                    wait: None,
                    why: self.redact(&format!("reading the response failed: {e}")),
                });
            }
        };
        if !status.is_success() {
            return self.classify(status, &headers, &body, path, what);
        }
        if header_u64(&headers, "ratelimit-remaining") == Some(0) {
            // The minute's budget is spent: wait for it to refill rather than earn a 429.
            tokio::time::sleep(self.rate_limit_wait(&headers)).await;
        }
        match serde_json::from_str(&body) {
            Ok(json) => Ok(Outcome::Done(Page { body, json })),
            // A body cut short by a dropped connection or a proxy: ask again.
            Err(e) => Ok(Outcome::Retry { wait: None, why: format!("response is not complete JSON ({e})") }),
        }
    }

    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &str, path: &str, what: &str) -> Result<Outcome> {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|j| {
                let error = j.get("error")?;
                let text = error.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_string();
                let details: Vec<&str> = error
                    .get("errors")
                    .and_then(|e| e.as_array())
                    .map_or(Vec::new(), |e| e.iter().filter_map(|v| v.as_str()).collect());
                Some(if details.is_empty() { text } else { format!("{text} ({})", details.join("; ")) })
            })
            .unwrap_or_default();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(Outcome::Retry {
                wait: Some(self.rate_limit_wait(headers)),
                why: format!("rate limited (429): {}", self.redact(&message)),
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Ok(Outcome::Retry { wait: None, why: format!("server error {status}") });
        }
        let what = match status {
            StatusCode::UNAUTHORIZED => {
                "the token was refused (401): set PAGERDUTY_TOKEN to a valid REST API key (a user or account API key, not an Events API integration key)".to_string()
            }
            StatusCode::FORBIDDEN => format!(
                "permission denied (403) at {path}: the token lacks access to {what}; use a read-only account API key, or a user key of someone who can see the services"
            ),
            StatusCode::NOT_FOUND => format!(
                "not found (404) at {path}: unknown {what}; check the id in the source's `service_map` and that `api_url` is the account's region (api.pagerduty.com or api.eu.pagerduty.com)"
            ),
            StatusCode::BAD_REQUEST => format!("PagerDuty rejected the request (400) at {path}"),
            other => format!("request to {path} failed with {other}"),
        };
        let detail = if message.is_empty() { String::new() } else { format!(" — PagerDuty says: {message}") };
        Err(self.error(format!("{what}{detail}")))
    }

    /// How long PagerDuty asks us to wait: `ratelimit-reset` seconds (PagerDuty sends the seconds
    /// left, not an instant), else `Retry-After`, else a minute — a 429 may come without headers.
    fn rate_limit_wait(&self, headers: &HeaderMap) -> Duration {
        let seconds = header_u64(headers, "ratelimit-reset").or_else(|| header_u64(headers, "retry-after"));
        seconds.map_or(RATE_LIMIT_FALLBACK, Duration::from_secs).min(self.pacing.max_wait)
    }

    fn error(&self, message: String) -> Error {
        Error::Pagerduty { account: self.account.clone(), message: self.redact(&message) }
    }

    fn redact(&self, text: &str) -> String {
        redact(text, &self.token)
    }
}

/// Replaces every occurrence of the token with `***`.
pub fn redact(text: &str, token: &str) -> String {
    retry::redact(text, [token])
}
