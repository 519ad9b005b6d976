#!/usr/bin/env bash
# The tray app's footprint, whole process tree, release build, under Xvfb:
#   1. idle with the window never opened (RSS, and CPU time over a minute),
#   2. with the window open,
#   3. a minute after the window was closed,
# reported as MB and as ratios to (1), measured in one run. Writes bench/out/footprint.md.
# Usage: bench/footprint.sh [IDLE_SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-60}
scripts/setup test
command -v xdotool >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq xdotool >/dev/null; }
cargo build --release --quiet -p mfa-tray
bin=$PWD/target/release/mfa-tray
out=bench/out; mkdir -p "$out"

sandbox=$(mktemp -d)
cleanup() { kill "$app" "$xvfb" "$bus" 2>/dev/null || true; rm -rf "$sandbox"; }
trap cleanup EXIT
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 & xvfb=$!
dbus-daemon --session --nofork --print-address=1 > "$sandbox/bus" & bus=$!
sleep 1
export DISPLAY=$display DBUS_SESSION_BUS_ADDRESS=$(head -1 "$sandbox/bus") HOME=$sandbox NO_AT_BRIDGE=1
export MFA_TRAY_CONFIG_DIR=$sandbox/cfg AWS_ENDPOINT_URL=http://127.0.0.1:9
mkdir -p "$sandbox/.aws"
printf '[corp-long-term]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n' > "$sandbox/.aws/credentials"
printf '[profile corp]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = corp\n' > "$sandbox/.aws/config"

# Sum of VmRSS (kB) and of CPU ticks over a process and all its descendants.
tree() {
  local pids=("$1") i=0
  while [ $i -lt ${#pids[@]} ]; do
    for c in $(cat /proc/"${pids[$i]}"/task/*/children 2>/dev/null); do pids+=("$c"); done
    i=$((i + 1))
  done
  local rss=0 ticks=0
  for p in "${pids[@]}"; do
    r=$(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0); rss=$((rss + ${r:-0}))
    t=$(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0); ticks=$((ticks + ${t:-0}))
  done
  echo "$rss $ticks ${#pids[@]}"
}

"$bin" >/dev/null 2>&1 & app=$!
sleep 10
read -r rss0 ticks0 n0 < <(tree $app)
sleep "$idle"
read -r rss1 ticks1 n1 < <(tree $app)
cpu_ms=$(( (ticks1 - ticks0) * 1000 / $(getconf CLK_TCK) ))

"$bin" >/dev/null 2>&1 || true     # a second launch: the first one opens its window
sleep 8
read -r rss2 _ n2 < <(tree $app)
wid=$(xdotool search --name '^mfa-tray$' | head -1)
xdotool windowfocus --sync "$wid" key Escape || true
sleep 2
xdotool search --name '^mfa-tray$' >/dev/null 2>&1 && echo "warning: the window did not close" >&2
sleep "$idle"
read -r rss3 _ n3 < <(tree $app)

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
{
  echo "| state | processes | RSS (MB) | vs. never opened |"
  echo "|---|---|---|---|"
  echo "| idle, window never opened (after ${idle}s) | $n1 | $(mb "$rss1") | 1.00x |"
  echo "| window open | $n2 | $(mb "$rss2") | $(ratio "$rss2" "$rss1") |"
  echo "| ${idle}s after the window closed | $n3 | $(mb "$rss3") | $(ratio "$rss3" "$rss1") |"
  echo
  echo "CPU time while idle for ${idle}s, window never opened: ${cpu_ms} ms"
} | tee "$out/footprint.md"
