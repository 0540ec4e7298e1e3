"""Issue 7, failure injection: every bad answer a token endpoint can give
reaches the caller as a specific error code and a message naming the cause,
never a token, never the secret; retries only where they can help, bounded
in number and time."""
import json
import time

from fakes import CLIENT_ID, SECRET, Fake, check, eq, probe
from harness import Suite

FAST = ["--backoff-ms", "50", "--backoff-max-ms", "200"]


class Failures(Suite):
    def setup(self):
        self.f = Fake()
        self.other = Fake(host="127.0.0.2")     # another host, for redirects

    def teardown(self):
        self.f.close()
        self.other.close()

    def fetch(self, case, *extra, dialect="oauth-basic"):
        before = self.f.hits("/bad/%s/" % case)
        t0 = time.time()
        out, _ = probe("--url", self.f.base + "/bad/" + case, "--dialect", dialect, "--id", CLIENT_ID,
                       *(FAST + list(extra) + ["get", "stats"]))
        r = out[0]
        r["elapsed"] = time.time() - t0
        r["hits"] = self.f.hits("/bad/%s/" % case) - before
        check(SECRET not in r["msg"], "%s: the secret is in the message: %r" % (case, r["msg"]))
        check("token" not in r or r["rc"] == "ok", "%s: no token on error" % case)
        return r

    def refused(self, case, rc, words, dialect="oauth-basic", hits=1):
        r = self.fetch(case, dialect=dialect)
        eq(r["rc"], rc, "%s: %r" % (case, r))
        for w in words:
            check(w in r["msg"], "%s: %r should mention %r" % (case, r["msg"], w))
        eq(r["hits"], hits, "%s: token requests" % case)
        return r

    def test_not_json(self):
        self.refused("notjson", "bad_response", ["not JSON"])
        self.refused("notobject", "bad_response", ["not a JSON object"])
        # Seed 002's example answer as printed (a comma missing) is not JSON either.
        self.refused("seed002literal", "bad_response", ["not JSON"], dialect="papaya")

    def test_no_token(self):
        self.refused("notoken", "bad_response", ['no "access_token"'])
        self.refused("emptytoken", "bad_response", ["non-empty string"])
        self.refused("tokenchars", "bad_response", ["RFC 6750"])
        self.refused("notbearer", "bad_response", ["token_type mac is not Bearer"])
        self.refused("big", "bad_response", ["larger than"])

    def test_expires_in(self):
        self.refused("exp_missing", "bad_lifetime", ["no expires_in", "never assumed"])
        self.refused("exp_neg", "bad_lifetime", ["expires_in -5 is not positive"])
        self.refused("exp_zero", "bad_lifetime", ["expires_in 0 is not positive"])
        self.refused("exp_huge", "bad_lifetime", ["longer than"])
        self.refused("exp_str", "bad_lifetime", ["expires_in is not a number"])
        self.refused("exp_null", "bad_lifetime", ["expires_in is not a number"])
        self.refused("exp_frac", "bad_lifetime", ["whole number"])
        r = self.fetch("exp_bignum")
        check(r["rc"] in ("bad_response", "bad_lifetime"), "1e309: %r" % r)

    def test_valid_until(self):
        self.refused("vu_bad", "bad_lifetime", ["valid_until tomorrow is not an ISO 8601"], dialect="papaya")
        self.refused("vu_nozone", "bad_lifetime", ["not an ISO 8601"], dialect="papaya")
        self.refused("vu_month13", "bad_lifetime", ["not an ISO 8601"], dialect="papaya")
        self.refused("vu_number", "bad_lifetime", ["(not a string)"], dialect="papaya")
        self.refused("vu_past", "bad_lifetime", ["not in the future"], dialect="papaya")

    def test_hanging_endpoint_times_out(self):
        r = self.fetch("hang", "--timeout-ms", "800", "--retries", "1")
        eq(r["rc"], "timeout", "a hanging endpoint: %r" % r)
        eq(r["hits"], 2, "a timeout is retried once with --retries 1")
        check(r["elapsed"] < 5, "bounded: %.1fs" % r["elapsed"])
        check("after 2 attempts" in r["msg"], "says it retried: %r" % r["msg"])

    def test_redirect_not_followed(self):
        case = "redirect-%d" % self.other.port
        r = self.refused(case, "redirect", ["302", "127.0.0.2", "not followed"])
        eq(self.other.hits("/"), 0, "the other host was never asked")

    def test_5xx_retried_with_bounded_backoff(self):
        r = self.fetch("e500", "--retries", "3")
        eq(r["rc"], "server_error", "500: %r" % r)
        eq(r["hits"], 4, "three retries")
        # Backoff 50, 100, 200 ms at most (equal jitter: at least half of each).
        check(0.17 < r["elapsed"] < 3, "bounded backoff: %.2fs" % r["elapsed"])
        check("after retries" in r["msg"], r["msg"])
        r = self.fetch("e503once")
        eq((r["rc"], r["hits"]), ("ok", 2), "one 503 then a token: %r" % r)
        r = self.fetch("e500", "--retries", "-1")
        eq(r["hits"], 1, "retries off")

    def test_4xx_not_retried(self):
        self.refused("e400", "rejected", ["400", "invalid_client", "wrong secret ***"])
        # Echoed after a long text: redacted before the message is cut, no prefix survives.
        r = self.refused("e400long", "rejected", ["400", "invalid_client"])
        check("MySecr" not in r["msg"], "no prefix of the secret: %r" % r["msg"])
        self.refused("e401", "unauthorized", ["401", "invalid_credentials"])
        self.refused("e403", "rejected", ["403", "unauthorized_client"])

    def test_echoed_secret_redacted_in_every_form(self):
        # A server quoting the request back must not put the secret in our
        # error message, whether form-encoded, inside the Basic credentials'
        # base64 or with '/' escaped.
        import base64
        import urllib.parse
        secret = "My/Secret!!+x=y-VALUE"
        forms = [secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
                 secret.replace("/", "\\/"),
                 base64.b64encode(("%s:%s" % (urllib.parse.quote_plus(CLIENT_ID),
                                              urllib.parse.quote_plus(secret))).encode()).decode(),
                 base64.b64encode(("%s:%s" % (CLIENT_ID, secret)).encode()).decode()]
        for dialect in ("oauth-basic", "oauth-post", "m2p", "mangopay"):
            out, _ = probe("--url", self.f.base + "/bad/echoreq", "--dialect", dialect, "--id", CLIENT_ID,
                           *(FAST + ["get"]), secret=secret)
            r = out[0]
            eq(r["rc"], "rejected", "%s: %r" % (dialect, r))
            check("***" in r["msg"], "%s: something was redacted: %r" % (dialect, r["msg"]))
            for f in forms:
                check(f not in r["msg"], "%s: the secret as %r is in %r" % (dialect, f, r["msg"]))
        # A secret with '"' and a backslash goes into a JSON body escaped
        # (each as a backslash pair): a body quoted back holds it so, and
        # must not show it in that form either.
        secret = 'My"Se\\cret/x-VALUE'
        forms = [secret, json.dumps(secret)[1:-1], json.dumps(secret)[1:-1].replace("/", "\\/"),
                 secret.replace("/", "\\/"), "Se\\\\cret"]
        for dialect in ("m2p", "partner", "papaya"):
            out, _ = probe("--url", self.f.base + "/bad/echoreq", "--dialect", dialect, "--id", CLIENT_ID,
                           *(FAST + ["get"]), secret=secret)
            r = out[0]
            eq(r["rc"], "rejected", "%s: %r" % (dialect, r))
            for f in forms:
                check(f not in r["msg"], "%s: the secret as %r is in %r" % (dialect, f, r["msg"]))

    def test_secret_cut_by_a_description_limit_is_redacted(self):
        # The server cut its description at 240 characters, K characters
        # into the echoed secret: no prefix of 8 or more may survive.
        for k in (8, 12, 23):
            r = self.refused("cut240-%d" % k, "rejected", ["400", "invalid_client", "***"])
            check(SECRET[:6] not in r["msg"], "K=%d: a prefix of the secret: %r" % (k, r["msg"]))
        # The form-encoded secret (client_secret_post) quoted across our own
        # 240-character cut: redacted before the cut, in every form sent.
        import urllib.parse
        enc = urllib.parse.quote_plus(SECRET)
        for pad in range(110, 150, 4):
            r = self.fetch("echoreqpad-%d" % pad, dialect="oauth-post")
            eq(r["rc"], "rejected", "%r" % r)
            check(enc[:6] not in r["msg"], "pad %d: a prefix of the encoded secret: %r" % (pad, r["msg"]))

    def test_429_honours_retry_after(self):
        r = self.fetch("r429")
        eq((r["rc"], r["hits"]), ("ok", 2), "429 then a token: %r" % r)
        check(r["elapsed"] >= 0.95, "waited Retry-After: 1 (%.2fs)" % r["elapsed"])
        r = self.fetch("r429long")
        eq((r["rc"], r["hits"]), ("rate_limited", 1), "Retry-After 3600 is not waited for: %r" % r)
        check("Retry-After 3600" in r["msg"], r["msg"])
        check(r["elapsed"] < 3, "failed at once")

    def steps(self, case, *steps):
        """Runs the probe's steps against a fresh fake (the once-only cases
        count their requests from its start); returns its lines and the
        token requests the fake saw."""
        f = Fake()
        try:
            out, _ = probe("--url", f.base + "/bad/" + case, "--id", CLIENT_ID, *FAST, *steps)
            for o in out:
                check(SECRET not in o.get("msg", ""), "the secret is in %r" % o)
            return out, f.hits("/bad/%s/" % case)
        finally:
            f.close()

    def test_refusals_are_held_off_not_asked_again(self):
        # A refused secret: the next caller gets the refusal back at once,
        # said to be held off, and the endpoint sees no second request.
        out, hits = self.steps("e401", "get", "get", "stats")
        eq([o["rc"] for o in out[:2]], ["unauthorized", "unauthorized"], "both refused: %r" % out)
        check("invalid_credentials" in out[1]["msg"] and "not asked again" in out[1]["msg"],
              "the second says why and that it was held: %r" % out[1]["msg"])
        check("not asked again" not in out[0]["msg"], "the first was asked: %r" % out[0]["msg"])
        eq((hits, out[2]["token_requests"]), (1, 1), "one token request")
        # Other 4xx alike; once the hold-off is over the endpoint is asked again.
        out, hits = self.steps("e400", "--refusal-holdoff-ms", "300", "get", "get", "sleep:400", "get")
        eq([o["rc"] for o in out if o["step"] == "get"], ["rejected"] * 3, "%r" % out)
        eq(hits, 2, "asked again after 300 ms only")
        check("not asked again" not in out[-1]["msg"], out[-1]["msg"])
        # A 429 holds off for its Retry-After (1 s here), then a token comes.
        out, hits = self.steps("r429", "--retries", "-1", "get", "get", "sleep:1100", "get")
        eq([o["rc"] for o in out if o["step"] == "get"], ["rate_limited", "rate_limited", "ok"],
           "%r" % out)
        eq(hits, 2, "no request during Retry-After")
        # A failure that may pass is not held: the next caller asks again.
        out, hits = self.steps("e503once", "--retries", "-1", "get", "get")
        eq([o["rc"] for o in out], ["server_error", "ok"], "%r" % out)
        eq(hits, 2, "asked again at once after a 503")

    def test_huge_durations_are_capped_not_overflowed(self):
        # Retry-After larger than any integer: capped at one day, reported as
        # such, and not waited for (longer than retry_after_max).
        r = self.fetch("r429huge")
        eq((r["rc"], r["hits"]), ("rate_limited", 1), "a huge Retry-After: %r" % r)
        check("Retry-After 86400 s" in r["msg"], "capped at one day: %r" % r["msg"])
        check(r["elapsed"] < 3, "failed at once")
        # refresh_before_ms = LONG_MAX: turned into nanoseconds it overflowed
        # (a refresh after expiry, or a UBSan abort); bounded, it means "as
        # early as the 80% rule allows".
        big = str(2 ** 63 - 1)
        out, _ = probe("--url", self.f.base + "/ok", "--id", CLIENT_ID, "--refresh-before-ms", big, "get")
        eq(out[0]["rc"], "ok", "%r" % out)
        check(out[0]["refresh_in_ms"] < out[0]["expires_in_ms"], "refreshed before expiry: %r" % out[0])
        check(abs(out[0]["refresh_in_ms"] - 0.8 * out[0]["expires_in_ms"]) < 0.01 * out[0]["expires_in_ms"] + 200,
              "at 80%% of the lifetime: %r" % out[0])
        # backoff_max_ms = LONG_MAX: the pause after a failed refresh-ahead
        # overflowed to "none", so every caller in the refresh window asked
        # the failing endpoint again.
        before = self.f.hits("/bad/okthen500long/")
        out, _ = probe("--url", self.f.base + "/bad/okthen500long", "--id", CLIENT_ID, "--retries", "-1",
                       "--backoff-max-ms", big, "get", "sleep:8200", "get", "get", "get", "stats")
        eq([x["rc"] for x in out[:4]], ["ok"] * 4, "the valid token throughout: %r" % out)
        eq(self.f.hits("/bad/okthen500long/") - before, 2, "one token and one failed refresh-ahead, then a pause")

    def test_unreachable_and_bad_options(self):
        out, _ = probe("--url", "http://127.0.0.1:1", "--id", CLIENT_ID, "--retries", "2", *FAST, "get")
        eq(out[0]["rc"], "network", "connection refused: %r" % out)
        check("after 3 attempts" in out[0]["msg"], out[0]["msg"])
        out, _ = probe("--url", "http://example.com", "--id", CLIENT_ID, "get")
        eq(out[0]["step"], "new", "refused at creation")
        check(out[0]["rc"] == "invalid_argument" and "https://" in out[0]["msg"], "plain http off loopback: %r" % out)
        out, _ = probe("--url", "https://user:pw@example.com", "--id", CLIENT_ID, "get")
        eq(out[0]["rc"], "invalid_argument", "credentials in the URL")
        out, _ = probe("--url", self.f.base, "--id", CLIENT_ID, "get", secret="")
        eq(out[0]["rc"], "invalid_argument", "no secret")

    def test_loopback_never_through_a_proxy(self):
        # http_proxy in the environment: libcurl sent the token request for a
        # loopback URL, secret and all, in clear to the proxy (which would
        # also have reached its own loopback, not ours). A loopback host is
        # reached directly; the proxy sees nothing.
        import socket
        import threading
        px = socket.socket()
        px.bind(("127.0.0.1", 0))
        px.listen(8)
        px.settimeout(0.2)
        seen = []
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    conn, _ = px.accept()
                except OSError:
                    continue
                conn.settimeout(2)
                try:
                    seen.append(conn.recv(65536))
                except OSError:
                    seen.append(b"")
                conn.close()

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        proxy = "http://127.0.0.1:%d" % px.getsockname()[1]
        try:
            for env in ({"http_proxy": proxy}, {"HTTPS_PROXY": proxy, "ALL_PROXY": proxy}):
                before = self.f.hits("/ok/")
                out, _ = probe("--url", self.f.base + "/ok", "--id", CLIENT_ID, "--retries", "-1",
                               "get", "call:" + self.f.base + "/api/echo", env=env)
                eq([o["rc"] for o in out], ["ok", "ok"], "%r: straight to loopback: %r" % (env, out))
                eq(self.f.hits("/ok/") - before, 1, "%r: the token request reached the endpoint" % env)
                eq(seen, [], "%r: the proxy saw nothing" % env)
        finally:
            stop.set()
            th.join()
            px.close()

    def test_tls_verified(self):
        # A TLS endpoint whose certificate nobody trusts: refused, never downgraded.
        import ssl
        import subprocess
        import tempfile
        import os
        import http.server
        import threading
        d = tempfile.mkdtemp()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout", d + "/k.pem", "-out", d + "/c.pem"],
                       check=True, capture_output=True)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d + "/c.pem", d + "/k.pem")
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            url = "https://127.0.0.1:%d" % srv.server_address[1]
            out, _ = probe("--url", url, "--id", CLIENT_ID, "--retries", "-1", "get")
            eq(out[0]["rc"], "tls", "untrusted certificate: %r" % out)
            # With its CA given, the handshake passes and the (empty) server's 501 is what fails.
            out, _ = probe("--url", url, "--id", CLIENT_ID, "--retries", "-1", "--ca-file", d + "/c.pem", "get")
            eq((out[0]["rc"], out[0]["status"]), ("server_error", 501), "trusted via ca_file: %r" % out)
        finally:
            srv.shutdown()
            for n in ("k.pem", "c.pem"):
                os.unlink(os.path.join(d, n))
            os.rmdir(d)


if __name__ == "__main__":
    Failures().run()
