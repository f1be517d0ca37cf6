//! WKT/EWKT: what PostGIS writes reads back, and what Cairn writes reads back unchanged.

use cairn_doc::Geometry;
use cairn_geo::{from_ewkt, from_wkt, to_ewkt, to_wkt, GeoError};

#[test]
fn every_shape_with_a_wkt_form_round_trips() {
    let shapes = [
        Geometry::Point([1.5, -2.0, 1e-300]),
        Geometry::Segment([[0.0; 3], [1.0, 2.0, 3.0]]),
        Geometry::Triangle([[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.1]]),
        cairn_geo::geodesic_sphere([1.0, 2.0, 3.0], 0.1, 1).unwrap(),
    ];
    for shape in shapes {
        let text = to_wkt(&shape).unwrap();
        let back = from_wkt(&text).unwrap();
        // A mesh's vertices are renumbered in order of first use; its triangles, in order,
        // are the same to the bit.
        let parts = |g: &Geometry| cairn_geo::parts(g).collect::<Vec<_>>();
        assert_eq!(parts(&back), parts(&shape), "{text}");
        assert_eq!(back.type_name(), shape.type_name());
        assert_eq!(to_wkt(&back).unwrap(), text);
    }
}

#[test]
fn a_closed_tin_reads_back_closed_and_a_box_as_a_closed_surface() {
    let ico = cairn_geo::icosahedron([0.0; 3], 1.0).unwrap();
    let Geometry::Mesh(back) = from_wkt(&to_wkt(&ico).unwrap()).unwrap() else {
        panic!("not a mesh")
    };
    assert!(cairn_geo::is_closed(&back));
    let cube = Geometry::Box {
        min: [0.0; 3],
        max: [1.0, 2.0, 3.0],
    };
    let text = to_wkt(&cube).unwrap();
    assert!(text.starts_with("POLYHEDRALSURFACE Z ("));
    let mesh = from_wkt(&text).unwrap();
    let Geometry::Mesh(m) = &mesh else {
        panic!("not a mesh")
    };
    assert!(cairn_geo::is_closed(m));
    assert_eq!(m.vertices.len(), 8);
    assert!((cairn_geo::volume(&mesh).unwrap() - 6.0).abs() < 1e-12);
}

#[test]
fn postgis_style_text_and_ewkt_are_accepted() {
    let (srid, g) = from_ewkt("SRID=4979;TRIANGLE Z ((0 0 0,1 0 0,0 1 0,0 0 0))").unwrap();
    assert_eq!(srid, Some(4979));
    assert_eq!(
        g,
        Geometry::Triangle([[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    );
    assert_eq!(
        to_ewkt(&Geometry::Point([1.0, 2.0, 3.0]), Some(4326)).unwrap(),
        "SRID=4326;POINT Z (1 2 3)"
    );
    let tin =
        from_wkt("tin z (((0 0 0, 1 0 0, 0 1 0, 0 0 0)), ((1 0 0, 1 1 0, 0 1 0, 1 0 0)))").unwrap();
    let Geometry::Mesh(m) = tin else {
        panic!("not a mesh")
    };
    assert_eq!((m.vertices.len(), m.triangles.len()), (4, 2));
}

#[test]
fn bad_text_names_the_problem() {
    let err = |text: &str| match from_wkt(text) {
        Err(GeoError::Wkt { reason, .. }) => reason,
        other => panic!("{text}: {other:?}"),
    };
    assert!(err("POINT (1 2)").contains("Z"));
    assert!(err("LINESTRING Z (0 0 0, 1 1 1, 2 2 2)").contains("3 points"));
    assert!(err("TRIANGLE Z ((0 0 0, 1 1 1, 2 2 2, 0 0 0))").contains("zero area"));
    assert!(err("MULTIPOINT Z ((0 0 0))").contains("unsupported"));
    assert!(err("POINT Z (1 2 3) trailing").contains("after"));
    assert!(matches!(
        to_wkt(&Geometry::Sphere {
            center: [0.0; 3],
            radius: 1.0
        }),
        Err(GeoError::NoWktForm { .. })
    ));
}
