//! A small index of the keys in one partition file and of the rows holding them, so that an upsert
//! can tell which of its rows a partition holds already, and whether they changed, without reading
//! the partition.
//!
//! An upsert appends a file of its new and changed rows to the partition rather than rewriting it
//! (see the module above); to know which rows are new, changed or unchanged it once read every key
//! of the partition, which for a partition of a million rows cost more than writing a thousand.
//! Beside each partition file (`part-….parquet`) lies its index (`part-….keys`, listed in the
//! manifest with its file): after an 8-byte header, the 64-bit FNV-1a hash of each row's key,
//! sorted, then each row's 128-bit hash (the one [`super::content_hash`] sums) in the same order.
//! Looking up a thousand keys reads about `1,000 × log₂(rows)` key hashes and the row hashes of the
//! keys found, not the file.
//! Two keys may share a hash: two rows of one file with the same key hash make the index unable to
//! say which row a key has, and the partition is then read and written whole; a new key taking the
//! hash of a key the partition holds is taken for an update of it (see the module above for why
//! no row is lost or doubled then).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;

use super::storage::Storage;
use crate::error::{Error, Result};
use crate::model::TableSchema;

/// Starts every index file: the format. Version 1 held only the key hashes; an index of that
/// version makes the upsert read the partition (and write it whole, with a version 2 index).
const HEADER: &[u8; 8] = b"FGKEYS2\n";
const HEADER_V1: &[u8; 8] = b"FGKEYS1\n";
/// The bytes of one row's key hash and of its row hash, little-endian: all key hashes come first
/// (sorted), then the row hashes in the same order, so that a lookup reads only key hashes, and the
/// row hashes of the keys it finds.
const KEY: u64 = 8;
const ROW: u64 = 16;
/// Below this many key hashes per key looked up, reading all of them is cheaper than seeking.
const KEYS_PER_LOOKUP_TO_READ_WHOLE: u64 = 64;

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

/// The bytes of the index of a file whose rows have these key hashes and row hashes (in row order).
pub fn encode(key_hashes: &[u64], row_hashes: &[u128]) -> Vec<u8> {
    let mut entries: Vec<(u64, u128)> = key_hashes.iter().copied().zip(row_hashes.iter().copied()).collect();
    entries.sort_unstable();
    let mut bytes = Vec::with_capacity(HEADER.len() + entries.len() * (KEY + ROW) as usize);
    bytes.extend_from_slice(HEADER);
    for (key, _) in &entries {
        bytes.extend_from_slice(&key.to_le_bytes());
    }
    for (_, row) in &entries {
        bytes.extend_from_slice(&row.to_le_bytes());
    }
    bytes
}

/// What the index `file` of the workspace in `storage` says of each of `keys` (sorted, without
/// repeats): the hash of the row holding it, or `None` when the file holds no row with that key
/// hash. `None` as a whole when the index cannot say it exactly: it is of version 1 (no row
/// hashes), or two of its rows share one of the key hashes. A local index is searched in place; an
/// object store's is fetched whole (one request, rather than one per step of a binary search).
pub fn look_up(storage: &Storage, file: &str, keys: &[u64]) -> Result<Option<Vec<Option<u128>>>> {
    match storage {
        Storage::Local(root) => look_up_in_file(&root.join(file), keys),
        Storage::Object(object) => {
            let bytes = object.get(file)?;
            let bad = || Error::Workspace { path: object.url_of(file).into(), message: "is not a key index".into() };
            if bytes.starts_with(HEADER_V1) {
                return Ok(None);
            }
            let body = bytes
                .strip_prefix(HEADER.as_slice())
                .filter(|b| b.len() % (KEY + ROW) as usize == 0)
                .ok_or_else(bad)?;
            let count = body.len() as u64 / (KEY + ROW);
            let (key_hashes, row_hashes) = body.split_at((count * KEY) as usize);
            let positions: Option<Vec<Option<u64>>> =
                keys.iter().map(|key| find(count, *key, |i| Ok(key_at(key_hashes, i)))).collect::<Result<_>>()?;
            Ok(positions.map(|found| found.into_iter().map(|at| at.map(|i| row_at(row_hashes, i))).collect()))
        }
    }
}

