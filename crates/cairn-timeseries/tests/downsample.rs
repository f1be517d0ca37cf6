//! Every downsample against a naive computation: bucket by bucket, aggregate by aggregate,
//! for float, integer, vector, mixed and string fields, under every gap-filling mode.

use std::collections::BTreeMap;

use cairn_timeseries::{downsample_points, Aggregate, Downsample, Fill, Point, Sample, TsError};
use proptest::prelude::*;

const AGGREGATES: [Aggregate; 7] = [
    Aggregate::Avg,
    Aggregate::Min,
    Aggregate::Max,
    Aggregate::Sum,
    Aggregate::Count,
    Aggregate::First,
    Aggregate::Last,
];

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000i64..10_000).prop_map(|m| m as f64 / 100.0),
        Just(f64::NAN),
        Just(-0.0),
        Just(0.0)
    ]
}

/// A field of one type family per case, absent now and then.
fn samples(kind: u8) -> BoxedStrategy<Option<Sample>> {
    let sample: BoxedStrategy<Sample> = match kind {
        0 => float().prop_map(Sample::Float).boxed(),
        1 => (-1000i64..1000).prop_map(Sample::Int).boxed(),
        2 => proptest::collection::vec(float(), 3)
            .prop_map(Sample::Vector)
            .boxed(),
        3 => prop_oneof![
            float().prop_map(Sample::Float),
            (-5i64..5).prop_map(Sample::Int)
        ]
        .boxed(),
        _ => "[ab]".prop_map(Sample::Str).boxed(),
    };
    proptest::option::weighted(0.8, sample).boxed()
}

fn case() -> impl Strategy<Value = (u8, Vec<Point>, i64, i64, i64, Fill)> {
    (0u8..5).prop_flat_map(|kind| {
        (
            Just(kind),
            proptest::collection::btree_map(-300i64..300, samples(kind), 0..80),
            -350i64..350,
            1i64..400,
            1i64..60,
            prop_oneof![Just(Fill::None), Just(Fill::Null), Just(Fill::Previous)],
        )
            .prop_map(|(kind, rows, from, len, every, fill)| {
                let points = rows
                    .into_iter()
                    .filter(|(t, _)| *t >= from && *t < from + len)
                    .map(|(t, s)| Point {
                        time: t,
                        fields: s.map(|s| ("x".to_string(), s)).into_iter().collect(),
                    })
                    .collect();
                (kind, points, from, from + len, every, fill)
            })
    })
}

fn naive_numbers(values: &[f64], agg: Aggregate) -> f64 {
    let live: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let mut sum = 0.0;
    for x in values {
        sum += x;
    }
    match agg {
        Aggregate::Min => {
            let mut best = *live.first().unwrap_or(&f64::NAN);
            for x in &live {
                if *x < best {
                    best = *x;
                }
            }
            best
        }
        Aggregate::Max => {
            let mut best = *live.first().unwrap_or(&f64::NAN);
            for x in &live {
                if *x > best {
                    best = *x;
                }
            }
            best
        }
        Aggregate::Sum => sum,
        _ => sum / values.len() as f64,
    }
}

fn naive(values: &[&Sample], agg: Aggregate) -> Option<Sample> {
    match agg {
        Aggregate::Count => return Some(Sample::Int(values.len() as i64)),
        Aggregate::First => return Some(values[0].clone()),
        Aggregate::Last => return Some(values[values.len() - 1].clone()),
        _ => {}
    }
    if values.iter().any(|s| matches!(s, Sample::Str(_))) {
        return None; // an error is expected
    }
    if let Sample::Vector(first) = values[0] {
        let dim = first.len();
        let comps = (0..dim)
            .map(|c| {
                let column: Vec<f64> = values
                    .iter()
                    .map(|s| {
                        if let Sample::Vector(v) = s {
                            v[c]
                        } else {
                            unreachable!()
                        }
                    })
                    .collect();
                naive_numbers(&column, agg)
            })
            .collect();
        return Some(Sample::Vector(comps));
    }
    if values.iter().all(|s| matches!(s, Sample::Int(_))) {
        let ints: Vec<i64> = values
            .iter()
            .map(|s| if let Sample::Int(x) = s { *x } else { 0 })
            .collect();
        return Some(match agg {
            Aggregate::Min => Sample::Int(*ints.iter().min().unwrap()),
            Aggregate::Max => Sample::Int(*ints.iter().max().unwrap()),
            Aggregate::Sum => Sample::Int(ints.iter().sum()),
            _ => Sample::Float(ints.iter().sum::<i64>() as f64 / ints.len() as f64),
        });
    }
    let floats: Vec<f64> = values
        .iter()
        .map(|s| match s {
            Sample::Float(x) => *x,
            Sample::Int(x) => *x as f64,
            _ => unreachable!(),
        })
        .collect();
    Some(Sample::Float(naive_numbers(&floats, agg)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn downsamples_match_a_naive_computation((_kind, points, from, to, every, fill) in case(), agg_index in 0usize..7) {
        let aggregates = vec![AGGREGATES[agg_index], Aggregate::Count, Aggregate::Last];
        let request = Downsample { from, to, every, field: "x".to_string(), aggregates: aggregates.clone(), fill };
        // Naive: group by aligned bucket.
        let mut groups: BTreeMap<i64, Vec<&Sample>> = BTreeMap::new();
        for p in &points {
            if let Some(s) = p.fields.get("x") {
                groups.entry(p.time.div_euclid(every) * every).or_default().push(s);
            }
        }
        let mut expected: Vec<(i64, Vec<Option<Sample>>)> = Vec::new();
        let mut failed = false;
        let mut previous: Option<Vec<Option<Sample>>> = None;
        let mut b = from.div_euclid(every) * every;
        while b < to {
            match groups.get(&b) {
                Some(values) => {
                    let row: Vec<Option<Sample>> = aggregates.iter().map(|a| naive(values, *a)).collect();
                    failed |= row.iter().any(Option::is_none);
                    previous = Some(row.clone());
                    expected.push((b, row));
                }
                None => match fill {
                    Fill::None => {}
                    Fill::Null => expected.push((b, vec![None; 3])),
                    Fill::Previous => expected.push((b, previous.clone().unwrap_or_else(|| vec![None; 3]))),
                },
            }
            b += every;
        }
        match downsample_points(&points, &request) {
            Ok(buckets) => {
                prop_assert!(!failed, "expected an error");
                let got: Vec<(i64, Vec<Option<Sample>>)> = buckets.into_iter().map(|b| (b.start, b.values)).collect();
                prop_assert_eq!(got, expected);
            }
            Err(TsError::UnsupportedAggregate { .. }) => prop_assert!(failed),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}

#[test]
fn integer_sums_that_overflow_are_refused() {
    let points: Vec<Point> = [i64::MAX, 1]
        .iter()
        .enumerate()
        .map(|(i, v)| Point::single(i as i64, "x", Sample::Int(*v)))
        .collect();
    let request = Downsample {
        from: 0,
        to: 10,
        every: 10,
        field: "x".to_string(),
        aggregates: vec![Aggregate::Sum],
        fill: Fill::None,
    };
    assert!(matches!(
        downsample_points(&points, &request),
        Err(TsError::SumOverflow { .. })
    ));
}
