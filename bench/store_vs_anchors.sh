#!/usr/bin/env bash
# store_vs_anchors.sh -- the store (Transaction, hash_path) against the anchors, one run, one
# machine. Compare only figures from the same run.
#
# Usage: bench/store_vs_anchors.sh [--only txn|hash] [--rounds K] [--runs R] [--hash-runs R]
#                                  [--quick] [--keep]
#
#   txn   1,000 atomic replaces of 4 KiB: the real Store + Transaction (journal, one backup
#         object per file, manifest, index) in 10 directories and in 1 directory, against the
#         kit's atomic_limit (batched-mt, batched, naive, nosync) and Python's atomicwrites.
#         Every run writes content that differs per run and per file.
#   hash  SHA-256 of a 1 GiB random blob, page cache warm: hash_path against
#         `openssl dgst -sha256`, sha256sum and `cat > /dev/null`; peak RSS from /usr/bin/time.
#
# Timing: hyperfine (warmup 1, `sync` before each run of the txn group). The machine is noisy
# and shared, so the txn group runs K rounds (default 5) of R runs (default 5) per case; the
# cases of one round run within about a minute of each other, the report gives the median over
# all runs, the spread of the per-round medians and ratios, and an fsync-latency probe per
# round (a busy disk shows there first: ~0.1 ms idle, several ms under another's fsync load).
#
# Nothing is written outside $BENCH_CACHE (default ~/.cache/cargo-atomic-bench) and the repo's
# target/. The shared kit is found at ../shared/bench beside the repository (override: KIT=).
# BENCH_STORE_BIN=path/to/bench_store skips the build and times that binary instead.
# Results: $BENCH_CACHE/results-store/<UTC stamp>/report.md (also printed at the end).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
KIT="$(cd "${KIT:-$REPO/../shared/bench}" && pwd)"
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cargo-atomic-bench}

ONLY=""; ROUNDS=5; RUNS=5; HASH_RUNS=5; KEEP=0
while (($#)); do
  case "$1" in
    --only) ONLY="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --hash-runs) HASH_RUNS="$2"; shift ;;
    --quick) ROUNDS=1; RUNS=3; HASH_RUNS=2 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ -z "$ONLY" || "$ONLY" == "$1" ]]; }

N=1000; SZ=4096
AL=$CACHE/bin/atomic_limit
VENV=$CACHE/venv
PY=$VENV/bin/python
ATOMICWRITES_VERSION=1.4.1   # the kit's pin (install_anchors.sh)
WORK=$CACHE/store-bench
BLOB=$WORK/blob-1g.bin
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
R=$CACHE/results-store/$STAMP
mkdir -p "$CACHE/bin" "$WORK" "$R"

# ------------------------------------------------------------------ tools
if ! command -v hyperfine >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
  else
    echo "hyperfine is missing: apt-get install -y hyperfine" >&2; exit 1
  fi
fi
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing: apt-get install -y time" >&2; exit 1; }
if [[ ! -x $AL || $KIT/atomic_limit.c -nt $AL ]]; then
  echo "building atomic_limit into $AL" >&2
  cc -O2 -Wall -Wextra -pthread -o "$AL" "$KIT/atomic_limit.c"
