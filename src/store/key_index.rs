//! A small index of the keys in one partition file, so that an upsert of new rows can tell that a
//! partition does not hold them without reading the partition.
//!
//! An upsert whose keys are all new appends a file to the partition rather than rewriting it (see
//! the module above); to know that the keys are new it once read every key of the partition, which
//! for a partition of a million rows cost more than writing a thousand. Beside each partition file
//! (`part-….parquet`) lies its index (`part-….keys`, listed in the manifest with its file): the
//! 64-bit FNV-1a hashes of the file's keys, sorted, after an 8-byte header. Looking up a thousand
//! keys reads about `1,000 × log₂(rows)` eight-byte slots, not the file. Two keys may share a hash:
//! a hash found means "may hold the key", and the partition is then read and written whole as
//! before, so a collision costs time, never a wrong row.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use super::storage::Storage;
use crate::error::{Error, Result};
use crate::model::TableSchema;

/// Starts every index file: the format, so that a later one can change it.
const HEADER: &[u8; 8] = b"FGKEYS1\n";
const SLOT: u64 = 8;
/// Below this many slots per key looked up, reading the whole index is cheaper than seeking.
const SLOTS_PER_LOOKUP_TO_READ_WHOLE: u64 = 64;

/// The index file of a partition file: its name with `.keys` for `.parquet`.
pub fn index_name(file: &str) -> String {
    format!("{}.keys", file.strip_suffix(".parquet").unwrap_or(file))
}

/// Rows hashed by one task (slices of a large frame are hashed on every core, then joined in order).
const ROWS_PER_TASK: usize = 65_536;

/// The key hash of each row of `df` (a frame with the table's key columns), in row order.
pub fn key_hashes(schema: &TableSchema, df: &DataFrame) -> Result<Vec<u64>> {
    if df.height() <= ROWS_PER_TASK {
        return key_hashes_of_rows(schema, df);
    }
    let starts: Vec<usize> = (0..df.height()).step_by(ROWS_PER_TASK).collect();
    let slices: Vec<Vec<u64>> = starts
        .par_iter()
        .map(|&start| key_hashes_of_rows(schema, &df.slice(start as i64, ROWS_PER_TASK)))
        .collect::<Result<_>>()?;
    Ok(slices.concat())
}

