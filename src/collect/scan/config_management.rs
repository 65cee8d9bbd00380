//! The **configuration management** practice: Ansible, Puppet and Chef.

use super::*;

impl Scanner<'_> {
    /// **configuration management**: Ansible (`playbook*.yml`, `ansible.cfg`,
    /// `roles/<role>/tasks/main.yml`), Puppet (`*.pp`, one row per directory), Chef (a `metadata.rb`
    /// next to a `recipes/` directory: a cookbook).
    pub(super) fn configuration_management(&mut self, f: &FileFacts, index: &Index) {
        let (path, name, lower, ext, dirs, yaml) = (f.path, f.name, f.lower.as_str(), f.ext.as_str(), &f.dirs, f.yaml);
        let key = "configuration management";
        if yaml && lower.starts_with("playbook") {
            self.practice(path, key, Some("ansible"), "Ansible playbook".into());
        } else if lower == "ansible.cfg" {
            self.practice(path, key, Some("ansible"), "Ansible configuration".into());
        } else if yaml
            && (lower == "main.yml" || lower == "main.yaml")
            && dirs.len() >= 3
            && dirs[dirs.len() - 1] == "tasks"
            && dirs[dirs.len() - 3] == "roles"
        {
            self.practice(path, key, Some("ansible"), format!("Ansible role \"{}\"", dirs[dirs.len() - 2]));
        } else if ext == "pp" {
            self.group(parent(path), path, (key, Some("puppet")), ("Puppet manifest", "Puppet manifests"), None);
        } else if name == "metadata.rb" && index.has_files_under(&join(parent(path), "recipes")) {
            self.practice(path, key, Some("chef"), "Chef cookbook".into());
        }
    }
}