fi
if ! { [[ -x $PY ]] && "$PY" -c 'import atomicwrites' 2>/dev/null; }; then
  echo "installing atomicwrites==$ATOMICWRITES_VERSION into $VENV" >&2
  [[ -x $PY ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "atomicwrites==$ATOMICWRITES_VERSION"
fi
if [[ -n "${BENCH_STORE_BIN:-}" ]]; then
  BS=$BENCH_STORE_BIN   # e.g. a build of another branch, to measure a change
else
  echo "building examples/bench_store (release)" >&2
  (cd "$REPO" && cargo build --release --example bench_store -q)
  BS=$REPO/target/release/examples/bench_store
fi

# ------------------------------------------------------------------ environment
{
  echo "date: $(date -u +%FT%TZ)"
  echo "repo: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' (dirty)'); bench_store: $BS"
  echo "uname: $(uname -srm)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) x $(nproc); sha_ni: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
  echo "fs: $(findmnt -no SOURCE,FSTYPE,OPTIONS -T "$WORK")"
  echo "tools: $(rustc --version), $(openssl version), $(hyperfine --version), $(cc --version | head -1), $("$PY" -V), atomicwrites $("$PY" -c 'import importlib.metadata as m;print(m.version("atomicwrites"))')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  mkdir -p "$WORK/probe"
  echo "fsync probe: $("$AL" probe "$WORK/probe" 200)"
} >"$R/env.txt"
cat "$R/env.txt" >&2

# bench TAG ID RUNS PREPARE CMD: one hyperfine run of CMD; its output goes to $R/ID.TAG.out
bench() {
  local tag=$1 id=$2 runs=$3 prepare=$4 cmd=$5
  local hf=(--runs "$runs" --warmup 1 --output=pipe --style none --export-json "$R/$id.$tag.hf.json")
  [[ -n "$prepare" ]] && hf+=(--prepare "$prepare")
  printf '  %-22s %s\n' "$id" "$cmd" >&2
  hyperfine "${hf[@]}" "{ $cmd; } >> $R/$id.$tag.out" >/dev/null 2>"$R/$id.$tag.err" ||
    { echo "hyperfine failed for $id, see $R/$id.$tag.err" >&2; exit 1; }
}

# ------------------------------------------------------------------ 1. transactions
if want txn; then
  T=$WORK/txn
  rm -rf "$T"; mkdir -p "$T"
  for ((k = 1; k <= ROUNDS; k++)); do
    echo "txn round $k/$ROUNDS ($RUNS runs each)" >&2
    echo "round r$k: load $(cut -d' ' -f1 /proc/loadavg), fsync probe: $("$AL" probe "$WORK/probe" 50 | cut -d' ' -f3,6)" >>"$R/env.txt"
    bench "r$k" store-txn-10dirs "$RUNS" sync "$BS txn $T/store10 $N $SZ 10"
    bench "r$k" store-txn-1dir "$RUNS" sync "$BS txn $T/store1 $N $SZ 1"
    bench "r$k" c-batched-mt "$RUNS" sync "$AL batched-mt $T/c-batched-mt $N $SZ"
    bench "r$k" c-batched "$RUNS" sync "$AL batched $T/c-batched $N $SZ"
    bench "r$k" c-naive "$RUNS" sync "$AL naive $T/c-naive $N $SZ"
    bench "r$k" py-atomicwrites "$RUNS" sync "$PY $KIT/py_atomic.py atomicwrites $T/py-aw $N $SZ"
    bench "r$k" store-txn-10dirs-nosync "$RUNS" sync "$BS txn $T/store10a $N $SZ 10 --atomic"
    bench "r$k" c-nosync "$RUNS" sync "$AL nosync $T/c-nosync $N $SZ"
  done
  # every target replaced, no temp left behind
  for d in store10 store1; do
    got=$(find "$T/$d" -path "$T/$d/.atomic" -prune -o -type f -name 'f-*.cfg' -print | wc -l)
    tmp=$(find "$T/$d" -path "$T/$d/.atomic" -prune -o -type f -name '*.atomic-tmp' -print | wc -l)
    jn=$(find "$T/$d/.atomic/journal" -type f | wc -l)
    echo "check $d: $got targets (want $N), $tmp temps, $jn journals (want 0)" >>"$R/checks.txt"
  done
  ((KEEP)) || rm -rf "$T"
fi

# ------------------------------------------------------------------ 2. hashing
if want hash; then
  if [[ ! -f $BLOB || $(stat -c %s "$BLOB") != 1073741824 ]]; then
    echo "writing a 1 GiB random blob to $BLOB" >&2
    head -c 1073741824 /dev/urandom >"$BLOB.tmp" && mv "$BLOB.tmp" "$BLOB"
  fi
  cat "$BLOB" >/dev/null
  echo "hash ($HASH_RUNS runs each)" >&2
  bench h hash-bench_store "$HASH_RUNS" "" "$BS hash $BLOB"
  bench h hash-openssl "$HASH_RUNS" "" "openssl dgst -sha256 $BLOB"
  bench h hash-sha256sum "$HASH_RUNS" "" "sha256sum $BLOB"
  bench h hash-cat-floor "$HASH_RUNS" "" "cat $BLOB > /dev/null"
  for id in hash-bench_store hash-openssl hash-sha256sum; do
    case $id in
      hash-bench_store) c=("$BS" hash "$BLOB") ;;
      hash-openssl) c=(openssl dgst -sha256 -r "$BLOB") ;;
      hash-sha256sum) c=(sha256sum "$BLOB") ;;
    esac
    /usr/bin/time -f %M -o "$R/$id.rss" "${c[@]}" | awk '{print $1}' >"$R/$id.digest"
  done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$R/env.txt"

python3 "$HERE/store_report.py" "$R" >"$R/report.md"
echo >&2
echo "report: $R/report.md" >&2
cat "$R/report.md"
