//! The tables of an invariant and their key formats: the on-disk map of this crate. Every
//! table lives under the invariant's extension prefix `c{collection}.x.{invariant}.`.
//!
//! - [`GROUPS_TABLE`] (`sum(F) by G` only): the canonical encoding of `{"g": value}` →
//!   `documents (u64 BE) ‖ ExactSum` (`group.rs`).
//! - [`META_TABLE`]: [`TOTAL_KEY`] → the conserved total, for listings and messages.

/// Table of group aggregates.
pub const GROUPS_TABLE: &str = "groups";
/// Table of facts fixed when the invariant was added (the conserved total).
pub const META_TABLE: &str = "meta";
/// Key in [`META_TABLE`]: the conserved total of a `conserve` invariant, as an
/// [`ExactSum`](crate::exact_sum::ExactSum) encoding. Written once when the invariant is added and never again (every
/// later commit keeps the total), so reading it costs no conflicts.
pub const TOTAL_KEY: &[u8] = b"total";
