//! Property tests of the RFC 7396 laws, and agreement with the `json-patch` crate's merge.

use proptest::prelude::*;
use serde_json::{Map, Value};

use cargo_atomic::doc::merge::merge_patch;

/// Arbitrary JSON, small keys so that sources overlap, `null` included.
fn json(nulls: bool) -> impl Strategy<Value = Value> {
    let scalars = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-50i64..50).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
    ];
    let leaf = if nulls {
        prop_oneof![3 => scalars, 1 => Just(Value::Null)].boxed()
    } else {
        scalars.boxed()
    };
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn without_nulls(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().all(without_nulls),
        Value::Object(m) => m.values().all(without_nulls),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_the_json_patch_crate(target in json(true), patch in json(true)) {
        let ours = merge_patch(target.clone(), &patch);
        let mut theirs = target;
        json_patch::merge(&mut theirs, &patch);
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn merging_a_value_onto_itself_gives_the_value(v in json(false)) {
        prop_assume!(without_nulls(&v));
        prop_assert_eq!(merge_patch(v.clone(), &v), v);
    }

    #[test]
    fn a_patch_applied_twice_equals_once(target in json(true), patch in json(false)) {
        let once = merge_patch(target, &patch);
        prop_assert_eq!(merge_patch(once.clone(), &patch), once);
    }
}
