//! The one place that talks HTTP to Jira: every request goes through [`Client::send`], which
//! retries what is transient (connection failures, 5xx, 429 with `Retry-After`), and turns what is
//! permanent into an [`Error::Jira`] that says what to fix — refused credentials, a missing
//! permission, an unknown project, rejected JQL (with Jira's own `errorMessages`), or the retired
//! Cloud search that now answers 410 Gone.
//!
//! reqwest with rustls (the stack the gitlab crate already brings, so the binary has one). reqwest
//! 0.13 uses the process-wide rustls provider when one is installed and otherwise builds its TLS
//! configuration with aws-lc-rs explicitly, so octocrab's `ring` being compiled in beside it needs no
//! process-level choice. Credentials live only in this client; every message built here is passed
//! through [`Client::redact`] anyway, so a secret echoed by a proxy never reaches output or files.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;

use crate::collect::http::headers::header_u64;
use crate::collect::http::retry::{Pacing, gave_up, redact};
use crate::error::{Error, Result};

/// How the client proves who it is. Never printed, never stored.
#[derive(Clone)]
pub enum Auth {
    /// Jira Cloud: an Atlassian account's e-mail and an API token, as HTTP Basic.
    Basic { email: String, token: String },
    /// Jira Data Center: a personal access token, as a bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { .. } => f.write_str("Auth::Basic(***)"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(***)"),
        }
    }
}

impl Auth {
    /// `JIRA_PAT` (a bearer token), else `JIRA_EMAIL` with `JIRA_TOKEN`; empty values ignored.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Auth> {
        let get = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(pat) = get("JIRA_PAT") {
            return Some(Auth::Bearer(pat));
        }
        Some(Auth::Basic { email: get("JIRA_EMAIL")?, token: get("JIRA_TOKEN")? })
    }

    /// The texts that must never be shown: the token, and the Basic header value built from it.
    fn secrets(&self) -> Vec<String> {
        match self {
            Auth::Basic { email, token } => vec![token.clone(), base64(&format!("{email}:{token}"))],
            Auth::Bearer(token) => vec![token.clone()],
        }
    }
}

/// What a request is for: it decides how a refusal is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ServerInfo,
    Search,
    Changelog,
    RemoteLinks,
}

/// A successful answer: its body as text (already checked to be JSON).
pub struct Page {
    pub body: String,
    pub json: serde_json::Value,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Option<Auth>,
    pacing: Pacing,
    site: String,
    requests: AtomicU64,
    retries: AtomicU64,
}

enum Outcome {
    Done(Page),
    Retry { wait: Option<Duration>, why: String },
}

