//! GitHub sources read from recorded raw pages (`recorded` in a github source): the setting is
//! validated and read relative to the configuration file.

use std::path::Path;

use flowgauge::config::{Config, Overrides, Source};
use flowgauge::store::Workspace;
use flowgauge::{Error, collect};

use crate::helpers::now;

fn key_error(dir: &Path, source: &str) -> (String, String) {
    let file = dir.join("flowgauge.toml");
    std::fs::write(&file, format!("[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n\n[[sources]]\n{source}"))
        .unwrap();
    match Config::load(Some(&file), &|_| None, &Overrides::default(), now()) {
        Err(Error::ConfigValue { key, message }) => (key, message),
        Err(other) => panic!("not a value error: {other}"),
        Ok(_) => panic!("accepted: {source}"),
    }
}

#[test]
fn recorded_is_validated_and_relative_to_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let github = "type = \"github\"\nrepo = \"acme/shop\"\n";

    let (key, message) = key_error(dir.path(), &format!("{github}recorded = \"pages\"\n"));
    assert_eq!(key, "sources[0].recorded");
    let missing = dir.path().join("pages");
    assert!(message.contains(&missing.display().to_string()) && message.contains("does not exist"), "{message}");

    std::fs::write(dir.path().join("file"), "").unwrap();
    let (key, message) = key_error(dir.path(), &format!("{github}recorded = \"file\"\n"));
    assert_eq!(key, "sources[0].recorded");
    assert!(message.contains("is not a directory"), "{message}");

    std::fs::create_dir(&missing).unwrap();
    for (extra, field) in [
        ("api_url = \"https://github.example.com/api/v3\"\n", "api_url"),
        ("max_wait_seconds = 10\n", "max_wait_seconds"),
        ("incident_labels = [\"outage\"]\n", "incident_labels"),
    ] {
        let (key, message) = key_error(dir.path(), &format!("{github}recorded = \"pages\"\n{extra}"));
        assert_eq!(key, format!("sources[0].{field}"));
        assert!(message.contains("recorded"), "{message}");
    }
    for other in ["type = \"import\"\npath = \"x.csv\"\nkind = \"deployments\"\n", "type = \"git\"\npath = \".\"\n"] {
        let (key, message) = key_error(dir.path(), &format!("{other}recorded = \"pages\"\n"));
        assert_eq!(key, "sources[0].recorded");
        assert!(message.contains("github"), "{message}");
    }
    let file = dir.path().join("flowgauge.toml");
    std::fs::write(&file, format!("[[sources]]\n{github}recorded_pages = \"pages\"\n")).unwrap();
    let error = Config::load(Some(&file), &|_| None, &Overrides::default(), now()).unwrap_err().to_string();
    assert!(error.contains("recorded_pages"), "unknown keys are denied: {error}");

    // Accepted, and resolved against the configuration file's directory.
    std::fs::write(
        &file,
        format!(
            "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n\n[[sources]]\n{github}recorded = \"pages\"\n"
        ),
    )
    .unwrap();
    let config = Config::load(Some(&file), &|_| None, &Overrides::default(), now()).unwrap();
    match &config.sources[0] {
        Source::Github(g) => assert_eq!(g.recorded.as_deref(), Some(missing.as_path())),
        _ => panic!("not a github source"),
    }

    // A directory with no pages for the repository fails when collecting, naming where it looked.
    let ws_dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(ws_dir.path()).unwrap();
    let error = collect::collect_configured(&mut ws, &config).unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error}");
    assert!(error.to_string().contains(&missing.join("acme/shop").display().to_string()), "{error}");
}
