//! A schema that does not compile gets every problem at its place in the schema, in words a
//! person can act on.

use crate::support::*;

#[test]
fn every_problem_of_a_schema_is_located_in_it() {
    let ws = Ws::new();
    ws.put(
        "bad.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"port\": {\"type\": \"integr\"},\n    \"x\": {\"required\": \"a\"}\n  }\n}\n",
    );
    ws.put("app.yaml", "port: 1\n");
    let r = ws
        .run(&["validate", "app.yaml", "--schema", "bad.json"])
        .code(2);
    assert!(
        r.stderr.contains("`integr` is not a JSON Schema type")
            && r.stderr.contains("did you mean `integer`?"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--> bad.json:4:22"), "{}", r.stderr);
    assert!(r.stderr.contains("also bad.json:5:23"), "{}", r.stderr);
}

#[test]
fn a_schema_that_does_not_parse_says_where() {
    let ws = Ws::new();
    ws.put("bad.json", "{\n  \"type\": \"object\",\n}\n");
    ws.put("app.yaml", "port: 1\n");
    let r = ws
        .run(&["validate", "app.yaml", "--schema", "bad.json"])
        .code(2);
    assert!(
        r.stderr.contains("bad.json:3:1` does not parse"),
        "{}",
        r.stderr
    );
}
