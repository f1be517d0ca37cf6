//! Bounds of the geometry model outside the spatial index (whose own are in `index/limits.rs`).

/// Deepest subdivision [`geodesic_sphere`](crate::geodesic_sphere) accepts: level 7 has 20·4⁷ = 327,680 triangles,
/// within `cairn_doc::limits::MAX_MESH_TRIANGLES`; level 8 would not be.
pub const MAX_GEODESIC_LEVEL: u32 = 7;

/// Rounds of widening radius a `$near` search over a non-resident spatial index makes before
/// its next round searches everything (and so is the last): 64. The radius grows at least 1.5×
/// per round, so 64 rounds span a factor of about 10¹¹; data that sparse around the shape is
/// cheaper to search whole. Keeps the search loop bounded whatever the density estimate said.
pub const MAX_NEAR_ROUNDS: u32 = 64;
