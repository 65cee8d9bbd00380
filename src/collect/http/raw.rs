//! The raw layer of an HTTP API source: every page body is written to the workspace, atomically and
//! numbered in fetch order, before its rows are extracted, so rows can always be rebuilt from the
//! pages with no network. Nothing here knows which API the pages came from.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The raw pages of a resource, in the order they were fetched.
pub fn raw_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut pages: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    pages.sort();
    Ok(pages)
}

/// Numbers the raw pages of each directory. A directory is listed once per collection, not once per
/// page: a repository with thousands of workflow runs keeps thousands of jobs pages.
#[derive(Default)]
pub struct RawPages {
    next: std::collections::HashMap<PathBuf, u64>,
}

impl RawPages {
    /// Writes a page body atomically as the next page of `dir`.
    pub fn write(&mut self, dir: &Path, body: &str) -> Result<PathBuf> {
        let next = match self.next.get(dir) {
            Some(n) => *n,
            None => {
                raw_pages(dir)?.last().and_then(|p| p.file_stem()?.to_str()?.parse::<u64>().ok()).map_or(1, |n| n + 1)
            }
        };
        let path = write_raw(dir, next, body)?;
        self.next.insert(dir.to_path_buf(), next + 1);
        Ok(path)
    }
}

/// Writes a page body atomically (temporary file, sync, rename) as page `next` of `dir`.
pub fn write_raw(dir: &Path, next: u64, body: &str) -> Result<PathBuf> {
    write_raw_named(dir, &format!("{next:08}.json"), body)
}

/// Writes a page atomically (temporary file, sync, rename) under a given name.
pub fn write_raw_named(dir: &Path, name: &str, body: &str) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(body.as_bytes()).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// A raw page's body and its JSON; `source_error` makes the error of a page that is not JSON (it
/// names the source the page belongs to).
pub fn read_json(path: &Path, source_error: impl FnOnce(String) -> Error) -> Result<(String, serde_json::Value)> {
    let body = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let json = serde_json::from_str(&body)
        .map_err(|e| source_error(format!("raw page {} is not JSON: {e}", path.display())))?;
    Ok((body, json))
}

/// The newest raw page of a snapshot resource, the state it was in when last read.
pub fn last_json(dir: &Path, source_error: impl FnOnce(String) -> Error) -> Result<Option<serde_json::Value>> {
    match raw_pages(dir)?.last() {
        Some(path) => Ok(Some(read_json(path, source_error)?.1)),
        None => Ok(None),
    }
}
