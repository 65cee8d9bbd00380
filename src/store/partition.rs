//! Where a row lives in the partitioned workspace.
//!
//! Every table is split into *partitions* by *scope*: the source and, where its ids name one, the
//! repository or project a row came from (`github:acme/shop`, `gitlab:group/app`, `import`,
//! `pagerduty`). The scope is derived from the value of the table's first key column alone, so a key
//! always lands in the same partition and an upsert never has to look for it anywhere else. A
//! partition is one parquet file under `tables/<table>/scope=<scope>/`, the scope written the way
//! Hive, Spark and DuckDB write partition values (every byte outside `A-Z a-z 0-9 . _ -` as `%XX`).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::Result;
use crate::model::TableSchema;

/// Namespaces whose ids name their repository or project first, without a noun before it
/// (`scan:<repo>:<path>:…`, `ownership:<repo>:…`), even when it has no `/` in it.
const REPOSITORY_FIRST: &[&str] = &["scan", "ownership"];

/// The scope of every table without a source of its own (`services`, which mirrors the configuration).
const WHOLE_TABLE: &str = "all";

/// The scope of the row whose first key column holds `key`.
///
/// * `commits` and `commit_files` (keyed by repository): the repository.
/// * `services`: one partition, `all`.
/// * Every other table is keyed by a namespaced id (or a reference to one): its namespace, followed
///   by `:<repository>` when the id names one — the segment after the namespace, or after the
///   namespace and a noun, that contains a `/` (cut at `#`, `@` or `!`: `github:pr:acme/shop#12` is
///   in `github:acme/shop`); for `scan` and `ownership` ids the segment after the namespace.
///   An id without a repository (`import:deployment:42`, `pagerduty:incident:P1`) is in its
///   namespace's scope (`import`, `pagerduty`).
pub fn scope_of(schema: &TableSchema, key: &str) -> String {
    match schema.key[0] {
        "repo" => key.to_string(),
        "service" => WHOLE_TABLE.to_string(),
        _ => id_scope(key),
    }
}

fn id_scope(id: &str) -> String {
    let segments: Vec<&str> = id.split(':').collect();
    let namespace = segments[0];
    match repository_segment(namespace, &segments[1..]) {
        Some(repository) => format!("{namespace}:{repository}"),
        None => namespace.to_string(),
    }
}

/// The repository an id's segments after its namespace name, if any.
fn repository_segment<'a>(namespace: &str, rest: &[&'a str]) -> Option<&'a str> {
    let cut = |segment: &'a str| segment.split(['#', '@', '!']).next().unwrap_or(segment);
    let first = rest.first()?;
    if first.contains('/') || REPOSITORY_FIRST.contains(&namespace) {
        return Some(cut(first)).filter(|s| !s.is_empty());
    }
    rest.get(1).copied().filter(|s| s.contains('/')).map(cut)
}

/// Whether a partition of `schema` in `scope` may hold rows whose first key column starts with
/// `prefix`: what [`crate::store::Workspace::replace_prefixed`] must read. When the prefix names its
/// scope wholly (`git:tag:acme/shop:`, `scan:acme/shop:`) only that scope; when it names only a
/// namespace, that namespace's scopes; otherwise every scope.
pub fn prefix_may_reach(schema: &TableSchema, prefix: &str, scope: &str) -> bool {
    if schema.key[0] == "repo" || schema.key[0] == "service" {
        return true;
    }
    let mut segments: Vec<&str> = prefix.split(':').collect();
    // The text after the last `:` may go on in an id: only the segments before it are whole.
    segments.pop();
    let Some((namespace, rest)) = segments.split_first() else {
        return true;
    };
    let in_namespace = scope == *namespace || scope.starts_with(&format!("{namespace}:"));
    if !in_namespace {
        return false;
    }
    // The repository is decided by the first segment, or by the first two: both must be whole.
    let decided = match rest.first() {
        Some(first) => first.contains('/') || REPOSITORY_FIRST.contains(namespace) || rest.len() >= 2,
        None => false,
    };
    if !decided {
        return true;
    }
    let expected = match repository_segment(namespace, rest) {
        Some(repository) => format!("{namespace}:{repository}"),
        None => namespace.to_string(),
    };
    scope == expected
}

/// The directory name of a scope's partition: `scope=` and the scope, percent-encoded.
pub fn directory(scope: &str) -> String {
    let mut encoded = String::with_capacity(scope.len() + 6);
    encoded.push_str("scope=");
    for byte in scope.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The part of a key that decides its scope: two keys with the same deciding part have the same
/// scope. A namespaced id's scope depends on its first three segments only, and on the third only
/// when it contains a `/` (see [`scope_of`]), so ids that differ after their second `:` (like
/// `import:change:1` and `import:change:2`) share it; any other key decides its scope whole.
fn deciding_part<'k>(schema: &TableSchema, key: &'k str) -> &'k str {
    if schema.key[0] == "repo" || schema.key[0] == "service" {
        return key;
    }
    let mut colons = key.match_indices(':').map(|(i, _)| i);
    let (Some(_), Some(second)) = (colons.next(), colons.next()) else {
        return key;
    };
    let third = &key[second + 1..];
    let third = third.split(':').next().unwrap_or(third);
    if third.contains('/') { key } else { &key[..=second] }
}

