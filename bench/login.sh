#!/usr/bin/env bash
# "Code typed → credentials file written": `mfa-tray login` against the floor (a plain
# Rust program making the same GetSessionToken call with the SDK and appending the
# result), both against one moto server on loopback, measured side by side by hyperfine
# in one run. Prints the table and the ratio; writes bench/out/login.{json,md}.
#
# The two alternate in rounds (RUNS runs of each per round), so drift in the machine's
# load hits both alike; the ratio reported is the median over the rounds.
# Usage: bench/login.sh [RUNS] [ROUNDS]      (default 50 runs × 5 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
rounds=${2:-5}
scripts/setup test
command -v hyperfine >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet -p mfa-tray -p mfa-tray-floor

out=bench/out; mkdir -p "$out"
sandbox=$(mktemp -d); trap 'kill $moto_pid 2>/dev/null; rm -rf "$sandbox"' EXIT
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 & moto_pid=$!
until curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 || .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; do sleep 0.1; done

mkdir -p "$sandbox/.aws"
cat > "$sandbox/credentials.orig" <<'INI'
# hand-written
[corp-long-term]
aws_access_key_id = AKIAALICEEXAMPLE0001
aws_secret_access_key = alice/long/term/secret
INI
cat > "$sandbox/.aws/config" <<'INI'
[profile corp]
mfa_serial = arn:aws:iam::123456789012:mfa/alice
region = us-east-1
INI
export HOME=$sandbox AWS_ENDPOINT_URL=http://127.0.0.1:$port MFA_TRAY_CONFIG_DIR=$sandbox/cfg
# cp -p: the file keeps the modification time it had (written before the run), as a
# file the user last changed a while ago does. (A file written in the last 10 ms is
# waited on by mfa-tray, by design: its writer may still be at it.)
reset="cp -p $sandbox/credentials.orig $sandbox/.aws/credentials"
floor="target/release/mfa-tray-floor $sandbox/.aws/credentials AKIAALICEEXAMPLE0001 alice/long/term/secret arn:aws:iam::123456789012:mfa/alice 123456"
login="target/release/mfa-tray login corp --code 123456"

for round in $(seq "$rounds"); do
  hyperfine -N --style basic --warmup 5 --runs "$runs" --prepare "$reset" \
    -n floor "$floor" -n "mfa-tray login" "$login" --export-json "$out/login-$round.json" >/dev/null
done

.venv/bin/python - "$out" "$rounds" "$(nproc)" "$(uname -srm)" <<'PY' | tee "$out/login.md"
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(1, rounds + 1):
    r = {x["command"]: x for x in json.load(open(f"{out}/login-{i}.json"))["results"]}
    rows.append((r["floor"]["median"] * 1000, r["mfa-tray login"]["median"] * 1000))
print(f"machine: {sys.argv[3]} cores, {sys.argv[4]}; moto on loopback\n")
print("| round | floor median (ms) | mfa-tray login median (ms) | ratio |")
print("|---|---|---|---|")
for i, (f, l) in enumerate(rows, 1):
    print(f"| {i} | {f:.1f} | {l:.1f} | {l / f:.2f}x |")
ratio = statistics.median(l / f for f, l in rows)
print(f"\nmfa-tray login / floor, median over {rounds} rounds: **{ratio:.2f}x**")
PY
