//! GitLab CI (`.gitlab-ci.yml` and what it includes): the CI pipeline practice and manual steps
//! (`manual job`, `deployment environment`), with `extends` and YAML merge keys resolved first.

use super::*;

/// Top-level keys of a GitLab CI file that are not jobs.
pub(super) const GITLAB_RESERVED: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
    "spec",
];

impl Scanner<'_> {
    /// **GitLab CI**: `.gitlab-ci.yml`, any `*.gitlab-ci.yml`, `.gitlab/ci/**/*.yml`, and the files
    /// those include with `include: local` (transitively). Jobs inherit through `extends` (across all
    /// these files) and YAML merge keys before they are judged.
    ///
    /// * `manual job`: `when: manual` on the job or in one of its `rules:` entries. Jobs that stop an
    ///   environment (`environment: {action: stop}`) are teardown, not delivery, and are skipped.
    /// * `deployment environment`: a job deploying (no `action`, or `action: start`) to a production
    ///   environment; protected environments with required approvals make it a manual approval.
    ///
    /// Returns the set of GitLab files, which the single-file rules then leave alone.
    pub(super) fn gitlab(&mut self, files: &[Entry]) -> BTreeSet<String> {
        let by_path: BTreeMap<&str, &Entry> = files.iter().map(|e| (e.path.as_str(), e)).collect();
        let delivery =
            |path: &str| !dir_parts(path).iter().any(|d| NOT_DELIVERY_DIRS.contains(&d.to_ascii_lowercase().as_str()));
        let mut queue: Vec<String> = files
            .iter()
            .map(|e| e.path.as_str())
            .filter(|p| {
                let lower = file_name(p).to_ascii_lowercase();
                lower.ends_with(".gitlab-ci.yml")
                    || lower.ends_with(".gitlab-ci.yaml")
                    || (p.starts_with(".gitlab/ci/") && matches!(extension(&lower), "yml" | "yaml"))
            })
            .filter(|p| delivery(p))
            .map(str::to_string)
            .collect();
        let mut parsed: BTreeMap<String, Option<(String, Vec<Yaml>)>> = BTreeMap::new();
        while let Some(path) = queue.pop() {
            if parsed.contains_key(&path) {
                continue;
            }
            let Some(entry) = by_path.get(path.as_str()) else { continue };
            let loaded = self.read(entry, true).and_then(|text| {
                let docs = self.parse_yaml(&path, &text, "GitLab CI configuration")?;
                Some((text, docs))
            });
            if let Some((_, docs)) = &loaded {
                for include in docs.iter().flat_map(gitlab_includes) {
                    queue.extend(resolve_include(&include, files).into_iter().filter(|p| delivery(p)));
                }
            }
            parsed.insert(path, loaded);
        }

        // Job definitions from every file, for `extends`; the root file wins over included ones.
        let mut definitions: BTreeMap<String, Yaml> = BTreeMap::new();
        let order = parsed.keys().filter(|p| p.as_str() == ".gitlab-ci.yml").chain(parsed.keys());
        for path in order {
            if let Some((_, docs)) = &parsed[path] {
                for (name, job) in docs.iter().filter_map(Yaml::as_hash).flatten() {
                    if let (Some(name), Yaml::Hash(_)) = (yaml_key(name), job) {
                        definitions.entry(name).or_insert_with(|| job.clone());
                    }
                }
            }
        }

        for (path, loaded) in &parsed {
            let Some((text, docs)) = loaded else {
                self.practice(path, "ci pipeline", Some(GITLAB), "pipeline configuration (not read)".into());
                continue;
            };
            let lines = YamlLines::new(text);
            let mut jobs = 0;
            let mut stages = BTreeSet::new();
            for (name, job) in docs.iter().filter_map(Yaml::as_hash).flatten() {
                let Some(name) = yaml_key(name) else { continue };
                if name.starts_with('.') || GITLAB_RESERVED.contains(&name.as_str()) || !job.is_hash() {
                    continue;
                }
                jobs += 1;
                let effective = gitlab_effective(job, &definitions, 0);
                let stage = effective["stage"].as_str().unwrap_or("test").to_string();
                stages.insert(stage.clone());
                self.gitlab_job(path, &lines, &name, job, &effective, &stage);
            }
            let mut detail = plural(jobs, "job", "jobs");
            if !stages.is_empty() {
                detail.push_str(&format!("; stages: {}", stages.into_iter().collect::<Vec<_>>().join(", ")));
            }
            self.practice(path, "ci pipeline", Some(GITLAB), detail);
        }
        parsed.into_keys().collect()
    }

    pub(super) fn gitlab_job(
        &mut self,
        path: &str,
        lines: &YamlLines,
        name: &str,
        own: &Yaml,
        job: &Yaml,
        stage: &str,
    ) {
        let job_line = lines.key_line(&[name]);
        let (environment, action) = match &job["environment"] {
            Yaml::String(s) => (Some(s.clone()), None),
            env @ Yaml::Hash(_) => {
                (env["name"].as_str().map(str::to_string), env["action"].as_str().map(str::to_string))
            }
            _ => (None, None),
        };
        let deploys = action.as_deref().is_none_or(|a| a == "start");
        let manual_here = |y: &Yaml| y["when"].as_str() == Some("manual");
        let manual_rule = |y: &Yaml| y["rules"].as_vec().is_some_and(|rules| rules.iter().any(manual_here));
        let stops = action.as_deref() == Some("stop");
        if (manual_here(job) || manual_rule(job)) && !stops {
            let how = if manual_here(job) { "when: manual" } else { "when: manual in rules" };
            let inherited = if manual_here(own) || manual_rule(own) { "" } else { ", inherited from a template" };
            let env = environment.as_deref().map(|e| format!(", environment {e}")).unwrap_or_default();
            let detail =
                format!("job \"{name}\" (stage {stage}{env}) waits for a person to start it ({how}{inherited})");
            let line = job_line.and_then(|i| lines.find_in_block(i, |t| yaml_value(t, "when") == Some("manual")));
            self.manual(path, line.or(job_line), "manual job", GITLAB, detail);
        }
        if let Some(environment) = environment
            && deploys
            && self.is_production(&environment, path)
        {
            let line = lines.key_line(&[name, "environment"]).or(job_line);
            let detail = format!(
                "job \"{name}\" deploys to environment \"{environment}\"; protected environments with required \
                 approvals on the forge make it a manual approval"
            );
            self.practice_at(path, line, "deployment environment", Some(GITLAB), detail);
        }
    }
}