impl Client {
    /// A client for the site at `base` (`https://SITE.atlassian.net`, or a Data Center base URL).
    pub fn new(base: &str, auth: Option<Auth>, pacing: Pacing, site: &str) -> Result<Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Jira {
                site: site.to_string(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth,
            pacing,
            site: site.to_string(),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    /// Requests made so far (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub async fn get(&self, path: &str, purpose: Purpose) -> Result<Page> {
        self.send(path, None, purpose).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value, purpose: Purpose) -> Result<Page> {
        self.send(path, Some(body), purpose).await
    }

    async fn send(&self, path: &str, body: Option<&serde_json::Value>, purpose: Purpose) -> Result<Page> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.attempt(path, body, purpose).await? {
                Outcome::Done(page) => return Ok(page),
                Outcome::Retry { wait, why } => {
                    if self.pacing.exhausted(attempt) {
                        return Err(self.error(gave_up(path, attempt, &why)));
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.pacing.wait_after(attempt, wait)).await;
                }
            }
        }
    }

    async fn attempt(&self, path: &str, body: Option<&serde_json::Value>, purpose: Purpose) -> Result<Outcome> {
        let url = format!("{}{path}", self.base);
        let mut request = match body {
            Some(body) => self.http.post(&url).json(body),
            None => self.http.get(&url),
        };
        request = request.header(http::header::ACCEPT, "application/json");
        request = match &self.auth {
            Some(Auth::Basic { email, token }) => request.basic_auth(email, Some(token)),
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            None => request,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::Retry { wait: None, why: self.redact(&format!("connection failed: {e}")) }),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => {
                return Ok(Outcome::Retry {
                    wait: None,
                    why: self.redact(&format!("reading the response failed: {e}")),
                });
            }
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            // Jira's burst limit: 429 with `Retry-After` seconds (and 503 when overloaded).
            let wait = header_u64(&headers, "retry-after").map(Duration::from_secs);
            return Ok(Outcome::Retry { wait, why: format!("rate limited ({status})") });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Ok(Outcome::Retry { wait: None, why: format!("server error {status}") });
        }
        if !status.is_success() {
            return Err(self.refusal(status, &text, path, purpose));
        }
        match serde_json::from_str(&text) {
            Ok(json) => Ok(Outcome::Done(Page { body: text, json })),
            // A body cut short by a dropped connection or a proxy: ask again.
            Err(e) => Ok(Outcome::Retry { wait: None, why: format!("response is not complete JSON ({e})") }),
        }
    }

    /// A permanent failure, named for what the user must do.
    fn refusal(&self, status: StatusCode, body: &str, path: &str, purpose: Purpose) -> Error {
        let says = jira_messages(body);
        let detail = if says.is_empty() { String::new() } else { format!(" — Jira says: {says}") };
        let lower = says.to_ascii_lowercase();
        let what = match status {
            StatusCode::UNAUTHORIZED => "the credentials were refused (401): set JIRA_EMAIL and JIRA_TOKEN to an Atlassian account's e-mail and a valid API token (Jira Cloud), or JIRA_PAT to a personal access token (Data Center)".to_string(),
            StatusCode::FORBIDDEN => format!(
                "permission denied (403) at {path}: the account lacks a permission; it needs Browse projects on the incident projects"
            ),
            StatusCode::GONE => format!(
                "{path} answered 410 Gone: Atlassian retired the old search on Jira Cloud (use /rest/api/3/search/jql); this site is Jira Cloud, so set `flavour = \"cloud\"` or leave `flavour` out"
            ),
            StatusCode::BAD_REQUEST
                if purpose == Purpose::Search
                    && (lower.contains("does not exist for the field 'project'")
                        || lower.contains("does not exist for field 'project'")) =>
            {
                "unknown project: a project in `projects` (or the JQL) does not exist or the account cannot see it; check the project keys".to_string()
            }
            StatusCode::BAD_REQUEST if purpose == Purpose::Search => {
                "JQL rejected (400): fix `jql` (or `projects` and `labels`, from which it is built)".to_string()
            }
            StatusCode::NOT_FOUND if purpose == Purpose::RemoteLinks => {
                format!("not found (404) at {path}: the incident was deleted or moved while it was read; run again")
            }
            StatusCode::NOT_FOUND => format!(
                "not found (404) at {path}: check `api_url` is the site root (https://SITE.atlassian.net, or the Data Center base URL)"
            ),
            other => format!("request to {path} failed with {other}"),
        };
        self.error(format!("{what}{detail}"))
    }

    fn error(&self, message: String) -> Error {
        Error::Jira { site: self.site.clone(), message: self.redact(&message) }
    }

    /// Replaces every secret with `***`.
    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<String> = self.auth.iter().flat_map(Auth::secrets).collect();
        redact(text, secrets.iter().map(String::as_str))
    }
}

/// Jira's `errorMessages` and `errors` of an error body, joined; else the body's first 200 characters.
fn jira_messages(body: &str) -> String {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.chars().filter(|c| !c.is_control()).take(200).collect();
    };
    let mut out: Vec<String> = json["errorMessages"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(errors) = json["errors"].as_object() {
        out.extend(errors.iter().map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or(""))));
    }
    if let Some(message) = json["message"].as_str() {
        out.push(message.to_string());
    }
    out.join("; ")
}

/// Standard base64, for recognising a Basic credential echoed back.
fn base64(text: &str) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64("a@b.c:tok"), "YUBiLmM6dG9r");
        assert_eq!(base64("ab"), "YWI=");
        assert_eq!(base64("a"), "YQ==");
    }

    #[test]
    fn jira_error_bodies_become_one_line() {
        let body = r#"{"errorMessages":["Error in the JQL Query: Expecting operator"],"errors":{"jql":"bad"}}"#;
        assert_eq!(jira_messages(body), "Error in the JQL Query: Expecting operator; jql: bad");
        assert_eq!(jira_messages("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn credentials_come_from_the_environment_pat_first() {
        let env = |k: &str| match k {
            "JIRA_EMAIL" => Some("a@b.c".to_string()),
            "JIRA_TOKEN" => Some("tok".to_string()),
            _ => None,
        };
        assert!(matches!(Auth::from_env(&env), Some(Auth::Basic { .. })));
        let env = |k: &str| (k == "JIRA_PAT").then(|| "pat".to_string());
        assert!(matches!(Auth::from_env(&env), Some(Auth::Bearer(_))));
        assert!(Auth::from_env(&|_| None).is_none());
        assert_eq!(format!("{:?}", Auth::Bearer("secret".into())), "Auth::Bearer(***)");
    }
}
