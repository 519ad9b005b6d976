#!/usr/bin/env python3
"""Another writer of the credentials file, as the AWS CLI (`aws configure set`), aws-mfa
and editors are: it reads the whole file, changes one value, and rewrites the file in
place (open with truncate, then write) without any lock. One write in five is made in
two parts with a pause between, as a slow or preempted writer's would be.

For tests/race.rs. Each iteration is logged as a JSON line: when the read started and
when the write ended (wall clock, seconds), which [t-N] sections the read saw, whether
every --marker was in what it read, and the counter it wrote.

Usage: other_writer.py FILE LOG --seconds S [--iterations N] [--marker TEXT ...] [--seed N]
"""

import argparse
import json
import os
import random
import re
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("log")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--iterations", type=int, default=1_000_000)
    ap.add_argument("--marker", action="append", default=[])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    deadline = time.time() + args.seconds
    with open(args.log, "w") as log:
        for i in range(args.iterations):
            if time.time() > deadline:
                break
            started = time.time()
            with open(args.file, "rb") as f:
                text = f.read().decode()
            ok = all(m in text for m in args.marker)
            seen = re.findall(r"^\[(t-\d+)\]", text, re.M)
            counter = i + 1
            if re.search(r"^counter = \d+$", text, re.M):
                text = re.sub(r"^counter = \d+$", f"counter = {counter}", text, count=1, flags=re.M)
            else:
                text += f"\n[other]\ncounter = {counter}\n"
            data = text.encode()
            fd = os.open(args.file, os.O_WRONLY | os.O_TRUNC)
            try:
                if rng.random() < 0.2:
                    cut = rng.randrange(len(data) + 1)
                    write_all(fd, data[:cut])
                    time.sleep(rng.uniform(0, 0.003))
                    write_all(fd, data[cut:])
                else:
                    write_all(fd, data)
            finally:
                os.close(fd)
            ended = time.time()
            log.write(json.dumps({"i": i, "read": started, "write_end": ended, "seen": seen, "ok": ok, "counter": counter}) + "\n")
            time.sleep(rng.uniform(0.002, 0.02))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


if __name__ == "__main__":
    main()
