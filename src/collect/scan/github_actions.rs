//! GitHub Actions workflows: the CI pipeline practice, and manual steps (`manual trigger`,
//! `deployment environment`) of deploy-like jobs.

use super::*;

/// Words that make a GitHub Actions job deploy-like when they appear in its id, its name, a step's
/// name or a step's `uses`.
pub(super) const DEPLOY_WORDS: &[&str] = &["deploy", "release", "publish", "rollout", "production"];

/// Commands that make a `run:` step deploy-like. Words alone are not enough in shell text:
/// `cargo build --release`, `dotnet publish` or `RAILS_ENV=production rake assets:precompile` build
/// things, they do not ship them.
pub(super) const DEPLOY_COMMANDS: &[&str] = &[
    "deploy",
    "rollout",
    "npm publish",
    "yarn publish",
    "pnpm publish",
    "cargo publish",
    "gem push",
    "twine upload",
    "gh release create",
    "helm upgrade",
    "helm install",
    "kubectl apply",
    "kubectl set image",
    "terraform apply",
];

impl Scanner<'_> {
    /// **GitHub Actions** (`.github/workflows/*.yml`): the workflow is a CI pipeline; its jobs may be
    /// manual steps.
    ///
    /// * `manual trigger`: the workflow can only be started by hand — every event in `on` is
    ///   `workflow_dispatch` — and the job is deploy-like (see [`github_deploy_reason`]). A workflow
    ///   that also runs on `push`, `schedule`, `workflow_call` or any other event deploys without a
    ///   person; its `workflow_dispatch` is an escape hatch, not a manual step, so it is not reported.
    /// * `deployment environment`: a job whose `environment` is production for the file's service;
    ///   required reviewers configured on the forge turn it into a manual approval.
    pub(super) fn github(&mut self, path: &str, text: &str) {
        let Some(docs) = self.parse_yaml(path, text, "workflow") else {
            self.practice(path, "ci pipeline", Some(GITHUB), "workflow (not valid YAML)".into());
            return;
        };
        let Some(doc) = docs.into_iter().next().filter(Yaml::is_hash) else {
            self.warn(path, "workflow is not a mapping");
            self.practice(path, "ci pipeline", Some(GITHUB), "workflow (not a mapping)".into());
            return;
        };
        let workflow = doc["name"].as_str().unwrap_or(file_name(path)).to_string();
        let events = github_events(&doc);
        let on = if events.is_empty() { String::new() } else { format!(" on {}", events.join(", ")) };
        self.practice(path, "ci pipeline", Some(GITHUB), format!("workflow \"{workflow}\"{on}"));

        let manual_only = !events.is_empty() && events.iter().all(|e| e == "workflow_dispatch");
        let lines = YamlLines::new(text);
        let Some(jobs) = doc["jobs"].as_hash() else { return };
        for (id, job) in jobs {
            let Some(id) = yaml_key(id) else { continue };
            let job_line = lines.key_line(&["jobs", &id]);
            let label = match job["name"].as_str() {
                Some(name) if name != id => format!("job \"{id}\" ({name})"),
                _ => format!("job \"{id}\""),
            };
            if manual_only && let Some(reason) = github_deploy_reason(&id, job) {
                let detail = format!(
                    "workflow \"{workflow}\", {label}: runs only when someone starts the workflow by hand \
                     (workflow_dispatch); deploy-like because {reason}"
                );
                self.manual(path, job_line.or(lines.key_line(&["jobs"])), "manual trigger", GITHUB, detail);
            }
            if let Some(environment) = environment_name(&job["environment"])
                && self.is_production(&environment, path)
            {
                let line = lines.key_line(&["jobs", &id, "environment"]).or(job_line);
                let detail = format!(
                    "workflow \"{workflow}\", {label} deploys to environment \"{environment}\"; required reviewers \
                     configured on the forge make it a manual approval"
                );
                // Whether the environment waits for a reviewer is configured on the forge, not in the
                // file: record the environment as a practice; the forge source tells if it is manual.
                self.practice_at(path, line, "deployment environment", Some(GITHUB), detail);
            }
        }
    }
}

/// The events of a GitHub workflow's `on` (a string, a list or a map).
pub(super) fn github_events(doc: &Yaml) -> Vec<String> {
    let Some(hash) = doc.as_hash() else { return Vec::new() };
    // YAML 1.1 parsers read a bare `on` as `true`; accept both spellings.
    let on = hash.get(&Yaml::String("on".into())).or_else(|| hash.get(&Yaml::Boolean(true)));
    match on {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Array(a)) => a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect(),
        Some(Yaml::Hash(h)) => h.keys().filter_map(yaml_key).collect(),
        _ => Vec::new(),
    }
}

/// An environment's name: `environment: name` or `environment: {name: …}`.
pub(super) fn environment_name(environment: &Yaml) -> Option<String> {
    match environment {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Hash(_) => environment["name"].as_str().map(str::to_string),
        _ => None,
    }
}

/// Why a GitHub Actions job is deploy-like, or `None`: it has an `environment`; or its id, its
/// name, a reusable workflow it calls, a step's name or a step's action mentions deploy, release,
/// publish, rollout or production; or a `run` step runs a deployment command ([`DEPLOY_COMMANDS`]).
pub(super) fn github_deploy_reason(id: &str, job: &Yaml) -> Option<String> {
    let word = |text: &str| {
        let lower = text.to_ascii_lowercase();
        DEPLOY_WORDS.iter().find(|w| lower.contains(*w)).copied()
    };
    if let Some(environment) = environment_name(&job["environment"]) {
        return Some(format!("it uses environment \"{environment}\""));
    }
    if let Some(w) = word(id) {
        return Some(format!("its id mentions \"{w}\""));
    }
    if let Some(w) = job["name"].as_str().and_then(word) {
        return Some(format!("its name mentions \"{w}\""));
    }
    if let Some(uses) = job["uses"].as_str()
        && let Some(w) = word(uses)
    {
        return Some(format!("it calls {uses} (\"{w}\")"));
    }
    for step in job["steps"].as_vec().into_iter().flatten() {
        if let Some(name) = step["name"].as_str()
            && word(name).is_some()
        {
            return Some(format!("step \"{name}\""));
        }
        if let Some(uses) = step["uses"].as_str()
            && word(uses).is_some()
        {
            return Some(format!("step uses {uses}"));
        }
        if let Some(run) = step["run"].as_str() {
            let lower = run.to_ascii_lowercase();
            if let Some(command) = DEPLOY_COMMANDS.iter().find(|c| lower.contains(*c)) {
                return Some(format!("a step runs `{command}`"));
            }
        }
    }
    None
}
