//! The one place that talks HTTP to GitHub: every request goes through [`Client::request`], which
//! retries what is transient, waits out rate limits and turns what is permanent into an
//! [`Error::Github`] that says what to fix.
//!
//! Requests are made by octocrab's own client (its raw `_get`/`_post` calls), so authentication,
//! base URIs (GitHub Enterprise) and TLS are octocrab's; status codes, headers and bodies are read
//! here because the rate-limit headers and the raw page text are what this source needs. The token
//! lives only inside octocrab (a `SecretString`); every message built here is passed through
//! [`redact`] anyway, so a token echoed by a proxy or a server cannot reach output or the workspace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use octocrab::Octocrab;

use crate::collect::http::headers::header_u64;
use crate::collect::http::retry::{self, Pacing, gave_up};
use crate::error::{Error, Result};

/// A successful response: its body as text (already checked to be JSON) and the headers.
pub struct Page {
    pub body: String,
    pub json: serde_json::Value,
    pub headers: HeaderMap,
}

/// An octocrab client for one GitHub (github.com or an Enterprise server).
pub struct Client {
    rest: Octocrab,
    graphql: Octocrab,
    token: Option<String>,
    pacing: Pacing,
    repo: String,
    requests: AtomicU64,
    retries: AtomicU64,
    /// The two hourly budgets GitHub keeps apart, as last reported (`u64::MAX`: not reported yet).
    pub budgets: Budgets,
    /// GraphQL points spent (the sum of `rateLimit.cost`).
    pub points: AtomicU64,
    page_size: AtomicU64,
}

enum Method<'a> {
    /// A REST GET, conditional on the ETag of an earlier answer when one is given.
    Get {
        etag: Option<&'a str>,
        /// A 404 means "there is none" (a repository without CODEOWNERS), not a wrong repository.
        missing_ok: bool,
    },
    /// A GraphQL query and its variables; `first` (the page size) is added per attempt.
    Graphql(&'a str, &'a serde_json::Value),
}

/// What a conditional GET found.
pub enum Fetched {
    Page(Page),
    /// 304: unchanged since the ETag given (GitHub does not count it against the rate limit).
    NotModified,
    /// 404 where that is an answer.
    Missing,
}

enum Outcome {
    Done(Fetched),
    /// `heavy`: the failure suggests the query is too expensive (502/504, a GraphQL timeout).
    Retry {
        wait: Option<Duration>,
        why: String,
        heavy: bool,
    },
}

/// GitHub's two hourly budgets, kept apart because they are spent apart: GraphQL points (5,000 an
/// hour for a token) and REST requests of the `core` resource (another 5,000). A REST answer's
/// `x-ratelimit-remaining` says nothing about the GraphQL budget, nor the reverse.
#[derive(Debug)]
pub struct Budgets {
    /// GraphQL points left: the body's `rateLimit.remaining`, or the headers of a `graphql` answer.
    pub graphql: AtomicU64,
    /// REST requests left: the headers of a `core` answer.
    pub rest: AtomicU64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets { graphql: AtomicU64::new(u64::MAX), rest: AtomicU64::new(u64::MAX) }
    }
}

impl Budgets {
    /// Reads `x-ratelimit-remaining` into the budget named by `x-ratelimit-resource`; without that
    /// header the budget is the one of the endpoint asked (`graphql` or REST `core`). Other REST
    /// resources (`search`, `code_scanning_upload`, …) have budgets of their own and are not shown.
    fn note_headers(&self, headers: &HeaderMap, graphql: bool) {
        let Some(remaining) = header_u64(headers, "x-ratelimit-remaining") else { return };
        let resource = headers.get("x-ratelimit-resource").and_then(|v| v.to_str().ok());
        let budget = match resource {
            Some("graphql") => &self.graphql,
            Some("core") => &self.rest,
            Some(_) => return,
            None if graphql => &self.graphql,
            None => &self.rest,
        };
        budget.store(remaining, Ordering::Relaxed);
    }

    /// GraphQL points left this hour, once GitHub has said.
    pub fn graphql_left(&self) -> Option<u64> {
        Some(self.graphql.load(Ordering::Relaxed)).filter(|n| *n != u64::MAX)
    }

    /// REST (`core`) requests left this hour, once GitHub has said.
    pub fn rest_left(&self) -> Option<u64> {
        Some(self.rest.load(Ordering::Relaxed)).filter(|n| *n != u64::MAX)
    }
}

/// The largest and smallest GraphQL page sizes; two heavy failures in a row halve the size.
pub const MAX_PAGE: u64 = 100;
const MIN_PAGE: u64 = 10;

