"""Issue 4, the real edge: Debian's nginx with docs/nginx/nginx.conf protects a
small upstream (a Python http.server that echoes what it received) with
auth_request to gatehouse's /gate. Allowed and refused calls end to end."""
import hashlib
import http.client
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, basic, check, eq  # noqa: E402
from nginx import NGINX, Nginx  # noqa: E402

POLICY = """\
GET    /v1/products/**        role=viewer   env=any
POST   /v1/cards/*/load       role=operator env=any scopes=cards:write
GET    /v2.01/**              role=viewer   env=any errors=mangopay tenant=optional
POST   /v1/payouts/*          critical role=operator env=any
"""


class Echo(http.server.BaseHTTPRequestHandler):
    """The protected API: answers what it was sent."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out in two writes
    calls = []

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        got = {"method": self.command, "path": self.path, "body": body,
               "headers": {k.lower(): v for k, v in self.headers.items()}}
        Echo.calls.append(got)
        data = json.dumps(got).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *a):
        pass


class NginxGate(Suite):
    def setup(self):
        if not os.access(NGINX, os.X_OK):
            raise RuntimeError("nginx is not installed at " + NGINX)
        self.api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        self.s = Server("--trusted-proxies", "127.0.0.1", policy=POLICY)
        self.op = self.s.client("acme", name="op", roles="operator", scopes="cards:read cards:write")
        self.viewer = self.s.client("acme", name="v", roles="viewer", scopes="cards:read")
        self.listed = self.s.client("acme", name="l", roles="viewer", allow_ip=["10.0.0.0/8"])
        self.ngx = Nginx(self.s.port, self.api.server_address[1])

    def teardown(self):
        if getattr(self, "ngx", None):
            self.ngx.stop()
        self.s.cleanup()
        self.api.shutdown()

    def token(self, c, **kw):
        f = {"grant_type": "client_credentials"}
        f.update(kw)
        r = self.s.post_form("/oauth/token", f, headers={"Authorization": basic(c["client_id"], c["client_secret"])})
        eq(r.status, 200, "token %r" % r)
        return r.json()["access_token"]

    def call(self, method, path, tok=None, tenant="acme", headers=None, body=None):
        h = {}
        if tok is not None:
            h["Authorization"] = "Bearer " + tok
        if tenant is not None:
            h["X-TENANT-ID"] = tenant
        h.update(headers or {})
        return self.ngx.request(method, path, h, body)

    def test_allowed_passes_identity_upstream(self):
        t = self.token(self.op)
        Echo.calls.clear()
        st, h, body = self.call("GET", "/v1/products/42?x=1", t,
                                headers={"X-Gatehouse-Client": "forged", "X-Gatehouse-Roles": "admin",
                                         "X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "PUT",
                                         "X-Method-Override": "POST"})
        eq(st, 200, "allowed: %r %s" % (body, self.ngx.log()))
        got = json.loads(body)
        eq(got["path"], "/v1/products/42?x=1", "the upstream got the call")
        hd = got["headers"]
        eq(hd["x-gatehouse-client"], self.op["client_id"], "identity, not the forged one")
        eq(hd["x-gatehouse-tenant"], "acme", "tenant")
        eq(hd["x-gatehouse-roles"], "operator", "roles, not the forged ones")
        eq(hd["x-gatehouse-scopes"], "cards:read cards:write", "scopes")
        eq(hd["x-gatehouse-env"], "sandbox", "env")
        for h in ("x-http-method-override", "x-http-method", "x-method-override"):
            check(h not in hd, "%s, which could make the API run a method the gate did not check,"
                  " never reaches it" % h)
        st, h, body = self.call("POST", "/v1/cards/c-1/load", t, body='{"amount":5}',
                                headers={"Content-Type": "application/json"})
        eq(st, 200, "POST allowed %r" % body)
        eq(json.loads(body)["body"], '{"amount":5}', "the body reached the upstream")

    def test_a_critical_call_hands_the_api_its_approved_body_digest(self):
        # Behind nginx the gate never sees the body: the caller claims its
        # digest (X-Body-Digest), so the API is told the digest the approval
        # binds and the approval used, to check the body it receives. A
        # caller's own X-Gatehouse-Body-Digest never reaches the API.
        checker = self.s.client("acme", name="checker", roles="admin", env="production",
                                allow_ip="127.0.0.1/32")
        body = '{"amount":100,"to":"acct-7"}'
        digest = "sha256:" + hashlib.sha256(body.encode()).hexdigest()

        def api(method, path, c, payload=None):
            return self.s.request(method, path, body=payload, headers={
                "Authorization": "Bearer " + self.token(c), "X-TENANT-ID": "acme"})
        r = api("POST", "/approvals", self.op, {"method": "POST", "path": "/v1/payouts/p-1",
                                                 "body_digest": digest})
        eq(r.status, 202, "filed %r" % r)
        aid = r.json()["id"]
        eq(api("POST", "/approvals/%s/approve" % aid, checker).status, 200, "approved")
        t = self.token(self.op)
        Echo.calls.clear()
        st, h, out = self.call("POST", "/v1/payouts/p-1", t, body=body, headers={
            "Content-Type": "application/json", "X-Approval-ID": aid, "X-Body-Digest": digest,
            "X-Gatehouse-Body-Digest": "sha256:" + "0" * 64})
        eq(st, 200, "the approved call passes: %r %s" % (out, self.ngx.log()))
        hd = json.loads(out)["headers"]
        eq((hd.get("x-gatehouse-approval"), hd.get("x-gatehouse-body-digest")), (aid, digest),
           "the API is told what to check the body against")
        st, h, out = self.call("GET", "/v1/products/1", t, headers={
            "X-Gatehouse-Body-Digest": "sha256:" + "0" * 64, "X-Gatehouse-Approval": "forged"})
        eq(st, 200, "a plain call %r" % out)
        hd = json.loads(out)["headers"]
        check("x-gatehouse-body-digest" not in hd and "x-gatehouse-approval" not in hd,
              "the caller's own never reach the API: %r" % hd)

    def test_missing_and_bad_tokens(self):
        Echo.calls.clear()
        st, h, body = self.call("GET", "/v1/products/1")
        eq(st, 401, "no token")
        eq(h.get("www-authenticate"), ["Bearer"], "one bare challenge")
        eq(json.loads(body)["reason"], "no_token", "the gate's JSON body")
        st, h, body = self.call("GET", "/v1/products/1", "not.a.token")
        eq(st, 401, "bad token")
        eq(len(h.get("www-authenticate", [])), 1, "exactly one challenge: %r" % h)
        check(h["www-authenticate"][0].startswith('Bearer error="invalid_token"'), "invalid_token")
        eq(json.loads(body)["error"], "invalid_token", "body")
        st, h, body = self.call("GET", "/v2.01/users", "0123456789abcdef0123456789abcdef", tenant=None)
        eq(st, 401, "003 route")
        eq(json.loads(body)["Type"], "invalid_credentials", "003 body through nginx")
        eq(Echo.calls, [], "nothing reached the upstream")

    def test_refusals_keep_status_and_reason(self):
        t = self.token(self.op)
        Echo.calls.clear()
        st, h, body = self.call("GET", "/v1/products/1", t, tenant="globex")
        eq((st, json.loads(body)["reason"]), (403, "tenant"), "tenant")
        st, h, body = self.call("GET", "/v1/products/1", t, tenant=None)
        eq((st, json.loads(body)["reason"]), (400, "tenant_missing"), "400 passes through nginx")
        st, h, body = self.call("DELETE", "/v1/products/1", t)
        eq((st, json.loads(body)["reason"]), (403, "no_rule"), "default deny")
        v = self.token(self.viewer)
        st, h, body = self.call("POST", "/v1/cards/c-1/load", v, body="{}")
        eq((st, json.loads(body)["reason"]), (403, "role"), "role")
        narrow = self.token(self.op, scope="cards:read")
        st, h, body = self.call("POST", "/v1/cards/c-1/load", narrow, body="{}")
        eq((st, json.loads(body)["error"]), (403, "insufficient_scope"), "scope")
        check(any('error="insufficient_scope"' in w for w in h.get("www-authenticate", [])),
              "insufficient_scope challenge: %r" % h)
        st, h, body = self.call("GET", "/v1/products/../cards/x", t)
        eq((st, json.loads(body)["reason"]), (400, "path"), "ambiguous path")
        for n in (9000, 100 * 1024):
            # 9000: refused by the gate; 100 KB: by nginx for the gate (its
            # HTTP layer reads at most 16 KB of headers), in the same words.
            st, h, body = self.call("GET", "/v1/products/1", "A" * n)
            eq((st, json.loads(body)), (401, {"error": "invalid_token", "reason": "too_long",
                "error_description": "the token is longer than 8192 bytes"}), "a %d-byte token" % n)
            eq(h.get("www-authenticate"), ['Bearer error="invalid_token", '
               'error_description="the token is longer than 8192 bytes"'], "challenge for %d" % n)
        eq(Echo.calls, [], "no refused call reached the upstream")

    def gate_asks(self):
        """How many checks the gate has answered (its request counter)."""
        text = self.s.get("/metrics").body.decode()
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                   if line.startswith('gatehouse_http_requests_total{route="gate"'))

    def test_a_refused_call_asks_the_gate_once(self):
        # nginx answers a refusal from the gate's one answer: a second ask
        # could use up an approval decided in between for a call that is
        # never made, and counts and audits the refusal twice.
        t = self.token(self.op)
        Echo.calls.clear()
        for method, path, tok, tenant, want in (
                ("GET", "/v1/products/1", None, "acme", 401),
                ("GET", "/v1/products/1", t, "globex", 403),
                ("GET", "/v1/products/1", t, None, 400),
                ("POST", "/v1/payouts/p-9", t, "acme", 403)):
            before = self.gate_asks()
            st, h, body = self.call(method, path, tok, tenant=tenant, body="{}" if method == "POST" else None)
            eq(st, want, "%s %s: %r" % (method, path, body))
            # The gate counts a request once it has sent the answer, which
            # nginx may relay first: wait for the count, then for a second.
            deadline = time.time() + 5
            while self.gate_asks() - before < 1 and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)
            eq(self.gate_asks() - before, 1, "%s %s: the gate is asked once" % (method, path))
            eq(h.get("cache-control"), ["no-store"], "no-store on %s %s: %r" % (method, path, h))
            eq(h.get("content-type"), ["application/json"], "JSON on %s %s" % (method, path))
        check(json.loads(body)["reason"] == "approval_required", "critical: %r" % body)
        eq(Echo.calls, [], "no refused call reached the upstream")

    def test_a_gate_that_does_not_answer_is_a_503(self):
        dead = Nginx(self.free_closed_port(), self.api.server_address[1])
        try:
            st, h, body = dead.request("GET", "/v1/products/1", {"Authorization": "Bearer x"}, None)
        finally:
            dead.stop()
        eq((st, json.loads(body)["reason"]), (503, "gate_unavailable"), "no gate: %r" % body)

    @staticmethod
    def free_closed_port():
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def test_address_allowlist_through_nginx(self):
        # The token is fetched as if from 10.1.2.3 (gatehouse trusts loopback).
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                             headers={"Authorization": basic(self.listed["client_id"], self.listed["client_secret"]),
                                      "X-Forwarded-For": "10.1.2.3"})
        eq(r.status, 200, "token %r" % r)
        t = r.json()["access_token"]
        # Through nginx the caller is 127.0.0.1, whatever it claims.
        st, h, body = self.call("GET", "/v1/products/1", t, headers={"X-Forwarded-For": "10.1.2.3"})
        eq((st, json.loads(body)["reason"]), (403, "address"), "a forged X-Forwarded-For is replaced")

    def test_revocation_through_nginx(self):
        t = self.token(self.op)
        eq(self.call("GET", "/v1/products/1", t)[0], 200, "allowed")
        r = self.s.post_form("/oauth/revoke", {"token": t},
                             headers={"Authorization": basic(self.op["client_id"], self.op["client_secret"])})
        eq(r.status, 200, "revoked")
        st, h, body = self.call("GET", "/v1/products/1", t)
        eq((st, json.loads(body)["reason"]), (401, "revoked"), "refused on the next call")

    def test_the_authorization_server_is_reached_at_the_edge(self):
        # Regression: only the token endpoints went to gatehouse; the RFC
        # 8414 metadata, the JWKS, introspection and revocation, which the
        # metadata advertises under the issuer, went through the gate to
        # the API, and the gate refused them.
        for path in ("/.well-known/oauth-authorization-server", "/.well-known/jwks.json"):
            st, h, body = self.ngx.request("GET", path, {}, None)
            eq((st, json.loads(body)), (200, self.s.get(path).json()), path)
        t = self.token(self.op)
        form = {"Authorization": basic(self.op["client_id"], self.op["client_secret"]),
                "Content-Type": "application/x-www-form-urlencoded"}
        st, h, body = self.ngx.request("POST", "/oauth/introspect", form, "token=" + t)
        eq((st, json.loads(body)["active"]), (200, True), "introspected at the edge")
        st, h, body = self.ngx.request("POST", "/oauth/revoke", form, "token=" + t)
        eq(st, 200, "revoked at the edge: %r" % body)
        st, h, body = self.call("GET", "/v1/products/1", t)
        eq((st, json.loads(body)["reason"]), (401, "revoked"), "refused on the next call")

    def test_many_calls_reuse(self):
        t = self.token(self.op)
        for i in range(50):
            eq(self.call("GET", "/v1/products/%d" % i, t)[0], 200, "call %d" % i)


if __name__ == "__main__":
    NginxGate().run()
