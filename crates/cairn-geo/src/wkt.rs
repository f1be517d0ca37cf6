//! WKT and EWKT with Z, the text forms PostGIS reads and writes.
//!
//! | Cairn | written as | read from |
//! |---|---|---|
//! | point | `POINT Z (x y z)` | the same |
//! | segment | `LINESTRING Z (a, b)` | a two-point `LINESTRING Z` |
//! | triangle | `TRIANGLE Z ((a, b, c, a))` | the same |
//! | mesh | `TIN Z (((a, b, c, a)), ...)` | `TIN Z`, or `POLYHEDRALSURFACE Z` (convex faces, fan-triangulated) |
//! | box | `POLYHEDRALSURFACE Z` of its six faces (outward) | reads back as a closed mesh |
//! | sphere | no WKT form: an error | — |
//!
//! EWKT adds an optional `SRID=n;` prefix. Coordinates are written in Rust's shortest
//! round-trip form, so text → geometry → text loses nothing; on reading, vertices with the
//! same coordinates become one mesh vertex, so a closed TIN reads back as a closed mesh.

use std::collections::HashMap;

use cairn_doc::{Geometry, Mesh, Point3};

use crate::error::{GeoError, Result};
use crate::primitive::Aabb;

/// The WKT text of a geometry.
pub fn to_wkt(g: &Geometry) -> Result<String> {
    let point = |p: &Point3| format!("{} {} {}", p[0], p[1], p[2]);
    let ring = |ps: &[Point3]| {
        let mut items: Vec<String> = ps.iter().map(point).collect();
        items.push(point(&ps[0]));
        format!("(({}))", items.join(", "))
    };
    Ok(match g {
        Geometry::Point(p) => format!("POINT Z ({})", point(p)),
        Geometry::Segment([a, b]) => format!("LINESTRING Z ({}, {})", point(a), point(b)),
        Geometry::Triangle(t) => format!("TRIANGLE Z {}", ring(t)),
        Geometry::Mesh(mesh) => {
            let faces: Vec<String> = (0..mesh.triangles.len())
                .filter_map(|i| mesh.triangle(i))
                .map(|t| ring(&t))
                .collect();
            format!("TIN Z ({})", faces.join(", "))
        }
        Geometry::Box { min, max } => {
            let c = Aabb {
                min: *min,
                max: *max,
            }
            .corners();
            // Outward-oriented quads: bottom, top, then the four sides.
            const FACES: [[usize; 4]; 6] = [
                [0, 2, 3, 1],
                [4, 5, 7, 6],
                [0, 1, 5, 4],
                [2, 6, 7, 3],
                [0, 4, 6, 2],
                [1, 3, 7, 5],
            ];
            let faces: Vec<String> = FACES.iter().map(|f| ring(&f.map(|i| c[i]))).collect();
            format!("POLYHEDRALSURFACE Z ({})", faces.join(", "))
        }
        Geometry::Sphere { .. } => return Err(GeoError::NoWktForm { found: "sphere" }),
    })
}

/// The EWKT text of a geometry: `SRID=n;` then its WKT (no prefix without an SRID).
pub fn to_ewkt(g: &Geometry, srid: Option<i32>) -> Result<String> {
    let wkt = to_wkt(g)?;
    Ok(match srid {
        Some(srid) => format!("SRID={srid};{wkt}"),
        None => wkt,
    })
}

/// Reads WKT or EWKT; returns the SRID (if given) and the geometry, validated.
pub fn from_ewkt(text: &str) -> Result<(Option<i32>, Geometry)> {
    let mut parser = Parser { text, pos: 0 };
    let srid = parser.srid()?;
    let geometry = parser.geometry()?;
    parser.skip_space();
    if parser.pos != text.len() {
        return Err(parser.error("unexpected text after the geometry"));
    }
    geometry
        .validate()
        .map_err(|defect| parser.error(&format!("invalid geometry: {defect}")))?;
    Ok((srid, geometry))
}

