//! CircleCI (`.circleci/config.yml`): the CI pipeline practice and `type: approval` jobs.

use super::*;

impl Scanner<'_> {
    /// **CircleCI** (`.circleci/config.yml`): every workflow job with `type: approval` is an
    /// `approval`, naming the workflow and the jobs that wait for it.
    pub(super) fn circleci(&mut self, path: &str, text: &str) {
        let Some(docs) = self.parse_yaml(path, text, "CircleCI configuration") else {
            self.practice(path, "ci pipeline", Some(CIRCLECI), "pipeline configuration (not valid YAML)".into());
            return;
        };
        let doc = docs.into_iter().next().unwrap_or(Yaml::Null);
        let lines = YamlLines::new(text);
        let mut workflows = 0;
        for (workflow, body) in doc["workflows"].as_hash().into_iter().flatten() {
            let Some(workflow) = yaml_key(workflow) else { continue };
            if workflow == "version" || !body.is_hash() {
                continue;
            }
            workflows += 1;
            let jobs: Vec<(String, &Yaml)> = body["jobs"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(Yaml::as_hash)
                .flatten()
                .filter_map(|(name, conf)| yaml_key(name).map(|n| (n, conf)))
                .collect();
            for (job, conf) in &jobs {
                if conf["type"].as_str() != Some("approval") {
                    continue;
                }
                let waiting: Vec<&str> = jobs
                    .iter()
                    .filter(|(_, c)| {
                        c["requires"].as_vec().is_some_and(|r| r.iter().any(|x| x.as_str() == Some(job.as_str())))
                    })
                    .map(|(n, _)| n.as_str())
                    .collect();
                let mut detail =
                    format!("workflow \"{workflow}\": job \"{job}\" waits for a person to approve (type: approval)");
                if !waiting.is_empty() {
                    detail.push_str(&format!(" before {}", waiting.join(", ")));
                }
                let jobs_line = lines.key_line(&["workflows", &workflow, "jobs"]);
                let job_line = jobs_line.and_then(|i| lines.find_in_block(i, |t| key_matches(t, job)));
                let line = job_line.and_then(|i| lines.find_in_block(i, |t| yaml_value(t, "type") == Some("approval")));
                self.manual(path, line.or(job_line).or(jobs_line), "approval", CIRCLECI, detail);
            }
        }
        self.practice(path, "ci pipeline", Some(CIRCLECI), plural(workflows, "workflow", "workflows"));
    }
}