impl Client {
    /// Builds the client. `api_url` is the REST root (`https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise); GraphQL is at `/graphql` beside it
    /// (`https://HOST/api/graphql` on Enterprise).
    pub fn new(api_url: &str, token: Option<String>, pacing: Pacing, repo: &str) -> Result<Client> {
        let api_url = api_url.trim_end_matches('/');
        let graphql_base = api_url.strip_suffix("/v3").unwrap_or(api_url);
        let build = |base: &str| -> Result<Octocrab> {
            let mut builder = Octocrab::builder()
                .base_uri(base)
                .map_err(|e| Error::Github {
                    repo: repo.to_string(),
                    message: format!("api_url `{base}` is not a valid URL ({e}); fix `api_url` in the source"),
                })?
                .set_connect_timeout(Some(Duration::from_secs(30)))
                .set_read_timeout(Some(Duration::from_secs(120)));
            if let Some(token) = &token {
                builder = builder.personal_token(token.clone());
            }
            builder.build().map_err(|e| Error::Github {
                repo: repo.to_string(),
                message: format!("cannot build the HTTP client: {e}"),
            })
        };
        Ok(Client {
            rest: build(api_url)?,
            graphql: build(graphql_base)?,
            token,
            pacing,
            repo: repo.to_string(),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            budgets: Budgets::default(),
            points: AtomicU64::new(0),
            page_size: AtomicU64::new(MAX_PAGE),
        })
    }

