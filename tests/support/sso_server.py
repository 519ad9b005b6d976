#!/usr/bin/env python3
"""A stand-in for IAM Identity Center in mfa-tray's tests: sso-oidc and the SSO portal
on one loopback port (moto has neither). Point mfa-tray, botocore and the AWS CLI at it
with AWS_ENDPOINT_URL_SSO_OIDC and AWS_ENDPOINT_URL_SSO.

sso-oidc (unsigned JSON, as AWS answers it):
  POST /client/register         RegisterClient
  GET  /authorize?...           the browser's sign-in: 302 to redirect_uri with code and
                                state (or error=access_denied when told to deny)
  POST /device_authorization    StartDeviceAuthorization
  GET  /device?user_code=X      the verification page: approves that user code
  POST /token                   CreateToken: authorization_code (the PKCE verifier is
                                checked against the challenge, the redirect URI against
                                the authorize request's), device_code (pending until
                                approved; slow_down when polled too fast) and
                                refresh_token (refresh tokens rotate: an old one is
                                refused)
The portal (header x-amz-sso_bearer_token):
  GET  /federation/credentials  GetRoleCredentials: real credentials from moto's STS
                                AssumeRole of arn:aws:iam::ACCOUNT:role/ROLE, so they
                                sign requests to moto; 403 for a role not assigned
  GET  /assignment/accounts     ListAccounts, PAGE accounts a page
  GET  /assignment/roles        ListAccountRoles, PAGE roles a page
  POST /logout                  Logout: the access token stops working
Test controls:
  POST /_test/config            JSON: {"token_seconds": N, "registration_seconds": N,
                                "deny": bool, "refuse_refresh": bool,
                                "accounts": {ID: {"name": NAME, "roles": [ROLE, ...]}}}
  GET  /_test/state             what was issued (for assertions)

Every call is logged as a JSON line to --log (no secrets: tokens are shown by their
first 6 characters). Usage: sso_server.py --moto URL [--log FILE] [--page N]
Prints the port it listens on as its first line.
"""

import argparse
import base64
import hashlib
import json
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, moto, log, page):
        self.lock = threading.Lock()
        self.moto = moto
        self.log_path = log
        self.page = page
        self.token_seconds = 3600
        self.registration_seconds = 90 * 24 * 3600
        self.deny = False
        self.refuse_refresh = False
        self.accounts = {
            "111111111111": {"name": "Sandbox", "roles": ["AdministratorAccess", "ReadOnly"]},
            "222222222222": {"name": "Prod", "roles": ["ReadOnly"]},
            "333333333333": {"name": "prod", "roles": ["ReadOnly"]},
        }
        self.clients = {}        # clientId -> {secret, expires, redirects}
        self.codes = {}          # code -> {client, challenge, redirect}
        self.devices = {}        # deviceCode -> {client, user_code, approved, last_poll}
        self.access = {}         # accessToken -> expires (epoch s)
        self.refresh = {}        # refreshToken -> clientId
        self.counts = {}

    def log(self, entry):
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")


