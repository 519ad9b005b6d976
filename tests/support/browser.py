#!/usr/bin/env python3
"""A browser for the tests, installed as `xdg-open` on the PATH: given the page
mfa-tray opens (a file that forwards to a link), it records its command line, reads the
page, follows the link and every redirect (the sign-in page's redirect back to
mfa-tray's loopback listener included), and records what the last page said.

Usage: browser.py PAGE   with MFA_TRAY_TEST_BROWSER_LOG naming the record (JSON lines:
{"argv": [...], "link": ..., "status": ..., "body": ...}).
MFA_TRAY_TEST_BROWSER=tamper first sends the redirect back with another `state` (a
forged callback; its status is recorded as "forged_status"), then the real one; =none
records and opens nothing (a browser that never comes).
"""

import html
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    log = os.environ.get("MFA_TRAY_TEST_BROWSER_LOG")
    entry = {"argv": sys.argv[1:]}
    mode = os.environ.get("MFA_TRAY_TEST_BROWSER", "")
    try:
        page = open(sys.argv[1]).read()
        entry["mode"] = oct(os.stat(sys.argv[1]).st_mode & 0o777)
        link = html.unescape(re.search(r'content="0;url=([^"]*)"', page).group(1))
        entry["link"] = link
        if mode == "none":
            return
        opener = urllib.request.build_opener(NoRedirect)
        url = link
        for _ in range(10):
            try:
                answer = opener.open(url, timeout=10)
                entry["status"], entry["body"] = answer.status, answer.read().decode(errors="replace")
                break
            except urllib.error.HTTPError as e:
                if e.code in (301, 302, 303, 307) and e.headers.get("Location"):
                    url = e.headers["Location"]
                    if mode == "tamper" and "state=" in url:
                        forged = re.sub(r"state=[^&]*", "state=forged", url)
                        try:
                            entry["forged_status"] = opener.open(forged, timeout=10).status
                        except urllib.error.HTTPError as f:
                            entry["forged_status"] = f.code
                    entry.setdefault("redirects", []).append(url.split("?")[0])
                    continue
                entry["status"], entry["body"] = e.code, e.read().decode(errors="replace")
                break
    finally:
        if log:
            with open(log, "a") as f:
                f.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
