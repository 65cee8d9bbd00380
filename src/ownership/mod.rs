//! Ownership: who owns what, by declaration (CODEOWNERS) and by authorship (degree of authorship,
//! truck factor, knowledge loss).

pub mod codeowners;
