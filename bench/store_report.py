#!/usr/bin/env python3
"""Markdown report of one bench/store_vs_anchors.sh run: store_report.py RESULTS_DIR.

Reads hyperfine's JSON (`ID.TAG.hf.json`), the lines each command printed (`ID.TAG.out`;
the first line of each file is hyperfine's warm-up run and is dropped), `ID.rss` and
`ID.digest`. Standard library only.
"""
import glob
import json
import os
import re
import statistics
import sys

R = sys.argv[1]
BASE = "c-batched-mt"
TXN = [
    ("store-txn-10dirs", "cargo-atomic Transaction, 10 dirs"),
    ("store-txn-1dir", "cargo-atomic Transaction, 1 dir"),
    ("c-batched-mt", "atomic_limit batched-mt (8 threads)"),
    ("c-batched", "atomic_limit batched (1 thread)"),
    ("c-naive", "atomic_limit naive"),
    ("py-atomicwrites", "Python atomicwrites"),
    ("store-txn-10dirs-nosync", "cargo-atomic Transaction, 10 dirs, Durability::Atomic (no fsync)"),
    ("c-nosync", "atomic_limit nosync (no fsync, floor)"),
]
HASH = [
    ("hash-bench_store", "cargo_atomic::store::hash_path"),
    ("hash-openssl", "openssl dgst -sha256"),
    ("hash-sha256sum", "sha256sum"),
    ("hash-cat-floor", "cat > /dev/null (read floor)"),
]
GIB = 1 << 30


def hf_times(path):
    with open(path) as f:
        return json.load(f)["results"][0]["times"]


def out_fields(path):
    """key=value fields of every line but the warm-up's."""
    with open(path) as f:
        lines = [l for l in f if "total_s=" in l][1:]
    return [dict(kv.split("=", 1) for kv in l.split()) for l in lines]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def rounds_of(id_):
    tags = []
    for p in glob.glob(os.path.join(R, f"{id_}.r*.hf.json")):
        m = re.search(r"\.(r\d+)\.hf\.json$", p)
        if m:
            tags.append(m.group(1))
    return sorted(tags, key=lambda t: int(t[1:]))


def txn_section(out):
    data = {}
    for id_, _ in TXN:
        per_round = {}
        for tag in rounds_of(id_):
            wall = hf_times(os.path.join(R, f"{id_}.{tag}.hf.json"))
            fields = out_fields(os.path.join(R, f"{id_}.{tag}.out"))
            per_round[tag] = (wall, fields)
        if per_round:
            data[id_] = per_round
    if not data:
        return
    tags = sorted({t for d in data.values() for t in d}, key=lambda t: int(t[1:]))
    runs = sum(len(w) for w, _ in data[next(iter(data))].values())
    out.append(f"## 1,000 atomic replaces of 4 KiB ({len(tags)} rounds, {runs} runs per case in all)\n")
    out.append(
        "wall = whole process (hyperfine); in-process = the time the program measures around the"
        " work itself (store: `Store::open` + `tx.write` x1000 + `commit`; anchors: their own"
        " timer, without interpreter start-up). Ratios are to atomic_limit batched-mt; the"
        " bracket is the spread of the per-round ratios.\n"
    )
    out.append(
        "| case | wall median | per-round medians | in-process median | µs/file | × batched-mt (wall) | × batched-mt (in-process) |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|")

    def stats(id_):
        rounds = data[id_]
        wall = [t for w, _ in rounds.values() for t in w]
        inproc = [float(f["total_s"]) for _, fs in rounds.values() for f in fs]
        rw = {t: med(w) for t, (w, _) in rounds.items()}
        ri = {t: med([float(f["total_s"]) for f in fs]) for t, (_, fs) in rounds.items()}
        return wall, inproc, rw, ri

    base = stats(BASE) if BASE in data else None
    summary = {}
    for id_, label in TXN:
        if id_ not in data:
            continue
        wall, inproc, rw, ri = stats(id_)
        cells = [label, f"{med(wall) * 1e3:.0f} ms"]
        cells.append(f"{min(rw.values()) * 1e3:.0f}–{max(rw.values()) * 1e3:.0f} ms")
        cells.append(f"{med(inproc) * 1e3:.0f} ms")
        cells.append(f"{med(inproc) / 1000 * 1e6:.0f}")
        if base:
            for which, mine, b, per_r, per_b in (
                ("wall", wall, base[0], rw, base[2]),
                ("in", inproc, base[1], ri, base[3]),
            ):
                ratio = med(mine) / med(b)
                prs = [per_r[t] / per_b[t] for t in per_r if t in per_b]
                cells.append(f"{ratio:.2f}× [{min(prs):.2f}–{max(prs):.2f}]")
                summary[(id_, which)] = ratio
        out.append("| " + " | ".join(cells) + " |")
    out.append("")

    for id_ in ("store-txn-10dirs", "store-txn-1dir", "store-txn-10dirs-nosync"):
        if id_ not in data:
            continue
        fs = [f for _, fl in data[id_].values() for f in fl]
        parts = ", ".join(
            f"{k.removesuffix('_s')} {med([float(f[k]) for f in fs]) * 1e3:.1f} ms"
            for k in ("open_s", "add_s", "commit_s")
        )
        out.append(f"- {id_} in-process breakdown (medians): {parts}")
    if ("store-txn-10dirs", "wall") in summary:
        for id_ in ("store-txn-10dirs", "store-txn-1dir"):
            w, i = summary.get((id_, "wall")), summary.get((id_, "in"))
            verdict = "meets" if max(w, i) <= 1.5 else "MISSES"
            out.append(
                f"- **{id_}: {w:.2f}× (wall) / {i:.2f}× (in-process) batched-mt — {verdict} the ≤ 1.5× target** (aim 1.0×)"
            )
    checks = os.path.join(R, "checks.txt")
    if os.path.exists(checks):
        for line in open(checks):
            out.append(f"- {line.strip()}")
    out.append("")


