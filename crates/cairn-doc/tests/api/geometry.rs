//! Geometry values: one canonical binary encoding, the JSON form, and validation everywhere a
//! geometry can enter (encoder, decoder, JSON parser).

use cairn_doc::{
    decode_document, encode_document, DocError, Geometry, GeometryDefect, Mesh, Object, Value,
};
use proptest::prelude::*;

fn doc_with(shape: Geometry) -> Value {
    let mut o = Object::new();
    o.insert("shape", Value::from(shape));
    Value::Object(o)
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6..1e6f64,
        Just(0.0),
        Just(-0.0),
        Just(1e-300),
        Just(-1e300)
    ]
}

fn point() -> impl Strategy<Value = [f64; 3]> {
    [finite(), finite(), finite()]
}

fn geometry() -> BoxedStrategy<Geometry> {
    prop_oneof![
        point().prop_map(Geometry::Point),
        (point(), point()).prop_map(|(a, b)| Geometry::Segment([a, b])),
        (point(), point(), point()).prop_map(|(a, b, c)| Geometry::Triangle([a, b, c])),
        (point(), 0.0..1e3f64).prop_map(|(c, r)| Geometry::Sphere {
            center: c,
            radius: r
        }),
        (
            proptest::collection::vec(point(), 3..8),
            proptest::collection::vec([0u32..8, 0u32..8, 0u32..8], 1..6)
        )
            .prop_map(|(vertices, triangles)| Geometry::Mesh(Mesh {
                vertices,
                triangles
            })),
    ]
    .prop_filter("valid", |g| g.validate().is_ok())
    .boxed()
}

proptest! {
    #[test]
    fn valid_geometries_round_trip_through_bytes_and_json(g in geometry()) {
        let doc = doc_with(g);
        let mut bytes = Vec::new();
        encode_document(&doc, &mut bytes).unwrap();
        prop_assert_eq!(&decode_document(&bytes).unwrap(), &doc);
        let json = doc.to_json_string();
        prop_assert_eq!(&Value::from_json_str(&json).unwrap(), &doc);
    }

    #[test]
    fn corrupt_geometry_bytes_are_refused_without_panic(g in geometry(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = Vec::new();
        encode_document(&doc_with(g), &mut bytes).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        // Either still a valid document (the byte changed a coordinate) or a typed error.
        if let Ok(doc) = decode_document(&bytes) {
            let mut again = Vec::new();
            encode_document(&doc, &mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }
}

#[test]
fn invalid_geometries_are_refused_on_write_with_their_defect() {
    let flat = doc_with(Geometry::Triangle([[0.0; 3], [1.0; 3], [2.0; 3]]));
    let mut out = Vec::new();
    assert_eq!(
        encode_document(&flat, &mut out),
        Err(DocError::InvalidGeometry {
            path: "shape".into(),
            defect: GeometryDefect::DegenerateTriangle { triangle: 0 }
        })
    );
    assert!(out.is_empty());
    let err =
        Value::from_json_str(r#"{"s": {"$geometry": {"type": "point", "coordinates": [1, 2]}}}"#)
            .unwrap_err();
    assert!(err.to_string().contains("three numbers"), "{err}");
    let err = Value::from_json_str(r#"{"s": {"$geometry": {"type": "cone"}}}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown geometry type `cone`"),
        "{err}"
    );
}

#[test]
fn the_json_form_is_documented_and_stable() {
    let doc = doc_with(Geometry::Box {
        min: [0.0, 1.0, 2.0],
        max: [3.0, 4.0, 5.5],
    });
    assert_eq!(
        doc.to_json_string(),
        r#"{"shape":{"$geometry":{"type":"box","min":[0.0,1.0,2.0],"max":[3.0,4.0,5.5]}}}"#
    );
}
