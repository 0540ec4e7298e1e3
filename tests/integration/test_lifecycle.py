"""Issue 5: secret rotation with overlap, signing-key rotation, lockout, rate
limits, lifetimes, no enumeration — against the real server, with short
durations and a shifted clock (GATEHOUSE_CLOCK_OFFSET) instead of long sleeps."""
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import BIN, SRC, Server, Suite, basic, check, eq, jwt_parts  # noqa: E402

LOCKED = ("This account has been temporarily locked for security reasons. "
          "Please try again later.")

BIN_ABS = os.path.abspath(BIN)


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

    def test_rotation_reports_when_the_old_secret_really_ends(self):
        # Grace only shortens: an old secret already ending sooner keeps its
        # end, and the answer says that end, not now + grace.
        import calendar
        c = self.s.client("rot", name="ends")
        r = self.s.cli("client", "rotate-secret", c["client_id"], "--grace", "60s")
        self.s.cli("client", "revoke-secret", c["client_id"], "--secret", str(r["secret_id"]))
        r2 = self.s.cli("client", "rotate-secret", c["client_id"], "--grace", "2h")
        end = calendar.timegm(time.strptime(r2["previous_secrets_expire_at"], "%Y-%m-%dT%H:%M:%SZ"))
        check(end <= time.time() + 61, "the first secret still ends in a minute, not 2 h: %r" % r2)
        old = [x for x in self.s.cli("client", "show", c["client_id"])["secrets"] if x["expires_at"]]
        eq([x["expires_at"] for x in old], [r2["previous_secrets_expire_at"]], "as the store says")
        fresh = self.s.client("rot", name="fresh")
        r3 = self.s.cli("client", "rotate-secret", fresh["client_id"], "--grace", "2h")
        end = calendar.timegm(time.strptime(r3["previous_secrets_expire_at"], "%Y-%m-%dT%H:%M:%SZ"))
        check(abs(end - (time.time() + 7200)) < 10, "a secret with no end gets the grace: %r" % r3)

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
            due = [l for l in s.get("/metrics").body.decode().splitlines()
                   if l.startswith("gatehouse_client_secrets_rotation_due ")]
            # The bootstrap admin's secret and this one: both 91 days old.
            eq(due, ["gatehouse_client_secrets_rotation_due 2"], "counted in /metrics")
            s.cli("client", "rotate-secret", c["client_id"], "--grace", "1s")
            s.stop()
            time.sleep(1.1)         # the old secret has ended
            s.start()       # housekeeping counts again as the server starts
            due = [l for l in s.get("/metrics").body.decode().splitlines()
                   if l.startswith("gatehouse_client_secrets_rotation_due ")]
            eq(due, ["gatehouse_client_secrets_rotation_due 1"], "a rotated secret is not due")
        finally:
            s.cleanup()

    def test_secret_age_reported_past_a_rotation_age_in_hours(self):
        # Regression: the token answer and the client list compared whole
        # days with secret_rotation_age, so a 36h age reported a 40-hour
        # secret as not due (until 48h) while /metrics counted it due.
        s = Server("--secret-rotation-age", "36h", start=False)
        try:
            s.start()
            c = s.client("age", name="hours")
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.header("X-Gatehouse-Secret-Rotation"), None, "a new secret is not due")
            s.stop()
            s.env["GATEHOUSE_CLOCK_OFFSET"] = str(40 * 3600)
            s.start()
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "still works")
            eq(r.header("X-Gatehouse-Secret-Rotation"), "due; age-days=1", "announced at 40h")
            admin = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"]).json()["access_token"]
            listed = s.get("/admin/v1/clients", headers={"Authorization": "Bearer " + admin}).json()
            row = [x for x in listed["clients"] if x["client_id"] == c["client_id"]][0]
            eq((row["secret_age_days"], row["secret_rotation_due"]), (1, True), "listed as due")
        finally:
            s.cleanup()

    def test_expired_token_records_pruned(self):
        # token_retention: a record goes once its token has been expired that
        # long; a live token's record stays; the issuance stays in the trail.
        s = Server("--token-retention", "60", start=False)
        try:
            s.start()
            c = s.client("prune", name="short", ttl=60, token_format="opaque")
            auth = {"Authorization": basic(c["client_id"], c["client_secret"])}
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "issued")
            old = r.json()["access_token"]
            eq(len(s.cli("token", "list", "--client", c["client_id"])), 1, "recorded")
            s.stop()
            # 200 s on, the token has been expired for 140 s: past 60 s.
            s.env["GATEHOUSE_CLOCK_OFFSET"] = "200"
            s.start()
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "a new token")
            new = r.json()["access_token"]
            listed = []
            for _ in range(100):	# the first housekeeping runs as the server starts
                listed = s.cli("token", "list", "--client", c["client_id"])
                if len(listed) == 1:
                    break
                time.sleep(0.1)
            eq(len(listed), 1, "the expired record is gone, the live one stays")
            check(b"tokens.pruned" in open(s.stderr_path, "rb").read(), "logged")
            eq(s.post_form("/oauth/introspect", {"token": old}, headers=auth).json(),
               {"active": False}, "the pruned token is inactive")
            eq(s.post_form("/oauth/introspect", {"token": new}, headers=auth).json()["active"],
               True, "the live one is active")
            eq(len(s.cli("audit", "list", "--action", "token.issued", "--client",
                         c["client_id"])), 2, "both issuances stay in the trail")
        finally:
            s.cleanup()

    def test_default_grace_is_seven_days(self):
        s = Server(start=False)
        try:
            s.start()
            c = s.client("rot", name="default-grace")
            new = s.cli("client", "rotate-secret", c["client_id"])["client_secret"]
            s.stop()
            for offset, old_status in ((6 * 86400 + 23 * 3600, 200), (7 * 86400 + 120, 401)):
                s.env["GATEHOUSE_CLOCK_OFFSET"] = str(offset)
                s.start()
                try:
                    eq(s.token(c["client_id"], c["client_secret"]).status, old_status,
                       "old secret at +%ds" % offset)
                    eq(s.token(c["client_id"], new).status, 200, "new secret at +%ds" % offset)
                finally:
                    s.stop()
        finally:
            s.cleanup()

    def test_revocation_on_compromise_reaches_the_gate(self):
        s = Server(policy="GET /v1/** role=viewer env=any\n", start=False)
        try:
            s.start()
            c = s.client("comp", name="compromised", roles="viewer")

            def gate(tok):
                return s.get("/gate", headers={"X-Original-Method": "GET", "X-Original-URI": "/v1/x",
                                               "X-TENANT-ID": "comp", "Authorization": "Bearer " + tok})
            t = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            eq(gate(t).status, 200, "token works at the gate")
            new = s.cli("client", "rotate-secret", c["client_id"])["client_secret"]
            old_id = [x["id"] for x in s.cli("client", "show", c["client_id"])["secrets"]
                      if x["expires_at"]][0]
            s.cli("client", "revoke-secret", c["client_id"], "--secret", str(old_id), "--revoke-tokens")
            eq(gate(t).status, 401, "revoke-secret --revoke-tokens voids the token at once")
            eq(s.token(c["client_id"], c["client_secret"]).status, 401, "old secret ends")
            time.sleep(1.1)  # tokens_valid_after has a one-second grain
            t2 = s.token(c["client_id"], new).json()["access_token"]
            eq(gate(t2).status, 200, "a token from the new secret works")
        finally:
            s.cleanup()

    # -- keys ---------------------------------------------------------------
    def test_jwks_is_never_cached_past_the_publish_lead(self):
        # A verifier that fetched the set just before a scheduled rotation
        # must fetch it again before the new key signs: the set's max-age
        # is the lead when that is under the usual 5 minutes.
        for extra, want in (((), "public, max-age=300"),
                            (("--key-publish-lead", "45s"), "public, max-age=45"),
                            (("--key-publish-lead", "0"), "public, max-age=0")):
            s = Server(*extra)
            try:
                r = s.get("/.well-known/jwks.json")
                eq((r.status, r.header("Cache-Control")), (200, want), "with %r" % (extra,))
            finally:
                s.cleanup()

    def test_key_rotation_schedule_in_configuration(self):
        s = Server("--key-rotation-interval", "1d", "--key-publish-lead", "10m", start=False)
        try:
            s.start()
            c = s.client("keys", name="sched")
            kid0 = jwt_parts(s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"]
            s.stop()
            # A day on, less the lead: the schedule publishes the next key.
            s.env["GATEHOUSE_CLOCK_OFFSET"] = str(86400 - 300)
            s.start()
            deadline = time.time() + 10
            while True:
                sandbox = [k for k in s.cli("keys", "list") if k["env"] == "sandbox"]
                if len(sandbox) >= 2 or time.time() > deadline:
                    break
                time.sleep(0.2)
            new = [k for k in sandbox if k["kid"] != kid0]
            eq(len(new), 1, "one new sandbox key: %r" % sandbox)
            kid1 = new[0]["kid"]
            check(kid1 in [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]],
                  "published ahead")
            # On the trail as a rotation by hand is, naming the new key
            # (written just after the key: waited for).
            deadline = time.time() + 10
            while True:
                rows = [r for r in s.cli("audit", "list", "--limit", "1000")
                        if r["action"] == "keys.rotate" and r["target"] == "sandbox"]
                if rows or time.time() > deadline:
                    break
                time.sleep(0.2)
            eq([(r["actor"], kid1 in r["detail"]) for r in rows], [("gatehouse", True)],
               "the scheduled rotation audited: %r" % rows)
            eq(jwt_parts(s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"],
               kid0, "the old key still signs during the lead")
            s.stop()
            s.env["GATEHOUSE_CLOCK_OFFSET"] = str(86400 + 600)
            s.start()
            eq(jwt_parts(s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"],
               kid1, "the new key signs after the lead")
            jwks = [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]]
            check(kid0 in jwks and kid1 in jwks, "the retired key stays published")
            # One listing: the schedule may add a key between two.
            listed = [k["kid"] for k in s.cli("keys", "list")]
            eq(len(set(listed)), len(listed), "kids are unique")
        finally:
            s.cleanup()

    def test_no_token_outlives_its_key(self):
        # A rotation fixes when the old key is unpublished from the longest
        # lifetime then; a client made longer-lived before the switch gets
        # tokens from the old key that end before it does.
        import calendar
        s = Server()
        try:
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "30s")
            c = s.client("keys", name="long", ttl="90d", max_ttl="90d")
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "issued: %r" % r)
            h, p = jwt_parts(r.json()["access_token"])
            old = [k for k in s.cli("keys", "list") if k["kid"] == h["kid"]][0]
            check(old["remove_at"], "the signing key is to be unpublished: %r" % old)
            remove_at = calendar.timegm(time.strptime(old["remove_at"], "%Y-%m-%dT%H:%M:%SZ"))
            check(p["exp"] <= remove_at - 300, "exp %d before the key goes at %d" % (p["exp"], remove_at))
            eq(r.json()["expires_in"], p["exp"] - p["iat"], "expires_in says so")
            check(r.json()["expires_in"] < 90 * 86400, "shorter than asked")
        finally:
            s.cleanup()

    def test_a_rotated_key_outlives_tokens_issued_before_max_ttl_was_lowered(self):
        # Regression: the old key's removal was fixed from the clients'
        # max_ttl at the rotation, so a token issued before its client's
        # max_ttl was lowered lost its key (and verified nowhere) while it
        # was still valid.
        import calendar
        s = Server(start=False)
        try:
            s.start()
            c = s.client("keys", name="shortened", ttl="30d", max_ttl="30d")
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "issued")
            t = r.json()["access_token"]
            h, p = jwt_parts(t)
            admin = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"]).json()["access_token"]
            r = s.request("PATCH", "/admin/v1/clients/" + c["client_id"],
                          body={"ttl": 3600, "max_ttl": 3600},
                          headers={"Authorization": "Bearer " + admin})
            eq(r.status, 200, "max_ttl lowered: %r" % r)
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
            old = [k for k in s.cli("keys", "list") if k["kid"] == h["kid"]][0]
            remove_at = calendar.timegm(time.strptime(old["remove_at"], "%Y-%m-%dT%H:%M:%SZ"))
            check(remove_at >= p["exp"] + 300, "the old key stays until its last token ends: "
                  "removed at %d, token ends at %d" % (remove_at, p["exp"]))
            s.stop()
            # Two days on: past the longest lifetime a client may now ask,
            # well within the token's 30 days.
            s.env["GATEHOUSE_CLOCK_OFFSET"] = str(2 * 86400)
            s.start()
            check(h["kid"] in [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]],
                  "the token's key is still published")
            r = s.post_form("/oauth/introspect", {"token": t},
                            headers={"Authorization": basic(c["client_id"], c["client_secret"])})
            eq(r.json().get("active"), True, "the token is still active: %r" % r)
        finally:
            s.cleanup()

    def test_revoking_the_signing_key_during_a_lead_brings_the_successor_forward(self):
        # Regression: with a successor scheduled, revoking the signing key
        # (compromised) was refused, and the way out took three commands
        # (revoke the successor, rotate with no lead, revoke again) while the
        # leaked key signed on. Now the one revocation makes the successor
        # sign at once, for the running server's next request, and the JWKS
        # drops the revoked key; with no successor waiting it is refused.
        s = Server()
        try:
            c = s.client("keys", name="compromise")

            def kid():
                r = s.token(c["client_id"], c["client_secret"])
                eq(r.status, 200, "issued: %r" % r)
                return jwt_parts(r.json()["access_token"])[0]["kid"]

            def jwks():
                return [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]]
            old = kid()
            new = s.cli("keys", "rotate", "--env", "sandbox", "--lead", "10m")[0]["kid"]
            eq(kid(), old, "the old key signs during the lead")
            out = s.cli("keys", "revoke", old)
            eq(out, {"kid": old, "state": "removed", "signing": new}, "says who signs now")
            eq(kid(), new, "the successor signs from the next request")
            check(old not in jwks() and new in jwks(), "the compromised key is gone: %r" % jwks())
            states = {k["kid"]: k["state"] for k in s.cli("keys", "list")}
            eq(states[new], "active", "the successor is active")
            p = s.cli("keys", "revoke", new, check=False)
            check(p.returncode != 0 and b"rotate first" in p.stderr,
                  "with no successor, the only signing key stays: %r" % p.stderr)
            eq(kid(), new, "and signs on")
            # The admin API's revocation does the same.
            admin = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"]).json()["access_token"]
            third = s.cli("keys", "rotate", "--env", "sandbox", "--lead", "10m")[0]["kid"]
            r = s.request("POST", "/admin/v1/keys/%s/revoke" % new, body={},
                          headers={"Authorization": "Bearer " + admin})
            eq(r.status, 200, "revoked through the API: %r" % r)
            eq(r.json(), {"kid": new, "state": "removed", "signing": third}, "the API says so too")
            eq(kid(), third, "the third key signs")
            check(new not in jwks(), "the second key is gone")
        finally:
            s.cleanup()

    def test_a_revoked_key_stays_revoked_on_a_clock_behind(self):
        # Regression: a revocation retires and removes the key at the
        # revoking host's time; a node whose clock was behind it (another
        # node, the CLI's host, or this one after NTP stepped it back)
        # published the key again and took its tokens until its own clock
        # reached that time. Here the CLI's clock is 5 minutes ahead.
        s = Server()
        try:
            c = s.client("keys", name="skew")
            auth = {"Authorization": basic(c["client_id"], c["client_secret"])}
            t = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            old = jwt_parts(t)[0]["kid"]
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
            eq(s.post_form("/oauth/introspect", {"token": t}, headers=auth).json().get("active"),
               True, "the retired key's token is still good")
            s.env["GATEHOUSE_CLOCK_OFFSET"] = "300"
            s.cli("keys", "revoke", old)
            del s.env["GATEHOUSE_CLOCK_OFFSET"]
            jwks = [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]]
            check(old not in jwks, "the revoked key is not published: %r" % jwks)
            eq(s.post_form("/oauth/introspect", {"token": t}, headers=auth).json(),
               {"active": False}, "its token is refused")
        finally:
            s.cleanup()

    def test_key_rotation_publish_ahead_then_sign(self):
        c = self.s.client("keys", name="k")
        old_kid = jwt_parts(self.s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"]
        # A lead long enough for the checks below on a loaded machine
        # (with 2 s, a slow PostgreSQL CLI run once took the lead up).
        t0 = time.monotonic()
        out = self.s.cli("keys", "rotate", "--env", "sandbox", "--lead", "10s")
        new_kid = out[0]["kid"]
        # The CLI is another process: on PostgreSQL the server hears of
        # its commit by NOTIFY, a moment later (once, on a loaded CI
        # machine, after the JWKS request below was answered).
        deadline = time.monotonic() + 4
        while True:
            jwks = [k["kid"] for k in self.s.get("/.well-known/jwks.json").json()["keys"]]
            if new_kid in jwks or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(new_kid in jwks and old_kid in jwks, "new key published ahead, old still there")
        check(time.monotonic() < t0 + 9, "the checks before the lead ran inside it")
        eq(jwt_parts(self.s.token(c["client_id"], c["client_secret"]).json()["access_token"])[0]["kid"],
           old_kid, "old key signs until the lead time passes")
        states = {k["kid"]: k["state"] for k in self.s.cli("keys", "list")}
        eq(states[new_kid], "published", "new state")
        time.sleep(max(0.0, t0 + 10.5 - time.monotonic()))
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

    def test_a_key_that_does_not_unseal_is_retried_paced_and_logged_once(self):
        # A signing key row that does not unseal (altered, or sealed under
        # another master key) makes every reload of the keys fail. The keys
        # in memory stay in force; the reload is tried again with a wait
        # that doubles from 100 ms, and logged once, not at every refresh
        # turn (once a millisecond under load: before, each turn read and
        # unsealed every key again and logged a line).
        s = Server("--rate-limit", "0")
        try:
            c = s.client("t", name="x")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "before")
            s.sql("INSERT INTO signing_keys SELECT 'altered', alg, env, sealed, created_at,"
                  " publish_at, activate_at, retire_at, remove_at FROM signing_keys"
                  " WHERE env = 0 LIMIT 1")
            s.sql("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            until, statuses = time.time() + 2.5, set()
            while time.time() < until:
                statuses.add(s.token(c["client_id"], c["client_secret"]).status)
            eq(statuses, {200}, "tokens are signed with the keys in memory")
            m = s.get("/metrics").body.decode()
            line = [x for x in m.splitlines() if x.startswith(
                'gatehouse_store_reload_failures_total{generation="generation"}')]
            check(len(line) == 1, "failures counted: " + m[-400:])
            failures = int(float(line[0].split()[-1]))
            check(2 <= failures <= 8, "retried, paced: %d failures in 2.5 s" % failures)
            logged = [x for x in s.stderr().splitlines() if '"keys.reload_failed"' in x]
            eq(len(logged), 1, "logged once: %r" % logged[:3])
            check("altered does not unseal" in logged[0], "the log says why: " + logged[0])
            # Mended: the next change is loaded at once, and the end of the
            # streak is logged with its count.
            s.sql("DELETE FROM signing_keys WHERE kid = 'altered'")
            s.sql("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            deadline = time.time() + 3
            while "store.reload_recovered" not in s.stderr() and time.time() < deadline:
                s.token(c["client_id"], c["client_secret"])
                time.sleep(0.05)
            rec = [x for x in s.stderr().splitlines() if "store.reload_recovered" in x]
            eq(len(rec), 1, "the recovery is logged")
            check('"failures":%d' % failures in rec[0].replace(" ", "")
                  or '"failures":%d' % (failures + 1) in rec[0].replace(" ", ""),
                  "with the count: %s (metric %d)" % (rec[0], failures))
        finally:
            s.cleanup()

    def test_a_sighup_reload_that_read_before_a_revocation_does_not_bring_the_key_back(self):
        # Regression: keys loads run on several threads (SIGHUP on the main
        # one, a refresh on a request's), and each installed what it read
        # when it finished. A SIGHUP's load that read the keys before a
        # `keys revoke`, and finished after a request's refresh had loaded
        # the revocation, put the revoked key back in the JWKS (and at the
        # gate), the change counted as loaded: it stayed. gdb holds the
        # SIGHUP's load between its read and its install, as a slow thread
        # would.
        import shutil
        if shutil.which("gdb") is None:
            print("  (skipped: no gdb)")
            return
        with open(os.path.join(SRC, "src", "keys", "keys.c")) as f:
            line = [i + 1 for i, l in enumerate(f) if l == "\t*out = kr;\n"]
        eq(len(line), 1, "keys_load's install line in keys.c")
        s = Server()
        try:
            old = [k["kid"] for k in s.cli("keys", "list") if k["env"] == "sandbox"][0]
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
            jwks = lambda: [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]]
            check(old in jwks(), "the old key is published until revoked")
            mid = os.path.join(s.dir, "mid.txt")
            cli = " ".join([BIN_ABS, "keys", "revoke", old, "--db", s.db, "--master-key", s.master])
            script = os.path.join(s.dir, "gdb.cmd")
            with open(script, "w") as f:
                f.write("set pagination off\nattach %d\nbreak keys.c:%d thread 1\ncommands\n"
                        "  shell (sleep 0.3; %s > /dev/null; sleep 0.5; curl -s "
                        "http://127.0.0.1:%d/.well-known/jwks.json > %s) &\n"
                        "  call (unsigned int)sleep(3)\n  detach\n  quit\nend\n"
                        "shell (sleep 1; kill -HUP %d) &\ncontinue\n"
                        % (s.proc.pid, line[0], cli, s.port, mid, s.proc.pid))
            g = subprocess.run(["gdb", "-q", "-batch", "-x", script], capture_output=True, timeout=60)
            said = g.stdout + g.stderr
            if b"ptrace" in said and b"not permitted" in said:
                print("  (skipped: gdb may not attach here)")
                return
            if not os.path.exists(mid) and (b"No source file" in said or b"No symbol table" in said
                                            or b"No line" in said):
                print("  (skipped: a build without line information, as clang's Release)")
                return
            check(os.path.exists(mid), "gdb held the load: %r" % said[-2000:])
            with open(mid) as f:
                check(old not in f.read(), "revoked: gone from the JWKS while the SIGHUP's load waits")
            time.sleep(1.5)
            check(old not in jwks(), "and still gone once the SIGHUP's load, older, has finished")
        finally:
            s.cleanup()

    def test_a_key_revoked_while_reloads_fail_is_refused_once_one_succeeds(self):
        # Regression: the gate's cache was emptied when a change was seen,
        # before its reload. A token checked while the reload failed (the
        # keys in memory stay in force) was cached against the old keys,
        # and nothing emptied the cache when the retry swapped them: a
        # token of a key revoked for compromise kept passing the gate.
        s = Server(policy="GET /v1/** role=viewer env=any\n")
        try:
            c = s.client("comp", name="c", roles="viewer")

            def gate(tok):
                return s.get("/gate", headers={"X-Original-Method": "GET", "X-Original-URI": "/v1/x",
                                               "X-TENANT-ID": "comp", "Authorization": "Bearer " + tok})
            t = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            kid = jwt_parts(t)[0]["kid"]
            env = [k for k in s.cli("keys", "list") if k["kid"] == kid][0]["env"]
            s.cli("keys", "rotate", "--env", env, "--lead", "0")
            eq(gate(t).status, 200, "the retired key's token passes")
            s.sql("INSERT INTO signing_keys SELECT 'altered', alg, env, sealed, created_at,"
                  " publish_at, activate_at, retire_at, remove_at FROM signing_keys WHERE kid = ?",
                  (kid,))
            s.cli("keys", "revoke", kid)
            deadline = time.time() + 5
            while '"keys.reload_failed"' not in s.stderr():
                check(time.time() < deadline, "the reload fails")
                eq(gate(t).status, 200, "the keys in memory stay in force")
            eq(gate(t).status, 200, "the keys in memory stay in force")
            s.sql("DELETE FROM signing_keys WHERE kid = 'altered'")   # mended; no change counted
            deadline = time.time() + 10
            while "store.reload_recovered" not in s.stderr():
                check(time.time() < deadline, "a retry succeeds")
                time.sleep(0.05)
            r = gate(t)
            eq(r.status, 401, "the revoked key's token is refused: %r" % r.body[:200])
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

    def test_lockout_isolation_from_address_lock(self):
        # An attacker elsewhere guessing the victim's secret past the address
        # threshold locks its own address only.
        c = self.s.client("lock", name="victim2")
        for i in range(25):
            self.tok(c["client_id"], "guess-%d" % i, xff="203.0.113.77")
        eq(self.tok(c["client_id"], c["client_secret"], xff="203.0.113.77").status, 429,
           "the attacker's address is locked")
        eq(self.tok(c["client_id"], c["client_secret"], xff="198.51.100.77").status, 200,
           "the client at its own address still gets tokens")
        eq(self.tok(c["client_id"], c["client_secret"]).status, 200, "and from the direct peer")

    def test_lockout_unknown_id_pair_and_seed_003_route(self):
        # Five failures of one unknown id lock that pair, and the answer is the
        # same as for a known client: no enumeration through the lockout.
        c = self.s.client("lock", name="known")
        for i in range(5):
            eq(self.tok("ghost-client", "x", xff="203.0.113.31").status, 401, "unknown %d" % i)
            eq(self.tok(c["client_id"], "x", xff="203.0.113.32").status, 401, "wrong %d" % i)
        ru = self.tok("ghost-client", "x", xff="203.0.113.31")
        rk = self.tok(c["client_id"], c["client_secret"], xff="203.0.113.32")
        eq((ru.status, ru.body), (rk.status, rk.body), "unknown and known locked alike")
        eq(rk.status, 429, "locked")
        eq(self.tok("ghost-client", "x", xff="203.0.113.33").status, 401, "other address not locked")
        # The seed 003 route answers a locked caller with the same body.
        r = self.s.post_form("/v2.01/oauth/token", {"grant_type": "client_credentials"},
                             headers={"Authorization": basic(c["client_id"], c["client_secret"]),
                                      "X-Forwarded-For": "203.0.113.32"})
        eq(r.status, 429, "seed 003 route locked too")
        eq(r.json(), {"error": "unauthorized_client", "error_description": LOCKED}, "seed 003 body")
        ra = int(r.header("Retry-After"))
        check(0 < ra <= 900, "Retry-After within the lock: %d" % ra)
        check((r.header("Content-Type") or "").startswith("application/json"), "JSON")

    def test_lockout_reads_x_forwarded_for_given_in_two_lines(self):
        # Regression: a trusted proxy that adds its own X-Forwarded-For line
        # after the client's (one list, RFC 9110 §5.3) made the address
        # the client's own X-Real-IP: a guesser naming a new one each time
        # was never locked. The nearest untrusted entry of the whole list
        # is the caller.
        c = self.s.client("lock", name="two lines")
        for i in range(5):
            r = self.s.request("POST", "/oauth/token", body="grant_type=client_credentials",
                               headers=[("Authorization", basic(c["client_id"], "wrong-%d" % i)),
                                        ("Content-Type", "application/x-www-form-urlencoded"),
                                        ("X-Forwarded-For", "198.51.100.200"),
                                        ("X-Forwarded-For", "203.0.113.201"),
                                        ("X-Real-IP", "192.0.2.%d" % (100 + i))])
            eq(r.status, 401, "failure %d" % i)
        eq(self.tok(c["client_id"], c["client_secret"], xff="203.0.113.201").status, 429,
           "the caller's address (the proxy's line) is locked")
        eq(self.tok(c["client_id"], c["client_secret"], xff="192.0.2.100").status, 200,
           "an X-Real-IP the client sent is not its address")

    def test_lockout_counts_an_ipv6_64_as_one_address(self):
        # A host holds a whole /64 and may take any address in it: guesses
        # from twenty of them count as guesses from one address, and the
        # lock holds for the whole /64, not beyond it.
        c = self.s.client("lock", name="v6 bystander")
        for i in range(20):
            eq(self.tok("unknown-v6-%d" % i, "guess", xff="2001:db8:aa:bb::%x" % (i + 1)).status,
               401, "guess %d" % i)
        eq(self.tok(c["client_id"], c["client_secret"], xff="2001:db8:aa:bb:ffff::9").status, 429,
           "another address of the /64 is locked")
        eq(self.tok(c["client_id"], c["client_secret"], xff="2001:db8:aa:bc::1").status, 200,
           "the next /64 is not")
        # The pair: five wrong secrets from five addresses of another /64.
        v = self.s.client("lock", name="v6 victim")
        for i in range(5):
            eq(self.tok(v["client_id"], "wrong-%d" % i, xff="2001:db8:cc:dd::%x" % (i + 1)).status,
               401, "wrong %d" % i)
        eq(self.tok(v["client_id"], v["client_secret"], xff="2001:db8:cc:dd::77").status, 429,
           "the pair is locked for the /64")
        # Listed under the /64, and cleared by any address in it.
        deadline = time.time() + 3
        while True:
            keys = sorted(x["address"] for x in self.s.cli("lock", "list")
                          if x["address"].startswith("2001:db8:"))
            if len(keys) == 2 or time.time() > deadline:
                break
            time.sleep(0.05)
        eq(keys, ["2001:db8:aa:bb::/64", "2001:db8:cc:dd::/64"], "locks by /64")
        eq(self.s.cli("lock", "clear", "--address", "2001:db8:cc:dd::1234")["cleared"], 1,
           "cleared through an address of the /64")
        eq(self.s.cli("lock", "clear", "--address", "2001:db8:aa:bb::/64")["cleared"], 1,
           "cleared by the /64 as listed")
        p = self.s.cli("lock", "clear", "--address", "2001:db8:aa:bb::/48", check=False)
        check(p.returncode != 0 and b"IPv6 /64" in p.stderr, "another prefix is refused: %r" % p.stderr)
        deadline = time.time() + 5
        while self.tok(v["client_id"], v["client_secret"], xff="2001:db8:cc:dd::77").status != 200:
            check(time.time() < deadline, "the server did not pick up the clear")
            time.sleep(0.2)

    def test_lock_reload_is_bounded(self):
        # Regression: a reload of the locks read every lock in force into
        # memory at once, however many a flood had put in the store, and
        # every node reloads on every new lock. Now it reads at most what
        # the lockout table holds (65,536), a page at a time, and says so
        # once; a clear lifts the locks read, and brings it back within.
        c = self.s.client("lock", name="bounded")
        self.s.sql("INSERT INTO locks (kind, address, client_id, created_at, until)"
                   " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
                   " WHERE i < 65600) SELECT 1, '10.' || (i / 65536) || '.' ||"
                   " ((i / 256) % 256) || '.' || (i % 256), '', 1, 9999999999 FROM n")
        self.s.restart()
        check(self.s.stderr().count("auth.locks_reload_incomplete") == 1, "said once")
        eq(self.tok(c["client_id"], c["client_secret"], xff="10.0.0.1").status, 429,
           "a lock read is in force")
        eq(self.tok(c["client_id"], c["client_secret"], xff="192.0.2.1").status, 200,
           "others are not locked")
        eq(self.s.cli("lock", "clear", "--all")["cleared"], 65601, "cleared")
        deadline = time.time() + 3
        while (self.tok(c["client_id"], c["client_secret"], xff="10.0.0.1").status != 200 and
               time.time() < deadline):
            time.sleep(0.05)
        eq(self.tok(c["client_id"], c["client_secret"], xff="10.0.0.1").status, 200, "lifted")
        check("auth.locks_reload_complete" in self.s.stderr(), "back within the bound")

    def test_lock_list_clear_and_logs(self):
        c = self.s.client("lock", name="cleared")
        addr = "203.0.113.55"
        for i in range(5):
            self.tok(c["client_id"], "wrong-secret-%d" % i, xff=addr)
        eq(self.tok(c["client_id"], c["client_secret"], xff=addr).status, 429, "locked")
        # The server writes its locks in batches a moment later.
        deadline = time.time() + 3
        while True:
            mine = [x for x in self.s.cli("lock", "list") if x["address"] == addr]
            if mine or time.time() > deadline:
                break
            time.sleep(0.05)
        eq(len(mine), 1, "the lock is in the store: %r" % mine)
        eq((mine[0]["kind"], mine[0]["client_id"]), ("pair", c["client_id"]), "pair lock")
        check(0 < mine[0]["retry_after"] <= 900 and mine[0]["until"], "until: %r" % mine[0])
        # Bad input changes nothing.
        for args, what in ((("--address", "not-an-ip"), b"not an IPv4"),
                           ((), b"--all"),
                           (("--all", "--address", addr), b"takes no"),
                           (("--client", "x" * 200), b"1 to 128")):
            p = self.s.cli("lock", "clear", *args, check=False)
            check(p.returncode != 0 and what in p.stderr, "refused %r: %r" % (args, p.stderr))
        eq(len([x for x in self.s.cli("lock", "list") if x["address"] == addr]), 1, "still locked")
        eq(self.s.cli("lock", "clear", "--address", "192.0.2.250")["cleared"], 0, "no match")
        eq(self.s.cli("lock", "clear", "--address", addr, "--client", c["client_id"])["cleared"], 1,
           "cleared")
        eq([x for x in self.s.cli("lock", "list") if x["address"] == addr], [], "gone from the store")
        # The server picks the clear up on its next refresh (a second at most).
        deadline = time.time() + 5
        while self.tok(c["client_id"], c["client_secret"], xff=addr).status != 200:
            check(time.time() < deadline, "the server did not pick up the clear")
            time.sleep(0.2)
        m = self.s.get("/metrics").body.decode()
        check('gatehouse_unlocks_total{kind="pair",reason="cleared"}' in m, "unlock counted")
        log = self.s.stderr()
        check('"auth.locked"' in log and '"auth.unlocked"' in log, "locks and unlocks logged")
        check("wrong-secret" not in log and c["client_secret"] not in log, "no secrets in the log")

    def test_pair_and_address_locked_by_one_failure_are_both_listed_and_cleared(self):
        # Regression: when one failure reached both thresholds (the pair's
        # 5th, the address's 20th), only the address lock was stored: the
        # pair lock held on this node alone, out of `lock list`, and
        # `lock clear` (even --all) left the client locked out.
        c = self.s.client("lock", name="both at once")
        addr = "203.0.113.60"
        for i in range(15):
            eq(self.tok("unknown-both-%d" % i, "guess", xff=addr).status, 401, "guess %d" % i)
        for i in range(5):
            eq(self.tok(c["client_id"], "wrong-%d" % i, xff=addr).status, 401, "wrong %d" % i)
        deadline = time.time() + 3
        while True:
            mine = sorted((x["kind"], x["client_id"] or "") for x in self.s.cli("lock", "list")
                          if x["address"] == addr)
            if len(mine) >= 2 or time.time() > deadline:
                break
            time.sleep(0.05)
        eq(mine, [("address", ""), ("pair", c["client_id"])], "both locks are in the store")
        eq(self.s.cli("lock", "clear", "--address", addr)["cleared"], 2, "both cleared")
        deadline = time.time() + 5
        while self.tok(c["client_id"], c["client_secret"], xff=addr).status != 200:
            check(time.time() < deadline, "the client stayed locked out after lock clear")
            time.sleep(0.2)

    def test_a_node_far_behind_keeps_its_lock_until_it_is_cleared(self):
        # Regression: a node whose clock is behind the others' by more than
        # lockout_duration + 600 s lost its locks when another node's lock
        # write pruned their rows as ended by that writer's clock (and, on
        # PostgreSQL, the database's): missing from its next read, a lock
        # was taken for cleared and lifted. Only a clear lifts a lock now,
        # and a clear reaches a lock the store no longer holds.
        s = Server("--trusted-proxies", "127.0.0.1")
        d = None
        try:
            c = s.client("lock", name="behind")
            d = Server("--trusted-proxies", "127.0.0.1", workdir=s.dir, start=False,
                       env={"GATEHOUSE_CLOCK_OFFSET": "-2000"})
            d.start()

            def tok(node, addr, secret=None):
                return node.post_form("/oauth/token", {"grant_type": "client_credentials"},
                                      headers={"Authorization": basic(
                                          c["client_id"], secret or c["client_secret"]),
                                          "X-Forwarded-For": addr})

            def rows(addr):
                return s.sql("SELECT count(*) FROM locks WHERE address = ?", (addr,))[0][0]

            def wait_for(what, cond, limit=5):
                deadline = time.time() + limit
                while not cond():
                    check(time.time() < deadline, what)
                    time.sleep(0.05)

            for i in range(5):
                tok(d, "203.0.113.70", "no-%d" % i)
            eq(tok(d, "203.0.113.70").status, 429, "locked on the node behind")
            wait_for("its lock reached the store", lambda: int(rows("203.0.113.70")) == 1)
            time.sleep(1.5)         # the node behind has read its own row back
            for i in range(5):      # a lock made on the other node prunes that row
                tok(s, "203.0.113.71", "no-%d" % i)
            wait_for("the row was pruned", lambda: int(rows("203.0.113.71")) == 1 and
                     int(rows("203.0.113.70")) == 0)
            time.sleep(1.5)         # the node behind has reloaded its locks
            eq(tok(d, "203.0.113.70").status, 429, "a pruned lock is no clear")
            check('"reason":"cleared"' not in d.stderr(), "nothing logged as cleared")
            # A clear reaches it, though the store no longer holds it.
            eq(s.cli("lock", "clear", "--address", "203.0.113.70")["cleared"], 0, "none stored")
            wait_for("the clear reached the node behind",
                     lambda: tok(d, "203.0.113.70").status == 200)
            check('"reason":"cleared"' in d.stderr(), "logged as cleared")
        finally:
            if d is not None:
                d.stop()
            s.cleanup()

    def test_locks_shared_across_processes_and_restarts(self):
        s = Server("--trusted-proxies", "127.0.0.1")
        b = None
        try:
            c = s.client("lock", name="shared")
            for i in range(5):
                s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers={"Authorization": basic(c["client_id"], "no"),
                                     "X-Forwarded-For": "203.0.113.90"})
            # A second server on the same store (another node) honours the
            # lock once the first has written it (batched, a moment later).
            deadline = time.time() + 3
            while not s.cli("lock", "list"):
                check(time.time() < deadline, "the lock reached the store")
                time.sleep(0.05)
            b = Server("--trusted-proxies", "127.0.0.1", workdir=s.dir, start=False)
            b.start()
            hdr = {"Authorization": basic(c["client_id"], c["client_secret"]),
                   "X-Forwarded-For": "203.0.113.90"}
            eq(b.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers=hdr).status,
               429, "the other node sees the lock")
            # Cleared through the store, both nodes let the client in again.
            s.cli("lock", "clear", "--client", c["client_id"])
            for node in (s, b):
                deadline = time.time() + 5
                while node.post_form("/oauth/token", {"grant_type": "client_credentials"},
                                     headers=hdr).status != 200:
                    check(time.time() < deadline, "a node did not pick up the clear")
                    time.sleep(0.2)
            # A lock made on one node reaches the other without a restart.
            for i in range(20):
                b.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers={"Authorization": basic("nobody-%d" % i, "no"),
                                     "X-Forwarded-For": "203.0.113.91"})
            hdr["X-Forwarded-For"] = "203.0.113.91"
            deadline = time.time() + 5
            while s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                              headers=hdr).status != 429:
                check(time.time() < deadline, "node A did not see node B's address lock")
                time.sleep(0.2)
            b.stop()   # writes its queued locks before it exits
            s.stop()
            s.start()
            eq(s.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers=hdr).status,
               429, "the lock survives a restart")
        finally:
            if b is not None:
                b.stop()
            s.cleanup()

    def test_a_lock_the_store_refused_is_written_once_it_can_be(self):
        # A lock is in force at once on the node that made it; the store
        # makes it known to the operator and to the other nodes. While the
        # store refuses the write (here another session holds the locks
        # table, or SQLite's write lock, past the 5 s lock timeout), the
        # write is tried again, and the lock reaches the store once the
        # session lets go. Before, the failed write was only logged: the
        # lock stayed on one node, and a guesser behind a load balancer
        # could go on at the others.
        s = Server("--trusted-proxies", "127.0.0.1", "--rate-limit", "0")
        holder = None
        try:
            c = s.client("lock", name="held")
            holder = s.hold_writes("locks")
            # At once, not one after another: on SQLite each answer waits
            # for its audit row, which the held lock holds up too.
            hdr = {"Authorization": basic(c["client_id"], "no"), "X-Forwarded-For": "203.0.113.95"}
            guesses = [threading.Thread(target=s.post_form, args=(
                "/oauth/token", {"grant_type": "client_credentials"}), kwargs={"headers": hdr})
                for _ in range(5)]
            for t in guesses:
                t.start()
            for t in guesses:
                t.join(30)
            deadline = time.time() + 15
            while '"auth.lock_store_failed"' not in s.stderr():
                check(time.time() < deadline, "the failed write is logged")
                time.sleep(0.1)
            holder.release()
            holder = None
            deadline = time.time() + 15
            while not s.cli("lock", "list"):
                check(time.time() < deadline, "the lock reached the store once it could")
                time.sleep(0.1)
            locks = s.cli("lock", "list")
            eq([(x["client_id"], x["address"]) for x in locks],
               [(c["client_id"], "203.0.113.95")], "the pair's lock")
            hdr["Authorization"] = basic(c["client_id"], c["client_secret"])
            eq(s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                           headers=hdr).status, 429, "in force here throughout")
            deadline = time.time() + 5
            while '"auth.locks_stored_again"' not in s.stderr():
                check(time.time() < deadline, "the end of the failures is logged")
                time.sleep(0.1)
            eq(s.stderr().count('"auth.lock_store_failed"'), 1, "the failures logged once")
        finally:
            if holder is not None:
                holder.release()
            s.cleanup()

    def test_a_lock_read_from_the_store_lasts_at_most_its_duration(self):
        # Regression: a lock read from the store (another node's, or this
        # node's before a restart) was in force until its end as this
        # node's wall clock read it. Read by a clock an hour behind the one
        # that made it (a node behind, or NTP stepping this host back
        # across the restart), a 60 s lock lasted an hour more. Now it
        # lasts no longer than lockout_duration from the read.
        s = Server("--trusted-proxies", "127.0.0.1", "--lockout-duration", "60s")
        try:
            hdr = {"X-Forwarded-For": "203.0.113.97"}

            def ask(cid, secret):
                return s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                                   headers=dict(hdr, Authorization=basic(cid, secret)))

            def lock(cid):
                for _ in range(5):
                    eq(ask(cid, "no").status, 401, "a wrong secret")
                deadline = time.time() + 5
                while cid not in [x["client_id"] for x in s.cli("lock", "list")]:
                    check(time.time() < deadline, "the lock reached the store")
                    time.sleep(0.05)

            a = s.client("lock", name="behind")
            lock(a["client_id"])
            s.env["GATEHOUSE_CLOCK_OFFSET"] = "-3600"
            s.restart()
            r = ask(a["client_id"], a["client_secret"])
            eq(r.status, 429, "still locked after the restart")
            ra = int(r.header("Retry-After"))
            check(0 < ra <= 60, "at most lockout_duration left, not an hour more: %d" % ra)
        finally:
            s.cleanup()

    def test_a_lock_from_a_clock_behind_is_kept_for_leeway(self):
        # Regression: read by a clock ahead of the one that made it by
        # more than its duration (a node ahead, or NTP stepping this host
        # forward across a restart), a lock was never in force, and a
        # guesser went on there. Up to leeway of skew is now trusted: the
        # lock lasts until its end plus leeway as this clock reads it.
        s = Server("--trusted-proxies", "127.0.0.1", "--lockout-duration", "60s",
                   "--leeway", "60")
        try:
            c = s.client("lock", name="ahead")
            hdr = {"X-Forwarded-For": "203.0.113.98"}
            for _ in range(5):
                eq(s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                               headers=dict(hdr, Authorization=basic(c["client_id"], "no"))).status,
                   401, "a wrong secret")
            deadline = time.time() + 5
            while not s.cli("lock", "list"):
                check(time.time() < deadline, "the lock reached the store")
                time.sleep(0.05)
            s.env["GATEHOUSE_CLOCK_OFFSET"] = "90"      # past the lock's end, by 30 s
            s.restart()
            hdr["Authorization"] = basic(c["client_id"], c["client_secret"])
            r = s.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers=hdr)
            eq(r.status, 429, "a lock that looks 30 s over is within the 60 s leeway")
            ra = int(r.header("Retry-After"))
            check(0 < ra <= 31, "its end plus leeway: %d" % ra)
            # Regression: `lock clear` moved the lock counter only for a
            # lock in force by the wall clock, so the servers never heard
            # of a clear of one held for its leeway: it went on refusing.
            s.cli("lock", "clear", "--client", c["client_id"])
            deadline = time.time() + 5
            while s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                              headers=hdr).status != 200:
                check(time.time() < deadline, "the clear reached the server")
                time.sleep(0.2)
        finally:
            s.cleanup()

    def test_a_node_ahead_does_not_prune_a_lock_another_node_holds(self):
        # Regression: each lock write pruned the locks that had ended by
        # the writer's clock. A node whose clock was ahead (here 60 s, the
        # leeway) deleted a lock the others still held; their next reload,
        # finding it gone, took it for cleared and let the guesser in.
        a = Server("--trusted-proxies", "127.0.0.1", "--lockout-duration", "60s",
                   "--leeway", "60")
        b = None
        try:
            c = a.client("lock", name="pruned")
            hdr = {"X-Forwarded-For": "203.0.113.99"}

            def ask(node, cid, secret, xff="203.0.113.99"):
                return node.post_form("/oauth/token", {"grant_type": "client_credentials"},
                                      headers={"X-Forwarded-For": xff,
                                               "Authorization": basic(cid, secret)})
            for _ in range(5):
                eq(ask(a, c["client_id"], "no").status, 401, "a wrong secret")
            deadline = time.time() + 5
            while not a.cli("lock", "list"):
                check(time.time() < deadline, "the lock reached the store")
                time.sleep(0.05)
            b = Server("--trusted-proxies", "127.0.0.1", "--lockout-duration", "60s",
                       "--leeway", "60", workdir=a.dir, start=False,
                       env={"GATEHOUSE_CLOCK_OFFSET": "60"})
            b.start()
            for _ in range(5):      # another lock, made and written by the node ahead
                eq(ask(b, "someone", "no", "198.51.100.99").status, 401, "a wrong secret")
            deadline = time.time() + 5
            while "someone" not in [x["client_id"] for x in a.cli("lock", "list")]:
                check(time.time() < deadline, "node B's lock reached the store")
                time.sleep(0.05)
            check(c["client_id"] in [x["client_id"] for x in a.cli("lock", "list")],
                  "node A's lock is still listed")
            time.sleep(1.5)         # node A reloads its locks
            r = ask(a, c["client_id"], c["client_secret"])
            eq(r.status, 429, "node A still holds its lock: %r" % r.body[:200])
            check('"reason":"cleared"' not in a.stderr().replace(" ", ""),
                  "no lock taken for cleared")
        finally:
            if b is not None:
                b.stop()
            a.cleanup()

    def test_lock_expires_and_is_logged(self):
        s = Server("--trusted-proxies", "127.0.0.1", "--lockout-duration", "2s",
                   "--lockout-pair-threshold", "2")
        try:
            c = s.client("lock", name="short")
            hdr = {"X-Forwarded-For": "203.0.113.95"}
            for _ in range(2):
                s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers=dict(hdr, Authorization=basic(c["client_id"], "no")))
            hdr["Authorization"] = basic(c["client_id"], c["client_secret"])
            eq(s.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers=hdr).status,
               429, "locked after the configured 2 failures")
            time.sleep(2.2)
            eq(s.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers=hdr).status,
               200, "the lock ran out after the configured 2 s")
            eq([x for x in s.cli("lock", "list")], [], "an expired lock is not listed")
            deadline = time.time() + 3
            while '"reason":"expired"' not in s.stderr().replace(" ", ""):
                check(time.time() < deadline, "the expiry is logged: %r" % s.stderr()[-500:])
                time.sleep(0.2)
            check('gatehouse_unlocks_total{kind="pair",reason="expired"} 1' in s.get("/metrics").body.decode(),
                  "the expiry is counted")
        finally:
            s.cleanup()

    def test_lockout_off_switch(self):
        s = Server("--trusted-proxies", "127.0.0.1", "--lockout", "off")
        try:
            c = s.client("lock", name="off")
            for _ in range(8):
                s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers={"Authorization": basic(c["client_id"], "no")})
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "lockout off: never locked")
        finally:
            s.cleanup()

    # -- configuration bad input -------------------------------------------------
    def test_thresholds_and_durations_in_config_are_bounded(self):
        for flag, value in (("--lockout-pair-threshold", "0"), ("--lockout-pair-threshold", "-1"),
                            ("--lockout-pair-threshold", "abc"),
                            ("--lockout-address-threshold", "1000001"),
                            ("--lockout-window", "-1d"), ("--lockout-window", "99999y"),
                            ("--lockout-window", "0"), ("--lockout-duration", "abc"),
                            ("--lockout-duration", "400d"), ("--rate-limit", "-5"),
                            ("--rate-limit", "lots"), ("--lockout", "maybe")):
            s = Server(flag, value, start=False)
            try:
                rc = s.start(expect_fail=True)
                err = s.stderr()
                key = flag[2:].replace("-", "_")
                check(rc != 0 and key in err, "%s %s refused clearly: %r" % (flag, value, err))
            finally:
                s.cleanup()
        # Regression: a publish lead past the rotation interval was taken,
        # and each key then signed for the lead: the interval unheeded.
        s = Server("--key-rotation-interval", "1h", "--key-publish-lead", "2h", start=False)
        try:
            rc = s.start(expect_fail=True)
            check(rc != 0 and "key_publish_lead" in s.stderr() and
                  "key_rotation_interval" in s.stderr(), "lead past interval: %r" % s.stderr())
        finally:
            s.cleanup()
        # Rotating every few minutes piled up keys past what verifiers
        # read: an interval is 0 (by hand) or at least an hour.
        s = Server("--key-rotation-interval", "5m", "--key-publish-lead", "1m", start=False)
        try:
            rc = s.start(expect_fail=True)
            check(rc != 0 and "key_rotation_interval (300s): 0 (rotate by hand) or at least 1h"
                  in s.stderr(), "a rotation every 5 minutes: %r" % s.stderr())
        finally:
            s.cleanup()
        # The same checks for a configuration file.
        s = Server(start=False)
        try:
            conf = os.path.join(s.dir, "gh.conf")
            with open(conf, "w") as f:
                f.write("lockout_window = 2y\n")
            s.extra += ["--config", conf]
            rc = s.start(expect_fail=True)
            check(rc != 0 and "lockout_window" in s.stderr(), "config file value refused: %r" % s.stderr())
        finally:
            s.cleanup()
        # --config=FILE, as every other command takes it, is read the same;
        # --config with no file is refused, not ignored.
        for with_file, words in ((True, "lockout_window"), (False, "--config needs a value")):
            s = Server(start=False)
            try:
                conf = os.path.join(s.dir, "gh.conf")
                with open(conf, "w") as f:
                    f.write("lockout_window = 2y\n")
                s.extra.append("--config=" + conf if with_file else "--config")
                rc = s.start(expect_fail=True)
                check(rc != 0 and words in s.stderr(), "%r: %r" % (s.extra[-1], s.stderr()))
            finally:
                s.cleanup()

    def test_a_setting_given_twice_in_a_file_is_refused(self):
        # Regression: the last of two lines won without a word, so an
        # operator who edited the first saw nothing change (STYLE 10). The
        # flag spelling of a key is the same setting.
        for text in ("rate_limit = 10\nlockout = true\nrate_limit = 20\n",
                     "rate_limit = 10\nrate-limit = 20\n",
                     # A byte-order mark is skipped: line 1's key is read.
                     "\ufeffrate_limit = 10\nrate_limit = 20\n"):
            s = Server(start=False)
            try:
                conf = os.path.join(s.dir, "gh.conf")
                with open(conf, "w", encoding="utf-8") as f:
                    f.write(text)
                s.extra += ["--config", conf]
                rc = s.start(expect_fail=True)
                check(rc != 0 and "is set again (first on line 1)" in s.stderr(),
                      "%r: %r" % (text, s.stderr()))
                p = subprocess.run([BIN, "client", "list", "--config", conf], capture_output=True,
                                   env={k: v for k, v in os.environ.items()
                                        if not k.startswith("GATEHOUSE_")}, timeout=20)
                check(p.returncode != 0 and b"is set again" in p.stderr,
                      "the CLI reads it so too: %r" % p.stderr)
            finally:
                s.cleanup()

    def test_a_config_file_with_a_database_password_is_its_owners_alone(self):
        # STYLE 5, as for the master key: a file whose db holds a password
        # (libpq's reading: user:password@ or ?password=) open to group or
        # others is refused, by serve and by every command; without one, or
        # at 0600, it is read.
        s = Server(start=False)
        try:
            conf = os.path.join(s.dir, "gh.conf")
            env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
            for db, mode, refused in (("postgresql://gh:s3cret@127.0.0.1:1/x", 0o644, True),
                                      ("postgresql://gh@127.0.0.1:1/x?password=s3cret", 0o640, True),
                                      ("postgresql://gh@127.0.0.1:1/x", 0o644, False),
                                      ("postgresql://gh:s3cret@127.0.0.1:1/x", 0o600, False)):
                with open(conf, "w") as f:
                    f.write("db = %s\n" % db)
                os.chmod(conf, mode)
                p = subprocess.run([BIN, "serve", "--config", conf, "--listen", "127.0.0.1:0"],
                                   capture_output=True, env=env, timeout=30)
                q = subprocess.run([BIN, "client", "list", "--config", conf], capture_output=True,
                                   env=env, timeout=30)
                for what, r in (("serve", p), ("client list", q)):
                    said = b"holds the database password (db) and has mode" in r.stderr
                    check(r.returncode != 0, "%s %o: fails (no server at port 1)" % (what, mode))
                    eq(said, refused, "%s, %s at %o: %r" % (what, db, mode, r.stderr))
                    check(b"s3cret" not in r.stderr, "never the password: %r" % r.stderr)
        finally:
            s.cleanup()

    def test_bad_proxies_or_policy_refused_before_a_first_run(self):
        # Regression: both were read only as the server was set up, after a
        # first run had made the master key, the store and its signing keys
        # (and an admin client whose secret went unseen).
        for flags, words in ((["--trusted-proxies", "10.0.0.1/8"], "trusted_proxies"),
                             (["--policy", "/nonexistent/gate.policy"], "policy")):
            s = Server(*flags, start=False)
            try:
                rc = s.start(expect_fail=True)
                check(rc != 0 and words in s.stderr(), "%r: %r" % (flags, s.stderr()))
                eq([f for f in os.listdir(s.dir) if f.startswith(("gh.db", "master"))], [],
                   "%r: nothing made" % flags)
            finally:
                s.cleanup()

    def test_serve_refuses_what_is_not_a_configuration_file(self):
        # Regression: serve read --config line by line, and a read error
        # (a directory's EISDIR) looked like the end of an empty file: the
        # server started on the defaults. A file of megabytes was parsed
        # for as long as it took. Both are refused at once, as the other
        # commands refuse them, and the server never starts.
        s = Server(start=False)
        try:
            big = os.path.join(s.dir, "big.conf")
            with open(big, "w") as f:
                f.write("# padding\n" * 110000)
            for path, words in ((s.dir, "Is a directory"), (big, "larger than 1 MB")):
                p = subprocess.Popen(s.argv() + ["--config", path], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=s.env)
                try:
                    out, err = p.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    raise AssertionError("--config %s: the server started" % path)
                err = err.decode()
                check(p.returncode == 2 and words in err and path in err,
                      "--config %s refused: %d %r" % (path, p.returncode, err))
        finally:
            s.cleanup()

    def test_serve_refuses_a_store_or_key_from_the_environment_it_cannot_take(self):
        # Regression: serve dropped a GATEHOUSE_DB (or GATEHOUSE_MASTER_KEY)
        # that config_set refused (here a Latin-1 file name, not UTF-8)
        # without a word, and served the default store, var/gatehouse.db,
        # with a first run of its own. The other commands refuse it.
        s = Server(start=False)
        try:
            os.mkdir(os.path.join(s.dir, "var"), 0o700)
            argv = [a for a in s.argv() if a not in ("--db", s.db, "--master-key", s.master)]
            argv[0] = os.path.abspath(argv[0])     # run from s.dir, where var/ is
            for name, value in (("GATEHOUSE_DB", "sqlite:" + os.path.join(s.dir, "caf\udce9.db")),
                                ("GATEHOUSE_MASTER_KEY", os.path.join(s.dir, "caf\udce9.key"))):
                env = dict(s.env, GATEHOUSE_DB=s.db, GATEHOUSE_MASTER_KEY=s.master)
                env[name] = value
                p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd=s.dir)
                try:
                    out, err = p.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    raise AssertionError("%s refused: the server started" % name)
                err = err.decode()
                check(p.returncode == 2 and ("%s: " % name) in err and "UTF-8" in err,
                      "%s refused: %d %r" % (name, p.returncode, err))
            eq(os.listdir(os.path.join(s.dir, "var")), [], "no default store or key made")
        finally:
            s.cleanup()

    # -- rate limits -------------------------------------------------------------
    def test_rate_limit(self):
        c = self.s.client("rate", name="greedy", rate_limit="3", scopes="a")
        # Refused requests take none of the client's tokens a minute.
        for _ in range(4):
            eq(self.tok(c["client_id"], c["client_secret"], scope="nope").status, 400, "invalid_scope")
        codes = [self.tok(c["client_id"], c["client_secret"]).status for _ in range(4)]
        eq(codes, [200, 200, 200, 429], "three a minute")
        r = self.tok(c["client_id"], c["client_secret"])
        check(int(r.header("Retry-After")) >= 1, "Retry-After")

    def test_rate_limit_server_default_per_client_override_and_gate_free(self):
        s = Server("--rate-limit", "2", policy="GET /v1/** role=viewer env=any\n", start=False)
        try:
            s.start()
            d = s.client("rate", name="default", roles="viewer")
            own = s.client("rate", name="own", roles="viewer", rate_limit="5")
            codes = [s.token(d["client_id"], d["client_secret"]).status for _ in range(3)]
            eq(codes, [200, 200, 429], "the server default (2 a minute)")
            r = s.token(d["client_id"], d["client_secret"])
            eq(r.status, 429, "still limited")
            check(1 <= int(r.header("Retry-After")) <= 60, "Retry-After %r" % r.header("Retry-After"))
            check(r.json().get("error") and "cache" in r.json().get("error_description", ""),
                  "says to cache tokens: %r" % r.body)
            codes = [s.token(own["client_id"], own["client_secret"]).status for _ in range(6)]
            eq(codes, [200] * 5 + [429], "the client's own limit (5 a minute)")
            # The gate is never rate-limited: the token keeps working well past
            # the issuance limit.
            eq(len(s.cli("token", "list", "--client", own["client_id"])), 5, "five issued")
            g = s.client("rate", name="gateuser", roles="viewer", rate_limit="1")
            t = s.token(g["client_id"], g["client_secret"]).json()["access_token"]
            eq(s.token(g["client_id"], g["client_secret"]).status, 429, "issuance over its limit")
            conn = s.connection()
            codes = set()
            for _ in range(200):
                codes.add(s.request("GET", "/gate", headers={
                    "X-Original-Method": "GET", "X-Original-URI": "/v1/things",
                    "X-TENANT-ID": "rate", "Authorization": "Bearer " + t}, conn=conn).status)
            eq(codes, {200}, "200 gate calls, none limited")
        finally:
            s.cleanup()

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
            bodies = {}

            def one(kind, i):
                cid = "nobody-%d" % (i % 7) if kind == "unknown" else c["client_id"]
                t0 = time.perf_counter()
                r = s.request("POST", "/oauth/token", body="grant_type=client_credentials",
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Authorization": basic(cid, "x" * 43)}, conn=conn)
                dt = time.perf_counter() - t0
                bodies.setdefault(kind, set()).add((r.status, r.body))
                return dt

            for i in range(50):  # warm caches and the connection
                one("unknown", i)
                one("wrong", i)
            # Interleaved, alternating which goes first, so that a burst of
            # load from other processes hits both alike. A busy 2-core VM
            # can still skew one round: up to three rounds, each on its own.
            rounds = []
            for _ in range(3):
                samples = {"unknown": [], "wrong": []}
                for i in range(300):
                    order = ("unknown", "wrong") if i % 2 == 0 else ("wrong", "unknown")
                    for kind in order:
                        samples[kind].append(one(kind, i))
                mu = statistics.median(samples["unknown"])
                mw = statistics.median(samples["wrong"])
                rounds.append((mu, mw))
                if abs(mu - mw) / max(mu, mw) < 0.10:
                    break
            eq(bodies["unknown"], bodies["wrong"], "same status and body")
            eq(len(bodies["unknown"]), 1, "one answer: %r" % bodies["unknown"])
            eq(next(iter(bodies["unknown"]))[0], 401, "401")
            mu, mw = rounds[-1]
            check(abs(mu - mw) / max(mu, mw) < 0.10, "medians within 10%%: %s" % ", ".join(
                "%.1fus vs %.1fus" % (a * 1e6, b * 1e6) for a, b in rounds))
        finally:
            s.cleanup()


if __name__ == "__main__":
    Lifecycle().run()
