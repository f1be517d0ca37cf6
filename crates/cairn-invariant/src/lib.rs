//! Commit-time invariants ("energy accounting"): declarative rules over a collection that
//! every committing transaction must keep.
//!
//! * `conserve sum(energy)`: no transaction changes the collection's total of `energy`.
//! * `energy >= 0` (also `>`, `<=`, `<`): no document's `energy` crosses the bound.
//! * `sum(amount) by account >= 0`: no group's total crosses the bound.
//!
//! An invariant is an engine extension ([`INVARIANT_KIND`]) whose
//! [`cairn_engine::Extension::before_commit`] sees the transaction's net document changes
//! once, so intermediate states inside a transaction are never checked and the cost is
//! proportional to the documents the transaction changed, never to the collection. Group
//! sums are kept as running aggregates in the extension's own table, read conflict-checked, so
//! two concurrent withdrawals cannot together break a group bound; a conserved sum needs only
//! the transaction's own delta, so it adds no shared key to any write.
//!
//! Sums are exact ([`ExactSum`]): integers in an `i128`, floats as a non-overlapping expansion
//! of `f64`s maintained with error-free transformations.
//!
//! Layering: depends on `cairn-doc` and `cairn-engine` only.

mod admin;
mod amount;
mod baseline;
mod check;
mod error;
mod exact_sum;
mod group;
mod layout;
pub mod limits;
mod spec;

pub use admin::{
    add_invariant, drop_invariant, group_aggregates, list_invariants, GroupAggregate,
    InvariantInfo, InvariantState,
};
pub use check::{InvariantExtension, InvariantExtensionKind, INVARIANT_KIND};
pub use error::{InvariantError, Result};
pub use exact_sum::{ExactSum, SumOverflow};
pub use spec::{BoundOp, InvariantSpec, Rule};
