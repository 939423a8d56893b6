use serde_json::json;

use super::*;

fn merged(sources: &[Value], options: &MergeOptions) -> Value {
    merge_all(sources, options).unwrap().0
}

#[test]
fn rfc7396_semantics_by_default() {
    let base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "gone": 1});
    let patch = json!({"a": {"b": null, "c": [3], "e": {"f": true}}, "gone": null, "n": null});
    assert_eq!(
        merged(&[base, patch], &MergeOptions::default()),
        json!({"a": {"c": [3], "e": {"f": true}}, "d": "x"})
    );
    // A non-object patch replaces; an object patch onto a scalar builds an object.
    assert_eq!(merge_patch(json!({"a": 1}), &json!([1])), json!([1]));
    assert_eq!(
        merge_patch(json!("s"), &json!({"a": {"b": null}})),
        json!({"a": {}})
    );
}

#[test]
fn strategies_table() {
    let base = json!({
        "plugins": ["a", "b"],
        "servers": [{"name": "x", "port": 1, "tags": ["t"]}, {"name": "y", "port": 2}],
        "other": [1]
    });
    let overlay = json!({
        "plugins": ["c"],
        "servers": [{"name": "y", "port": 20}, {"name": "z", "port": 3}],
        "other": [2]
    });
    let mut paths = BTreeMap::new();
    paths.insert("/plugins".to_owned(), ArrayStrategy::Append);
    paths.insert("/servers".to_owned(), ArrayStrategy::ByKey("name".into()));
    let cases = [
        (
            MergeOptions::default(),
            json!({"plugins": ["c"], "servers": [{"name": "y", "port": 20}, {"name": "z", "port": 3}], "other": [2]}),
        ),
        (
            MergeOptions {
                arrays: ArrayStrategy::Append,
                paths: BTreeMap::new(),
            },
            json!({"plugins": ["a", "b", "c"], "servers": [{"name": "x", "port": 1, "tags": ["t"]}, {"name": "y", "port": 2}, {"name": "y", "port": 20}, {"name": "z", "port": 3}], "other": [1, 2]}),
        ),
        (
            MergeOptions {
                arrays: ArrayStrategy::Replace,
                paths,
            },
            json!({"plugins": ["a", "b", "c"], "servers": [{"name": "x", "port": 1, "tags": ["t"]}, {"name": "y", "port": 20}, {"name": "z", "port": 3}], "other": [2]}),
        ),
    ];
    for (options, want) in cases {
        assert_eq!(
            merged(&[base.clone(), overlay.clone()], &options),
            want,
            "{options:?}"
        );
    }
}

#[test]
fn by_key_refuses_items_without_the_key_and_repeated_keys() {
    let options = MergeOptions {
        arrays: ArrayStrategy::ByKey("name".into()),
        paths: BTreeMap::new(),
    };
    let base = json!({"s": [{"name": "a"}]});
    let err = merge_all(&[base.clone(), json!({"s": [{"port": 1}]})], &options).unwrap_err();
    assert_eq!(
        err,
        MergeError::MissingKey {
            input: 1,
            pointer: "/s/0".into(),
            key: "name".into()
        }
    );
    let err = merge_all(
        &[base, json!({"s": [{"name": "b"}, {"name": "b"}]})],
        &options,
    )
    .unwrap_err();
    assert!(
        matches!(err, MergeError::DuplicateKey { ref pointer, .. } if pointer == "/s/1"),
        "{err}"
    );
}

#[test]
fn nested_paths_and_mixed_shapes() {
    let mut paths = BTreeMap::new();
    paths.insert("/a/list".to_owned(), ArrayStrategy::Append);
    let options = MergeOptions {
        arrays: ArrayStrategy::Replace,
        paths,
    };
    let out = merged(
        &[
            json!({"a": {"list": [1]}}),
            json!({"a": {"list": [2]}}),
            json!({"a": {"list": [3]}}),
        ],
        &options,
    );
    assert_eq!(out, json!({"a": {"list": [1, 2, 3]}}));
    // Append onto something that is not an array replaces, as RFC 7396 would.
    assert_eq!(
        merged(
            &[json!({"a": {"list": 5}}), json!({"a": {"list": [2]}})],
            &options
        ),
        json!({"a": {"list": [2]}})
    );
}

