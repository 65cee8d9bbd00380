//! Sharded collection: several processes or CI jobs, each collecting its share of the configured
//! sources into one workspace at the same time (`flowgauge collect --shard I/N`).
//!
//! Shard I of N takes the configured sources at positions I, I+N, I+2N, … (counting from 1, as CI
//! systems number their parallel jobs), so N jobs given 1/N … N/N collect every source exactly once.
//! Each writes through a shared workspace handle ([`crate::store::Workspace::open_shared`]): sources
//! write disjoint partitions, and a commit that meets another shard's commit keeps both.

use crate::config::Config;

/// One shard of the configured sources: the `index`-th (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let malformed = || format!("`{text}` is not a shard: write I/N, e.g. 2/4 for the second of four jobs");
        let (index, count) = text.split_once('/').ok_or_else(malformed)?;
        let index: usize = index.trim().parse().map_err(|_| malformed())?;
        let count: usize = count.trim().parse().map_err(|_| malformed())?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{text}`: the shard number must be between 1 and the number of shards ({count})"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the source at `position` (0-based, in configuration order) is this shard's.
    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The configuration with only this shard's sources; services and everything else as they are.
    pub fn of(&self, config: &Config) -> Config {
        let mut shard = config.clone();
        shard.sources =
            config.sources.iter().enumerate().filter(|(i, _)| self.takes(*i)).map(|(_, s)| s.clone()).collect();
        shard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_sources_between_them_once_each() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::parse(&format!("{i}/3")).unwrap()).collect();
        for position in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(position)).count(), 1, "source {position}");
        }
        assert!(shards[0].takes(0) && shards[0].takes(3) && shards[2].takes(2));
    }

    #[test]
    fn malformed_shards_say_what_to_write() {
        for bad in ["0/2", "3/2", "1/0", "2", "a/b"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(Shard::parse("x").unwrap_err().contains("I/N"));
    }
}
