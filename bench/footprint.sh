#!/usr/bin/env bash
# The tray's footprint and the window's speed, release builds under Xvfb, each beside
# its floor measured in the same run (bench/gui-floor):
#   1. idle memory: the whole process tree's RSS after IDLE seconds with the window
#      never opened, mfa-tray-app against tray-floor (a bare tray-icon on tao with the
#      same icon and a menu over StatusNotifierItem), as a ratio; and CPU time idle;
#   2. the window ready to type: from the click on "Enter MFA code…" (over D-Bus, as a
#      panel sends it) to the page having the code field focused (its `ready` call),
#      median of RUNS, against window-floor (the smallest Tauri window: a static page,
#      from its process start to the page loaded); and where the time goes, from the
#      steps both processes write to MFA_TRAY_TRACE;
#   3. the tray's tree with the window open, and IDLE seconds after it closed.
# Writes bench/out/footprint.md. Usage: bench/footprint.sh [IDLE_SECONDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-60}
runs=${2:-5}
scripts/setup test
cargo build --release --quiet -p mfa-tray -p mfa-tray-gui-floor
rel=$PWD/target/release
out=bench/out; mkdir -p "$out"

sandbox=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$sandbox"; }
trap cleanup EXIT
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 & pids+=($!)
sleep 1
# The panel: a bus of its own with a StatusNotifierWatcher; clicks menu items on stdin.
coproc PANEL { "$rel/panel" 2>/dev/null; }
pids+=("$PANEL_PID")
read -r address <&"${PANEL[0]}"
panel() { echo "$1" >&"${PANEL[1]}"; read -r answer <&"${PANEL[0]}"; echo "$answer"; }
export DISPLAY=$display DBUS_SESSION_BUS_ADDRESS=$address HOME=$sandbox NO_AT_BRIDGE=1
export MFA_TRAY_CONFIG_DIR=$sandbox/cfg AWS_ENDPOINT_URL=http://127.0.0.1:9 XDG_RUNTIME_DIR=$sandbox/run
mkdir -p "$sandbox/.aws" "$sandbox/run"; chmod 700 "$sandbox/run"
printf '[corp-long-term]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n' > "$sandbox/.aws/credentials"
printf '[profile corp]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = corp\n' > "$sandbox/.aws/config"

