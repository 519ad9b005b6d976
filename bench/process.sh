#!/usr/bin/env bash
# "A tool asks for credentials" (credential_process), measured side by side by hyperfine
# in one run, against the floor: a credential_process that only prints a JSON file
# (`cat`). Two layers:
#   the command alone: `cat` vs `mfa-tray credential-process` answered by the MFA session
#     in the file (no tray), and answered by the running tray from its memory;
#   the tool's whole start: boto3 loading credentials (`get_frozen_credentials`) with
#     each of those as its credential_process.
# moto on loopback; the tray runs under Xvfb on a private D-Bus. Prints the tables and
# the ratios; writes bench/out/process.md.
# Usage: bench/process.sh [RUNS]      (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
scripts/setup test
command -v hyperfine >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --quiet -p mfa-tray

out=bench/out; mkdir -p "$out"
sandbox=$(mktemp -d)
cleanup() { kill "$moto_pid" 2>/dev/null || true; [ -n "${tray_pid:-}" ] && kill -- "-$tray_pid" 2>/dev/null; rm -rf "$sandbox"; }
trap cleanup EXIT
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 & moto_pid=$!
until .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; do sleep 0.1; done

bin=$PWD/target/release/mfa-tray
mkdir -p "$sandbox/.aws" "$sandbox/run"; chmod 700 "$sandbox/run"
cat > "$sandbox/.aws/credentials" <<'INI'
[corp-long-term]
aws_access_key_id = AKIAALICEEXAMPLE0001
aws_secret_access_key = alice/long/term/secret
INI
cat > "$sandbox/.aws/config" <<INI
[profile corp]
mfa_serial = arn:aws:iam::123456789012:mfa/alice
region = us-east-1

[profile prod-admin]
credential_process = $bin credential-process prod-admin
mfa_tray_role_arn = arn:aws:iam::123456789012:role/Admin
source_profile = corp

[profile floor]
credential_process = cat $sandbox/floor.json

[profile session]
credential_process = $bin credential-process corp
INI
export HOME=$sandbox AWS_ENDPOINT_URL=http://127.0.0.1:$port MFA_TRAY_CONFIG_DIR=$sandbox/cfg XDG_RUNTIME_DIR=$sandbox/run AWS_DEFAULT_REGION=us-east-1
"$bin" login corp --code 123456 >/dev/null
"$bin" credential-process corp > "$sandbox/floor.json"

boto="$PWD/.venv/bin/python -c 'import boto3,sys; boto3.Session(profile_name=sys.argv[1]).get_credentials().get_frozen_credentials()'"
measure() {  # NAME PROFILE-OR-ARGS LABEL: the command alone, then boto3 through it
  hyperfine -N --style basic --warmup 3 --runs "$runs" \
    -n "floor: cat" "cat $sandbox/floor.json" -n "$3" "$bin credential-process $2" \
    --export-json "$out/process-$1-command.json" >/dev/null
  hyperfine --style basic --warmup 2 --runs "$runs" \
    -n "floor: cat" "$boto floor" -n "$3" "$boto $4" \
    --export-json "$out/process-$1-boto3.json" >/dev/null
}
# No tray: the MFA session in the file answers.
measure file corp "mfa-tray, session in the file, no tray" session

# The tray, as a desktop session would start it; the first ask fills its memory.
setsid xvfb-run -a dbus-run-session -- target/release/mfa-tray-app >/dev/null 2>&1 & tray_pid=$!
until [ -S "$sandbox/run/mfa-tray/tray.sock" ]; do sleep 0.1; done
"$bin" credential-process prod-admin >/dev/null
measure tray prod-admin "mfa-tray, role from the tray's memory" prod-admin

.venv/bin/python - "$out" "$(nproc)" "$(uname -srm)" <<'PY' | tee "$out/process.md"
import json, sys
out = sys.argv[1]
print(f"machine: {sys.argv[2]} cores, {sys.argv[3]}; moto on loopback\n")
for layer, title in (("command", "The credential_process command alone"), ("boto3", "boto3 loading credentials through it (a tool's start)")):
    print(f"{title}:\n")
    print("| credential_process | median (ms) | floor median in the same run (ms) | ratio to the floor |")
    print("|---|---|---|---|")
    for case in ("file", "tray"):
        floor, ours = json.load(open(f"{out}/process-{case}-{layer}.json"))["results"]
        print(f"| {ours['command']} | {ours['median'] * 1000:.1f} | {floor['median'] * 1000:.1f} | {ours['median'] / floor['median']:.2f}x |")
    print()
PY