pub(super) fn key_hashes_of_rows(schema: &TableSchema, df: &DataFrame) -> Result<Vec<u64>> {
    let columns: Vec<&StringChunked> =
        schema.key.iter().map(|k| Ok(df.column(k)?.str()?)).collect::<Result<Vec<_>>>()?;
    let mut iterators: Vec<_> = columns.iter().map(|c| c.iter()).collect();
    let mut hashes = Vec::with_capacity(df.height());
    for _ in 0..df.height() {
        let mut hash = FNV_OFFSET;
        for (n, values) in iterators.iter_mut().enumerate() {
            if n > 0 {
                hash = fnv(hash, &[0x1f]);
            }
            // Key columns are required: a missing value hashes like an empty one.
            hash = fnv(hash, values.next().flatten().unwrap_or_default().as_bytes());
        }
        hashes.push(hash);
    }
    Ok(hashes)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The bytes of the index of a file whose rows have these key hashes.
pub fn encode(mut hashes: Vec<u64>) -> Vec<u8> {
    hashes.sort_unstable();
    hashes.dedup();
    let mut bytes = Vec::with_capacity(HEADER.len() + hashes.len() * SLOT as usize);
    bytes.extend_from_slice(HEADER);
    for hash in hashes {
        bytes.extend_from_slice(&hash.to_le_bytes());
    }
    bytes
}

/// Whether the index `file` of the workspace in `storage` may hold any of `hashes` (sorted). A
/// local index is searched in place; an object store's is fetched whole (one request, rather than
/// one per step of a binary search).
pub fn holds_any(storage: &Storage, file: &str, hashes: &[u64]) -> Result<bool> {
    match storage {
        Storage::Local(root) => holds_any_in_file(&root.join(file), hashes),
        Storage::Object(object) => {
            let bytes = object.get(file)?;
            let bad = || Error::Workspace { path: object.url_of(file).into(), message: "is not a key index".into() };
            let slots =
                bytes.strip_prefix(HEADER.as_slice()).filter(|s| s.len() % SLOT as usize == 0).ok_or_else(bad)?;
            let stored: Vec<u64> =
                slots.chunks_exact(SLOT as usize).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
            Ok(hashes.iter().any(|h| stored.binary_search(h).is_ok()))
        }
    }
}

/// Whether the index at `path` may hold any of `hashes` (sorted): `true` when one of them is in it.
fn holds_any_in_file(path: &Path, hashes: &[u64]) -> Result<bool> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let length = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let bad = || Error::Workspace { path: path.to_path_buf(), message: "is not a key index".into() };
    let mut header = [0u8; 8];
    file.read_exact(&mut header).map_err(|_| bad())?;
    if &header != HEADER || !(length - SLOT).is_multiple_of(SLOT) {
        return Err(bad());
    }
    let slots = (length - SLOT) / SLOT;
    if slots == 0 || hashes.is_empty() {
        return Ok(false);
    }
    let lookups = hashes.len() as u64 * (64 - slots.leading_zeros() as u64);
    if slots <= lookups.saturating_mul(SLOTS_PER_LOOKUP_TO_READ_WHOLE) {
        let mut bytes = Vec::with_capacity((slots * SLOT) as usize);
        file.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        let stored: Vec<u64> =
            bytes.chunks_exact(SLOT as usize).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
        return Ok(hashes.iter().any(|h| stored.binary_search(h).is_ok()));
    }
    for hash in hashes {
        if search(&file, path, slots, *hash)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Binary search of the sorted slots, reading one slot per step.
fn search(file: &File, path: &Path, slots: u64, hash: u64) -> Result<bool> {
    use std::os::unix::fs::FileExt;
    let (mut low, mut high) = (0u64, slots);
    let mut slot = [0u8; 8];
    while low < high {
        let middle = low + (high - low) / 2;
        file.read_exact_at(&mut slot, SLOT + middle * SLOT).map_err(|e| Error::io(path, e))?;
        match u64::from_le_bytes(slot).cmp(&hash) {
            std::cmp::Ordering::Equal => return Ok(true),
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    #[test]
    fn an_index_finds_the_keys_of_its_file_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-1.keys");
        let rows = 5_000;
        let ids: Vec<String> = (0..rows).map(|i| format!("import:change:{i}")).collect();
        let shas: Vec<String> = (0..rows).map(|i| format!("{i:040x}")).collect();
        let df = DataFrame::new(rows, vec![Column::new("change_id".into(), &ids), Column::new("sha".into(), &shas)])
            .unwrap();
        let hashes = key_hashes(&model::CHANGE_COMMITS, &df).unwrap();
        std::fs::write(&path, encode(hashes.clone())).unwrap();
        // One key looked up seeks; many read the whole index: both find every key.
        for present in [&hashes[4_321..4_322], &hashes[..]] {
            let mut sorted = present.to_vec();
            sorted.sort_unstable();
            assert!(holds_any_in_file(&path, &sorted).unwrap());
        }
        let other = DataFrame::new(
            2,
            vec![
                Column::new("change_id".into(), ["import:change:1", "import:change:5000"]),
                // The key is the pair: the sha of another row is another key.
                Column::new("sha".into(), [format!("{:040x}", 2), format!("{:040x}", 5000)]),
            ],
        )
        .unwrap();
        let mut absent = key_hashes(&model::CHANGE_COMMITS, &other).unwrap();
        absent.sort_unstable();
        assert!(!holds_any_in_file(&path, &absent[..1]).unwrap());
        assert!(!holds_any_in_file(&path, &absent).unwrap());
        assert_eq!(index_name("tables/x/scope=a/part-1.parquet"), "tables/x/scope=a/part-1.keys");
    }
}
