#!/usr/bin/env python3
"""botocore's reading of AWS config and credentials files, for mfa-tray's tests.

botocore (the AWS CLI, boto3) is the reference reader: for each file this prints what
`botocore.configloader.raw_config_parse` returns, and the profile map the config file
gives (`build_profile_map(...)["profiles"]`) and its Identity Center sessions (`["sso_sessions"]`),
or that botocore cannot read the file.

  botocore_oracle.py --batch LIST   LIST holds one path per line; prints one JSON line
                                    per path, in order
  botocore_oracle.py --serve        reads frames (4-byte big-endian length, then the
                                    file's bytes) on stdin, answers each with a frame
                                    holding the JSON (for the fuzz target)

Each answer is {"sections": {...}, "profiles": {...}, "sso_sessions": {...}} or {"error": "..."}. Run with
PYTHONUTF8=1 so that files are read as UTF-8 whatever the locale, as the AWS CLI does
on a normal desktop.
"""

import json
import os
import struct
import sys
import tempfile

from botocore.configloader import build_profile_map, raw_config_parse


def read(path):
    try:
        sections = raw_config_parse(path)
    except Exception as e:  # botocore raises ConfigParseError; anything else is a failure too
        return {"error": type(e).__name__}
    built = build_profile_map(sections)
    return {"sections": sections, "profiles": built["profiles"], "sso_sessions": built["sso_sessions"]}


def batch(list_path):
    with open(list_path, encoding="utf-8") as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    out = sys.stdout
    for path in paths:
        out.write(json.dumps(read(path), sort_keys=True) + "\n")
    out.flush()


def serve():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    fd, path = tempfile.mkstemp(prefix="oracle-")
    os.close(fd)
    try:
        while True:
            head = stdin.read(4)
            if len(head) < 4:
                return
            (n,) = struct.unpack(">I", head)
            data = stdin.read(n)
            with open(path, "wb") as f:
                f.write(data)
            answer = json.dumps(read(path), sort_keys=True).encode()
            stdout.write(struct.pack(">I", len(answer)) + answer)
            stdout.flush()
    finally:
        os.unlink(path)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--batch":
        batch(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--serve":
        serve()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