# The process tree of $1: "RSS_KB CPU_TICKS PROCESSES".
tree() {
  local all=("$1") i=0
  while [ $i -lt ${#all[@]} ]; do
    for c in $(cat /proc/"${all[$i]}"/task/*/children 2>/dev/null); do all+=("$c"); done
    i=$((i + 1))
  done
  local rss=0 ticks=0
  for p in "${all[@]}"; do
    r=$(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0); rss=$((rss + ${r:-0}))
    t=$(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0); ticks=$((ticks + ${t:-0}))
  done
  echo "$rss $ticks ${#all[@]}"
}
now_us() { date +%s%6N; }
# The time of STEP in the trace file (waits up to 20 s for it).
step() {
  for _ in $(seq 200); do
    t=$(awk -v s="$1" '$1 == s { print $2; exit }' "$trace" 2>/dev/null)
    [ -n "$t" ] && { echo "$t"; return; }
    sleep 0.1
  done
  echo "footprint: no '$1' in the trace" >&2; exit 1
}
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.0f", u / 1000 }'; }

# 1. Idle: the floor, then the tray, on the same display and bus.
"$rel/tray-floor" >/dev/null 2>&1 & floor=$!; pids+=($floor)
panel item >/dev/null
sleep "$idle"
read -r floor_rss _ floor_n < <(tree $floor)
kill $floor; wait $floor 2>/dev/null || true

trace=$sandbox/trace
MFA_TRAY_TRACE=$trace "$rel/mfa-tray-app" >/dev/null 2>&1 & app=$!; pids+=($app)
panel item >/dev/null
sleep 5
read -r _ ticks0 _ < <(tree $app)
sleep "$idle"
read -r rss1 ticks1 n1 < <(tree $app)
cpu_ms=$(( (ticks1 - ticks0) * 1000 / $(getconf CLK_TCK) ))

# 2. The window, RUNS times each.
window_pid() { cat /proc/$app/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | head -1; }
steps="spawn start setup window ready"
: > "$sandbox/app-times"
for i in $(seq "$runs"); do
  rm -f "$trace"
  clicked=$(panel "click Enter MFA code…")
  line="$i"
  for s in $steps; do line="$line $(( $(step "$s") - clicked ))"; done
  echo "$line" >> "$sandbox/app-times"
  sleep 2
  if [ "$i" -eq "$runs" ]; then read -r rss2 _ n2 < <(tree $app); fi
  w=$(window_pid); [ -n "$w" ] && kill "$w"
  sleep 1
done
: > "$sandbox/floor-times"
for i in $(seq "$runs"); do
  rm -f "$trace"
  t0=$(now_us)
  MFA_TRAY_TRACE=$trace "$rel/window-floor" >/dev/null 2>&1 & w=$!
  echo "$i $(( $(step start) - t0 )) $(( $(step ready) - t0 ))" >> "$sandbox/floor-times"
  sleep 2
  kill $w; wait $w 2>/dev/null || true
done
sleep "$idle"
read -r rss3 _ n3 < <(tree $app)

col() { awk -v c="$2" '{ print $c }' "$1" | median; }
app_ready=$(col "$sandbox/app-times" 6)
floor_ready=$(col "$sandbox/floor-times" 3)
{
  echo "### Idle, the window never opened (whole process tree, after ${idle} s)"
  echo
  echo "| program | processes | RSS (MB) | vs. the floor |"
  echo "|---|---|---|---|"
  echo "| tray-floor: a bare tray-icon on tao, the same icon and a menu | $floor_n | $(mb "$floor_rss") | 1.00x |"
  echo "| mfa-tray-app | $n1 | $(mb "$rss1") | $(ratio "$rss1" "$floor_rss") |"
  echo
  echo "mfa-tray-app's CPU time over those ${idle} s: ${cpu_ms} ms."
  echo
  echo "### The window ready to type (median of $runs)"
  echo
  echo "| from → to | ms | vs. the floor |"
  echo "|---|---|---|"
  echo "| window-floor: process start → its static page loaded | $(ms "$floor_ready") | 1.00x |"
  echo "| mfa-tray: click on \"Enter MFA code…\" → code field focused | $(ms "$app_ready") | $(ratio "$app_ready" "$floor_ready") |"
  echo
  echo "Where mfa-tray's time goes (median ms after the click, each step's own share):"
  echo
  echo "| step | at (ms) | takes (ms) |"
  echo "|---|---|---|"
  prev=0; c=2
  for s in $steps; do
    at=$(col "$sandbox/app-times" $c)
    case $s in
      spawn) what="the tray has the click and spawns mfa-tray-window" ;;
      start) what="the window's main() runs (exec, dynamic linking)" ;;
      setup) what="Tauri set up (GTK, the event loop)" ;;
      window) what="window and webview created (the engine read the files)" ;;
      ready) what="WebKit loaded the page and focused the field (state is read after)" ;;
    esac
    echo "| $s: $what | $(ms "$at") | $(ms $((at - prev))) |"
    prev=$at; c=$((c + 1))
  done
  echo "| (window-floor's main() runs) | $(ms "$(col "$sandbox/floor-times" 2)") | |"
  echo
  echo "### The tray's tree with the window open and after"
  echo
  echo "| state | processes | RSS (MB) | vs. never opened |"
  echo "|---|---|---|---|"
  echo "| idle, window never opened | $n1 | $(mb "$rss1") | 1.00x |"
  echo "| window open | $n2 | $(mb "$rss2") | $(ratio "$rss2" "$rss1") |"
  echo "| ${idle} s after the window closed | $n3 | $(mb "$rss3") | $(ratio "$rss3" "$rss1") |"
} | tee "$out/footprint.md"