def short(token):
    return (token or "")[:6]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, body=None, error_type=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, error_type, message, oauth=None):
        body = {"message": message}
        if oauth:
            body = {"error": oauth, "error_description": message}
        self.reply(status, body, error_type)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def count(self, name, **extra):
        with self.state.lock:
            self.state.counts[name] = self.state.counts.get(name, 0) + 1
        self.state.log(dict({"call": name}, **extra))

    # sso-oidc ---------------------------------------------------------------------

    def do_POST(self):
        path = urllib.parse.urlparse(self.path).path
        body = self.body()
        s = self.state
        if path == "/_test/config":
            with s.lock:
                for k in ("token_seconds", "registration_seconds", "deny", "refuse_refresh", "accounts"):
                    if k in body:
                        setattr(s, k, body[k])
            return self.reply(200, {})
        if path == "/client/register":
            self.count("RegisterClient", grantTypes=body.get("grantTypes"), scopes=body.get("scopes"),
                       redirectUris=body.get("redirectUris"), issuerUrl=body.get("issuerUrl"))
            client, secret = "client-" + secrets.token_hex(6), "secret-" + secrets.token_hex(16)
            now = int(time.time())
            with s.lock:
                s.clients[client] = {"secret": secret, "expires": now + s.registration_seconds}
            return self.reply(200, {"clientId": client, "clientSecret": secret, "clientIdIssuedAt": now,
                                    "clientSecretExpiresAt": now + s.registration_seconds})
        if path == "/device_authorization":
            client = self.checked_client(body)
            if client is None:
                return
            self.count("StartDeviceAuthorization", startUrl=body.get("startUrl"))
            device, user = "device-" + secrets.token_hex(8), secrets.token_hex(2).upper() + "-" + secrets.token_hex(2).upper()
            with s.lock:
                s.devices[device] = {"client": client, "user_code": user, "approved": False, "last_poll": 0}
            port = self.server.server_address[1]
            verify = f"http://127.0.0.1:{port}/device"
            return self.reply(200, {"deviceCode": device, "userCode": user, "verificationUri": verify,
                                    "verificationUriComplete": f"{verify}?user_code={user}", "expiresIn": 600, "interval": 1})
        if path == "/token":
            return self.create_token(body)
        if path == "/logout":
            token = self.headers.get("x-amz-sso_bearer_token")
            self.count("Logout", token=short(token))
            with s.lock:
                s.access.pop(token, None)
            return self.reply(200, None)
        self.error(404, "NotFoundException", "no such route")

    def checked_client(self, body):
        s = self.state
        with s.lock:
            c = s.clients.get(body.get("clientId"))
        if not c or c["secret"] != body.get("clientSecret"):
            self.error(401, "InvalidClientException", "Invalid client", "invalid_client")
            return None
        if c["expires"] <= time.time():
            self.error(401, "InvalidClientException", "Client registration has expired", "invalid_client")
            return None
        return body.get("clientId")

    def create_token(self, body):
        s = self.state
        client = self.checked_client(body)
        if client is None:
            return
        grant = body.get("grantType")
        self.count("CreateToken", grantType=grant)
        if grant == "authorization_code":
            with s.lock:
                code = s.codes.pop(body.get("code"), None)
            verifier = body.get("codeVerifier") or ""
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not code or code["client"] != client or code["challenge"] != challenge or code["redirect"] != body.get("redirectUri"):
                return self.error(400, "InvalidGrantException", "Invalid grant provided", "invalid_grant")
        elif grant == "urn:ietf:params:oauth:grant-type:device_code":
            now = time.time()
            with s.lock:
                d = s.devices.get(body.get("deviceCode"))
                if d:
                    too_fast, d["last_poll"] = now - d["last_poll"] < 0.9, now
            if not d or d["client"] != client:
                return self.error(400, "InvalidGrantException", "Invalid grant provided", "invalid_grant")
            if too_fast:
                return self.error(400, "SlowDownException", "Client is polling too quickly", "slow_down")
            if not d["approved"]:
                return self.error(400, "AuthorizationPendingException", "Authorization is still pending", "authorization_pending")
            with s.lock:
                s.devices.pop(body.get("deviceCode"), None)
        elif grant == "refresh_token":
            with s.lock:
                owner = s.refresh.pop(body.get("refreshToken"), None)
            if s.refuse_refresh or owner != client:
                return self.error(400, "InvalidGrantException", "Invalid refresh token provided", "invalid_grant")
        else:
            return self.error(400, "UnsupportedGrantTypeException", "Unsupported grant type", "unsupported_grant_type")
        access, refresh = "access-" + secrets.token_hex(16), "refresh-" + secrets.token_hex(16)
        with s.lock:
            s.access[access] = time.time() + s.token_seconds
            s.refresh[refresh] = client
        self.state.log({"issued": short(access), "grantType": grant})
        return self.reply(200, {"accessToken": access, "tokenType": "Bearer", "expiresIn": s.token_seconds, "refreshToken": refresh})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        s = self.state
        if url.path == "/_test/state":
            with s.lock:
                return self.reply(200, {"counts": s.counts, "access": len(s.access), "refresh": len(s.refresh)})
        if url.path == "/authorize":
            self.count("Authorize", client=q.get("client_id"), method=q.get("code_challenge_method"), scopes=q.get("scopes"),
                       redirect=q.get("redirect_uri"), state_len=len(q.get("state", "")))
            redirect = q.get("redirect_uri", "")
            if s.deny:
                where = redirect + "?" + urllib.parse.urlencode({"error": "access_denied", "state": q.get("state", "")})
            else:
                code = "code-" + secrets.token_hex(8)
                with s.lock:
                    s.codes[code] = {"client": q.get("client_id"), "challenge": q.get("code_challenge"), "redirect": redirect}
                where = redirect + "?" + urllib.parse.urlencode({"code": code, "state": q.get("state", "")})
            self.send_response(302)
            self.send_header("Location", where)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/device":
            with s.lock:
                for d in s.devices.values():
                    if d["user_code"] == q.get("user_code"):
                        d["approved"] = True
            self.count("DeviceApproved", user_code=q.get("user_code"))
            data = b"<p>Approved</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        token = self.headers.get("x-amz-sso_bearer_token")
        with s.lock:
            expires = s.access.get(token)
        if url.path.startswith(("/federation/", "/assignment/")) and (expires is None or expires <= time.time()):
            self.count("Unauthorized", path=url.path)
            return self.error(401, "UnauthorizedException", "Session token not found or invalid")
        if url.path == "/federation/credentials":
            account, role = q.get("account_id"), q.get("role_name")
            self.count("GetRoleCredentials", account=account, role=role, token=short(token))
            if role not in s.accounts.get(account, {}).get("roles", []):
                return self.error(403, "ForbiddenException", "No access")
            creds = self.from_moto(account, role)
            return self.reply(200, {"roleCredentials": creds})
        if url.path == "/assignment/accounts":
            ids = sorted(s.accounts)
            page, next_token = self.paged(ids, q)
            self.count("ListAccounts", next_token=q.get("next_token"))
            accounts = [{"accountId": i, "accountName": s.accounts[i]["name"], "emailAddress": f"aws+{i}@example.com"} for i in page]
            return self.reply(200, dict({"accountList": accounts}, **({"nextToken": next_token} if next_token else {})))
        if url.path == "/assignment/roles":
            account = q.get("account_id")
            roles = s.accounts.get(account, {}).get("roles", [])
            page, next_token = self.paged(roles, q)
            self.count("ListAccountRoles", account=account, next_token=q.get("next_token"))
            listed = [{"roleName": r, "accountId": account} for r in page]
            return self.reply(200, dict({"roleList": listed}, **({"nextToken": next_token} if next_token else {})))
        self.error(404, "NotFoundException", "no such route")

    def paged(self, items, q):
        start = int(q.get("next_token") or 0)
        size = min(int(q.get("max_result") or self.state.page), self.state.page)
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    def from_moto(self, account, role):
        """Credentials for the role from moto's STS, so that they sign requests to moto."""
        params = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15", "RoleSessionName": "sso-user",
                                         "RoleArn": f"arn:aws:iam::{account}:role/{role}", "DurationSeconds": "3600"})
        auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"
        req = urllib.request.Request(self.state.moto + "/", data=params.encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
        xml = urllib.request.urlopen(req).read().decode()
        tag = lambda t: xml.split(f"<{t}>")[1].split(f"</{t}>")[0]
        return {"accessKeyId": tag("AccessKeyId"), "secretAccessKey": tag("SecretAccessKey"), "sessionToken": tag("SessionToken"),
                "expiration": int((time.time() + 3600) * 1000)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moto", required=True)
    ap.add_argument("--log")
    ap.add_argument("--page", type=int, default=2)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args.moto, args.log, args.page)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
