#!/usr/bin/env python3
"""How often each tool names the cause of a mistake, on the real-world corpus, side by side.

    pip install check-jsonschema
    python3 bench/realworld_vs_check_jsonschema.py [BINARY]

Not a test: it runs `tests/it/realworld.rs` with REALWORLD_DUMP so that the mistaken files
(tests/realworld/ with one injected mistake each) and their cases.tsv are kept, then runs
cargo-atomic (BINARY, default target/debug/cargo-atomic under CARGO_TARGET_DIR) and
check-jsonschema on every one. "Named" means the message of the first finding (for
check-jsonschema: its "best deep match" when it has one) holds the case's needles (the key, the
value, the allowed value); "placed" means the first finding is at the mistake's line:column,
which check-jsonschema does not give (it gives a JSON path). The SchemaStore schemas are given
to check-jsonschema with their `https://…schemastore.org/` references made local, so that it
reads the same files offline.
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
binary = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(target, "debug/cargo-atomic")
KINDS = {
    "workflow": "github-workflow.json",
    "compose": "compose-spec.json",
    "cargo": "cargo.json",
    "dependabot": "dependabot-2.0.json",
    "pre-commit": "pre-commit-config.json",
    "package": "package.json",
    "tsconfig": "tsconfig.json",
}


def local_schemas(src, dst):
    """Copies the schemas with every schemastore URL made a sibling file name, `$id`s dropped."""
    os.makedirs(dst)
    for name in os.listdir(src):
        if not name.endswith(".json"):
            continue
        text = open(os.path.join(src, name), encoding="utf-8").read()
        text = re.sub(r'"https://(www|json)\.schemastore\.org/([^"#]+)', r'"./\2', text)
        value = json.loads(text)
        value.pop("$id", None)
        with open(os.path.join(dst, name), "w", encoding="utf-8") as f:
            json.dump(value, f)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "ws")
        env = dict(os.environ, REALWORLD_DUMP=dump)
        subprocess.run(
            ["cargo", "test", "--locked", "--test", "it", "realworld", "--", "--nocapture"],
            cwd=root, env=env, capture_output=True,
        )
        rows = [l.split("\t") for l in open(os.path.join(dump, "cases.tsv"), encoding="utf-8").read().splitlines()[1:]]
        cases = [dict(file=r[0], kind=r[1], line=int(r[2]), column=int(r[3]), needles=r[4].split("\x1f")) for r in rows]

        ours = collections.defaultdict(list)
        out = subprocess.run([binary, "atomic", "validate", "--message-format", "json"], cwd=dump, capture_output=True, text=True).stdout
        for line in out.splitlines():
            d = json.loads(line)
            if d.get("reason") == "diagnostic":
                ours[d["file"]].append(d)

        schemas = os.path.join(tmp, "schemas")
        local_schemas(os.path.join(dump, "schemas"), schemas)
        theirs = {}
        by_kind = collections.defaultdict(list)
        for c in cases:
            by_kind[c["file"].split("/")[1]].append(c["file"])
        for kind, files in by_kind.items():
            for i in range(0, len(files), 200):
                chunk = files[i:i + 200]
                r = subprocess.run(
                    ["check-jsonschema", "--schemafile", os.path.join(schemas, KINDS[kind]), "-o", "json", *chunk],
                    cwd=dump, capture_output=True, text=True,
                )
                try:
                    report = json.loads(r.stdout)
                except json.JSONDecodeError:
                    sys.exit(f"check-jsonschema failed on {kind}: {r.stderr[:2000]}")
                for e in report.get("errors", []):
                    f = os.path.relpath(os.path.join(dump, e["filename"]), dump) if not os.path.isabs(e["filename"]) else os.path.relpath(e["filename"], dump)
                    if f not in theirs:
                        best = e.get("best_match") or {}
                        theirs[f] = best.get("message") or e.get("message", "")

        stats = collections.defaultdict(lambda: [0, 0, 0, 0])
        for c in cases:
            s = stats[c["kind"]]
            s[0] += 1
            first = (ours.get(c["file"]) or [{}])[0]
            msg = first.get("message", "")
            s[1] += all(n in msg for n in c["needles"])
            s[2] += first.get("line") == c["line"] and first.get("column") == c["column"]
            s[3] += all(n in theirs.get(c["file"], "") for n in c["needles"])
        print(f"{'mistake':<20} {'cases':>5}  {'cargo-atomic named':>18} {'placed':>7}  {'check-jsonschema named':>22} {'placed':>7}")
        total = [0, 0, 0, 0]
        for kind, s in sorted(stats.items()):
            total = [a + b for a, b in zip(total, s)]
            print(f"{kind:<20} {s[0]:>5}  {100*s[1]/s[0]:>17.1f}% {100*s[2]/s[0]:>6.1f}%  {100*s[3]/s[0]:>21.1f}% {'n/a':>7}")
        print(f"{'all':<20} {total[0]:>5}  {100*total[1]/total[0]:>17.1f}% {100*total[2]/total[0]:>6.1f}%  {100*total[3]/total[0]:>21.1f}% {'n/a':>7}")


if __name__ == "__main__":
    main()