/// [`look_up`] in a local index file.
fn look_up_in_file(path: &Path, keys: &[u64]) -> Result<Option<Vec<Option<u128>>>> {
    use std::os::unix::fs::FileExt;
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let length = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let bad = || Error::Workspace { path: path.to_path_buf(), message: "is not a key index".into() };
    let mut header = [0u8; 8];
    file.read_exact(&mut header).map_err(|_| bad())?;
    if &header == HEADER_V1 {
        return Ok(None);
    }
    let header_length = HEADER.len() as u64;
    if &header != HEADER || !(length - header_length).is_multiple_of(KEY + ROW) {
        return Err(bad());
    }
    let count = (length - header_length) / (KEY + ROW);
    if count == 0 || keys.is_empty() {
        return Ok(Some(vec![None; keys.len()]));
    }
    let steps = keys.len() as u64 * (64 - count.leading_zeros() as u64);
    let positions: Option<Vec<Option<u64>>> = if count <= steps.saturating_mul(KEYS_PER_LOOKUP_TO_READ_WHOLE) {
        let mut key_hashes = vec![0u8; (count * KEY) as usize];
        file.read_exact(&mut key_hashes).map_err(|e| Error::io(path, e))?;
        keys.iter().map(|key| find(count, *key, |i| Ok(key_at(&key_hashes, i)))).collect::<Result<_>>()?
    } else {
        let read = |i: u64| -> Result<u64> {
            let mut bytes = [0u8; KEY as usize];
            file.read_exact_at(&mut bytes, header_length + i * KEY).map_err(|e| Error::io(path, e))?;
            Ok(u64::from_le_bytes(bytes))
        };
        keys.iter().map(|key| find(count, *key, read)).collect::<Result<_>>()?
    };
    let Some(positions) = positions else {
        return Ok(None);
    };
    // The row hashes of the keys found, each read where it is (few updates), or all at once.
    let rows_start = header_length + count * KEY;
    let found = positions.iter().flatten().count() as u64;
    let all_rows = if found.saturating_mul(KEYS_PER_LOOKUP_TO_READ_WHOLE) >= count {
        let mut bytes = vec![0u8; (count * ROW) as usize];
        file.read_exact_at(&mut bytes, rows_start).map_err(|e| Error::io(path, e))?;
        Some(bytes)
    } else {
        None
    };
    let row = |i: u64| -> Result<u128> {
        if let Some(bytes) = &all_rows {
            return Ok(row_at(bytes, i));
        }
        let mut bytes = [0u8; ROW as usize];
        file.read_exact_at(&mut bytes, rows_start + i * ROW).map_err(|e| Error::io(path, e))?;
        Ok(u128::from_le_bytes(bytes))
    };
    positions.into_iter().map(|at| at.map(row).transpose()).collect::<Result<_>>().map(Some)
}

/// The key hash `i` of the key hashes `bytes`.
fn key_at(bytes: &[u8], i: u64) -> u64 {
    let at = (i * KEY) as usize;
    u64::from_le_bytes(bytes[at..at + KEY as usize].try_into().expect("8 bytes"))
}

/// The row hash `i` of the row hashes `bytes`.
fn row_at(bytes: &[u8], i: u64) -> u128 {
    let at = (i * ROW) as usize;
    u128::from_le_bytes(bytes[at..at + ROW as usize].try_into().expect("16 bytes"))
}

/// Binary search of `count` sorted key hashes, `key_at` reading one: `Some(Some(i))`, the position
/// of the one hash equal to `key`, `Some(None)` when none is, `None` when two are (then the index
/// cannot say which row the key is).
fn find(count: u64, key: u64, key_at: impl Fn(u64) -> Result<u64>) -> Result<Option<Option<u64>>> {
    let (mut low, mut high) = (0u64, count);
    while low < high {
        let middle = low + (high - low) / 2;
        if key_at(middle)? < key {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if low == count || key_at(low)? != key {
        return Ok(Some(None));
    }
    if low + 1 < count && key_at(low + 1)? == key {
        return Ok(None);
    }
    Ok(Some(Some(low)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    #[test]
    fn an_index_finds_the_rows_of_its_file_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-1.keys");
        let rows = 5_000;
        let ids: Vec<String> = (0..rows).map(|i| format!("import:change:{i}")).collect();
        let shas: Vec<String> = (0..rows).map(|i| format!("{i:040x}")).collect();
        let df = DataFrame::new(rows, vec![Column::new("change_id".into(), &ids), Column::new("sha".into(), &shas)])
            .unwrap();
        let hashes = key_hashes(&model::CHANGE_COMMITS, &df).unwrap();
        let row_hashes = crate::store::content_hash::row_hashes(&df).unwrap();
        std::fs::write(&path, encode(&hashes, &row_hashes)).unwrap();
        // One key looked up seeks; many read the whole index: both find every row.
        for wanted in [4_321..4_322, 0..rows] {
            let mut keys: Vec<(u64, u128)> = wanted.map(|i| (hashes[i], row_hashes[i])).collect();
            keys.sort_unstable();
            let sorted: Vec<u64> = keys.iter().map(|k| k.0).collect();
            let expected: Vec<Option<u128>> = keys.iter().map(|k| Some(k.1)).collect();
            assert_eq!(look_up_in_file(&path, &sorted).unwrap(), Some(expected));
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
        assert_eq!(look_up_in_file(&path, &absent[..1]).unwrap(), Some(vec![None]));
        assert_eq!(look_up_in_file(&path, &absent).unwrap(), Some(vec![None, None]));
        assert_eq!(index_name("tables/x/scope=a/part-1.parquet"), "tables/x/scope=a/part-1.keys");
    }

    #[test]
    fn an_index_that_cannot_say_which_row_a_key_is_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-1.keys");
        // Two rows whose keys share a hash: the index cannot tell which of them a key is.
        std::fs::write(&path, encode(&[7, 3, 7], &[1, 2, 3])).unwrap();
        assert_eq!(look_up_in_file(&path, &[3]).unwrap(), Some(vec![Some(2)]));
        assert_eq!(look_up_in_file(&path, &[3, 7]).unwrap(), None);
        // A version 1 index holds no row hashes.
        let mut v1 = HEADER_V1.to_vec();
        v1.extend_from_slice(&3u64.to_le_bytes());
        std::fs::write(&path, v1).unwrap();
        assert_eq!(look_up_in_file(&path, &[3]).unwrap(), None);
        std::fs::write(&path, b"FGKEYS9\n").unwrap();
        assert!(look_up_in_file(&path, &[3]).is_err());
    }
}
