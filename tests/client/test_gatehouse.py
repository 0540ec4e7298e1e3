"""Issue 7 against the real gatehouse server: a token through the library in
every dialect (RFC 6749 Basic and post, 000, 001, 002, 003), each checked by
the server's own introspection; the lifetime taken from the server's answer;
64 threads causing one issued token (counted by the server's metrics); the
call helper through the gate, including a revoked token refreshed after a
401; and `gatehouse token get`."""
import base64
import http.server
import json
import os
import subprocess
import threading
import time

from fakes import probe
from harness import BIN, Server, Suite, basic, check, eq, jwt_parts

POLICY = "GET /v1/products/** role=viewer env=any\n"


class AgainstGatehouse(Suite):
    def setup(self):
        self.s = Server(policy=POLICY)
        self.c = self.s.client("acme", name="lib", roles="viewer", scopes="products:read")
        self.short = self.s.client("acme", name="short", roles="viewer", ttl="5")

    def teardown(self):
        self.s.cleanup()

    def introspect(self, tok):
        r = self.s.post_form("/oauth/introspect", {"token": tok},
                             headers={"Authorization": basic(self.c["client_id"], self.c["client_secret"])})
        eq(r.status, 200, "introspect %r" % r)
        return r.json()

    def get(self, dialect, *extra, c=None):
        c = c or self.c
        out, _ = probe("--url", self.s.base, "--dialect", dialect, "--id", c["client_id"], *extra,
                       "get", "get", "stats", secret=c["client_secret"])
        return out

    def test_every_dialect(self):
        for d in ("oauth-basic", "oauth-post", "m2p", "partner", "papaya", "mangopay"):
            extra = ["--tenant", "acme"] if d == "m2p" else []
            t0 = time.time()
            out = self.get(d, *extra)
            eq(out[0]["rc"], "ok", "%s: %r" % (d, out))
            eq(out[1]["token"], out[0]["token"], "%s: cached" % d)
            eq(out[2]["token_requests"], 1, "%s: one request" % d)
            info = self.introspect(out[0]["token"])
            check(info.get("active") is True, "%s: the server says active: %r" % (d, info))
            eq(info.get("client_id"), self.c["client_id"], "%s: issued to our client" % d)
            # 1200 s sandbox default (002: 86400 unless asked), as the server answered.
            want = 86400 if d == "papaya" else 1200
            check(abs(out[0]["expires_at"] - (t0 + want)) <= 61, "%s: lifetime %r" % (d, out[0]))
            eq(out[0]["expires_at"] // 60, info["exp"] // 60, "%s: expires_at matches exp" % d)

    def test_scope_and_papaya_expiration(self):
        out = self.get("oauth-basic", "--scope", "products:read")
        _, p = jwt_parts(out[0]["token"])
        eq(p.get("scope"), "products:read", "the scope asked for")
        t0 = time.time()
        out = self.get("papaya", "--expiration", "600", "--token-name", "lib-test")
        check(abs(out[0]["expires_at"] - (t0 + 600)) <= 61, "002 expiration honoured: %r" % out[0])
        _, p = jwt_parts(out[0]["token"])
        eq(p.get("token_name"), "lib-test", "token_name")

    def test_wrong_secret_then_lockout(self):
        # Its own client: the server locks (client, address) after 5 failures.
        v = self.s.client("acme", name="victim")
        for d in ("oauth-basic", "oauth-post", "m2p", "partner", "papaya"):
            out, _ = probe("--url", self.s.base, "--dialect", d, "--id", v["client_id"], "get",
                           secret="not-the-secret-123")
            eq(out[0]["rc"], "unauthorized", "%s: %r" % (d, out))
            check("invalid_client" in out[0]["msg"], out[0]["msg"])
            check("not-the-secret-123" not in out[0]["msg"], "no secret in the message")
        # Locked: 429 with a Retry-After far beyond what the client waits: it fails at
        # once with the server's (seed 003) reason, and does not keep asking.
        t0 = time.time()
        out, _ = probe("--url", self.s.base, "--dialect", "mangopay", "--id", v["client_id"], "get", "stats",
                       secret=v["client_secret"])
        eq(out[0]["rc"], "rate_limited", "%r" % out)
        check("temporarily locked" in out[0]["msg"] and "Retry-After" in out[0]["msg"], out[0]["msg"])
        eq(out[1]["token_requests"], 1, "not retried")
        check(time.time() - t0 < 5, "at once")

    def test_short_lifetime_refresh(self):
        out = self.get("oauth-basic", c=self.short)
        check(abs(out[0]["expires_in_ms"] - 5000) < 1100, "5 s from the server: %r" % out[0])
        check(abs(out[0]["refresh_in_ms"] - 4000) < 1100, "refresh at 80%%: %r" % out[0])
        out, _ = probe("--url", self.s.base, "--id", self.short["client_id"], "get", "sleep:4300", "get",
                       "stats", secret=self.short["client_secret"])
        check(out[1]["token"] != out[0]["token"], "refreshed ahead of expiry")
        eq(out[2]["token_requests"], 2, "two requests")

    def metric(self, name):
        total = 0.0
        for line in self.s.get("/metrics").body.decode().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                if 'result="ok"' in line or "result" not in line:
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def test_64_threads_one_token_issued(self):
        before = self.metric("gatehouse_tokens_issued_total")
        out, _ = probe("--url", self.s.base, "--dialect", "partner", "--id", self.c["client_id"],
                       "conc:64", secret=self.c["client_secret"])
        eq((out[0]["ok"], out[0]["distinct"], out[0]["token_requests"]), (64, 1, 1), "%r" % out)
        after = self.metric("gatehouse_tokens_issued_total")
        eq(after - before, 1, "the server issued one token")

    def test_call_through_the_gate_and_401_refresh(self):
        hdrs = ["--header", "X-Original-Method: GET", "--header", "X-Original-URI: /v1/products/7"]
        env = dict(os.environ, GH_PROBE_SECRET=self.c["client_secret"])
        p = subprocess.Popen([os.environ["CLIENT_PROBE"], "--url", self.s.base, "--id", self.c["client_id"],
                              "--tenant", "acme"] + hdrs +
                             ["call:%s/gate" % self.s.base, "sleep:1500", "call:%s/gate" % self.s.base, "stats"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        first = json.loads(p.stdout.readline())
        eq((first["rc"], first["status"]), ("ok", 200), "the gate lets the call pass: %r" % first)
        # Revoke every token of the client while the probe sleeps: its next call gets a 401.
        self.s.cli("client", "revoke-tokens", self.c["client_id"])
        rest = [json.loads(x) for x in p.stdout.read().decode().splitlines()]
        p.wait(timeout=30)
        eq((rest[0]["rc"], rest[0]["status"], rest[0]["attempts"]), ("ok", 200, 2),
           "401, a new token, one retry: %r" % rest)
        eq(rest[1]["token_requests"], 2, "one refresh")
        check(first["request_id"] != rest[0]["request_id"], "a fresh X-Request-ID per call")
        # A route the policy does not allow: the gate refuses, and a 403 is not retried.
        out, _ = probe("--url", self.s.base, "--id", self.c["client_id"], "--tenant", "acme",
                       "--header", "X-Original-Method: GET", "--header", "X-Original-URI: /v1/cards/1",
                       "call:%s/gate" % self.s.base, secret=self.c["client_secret"])
        eq((out[0]["rc"], out[0]["status"], out[0]["attempts"]), ("rejected", 403, 1), "%r" % out)
        check("no_rule" in out[0]["msg"], "the gate's reason in the message: %r" % out[0]["msg"])
        # The token endpoint refuses an X-TENANT-ID that is not the client's.
        out, _ = probe("--url", self.s.base, "--id", self.c["client_id"], "--tenant", "globex",
                       "call:%s/gate" % self.s.base, secret=self.c["client_secret"])
        eq(out[0]["rc"], "rejected", "%r" % out)
        check("X-TENANT-ID" in out[0]["msg"], out[0]["msg"])

    def test_cli_token_get(self):
        d = self.s.dir
        sf = os.path.join(d, "secret")
        with open(sf, "w") as f:
            f.write(self.c["client_secret"] + "\n")
        os.chmod(sf, 0o600)
        p = subprocess.run([BIN, "token", "get", "--url", self.s.base, "--dialect", "mangopay",
                            "--client-id", self.c["client_id"], "--client-secret-file", sf],
                           capture_output=True, timeout=60)
        eq(p.returncode, 0, "token get: %r" % p.stderr)
        tok = p.stdout.decode().strip()
        eq(self.introspect(tok).get("active"), True, "a live token printed")
        env = dict(os.environ, GATEHOUSE_CLIENT_SECRET=self.c["client_secret"])
        p = subprocess.run([BIN, "token", "get", "--url", self.s.base, "--dialect", "000", "--tenant", "acme",
                            "--client-id", self.c["client_id"], "--json"], capture_output=True, env=env, timeout=60)
        eq(p.returncode, 0, "secret from the environment: %r" % p.stderr)
        check(json.loads(p.stdout)["expires_at"] > time.time(), "--json")
        os.chmod(sf, 0o644)
        p = subprocess.run([BIN, "token", "get", "--url", self.s.base, "--client-id", self.c["client_id"],
                            "--client-secret-file", sf], capture_output=True, timeout=60)
        eq(p.returncode, 1, "a world-readable secret file is refused")
        check(b"insecure_file" in p.stderr and self.c["client_secret"].encode() not in p.stderr, p.stderr)
        p = subprocess.run([BIN, "token", "get", "--url", self.s.base, "--client-id", "x",
                            "--client-secret", "s"], capture_output=True, timeout=60)
        eq(p.returncode, 2, "no secret on the command line")

    def inspect(self, *args, stdin=None):
        p = subprocess.run([BIN, "token", "inspect"] + list(args), capture_output=True, timeout=60,
                           input=stdin)
        out = json.loads(p.stdout) if p.stdout.strip() else None
        return p.returncode, out, p.stderr.decode()

    def test_token_inspect(self):
        jwks = self.s.base + "/.well-known/jwks.json"
        tok = self.s.token(self.c["client_id"], self.c["client_secret"]).json()["access_token"]
        rc, out, err = self.inspect(tok, "--jwks", jwks)
        eq((rc, out["result"], out["signature"]), (0, "valid", "valid"), "a fresh token: %s" % err)
        eq(out["claims"]["client_id"], self.c["client_id"], "claims decoded")
        eq(out["header"]["kid"], out["kid"], "verified with the header's key")
        check(err.startswith("gatehouse token inspect: valid: signature verified"), err)
        # From stdin, and decoded only without --jwks.
        rc, out, err = self.inspect("-", stdin=tok.encode() + b"\n")
        eq((rc, out["result"], out["signature"]), (0, "unverified", "not checked"), err)
        # A tampered signature, a tampered payload, a stripped signature: invalid.
        h, p, sig = tok.split(".")
        bad_sig = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        for t, what in ((h + "." + p + "." + bad_sig, "signature"),
                        (h + "." + p[:-2] + ("AA" if p[-2:] != "AA" else "BB") + "." + sig, "payload"),
                        (h + "." + p + ".", "stripped")):
            rc, out, err = self.inspect(t, "--jwks", jwks)
            check(rc == 1 and (out is None or out["result"] == "invalid"), "%s: %r %s" % (what, out, err))
        # Expired: a 5 s token, 6 s later (the signature still checks).
        short = self.s.token(self.short["client_id"], self.short["client_secret"]).json()["access_token"]
        time.sleep(6)
        rc, out, err = self.inspect(short, "--jwks", jwks)
        eq((rc, out["result"], out["signature"], out["expired"]), (1, "expired", "valid", True), err)
        check("expired" in err, err)
        # A key the JWKS does not hold (another server's token): invalid.
        other = Server()
        try:
            oc = other.client("acme", name="x")
            ot = other.token(oc["client_id"], oc["client_secret"]).json()["access_token"]
        finally:
            other.cleanup()
        rc, out, err = self.inspect(ot, "--jwks", jwks)
        eq((rc, out["result"]), (1, "invalid"), "unknown kid: %s" % err)
        # Bad input and bad JWKS locations: clear errors, exit status 1 or 2.
        rc, out, err = self.inspect("0123456789abcdef0123456789abcdef", "--jwks", jwks)
        check(rc == 1 and "not a JWT" in err and "introspection" in err, err)
        rc, out, err = self.inspect("a b.c.d")
        check(rc == 1 and "character" in err, err)
        # An exp at the ends of int64 is no date: exp - now once overflowed
        # (undefined behaviour; "expires_in" came out wrapped), as 1e300 is refused.
        for exp in (-2 ** 63, 2 ** 63 - 1, 1e300):
            forged = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
                              .decode() for part in (jwt_parts(tok)[0], {"exp": exp})) + ".AAAA"
            rc, out, err = self.inspect(forged)
            eq((rc, out["result"]), (0, "unverified"), "exp %r: %s" % (exp, err))
            check("expires_in" not in out and "expired" not in out, "exp %r: no date %r" % (exp, out))
        rc, out, err = self.inspect(tok, "--jwks", "http://example.com/jwks.json")
        check(rc == 1 and "https://" in err, "plain http off loopback refused: " + err)
        rc, out, err = self.inspect(tok, "--jwks", self.s.base + "/healthz")
        check(rc == 1 and "not a JWKS" in err, err)
        rc, out, err = self.inspect(tok, "--jwks", "http://127.0.0.1:1/jwks.json")
        check(rc == 1 and "cannot fetch" in err, err)
        rc, out, err = self.inspect()
        eq(rc, 2, "usage")

    def test_token_inspect_past_64_published_keys(self):
        # gatehouse lists its keys oldest first; after many rotations the
        # signing key was past the 64th key inspect kept ("unknown kid").
        tok = self.s.token(self.c["client_id"], self.c["client_secret"]).json()["access_token"]
        keys = self.s.get("/.well-known/jwks.json").json()["keys"]
        jwks = json.dumps({"keys": [dict(keys[0], kid="old-%d" % i) for i in range(70)] + keys})

        class Jwks(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks.encode())

            def log_message(self, *a):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            rc, out, err = self.inspect(tok, "--jwks", "http://127.0.0.1:%d/jwks.json"
                                        % srv.server_address[1])
        finally:
            srv.shutdown()
        eq((rc, out["result"], out["signature"]), (0, "valid", "valid"), err)

    def test_token_inspect_tls(self):
        s = Server(tls=True)
        try:
            c = s.client("acme", name="tls")
            tok = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            jwks = s.base + "/.well-known/jwks.json"
            rc, out, err = self.inspect(tok, "--jwks", jwks)
            check(rc == 1 and out is None and "cannot fetch" in err, "self-signed refused: " + err)
            rc, out, err = self.inspect(tok, "--jwks", jwks, "--ca-file", s.cert)
            eq((rc, out["result"]), (0, "valid"), "with its CA: " + err)
            # The library over TLS too.
            out, _ = probe("--url", s.base, "--id", c["client_id"], "--ca-file", s.cert, "get",
                           secret=c["client_secret"])
            eq(out[0]["rc"], "ok", "token over https: %r" % out)
            out, _ = probe("--url", s.base, "--id", c["client_id"], "--retries", "-1", "get",
                           secret=c["client_secret"])
            eq(out[0]["rc"], "tls", "self-signed refused by the library: %r" % out)
        finally:
            s.cleanup()


if __name__ == "__main__":
    AgainstGatehouse().run()
