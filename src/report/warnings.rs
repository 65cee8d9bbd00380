//! Data warnings next to the figures they weaken.
//!
//! Collectors record what was wrong with the data they read (a shallow clone, a partial clone,
//! blobs that could not be read, an API listing cut short) with their source in the workspace
//! manifest ([`crate::model::DataWarning`]). A figure computed from such data may be far off (a
//! shallow clone's lead time misses every older first commit), so wherever a level is shown — the
//! `metrics` output and the report — the warnings of the sources behind a service are named and the
//! confidence of every metric they affect is lowered to [`Confidence::Low`] at most.

use crate::assess::{Confidence, Levels, Rating};
use crate::config::Config;
use crate::model::DataWarning;
use crate::store::Manifest;

/// Every warning recorded in the manifest, in the order of the sources, each once.
pub fn recorded(manifest: Option<&Manifest>) -> Vec<DataWarning> {
    let mut out: Vec<DataWarning> = Vec::new();
    for state in manifest.into_iter().flat_map(|m| m.sources.values()) {
        for w in &state.warnings {
            if !out.contains(w) {
                out.push(w.clone());
            }
        }
    }
    out
}

/// The repository a warning's source names: `git:acme/shop` and `github:acme/shop` → `acme/shop`.
fn repo_of(w: &DataWarning) -> &str {
    // `git:REPO`, `github:REPO:RESOURCE`: the repository is the second part (names hold no colon).
    w.source.split(':').nth(1).unwrap_or(&w.source)
}

/// Whether `service` takes data from `repo`: it lists the repository, or it is the service a
/// repository gets when no configured service claims it (named after the repository).
fn covers(config: &Config, service: &str, repo: &str) -> bool {
    service == repo || config.services.iter().any(|s| s.name == service && s.repos.iter().any(|r| r == repo))
}

/// The warnings that weaken `service`'s figures: those of the repositories it takes data from.
/// A warning whose repository none of `services` (every service known, shown or not) covers
/// applies to every service, since which figures it touches cannot be told.
pub fn for_service(all: &[DataWarning], service: &str, services: &[&str], config: &Config) -> Vec<DataWarning> {
    all.iter()
        .filter(|w| {
            let repo = repo_of(w);
            covers(config, service, repo) || !services.iter().any(|s| covers(config, s, repo))
        })
        .cloned()
        .collect()
}

/// The `explain` name of each rated metric, as [`DataWarning::affects`] names them.
pub fn metric_name(levels: &Levels, metric: &str) -> &'static str {
    match metric {
        "deployment_frequency" => "deployment-frequency",
        "lead_time" => "lead-time",
        "change_failure_rate" => "change-failure-rate",
        _ if levels.benchmark_year == 2021 => "time-to-restore",
        _ => "recovery-time",
    }
}

/// The warnings among `warnings` that affect the metric named `explain_name`.
pub fn affecting<'a>(warnings: &'a [DataWarning], explain_name: &str) -> Vec<&'a DataWarning> {
    warnings.iter().filter(|w| w.affects.iter().any(|a| a == explain_name)).collect()
}

fn lower(rating: &mut Rating) {
    if rating.confidence == Confidence::Normal {
        rating.confidence = Confidence::Low;
    }
}

/// Lowers to low confidence every level that a warning affects, and the overall level with it.
/// Returns whether anything was lowered.
pub fn cap(levels: &mut Levels, warnings: &[DataWarning]) -> bool {
    let names = [
        metric_name(levels, "deployment_frequency"),
        metric_name(levels, "lead_time"),
        metric_name(levels, "change_failure_rate"),
        metric_name(levels, "recovery"),
    ];
    let mut lowered = false;
    let ratings = [
        &mut levels.deployment_frequency,
        &mut levels.lead_time,
        &mut levels.change_failure_rate,
        &mut levels.recovery,
    ];
    for (rating, name) in ratings.into_iter().zip(names) {
        if rating.confidence == Confidence::Normal && !affecting(warnings, name).is_empty() {
            lower(rating);
            lowered = true;
        }
    }
    if lowered && levels.overall.level.is_some() {
        lower(&mut levels.overall);
    }
    lowered
}

/// A short name for a warning's kind: `shallow-clone` → `shallow clone`.
pub fn label(w: &DataWarning) -> String {
    w.kind.replace(['-', '_'], " ")
}

/// What a warning weakens, in words: `lead time, deployment frequency and ownership`.
pub fn affects_text(w: &DataWarning) -> String {
    let words: Vec<String> = w.affects.iter().map(|a| a.replace('-', " ")).collect();
    match words.as_slice() {
        [] => "no figure named".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The message without a leading `KIND: ` that repeats the label (`shallow clone: history stops …`).
pub fn message(w: &DataWarning) -> String {
    let label = label(w);
    match w.message.get(..label.len()) {
        Some(head) if head.eq_ignore_ascii_case(&label) && w.message[label.len()..].starts_with(": ") => {
            w.message[label.len() + 2..].to_string()
        }
        _ => w.message.clone(),
    }
}

/// [`message`] as a sentence, ending with a full stop, for text that continues after it.
pub fn sentence(w: &DataWarning) -> String {
    let text = message(w);
    if text.ends_with(['.', '!', '?']) { text } else { format!("{text}.") }
}

/// One line for the notes: `git:acme/shop: shallow clone: MESSAGE (weakens lead time and …)`.
pub fn note(w: &DataWarning) -> String {
    format!("{}: {}: {} (weakens {})", w.source, label(w), message(w), affects_text(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shallow(source: &str) -> DataWarning {
        DataWarning {
            kind: "shallow-clone".into(),
            source: source.into(),
            message: "history stops at the clone depth".into(),
            affects: vec!["lead-time".into(), "ownership".into()],
        }
    }

    fn config(toml: &str) -> Config {
        Config::from_toml(toml, chrono::Utc::now()).unwrap()
    }

    #[test]
    fn a_warning_belongs_to_the_services_of_its_repository() {
        let c = config(
            "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n[[services]]\nname = \"pay\"\nrepos = [\"acme/pay\"]\n",
        );
        let all = [shallow("git:acme/shop")];
        assert_eq!(for_service(&all, "shop", &["shop", "pay"], &c).len(), 1);
        assert!(for_service(&all, "pay", &["shop", "pay"], &c).is_empty());
        // A repository no service claims: the service named after it.
        let unclaimed = [shallow("git:mdBook")];
        assert_eq!(for_service(&unclaimed, "mdBook", &["mdBook"], &c).len(), 1);
        // Nobody covers it: every service is warned, since which figures it touches is unknown.
        assert_eq!(for_service(&unclaimed, "pay", &["shop", "pay"], &c).len(), 1);
        // A GitHub source names its resource after the repository: still only shop's.
        let github = [shallow("github:acme/shop:workflow_runs")];
        assert_eq!(for_service(&github, "shop", &["shop", "pay"], &c).len(), 1);
        assert!(for_service(&github, "pay", &["shop", "pay"], &c).is_empty());
    }

    #[test]
    fn affects_reads_as_a_list() {
        let mut w = shallow("git:x");
        assert_eq!(affects_text(&w), "lead time and ownership");
        w.affects.insert(0, "deployment-frequency".into());
        assert_eq!(affects_text(&w), "deployment frequency, lead time and ownership");
        assert_eq!(label(&w), "shallow clone");
        w.message = "shallow clone: history stops here".into();
        assert_eq!(message(&w), "history stops here");
        assert_eq!(
            note(&w),
            "git:x: shallow clone: history stops here (weakens deployment frequency, lead time and ownership)"
        );
    }
}
