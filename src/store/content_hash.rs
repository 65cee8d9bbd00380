//! A fingerprint of a partition's rows, so that an upsert of exactly the rows a partition holds (the
//! same file imported again) is recognised without reading the partition.
//!
//! The fingerprint of a set of rows is the sum (wrapping, in 128 bits) of each row's hash, every cell
//! and its column taken into account. A sum does not depend on the rows' order, so incoming rows need
//! no sorting to be compared, and the fingerprint of a partition with appended files is the sum of its
//! files'. Two sets of rows with the same count and the same fingerprint are taken to be the same
//! rows: two different sets agree by chance with a probability of about 2⁻¹²⁸. Each row's own hash
//! is kept too, in the key index of the file holding it ([`super::key_index`]): an upsert that
//! updates a row takes the old row's hash out of the sum and adds the new one's without reading the
//! partition.

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;

/// The fingerprint of `df`'s rows, as 32 hexadecimal digits (how the manifest keeps it).
pub fn of(df: &DataFrame) -> Result<String> {
    Ok(text(sum(df)?))
}

/// A fingerprint (a sum of row hashes) as the manifest keeps it.
pub fn text(sum: u128) -> String {
    format!("{sum:032x}")
}

/// The sum of these row hashes: the fingerprint of their rows.
pub fn sum_of(hashes: &[u128]) -> u128 {
    hashes.iter().fold(0u128, |total, hash| total.wrapping_add(*hash))
}

/// A fingerprint the manifest keeps, as the sum it is; `None` when it is not one.
pub fn parse(fingerprint: &str) -> Option<u128> {
    u128::from_str_radix(fingerprint, 16).ok()
}

/// Rows hashed by one task: the fingerprint is a sum, so slices of the frame are summed on every
/// core and their sums added (the same figure as one pass; a million-row import spent a tenth of
/// its time here on one core).
const ROWS_PER_TASK: usize = 65_536;

fn sum(df: &DataFrame) -> Result<u128> {
    Ok(sum_of(&row_hashes(df)?))
}

/// The hash of each row of `df`, in row order (what the fingerprint sums).
pub fn row_hashes(df: &DataFrame) -> Result<Vec<u128>> {
    if df.height() <= ROWS_PER_TASK {
        return hash_rows(df);
    }
    let starts: Vec<usize> = (0..df.height()).step_by(ROWS_PER_TASK).collect();
    let slices: Vec<Vec<u128>> =
        starts.par_iter().map(|&start| hash_rows(&df.slice(start as i64, ROWS_PER_TASK))).collect::<Result<_>>()?;
    Ok(slices.concat())
}

fn hash_rows(df: &DataFrame) -> Result<Vec<u128>> {
    let mut rows = vec![(0x9e37_79b9_7f4a_7c15u64, 0x6a09_e667_f3bc_c909u64); df.height()];
    for (n, column) in df.columns().iter().enumerate() {
        let salt = n as u64 + 1;
        let series = column.as_materialized_series().to_physical_repr();
        let mut mix = |i: usize, value: Option<u64>| {
            let cell = value.map_or(salt.wrapping_mul(0xff51_afd7_ed55_8ccd), |v| mix64(v ^ salt));
            let (a, b) = &mut rows[i];
            *a = mix64(*a ^ cell);
            *b = mix64(b.rotate_left(29) ^ cell.wrapping_mul(0xc4ce_b9fe_1a85_ec53));
        };
        match series.dtype() {
            DataType::String => {
                for (i, v) in series.str()?.iter().enumerate() {
                    mix(i, v.map(|s| text_hash(s.as_bytes())));
                }
            }
            DataType::Int64 => {
                for (i, v) in series.i64()?.iter().enumerate() {
                    mix(i, v.map(|v| v as u64));
                }
            }
            DataType::Float64 => {
                for (i, v) in series.f64()?.iter().enumerate() {
                    mix(i, v.map(f64::to_bits));
                }
            }
            DataType::Boolean => {
                for (i, v) in series.bool()?.iter().enumerate() {
                    mix(i, v.map(u64::from));
                }
            }
            other => {
                return Err(crate::error::Error::Workspace {
                    path: std::path::PathBuf::new(),
                    message: format!("no fingerprint for a column of type {other}"),
                });
            }
        }
    }
    Ok(rows.iter().map(|(a, b)| (u128::from(*a) << 64) | u128::from(*b)).collect())
}

/// SplitMix64's finaliser: every input bit reaches every output bit.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn text_hash(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ bytes.len() as u64;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hash = mix64(hash ^ u64::from_le_bytes(word));
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ids: &[&str], titles: &[Option<&str>], sizes: &[Option<i64>]) -> DataFrame {
        DataFrame::new(
            ids.len(),
            vec![Column::new("id".into(), ids), Column::new("title".into(), titles), Column::new("size".into(), sizes)],
        )
        .unwrap()
    }

    #[test]
    fn the_fingerprint_ignores_order_and_sees_every_cell() {
        let rows = frame(&["a", "b"], &[Some("x"), None], &[Some(1), Some(2)]);
        let reversed = frame(&["b", "a"], &[None, Some("x")], &[Some(2), Some(1)]);
        assert_eq!(of(&rows).unwrap(), of(&reversed).unwrap());
        for changed in [
            frame(&["a", "b"], &[Some("x"), Some("")], &[Some(1), Some(2)]),
            frame(&["a", "b"], &[Some("x"), None], &[Some(1), None]),
            frame(&["a", "b"], &[None, Some("x")], &[Some(1), Some(2)]),
            frame(&["a", "c"], &[Some("x"), None], &[Some(1), Some(2)]),
        ] {
            assert_ne!(of(&rows).unwrap(), of(&changed).unwrap(), "{changed}");
        }
        let (a, b) = (rows.slice(0, 1), rows.slice(1, 1));
        let together = parse(&of(&a).unwrap()).unwrap().wrapping_add(parse(&of(&b).unwrap()).unwrap());
        assert_eq!(text(together), of(&rows).unwrap());
    }

    #[test]
    fn a_large_frame_hashed_in_slices_on_every_core_has_the_one_pass_fingerprint() {
        let n = 3 * ROWS_PER_TASK + 17;
        let ids: Vec<String> = (0..n).map(|i| format!("import:change:{i}")).collect();
        let titles: Vec<Option<String>> = (0..n).map(|i| (i % 7 != 0).then(|| format!("t{i}"))).collect();
        let sizes: Vec<Option<i64>> = (0..n).map(|i| (i % 5 != 0).then_some(i as i64)).collect();
        let df = DataFrame::new(
            n,
            vec![Column::new("id".into(), ids), Column::new("title".into(), titles), Column::new("size".into(), sizes)],
        )
        .unwrap();
        assert_eq!(row_hashes(&df).unwrap(), hash_rows(&df).unwrap());
        assert_eq!(sum(&df).unwrap(), sum_of(&hash_rows(&df).unwrap()));
        let keys = df.select(["id"]).unwrap();
        let schema = &crate::model::CHANGES; // keyed by `id`
        assert_eq!(
            crate::store::key_index::key_hashes(schema, &keys).unwrap(),
            crate::store::key_index::key_hashes_of_rows(schema, &keys).unwrap()
        );
    }
}
