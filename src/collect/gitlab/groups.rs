//! `collect gitlab --group acme`: the projects of a group and of all its subgroups, each given to
//! the service whose `repos` name it.
//!
//! Why: organisations on GitLab keep a team's projects under a group, often nested
//! (`acme/payments/api`), and listing hundreds of projects by hand in the configuration drifts as
//! projects come and go. Walking the group finds them all; the configuration still decides which
//! service a project belongs to, and a project no service names is reported by name, never dropped
//! silently (nor guessed into a service). Archived projects are skipped: they no longer deliver.

use super::client::{Listing, project_id};
use crate::config::Service;

/// The REST listing of a group's projects, subgroups included, by id (stable order, so a page
/// boundary never moves while walking). `group` is the full path or the number.
pub fn projects_listing(group: &str) -> Listing {
    Listing::new(format!("groups/{}/projects", project_id(group)))
        .param("include_subgroups", "true")
        .param("archived", "false")
        .param("with_shared", "false")
        .param("order_by", "id")
        .param("sort", "asc")
        .param("per_page", "100")
}

/// A project of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    /// `group/subgroup/project`.
    pub path: String,
    pub default_branch: Option<String>,
}

/// The projects of one page of [`projects_listing`].
pub fn projects_of_page(page: &serde_json::Value) -> Vec<Project> {
    page.as_array()
        .map(|projects| {
            projects
                .iter()
                .filter(|p| !p["archived"].as_bool().unwrap_or(false))
                .filter_map(|p| {
                    Some(Project {
                        id: p["id"].as_i64()?,
                        path: p["path_with_namespace"].as_str()?.to_string(),
                        default_branch: p["default_branch"].as_str().map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The group's projects split by the configuration: each project some service's `repos` names
/// (ignoring case, as GitLab paths are), with that service, and those none names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPlan {
    pub mapped: Vec<(Project, String)>,
    pub unmapped: Vec<Project>,
}

impl GroupPlan {
    /// What to tell the user about projects left out, if any.
    pub fn unmapped_warning(&self, group: &str) -> Option<String> {
        if self.unmapped.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.unmapped.iter().map(|p| p.path.as_str()).collect();
        Some(format!(
            "group {group}: {} not collected because no service names {} in `repos`: {}",
            counted(names.len()),
            if names.len() == 1 { "it" } else { "them" },
            names.join(", ")
        ))
    }
}

fn counted(n: usize) -> String {
    if n == 1 { "1 project was".into() } else { format!("{n} projects were") }
}

/// Gives each project to the first service whose `repos` names it.
pub fn plan(projects: Vec<Project>, services: &[Service]) -> GroupPlan {
    let mut plan = GroupPlan::default();
    for project in projects {
        let service = services
            .iter()
            .find(|s| s.repos.iter().any(|r| r.eq_ignore_ascii_case(&project.path)))
            .map(|s| s.name.clone());
        match service {
            Some(service) => plan.mapped.push((project, service)),
            None => plan.unmapped.push(project),
        }
    }
    plan.mapped.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    plan.unmapped.sort_by(|a, b| a.path.cmp(&b.path));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(name: &str, repos: &[&str]) -> Service {
        let mut s = Service::named(name, None);
        s.repos = repos.iter().map(|r| r.to_string()).collect();
        s
    }

    #[test]
    fn projects_go_to_the_service_naming_them_and_the_rest_are_reported() {
        let page = json!([
            { "id": 3, "path_with_namespace": "acme/payments/api", "default_branch": "main" },
            { "id": 1, "path_with_namespace": "acme/ledger", "default_branch": "trunk" },
            { "id": 7, "path_with_namespace": "acme/old", "archived": true },
            { "id": 9, "path_with_namespace": "acme/sandbox" },
            { "id": 11, "path_with_namespace": "acme/tools/scripts" }
        ]);
        let services = [service("ledger", &["acme/ledger"]), service("payments", &["Acme/Payments/API"])];
        let plan = plan(projects_of_page(&page), &services);
        let mapped: Vec<(&str, &str)> = plan.mapped.iter().map(|(p, s)| (p.path.as_str(), s.as_str())).collect();
        assert_eq!(mapped, vec![("acme/ledger", "ledger"), ("acme/payments/api", "payments")]);
        assert_eq!(plan.mapped[0].0.default_branch.as_deref(), Some("trunk"));
        assert_eq!(
            plan.unmapped_warning("acme").unwrap(),
            "group acme: 2 projects were not collected because no service names them in `repos`: acme/sandbox, acme/tools/scripts"
        );
        assert_eq!(projects_listing("acme/payments").path(), "groups/acme%2Fpayments/projects");
    }
}
