//! Integer codes for the text keys `change_lead_times` joins and groups on.
//!
//! That query joins and groups millions of rows by change id, deployment id and commit sha. On text
//! keys its hash tables hold 20- to 40-byte strings whose probes miss the processor caches more
//! often as the tables grow, so its cost grew faster than the data (`docs/metrics.md`,
//! "Performance"). Here each text key is coded once, in one pass over each column, and the SQL joins
//! on 4-byte codes; the text columns stay beside them for the queries' output. The codes are
//! columns of the prepared tables like any other, so the SQL stays the definition and runs the same
//! on every engine the tables are exported to.
//!
//! | table | column | codes |
//! |---|---|---|
//! | `changes`, `change_commits`, `reviews` | `change_key` | the change's `id` / `change_id` |
//! | `deploys`, `shipped` | `deployment_key` | the deployment id, in the order of the text |
//! | `shipped`, `change_commits` | `commit_key` | the commit `sha` |
//! | `changes` | `merge_commit_key` | `merge_commit_sha`, coded like `commit_key` |
//!
//! A value the coded table does not hold (a review of a change that is not in `changes`, a commit
//! no deployment shipped) has an empty code: it could not have matched the text in a join either.

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;

/// `changes.id`, `change_commits.change_id`, `reviews.change_id`.
pub const CHANGE_KEY: &str = "change_key";
/// `deploys.deployment_id`, `shipped.deployment_id`.
pub const DEPLOYMENT_KEY: &str = "deployment_key";
/// `shipped.sha`, `change_commits.sha`.
pub const COMMIT_KEY: &str = "commit_key";
/// `changes.merge_commit_sha`.
pub const MERGE_COMMIT_KEY: &str = "merge_commit_key";

/// Dense codes of the distinct texts of a column.
struct Codes<'a> {
    of: PlHashMap<&'a str, i32>,
}

impl<'a> Codes<'a> {
    /// Numbered in the byte order of the text, so that the smallest code is the code of the smallest
    /// text (`MIN(deployment_key)` picks the deployment `MIN(deployment_id)` would), and the same
    /// texts get the same codes in whatever order the rows were read (an export of a workspace
    /// collected in shards is the export of the same workspace collected whole).
    fn in_text_order(column: &'a StringChunked) -> Result<Codes<'a>> {
        let mut texts: Vec<&str> = column.iter().flatten().collect();
        texts.par_sort_unstable();
        texts.dedup();
        let mut of = PlHashMap::with_capacity(texts.len());
        for (code, text) in texts.into_iter().enumerate() {
            of.insert(text, next_code(code)?);
        }
        Ok(Codes { of })
    }

    /// The code of every value of `column`, empty where the value is empty or not coded. Each chunk
    /// of the column is coded on its own core.
    fn code(&self, column: &StringChunked, name: &str) -> Result<Column> {
        let arrays: Vec<_> = column.downcast_iter().collect();
        let coded: Vec<Int32Chunked> = arrays
            .par_iter()
            .map(|array| {
                let codes = array.iter().map(|text| text.and_then(|t| self.of.get(t).copied()));
                Int32Chunked::from_iter_options(name.into(), codes)
            })
            .collect();
        let mut chunks = coded.into_iter();
        let mut whole = chunks.next().unwrap_or_else(|| Int32Chunked::full_null(name.into(), 0));
        for chunk in chunks {
            whole.append_owned(chunk)?;
        }
        Ok(whole.into_column())
    }
}

/// The code of the text after `count` distinct ones, as a 4-byte integer: a table with more than
/// 2^31 distinct ids is an error that says so, not codes that wrap around.
fn next_code(count: usize) -> Result<i32> {
    i32::try_from(count)
        .map_err(|_| PolarsError::ComputeError("more than 2^31 distinct ids to code as 4-byte integers".into()).into())
}

fn text<'a>(frame: &'a DataFrame, column: &str) -> Result<&'a StringChunked> {
    Ok(frame.column(column)?.str()?)
}

/// The prepared frames that carry codes, before and after.
pub struct Coded<'f> {
    pub changes: &'f mut DataFrame,
    pub change_commits: &'f mut DataFrame,
    pub reviews: &'f mut DataFrame,
    pub deploys: &'f mut DataFrame,
    pub shipped: &'f mut DataFrame,
}

/// Adds the code columns of the module's table to the frames.
pub fn add_codes(frames: Coded<'_>) -> Result<()> {
    // Cheap copies (the columns are shared) that the dictionaries borrow from while the frames change.
    let (change_ids, deployment_ids, shipped_shas) = (
        text(frames.changes, "id")?.clone(),
        text(frames.deploys, "deployment_id")?.clone(),
        text(frames.shipped, "sha")?.clone(),
    );
    let changes = Codes::in_text_order(&change_ids)?;
    let deployments = Codes::in_text_order(&deployment_ids)?;
    // Only a shipped commit can join `shipped`: the others need no code.
    let commits = Codes::in_text_order(&shipped_shas)?;

    let merge_commits = commits.code(text(frames.changes, "merge_commit_sha")?, MERGE_COMMIT_KEY)?;
    frames.changes.with_column(changes.code(&change_ids, CHANGE_KEY)?)?;
    frames.changes.with_column(merge_commits)?;
    let (by_change, by_commit) = (
        changes.code(text(frames.change_commits, "change_id")?, CHANGE_KEY)?,
        commits.code(text(frames.change_commits, "sha")?, COMMIT_KEY)?,
    );
    frames.change_commits.with_column(by_change)?;
    frames.change_commits.with_column(by_commit)?;
    let reviewed = changes.code(text(frames.reviews, "change_id")?, CHANGE_KEY)?;
    frames.reviews.with_column(reviewed)?;
    frames.deploys.with_column(deployments.code(&deployment_ids, DEPLOYMENT_KEY)?)?;
    let (shipped_by, shipped_commit) = (
        deployments.code(text(frames.shipped, "deployment_id")?, DEPLOYMENT_KEY)?,
        commits.code(&shipped_shas, COMMIT_KEY)?,
    );
    frames.shipped.with_column(shipped_by)?;
    frames.shipped.with_column(shipped_commit)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(values: &[Option<&str>]) -> StringChunked {
        StringChunked::from_iter_options("t".into(), values.iter().copied())
    }

    fn codes(column: Column) -> Vec<Option<i32>> {
        column.i32().unwrap().iter().collect()
    }

    #[test]
    fn codes_in_text_order_keep_the_order_of_the_texts() {
        let ids = texts(&[Some("d-9"), Some("d-10"), None, Some("d-9"), Some("a")]);
        let coded = codes(Codes::in_text_order(&ids).unwrap().code(&ids, "k").unwrap());
        // "a" < "d-10" < "d-9" byte-wise, as SQL's MIN compares text.
        assert_eq!(coded, [Some(2), Some(1), None, Some(2), Some(0)]);
    }

    #[test]
    fn equal_texts_share_a_code_and_unknown_or_empty_texts_have_none() {
        let ids = texts(&[Some("x"), Some("y"), Some("x")]);
        let dictionary = Codes::in_text_order(&ids).unwrap();
        assert_eq!(codes(dictionary.code(&ids, "k").unwrap()), [Some(0), Some(1), Some(0)]);
        let other = texts(&[Some("y"), Some("z"), None, Some("x")]);
        assert_eq!(codes(dictionary.code(&other, "k").unwrap()), [Some(1), None, None, Some(0)]);
    }
}