/// Reads WKT (an SRID prefix is accepted and dropped).
pub fn from_wkt(text: &str) -> Result<Geometry> {
    from_ewkt(text).map(|(_, g)| g)
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> GeoError {
        GeoError::Wkt {
            offset: self.pos,
            reason: reason.to_string(),
        }
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn word(&mut self) -> String {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        self.pos += len;
        rest[..len].to_ascii_uppercase()
    }

    fn expect(&mut self, symbol: char) -> Result<()> {
        self.skip_space();
        if self.text[self.pos..].starts_with(symbol) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{symbol}`")))
        }
    }

    fn peek(&mut self, symbol: char) -> bool {
        self.skip_space();
        self.text[self.pos..].starts_with(symbol)
    }

    fn srid(&mut self) -> Result<Option<i32>> {
        self.skip_space();
        if !self.text[self.pos..]
            .to_ascii_uppercase()
            .starts_with("SRID")
        {
            return Ok(None);
        }
        self.word();
        self.expect('=')?;
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest.find(';').ok_or_else(|| self.error("expected `;`"))?;
        let srid = rest[..len]
            .trim()
            .parse()
            .map_err(|_| self.error("SRID must be an integer"))?;
        self.pos += len + 1;
        Ok(Some(srid))
    }

    fn number(&mut self) -> Result<f64> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
            .unwrap_or(rest.len());
        let value: f64 = rest[..len]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.pos += len;
        Ok(value)
    }

    fn point(&mut self) -> Result<Point3> {
        let p = [self.number()?, self.number()?, self.number()?];
        self.skip_space();
        if self.text[self.pos..].starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            return Err(self.error("only XYZ coordinates are supported (no M)"));
        }
        Ok(p)
    }

    /// `(p, p, ...)`
    fn points(&mut self) -> Result<Vec<Point3>> {
        self.expect('(')?;
        let mut out = vec![self.point()?];
        while self.peek(',') {
            self.expect(',')?;
            out.push(self.point()?);
        }
        self.expect(')')?;
        Ok(out)
    }

    /// `((ring))`: a polygon with one closed ring; returns the ring without its repeated end.
    fn polygon(&mut self) -> Result<Vec<Point3>> {
        self.expect('(')?;
        let mut ring = self.points()?;
        if self.peek(',') {
            return Err(self.error("polygons with holes are not supported"));
        }
        self.expect(')')?;
        if ring.len() < 4 || ring.first() != ring.last() {
            return Err(
                self.error("a ring needs at least four points, the last equal to the first")
            );
        }
        ring.pop();
        Ok(ring)
    }

    fn geometry(&mut self) -> Result<Geometry> {
        let kind = self.word();
        if self.word() != "Z" {
            return Err(self.error("expected `Z`: only 3D (XYZ) geometries are supported"));
        }
        match kind.as_str() {
            "POINT" => {
                self.expect('(')?;
                let p = self.point()?;
                self.expect(')')?;
                Ok(Geometry::Point(p))
            }
            "LINESTRING" => match self.points()?.as_slice() {
                [a, b] => Ok(Geometry::Segment([*a, *b])),
                other => Err(self.error(&format!(
                    "a LINESTRING of {} points; only two-point lines (segments) are supported",
                    other.len()
                ))),
            },
            "TRIANGLE" => match self.polygon()?.as_slice() {
                [a, b, c] => Ok(Geometry::Triangle([*a, *b, *c])),
                _ => Err(self.error("a TRIANGLE ring has exactly three distinct corners")),
            },
            "TIN" | "POLYHEDRALSURFACE" => {
                let mut builder = MeshBuilder::default();
                self.expect('(')?;
                loop {
                    let face = self.polygon()?;
                    if kind == "TIN" && face.len() != 3 {
                        return Err(self.error("a TIN face must be a triangle"));
                    }
                    builder.face(&face);
                    if !self.peek(',') {
                        break;
                    }
                    self.expect(',')?;
                }
                self.expect(')')?;
                Ok(Geometry::Mesh(builder.mesh))
            }
            "" => Err(self.error("expected a geometry type")),
            other => Err(self.error(&format!(
                "unsupported geometry type `{other}` (supported: POINT, LINESTRING, TRIANGLE, \
                 TIN, POLYHEDRALSURFACE)"
            ))),
        }
    }
}

/// Builds a mesh from faces, sharing vertices with identical coordinates.
#[derive(Default)]
struct MeshBuilder {
    mesh: Mesh,
    index: HashMap<[u64; 3], u32>,
}

impl MeshBuilder {
    fn vertex(&mut self, p: Point3) -> u32 {
        let key = p.map(|c| if c == 0.0 { 0 } else { c.to_bits() });
        let next = self.mesh.vertices.len() as u32;
        *self.index.entry(key).or_insert_with(|| {
            self.mesh.vertices.push(p);
            next
        })
    }

    /// Adds a convex face as a fan of triangles.
    fn face(&mut self, ring: &[Point3]) {
        let ids: Vec<u32> = ring.iter().map(|p| self.vertex(*p)).collect();
        for i in 1..ids.len() - 1 {
            self.mesh.triangles.push([ids[0], ids[i], ids[i + 1]]);
        }
    }
}
