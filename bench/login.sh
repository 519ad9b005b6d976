#!/usr/bin/env bash
# "Code typed → credentials file written": `mfa-tray login` against the floor (a plain
# Rust program making the same GetSessionToken call with the SDK and appending the
# result), both against one moto server on loopback, measured side by side by hyperfine
# in one run. Prints the table and the ratio; writes bench/out/login.{json,md}.
#
# Usage: bench/login.sh [RUNS]      (default 100 runs each, after 10 warm-ups)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
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
reset="cp $sandbox/credentials.orig $sandbox/.aws/credentials"
floor="target/release/mfa-tray-floor $sandbox/.aws/credentials AKIAALICEEXAMPLE0001 alice/long/term/secret arn:aws:iam::123456789012:mfa/alice 123456"
login="target/release/mfa-tray login corp --code 123456"

hyperfine -N --warmup 10 --runs "$runs" --prepare "$reset" \
  -n floor "$floor" -n "mfa-tray login" "$login" \
  --export-json "$out/login.json" --export-markdown "$out/login.md"

.venv/bin/python - "$out/login.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f, l = r["floor"], r["mfa-tray login"]
print(f"\nmfa-tray login / floor: mean {l['mean']/f['mean']:.2f}x, median {l['median']/f['median']:.2f}x "
      f"(floor mean {f['mean']*1000:.1f} ms, login mean {l['mean']*1000:.1f} ms)")
PY
