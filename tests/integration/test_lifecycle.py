"""Issue 5: secret rotation with overlap, signing-key rotation, lockout, rate
limits, lifetimes, no enumeration — against the real server, with short
durations and a shifted clock (GATEHOUSE_CLOCK_OFFSET) instead of long sleeps."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, basic, check, eq, jwt_parts  # noqa: E402

LOCKED = ("This account has been temporarily locked for security reasons. "
          "Please try again later.")


class Lifecycle(Suite):
    def setup(self):
        self.s = Server("--trusted-proxies", "127.0.0.1")

    def teardown(self):
        self.s.cleanup()

    def tok(self, cid, secret, xff=None, **kw):
        h = {"Authorization": basic(cid, secret)}
        if xff:
            h["X-Forwarded-For"] = xff
        f = {"grant_type": "client_credentials"}
        f.update(kw)
        return self.s.post_form("/oauth/token", f, headers=h)

    # -- secrets --------------------------------------------------------------
    def test_secret_rotation_overlap_and_expiry(self):
        c = self.s.client("rot", name="rot")
        r = self.s.cli("client", "rotate-secret", c["client_id"], "--grace", "2s")
        new = r["client_secret"]
        check(new != c["client_secret"], "a new secret")
        eq(self.tok(c["client_id"], new).status, 200, "new works")
        eq(self.tok(c["client_id"], c["client_secret"]).status, 200, "old works during grace")
        shown = self.s.cli("client", "show", c["client_id"])
        eq(len(shown["secrets"]), 2, "two secrets listed")
        check(all("hash" not in s for s in shown["secrets"]), "no hashes shown")
        check(any(s["expires_at"] for s in shown["secrets"]), "old has an expiry")
        p = self.s.cli("client", "rotate-secret", c["client_id"], check=False)
        check(p.returncode != 0 and b"live secrets" in p.stderr, "a third live secret is refused")
        time.sleep(2.5)
        eq(self.tok(c["client_id"], c["client_secret"]).status, 401, "old stops after grace")
        eq(self.tok(c["client_id"], new).status, 200, "new still works")

    def test_revoke_secret_now(self):
        c = self.s.client("rot", name="rev")
        r = self.s.cli("client", "rotate-secret", c["client_id"])
        old_id = [s["id"] for s in self.s.cli("client", "show", c["client_id"])["secrets"]
                  if s["expires_at"]][0]
        self.s.cli("client", "revoke-secret", c["client_id"], "--secret", str(old_id))
        eq(self.tok(c["client_id"], c["client_secret"]).status, 401, "revoked at once")
        eq(self.tok(c["client_id"], r["client_secret"]).status, 200, "other still works")
        p = self.s.cli("client", "revoke-secret", c["client_id"], "--secret", "999999", check=False)
        check(p.returncode != 0 and b"no secret" in p.stderr, "unknown secret")

    def test_rotation_bad_input(self):
        c = self.s.client("rot", name="bad")
        for g in ("-1d", "99999y", "0", "abc", "400d"):
            p = self.s.cli("client", "rotate-secret", c["client_id"], "--grace", g, check=False)
            check(p.returncode != 0 and b"grace" in p.stderr, "grace %s refused: %r" % (g, p.stderr))
        p = self.s.cli("client", "rotate-secret", "no-such", check=False)
        check(p.returncode != 0 and b"does not exist" in p.stderr, "unknown client")
        self.s.cli("client", "disable", c["client_id"])
        p = self.s.cli("client", "rotate-secret", c["client_id"], check=False)
        check(p.returncode != 0 and b"disabled" in p.stderr, "disabled client")
        eq(len(self.s.cli("client", "show", c["client_id"])["secrets"]), 1, "nothing changed")

    def test_secret_age_reported(self):
        s = Server(env={"GATEHOUSE_CLOCK_OFFSET": str(91 * 86400)}, start=False, workdir=None)
        try:
            s.start()
            # Created "now" in the shifted clock: age 0. Shift further for the check.
            c = s.client("age", name="old")
        finally:
            s.stop()
        s.env["GATEHOUSE_CLOCK_OFFSET"] = str(182 * 86400)
        try:
            s.start()
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "still works")
            check((r.header("X-Gatehouse-Secret-Rotation") or "").startswith("due"), "announced: %r" % r.headers)
            lst = s.cli("client", "list")
            row = [x for x in lst if x["client_id"] == c["client_id"]][0]
            eq(row["secret_rotation_due"], True, "reported in client list")
            check("gatehouse_client_secrets_rotation_due" in s.get("/metrics").body.decode(), "in metrics")
        finally:
            s.cleanup()

    # -- keys ---------------------------------------------------------------
    def test_key_rotation_publish_ahead_then_sign(self):
        c = self.s.client("keys", name="k")
        old_kid = jwt_parts(self.s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"]
        out = self.s.cli("keys", "rotate", "--env", "sandbox", "--lead", "2s")
        new_kid = out[0]["kid"]
        jwks = [k["kid"] for k in self.s.get("/.well-known/jwks.json").json()["keys"]]
        check(new_kid in jwks and old_kid in jwks, "new key published ahead, old still there")
        eq(jwt_parts(self.s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"],
           old_kid, "old key signs until the lead time passes")
        states = {k["kid"]: k["state"] for k in self.s.cli("keys", "list")}
        eq(states[new_kid], "published", "new state")
        time.sleep(2.5)
        eq(jwt_parts(self.s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"],
           new_kid, "new key signs after the lead")
        states = {k["kid"]: k["state"] for k in self.s.cli("keys", "list")}
        eq((states[new_kid], states[old_kid]), ("active", "retired"), "states after")
        check(old_kid in [k["kid"] for k in self.s.get("/.well-known/jwks.json").json()["keys"]],
              "retired key stays published")
        p = self.s.cli("keys", "rotate", "--env", "nowhere", check=False)
        check(p.returncode != 0, "unknown env")
        p = self.s.cli("keys", "revoke", "no-such-kid", check=False)
        check(p.returncode != 0 and b"no key" in p.stderr, "unknown key")

    def test_retired_key_leaves_after_last_token(self):
        s = Server()
        try:
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
            keys = s.cli("keys", "list")
            retired = [k for k in keys if k["state"] == "retired"]
            eq(len(retired), 1, "one retired")
            kid = retired[0]["kid"]
            check(kid in [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]], "published now")
        finally:
            s.stop()
        s.env["GATEHOUSE_CLOCK_OFFSET"] = str(2 * 86400)
        try:
            s.start()
            check(kid not in [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]],
                  "gone once every token it signed has expired")
        finally:
            s.cleanup()

    # -- lockout ----------------------------------------------------------------
    def test_lockout_pair_and_isolation(self):
        c = self.s.client("lock", name="victim")
        for i in range(5):
            eq(self.tok(c["client_id"], "wrong", xff="203.0.113.9").status, 401, "failure %d" % i)
        r = self.tok(c["client_id"], c["client_secret"], xff="203.0.113.9")
        eq(r.status, 429, "locked even with the right secret")
        eq(r.json(), {"error": "unauthorized_client", "error_description": LOCKED}, "seed 003 body")
        check(int(r.header("Retry-After")) > 0, "Retry-After")
        eq(self.tok(c["client_id"], c["client_secret"], xff="198.51.100.7").status, 200,
           "the client from its own address is not locked out")
        check('gatehouse_lockouts_total{kind="pair"}' in self.s.get("/metrics").body.decode(), "counted")

    def test_lockout_address_and_unknown_ids(self):
        c = self.s.client("lock", name="bystander")
        for i in range(20):
            self.tok("unknown-%d" % i, "guess", xff="192.0.2.50")
        r = self.tok(c["client_id"], c["client_secret"], xff="192.0.2.50")
        eq(r.status, 429, "address locked after 20 failures with unknown ids")
        eq(self.tok(c["client_id"], c["client_secret"], xff="192.0.2.51").status, 200, "other address fine")

    # -- rate limits -------------------------------------------------------------
    def test_rate_limit(self):
        c = self.s.client("rate", name="greedy", rate_limit="3")
        codes = [self.tok(c["client_id"], c["client_secret"]).status for _ in range(4)]
        eq(codes, [200, 200, 200, 429], "three a minute")
        r = self.tok(c["client_id"], c["client_secret"])
        check(int(r.header("Retry-After")) >= 1, "Retry-After")

    # -- lifetimes ----------------------------------------------------------------
    def test_lifetimes_match_exp(self):
        c = self.s.client("life", name="l", ttl="15m", max_ttl="1h")
        b = self.tok(c["client_id"], c["client_secret"]).json()
        p = jwt_parts(b["access_token"])[1]
        eq(b["expires_in"], p["exp"] - p["iat"], "expires_in == exp - iat")
        eq(b["expires_in"], 900, "client lifetime")

    # -- no enumeration ------------------------------------------------------------
    def test_unknown_id_and_wrong_secret_look_the_same(self):
        s = Server("--lockout-pair-threshold", "1000", "--lockout-address-threshold", "100000")
        try:
            c = s.client("enum", name="e")
            conn = s.connection()
            samples = {"unknown": [], "wrong": []}
            bodies = {}
            for i in range(400):
                for kind, cid in (("unknown", "nobody-%d" % (i % 7)), ("wrong", c["client_id"])):
                    t0 = time.perf_counter()
                    r = s.request("POST", "/oauth/token", body="grant_type=client_credentials",
                                  headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Authorization": basic(cid, "x" * 43)}, conn=conn)
                    samples[kind].append(time.perf_counter() - t0)
                    bodies[kind] = (r.status, r.body)
            eq(bodies["unknown"], bodies["wrong"], "same status and body")
            mu, mw = statistics.median(samples["unknown"]), statistics.median(samples["wrong"])
            check(abs(mu - mw) / max(mu, mw) < 0.10, "medians within 10%%: %.1fus vs %.1fus" % (mu * 1e6, mw * 1e6))
        finally:
            s.cleanup()


if __name__ == "__main__":
    Lifecycle().run()
