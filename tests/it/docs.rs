//! Documentation that must not drift from the code.

use crate::helpers::repo_root;

#[test]
fn every_column_is_documented_in_the_data_model() {
    let doc = std::fs::read_to_string(repo_root().join("docs/data-model.md")).expect("docs/data-model.md exists");
    for table in flowgauge::model::TABLES {
        let heading = format!("## `{}`", table.name);
        let start = doc.find(&heading).unwrap_or_else(|| panic!("no section {heading}"));
        let section = &doc[start + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        for column in table.columns {
            let cell = format!("| `{}` |", column.name);
            assert!(section.contains(&cell), "docs/data-model.md: {heading} lacks a row for {cell}");
        }
    }
}

#[test]
fn every_query_file_is_embedded() {
    let mut on_disk: Vec<String> = std::fs::read_dir(repo_root().join("queries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = flowgauge::metrics::queries::EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
    embedded.sort();
    assert_eq!(on_disk, embedded);
}

/// The reasons a record query can give, read from the `CASE … END AS reason` of its SQL.
fn reasons_in(sql: &str) -> Vec<String> {
    let end = sql.find("END AS reason").expect("a record query ends its reason CASE with `END AS reason`");
    let case = &sql[sql[..end].rfind("CASE").expect("the reason is a CASE")..end];
    let mut out = Vec::new();
    for keyword in ["THEN '", "ELSE '"] {
        for (at, _) in case.match_indices(keyword) {
            let rest = &case[at + keyword.len()..];
            out.push(rest[..rest.find('\'').expect("a closed literal")].to_string());
        }
    }
    out
}

#[test]
fn every_reason_a_record_query_gives_is_documented() {
    let doc = std::fs::read_to_string(repo_root().join("docs/metrics.md")).expect("docs/metrics.md exists");
    let queries = flowgauge::metrics::queries::load(None).unwrap();
    let records: Vec<_> = queries.iter().filter(|q| q.grain == flowgauge::metrics::QueryGrain::Record).collect();
    assert_eq!(records.len(), 3);
    for query in records {
        let reasons = reasons_in(&query.sql);
        assert!(reasons.contains(&"counted".to_string()), "{}: {reasons:?}", query.file);
        for reason in reasons {
            assert!(
                doc.contains(&format!("| `{reason}` |")),
                "docs/metrics.md lacks a row for {}'s reason `{reason}`",
                query.file
            );
        }
    }
}

#[test]
fn every_incident_link_is_documented_with_its_precedence() {
    let doc = std::fs::read_to_string(repo_root().join("docs/metrics.md")).expect("docs/metrics.md exists");
    let section = &doc[doc.find("### Linking incidents to deployments").expect("the linking section")..];
    let section = &section[..section[4..].find("\n## ").map(|i| i + 4).unwrap_or(section.len())];
    let mut position = 0;
    for link in flowgauge::metrics::prepare::INCIDENT_LINKS {
        let bullet = format!("* **{link}**:");
        let at = section.find(&bullet).unwrap_or_else(|| panic!("docs/metrics.md does not define {bullet}"));
        assert!(at > position, "{link} is not listed in the order the rules are tried");
        position = at;
        let explain = &section[section.find("`explain time-to-restore`").unwrap()..];
        assert!(explain.contains(&format!("`{link}`")), "the explain sentence does not list `{link}`");
    }
}

/// Calendar, configuration, model and errors are the vocabulary every layer shares; they must not
/// reach up into the layers that use them (`src/lib.rs`).
#[test]
fn the_shared_vocabulary_depends_on_nothing_above_it() {
    let allowed: &[(&str, &[&str])] = &[
        ("error", &[]),
        ("calendar", &[]),
        ("model", &[]),
        ("import_spec", &["model"]),
        ("config", &["calendar", "error", "import_spec", "model"]),
        ("spreadsheet", &[]),
    ];
    for (module, may_use) in allowed {
        let text = std::fs::read_to_string(repo_root().join(format!("src/{module}.rs")))
            .unwrap_or_else(|e| panic!("src/{module}.rs: {e}: moved? update this list"));
        for (at, _) in text.match_indices("crate::") {
            let used: String =
                text[at + "crate::".len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            assert!(may_use.contains(&used.as_str()), "src/{module}.rs uses crate::{used}");
        }
    }
}
