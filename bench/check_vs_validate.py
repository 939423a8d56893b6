#!/usr/bin/env python3
"""`check` on the demo workspace against `validate` of the same workspace, in one run.

    python3 bench/check_vs_validate.py [BINARY] [RUNS]

BINARY defaults to target/release/cargo-atomic. The demo is copied to a temp dir, applied once
(so the manifest and audit log exist, as in a real workspace), then `validate` (the files its
[[validate]] entries name) and `check` (those, plus rendering every [[merge]] output and
comparing it, the manifest, the audit chain) run alternately; medians and the ratio are printed.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(root, "target/release/cargo-atomic")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 41

with tempfile.TemporaryDirectory() as tmp:
    ws = os.path.join(tmp, "demo")
    shutil.copytree(os.path.join(root, "examples/demo"), ws)
    run = lambda *args: subprocess.run([binary, "atomic", *args], cwd=ws, capture_output=True)
    assert run("apply").returncode == 0
    times = {"validate": [], "check": []}
    for _ in range(runs):
        for name in times:
            t = time.perf_counter()
            r = run(name, "-q")
            times[name].append(time.perf_counter() - t)
            assert r.returncode == 0, (name, r.stderr)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"validate: {med['validate']:.2f} ms   check: {med['check']:.2f} ms   "
          f"check/validate: {med['check'] / med['validate']:.2f}x   ({runs} runs each, medians)")
