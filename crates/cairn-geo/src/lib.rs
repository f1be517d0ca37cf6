//! Cairn's 3D geometry model.
//!
//! Shapes themselves are document values ([`cairn_doc::Geometry`]); this crate gives them
//! meaning:
//!
//! - exact distances and relations ([`distance()`], [`closest_point`], [`intersects`],
//!   [`within`]) between any two shapes, computed on their convex parts ([`Primitive`],
//!   [`parts`]);
//! - measures ([`bbox`], [`centroid`], [`area`], [`volume`]) and closed-mesh solids
//!   ([`is_closed`], [`point_in_mesh`]);
//! - constructors ([`icosahedron`], [`geodesic_sphere`]);
//! - WKT/EWKT with Z ([`to_wkt`], [`from_ewkt`]), the PostGIS exchange format;
//! - the spatial index ([`index`]): an extension kind `spatial` whose entries are the parts of
//!   every stored shape in a multi-level grid, maintained in the same commit as the documents.
//! - the geometric operators of the query language ([`GeoOp`]) and the spatial index as an
//!   access method (`query/`), which the `cairn` facade registers with `cairn-query`
//!   ([`register_query_model`]).
//!
//! # Surface
//!
//! The geometry functions and types re-exported below, plus one public namespace, [`index`]:
//! the spatial index (definitions, admin, caches and their bounds), whose names (`Visit`,
//! `SearchStats`, `SpatialHandle`) read as index concepts only qualified. Every other module
//! is private.

mod construct;
mod distance;
mod error;
pub mod index;
mod limits;
mod measure;
mod primitive;
mod query;
mod solid;
mod vec3;
mod wkt;

pub use construct::{geodesic_sphere, icosahedron};
pub use distance::{closest_point, distance, intersects, primitive_distance};
pub use error::{GeoError, Result};
pub use limits::MAX_GEODESIC_LEVEL;
pub use measure::{area, bbox, centroid, volume};
pub use primitive::{part, part_count, parts, Aabb, Primitive};
pub use query::{register_query_model, GeoOp, DEFAULT_DISTANCE_FIELD};
pub use solid::{is_closed, point_in_mesh, within};
pub use wkt::{from_ewkt, from_wkt, to_ewkt, to_wkt};