    /// Requests made so far (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Runs a GraphQL query; GraphQL-level errors are classified like HTTP ones. The query takes
    /// its page size as `$first`: it starts at 100 and is halved (down to 10, for the rest of the
    /// run) when GitHub fails twice in a row in a way that says the query is too heavy.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> Result<Page> {
        match self.request(Method::Graphql(query, &variables), "/graphql", true).await? {
            Fetched::Page(page) => Ok(page),
            Fetched::NotModified | Fetched::Missing => Err(self.error("/graphql: unexpected empty answer".into())),
        }
    }

    /// The GraphQL page size now in use.
    pub fn page_size(&self) -> u64 {
        self.page_size.load(Ordering::Relaxed)
    }

    /// GETs a REST path (relative to the API root, with its query string).
    pub async fn get(&self, path_and_query: &str) -> Result<Page> {
        match self.request(Method::Get { etag: None, missing_ok: false }, path_and_query, false).await? {
            Fetched::Page(page) => Ok(page),
            Fetched::NotModified | Fetched::Missing => {
                Err(self.error(format!("{path_and_query}: unexpected empty answer")))
            }
        }
    }

    /// GETs a REST path conditionally: with the ETag of the last answer, an unchanged resource costs
    /// no rate limit and is reported as [`Fetched::NotModified`]; a 404 is [`Fetched::Missing`].
    pub async fn get_conditional(&self, path_and_query: &str, etag: Option<&str>) -> Result<Fetched> {
        self.request(Method::Get { etag, missing_ok: true }, path_and_query, false).await
    }

    async fn request(&self, method: Method<'_>, path: &str, graphql: bool) -> Result<Fetched> {
        let mut attempt = 0;
        let mut heavy_in_a_row = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.attempt(&method, path, graphql).await?;
            match outcome {
                Outcome::Done(page) => return Ok(page),
                Outcome::Retry { wait, why, heavy } => {
                    heavy_in_a_row = if heavy { heavy_in_a_row + 1 } else { 0 };
                    let size = self.page_size();
                    if graphql && heavy_in_a_row >= 2 && size > MIN_PAGE {
                        self.page_size.store((size / 2).max(MIN_PAGE), Ordering::Relaxed);
                        heavy_in_a_row = 0;
                    }
                    if self.pacing.exhausted(attempt) {
                        return Err(self.error(gave_up(path, attempt, &why)));
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.pacing.wait_after(attempt, wait)).await;
                }
            }
        }
    }

    async fn attempt(&self, method: &Method<'_>, path: &str, graphql: bool) -> Result<Outcome> {
        let client = if graphql { &self.graphql } else { &self.rest };
        let sent = match method {
            Method::Get { etag, .. } => {
                let mut headers = HeaderMap::new();
                if let Some(value) = etag.and_then(|e| http::HeaderValue::from_str(e).ok()) {
                    headers.insert(http::header::IF_NONE_MATCH, value);
                }
                client._get_with_headers(path, Some(headers)).await
            }
            Method::Graphql(query, variables) => {
                let mut variables = (*variables).clone();
                variables["first"] = serde_json::json!(self.page_size());
                let body = serde_json::json!({ "query": query, "variables": variables });
                client._post(path, Some(&body)).await
            }
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return Ok(Outcome::Retry {
                    wait: None,
                    why: self.redact(&format!("connection failed: {e}")),
                    heavy: false,
                });
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match client.body_to_string(response).await {
            Ok(b) => b,
            Err(e) => {
                return Ok(Outcome::Retry {
                    wait: None,
                    why: self.redact(&format!("reading the response failed: {e}")),
                    heavy: false,
                });
            }
        };
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Outcome::Done(Fetched::NotModified));
        }
        if status == StatusCode::NOT_FOUND && matches!(method, Method::Get { missing_ok: true, .. }) {
            return Ok(Outcome::Done(Fetched::Missing));
        }
        if !status.is_success() {
            return self.classify_status(status, &headers, &body, path);
        }
        let json: serde_json::Value = match serde_json::from_str(&body) {
            Ok(j) => j,
            // A body cut short by a dropped connection or a proxy: ask again.
            Err(e) => {
                return Ok(Outcome::Retry {
                    wait: None,
                    why: format!("response is not complete JSON ({e})"),
                    heavy: false,
                });
            }
        };
        self.budgets.note_headers(&headers, graphql);
        if graphql {
            if let Some(remaining) = json.pointer("/data/rateLimit/remaining").and_then(|v| v.as_u64()) {
                self.budgets.graphql.store(remaining, Ordering::Relaxed);
            }
            if let Some(cost) = json.pointer("/data/rateLimit/cost").and_then(|v| v.as_u64()) {
                self.points.fetch_add(cost, Ordering::Relaxed);
            }
            if let Some(errors) = json.get("errors").and_then(|e| e.as_array()).filter(|e| !e.is_empty()) {
                return self.classify_graphql(errors, &headers);
            }
        }
        Ok(Outcome::Done(Fetched::Page(Page { body, json, headers })))
    }

    fn classify_status(&self, status: StatusCode, headers: &HeaderMap, body: &str, path: &str) -> Result<Outcome> {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (headers.contains_key("retry-after")
                    || header_u64(headers, "x-ratelimit-remaining") == Some(0)
                    || lower.contains("rate limit")));
        if rate_limited {
            return Ok(Outcome::Retry {
                wait: Some(self.rate_limit_wait(headers)),
                why: format!("rate limited ({status}): {}", self.redact(&message)),
                heavy: false,
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Ok(Outcome::Retry {
                wait: None,
                why: format!("server error {status}"),
                heavy: matches!(status, StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT),
            });
        }
        let what = match status {
            StatusCode::UNAUTHORIZED => {
                "the token was refused (401 Bad credentials): set GITHUB_TOKEN (or GH_TOKEN) to a valid, unexpired token"
                    .to_string()
            }
            StatusCode::NOT_FOUND => format!(
                "not found (404) at {path}: check `repo` is spelled owner/name and that the token can read it (a private repository the token cannot see also answers 404)"
            ),
            StatusCode::FORBIDDEN => format!(
                "permission denied (403) at {path}: the token lacks access; grant it read access to the repository's contents, pull requests, actions, deployments and issues"
            ),
            other => format!("request to {path} failed with {other}"),
        };
        let detail = if message.is_empty() { String::new() } else { format!(" — GitHub says: {message}") };
        Err(self.error(format!("{what}{detail}")))
    }

    fn classify_graphql(&self, errors: &[serde_json::Value], headers: &HeaderMap) -> Result<Outcome> {
        let first = &errors[0];
        let kind = first.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let message = first.get("message").and_then(|m| m.as_str()).unwrap_or("unknown GraphQL error");
        match kind {
            "RATE_LIMITED" => Ok(Outcome::Retry {
                wait: Some(self.rate_limit_wait(headers)),
                why: "GraphQL rate limit".into(),
                heavy: false,
            }),
            "NOT_FOUND" => {
                Err(self.error(format!("{message}: check `repo` is spelled owner/name and that the token can read it")))
            }
            "FORBIDDEN" | "INSUFFICIENT_SCOPES" => {
                Err(self.error(format!("{message}: the token lacks access; grant it read access to the repository")))
            }
            // GitHub's answer to a query that ran out of time: transient.
            _ if message.contains("Something went wrong") || message.to_ascii_lowercase().contains("timeout") => {
                Ok(Outcome::Retry { wait: None, why: format!("GraphQL: {message}"), heavy: true })
            }
            _ => Err(self.error(format!("GraphQL error: {message}"))),
        }
    }

    /// How long GitHub asks us to wait: `Retry-After` seconds, else until `x-ratelimit-reset`,
    /// else a minute (GitHub's advice for secondary limits), never more than the pacing allows.
    fn rate_limit_wait(&self, headers: &HeaderMap) -> Duration {
        let wait = if let Some(seconds) = header_u64(headers, "retry-after") {
            Duration::from_secs(seconds)
        } else if let Some(reset) = header_u64(headers, "x-ratelimit-reset") {
            let now = Utc::now().timestamp().max(0) as u64;
            Duration::from_secs(reset.saturating_sub(now) + 1)
        } else {
            Duration::from_secs(60)
        };
        wait.min(self.pacing.max_wait)
    }

    fn error(&self, message: String) -> Error {
        Error::Github { repo: self.repo.clone(), message: self.redact(&message) }
    }

    fn redact(&self, text: &str) -> String {
        redact(text, self.token.as_deref())
    }
}

/// Replaces every occurrence of the token with `***`.
pub fn redact(text: &str, token: Option<&str>) -> String {
    retry::redact(text, token)
}

/// Parses an RFC 3339 timestamp from GitHub.
pub fn time(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}
