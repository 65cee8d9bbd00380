//! The one place that talks HTTP to GitLab: every request goes through [`Client`], which retries
//! what is transient, waits out rate limits and turns what is permanent into an [`Error::Gitlab`]
//! that says what to fix.
//!
//! Requests are sent by the `gitlab` crate's [`AsyncGitlab`] (its `rest_async`), so the instance
//! URL, authentication (`PRIVATE-TOKEN`, or `JOB-TOKEN` inside GitLab CI) and TLS are the crate's.
//! The crate has no response models, no 429 handling and no page-at-a-time paging with the
//! headers kept, so status codes, `RateLimit-*` headers, `Link` headers and raw bodies are read
//! here. Listings are described as [`gitlab::api::Endpoint`]s ([`Listing`]), followed page by page
//! through `Link: rel="next"` ([`Client::next_page`]); GraphQL queries are posted to
//! `/api/graphql` with serde_json rather than generated types ([`Client::graphql`]).
//!
//! Using the API from another module:
//!
//! ```text
//! let client = Client::connect(&api_url, Credentials::from_env(&env), pacing, "acme/shop").await?;
//! // A REST listing: the first page from an endpoint, the next ones from the Link header.
//! let mut page = client.get(&Listing::project(&project, "pipelines").param("per_page", "100")).await?;
//! loop {
//!     raw.write(&dir, &page.body)?;             // the raw layer keeps the body before extraction
//!     let Some(next) = client.next_page(&page) else { break };
//!     page = client.get_url(&next).await?;
//! }
//! // A GraphQL query: `$first` is set by the client (halved when GitLab finds the query too complex).
//! let page = client.graphql(QUERY, json!({ "fullPath": "acme/shop", "after": null })).await?;
//! ```
//!
//! The token lives only inside the crate's client; every message built here is passed through
//! [`redact`] anyway, so a token echoed by a proxy or a server cannot reach output or the workspace.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gitlab::api::{self, AsyncClient, Endpoint, QueryParams, RestClient};
use gitlab::{AsyncGitlab, GitlabBuilder};
use http::{HeaderMap, Method, StatusCode};

use crate::collect::http::headers::header_u64;
use crate::collect::http::retry::{self, Pacing, gave_up};
use crate::error::{Error, Result};

/// gitlab.com, the instance used when a source names no `api_url`.
pub const DEFAULT_API_URL: &str = "https://gitlab.com";

/// How the client proves who it is; the secret is never printed, logged or stored.
#[derive(Clone)]
pub enum Credentials {
    /// A personal, project or group access token (`PRIVATE-TOKEN` header), from `GITLAB_TOKEN`.
    Token(String),
    /// A CI job token (`JOB-TOKEN` header), from `CI_JOB_TOKEN` inside a GitLab CI job.
    JobToken(String),
    /// No token: public projects only.
    None,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Token(_) => "Token(***)",
            Credentials::JobToken(_) => "JobToken(***)",
            Credentials::None => "None",
        })
    }
}

impl Credentials {
    /// `GITLAB_TOKEN`, else `CI_JOB_TOKEN` (empty values ignored), else none.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Credentials {
        let read = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        match (read("GITLAB_TOKEN"), read("CI_JOB_TOKEN")) {
            (Some(token), _) => Credentials::Token(token),
            (None, Some(token)) => Credentials::JobToken(token),
            (None, None) => Credentials::None,
        }
    }

    pub fn secret(&self) -> Option<&str> {
        match self {
            Credentials::Token(t) | Credentials::JobToken(t) => Some(t),
            Credentials::None => None,
        }
    }

    /// What to fix when GitLab refuses these credentials.
    fn refused(&self) -> &'static str {
        match self {
            Credentials::Token(_) => {
                "the token was refused (401 Unauthorized): set GITLAB_TOKEN to a valid, unexpired personal, project or group access token with the read_api scope"
            }
            Credentials::JobToken(_) => {
                "the CI job token was refused (401 Unauthorized): CI_JOB_TOKEN is valid only while its job runs, and the project must allow this job's project in its job token allowlist; or set GITLAB_TOKEN"
            }
            Credentials::None => {
                "GitLab asks for authentication (401 Unauthorized): set GITLAB_TOKEN to an access token with the read_api scope"
            }
        }
    }
}

