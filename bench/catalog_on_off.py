#!/usr/bin/env python3
"""`validate` with the SchemaStore catalog on against off, on the same files, in one run.

    python3 bench/catalog_on_off.py [BINARY] [FILES] [RUNS]

BINARY defaults to target/release/cargo-atomic, FILES to 100. A temp workspace holds FILES JSON
files that a [[validate]] entry claims, 20 `.rs` files and a few others; the real catalog
(../shared/corpora/schemastore, 1,414 entries) is pinned in atomic.lock and put in a temp
schema cache, as `cargo atomic fetch` would. Both runs validate the same FILES files: the
difference is what the catalog costs (verifying, parsing and indexing it, and asking it about
every file no entry claims). Medians and the ratio are printed. The first run keeps the
catalog's compact index in the cache, so the runs measured read it, as every run after the
first does; COLD=1 deletes it before each run with the catalog on, to measure the first run's
cost (verifying and parsing the whole catalog).
"""
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(root, "target/release/cargo-atomic")
files = int(sys.argv[2]) if len(sys.argv) > 2 else 100
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 40
catalog = os.path.join(root, "../shared/corpora/schemastore/src/api/json/catalog.json")

with tempfile.TemporaryDirectory() as tmp:
    ws, cache = os.path.join(tmp, "ws"), os.path.join(tmp, "cache")
    os.makedirs(os.path.join(ws, "config"))
    os.makedirs(os.path.join(ws, "src"))
    os.makedirs(os.path.join(cache, "sha256"))
    body = open(catalog, "rb").read()
    sha = hashlib.sha256(body).hexdigest()
    open(os.path.join(cache, "sha256", sha), "wb").write(body)
    w = lambda p, t: open(os.path.join(ws, p), "w").write(t)
    w("Cargo.toml", "[workspace]\n")
    w("schema.json", '{"type":"object","properties":{"name":{"type":"string"},"port":{"type":"integer"}},"required":["name"]}\n')
    w("atomic.lock", f'version = 1\n\n[[schema]]\nurl = "https://www.schemastore.org/api/json/catalog.json"\nsha256 = "{sha}"\n')
    entry = '[[validate]]\nfiles = ["config/*.json"]\nschema = "schema.json"\n'
    # Cargo.toml is the catalog's too; excluded so that both runs validate the same files.
    w("on.toml", entry + '[catalog]\nexclude = ["Cargo.toml"]\n')
    w("off.toml", entry + "[catalog]\nenabled = false\n")
    for i in range(files):
        w(f"config/c{i}.json", f'{{"name": "svc{i}", "port": {8000 + i}}}\n')
    for i in range(20):
        w(f"src/m{i}.rs", f"fn f{i}() {{}}\n")
    env = dict(os.environ, CARGO_ATOMIC_CACHE=cache)

    cold = os.environ.get("COLD") == "1"

    def once(cfg):
        if cold and cfg == "on.toml":
            shutil.rmtree(os.path.join(cache, "derived"), ignore_errors=True)
        start = time.perf_counter()
        r = subprocess.run([binary, "atomic", "--config", cfg, "validate", "-q"], cwd=ws, env=env, capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        return time.perf_counter() - start

    once("on.toml"), once("off.toml")
    on, off = [], []
    for _ in range(runs):
        on.append(once("on.toml"))
        off.append(once("off.toml"))
    a, b = statistics.median(on), statistics.median(off)
    print(f"{files} files: catalog on {a * 1000:.1f} ms, off {b * 1000:.1f} ms: {a / b:.2f}x")
