//! What pull requests and incident issues say about other records, read from their text.
//!
//! GitHub keeps no structured link from an incident to the change that caused it, nor from a revert
//! to the change it undoes; people write them in the text ("Reverts acme/shop#12", "broken by #40",
//! a commit URL). Reading those references is what lets flowgauge link an incident to the
//! deployment that shipped its cause instead of guessing by time alone. Pure functions, no regex
//! crate: the grammar is small and every accepted form is listed in the tests below.

/// What an incident's text names as its cause. Each is the first of its kind in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    /// A pull request of the same repository: `#12`, `acme/shop#12`, `…/acme/shop/pull/12`.
    pub pull_request: Option<i64>,
    /// A commit: `…/commit/<sha>` or a bare hex word of 7–40 digits with at least one letter a–f.
    pub sha: Option<String>,
    /// A deployment of the same repository by its API URL `…/repos/acme/shop/deployments/123`.
    pub deployment: Option<i64>,
}

/// The pull request a revert undoes, from GitHub's revert button text `Reverts owner/name#N`
/// (or `Reverts #N`) on a line of the body. Only references to `repo` count.
pub fn reverted_pull_request(body: &str, repo: &str) -> Option<i64> {
    body.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("Reverts ").or_else(|| line.strip_prefix("reverts "))?;
        let word = rest.split_whitespace().next()?;
        same_repo_number(word, repo)
    })
}

/// `#N` or `owner/name#N` naming `repo` (case-insensitive), else `None`.
fn same_repo_number(word: &str, repo: &str) -> Option<i64> {
    let word = word.trim_end_matches(['.', ',', ';', ':', ')', ']']);
    let (prefix, number) = word.split_once('#')?;
    if !(prefix.is_empty() || prefix.eq_ignore_ascii_case(repo)) {
        return None;
    }
    let number = number.parse::<i64>().ok()?;
    (number > 0).then_some(number)
}

/// Reads the references in an incident's title and body.
pub fn incident_cause(text: &str, repo: &str) -> Cause {
    let mut cause = Cause::default();
    let repo_path = format!("/{}/", repo.to_ascii_lowercase());
    for raw in text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'')) {
        let word = raw.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            url_reference(&lower, &repo_path, &mut cause);
            continue;
        }
        if cause.pull_request.is_none()
            && word.contains('#')
            && let Some(n) = same_repo_number(word, repo)
        {
            cause.pull_request = Some(n);
            continue;
        }
        if cause.sha.is_none() && looks_like_sha(&lower) {
            cause.sha = Some(lower);
        }
    }
    cause
}

/// A URL naming a pull request, commit or deployment of the repository at `repo_path`
/// (`/owner/name/`; the API's `/repos/owner/name/` is matched too).
fn url_reference(url: &str, repo_path: &str, cause: &mut Cause) {
    let Some(at) = url.find(repo_path) else { return };
    let mut parts = url[at + repo_path.len()..].split(['/', '?', '#']);
    let (Some(kind), Some(id)) = (parts.next(), parts.next()) else { return };
    match kind {
        "pull" | "pulls" if cause.pull_request.is_none() => cause.pull_request = id.parse().ok().filter(|n| *n > 0),
        "commit" | "commits" if cause.sha.is_none() && looks_like_sha(id) => cause.sha = Some(id.to_string()),
        "deployments" if cause.deployment.is_none() => cause.deployment = id.parse().ok().filter(|n| *n > 0),
        _ => {}
    }
}

/// 7–40 lowercase hex digits with at least one letter and one digit: a sha, not a number or a word.
fn looks_like_sha(word: &str) -> bool {
    (7..=40).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = "acme/shop";

    #[test]
    fn revert_button_text_names_the_reverted_pull_request() {
        assert_eq!(reverted_pull_request("Reverts acme/shop#12\n\nBroke checkout.", REPO), Some(12));
        assert_eq!(reverted_pull_request("Some context\nReverts #7", REPO), Some(7));
        assert_eq!(reverted_pull_request("Reverts Acme/Shop#9.", REPO), Some(9));
        assert_eq!(reverted_pull_request("Reverts other/repo#12", REPO), None, "another repository");
        assert_eq!(reverted_pull_request("This reverts commit abc", REPO), None);
        assert_eq!(reverted_pull_request("", REPO), None);
        assert_eq!(reverted_pull_request("Reverts #0", REPO), None);
    }

    #[test]
    fn incident_text_names_pull_requests_commits_and_deployments() {
        let c = incident_cause("Checkout down after #40 shipped", REPO);
        assert_eq!(c, Cause { pull_request: Some(40), ..Default::default() });
        let c = incident_cause("Broken by https://github.com/acme/shop/pull/41/files (see acme/shop#3)", REPO);
        assert_eq!(c.pull_request, Some(41), "the first reference wins");
        let c = incident_cause("Regression in 3f2a9c1; rolled back", REPO);
        assert_eq!(c.sha.as_deref(), Some("3f2a9c1"));
        let c =
            incident_cause("see https://github.com/acme/shop/commit/0123456789abcdef0123456789abcdef01234567", REPO);
        assert_eq!(c.sha.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
        let c = incident_cause("https://api.github.com/repos/acme/shop/deployments/77 failed", REPO);
        assert_eq!(c.deployment, Some(77));
    }

    #[test]
    fn words_that_only_look_like_references_are_ignored() {
        let c = incident_cause("Error 1234567 at deadbeef? other/repo#5 https://github.com/other/x/pull/9 faced", REPO);
        assert_eq!(c.pull_request, None, "other repositories do not count");
        assert_eq!(c.sha, None, "a number or a hex word without digits is not a sha");
        let c = incident_cause("C# service and #not-a-number, issue #", REPO);
        assert_eq!(c, Cause::default());
        let c = incident_cause("https://github.com/acme/shop/issues/12", REPO);
        assert_eq!(c, Cause::default(), "an issue is not a pull request");
    }
}
