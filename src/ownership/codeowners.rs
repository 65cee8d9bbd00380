//! CODEOWNERS files in GitHub's and GitLab's dialects (placeholder replaced by the full matcher).
