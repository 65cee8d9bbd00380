//! The capability assessment: the catalogue of delivery capabilities and what the records say about each.

pub mod evidence;
