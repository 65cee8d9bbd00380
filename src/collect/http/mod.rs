//! What every HTTP API source shares, whatever the API's shape: the raw page store ([`raw`]), the
//! sync cursors kept in the manifest ([`cursor`]), how patiently to retry ([`retry`]), what answers'
//! headers say ([`headers`]), the progress reported after every page ([`progress`]), the rows a
//! page becomes ([`rows`]) and the loop over a source's resources ([`runner`]).
//!
//! Why apart: the GitHub source was the first HTTP source; before a second one lands, what is not
//! GitHub's lives here, so that each source's folder (`collect/github/`, …) holds only its API's
//! shape — its queries, its client's answers and its extraction — in the same inner layout.

pub mod cursor;
pub mod headers;
pub mod progress;
pub mod raw;
pub mod retry;
pub mod rows;
pub mod runner;
