#!/usr/bin/env python3
"""`validate` of a repository's GitHub workflows, lock warm, against check-jsonschema's
`--builtin-schema vendor.github-workflows`, in one run.

    python3 bench/workflows_vs_check_jsonschema.py [BINARY] [RUNS]

Not a test. BINARY defaults to target/release/cargo-atomic under CARGO_TARGET_DIR; check-jsonschema
is taken from $CHECK_JSONSCHEMA, else ~/.cache/cargo-atomic-bench/venv/bin/check-jsonschema,
else PATH. A temp workspace holds the real workflow files of tests/realworld/files/workflow/ under
.github/workflows/ and no configuration at all: the SchemaStore catalog picks their schema. A
loopback HTTP server serves ../shared/corpora/schemastore as a mirror of SchemaStore, `cargo
atomic fetch` pins the catalog and the workflow schema (the lock is then warm: the bodies are in
a temp schema cache), and the server is stopped. Then each tool validates, alternately, RUNS
times (default 20): every workflow in one process (as pre-commit calls a hook), and one
workflow alone (a commit that touches one file). Medians and ratios are printed; each tool's
exit codes are shown, since the two schemas' versions may disagree on a file.
"""
import functools
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
binary = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(target, "release/cargo-atomic")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
corpus = os.path.join(root, "../shared/corpora/schemastore/src")
workflows = os.path.join(root, "tests/realworld/files/workflow")


def check_jsonschema():
    if os.environ.get("CHECK_JSONSCHEMA"):
        return os.environ["CHECK_JSONSCHEMA"]
    venv = os.path.expanduser("~/.cache/cargo-atomic-bench/venv/bin/check-jsonschema")
    if os.path.exists(venv):
        return venv
    found = shutil.which("check-jsonschema")
    if not found:
        sys.exit("check-jsonschema not found: pip install check-jsonschema, or set CHECK_JSONSCHEMA")
    return found


class Mirror(http.server.SimpleHTTPRequestHandler):
    """/api/json/catalog.json is the catalog; /NAME.json a schema of the snapshot."""

    def translate_path(self, path):
        path = path.split("?")[0]
        if path.startswith("/api/json/"):
            return os.path.join(corpus, "api/json", path[len("/api/json/"):])
        return os.path.join(corpus, "schemas/json", path.lstrip("/"))

    def log_message(self, *args):
        pass


def timed(cmd, cwd, env):
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    return time.perf_counter() - start, r.returncode, r


def main():
    cj = check_jsonschema()
    files = sorted(f for f in os.listdir(workflows) if f.endswith((".yml", ".yaml")))
    with tempfile.TemporaryDirectory() as tmp:
        ws, cache = os.path.join(tmp, "ws"), os.path.join(tmp, "cache")
        wf = os.path.join(ws, ".github/workflows")
        os.makedirs(wf)
        for f in files:
            shutil.copy(os.path.join(workflows, f), os.path.join(wf, f))
        open(os.path.join(ws, "Cargo.toml"), "w").write("[workspace]\n")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        to = f"http://127.0.0.1:{server.server_address[1]}/"
        open(os.path.join(ws, "atomic.toml"), "w").write(
            f'[schemas]\nmirror = {{ "https://www.schemastore.org/" = "{to}", "https://json.schemastore.org/" = "{to}" }}\n'
        )
        env = dict(os.environ, CARGO_ATOMIC_CACHE=cache)
        r = subprocess.run([binary, "atomic", "fetch"], cwd=ws, env=env, capture_output=True)
        server.shutdown()
        if r.returncode != 0:
            sys.exit(f"cargo atomic fetch failed:\n{r.stderr.decode()}")
        # Only the mirror's address is in atomic.toml; the lock and the cache stay warm.
        os.remove(os.path.join(ws, "atomic.toml"))

        rel = [os.path.join(".github/workflows", f) for f in files]
        cases = {
            f"all {len(rel)} workflows": rel,
            "one workflow": rel[:1],
        }
        for name, paths in cases.items():
            ours_cmd = [binary, "atomic", "validate", "-q", *paths]
            theirs_cmd = [cj, "--builtin-schema", "vendor.github-workflows", *paths]
            ours, theirs = [], []
            codes = [set(), set()]
            timed(ours_cmd, ws, env), timed(theirs_cmd, ws, env)
            for _ in range(runs):
                t, c, res = timed(ours_cmd, ws, env)
                if c not in (0, 1):
                    sys.exit(f"cargo atomic validate exited {c}:\n{res.stderr.decode()}")
                ours.append(t)
                codes[0].add(c)
                t, c, _ = timed(theirs_cmd, ws, env)
                theirs.append(t)
                codes[1].add(c)
            a, b = statistics.median(ours), statistics.median(theirs)
            print(
                f"{name}: cargo atomic validate {a * 1000:.1f} ms (exit {sorted(codes[0])}), "
                f"check-jsonschema {b * 1000:.1f} ms (exit {sorted(codes[1])}): {b / a:.1f}x faster"
            )


main()
