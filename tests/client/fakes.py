"""Fake token services for the client library's tests: a ThreadingHTTPServer
on a free 127.0.0.1 port that answers as the seed documents show, plus
misbehaving endpoints for failure injection, plus a small "API" that echoes
what it was sent. Every request is recorded, so that tests count exactly what
reached the server. The path's first segment picks the behaviour:

  /s000/auth/token           seed 000: JSON {clientId, clientSecret, grantType}
  /s001/api/oauth/token      seed 001: JSON {grant_type, client_id, client_secret}, Accept json
  /s002/token                seed 002: JSON {api_key, client_secret, expiration, token_name},
                             answer {valid_until "YYYY-MM-DDTHH:MMZ" (minutes only), token, token_name}
  /s003/v2.01/oauth/token    seed 003: Basic base64(ClientId:ApiKey), form, token_type "bearer"
  /ok/oauth/token            RFC 6749 Basic + form, expires_in = fake.expires_in
  /bad/CASE/...              failure injection (see bad() below)
  /api/...                   echo, 401first, always401, e500, e503ra (503 with
                             Retry-After: 0), e503ra1 (the same, 1 s), slow
                             (answers after 1.5 s), checkexp (refuses expired
                             tokens by a clock api_clock_ahead seconds ahead)
"""
import base64
import datetime
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from harness import check, eq  # noqa: E402,F401

PROBE = os.environ.get("CLIENT_PROBE", "")
CLIENT_ID = "82725488-22bf-40d1-ace6-9ea6ee42f870"
SECRET = "MySecret!!!-s3cr3t-VALUE"

# Seed 002's example answer, verbatim: note the missing comma after "token".
SEED_002_LITERAL = ('{\n   "valid_until": "2024-07-11T07:48Z",\n   "token": "eyJ0eXAiOiJKV1Qi"\n'
                    '   "token_name": "82725488-22bf"\n}')
SEED_003_401 = {"Message": "The authorization credentials are not valid", "Type": "invalid_credentials",
                "Id": "9e1f5654-2957-408b-a198-e921ca6830b7", "Date": 1700772361.0, "errors": None}


