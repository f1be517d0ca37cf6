//! Round-trip property tests of every codec and of the chunk format, on random and
//! adversarial values: NaN payloads, signed zeros, subnormals, infinities, `i64` extremes,
//! equal and decreasing timestamps. Lossless means bit for bit.

use std::collections::BTreeMap;

use cairn_timeseries::chunk;
use cairn_timeseries::codec::{bools, floats, ints, strings, timestamps};
use cairn_timeseries::{Point, Sample};
use proptest::prelude::*;

/// Integers biased towards the values that break delta arithmetic.
fn adversarial_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(-1i64),
        (-1000i64..1000),
    ]
}

/// Integer sequences: random, or runs that are constant, decreasing or regular.
fn i64_sequence() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        proptest::collection::vec(adversarial_i64(), 0..300),
        (adversarial_i64(), adversarial_i64(), 0usize..300).prop_map(|(start, step, n)| {
            (0..n as i64)
                .map(|i| start.wrapping_add(step.wrapping_mul(i)))
                .collect()
        }),
        (adversarial_i64(), 0usize..50).prop_map(|(v, n)| vec![v; n]),
        (
            adversarial_i64(),
            proptest::collection::vec(-5i64..5, 0..300)
        )
            .prop_map(|(s, steps)| {
                steps
                    .iter()
                    .scan(s, |acc, d| {
                        *acc = acc.wrapping_add(*d);
                        Some(*acc)
                    })
                    .collect()
            }),
    ]
}

fn adversarial_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::from_bits(0x7ff8_0000_dead_beef)),
        Just(f64::from_bits(0xfff0_0000_0000_0001)),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(f64::from_bits(1)),
        Just(f64::MAX),
        (-100_000i64..100_000).prop_map(|m| m as f64 / 100.0),
    ]
}

fn f64_sequence() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        proptest::collection::vec(adversarial_f64(), 0..300),
        (any::<i32>(), proptest::collection::vec(-50i64..50, 0..300)).prop_map(|(s, steps)| {
            let mut m = i64::from(s);
            steps
                .iter()
                .map(|d| {
                    m += d;
                    m as f64 / 100.0
                })
                .collect()
        }),
    ]
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn timestamps_round_trip(times in i64_sequence()) {
        let mut out = Vec::new();
        timestamps::encode(&times, &mut out);
        prop_assert_eq!(timestamps::decode(&out, times.len()).unwrap(), times);
    }

    #[test]
    fn integers_round_trip(values in i64_sequence()) {
        let mut out = Vec::new();
        ints::encode(&values, &mut out);
        prop_assert_eq!(ints::decode(&out, values.len()).unwrap(), values);
    }

    #[test]
    fn floats_round_trip_bit_for_bit(values in f64_sequence()) {
        let mut out = Vec::new();
        floats::encode(&values, &mut out);
        let back = floats::decode(&out, values.len()).unwrap();
        prop_assert!(same_bits(&back, &values), "{:?} != {:?}", back, values);
    }

    #[test]
    fn strings_round_trip(values in proptest::collection::vec(
        prop_oneof![Just(String::new()), "[a-c]{0,3}", ".{0,20}"], 0..300)) {
        let mut out = Vec::new();
        strings::encode(&values, &mut out);
        prop_assert_eq!(strings::decode(&out, values.len()).unwrap(), values);
    }

    #[test]
    fn booleans_round_trip(values in proptest::collection::vec(any::<bool>(), 0..300)) {
        let mut out = Vec::new();
        bools::encode(&values, &mut out);
        prop_assert_eq!(bools::decode(&out, values.len()).unwrap(), values);
    }

    #[test]
    fn chunks_round_trip(points in chunk_points()) {
        let bytes = chunk::encode(&points);
        let (header, back) = chunk::decode(&bytes).unwrap();
        prop_assert_eq!(header.count, points.len());
        prop_assert_eq!(header.min_time, points[0].time);
        prop_assert_eq!(header.max_time, points[points.len() - 1].time);
        prop_assert_eq!(chunk::header(&bytes).unwrap(), header);
        prop_assert_eq!(back, points);
    }

    #[test]
    fn damaged_chunks_are_reported_not_trusted(points in chunk_points(), at in any::<usize>(), flip in 1u8..=255) {
        let mut bytes = chunk::encode(&points);
        let i = at % bytes.len();
        bytes[i] ^= flip;
        prop_assert!(chunk::decode(&bytes).is_err());
        bytes.truncate(i);
        prop_assert!(chunk::decode(&bytes).is_err());
    }
}

fn sample() -> impl Strategy<Value = Sample> {
    prop_oneof![
        adversarial_f64().prop_map(Sample::Float),
        adversarial_i64().prop_map(Sample::Int),
        any::<bool>().prop_map(Sample::Bool),
        "[a-d]{0,4}".prop_map(Sample::Str),
        proptest::collection::vec(adversarial_f64(), 3).prop_map(Sample::Vector),
        proptest::collection::vec(adversarial_f64(), 0..2).prop_map(Sample::Vector),
    ]
}

/// 1 to 200 points with strictly increasing times, fields drawn from a few names so that
/// columns are sparse and change type.
fn chunk_points() -> impl Strategy<Value = Vec<Point>> {
    (
        adversarial_i64(),
        proptest::collection::vec(
            (
                1i64..1_000_000,
                proptest::collection::btree_map("[abc]", sample(), 0..4),
            ),
            1..200,
        ),
    )
        .prop_map(|(start, rows)| {
            let start = start.min(i64::MAX - 200 * 1_000_000);
            let mut t = start;
            rows.into_iter()
                .map(|(gap, fields)| {
                    t += gap;
                    Point {
                        time: t,
                        fields: fields.into_iter().collect::<BTreeMap<_, _>>(),
                    }
                })
                .collect()
        })
}

#[test]
fn negative_zero_alone_round_trips() {
    for values in [vec![-0.0], vec![1.5, -0.0, 2.25], vec![0.0, -0.0]] {
        let mut out = Vec::new();
        floats::encode(&values, &mut out);
        assert!(same_bits(
            &floats::decode(&out, values.len()).unwrap(),
            &values
        ));
    }
}
