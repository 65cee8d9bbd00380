//! The **container** practice: Dockerfiles, Containerfiles and Compose files.

use super::*;

impl Scanner<'_> {
    /// **container**: `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`, `Containerfile` (tool `docker`);
    /// `docker-compose*.yml`, `compose.yaml`/`compose.yml` (tool `docker-compose`).
    pub(super) fn container(&mut self, f: &FileFacts) {
        let (path, lower, ext, yaml) = (f.path, f.lower.as_str(), f.ext.as_str(), f.yaml);
        let dockerfile = lower == "containerfile"
            || lower.ends_with(".dockerfile")
            || (lower.starts_with("dockerfile") && !DOC_EXTS.contains(&ext) && !lower.ends_with(".dockerignore"));
        if dockerfile {
            self.practice(path, "container", Some("docker"), "container image build".into());
        } else if yaml && (lower.starts_with("docker-compose") || lower.starts_with("compose.")) {
            self.practice(path, "container", Some("docker-compose"), "Compose file".into());
        }
    }
}