/// Local files a GitLab CI document includes (`include: path`, `include: [{local: path}]`).
pub(super) fn gitlab_includes(doc: &Yaml) -> Vec<String> {
    let include = &doc["include"];
    let items: Vec<&Yaml> = match include {
        Yaml::Array(a) => a.iter().collect(),
        Yaml::String(_) | Yaml::Hash(_) => vec![include],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Yaml::String(s) if !s.starts_with("http://") && !s.starts_with("https://") => Some(s.clone()),
            Yaml::Hash(_) => item["local"].as_str().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// The files of the tree an `include: local` names (an exact path or a glob from the root).
pub(super) fn resolve_include(include: &str, files: &[Entry]) -> Vec<String> {
    if include.contains('$') {
        return Vec::new();
    }
    let include = include.trim_start_matches('/');
    if include.contains('*') {
        let Ok(glob) = Glob::new(include) else { return Vec::new() };
        let matcher = glob.compile_matcher();
        files.iter().filter(|e| matcher.is_match(&e.path)).map(|e| e.path.clone()).collect()
    } else {
        files.iter().filter(|e| e.path == include).map(|e| e.path.clone()).collect()
    }
}

/// A GitLab job as GitLab runs it: YAML merge keys expanded, then `extends` resolved (parents first,
/// hashes merged deeply, the job's own keys last), at most 10 levels deep like GitLab.
pub(super) fn gitlab_effective(job: &Yaml, definitions: &BTreeMap<String, Yaml>, depth: usize) -> Yaml {
    let job = expand_merge_keys(job);
    let parents: Vec<String> = match &job["extends"] {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    if parents.is_empty() || depth >= 10 {
        return job;
    }
    let mut base = Yaml::Hash(Hash::new());
    for parent in parents {
        if let Some(definition) = definitions.get(&parent) {
            base = deep_merge(base, gitlab_effective(definition, definitions, depth + 1));
        }
    }
    deep_merge(base, job)
}

pub(super) fn deep_merge(base: Yaml, over: Yaml) -> Yaml {
    match (base, over) {
        (Yaml::Hash(mut base), Yaml::Hash(over)) => {
            for (key, value) in over {
                let merged = match base.remove(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Yaml::Hash(base)
        }
        (_, over) => over,
    }
}

/// Expands YAML merge keys (`<<: *anchor`): the merged mappings provide defaults, the mapping's own
/// keys win, and among several merged mappings the first wins.
pub(super) fn expand_merge_keys(node: &Yaml) -> Yaml {
    match node {
        Yaml::Hash(hash) => {
            let merge_key = Yaml::String("<<".into());
            let mut out = Hash::new();
            if let Some(merged) = hash.get(&merge_key) {
                let sources: Vec<&Yaml> = match merged {
                    Yaml::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                for source in sources {
                    if let Yaml::Hash(source) = expand_merge_keys(source) {
                        for (key, value) in source {
                            if !out.contains_key(&key) {
                                out.insert(key, value);
                            }
                        }
                    }
                }
            }
            for (key, value) in hash {
                if *key != merge_key {
                    out.insert(key.clone(), expand_merge_keys(value));
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(items) => Yaml::Array(items.iter().map(expand_merge_keys).collect()),
        other => other.clone(),
    }
}
