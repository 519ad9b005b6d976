#!/usr/bin/env python3
"""An MFA-checking proxy in front of moto, for mfa-tray's tests.

moto implements STS but ignores SerialNumber and TokenCode. This proxy knows a TOTP
secret per MFA device (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, one step of
drift either way, as AWS allows) and applies AWS's rules before forwarding:

  * GetSessionToken / AssumeRole with SerialNumber + TokenCode: the device must be
    known, the code right and not used before (AWS rejects a reused code).
  * AssumeRole without a code must be signed with the credentials of an MFA session
    (GetSessionToken with MFA); such sessions get at most 1 hour, as AWS caps them.
  * DurationSeconds ranges: GetSessionToken 900..129600, AssumeRole 900..43200 and
    the role's MaxSessionDuration (--role-max).
  * GetSessionToken cannot be called with temporary credentials.

Failures are AWS-shaped error XML with AWS's messages. Everything else is forwarded
unchanged (the Host header too, so moto's signature checks still hold).

Faults for the reliability tests: POST /_proxy/fault with a JSON object
  {"action": "GetSessionToken" | "AssumeRole" | "*", "kind": KIND, "times": N}
applies to the next N matching requests (all of them if "times" is absent), where KIND:
  "status"   answer HTTP "status" (default 500) with an InternalFailure error
  "throttle" answer 400 Throttling ("Rate exceeded")
  "drop"     send half a response, then close the connection
  "delay"    wait "seconds", then go on as usual
  "skew"     answer 403 RequestTimeTooSkewed with a Date header "seconds" ahead
  "expired"  answer 400 ExpiredToken
  "inject"   forward, then put a line break and a [section] into the AccessKeyId
  "expires_in"  forward, then make the credentials expire "seconds" from now
  "malformed"  answer 200 with XML cut off after credentials that carry LEAK markers
  "bad_expiration"  answer 200 with complete credentials (LEAK markers) whose
             Expiration is not a date
  "echo"     answer 400 with an error message that echoes the request: its body (the
             MFA code among it) and its X-Amz-Security-Token header

Usage: mfa_proxy.py --upstream http://127.0.0.1:PORT --device SERIAL=BASE32SECRET
         [--role-max ROLE_ARN=SECONDS] [--log FILE]
Prints the port it listens on (on 127.0.0.1) as its first line.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import re
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
WRONG_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
BAD_SERIAL = ("MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA "
              "serial number is valid and associated with this user.")


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


class State:
    def __init__(self, devices, role_max, log_path):
        self.devices = devices
        self.role_max = role_max
        self.log_path = log_path
        self.used = set()           # (serial, code) already accepted
        self.mfa_session_keys = set()  # access key ids of MFA sessions
        self.faults = []               # dicts, see the module doc
        self.lock = threading.Lock()

    def take_fault(self, action):
        with self.lock:
            for f in self.faults:
                if f.get("action", "*") in ("*", action) and f.get("times", -1) != 0:
                    if f.get("times", -1) > 0:
                        f["times"] -= 1
                    return dict(f)
        return None

    def log(self, entry):
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")


def error_xml(code, message, status):
    body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f'<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>'
            '<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>')
    return status, body.encode()


def signing_key_id(headers):
    m = re.search(r"Credential=([^/,\s]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else None


def check_mfa(state, params):
    """None if SerialNumber/TokenCode pass, else an error response."""
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    if code is not None and not re.fullmatch(r"\d{6}", code):
        return error_xml("ValidationError", f"1 validation error detected: Value '{code}' at 'tokenCode' "
                         "failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*", 400)
    if serial not in state.devices:
        return error_xml("AccessDenied", BAD_SERIAL, 403)
    now = int(time.time()) // 30
    valid = {totp(state.devices[serial], now + d) for d in (-1, 0, 1)}
    with state.lock:
        if code not in valid or (serial, code) in state.used:
            return error_xml("AccessDenied", WRONG_CODE, 403)
        state.used.add((serial, code))
    return None


def check_duration(params, low, high):
    raw = params.get("DurationSeconds")
    if raw is None:
        return None
    d = int(raw)
    if d < low:
        return error_xml("ValidationError", f"1 validation error detected: Value '{d}' at 'durationSeconds' "
                         f"failed to satisfy constraint: Member must have value greater than or equal to {low}", 400)
    if d > high:
        return error_xml("ValidationError", f"1 validation error detected: Value '{d}' at 'durationSeconds' "
                         f"failed to satisfy constraint: Member must have value less than or equal to {high}", 400)
    return None


def check(state, params, headers):
    action = params.get("Action")
    with_token = "X-Amz-Security-Token" in headers
    key_id = signing_key_id(headers)
    has_mfa = "SerialNumber" in params or "TokenCode" in params
    if action == "GetSessionToken":
        if with_token:
            return error_xml("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
        return check_duration(params, 900, 129600) or (check_mfa(state, params) if has_mfa else None)
    if action == "AssumeRole":
        err = check_duration(params, 900, 43200)
        if err:
            return err
        role = params.get("RoleArn", "")
        duration = int(params.get("DurationSeconds", "3600"))
        if has_mfa:
            err = check_mfa(state, params)
            if err:
                return err
        elif not (with_token and key_id in state.mfa_session_keys):
            return error_xml("AccessDenied", f"User is not authorized to perform: sts:AssumeRole on resource: {role} "
                             "(the role requires MFA)", 403)
        elif duration > 3600:
            return error_xml("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit "
                             "for roles assumed with session credentials.", 400)
        if duration > state.role_max.get(role, 43200):
            return error_xml("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration "
                             "set for this role.", 400)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    upstream = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.relay()

    def do_POST(self):
        self.relay()

    def do_PUT(self):
        self.relay()

    def do_DELETE(self):
        self.relay()

    def do_HEAD(self):
        self.relay()

    def relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_proxy/fault":
            with self.state.lock:
                self.state.faults.append(json.loads(body))
            self.reply(200, [("Content-Type", "application/json")], b"{}")
            return
        params = {}
        ctype = self.headers.get("Content-Type", "")
        if self.command == "POST" and "x-www-form-urlencoded" in ctype:
            params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        action = params.get("Action")
        entry = {"action": action, "role_arn": params.get("RoleArn"), "serial": "SerialNumber" in params,
                 "code": "TokenCode" in params, "duration": params.get("DurationSeconds"),
                 "session_signed": "X-Amz-Security-Token" in self.headers}
        self.body_seen = body
        fault = self.state.take_fault(action) if action else None
        if fault:
            entry["fault"] = fault["kind"]
            if self.apply_fault(fault, entry):
                return
        refusal = check(self.state, params, self.headers) if action else None
        if refusal:
            status, payload = refusal
            entry["result"] = status
            self.state.log(entry)
            self.reply(status, [("Content-Type", "text/xml")], payload)
            return
        status, headers, payload = self.forward(body)
        if action == "GetSessionToken" and status == 200 and "SerialNumber" in params:
            m = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", payload)
            if m:
                with self.state.lock:
                    self.state.mfa_session_keys.add(m.group(1).decode())
        if fault and fault["kind"] == "inject" and status == 200:
            payload = re.sub(rb"<AccessKeyId>([^<]+)</AccessKeyId>", rb"<AccessKeyId>\1\n[evil]\naws_access_key_id = AKIAEVIL</AccessKeyId>", payload)
        if fault and fault["kind"] == "expires_in" and status == 200:
            soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + fault.get("seconds", 960)))
            payload = re.sub(rb"<Expiration>[^<]+</Expiration>", f"<Expiration>{soon}</Expiration>".encode(), payload)
        if action:
            entry["result"] = status
            self.state.log(entry)
        self.reply(status, headers, payload)

    def apply_fault(self, fault, entry):
        """Answers for a fault; False when the request should then go on as usual."""
        kind = fault["kind"]
        if kind == "delay":
            time.sleep(fault.get("seconds", 1))
            return False
        if kind in ("inject", "expires_in"):
            return False
        entry["result"] = kind
        action = entry["action"]
        leaked = ("<AccessKeyId>ASIALEAKLEAKLEAK0001</AccessKeyId>"
                  "<SecretAccessKey>LEAKSECRETdo/not/print/me+0001</SecretAccessKey>"
                  "<SessionToken>LEAKTOKENdo/not/print/me+0001</SessionToken>")
        self.state.log(entry)
        if kind == "status":
            status, payload = error_xml("InternalFailure", "We encountered an internal error. Please try again.", fault.get("status", 500))
        elif kind == "throttle":
            status, payload = error_xml("Throttling", "Rate exceeded", 400)
        elif kind == "expired":
            status, payload = error_xml("ExpiredToken", "The security token included in the request is expired", 400)
        elif kind == "skew":
            ahead = time.gmtime(time.time() + fault.get("seconds", 1200))
            status, payload = error_xml("RequestTimeTooSkewed", "Signature expired: the request time is too skewed", 403)
            self.send_response(status)
            self.send_header("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", ahead))
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return True
        elif kind == "malformed":
            status = 200
            payload = (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
                       f'<Credentials>{leaked}<Expira').encode()
        elif kind == "bad_expiration":
            status = 200
            payload = (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
                       f'<Credentials>{leaked}<Expiration>LEAK-not-a-date</Expiration></Credentials>'
                       f'</{action}Result><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>'
                       f'</{action}Response>').encode()
        elif kind == "echo":
            echoed = self.body_seen.decode(errors="replace") + " token=" + self.headers.get("X-Amz-Security-Token", "")
            echoed = echoed.replace("&", "&amp;").replace("<", "&lt;")
            status, payload = error_xml("ValidationError", "Bad request: " + echoed, 400)
        elif kind == "drop":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 900\r\n\r\n<GetSessionTokenResponse><GetSess")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        else:
            raise ValueError(kind)
        self.reply(status, [("Content-Type", "text/xml")], payload)
        return True

    def forward(self, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        payload = resp.read()
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
        conn.close()
        return resp.status, headers, payload

    def reply(self, status, headers, payload):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--device", action="append", default=[], help="SERIAL=BASE32SECRET")
    ap.add_argument("--role-max", action="append", default=[], help="ROLE_ARN=SECONDS")
    ap.add_argument("--log")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    devices = dict(d.rsplit("=", 1) for d in args.device)
    role_max = {r.rsplit("=", 1)[0]: int(r.rsplit("=", 1)[1]) for r in args.role_max}
    Handler.state = State(devices, role_max, args.log)
    Handler.upstream = urllib.parse.urlparse(args.upstream)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
