//! What a Jira incident's text names as its cause, and whether a link is its post-incident review.
//!
//! Jira keeps no structured link from an incident to a pull request or a deployment that flowgauge
//! can read on every plan (the development panel is an internal API). People paste them: a pull
//! request or merge request URL, `owner/name#12`, `group/project!12`, `!12`, a commit URL or sha.
//! They also link a postmortem issue or document. Pure functions over text; every accepted form is
//! listed in the tests below.

/// The first reference of each kind found in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    /// A change id as the forge sources write it: `github:pr:OWNER/NAME#N`, `gitlab:mr:PATH!N`.
    pub change: Option<String>,
    /// A commit, full or abbreviated (7–40 hex digits).
    pub sha: Option<String>,
    /// A GitHub deployment by its API URL: `github:deployment:OWNER/NAME:N`.
    pub deployment: Option<String>,
}

impl Cause {
    /// Fills what is still empty from `other`.
    pub fn or(mut self, other: Cause) -> Cause {
        self.change = self.change.or(other.change);
        self.sha = self.sha.or(other.sha);
        self.deployment = self.deployment.or(other.deployment);
        self
    }
}

/// The id the GitHub source gives a pull request (one definition: the forge's own extractor).
pub fn github_change_id(repo: &str, number: u64) -> String {
    crate::collect::github::extract::change_id(repo, number as i64)
}

/// The id the GitLab source gives a merge request (one definition: the forge's own extractor).
pub fn gitlab_change_id(project: &str, iid: u64) -> String {
    crate::collect::gitlab::extract::change_id(project, &iid.to_string())
}

/// Reads the references in `text`. `only_repo` is the repository a bare `!12` refers to (the
/// incident's service has exactly one); without it a bare `!12` names nothing.
pub fn cause(text: &str, only_repo: Option<&str>) -> Cause {
    let mut cause = Cause::default();
    let separators = |c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'' | '|');
    for raw in text.split(separators) {
        let word = raw.trim_end_matches(['.', ',', ';', ':', '?']);
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            url_reference(word, &mut cause);
            continue;
        }
        if cause.change.is_none()
            && let Some(change) = text_change(word, only_repo)
        {
            cause.change = Some(change);
            continue;
        }
        if cause.sha.is_none() && looks_like_sha(&lower) {
            cause.sha = Some(lower);
        }
    }
    cause
}

/// `owner/name#N` (GitHub), `group/project!N` or `!N` (GitLab).
fn text_change(word: &str, only_repo: Option<&str>) -> Option<String> {
    let word = word.trim_end_matches('!');
    if let Some((repo, number)) = word.split_once('#') {
        return (is_repo_path(repo) && repo.contains('/'))
            .then(|| number.parse::<u64>().ok().filter(|n| *n > 0).map(|n| github_change_id(repo, n)))
            .flatten();
    }
    let (project, number) = word.split_once('!')?;
    let number = number.parse::<u64>().ok().filter(|n| *n > 0)?;
    match project {
        "" => only_repo.map(|repo| gitlab_change_id(repo, number)),
        p if is_repo_path(p) && p.contains('/') => Some(gitlab_change_id(p, number)),
        _ => None,
    }
}

fn is_repo_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with('/')
        && path.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// A pull request, merge request, commit or deployment URL (any host: github.com, GitHub
