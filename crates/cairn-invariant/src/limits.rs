//! Limits of the invariant layer; each is a named constant with the reason for its value.

/// Invariants on one collection. Each is checked on every commit that writes the collection,
/// so this bounds the per-commit work an administrator can add.
pub const MAX_INVARIANTS_PER_COLLECTION: usize = 16;

/// Bytes of a rule's text. Rules are one short expression; anything longer is a mistake.
pub const MAX_RULE_BYTES: usize = 1024;

/// Bytes of an encoded group value (the value of the `by` field). Group values are keys of
/// the aggregate table and are read on every write that touches the group; a longer value is
/// refused with a clear error rather than stored.
pub const MAX_GROUP_KEY_BYTES: usize = 1024;

/// Components of an exact float sum. A non-overlapping expansion of `f64`s cannot need more
/// than about 40 (the 2,098 bits from the smallest subnormal to the largest finite value, 53
/// at a time); more means the stored bytes are damaged.
pub const MAX_SUM_COMPONENTS: usize = 48;