def hash_section(out):
    rows = [(id_, label) for id_, label in HASH if os.path.exists(os.path.join(R, f"{id_}.h.hf.json"))]
    if not rows:
        return
    times = {id_: hf_times(os.path.join(R, f"{id_}.h.hf.json")) for id_, _ in rows}
    ossl = med(times["hash-openssl"]) if "hash-openssl" in times else None
    digests = {}
    for id_, _ in rows:
        p = os.path.join(R, f"{id_}.digest")
        if os.path.exists(p):
            digests[id_] = open(p).read().strip()
    ref = digests.get("hash-openssl")
    n = len(next(iter(times.values())))
    out.append(f"## SHA-256 of 1 GiB, page cache warm ({n} runs each)\n")
    out.append("| tool | wall median | min–max | GiB/s | throughput × openssl | peak RSS | digest |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    summary = {}
    for id_, label in rows:
        t = times[id_]
        rss_p = os.path.join(R, f"{id_}.rss")
        rss = f"{int(open(rss_p).read().split()[-1]) / 1024:.1f} MiB" if os.path.exists(rss_p) else "–"
        ratio = ossl / med(t) if ossl else float("nan")
        summary[id_] = ratio
        d = digests.get(id_)
        ok = "–" if d is None else ("= openssl" if d == ref else "DIFFERS")
        out.append(
            f"| {label} | {med(t):.3f} s | {min(t):.3f}–{max(t):.3f} s | {1 / med(t):.2f} | {ratio:.2f}× | {rss} | {ok} |"
        )
    out.append("")
    if "hash-bench_store" in summary:
        r = summary["hash-bench_store"]
        rss_p = os.path.join(R, "hash-bench_store.rss")
        rss = int(open(rss_p).read().split()[-1]) / 1024 if os.path.exists(rss_p) else float("nan")
        out.append(
            f"- **hash_path: {r:.2f}× openssl's throughput ({'meets' if r >= 0.95 else 'MISSES'} ≥ 0.95×),"
            f" peak RSS {rss:.1f} MiB ({'meets' if rss < 32 else 'MISSES'} < 32 MiB)**"
        )
        out.append("")


def main():
    out = ["# cargo-atomic store vs anchors\n", "```"]
    out += [l.rstrip("\n") for l in open(os.path.join(R, "env.txt"))]
    out += ["```", ""]
    txn_section(out)
    hash_section(out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
