#!/usr/bin/env python3
"""A stand-in for the AWS sign-in federation endpoint, for mfa-tray's console tests.

GET /federation?Action=getSigninToken&Session=JSON answers {"SigninToken": "token-N"} when
the session JSON holds exactly sessionId, sessionKey and sessionToken (non-empty
strings), and records that JSON, one line per request, in --log. A sessionKey of
"refuse" gets HTTP 400, as AWS answers credentials it does not take. Anything else
(another Action, a missing or malformed Session) gets HTTP 400 too.

Usage: federation.py --log FILE. Prints the port it listens on (127.0.0.1) first.
"""

import argparse
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    lock = threading.Lock()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path != "/federation" or query.get("Action") != ["getSigninToken"] or len(query.get("Session", [])) != 1:
                return self.reply(400, {"error": "bad request"})
            try:
                session = json.loads(query["Session"][0])
            except ValueError:
                return self.reply(400, {"error": "bad session"})
            keys = {"sessionId", "sessionKey", "sessionToken"}
            if set(session) != keys or not all(isinstance(session[k], str) and session[k] for k in keys):
                return self.reply(400, {"error": "bad session"})
            with lock:
                with open(args.log, "a") as f:
                    f.write(json.dumps({"session": session, "query": sorted(query)}) + "\n")
                count[0] += 1
                n = count[0]
            if session["sessionKey"] == "refuse":
                return self.reply(400, {"error": "refused"})
            self.reply(200, {"SigninToken": f"token-{n}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