#[test]
fn provenance_names_every_setter_in_order() {
    let sources = [
        json!({"server": {"port": 80, "host": "a"}, "list": [1, 2]}),
        json!({"server": {"port": 8080}}),
        json!({"server": {"port": 9090, "host": null}, "list": [3]}),
    ];
    let (out, prov) = merge_all(&sources, &MergeOptions::default()).unwrap();
    assert_eq!(out, json!({"server": {"port": 9090}, "list": [3]}));
    let port: Vec<(usize, &Given)> = prov
        .of("/server/port")
        .iter()
        .map(|o| (o.source, &o.given))
        .collect();
    assert_eq!(
        port,
        vec![
            (0, &Given::Scalar(json!(80))),
            (1, &Given::Scalar(json!(8080))),
            (2, &Given::Scalar(json!(9090)))
        ]
    );
    let host: Vec<(usize, &Given)> = prov
        .of("/server/host")
        .iter()
        .map(|o| (o.source, &o.given))
        .collect();
    assert_eq!(
        host,
        vec![(0, &Given::Scalar(json!("a"))), (2, &Given::Deleted)]
    );
    // A replaced array: its old items have no history left; the new one's come from source 2.
    assert!(prov.of("/list/1").is_empty());
    assert_eq!(prov.setter("/list/0").map(|o| o.source), Some(2));
    assert_eq!(
        prov.setter("/server/port").map(|o| o.pointer.as_str()),
        Some("/server/port")
    );
}

#[test]
fn by_key_provenance_points_into_the_source_item() {
    let options = MergeOptions {
        arrays: ArrayStrategy::ByKey("name".into()),
        paths: BTreeMap::new(),
    };
    let (_, prov) = merge_all(
        &[
            json!({"s": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}),
            json!({"s": [{"name": "b", "v": 3}]}),
        ],
        &options,
    )
    .unwrap();
    let last = prov.setter("/s/1/v").unwrap();
    assert_eq!((last.source, last.pointer.as_str()), (1, "/s/0/v"));
}

#[test]
fn key_order_comes_from_the_earliest_source_and_survives_deletes() {
    let out = merge_patch(
        json!({"a": 1, "b": 2, "c": 3, "d": 4}),
        &json!({"d": 5, "b": null, "e": 6, "a": 7}),
    );
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["a", "c", "d", "e"]);
}

#[test]
fn source_of_maps_a_pointer_inside_a_value_set_whole() {
    let options = MergeOptions::default();
    let (_, prov) = merge_all(
        &[json!({"a": 1}), json!({"list": [{"x": {"y": 1}}]})],
        &options,
    )
    .unwrap();
    assert_eq!(
        prov.source_of("/list/0/x/y"),
        Some((1, "/list/0/x/y".to_owned()))
    );
    let by_key = MergeOptions {
        arrays: ArrayStrategy::ByKey("name".into()),
        paths: BTreeMap::new(),
    };
    let (_, prov) = merge_all(
        &[
            json!({"s": [{"name": "a"}, {"name": "b", "v": {"w": 1}}]}),
            json!({"s": [{"name": "b", "v": {"w": 2}}]}),
        ],
        &by_key,
    )
    .unwrap();
    assert_eq!(prov.source_of("/s/1/v/w"), Some((1, "/s/0/v/w".to_owned())));
    assert_eq!(
        prov.source_of("/s/0/name"),
        Some((0, "/s/0/name".to_owned()))
    );
}

#[test]
fn merge_values_equals_merge_all_without_the_history() {
    let sources = [
        json!({"a": [1], "b": {"c": 1}}),
        json!({"a": [2], "b": {"c": null, "d": 2}}),
    ];
    let options = MergeOptions {
        arrays: ArrayStrategy::Append,
        paths: BTreeMap::new(),
    };
    assert_eq!(
        merge_values(&sources, &options).unwrap(),
        merge_all(&sources, &options).unwrap().0
    );
}
