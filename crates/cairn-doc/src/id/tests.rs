//! Unit tests of document ids: encoding order, text round trips and generation.

use super::*;
use proptest::prelude::*;

fn arb_id() -> impl Strategy<Value = DocId> {
    prop_oneof![
        any::<i64>().prop_map(DocId::Int),
        prop_oneof![Just(i64::MIN), Just(-1i64), Just(0), Just(i64::MAX)].prop_map(DocId::Int),
        "\\PC{1,20}".prop_map(DocId::String),
        any::<[u8; 16]>().prop_map(|b| DocId::Uuid(uuid::Uuid::from_bytes(b))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn key_byte_order_matches_id_order(a in arb_id(), b in arb_id()) {
        let (ka, kb) = (a.to_key().unwrap(), b.to_key().unwrap());
        prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
    }

    #[test]
    fn keys_decode_to_the_same_id(id in arb_id()) {
        prop_assert_eq!(DocId::decode_key(&id.to_key().unwrap()).unwrap(), id);
    }

    #[test]
    fn decode_key_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = DocId::decode_key(&bytes);
    }
}

#[test]
fn new_v7_is_strictly_increasing_over_100k_calls() {
    let mut previous = DocId::new_v7();
    for _ in 0..100_000 {
        let next = DocId::new_v7();
        assert!(next > previous, "{next} does not follow {previous}");
        previous = next;
    }
}

#[test]
fn string_ids_must_be_non_empty_and_fit_the_key_limit() {
    assert_eq!(
        DocId::String(String::new()).to_key(),
        Err(DocError::EmptyId)
    );
    let longest = "x".repeat(MAX_ID_BYTES - 1);
    assert_eq!(
        DocId::String(longest.clone()).to_key().unwrap().len(),
        MAX_ID_BYTES
    );
    let too_long = DocId::String(format!("{longest}x"));
    assert!(matches!(
        too_long.to_key(),
        Err(DocError::IdTooLong {
            size_bytes: 1025,
            ..
        })
    ));
    let mut out = vec![7];
    assert!(too_long.encode_key(&mut out).is_err());
    assert_eq!(out, [7], "a failed encode leaves the output untouched");
}

#[test]
fn from_value_accepts_int_string_uuid_and_names_other_types() {
    assert_eq!(DocId::from_value(&Value::Int(5)), Ok(DocId::Int(5)));
    assert_eq!(
        DocId::from_value(&"a".into()),
        Ok(DocId::String("a".into()))
    );
    let u = uuid::Uuid::from_u128(42);
    assert_eq!(DocId::from_value(&Value::Uuid(u)), Ok(DocId::Uuid(u)));
    assert_eq!(DocId::from_value(&"".into()), Err(DocError::EmptyId));
    assert_eq!(
        DocId::from_value(&Value::Float(1.0)),
        Err(DocError::InvalidId {
            found_type: "float"
        })
    );
    assert_eq!(
        DocId::from_value(&Value::Null),
        Err(DocError::InvalidId { found_type: "null" })
    );
    for id in [DocId::Int(-3), DocId::String("x".into()), DocId::Uuid(u)] {
        assert_eq!(DocId::from_value(&id.to_value()), Ok(id));
    }
}

#[test]
fn parse_cli_recognises_uuids_ints_and_quoted_strings() {
    let u = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let text = u.hyphenated().to_string();
    assert_eq!(DocId::parse_cli(&text), DocId::Uuid(u));
    assert_eq!(DocId::parse_cli(&text.to_uppercase()), DocId::Uuid(u));
    assert_eq!(
        DocId::parse_cli(&u.simple().to_string()),
        DocId::String(u.simple().to_string())
    );
    assert_eq!(DocId::parse_cli("-42"), DocId::Int(-42));
    assert_eq!(DocId::parse_cli("007"), DocId::String("007".into()));
    assert_eq!(DocId::parse_cli("+5"), DocId::String("+5".into()));
    assert_eq!(DocId::parse_cli("\"123\""), DocId::String("123".into()));
    assert_eq!(
        DocId::parse_cli("\"unterminated"),
        DocId::String("\"unterminated".into())
    );
    assert_eq!(DocId::parse_cli("alice"), DocId::String("alice".into()));
}

#[test]
fn display_is_what_parse_cli_reads_back() {
    for id in [
        DocId::Int(i64::MIN),
        DocId::String("bob".into()),
        DocId::new_v7(),
    ] {
        assert_eq!(DocId::parse_cli(&id.to_string()), id);
    }
}

#[test]
fn corrupt_keys_are_rejected() {
    assert!(DocId::decode_key(&[]).is_err());
    assert!(DocId::decode_key(&[KEY_TAG_INT, 1, 2]).is_err());
    assert!(DocId::decode_key(&[KEY_TAG_STRING]).is_err());
    assert!(DocId::decode_key(&[KEY_TAG_STRING, 0xff]).is_err());
    assert!(DocId::decode_key(&[KEY_TAG_UUID, 0]).is_err());
    assert!(DocId::decode_key(&[0x09, 0]).is_err());
}
