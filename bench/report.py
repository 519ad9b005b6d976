"""Writes BENCHMARKS.md and docs/benchmarks.png from bench/out/ (see bench/run.sh)."""
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

root = Path(__file__).resolve().parent.parent
out = root / "bench" / "out"


def results(name):
    return {r["command"]: r for r in json.loads((out / name).read_text())["results"]}


peers = results("peers-fast.json") | results("peers-cli.json")
edit = results("edit-cost.json")
floor = peers["floor"]["median"]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
machine = f"{cpu or platform.processor()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, {platform.system()} {platform.release()}"

lines = [
    "# Benchmarks",
    "",
    f"Measured by `bench/run.sh` on one machine in one run: {machine}. STS is a moto",
    "server on loopback; every tool starts from the same credentials file and writes `[corp]`.",
    "The file is put back before each run with its old modification time (`cp -p`): a file",
    "changed in the last 10 ms is waited on by mfa-tray, as its writer may still be at it.",
    "Times are medians over the runs; ratios are to the floor measured in the same run.",
    "",
    "![Ratios to the floor](docs/benchmarks.png)",
    "",
    "## Code typed → credentials file written",
    "",
    "| tool | median | ratio to the floor |",
    "|---|---|---|",
]
order = ["floor", "mfa-tray login", "aws-mfa", "aws cli"]
labels = {
    "floor": "floor: the same SDK call in a plain Rust program, result appended",
    "mfa-tray login": "`mfa-tray login` (release)",
    "aws-mfa": "aws-mfa (PyPI), code on stdin",
    "aws cli": "AWS CLI: `sts get-session-token` + 3 × `configure set`",
}
for name in order:
    m = peers[name]["median"]
    lines.append(f"| {labels[name]} | {m * 1000:.1f} ms | {m / floor:.2f}x |")
lines += [
    "",
    "The same two measured again by `bench/login.sh`, alternating in rounds so that drift",
    "in the machine's load hits both alike:",
    "",
    (out / "login.md").read_text().split("\n", 2)[2].strip(),
]
lines += [
    "",
    "`mfa-tray login` does more than the floor (reads and checks both AWS files, takes the",
    "lock, writes a temporary file, fsyncs it, renames it, fsyncs the directory) and is",
    "still about as fast: the process start and the STS round trip dominate.",
    "",
    "## One credentials edit as the file grows",
    "",
    "| credentials file | median `mfa-tray login` | ratio to 10 profiles |",
    "|---|---|---|",
]
base = edit["10 profiles"]["median"]
sizes = dict(line.split()[::-1] for line in (out / "edit-cost-sizes.txt").read_text().splitlines() if line.strip())
for n in ["10", "100", "1000", "10000"]:
    m = edit[f"{n} profiles"]["median"]
    size = next((int(v) for k, v in sizes.items() if k.endswith(f"credentials-{n}")), 0)
    lines.append(f"| {int(n):,} profiles ({size / 1024:,.0f} kB) | {m * 1000:.1f} ms | {m / base:.2f}x |")
process = (out / "process.md").read_text().split("\n", 2)[2].strip()
lines += [
    "",
    "## A tool asks for credentials (credential_process)",
    "",
    "`bench/process.sh`: `mfa-tray credential-process` against a credential_process that",
    "only prints a JSON file (`cat`), each pair measured in the same run:",
    "",
    process,
]
footprint = (out / "footprint.md").read_text().strip()
lines += [
    "",
    "## The tray app's footprint (release, Xvfb, whole process tree)",
    "",
    "`bench/footprint.sh`, each against its floor (bench/gui-floor) in the same run:",
    "",
    footprint,
    "",
    "The tray (`mfa-tray-app`) is built on tray-icon, muda and tao and links no WebKit; the",
    "window is `mfa-tray-window`, a process of its own, so closing it returns WebKit's memory.",
    "The steps' table says where the window's time goes: the process start and Tauri's",
    "set-up cost what the floor's do; creating the webview starts WebKit's processes; and",
    "the page's first IPC round trips (`state`, then the role's explanation) come before",
    "the code field is focused, which the floor's static page does not need.",
    "",
    "Reproduce: `bench/run.sh` (about five minutes; installs aws-mfa, awscli and",
    "matplotlib into `.venv-bench/`).",
    "",
]
(root / "BENCHMARKS.md").write_text("\n".join(lines))

fig, ax = plt.subplots(figsize=(7, 3.2), dpi=120)
names = ["mfa-tray login", "aws-mfa", "aws cli"]
ratios = [peers[n]["median"] / floor for n in names]
bars = ax.barh(["mfa-tray login", "aws-mfa", "AWS CLI"], ratios, color=["#2e7d32", "#8a8f98", "#8a8f98"])
ax.set_xscale("log")
ax.axvline(1, color="#1f5fa8", linestyle="--", linewidth=1)
ax.text(1.05, 2.35, "floor (1x)", color="#1f5fa8", fontsize=8)
for bar, r in zip(bars, ratios):
    ax.text(bar.get_width() * 1.08, bar.get_y() + bar.get_height() / 2, f"{r:.1f}x", va="center", fontsize=9)
ax.set_xlabel("time from code typed to credentials written, ratio to the floor (log scale)")
ax.invert_yaxis()
ax.set_xlim(0.5, max(ratios) * 3)
fig.tight_layout()
fig.savefig(root / "docs" / "benchmarks.png")
print((root / "BENCHMARKS.md").read_text())
