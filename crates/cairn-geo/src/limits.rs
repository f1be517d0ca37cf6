//! Bounds of the geometry model outside the spatial index (whose own are in `index/limits.rs`).

/// Deepest subdivision [`geodesic_sphere`] accepts: level 7 has 20·4⁷ = 327,680 triangles,
/// within `cairn_doc::limits::MAX_MESH_TRIANGLES`; level 8 would not be.
pub const MAX_GEODESIC_LEVEL: u32 = 7;
