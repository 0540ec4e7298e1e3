"""Issue 7: the client library against fake token services that answer
exactly as each seed document shows (000's and 001's JSON, 002's valid_until
with minutes only, 003's Basic header and lowercase "bearer"): the request
each one receives is checked field by field, and the token's lifetime comes
from the answer."""
import base64
import json
import time
import urllib.parse

from fakes import CLIENT_ID, SECRET, Fake, check, eq, probe
from harness import Suite


class Seeds(Suite):
    def setup(self):
        self.f = Fake()

    def teardown(self):
        self.f.close()

    def get(self, seed, *extra):
        lines, _ = probe("--url", self.f.base + "/s" + seed, "--dialect", seed, "--id", CLIENT_ID,
                         *extra)
        return lines

    def test_000_json_body_and_cache(self):
        t0 = time.time()
        before = self.f.hits("/s000/")
        out = self.get("000", "--tenant", "acme", "get", "get")
        eq([x["rc"] for x in out], ["ok", "ok"], "two gets: %r" % out)
        eq(out[0]["token"], out[1]["token"], "the second get is served from the cache")
        eq(self.f.hits("/s000/") - before, 1, "one token request")
        h, b = self.f.last("/s000/auth/token")
        eq(json.loads(b), {"clientId": CLIENT_ID, "clientSecret": SECRET, "grantType": "client_credentials"},
           "the seed's body")
        check(h["content-type"].startswith("application/json"), "JSON content type")
        check(abs(out[0]["expires_at"] - (t0 + 3600)) < 5, "expires_in 3600 from the answer")
        # 3600 s: refreshed when 5 minutes remain.
        check(abs(out[0]["refresh_in_ms"] - 3300 * 1000) < 5000, "refresh 300 s early: %r" % out[0])

    def test_001_partner_json_with_accept(self):
        out = self.get("001", "get")
        eq(out[0]["rc"], "ok", "token: %r" % out)
        h, b = self.f.last("/s001/")
        eq(h.get("accept"), "application/json", "Accept as 001 requires")
        eq(json.loads(b), {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET},
           "the seed's body")
        eq(out[0]["token"], self.f.latest, "the token handed out is the one issued")

    def test_002_valid_until_minutes_only(self):
        t0 = time.time()
        out = self.get("002", "--expiration", "100001", "--token-name", "82725488-22bf", "get")
        eq(out[0]["rc"], "ok", "token: %r" % out)
        _, b = self.f.last("/s002/")
        eq(json.loads(b), {"api_key": CLIENT_ID, "client_secret": SECRET, "expiration": 100001,
                           "token_name": "82725488-22bf"}, "the seed's body")
        # valid_until "YYYY-MM-DDTHH:MMZ" is the only lifetime: now + 100001 rounded down to the minute.
        want = int(t0 + 100001) // 60 * 60
        check(abs(out[0]["expires_at"] - want) <= 60, "expires_at %r from valid_until, want ~%d" %
              (out[0]["expires_at"], want))

    def test_002_default_lifetime_from_answer(self):
        t0 = time.time()
        out = self.get("002", "get")
        _, b = self.f.last("/s002/")
        eq(sorted(json.loads(b)), ["api_key", "client_secret"], "nothing optional sent")
        check(abs(out[0]["expires_at"] - (t0 + 86400)) <= 65, "24 h from valid_until: %r" % out)

    def test_002_valid_until_with_offset(self):
        # The same instant written with seconds, a fraction and a +05:30 offset.
        self.f.vu_style = "offset"
        try:
            t0 = time.time()
            out = self.get("002", "--expiration", "600", "get")
        finally:
            self.f.vu_style = "minutes"
        eq(out[0]["rc"], "ok", "%r" % out)
        check(abs(out[0]["expires_at"] - (t0 + 600)) <= 2, "offset honoured: %r" % out[0])
        check(abs(out[0]["expires_in_ms"] - 600000) < 2500, "%r" % out[0])

    def test_003_basic_form_lowercase_bearer(self):
        self.f.expires_in = 1199
        try:
            out = self.get("003", "get")
        finally:
            self.f.expires_in = 3600
        eq(out[0]["rc"], "ok", "token: %r" % out)
        h, b = self.f.last("/s003/")
        eq(h["authorization"], "Basic " + base64.b64encode(("%s:%s" % (CLIENT_ID, SECRET)).encode()).decode(),
           "base64(ClientId:ApiKey) as the seed says")
        eq(urllib.parse.parse_qs(b.decode()), {"grant_type": ["client_credentials"]}, "form body")
        check(len(out[0]["token"]) == 32, "the opaque token as issued")
        # 1199 s (003's sandbox example): short, so refreshed at 80% of it, not 300 s before.
        check(abs(out[0]["refresh_in_ms"] - 959200) < 5000, "80%% of 1199 s: %r" % out[0])
        check(abs(out[0]["expires_in_ms"] - 1199000) < 5000, "expires in 1199 s: %r" % out[0])

    def test_003_refused_credentials(self):
        before = self.f.hits("/s003/")
        out, _ = probe("--url", self.f.base + "/s003", "--dialect", "003", "--id", CLIENT_ID, "get",
                       secret="wrong-secret-value")
        eq(out[0]["rc"], "unauthorized", "401: %r" % out)
        check("invalid_credentials" in out[0]["msg"] and "not valid" in out[0]["msg"],
              "003's error body in the message: %r" % out[0]["msg"])
        check("wrong-secret-value" not in out[0]["msg"], "no secret in the message")
        eq(self.f.hits("/s003/") - before, 1, "a 401 is not retried")

    def test_path_override(self):
        out, _ = probe("--url", self.f.base, "--path", "/s000/auth/token", "--dialect", "m2p",
                       "--id", CLIENT_ID, "get")
        eq(out[0]["rc"], "ok", "overridden path: %r" % out)
        out, _ = probe("--url", "http://127.0.0.1:1", "--path", self.f.base + "/s001/api/oauth/token",
                       "--dialect", "partner", "--id", CLIENT_ID, "get")
        eq(out[0]["rc"], "ok", "path given as a full URL: %r" % out)


if __name__ == "__main__":
    Seeds().run()
