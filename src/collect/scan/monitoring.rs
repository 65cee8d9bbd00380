//! The **monitoring** practice: Sentry, New Relic, Datadog, Prometheus alerting rules, Alertmanager,
//! Nagios and Grafana dashboards, from their configuration files.

use super::*;

impl Scanner<'_> {
    /// **monitoring**, by tool, from configuration files only (an SDK call in code proves little):
    /// Sentry (`sentry.properties`, `.sentryclirc`, `sentry.{client,server,edge}.config.*`), New Relic
    /// (`newrelic.yml|ini|js`), Datadog (`datadog.yaml`), Prometheus alerting rules (YAML with
    /// top-level `groups:` whose `rules:` hold an `alert:`), Alertmanager (`alertmanager.yml`),
    /// Nagios (`*.cfg` under a `nagios` directory or containing `define service {`-style objects;
    /// one row per directory), Grafana dashboards (JSON with `panels` under a `grafana` directory; one
    /// row per directory).
    pub(super) fn monitoring(&mut self, f: &FileFacts, text: Option<&str>, grafana: bool) {
        let (path, lower, ext, lower_dirs, yaml) = (f.path, f.lower.as_str(), f.ext.as_str(), &f.lower_dirs, f.yaml);
        let key = "monitoring";
        let sentry_config = lower.starts_with("sentry.")
            && [".client.config.", ".server.config.", ".edge.config."].iter().any(|p| lower.contains(p))
            && ["js", "mjs", "cjs", "ts"].contains(&ext);
        if lower == "sentry.properties" || lower == ".sentryclirc" || sentry_config {
            self.practice(path, key, Some("sentry"), "Sentry configuration".into());
        } else if matches!(lower, "newrelic.yml" | "newrelic.yaml" | "newrelic.ini" | "newrelic.js" | "newrelic.cjs") {
            self.practice(path, key, Some("new-relic"), "New Relic agent configuration".into());
        } else if lower == "datadog.yaml" || lower == "datadog.yml" {
            self.practice(path, key, Some("datadog"), "Datadog agent configuration".into());
        } else if lower == "alertmanager.yml" || lower == "alertmanager.yaml" {
            self.practice(path, key, Some("alertmanager"), "Alertmanager configuration (alert routing)".into());
        } else if ext == "cfg" {
            let nagios_dir = lower_dirs.iter().any(|d| d.contains("nagios"));
            if nagios_dir || text.is_some_and(has_nagios_objects) {
                let noun = ("Nagios configuration file", "Nagios configuration files");
                self.group(parent(path), path, (key, Some("nagios")), noun, None);
            }
        } else if yaml && let Some(text) = text {
            let looks_like_rules = top_level(text).iter().any(|(k, _)| *k == "groups")
                && text.lines().any(|l| strip_dashes(l.trim_start()).starts_with("alert:"));
            if looks_like_rules
                && let Some(docs) = self.parse_yaml(path, text, "what looks like Prometheus alerting rules")
            {
                let alerts: usize = docs.iter().map(prometheus_alerts).sum();
                if alerts > 0 {
                    self.practice(
                        path,
                        key,
                        Some("prometheus"),
                        format!("Prometheus {}", plural(alerts, "alerting rule", "alerting rules")),
                    );
                }
            }
        } else if grafana && let Some(text) = text {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => {
                    let panels = |v: &serde_json::Value| v.get("panels").is_some_and(|p| p.is_array());
                    if panels(&v) || v.get("dashboard").is_some_and(panels) {
                        let noun = ("Grafana dashboard", "Grafana dashboards");
                        self.group(parent(path), path, (key, Some("grafana")), noun, None);
                    }
                }
                Err(e) => self.warn(path, format!("Grafana dashboard is not valid JSON: {e}")),
            }
        }
    }
}

/// Whether a text declares Nagios objects (`define service {`, `define host{`, …).
pub(super) fn has_nagios_objects(text: &str) -> bool {
    text.lines().any(|l| {
        let Some(rest) = l.trim_start().strip_prefix("define") else { return false };
        let rest = rest.trim_start();
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        ["service", "host", "hostgroup", "command", "contact", "servicegroup"].contains(&word.as_str())
            && rest[word.len()..].trim_start().starts_with('{')
    })
}

pub(super) fn prometheus_alerts(doc: &Yaml) -> usize {
    doc["groups"]
        .as_vec()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_vec().into_iter().flatten())
        .filter(|r| r["alert"].as_str().is_some())
        .count()
}
