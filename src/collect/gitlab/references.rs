//! What merge requests and incident issues on GitLab say about other records, read from their text.
//!
//! GitLab keeps no structured link from a revert to the merge request it undoes, nor from an
//! incident to the change that caused it; people (and GitLab's Revert button) write them in the
//! text: `This reverts merge request !12`, `group/name!12`, a merge request, commit or deployment
//! URL (`…/-/merge_requests/12`, `…/-/commit/<sha>`, `…/-/environments/3/deployments/45`). Pure
//! functions, no regex crate: the grammar is small and every accepted form is in the tests below.

/// What an incident's text names as its cause. Each is the first of its kind in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    /// A merge request of the same project, by iid: `!12`, `group/name!12`, `…/-/merge_requests/12`.
    pub merge_request: Option<i64>,
    /// A commit: `…/-/commit/<sha>` or a bare hex word of 7–40 digits with at least one letter a–f.
    pub sha: Option<String>,
    /// A deployment of the same project, by its URL `…/-/environments/<env>/deployments/<iid>`
    /// (GitLab's deployment pages are named by the deployment's iid).
    pub deployment_iid: Option<i64>,
}

/// The merge request a revert undoes, from GitLab's Revert button text `This reverts merge request
/// !12` (or `group/name!12`) in the description. Only references to `project` count.
pub fn reverted_merge_request(text: &str, project: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("reverts merge request ")?;
    let rest = &text[at + "reverts merge request ".len()..];
    same_project_iid(rest.split_whitespace().next()?, project)
}

/// `!N` or `group/name!N` naming `project` (case-insensitive), else `None`.
fn same_project_iid(word: &str, project: &str) -> Option<i64> {
    let word = word.trim_end_matches(['.', ',', ';', ':', ')', ']']);
    let (prefix, number) = word.split_once('!')?;
    if !(prefix.is_empty() || prefix.eq_ignore_ascii_case(project)) {
        return None;
    }
    let number = number.parse::<i64>().ok()?;
    (number > 0).then_some(number)
}

/// Reads the references in an incident's title and description.
pub fn incident_cause(text: &str, project: &str) -> Cause {
    let mut cause = Cause::default();
    let project_path = format!("/{}/-/", project.to_ascii_lowercase());
    for raw in text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'')) {
        let word = raw.trim_end_matches(['.', ',', ';', ':', '?']);
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            url_reference(&lower, &project_path, &mut cause);
            continue;
        }
        if cause.merge_request.is_none()
            && word.contains('!')
            && let Some(n) = same_project_iid(word, project)
        {
            cause.merge_request = Some(n);
            continue;
        }
        if cause.sha.is_none() && is_sha(&lower) {
            cause.sha = Some(lower);
        }
    }
    cause
}

fn url_reference(url: &str, project_path: &str, cause: &mut Cause) {
    let Some(at) = url.find(project_path) else { return };
    let rest = &url[at + project_path.len()..];
    let mut parts = rest.split(['/', '?', '#']);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("merge_requests"), Some(n), _, _) if cause.merge_request.is_none() => {
            cause.merge_request = n.parse().ok().filter(|n| *n > 0);
        }
        (Some("commit"), Some(sha), _, _) if cause.sha.is_none() && is_sha(sha) => {
            cause.sha = Some(sha.to_string());
        }
        (Some("environments"), Some(_), Some("deployments"), Some(n)) if cause.deployment_iid.is_none() => {
            cause.deployment_iid = n.parse().ok().filter(|n| *n > 0);
        }
        _ => {}
    }
}

/// 7–40 hex digits with at least one letter (a bare number is more likely an id than a sha).
fn is_sha(word: &str) -> bool {
    (7..=40).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_hexdigit())
        && word.bytes().any(|b| matches!(b, b'a'..=b'f' | b'A'..=b'F'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revert_button_names_the_merge_request() {
        let body = "This reverts commit 1a2b3c4d.\n\nThis reverts merge request !12";
        assert_eq!(reverted_merge_request(body, "acme/shop"), Some(12));
        assert_eq!(reverted_merge_request("This reverts merge request acme/shop!7", "acme/shop"), Some(7));
        assert_eq!(reverted_merge_request("This reverts merge request other/lib!7", "acme/shop"), None);
        assert_eq!(reverted_merge_request("no revert here", "acme/shop"), None);
    }

    #[test]
    fn incidents_name_merge_requests_commits_and_deployments() {
        let cause = incident_cause("Checkout down after !40, see deadbeef1", "acme/shop");
        assert_eq!(cause.merge_request, Some(40));
        assert_eq!(cause.sha.as_deref(), Some("deadbeef1"));
        let cause = incident_cause(
            "Broken by https://gitlab.example.com/acme/shop/-/merge_requests/41 and \
             https://gitlab.example.com/acme/shop/-/environments/3/deployments/45",
            "acme/shop",
        );
        assert_eq!(cause.merge_request, Some(41));
        assert_eq!(cause.deployment_iid, Some(45));
        let other = incident_cause("https://gitlab.example.com/acme/lib/-/merge_requests/41 1234567", "acme/shop");
        assert_eq!(other, Cause::default());
    }
}
