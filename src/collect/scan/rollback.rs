//! The **rollback** practice: rollback scripts, Makefile targets and `package.json` scripts.

use super::*;

/// Directories where a script in a general-purpose language is an operational script.
pub(super) const SCRIPT_DIRS: &[&str] = &[
    "scripts",
    "script",
    "bin",
    "deploy",
    "deployment",
    "deployments",
    "ops",
    "tools",
    "ci",
    "infra",
    "devops",
    ".github",
    ".gitlab",
    ".circleci",
];

impl Scanner<'_> {
    /// **rollback**: scripts whose name contains `rollback` — shell, PowerShell, batch, YAML
    /// (playbooks, workflows) or extension-less files anywhere; Python, Ruby, Perl, JavaScript,
    /// TypeScript or Groovy files only at the root or under an operational directory (`scripts/`,
    /// `bin/`, `deploy/`, `ops/`, …), because `src/db/rollback.ts` is application code about
    /// transactions. SQL migrations are not deployment rollbacks. Also Makefile targets and
    /// `package.json` scripts named `*rollback*`, with their line.
    pub(super) fn rollback(&mut self, f: &FileFacts, ci: Option<&'static str>, text: Option<&str>, makefile: bool) {
        let (path, lower, ext, lower_dirs) = (f.path, f.lower.as_str(), f.ext.as_str(), &f.lower_dirs);
        if lower.contains("rollback") {
            let script =
                ["sh", "bash", "zsh", "ksh", "ps1", "psm1", "bat", "cmd", "yml", "yaml", "mk", ""].contains(&ext);
            let code = ["py", "rb", "pl", "js", "mjs", "cjs", "ts", "groovy"].contains(&ext)
                && (lower_dirs.is_empty() || lower_dirs.iter().any(|d| SCRIPT_DIRS.contains(&d.as_str())));
            if script || code {
                self.practice(path, "rollback", ci, "rollback script".into());
            }
        }
        let Some(text) = text else { return };
        if makefile {
            for (i, line) in text.lines().enumerate() {
                if let Some(target) = make_rollback_target(line) {
                    self.practice_at(
                        path,
                        Some(i + 1),
                        "rollback",
                        Some("make"),
                        format!("Makefile target `{target}`"),
                    );
                }
            }
        } else if file_name(path) == "package.json"
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(scripts) = json.get("scripts").and_then(|s| s.as_object())
        {
            for script in scripts.keys().filter(|k| k.to_ascii_lowercase().contains("rollback")) {
                let needle = format!("\"{script}\"");
                let line = text.lines().position(|l| l.contains(&needle)).map(|i| i + 1);
                self.practice_at(path, line, "rollback", Some("npm"), format!("package.json script `{script}`"));
            }
        }
    }
}

/// The target name of a Makefile rule whose name contains `rollback`.
pub(super) fn make_rollback_target(line: &str) -> Option<String> {
    if line.starts_with([' ', '\t', '#', '.']) {
        return None;
    }
    let (targets, rest) = line.split_once(':')?;
    if rest.starts_with('=') || targets.contains('=') || targets.contains('$') {
        return None;
    }
    targets.split_whitespace().find(|t| t.to_ascii_lowercase().contains("rollback")).map(str::to_string)
}