class Fake:
    def __init__(self, host="127.0.0.1"):
        self.lock = threading.Lock()
        self.reqs = []              # (path, headers{lower: value}, body bytes)
        self.expires_in = 3600
        self.delay = 0.0            # seconds before a token answer
        self.delay_after = 0        # ... only for token requests after this many
        self.issued = 0
        self.latest = None
        self.vu_style = "minutes"   # seed 002's form; "offset": seconds, fraction, +05:30
        self.token_exp = {}         # token -> when it expires (time.time()), where recorded
        self.api_clock_ahead = 0.0  # /api/checkexp's clock runs this far ahead
        self.expired_seen = 0       # tokens /api/checkexp was sent after their expiry
        self.refused_first = {}     # /api/refusefirst: the token it refuses
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.reqs.append((self.path, hdrs, body))
                    count = sum(1 for p, _, _ in fake.reqs if p == self.path)
                try:
                    fake.route(self, self.path, hdrs, body, count)
                except BrokenPipeError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        class S(http.server.ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self.httpd = S((host, 0), H)
        self.port = self.httpd.server_address[1]
        self.base = "http://%s:%d" % (host, self.port)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits(self, prefix):
        with self.lock:
            return sum(1 for p, _, _ in self.reqs if p.startswith(prefix))

    def last(self, prefix):
        with self.lock:
            for p, h, b in reversed(self.reqs):
                if p.startswith(prefix):
                    return h, b
        return None

    # -- answering -------------------------------------------------------------
    @staticmethod
    def send(h, status, obj=None, raw=None, ctype="application/json", extra=None):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        if isinstance(data, str):
            data = data.encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def new_token(self, jwt_like=True):
        with self.lock:
            self.issued += 1
            n = self.issued
        if self.delay and n > self.delay_after:
            time.sleep(self.delay)
        tok = ("eyJhbGciOiJSUzI1NiJ9.eyJuIjo%d.%s" % (n, os.urandom(12).hex())) if jwt_like \
            else os.urandom(16).hex()
        self.latest = tok
        return tok

    def refuse(self, h, why):
        self.send(h, 400, {"error": "invalid_request", "error_description": why})

    def route(self, h, path, hdrs, body, count):
        parts = path.split("/", 3)
        kind = parts[1] if len(parts) > 1 else ""
        if kind == "s000" and path == "/s000/auth/token":
            if not hdrs.get("content-type", "").startswith("application/json"):
                return self.refuse(h, "Content-Type must be application/json")
            b = json.loads(body)
            if b != {"clientId": CLIENT_ID, "clientSecret": SECRET, "grantType": "client_credentials"}:
                return self.send(h, 401, {"error": "invalid_client"})
            return self.send(h, 200, {"access_token": self.new_token(), "token_type": "Bearer",
                                      "expires_in": self.expires_in})
        if kind == "s001" and path == "/s001/api/oauth/token":
            if hdrs.get("accept") != "application/json":
                return self.send(h, 406, {"error": "Accept must be application/json"})
            if not hdrs.get("content-type", "").startswith("application/json"):
                return self.refuse(h, "Content-Type must be application/json")
            b = json.loads(body)
            if b != {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}:
                return self.send(h, 401, {"error": "invalid_client"})
            return self.send(h, 200, {"token_type": "Bearer", "expires_in": self.expires_in,
                                      "access_token": self.new_token()})
        if kind == "s002" and path == "/s002/token":
            b = json.loads(body)
            if b.get("api_key") != CLIENT_ID or b.get("client_secret") != SECRET:
                return self.send(h, 401, {"error": "invalid credentials"})
            if set(b) - {"api_key", "client_secret", "expiration", "token_name"}:
                return self.refuse(h, "unknown member")
            ttl = b.get("expiration", 86400)
            # Minutes only, as the seed shows: round down, so the token is never late.
            until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
            if self.vu_style == "offset":
                tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
                vu = until.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S.123+05:30")
            else:
                vu = until.strftime("%Y-%m-%dT%H:%MZ")
            return self.send(h, 200, {"valid_until": vu,
                                      "token": self.new_token(),
                                      "token_name": b.get("token_name", "0190a0e8-7d6c-7b5e-9c1a-2f3e4d5c6b7a")})
        if kind == "s003" and path == "/s003/v2.01/oauth/token":
            want = "Basic " + base64.b64encode(("%s:%s" % (CLIENT_ID, SECRET)).encode()).decode()
            if hdrs.get("authorization") != want:
                return self.send(h, 401, SEED_003_401)
            if not hdrs.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                return self.refuse(h, "form body expected")
            if urllib.parse.parse_qs(body.decode()) != {"grant_type": ["client_credentials"]}:
                return self.refuse(h, "grant_type=client_credentials expected")
            return self.send(h, 200, {"access_token": self.new_token(jwt_like=False), "token_type": "bearer",
                                      "expires_in": self.expires_in})
        if kind == "ok":
            want = "Basic " + base64.b64encode(("%s:%s" % (urllib.parse.quote(CLIENT_ID, safe=""),
                                                           urllib.parse.quote(SECRET, safe=""))).encode()).decode()
            if hdrs.get("authorization") != want:
                return self.send(h, 401, {"error": "invalid_client"})
            return self.send(h, 200, {"access_token": self.new_token(), "token_type": "Bearer",
                                      "expires_in": self.expires_in})
        if kind == "bad":
            return self.bad(h, parts[2], count, hdrs, body)
        if kind == "api":
            return self.api(h, parts[2], hdrs, count)
        if kind == "elsewhere":
            return self.send(h, 200, {"access_token": "stolen", "token_type": "Bearer", "expires_in": 3600})
        self.send(h, 404, {"error": "no such path"})

    def bad(self, h, case, count, hdrs=None, body=b""):
        ok = {"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "token_type": "Bearer", "expires_in": 3600}
        answers = {
            "notjson": (200, None, "<html><body>Service temporarily unavailable</body></html>", "text/html"),
            "seed002literal": (200, None, SEED_002_LITERAL, "application/json"),
            "notobject": (200, None, '["access_token"]', "application/json"),
            "notoken": (200, {"token_type": "Bearer", "expires_in": 3600}, None, None),
            "emptytoken": (200, dict(ok, access_token=""), None, None),
            "tokenchars": (200, dict(ok, access_token="abc def\r\nX-Evil: 1"), None, None),
            "notbearer": (200, dict(ok, token_type="mac"), None, None),
            "exp_missing": (200, {"access_token": "abc", "token_type": "Bearer"}, None, None),
            "exp_neg": (200, dict(ok, expires_in=-5), None, None),
            "exp_zero": (200, dict(ok, expires_in=0), None, None),
            "exp_huge": (200, dict(ok, expires_in=10 ** 15), None, None),
            "exp_bignum": (200, None, '{"access_token":"abc","token_type":"Bearer","expires_in":1e309}', None),
            "exp_str": (200, dict(ok, expires_in="3600"), None, None),
            "exp_frac": (200, dict(ok, expires_in=3600.5), None, None),
            "exp_null": (200, dict(ok, expires_in=None), None, None),
            "vu_bad": (200, {"valid_until": "tomorrow", "token": "abc", "token_name": "n"}, None, None),
            "vu_nozone": (200, {"valid_until": "2031-07-11T07:48", "token": "abc", "token_name": "n"}, None, None),
            "vu_past": (200, {"valid_until": "2024-07-11T07:48Z", "token": "abc", "token_name": "n"}, None, None),
            "vu_month13": (200, {"valid_until": "2031-13-11T07:48Z", "token": "abc", "token_name": "n"}, None, None),
            "vu_number": (200, {"valid_until": 1720684080, "token": "abc", "token_name": "n"}, None, None),
            "big": (200, None, '{"access_token":"' + "A" * (2 * 1024 * 1024) + '"}', None),
            "e400": (400, {"error": "invalid_client", "error_description": "wrong secret " + SECRET}, None, None),
            "e400long": (400, {"error": "invalid_client",
                               "error_description": "x" * 225 + " echo: " + SECRET}, None, None),
            "e401": (401, SEED_003_401, None, None),
            "e403": (403, {"error": "unauthorized_client"}, None, None),
            "e500": (500, {"error": "server_error"}, None, None),
        }
        if case in answers:
            st, obj, raw, ct = answers[case]
            return self.send(h, st, obj, raw=raw, ctype=ct or "application/json")
        if case == "hang":
            time.sleep(20)
            return self.send(h, 200, ok)
        if case.startswith("redirect-"):
            # /bad/redirect-PORT/...: a 302 to another host (127.0.0.2 on another port).
            port = case.split("-", 1)[1]
            return self.send(h, 302, raw=b"", extra={"Location": "http://127.0.0.2:%s/elsewhere/oauth/token" % port})
        if case.startswith("cut240-"):
            # /bad/cut240-K/...: a server that echoes the secret and cuts its
            # description at 240 characters, K characters into the secret.
            k = int(case.split("-", 1)[1])
            desc = ("x" * (240 - 7 - k) + " echo: " + SECRET)[:240]
            return self.send(h, 400, {"error": "invalid_client", "error_description": desc})
        if case.startswith("echoreqpad-"):
            # /bad/echoreqpad-N/...: echoreq's description after N characters of
            # padding, to move the quoted request across our own cut.
            pad = "x" * int(case.split("-", 1)[1])
            return self.send(h, 400, {"error": "invalid_client",
                                      "error_description": pad + " body=" + body.decode(errors="replace")})
        if case == "echoreq":
            # A server that quotes the request back: the body, the
            # Authorization header, and the secret as some JSON writers
            # escape it ("/" as "\/").
            try:
                obj = json.loads(body)
                sec = obj.get("clientSecret") or obj.get("client_secret") or obj.get("api_key")
            except ValueError:
                sec = None
            desc = "body=%s auth=%s esc=%s" % (body.decode(errors="replace"),
                                               (hdrs or {}).get("authorization") or "",
                                               sec.replace("/", "\\/") if isinstance(sec, str) else "")
            return self.send(h, 400, {"error": "invalid_client", "error_description": desc})
        if case == "e503once":
            if count == 1:
                return self.send(h, 503, {"error": "temporarily_unavailable"})
            return self.send(h, 200, dict(ok, access_token=self.new_token()))
        if case == "r429":
            if count == 1:
                return self.send(h, 429, {"error": "slow_down"}, extra={"Retry-After": "1"})
            return self.send(h, 200, dict(ok, access_token=self.new_token()))
        if case == "okthen500":
            if count == 1:
                return self.send(h, 200, dict(ok, access_token=self.new_token(), expires_in=2))
            return self.send(h, 500, {"error": "server_error"})
        if case == "okthen500once":
            # A token, then one failure (a server restarting), then tokens.
            if count == 2:
                return self.send(h, 500, {"error": "server_error"})
            return self.send(h, 200, dict(ok, access_token=self.new_token()))
        if case == "r429long":
            return self.send(h, 429, {"error": "slow_down"}, extra={"Retry-After": "3600"})
        if case == "r429huge":
            # More seconds than any integer type holds, in ms or otherwise.
            return self.send(h, 429, {"error": "slow_down"}, extra={"Retry-After": "9" * 40})
        if case == "okthen500long":
            # One 10 s token, then every token request fails.
            if count == 1:
                tok = self.new_token()
                self.token_exp[tok] = time.time() + 10
                return self.send(h, 200, dict(ok, access_token=tok, expires_in=10))
            return self.send(h, 500, {"error": "server_error"})
        self.send(h, 404, {"error": "unknown case " + case})

    def api(self, h, case, hdrs, count):
        seen = {k: hdrs.get(k) for k in ("authorization", "x-tenant-id", "x-request-id")}
        if case == "echo":
            return self.send(h, 200, seen)
        if case == "401first":
            if count == 1:
                return self.send(h, 401, {"error": "invalid_token"},
                                 extra={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return self.send(h, 200, seen)
        if case == "echo403":
            # An API that echoes the bearer token deep in its error body.
            return self.send(h, 403, raw="denied " + "y" * 150 + " for " + (seen["authorization"] or ""),
                             ctype="text/plain")
        if case == "refusefirst":
            # Refuses the first token it is sent (revoked), accepts others.
            with self.lock:
                first = self.refused_first.setdefault(case, seen["authorization"])
            if seen["authorization"] == first:
                return self.send(h, 401, {"error": "invalid_token"})
            return self.send(h, 200, seen)
        if case == "always401":
            return self.send(h, 401, {"error": "invalid_token"})
        if case == "e500":
            return self.send(h, 500, {"error": "boom"})
        if case == "e503ra":
            return self.send(h, 503, {"error": "busy"}, extra={"Retry-After": "0"})
        if case == "e503ra1":
            return self.send(h, 503, {"error": "busy"}, extra={"Retry-After": "1"})
        if case == "slow":
            time.sleep(1.5)
            return self.send(h, 200, seen)
        if case == "e404":
            return self.send(h, 404, {"error": "not_found"})
        if case == "checkexp":
            # An API that checks expiry by its own clock, api_clock_ahead
            # seconds ahead of the token server's.
            tok = (seen["authorization"] or "")[len("Bearer "):]
            exp = self.token_exp.get(tok)
            if exp is not None and time.time() + self.api_clock_ahead >= exp:
                with self.lock:
                    self.expired_seen += 1
                return self.send(h, 401, {"error": "invalid_token", "error_description": "expired"})
            return self.send(h, 200, seen)
        self.send(h, 404, {"error": "unknown api case"})


def probe(*args, secret=SECRET, timeout=120, prefix=None, env=None, probe_path=None):
    """Runs client_probe; returns its JSON lines (and the process)."""
    e = dict(os.environ)
    e["GH_PROBE_SECRET"] = secret
    e.update(env or {})
    cmd = (prefix or []) + [probe_path or PROBE] + list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=e)
    out = p.stdout.decode()
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    if p.returncode not in (0, 1):
        raise AssertionError("client_probe exited %d: %s" % (p.returncode, p.stderr.decode()[-3000:]))
    return lines, p
