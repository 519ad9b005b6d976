#!/usr/bin/env bash
# "Code typed → credentials file written", side by side in one run, against one moto
# server on loopback, from the same sandbox HOME:
#   floor           a plain Rust program: the same SDK call, the result appended (bench/floor)
#   mfa-tray login  the release build
#   aws-mfa         (PyPI) fed the same code on standard input (through `sh -c`)
#   aws cli         `sts get-session-token` and three `configure set`
# Then the cost of one credentials edit (mfa-tray login) as the file grows from 10 to
# 10,000 profiles. Writes bench/out/peers.json and bench/out/edit-cost.json.
# Usage: bench/peers.sh [RUNS]   (default 30; the AWS CLI gets a third of that)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
scripts/setup test
command -v hyperfine >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq hyperfine >/dev/null; }
if [ ! -x .venv-bench/bin/aws-mfa ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q --disable-pip-version-check "aws-mfa==0.0.12" "awscli==1.*" "matplotlib==3.*"
fi
cargo build --release --quiet -p mfa-tray -p mfa-tray-floor

out=bench/out; mkdir -p "$out"
sandbox=$(mktemp -d); trap 'kill $moto_pid 2>/dev/null; rm -rf "$sandbox"' EXIT
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 & moto_pid=$!
until .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; do sleep 0.1; done

serial=arn:aws:iam::123456789012:mfa/alice
mkdir -p "$sandbox/.aws"
profiles() { # N: a credentials file with N unrelated profiles and corp's long-term keys
  printf '# hand-written\n[corp-long-term]\naws_access_key_id = AKIAALICEEXAMPLE0001\naws_secret_access_key = alice/long/term/secret\n'
  for i in $(seq "$1"); do printf '\n[profile-%d]\naws_access_key_id = AKIA%016d\naws_secret_access_key = secret/%d/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n' "$i" "$i" "$i"; done
}
profiles 10 > "$sandbox/credentials.orig"
printf '[profile corp]\nmfa_serial = %s\nregion = us-east-1\n' "$serial" > "$sandbox/.aws/config"
export HOME=$sandbox AWS_ENDPOINT_URL=http://127.0.0.1:$port MFA_TRAY_CONFIG_DIR=$sandbox/cfg
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
# cp -p: the file keeps the modification time it had (written before the run), as a
# file the user last changed a while ago does. (A file written in the last 10 ms is
# waited on by mfa-tray, by design: its writer may still be at it.)
reset="cp -p $sandbox/credentials.orig $sandbox/.aws/credentials"
venv=$PWD/.venv-bench/bin

cat > "$sandbox/awscli.sh" <<SH
#!/bin/sh
set -e
set -- \$($venv/aws sts get-session-token --profile corp-long-term --serial-number $serial --token-code 123456 \
  --output text --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]')
$venv/aws configure set aws_access_key_id "\$1" --profile corp
$venv/aws configure set aws_secret_access_key "\$2" --profile corp
$venv/aws configure set aws_session_token "\$3" --profile corp
SH
chmod +x "$sandbox/awscli.sh"
echo 123456 > "$sandbox/code"

hyperfine -N --style basic --warmup 3 --runs "$runs" --prepare "$reset" \
  -n floor "target/release/mfa-tray-floor $sandbox/.aws/credentials AKIAALICEEXAMPLE0001 alice/long/term/secret $serial 123456" \
  -n "mfa-tray login" "target/release/mfa-tray login corp --code 123456" \
  -n aws-mfa "sh -c '$venv/aws-mfa --profile corp --device $serial --force < $sandbox/code'" \
  --export-json "$out/peers-fast.json"
hyperfine -N --style basic --warmup 1 --runs $((runs / 3 > 3 ? runs / 3 : 3)) --prepare "$reset" \
  -n "aws cli" "$sandbox/awscli.sh" --export-json "$out/peers-cli.json"
# Each tool really wrote [corp]:
$reset; target/release/mfa-tray login corp --code 123456 >/dev/null; grep -q '^\[corp\]' "$sandbox/.aws/credentials"
$reset; "$venv/aws-mfa" --profile corp --device "$serial" --force < "$sandbox/code" >/dev/null 2>&1; grep -q '^\[corp\]' "$sandbox/.aws/credentials"
$reset; "$sandbox/awscli.sh"; grep -q '^\[corp\]' "$sandbox/.aws/credentials"

args=()
for n in 10 100 1000 10000; do
  profiles "$n" > "$sandbox/credentials-$n"
  args+=(-n "$n profiles" --prepare "cp -p $sandbox/credentials-$n $sandbox/.aws/credentials" "target/release/mfa-tray login corp --code 123456")
done
hyperfine -N --style basic --warmup 3 --runs "$runs" "${args[@]}" --export-json "$out/edit-cost.json"
ls -la "$sandbox"/credentials-* | awk '{print $5, $9}' > "$out/edit-cost-sizes.txt"