/// A REST listing or single resource under `/api/v4/`, described as the `gitlab` crate's
/// [`Endpoint`]: its path and query parameters. The crate builds the URL from it.
#[derive(Debug, Clone)]
pub struct Listing {
    path: String,
    params: Vec<(String, String)>,
}

impl Listing {
    /// A path relative to `/api/v4/`, e.g. `projects/acme%2Fshop/pipelines`.
    pub fn new(path: impl Into<String>) -> Listing {
        Listing { path: path.into(), params: Vec::new() }
    }

    /// A resource of a project, by path (`group/sub/name`) or numeric id: `projects/:id/<resource>`.
    pub fn project(project: &str, resource: &str) -> Listing {
        Listing::new(format!("projects/{}/{}", project_id(project), resource.trim_start_matches('/')))
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Listing {
        self.params.push((key.to_string(), value.into()));
        self
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Endpoint for Listing {
    fn method(&self) -> Method {
        Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        Cow::Owned(self.path.clone())
    }

    fn parameters(&self) -> QueryParams<'_> {
        let mut params = QueryParams::default();
        for (key, value) in &self.params {
            params.push(key.as_str(), value.as_str());
        }
        params
    }
}

/// A project as the REST API names it in a path: the numeric id, or the full path URL-encoded
/// (`group/sub/name` → `group%2Fsub%2Fname`).
pub fn project_id(project: &str) -> String {
    let mut out = String::new();
    for byte in project.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A successful response: its body as text (already checked to be JSON) and its headers.
#[derive(Debug, Clone)]
pub struct Page {
    pub body: String,
    pub json: serde_json::Value,
    pub headers: HeaderMap,
}

impl Page {
    /// GitLab's `X-Total` (absent past 10,000 records, and on keyset pages).
    pub fn total(&self) -> Option<u64> {
        header_u64(&self.headers, "x-total")
    }
}

/// The budget GitLab reports on every answer (`RateLimit-Remaining`, `RateLimit-Reset`).
#[derive(Debug)]
pub struct Budget {
    remaining: AtomicU64,
    reset: AtomicU64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { remaining: AtomicU64::new(u64::MAX), reset: AtomicU64::new(0) }
    }
}

impl Budget {
    fn note(&self, headers: &HeaderMap) {
        if let Some(remaining) = header_u64(headers, "ratelimit-remaining") {
            self.remaining.store(remaining, Ordering::Relaxed);
        }
        if let Some(reset) = header_u64(headers, "ratelimit-reset") {
            self.reset.store(reset, Ordering::Relaxed);
        }
    }

    /// Requests left in GitLab's current rate-limit window, once GitLab has said.
    pub fn left(&self) -> Option<u64> {
        Some(self.remaining.load(Ordering::Relaxed)).filter(|n| *n != u64::MAX)
    }

    /// When the budget is spent, how long until GitLab refills it.
    fn wait_before_next(&self) -> Option<Duration> {
        if self.left() != Some(0) {
            return None;
        }
        let reset = self.reset.load(Ordering::Relaxed);
        let now = Utc::now().timestamp().max(0) as u64;
        Some(Duration::from_secs(reset.saturating_sub(now) + 1))
    }
}

/// The largest and smallest number of merge requests (nodes) asked per GraphQL page.
pub const MAX_GRAPHQL_PAGE: u64 = 50;
const MIN_GRAPHQL_PAGE: u64 = 5;

/// A client for one GitLab instance, reading one project (named in its messages).
pub struct Client {
    gitlab: AsyncGitlab,
    credentials: Credentials,
    pacing: Pacing,
    project: String,
    requests: AtomicU64,
    retries: AtomicU64,
    pub budget: Budget,
    graphql_page: AtomicU64,
}

enum Request<'a> {
    Get { url: &'a str, missing_ok: bool },
    Graphql { url: &'a str, query: &'a str, variables: &'a serde_json::Value },
}

enum Outcome {
    Done(Option<Page>),
    Retry {
        wait: Option<Duration>,
        why: String,
    },
    /// GitLab found the GraphQL query too complex (or too slow) for the page size asked.
    Smaller {
        why: String,
    },
}

impl Client {
    /// Connects to the instance at `api_url` (`https://gitlab.com`, `https://HOST` or
    /// `https://HOST/PREFIX` for an instance under a relative URL root; `http://` only for local
    /// servers). The crate checks the credentials on connecting (`/user`, or `/job` for a job
    /// token); that check is retried like any request, and a refusal says what to fix.
    pub async fn connect(api_url: &str, credentials: Credentials, pacing: Pacing, project: &str) -> Result<Client> {
        let trimmed = api_url.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/api/v4").unwrap_or(trimmed);
        let (insecure, host) = match (trimmed.strip_prefix("https://"), trimmed.strip_prefix("http://")) {
            (Some(host), _) => (false, host),
            (None, Some(host)) => (true, host),
            _ => {
                return Err(Error::Gitlab {
                    project: project.to_string(),
                    message: format!("api_url `{api_url}` is not an http(s) URL; fix `api_url` in the source"),
                });
            }
        };
        let mut builder = match &credentials {
            Credentials::Token(t) => GitlabBuilder::new(host, t.clone()),
            Credentials::JobToken(t) => GitlabBuilder::new_with_job_token(host, t.clone()),
            Credentials::None => GitlabBuilder::new_unauthenticated(host),
        };
        builder.user_agent(concat!("flowgauge/", env!("CARGO_PKG_VERSION")));
        if insecure {
            builder.insecure();
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let why = match builder.build_async().await {
                Ok(gitlab) => {
                    return Ok(Client {
                        gitlab,
                        credentials,
                        pacing,
                        project: project.to_string(),
                        requests: AtomicU64::new(attempt as u64),
                        retries: AtomicU64::new(attempt as u64 - 1),
                        budget: Budget::default(),
                        graphql_page: AtomicU64::new(MAX_GRAPHQL_PAGE),
                    });
                }
                Err(e) => e,
            };
            let (transient, wait) = connect_failure(&why);
            let message = redact(&why.to_string(), credentials.secret());
            let status = connect_status(&why);
            if !transient || pacing.exhausted(attempt) {
                let what = match status {
                    Some(StatusCode::UNAUTHORIZED) => credentials.refused().to_string(),
                    Some(StatusCode::FORBIDDEN) => forbidden_message("the credentials check (/user)", &message),
                    _ if transient => format!(
                        "cannot reach GitLab at {api_url}: gave up after {attempt} attempts, last: {message}; try again later"
                    ),
                    _ => format!("cannot connect to GitLab at {api_url}: {message}; check `api_url`"),
                };
                return Err(Error::Gitlab {
                    project: project.to_string(),
                    message: redact(&what, credentials.secret()),
                });
            }
            tokio::time::sleep(pacing.wait_after(attempt, wait)).await;
        }
    }

    /// Requests made so far (every attempt counts, the credentials check included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The number of nodes asked per GraphQL page now (`$first`).
    pub fn graphql_page(&self) -> u64 {
        self.graphql_page.load(Ordering::Relaxed)
    }

    /// The absolute URL of a REST endpoint (path and query built by the crate).
    pub fn url_of(&self, endpoint: &impl Endpoint) -> Result<String> {
        let mut url = self.gitlab.rest_endpoint(&endpoint.endpoint()).map_err(|e| self.error(e.to_string()))?;
        endpoint.parameters().add_to_url(&mut url);
        Ok(url.to_string())
    }

    /// GETs a REST endpoint; a 404 is an error naming the project.
    pub async fn get(&self, endpoint: &impl Endpoint) -> Result<Page> {
        let url = self.url_of(endpoint)?;
        self.get_url(&url).await
    }

    /// GETs a REST endpoint; a 404 means "there is none" (`None`).
    pub async fn get_optional(&self, endpoint: &impl Endpoint) -> Result<Option<Page>> {
        let url = self.url_of(endpoint)?;
        self.request(Request::Get { url: &url, missing_ok: true }).await
    }

    /// GETs an absolute URL (a `Link: rel="next"` target).
    pub async fn get_url(&self, url: &str) -> Result<Page> {
        match self.request(Request::Get { url, missing_ok: false }).await? {
            Some(page) => Ok(page),
            None => Err(self.error(format!("{}: unexpected empty answer", strip_origin(url)))),
        }
    }

    /// The next page of a REST listing (`Link: <…>; rel="next"`), as an absolute URL. GitLab
    /// sends it on offset and keyset pages alike, also past 10,000 records where `X-Total-Pages`
    /// and `rel="last"` are left out.
    pub fn next_page(&self, page: &Page) -> Option<String> {
        let link = page.headers.get("link")?.to_str().ok()?;
        link.split(',').find_map(|part| {
            let (url, rel) = part.split_once(';')?;
            rel.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        })
    }

    /// Runs a GraphQL query (POST `/api/graphql`). The variables get `$first`, the page size: 50
    /// nodes, halved (down to 5, for the rest of the run) when GitLab says the query is too
    /// complex or timed out. GraphQL-level errors are classified like HTTP ones.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> Result<Page> {
        let url = self.gitlab.instance_endpoint("api/graphql").map_err(|e| self.error(e.to_string()))?.to_string();
        match self.request(Request::Graphql { url: &url, query, variables: &variables }).await? {
            Some(page) => Ok(page),
            None => Err(self.error("/api/graphql: unexpected empty answer".into())),
        }
    }

    async fn request(&self, request: Request<'_>) -> Result<Option<Page>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(wait) = self.budget.wait_before_next() {
                // GitLab said the window's budget is spent: wait for the refill rather than be refused.
                tokio::time::sleep(wait.min(self.pacing.max_wait)).await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let (wait, why) = match self.attempt(&request).await? {
                Outcome::Done(page) => return Ok(page),
                Outcome::Retry { wait, why } => (wait, why),
                Outcome::Smaller { why } => {
                    let size = self.graphql_page();
                    if size <= MIN_GRAPHQL_PAGE {
                        return Err(self.error(format!(
                            "GitLab refuses even {size} merge requests per GraphQL page: {why}; try again later"
                        )));
                    }
                    self.graphql_page.store((size / 2).max(MIN_GRAPHQL_PAGE), Ordering::Relaxed);
                    (Some(Duration::ZERO), why)
                }
            };
            if self.pacing.exhausted(attempt) {
                let what = match &request {
                    Request::Get { url, .. } => strip_origin(url),
                    Request::Graphql { .. } => "/api/graphql".to_string(),
                };
                return Err(self.error(gave_up(&what, attempt, &why)));
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.pacing.wait_after(attempt, wait)).await;
        }
    }

    async fn attempt(&self, request: &Request<'_>) -> Result<Outcome> {
        let (builder, body, url) = match request {
            Request::Get { url, .. } => (http::Request::builder().method(Method::GET).uri(*url), Vec::new(), *url),
            Request::Graphql { url, query, variables } => {
                let mut variables = (*variables).clone();
                variables["first"] = serde_json::json!(self.graphql_page());
                let body = serde_json::json!({ "query": query, "variables": variables }).to_string().into_bytes();
                let builder = http::Request::builder()
                    .method(Method::POST)
                    .uri(*url)
                    .header(http::header::CONTENT_TYPE, "application/json");
                (builder, body, *url)
            }
        };
        let response = match self.gitlab.rest_async(builder, body).await {
            Ok(r) => r,
            // A refused or reset connection, a body cut off mid-transfer: ask again.
            Err(e) => {
                return Ok(Outcome::Retry { wait: None, why: self.redact(&format!("connection failed: {e}")) });
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.budget.note(&headers);
        let body = String::from_utf8_lossy(response.body()).into_owned();
        let path = strip_origin(url);
        if status == StatusCode::NOT_FOUND && matches!(request, Request::Get { missing_ok: true, .. }) {
            return Ok(Outcome::Done(None));
        }
        if !status.is_success() {
            return self.classify_status(status, &headers, &body, &path);
        }
        let json: serde_json::Value = match serde_json::from_str(&body) {
            Ok(j) => j,
            // A body cut short by a dropped connection or a proxy: ask again.
            Err(e) => return Ok(Outcome::Retry { wait: None, why: format!("response is not complete JSON ({e})") }),
        };
        if matches!(request, Request::Graphql { .. })
            && let Some(errors) = json.get("errors").and_then(|e| e.as_array()).filter(|e| !e.is_empty())
        {
            return self.classify_graphql(errors);
        }
        Ok(Outcome::Done(Some(Page { body, json, headers })))
    }

    fn classify_status(&self, status: StatusCode, headers: &HeaderMap, body: &str, path: &str) -> Result<Outcome> {
        // GitLab's errors are JSON (`message` or `error`), except a 429's plain-text `Retry later`.
        let json = serde_json::from_str::<serde_json::Value>(body).ok();
        let field = |name: &str| {
            json.as_ref().and_then(|j| j.get(name)).map(|m| match m.as_str() {
                Some(s) => s.to_string(),
                None => m.to_string(),
            })
        };
        let message = field("message").or_else(|| field("error")).unwrap_or_default();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(Outcome::Retry {
                wait: self.rate_limit_wait(headers),
                why: format!("rate limited (429): {}", self.redact(body.trim()).chars().take(200).collect::<String>()),
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Ok(Outcome::Retry { wait: None, why: format!("server error {status}") });
        }
        let what = match status {
            StatusCode::UNAUTHORIZED => self.credentials.refused().to_string(),
            StatusCode::NOT_FOUND => format!(
                "not found (404) at {path}: check the project path (`group/subgroup/name`, or its numeric id) and that the token can read it (a private project the token cannot see also answers 404)"
            ),
            StatusCode::FORBIDDEN => forbidden_message(path, &message),
            other => format!("request to {path} failed with {other}"),
        };
        let detail = if message.is_empty() { String::new() } else { format!(" — GitLab says: {message}") };
        Err(self.error(format!("{what}{detail}")))
    }

    fn classify_graphql(&self, errors: &[serde_json::Value]) -> Result<Outcome> {
        let message = errors[0].get("message").and_then(|m| m.as_str()).unwrap_or("unknown GraphQL error").to_string();
        let lower = message.to_ascii_lowercase();
        if lower.contains("complexity") || lower.contains("timeout") || lower.contains("timed out") {
            return Ok(Outcome::Smaller { why: format!("GraphQL: {message}") });
        }
        if lower.contains("internal server error") || lower.contains("try again") {
            return Ok(Outcome::Retry { wait: None, why: format!("GraphQL: {message}") });
        }
        if lower.contains("insufficient_scope") || lower.contains("scope") {
            return Err(self.error(forbidden_message("/api/graphql", &message)));
        }
        Err(self.error(format!("GraphQL error: {message}")))
    }

    /// How long GitLab asks us to wait after a 429: `Retry-After` seconds, else until
    /// `RateLimit-Reset`; `None` (the growing backoff) when the answer says neither.
    fn rate_limit_wait(&self, headers: &HeaderMap) -> Option<Duration> {
        let wait = if let Some(seconds) = header_u64(headers, "retry-after") {
            Duration::from_secs(seconds)
        } else if let Some(reset) = header_u64(headers, "ratelimit-reset") {
            let now = Utc::now().timestamp().max(0) as u64;
            Duration::from_secs(reset.saturating_sub(now) + 1)
        } else {
            return None;
        };
        Some(wait.min(self.pacing.max_wait))
    }

    /// An error about this client's project, with any secret removed.
    pub fn error(&self, message: String) -> Error {
        Error::Gitlab { project: self.project.clone(), message: self.redact(&message) }
    }

    fn redact(&self, text: &str) -> String {
        redact(text, self.credentials.secret())
    }
}

/// What to fix for a 403: a token without the `read_api` scope, or a user without access.
fn forbidden_message(path: &str, message: &str) -> String {
    if message.contains("insufficient_scope") || message.to_ascii_lowercase().contains("scope") {
        format!(
            "the token lacks a scope (403 insufficient_scope) at {path}: create a token with the read_api scope (read_repository alone is not enough) and set GITLAB_TOKEN"
        )
    } else {
        format!(
            "permission denied (403) at {path}: the token's user needs at least the Reporter role on the project (deployments, pipelines and approvals are hidden from Guests)"
        )
    }
}

/// Whether a failure of the crate's credentials check is worth another try, and how long GitLab
/// asked to wait.
fn connect_failure(error: &gitlab::GitlabError) -> (bool, Option<Duration>) {
    let gitlab::GitlabError::Api { source } = error else {
        return (false, None);
    };
    match source {
        api::ApiError::Client { .. } | api::ApiError::Json { .. } | api::ApiError::DataType { .. } => (true, None),
        api::ApiError::GitlabRateLimited { retry_after, .. } => (true, Some(*retry_after)),
        _ => match connect_status(error) {
            Some(s) => (s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS, None),
            None => (false, None),
        },
    }
}

/// The HTTP status of a failed credentials check, when GitLab answered one.
fn connect_status(error: &gitlab::GitlabError) -> Option<StatusCode> {
    let gitlab::GitlabError::Api { source } = error else {
        return None;
    };
    match source {
        api::ApiError::GitlabService { status, .. }
        | api::ApiError::GitlabWithStatus { status, .. }
        | api::ApiError::GitlabObjectWithStatus { status, .. }
        | api::ApiError::GitlabUnrecognizedWithStatus { status, .. } => Some(*status),
        api::ApiError::GitlabRateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
        _ => None,
    }
}

/// A URL without scheme and host, for messages (`/api/v4/projects/…`).
fn strip_origin(url: &str) -> String {
    match url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string())) {
        Some(path) => path,
        None => url.to_string(),
    }
}

/// Replaces every occurrence of the token with `***`.
pub fn redact(text: &str, token: Option<&str>) -> String {
    retry::redact(text, token)
}

/// Parses an ISO 8601 timestamp from GitLab (`2025-03-01T09:00:00.000Z`, or with an offset).
pub fn time(value: &serde_json::Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_are_encoded_as_one_path_segment() {
        assert_eq!(project_id("acme/platform/shop"), "acme%2Fplatform%2Fshop");
        assert_eq!(project_id("4711"), "4711");
        assert_eq!(project_id("a.b-c_d"), "a.b-c_d");
    }

    #[test]
    fn a_job_token_is_used_only_without_a_personal_token() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert!(matches!(Credentials::from_env(&env(&[("CI_JOB_TOKEN", "job")])), Credentials::JobToken(_)));
        assert!(matches!(
            Credentials::from_env(&env(&[("CI_JOB_TOKEN", "job"), ("GITLAB_TOKEN", "glpat")])),
            Credentials::Token(_)
        ));
        assert!(matches!(Credentials::from_env(&env(&[("GITLAB_TOKEN", " ")])), Credentials::None));
        assert_eq!(format!("{:?}", Credentials::Token("glpat-secret".into())), "Token(***)");
    }

    #[test]
    fn a_spent_budget_waits_for_its_reset() {
        let budget = Budget::default();
        assert_eq!(budget.left(), None, "not said yet");
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-remaining", "3".parse().unwrap());
        headers.insert("ratelimit-reset", (Utc::now().timestamp() + 30).to_string().parse().unwrap());
        budget.note(&headers);
        assert_eq!((budget.left(), budget.wait_before_next()), (Some(3), None));
        headers.insert("ratelimit-remaining", "0".parse().unwrap());
        budget.note(&headers);
        let wait = budget.wait_before_next().expect("spent");
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(31), "{wait:?}");
    }

    #[test]
    fn messages_lose_their_origin() {
        assert_eq!(strip_origin("http://127.0.0.1:80/api/v4/projects/1?page=2"), "/api/v4/projects/1?page=2");
    }
}
