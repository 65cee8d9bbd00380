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