/// Enterprise, gitlab.com or a self-managed GitLab).
fn url_reference(url: &str, cause: &mut Cause) {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else { return };
    let Some((_host, path)) = rest.split_once('/') else { return };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let number = |s: &str| s.parse::<u64>().ok().filter(|n| *n > 0);
    // GitLab: PATH/-/merge_requests/N and PATH/-/commit/SHA.
    if let Some(dash) = parts.iter().position(|p| *p == "-") {
        let project = parts[..dash].join("/");
        match (parts.get(dash + 1), parts.get(dash + 2)) {
            (Some(&"merge_requests"), Some(n)) if cause.change.is_none() && !project.is_empty() => {
                cause.change = number(n).map(|n| gitlab_change_id(&project, n));
            }
            (Some(&"commit"), Some(sha)) if cause.sha.is_none() && looks_like_sha(&sha.to_ascii_lowercase()) => {
                cause.sha = Some(sha.to_ascii_lowercase());
            }
            _ => {}
        }
        return;
    }
    // GitHub API: repos/OWNER/NAME/deployments/N (and api/v3/repos/… on Enterprise).
    if let Some(at) = parts.iter().position(|p| *p == "repos")
        && let (Some(owner), Some(name), Some(&"deployments"), Some(n)) =
            (parts.get(at + 1), parts.get(at + 2), parts.get(at + 3), parts.get(at + 4))
    {
        if cause.deployment.is_none() {
            cause.deployment = number(n).map(|n| format!("github:deployment:{owner}/{name}:{n}"));
        }
        return;
    }
    // GitHub: OWNER/NAME/pull/N and OWNER/NAME/commit/SHA.
    if let (Some(owner), Some(name), Some(kind), Some(id)) = (parts.first(), parts.get(1), parts.get(2), parts.get(3)) {
        let repo = format!("{owner}/{name}");
        match *kind {
            "pull" if cause.change.is_none() => cause.change = number(id).map(|n| github_change_id(&repo, n)),
            "commit" if cause.sha.is_none() && looks_like_sha(&id.to_ascii_lowercase()) => {
                cause.sha = Some(id.to_ascii_lowercase());
            }
            _ => {}
        }
    }
}

/// 7–40 lowercase hex digits with at least one letter and one digit: a sha, not a number or a word.
fn looks_like_sha(word: &str) -> bool {
    (7..=40).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| (b'a'..=b'f').contains(&b))
}

/// Whether an issue type, a summary, a link title or a URL names a post-incident review.
pub fn is_review(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["post-incident review", "post incident review", "postmortem", "post-mortem", "post mortem", "incident review"]
        .iter()
        .any(|w| lower.contains(w))
        || lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "pir")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_and_merge_request_urls_and_short_forms_name_changes() {
        let c = cause("Broken by https://github.com/acme/ledger/pull/41/files", None);
        assert_eq!(c.change.as_deref(), Some("github:pr:acme/ledger#41"));
        let c = cause("see [the MR|https://gitlab.example.com/acme/pay/api/-/merge_requests/7]", None);
        assert_eq!(c.change.as_deref(), Some("gitlab:mr:acme/pay/api!7"));
        assert_eq!(cause("after acme/ledger#12 shipped", None).change.as_deref(), Some("github:pr:acme/ledger#12"));
        assert_eq!(cause("after acme/pay!3.", None).change.as_deref(), Some("gitlab:mr:acme/pay!3"));
        assert_eq!(cause("reverted !12", Some("acme/pay")).change.as_deref(), Some("gitlab:mr:acme/pay!12"));
        assert_eq!(cause("reverted !12", None).change, None, "a bare !12 needs the service's one repository");
        assert_eq!(cause("Wow!12 times", Some("acme/pay")).change, None);
    }

    #[test]
    fn commits_and_deployments_are_read_from_urls_and_words() {
        let c = cause("Regression in 3f2a9c1; rolled back", None);
        assert_eq!(c.sha.as_deref(), Some("3f2a9c1"));
        let c = cause("https://github.com/acme/ledger/commit/0123456789ABCDEF0123456789abcdef01234567", None);
        assert_eq!(c.sha.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
        let c = cause("https://gitlab.com/acme/pay/-/commit/abc1234", None);
        assert_eq!(c.sha.as_deref(), Some("abc1234"));
        let c = cause("https://api.github.com/repos/acme/ledger/deployments/20250121 failed", None);
        assert_eq!(c.deployment.as_deref(), Some("github:deployment:acme/ledger:20250121"));
    }

    #[test]
    fn words_that_only_look_like_references_are_ignored() {
        let c = cause(
            "INC-1234 at 12:00, error 1234567, deadbeef? C# and #5 https://github.com/acme/ledger/issues/3",
            None,
        );
        assert_eq!(c, Cause::default());
    }

    #[test]
    fn reviews_are_recognised_by_their_names() {
        for yes in ["Post-incident review", "Postmortem: ledger outage", "PIR-12", "https://wiki/x/post-mortems/12"] {
            assert!(is_review(yes), "{yes}");
        }
        for no in ["Incident", "Ledger API 500s", "Spirit", "https://github.com/acme/ledger/pull/1"] {
            assert!(!is_review(no), "{no}");
        }
    }
}
