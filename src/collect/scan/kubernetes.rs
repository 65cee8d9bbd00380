//! The **kubernetes** practice: Helm charts, Kustomize and plain manifests.

use super::*;

impl Scanner<'_> {
    /// **kubernetes**: Helm charts (`Chart.yaml`, category `kubernetes (helm)`; the chart's templates
    /// are not counted again), Kustomize (`kustomization.yaml`), and plain manifests (YAML whose
    /// documents have top-level `apiVersion`, `kind` and `metadata`; one row per directory, naming the
    /// kinds). Files with the same shape that are not cluster resources (Backstage catalog entries,
    /// Skaffold and kind configurations, kubeconfig files) are excluded. A `PrometheusRule` resource
    /// is also monitoring.
    pub(super) fn kubernetes(&mut self, f: &FileFacts, text: Option<&str>) {
        let (path, name, lower) = (f.path, f.name, f.lower.as_str());
        if name == "Chart.yaml" {
            let chart = text.and_then(|t| top_level(t).into_iter().find(|(k, _)| *k == "name").map(|(_, v)| v));
            let detail = chart.map_or_else(|| "Helm chart".to_string(), |c| format!("Helm chart \"{c}\""));
            self.practice(path, "kubernetes (helm)", Some("helm"), detail);
            return;
        }
        if matches!(lower, "kustomization.yaml" | "kustomization.yml" | "kustomization") {
            self.practice(path, "kubernetes", Some("kustomize"), "Kustomize overlay".into());
            return;
        }
        let (true, Some(text)) = (f.yaml, text) else { return };
        let top = top_level(text);
        let has = |k: &str| top.iter().any(|(key, _)| *key == k);
        if !(has("apiVersion") && has("kind") && has("metadata")) {
            return;
        }
        let not_cluster = top.iter().any(|(k, v)| {
            (*k == "apiVersion"
                && ["backstage.io", "skaffold/", "kind.x-k8s.io", "kustomize.config.k8s.io"]
                    .iter()
                    .any(|p| v.contains(p)))
                || (*k == "kind" && *v == "Config")
        });
        if not_cluster {
            return;
        }
        let kinds: BTreeSet<String> =
            top.iter().filter(|(k, v)| *k == "kind" && !v.is_empty()).map(|(_, v)| v.to_string()).collect();
        if kinds.contains("PrometheusRule") {
            self.practice(path, "monitoring", Some("prometheus"), "PrometheusRule resource (alerting rules)".into());
        }
        let note = (!kinds.is_empty()).then(|| kinds.into_iter().collect::<Vec<_>>().join(", "));
        self.group(
            parent(path),
            path,
            ("kubernetes", Some("kubernetes")),
            ("Kubernetes manifest", "Kubernetes manifests"),
            note,
        );
    }
}