/// Splits a frame of `schema` rows by scope, keeping each scope's rows in their order.
pub fn split(schema: &TableSchema, df: &DataFrame) -> Result<BTreeMap<String, DataFrame>> {
    let keys = df.column(schema.key[0])?.str()?;
    let mut rows: BTreeMap<String, Vec<IdxSize>> = BTreeMap::new();
    // Rows of one scope usually come together: remember the last scope to skip most lookups.
    let mut last: Option<(String, String)> = None;
    for (i, key) in keys.iter().enumerate() {
        let key = key.unwrap_or_default();
        let decides = deciding_part(schema, key);
        let scope = match &last {
            Some((d, s)) if d == decides => s.clone(),
            _ => {
                let s = scope_of(schema, key);
                last = Some((decides.to_string(), s.clone()));
                s
            }
        };
        rows.entry(scope).or_default().push(i as IdxSize);
    }
    if rows.len() == 1 {
        let (scope, _) = rows.into_iter().next().expect("one scope");
        return Ok(BTreeMap::from([(scope, df.clone())]));
    }
    rows.into_iter().map(|(scope, indices)| Ok((scope, df.take(&IdxCa::from_vec("".into(), indices))?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    #[test]
    fn ids_are_scoped_by_namespace_and_repository() {
        let scope = |id| scope_of(&model::CHANGES, id);
        assert_eq!(scope("github:pr:acme/shop#12"), "github:acme/shop");
        assert_eq!(scope("github:acme/shop:environment:prod"), "github:acme/shop");
        assert_eq!(scope("git:commit:acme/shop@abc1234"), "git:acme/shop");
        assert_eq!(scope("git:tag:shop:v1.2"), "git");
        assert_eq!(scope("scan:shop:.github/workflows/ci.yml:3:tests"), "scan:shop");
        assert_eq!(scope("gitlab:mr:group/sub/app!7"), "gitlab:group/sub/app");
        assert_eq!(scope("import:deployment:42"), "import");
        assert_eq!(scope("pagerduty:incident:P1"), "pagerduty");
        assert_eq!(scope("plain"), "plain");
        assert_eq!(scope_of(&model::COMMITS, "acme/shop"), "acme/shop");
        assert_eq!(scope_of(&model::SERVICES, "checkout"), "all");
    }

    #[test]
    fn keys_with_the_same_deciding_part_have_the_same_scope() {
        let ids = [
            "github:pr:acme/shop#12",
            "github:acme/shop:environment:prod",
            "git:commit:acme/shop@abc1234",
            "git:tag:shop:v1.2",
            "git:tag:acme/shop:v1.2",
            "scan:shop:.github/workflows/ci.yml:3:tests",
            "scan:shop:README.md:1:x",
            "import:deployment:42",
            "import:deployment:a/b",
            "import:deployment",
            "plain",
            "ownership:acme/shop:x",
        ];
        for a in ids {
            for b in ids {
                if deciding_part(&model::CHANGES, a) == deciding_part(&model::CHANGES, b) {
                    assert_eq!(scope_of(&model::CHANGES, a), scope_of(&model::CHANGES, b), "{a} {b}");
                }
            }
        }
        assert_eq!(deciding_part(&model::CHANGES, "import:change:123"), "import:change:");
    }

    #[test]
    fn a_prefix_reaches_only_the_scopes_its_ids_can_be_in() {
        fn reach(prefix: &str, scope: &str) -> bool {
            prefix_may_reach(&model::EVIDENCE, prefix, scope)
        }
        assert!(reach("git:tag:acme/shop:", "git:acme/shop"));
        assert!(!reach("git:tag:acme/shop:", "git:acme/web"));
        assert!(reach("scan:shop:", "scan:shop"));
        assert!(!reach("scan:shop:", "scan:web"));
        assert!(reach("github:", "github:acme/web"));
        assert!(!reach("github:", "gitlab:acme/web"));
        assert!(reach("git:tag:", "git:acme/web"));
        assert!(reach("gi", "gitlab:x/y"));
        // Every id the prefix starts lands where the prefix says.
        for (prefix, id) in [("git:tag:acme/shop:", "git:tag:acme/shop:v1"), ("scan:shop:", "scan:shop:a/b:1:x")] {
            assert!(reach(prefix, &scope_of(&model::EVIDENCE, id)), "{prefix} {id}");
        }
    }

    #[test]
    fn scope_directories_are_hive_escaped() {
        assert_eq!(directory("github:acme/shop"), "scope=github%3Aacme%2Fshop");
        assert_eq!(directory("import"), "scope=import");
    }
}
