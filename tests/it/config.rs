//! Configuration layers and validation messages.

use std::path::Path;

use flowgauge::Error;
use flowgauge::calendar::Grain;
use flowgauge::config::{BenchmarkYear, Config, Overrides};

use crate::helpers::now;

fn key_error(text: &str) -> String {
    match Config::from_toml(text, now()) {
        Err(Error::ConfigValue { key, message }) => format!("{key}: {message}"),
        Err(other) => format!("other: {other}"),
        Ok(_) => panic!("accepted: {text}"),
    }
}

#[test]
fn defaults_give_a_year_up_to_today() {
    let cfg = Config::from_toml("", now()).unwrap();
    assert_eq!(cfg.analysis.window.until.to_rfc3339(), "2026-01-16T00:00:00+00:00");
    assert_eq!((cfg.analysis.window.until - cfg.analysis.window.since).num_days(), 365);
    assert_eq!(cfg.analysis.period, Grain::Quarter);
    assert_eq!(cfg.analysis.benchmark_year, BenchmarkYear::Y2023);
}

#[test]
fn validation_errors_name_the_key() {
    assert!(key_error("[analysis]\nperiod = \"fortnight\"").starts_with("analysis.period:"));
    assert!(key_error("[analysis]\nbenchmark_year = 2022").starts_with("analysis.benchmark_year:"));
    assert!(key_error("[analysis]\nsince = \"2025-02-01\"\nuntil = \"2025-01-01\"").starts_with("analysis.since:"));
    assert!(key_error("[analysis]\nsince = \"01/02/2025\"").starts_with("analysis.since:"));
    assert!(key_error("[analysis]\nincident_link_hours = -1.0").starts_with("analysis.incident_link_hours:"));
    assert!(key_error("[[services]]\nname = \"a\"\n[[services]]\nname = \"a\"").starts_with("services[1].name:"));
    assert!(key_error("[[services]]\nname = \"a\"\npaths = [\"src/[\"]").starts_with("services[0].paths[0]:"));
    assert!(
        key_error("[[sources]]\ntype = \"import\"\npath = \"x.csv\"\nkind = \"deploys\"")
            .starts_with("sources[0].kind:")
    );
    assert!(key_error("[[sources]]\ntype = \"servicenow\"").starts_with("sources[0].type:"));
    assert!(
        key_error("[[sources]]\ntype = \"import\"\npath = \"x\"\nkind = \"incidents\"\nformat = \"xlsx\"")
            .starts_with("sources[0].format:")
    );
}

/// Every HTTP source checks `api_url` the same way: a scheme other than http(s), or text that is not
/// a URL (a space in the host), names the key; and a field another type reads names the field.
#[test]
fn every_http_source_checks_its_api_url_and_refuses_foreign_fields_alike() {
    for (source, needs) in [
        ("github", "repo = \"acme/shop\"\n"),
        ("gitlab", "project = \"acme/shop\"\n"),
        ("pagerduty", ""),
        ("jira", "projects = [\"OPS\"]\n"),
    ] {
        for url in ["ftp://example.com", "https://exa mple.com"] {
            let text = format!("[[sources]]\ntype = \"{source}\"\n{needs}api_url = \"{url}\"\n");
            assert_eq!(key_error(&text), format!("sources[0].api_url: `{url}` is not an http(s) URL"), "{source}");
        }
    }
    for (source, needs) in [
        ("gitlab", "project = \"acme/shop\"\n"),
        ("pagerduty", ""),
        ("jira", "projects = [\"OPS\"]\napi_url = \"https://acme.atlassian.net\"\n"),
    ] {
        let text = format!("[[sources]]\ntype = \"{source}\"\n{needs}kind = \"changes\"\n");
        assert!(key_error(&text).starts_with("sources[0].kind:"), "{source}: {}", key_error(&text));
    }
}

#[test]
fn unknown_keys_and_bad_toml_are_reported_with_their_place() {
    let err = Config::from_toml("[analysis]\nperoid = \"week\"\n", now()).unwrap_err().to_string();
    assert!(err.contains("peroid"), "{err}");
    let err = Config::from_toml("[analysis\n", now()).unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn environment_overrides_the_file_and_flags_override_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flowgauge.toml");
    std::fs::write(
        &file,
        "[analysis]\nperiod = \"month\"\nbenchmark_year = 2021\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n",
    )
    .unwrap();
    let env = |k: &str| match k {
        "FLOWGAUGE_PERIOD" => Some("week".to_string()),
        "FLOWGAUGE_BENCHMARK_YEAR" => Some("2024".to_string()),
        _ => None,
    };
    let cfg = Config::load(Some(&file), &env, &Overrides::default(), now()).unwrap();
    assert_eq!(cfg.analysis.period, Grain::Week);
    let numeric_path = |k: &str| (k == "FLOWGAUGE_WORKSPACE").then(|| "2025".to_string());
    let cfg2 = Config::load(Some(&file), &numeric_path, &Overrides::default(), now()).unwrap();
    assert_eq!(cfg2.workspace.as_deref(), Some(Path::new("2025")));
    assert_eq!(cfg.analysis.benchmark_year, BenchmarkYear::Y2024);
    let flags = Overrides { period: Some("quarter".into()), since: Some("2025-06-01".into()), ..Default::default() };
    let cfg = Config::load(Some(&file), &env, &flags, now()).unwrap();
    assert_eq!(cfg.analysis.period, Grain::Quarter);
    assert_eq!(cfg.analysis.window.since.to_rfc3339(), "2025-06-01T00:00:00+00:00");
}

#[test]
fn a_missing_file_is_a_configuration_error() {
    let err = Config::load(Some(Path::new("/nonexistent/flowgauge.toml")), &|_| None, &Overrides::default(), now())
        .unwrap_err();
    assert!(matches!(err, Error::ConfigSyntax { .. }), "{err}");
}

#[test]
fn the_starter_file_is_valid() {
    Config::from_toml(flowgauge::config::STARTER, now()).unwrap();
}

#[test]
fn import_paths_are_relative_to_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flowgauge.toml");
    std::fs::write(&file, "[[sources]]\ntype = \"import\"\npath = \"data/d.csv\"\nkind = \"deployments\"\n").unwrap();
    let cfg = Config::load(Some(&file), &|_| None, &Overrides::default(), now()).unwrap();
    let flowgauge::config::Source::Import(source) = &cfg.sources[0] else { panic!("expected an import source") };
    assert_eq!(source.path, dir.path().join("data/d.csv"));
}
