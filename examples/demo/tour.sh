#!/usr/bin/env bash
# A tour of cargo atomic on a copy of this demo workspace. Needs `cargo atomic` on PATH
# (`cargo install --locked --path .` from the repository root).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R "$here/." "$work/"
rm -rf "$work/.atomic"
cd "$work"
chmod 600 config/secrets.toml
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "cargo atomic validate   # every file atomic.toml names, against its schema"
cargo atomic validate

step "cargo atomic check   # valid, and every rendered output up to date with its sources"
cargo atomic check

step "give prod's api more workers in its TOML overlay: its rendered output is now stale"
sed -i 's/^workers = 16/workers = 32/' services/api/prod.toml
cargo atomic check --message-format short || echo "(exit $?)"

step "cargo atomic apply --dry-run   # what would change, as a diff"
cargo atomic apply --dry-run

step "cargo atomic apply   # every changed output, one transaction; the rest untouched"
cargo atomic apply

step "cargo atomic explain rendered/api/prod.json server.workers   # where the value came from"
cargo atomic explain rendered/api/prod.json server.workers

step "a mistake in an overlay is reported where it was made, and nothing is written"
printf 'server:\n  port: 91000\n' >> services/worker/prod.yaml
cargo atomic apply || echo "(exit $?)"
sed -i '/^server:$/,$d' services/worker/prod.yaml

step "cargo atomic write config/app.json   # atomic, durable, old bytes kept"
sed 's/"port": 8080/"port": 9090/' config/app.json | cargo atomic write config/app.json

step "cargo atomic write config/secrets.toml   # stays 0600"
echo 'api_token = "rotated"' | cargo atomic write config/secrets.toml
ls -l config/secrets.toml

step "cargo atomic verify   # every managed file matches its recorded sha256"
cargo atomic verify

step "edit config/app.json by hand, then verify again (exit 1: a finding)"
sed -i 's/"port": 9090/"port": "eighty"/' config/app.json
cargo atomic verify || echo "(exit $?)"

step "cargo atomic validate   # and the schema says where it is wrong"
cargo atomic validate || echo "(exit $?)"

step "cargo atomic backups list"
cargo atomic backups list

step "cargo atomic backups restore config/app.json   # the hand edit becomes a backup too"
cargo atomic backups restore config/app.json
grep port config/app.json
cargo atomic backups list config/app.json

step "cargo atomic backups prune --dry-run   # each backup, keep or drop, and the rule why"
cargo atomic backups prune --dry-run

step "cargo atomic rotate   # a report per night: rotated aside, gzipped, the newest 3 kept"
mkdir -p artifacts
echo "keep me: not an artifact cargo atomic made" > artifacts/notes.txt
for night in 1 2 3 4 5; do
  printf '{"night": %d, "p99_ms": %d}\n' "$night" "$((40 + night))" > artifacts/load-test.json
  cargo atomic rotate -q
done
ls artifacts | sed 's/[0-9]\{8\}T[0-9]\{6\}Z/<stamp>/'

step "cargo atomic audit show --limit 6   # every change, who made it, before -> after"
cargo atomic audit show --limit 6

step "cargo atomic audit verify --deep   # the hash chain, the head, every file and backup"
cargo atomic audit verify --deep

step "tamper with one audit record: verify names its line"
sed -i '3s/"op":"[a-z]*"/"op":"forged"/' .atomic/audit.jsonl
cargo atomic audit verify || echo "(exit $?)"

step "cargo atomic --message-format json verify"
cargo atomic --message-format json verify

step "cargo atomic recover   # nothing interrupted; every command would finish one first"
cargo atomic recover
