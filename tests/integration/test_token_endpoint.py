"""Issue 2: the RFC 6749 §4.4 token endpoint, first run, CLI, JWKS, metadata,
operations — against the real binary over HTTP."""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import BACKEND, BIN, SRC, Server, Suite, basic, check, eq, jwt_parts  # noqa: E402


class TokenEndpoint(Suite):
    def setup(self):
        self.s = Server()
        self.c = self.s.client("acme", scopes="payments:read payments:write cards:read",
                               roles="operator", claims='{"partner_id":"p-1","user_id":"u-1"}')

    def teardown(self):
        self.s.cleanup()

    # -- first run ---------------------------------------------------------
    def test_first_run_master_key_and_bootstrap(self):
        mode = stat.S_IMODE(os.stat(self.s.master).st_mode)
        eq(mode, 0o600, "master key mode")
        b = self.s.bootstrap
        check(b.get("client_id") and b.get("client_secret"), "bootstrap printed a client: %r" % self.s.stdout)
        out = "".join(self.s.stdout)
        check("curl -s -u" in out and "/oauth/token" in out, "ready-to-paste curl printed")
        r = self.s.token(b["client_id"], b["client_secret"])
        eq(r.status, 200, "bootstrap client gets a token: %r" % r)
        tenants = self.s.cli("tenant", "list")
        check("platform" in [t["id"] for t in tenants], "platform tenant made on first run")
        # The secret is never in the server's log.
        check(b["client_secret"] not in self.s.stderr(), "secret not logged")

    def test_master_key_readable_by_others_is_refused(self):
        d = Server(start=False)
        try:
            with open(d.master, "w") as f:
                f.write("00" * 32 + "\n")
            os.chmod(d.master, 0o644)
            rc = d.start(expect_fail=True)
            check(rc != 0, "refused")
            check("chmod" in d.stderr() or "mode" in d.stderr(), "says why: " + d.stderr())
        finally:
            d.cleanup()

    # -- the endpoint ------------------------------------------------------
    def test_basic_form_token(self):
        r = self.s.token(self.c["client_id"], self.c["client_secret"])
        eq(r.status, 200, "status %r" % r)
        body = r.json()
        eq(sorted(body), ["access_token", "expires_in", "scope", "token_type"], "members")
        eq(body["token_type"], "Bearer", "token_type")
        eq(body["expires_in"], 1200, "sandbox default lifetime")
        eq(body["scope"], "payments:read payments:write cards:read", "whole allowed scope")
        eq(r.header("Cache-Control"), "no-store", "Cache-Control")
        eq(r.header("Pragma"), "no-cache", "Pragma")
        h, p = jwt_parts(body["access_token"])
        eq(h["typ"], "at+jwt", "typ")
        eq(h["alg"], "RS256", "alg")
        check(h.get("kid"), "kid")
        eq(p["iss"], self.s.base, "iss")
        eq(p["sub"], self.c["client_id"], "sub")
        eq(p["client_id"], self.c["client_id"], "client_id")
        eq(p["tenant_id"], "acme", "tenant_id")
        eq(p["roles"], ["operator"], "roles")
        eq(p["env"], "sandbox", "env")
        eq(p["is_test"], True, "is_test")
        eq(p["scopes"], ["payments:read", "payments:write", "cards:read"], "scopes")
        eq(p["partner_id"], "p-1", "extra claim")
        eq(p["exp"] - p["iat"], 1200, "exp")
        eq(p["nbf"], p["iat"], "nbf")
        check(re.fullmatch(r"[0-9a-f]{32}", p["jti"]), "jti")
        check(p["aud"], "aud")

    def test_client_secret_post_form_and_json(self):
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": self.c["client_id"],
                                              "client_secret": self.c["client_secret"]})
        eq(r.status, 200, "form post %r" % r)
        r = self.s.post_json("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": self.c["client_id"],
                                              "client_secret": self.c["client_secret"]})
        eq(r.status, 200, "json post %r" % r)

    def test_scope_narrows_and_invalid_scope(self):
        r = self.s.token(self.c["client_id"], self.c["client_secret"], scope="cards:read")
        eq(r.status, 200, "narrow")
        eq(r.json()["scope"], "cards:read", "granted")
        eq(jwt_parts(r.json()["access_token"])[1]["scopes"], ["cards:read"], "scopes claim")
        r = self.s.token(self.c["client_id"], self.c["client_secret"], scope="cards:read admin")
        eq(r.status, 400, "beyond")
        eq(r.json()["error"], "invalid_scope", "invalid_scope")

    def test_every_scope_of_a_client_with_many_is_granted(self):
        # The client cache held 64 scopes and dropped the rest unsaid: the
        # 65th was refused as not allowed, and left out of the default grant.
        many = ["s%d" % i for i in range(100)]
        c = self.s.client("acme", name="many scopes", scopes=" ".join(many))
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.status, 200, "status %r" % r)
        eq(r.json()["scope"].split(), many, "the whole set when none is asked")
        r = self.s.token(c["client_id"], c["client_secret"], scope="s99 s64")
        eq((r.status, r.json().get("scope")), (200, "s99 s64"), "the last ones asked: %r" % r)

    def test_a_client_without_scopes_is_told_none_not_an_empty_scope(self):
        # RFC 6749 §3.3: a scope is one or more tokens; "scope": "" is none.
        c = self.s.client("acme", name="no scopes")
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.status, 200, "status %r" % r)
        check("scope" not in r.json(), "no scope member: %r" % r.json())
        v = self.s.post_form("/oauth/introspect", {"token": r.json()["access_token"]}, headers={
            "Authorization": basic(c["client_id"], c["client_secret"])})
        eq(v.json().get("active"), True, "active")
        check("scope" not in v.json(), "introspection names no scope: %r" % v.json())

    def test_a_client_is_refused_scopes_and_claims_too_large_for_a_token(self):
        # Each within its bound (2048 bytes of scopes, 4096 of claims), a
        # client with both near full was made, and every token request got
        # 500 "token too large": the token carries the scopes twice.
        scopes = " ".join("scope-%04d" % i for i in range(180))          # 1,979 bytes
        claims = json.dumps({"blob": "x" * 3880})
        p = self.s.cli("client", "create", "--tenant", "acme", "--name", "too big",
                       "--scopes", scopes, "--claims", claims, check=False)
        eq(p.returncode, 1, "refused")
        check(b"too large together for a token" in p.stderr, p.stderr.decode())
        # At the bound, with every other field long, the token is issued,
        # fits what a verifier takes (8192 bytes), and verifies: the claims
        # reader took scope strings of 512 bytes at most (~45 scopes), and
        # introspection took a token parameter of 4096 bytes at most.
        scopes = " ".join("scope-%04d" % i for i in range(91))            # 1,000 bytes
        claims = json.dumps({"blob": "x" * (4096 - 3 * len(scopes) - 11)})
        c = self.s.client("t" * 64, id="c" * 128, name="n" * 128, scopes=scopes, claims=claims)
        r = self.s.token(c["client_id"], c["client_secret"], token_name="k" * 128)
        eq(r.status, 200, "at the bound: %r" % r)
        check(len(r.json()["access_token"]) <= 8192, "%d bytes" % len(r.json()["access_token"]))
        v = self.s.post_form("/oauth/introspect", {"token": r.json()["access_token"]}, headers={
            "Authorization": basic(c["client_id"], c["client_secret"])})
        eq((v.status, v.json().get("active")), (200, True), "and verifies: %r" % v)

    def test_claim_names_with_control_characters_get_tokens(self):
        # A client's claims are bounded by jansson's text of them, which
        # writes a newline as two bytes; tokens wrote it as six ("\\u000a"),
        # and a client made with such claim names got no token at all
        # (found by the client_spec fuzz target).
        claims = json.dumps({"\n" * 600: 1, "x\t\r": "y"})
        c = self.s.client("acme", name="control names", claims=claims)
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.status, 200, "status %r" % r)
        v = self.s.post_form("/oauth/introspect", {"token": r.json()["access_token"]}, headers={
            "Authorization": basic(c["client_id"], c["client_secret"])})
        eq((v.status, v.json().get("active")), (200, True), "and verifies: %r" % v)

    def test_wrong_secret_basic_gets_401_with_challenge(self):
        r = self.s.token(self.c["client_id"], "x" * 43)
        eq(r.status, 401, "status")
        eq(r.json()["error"], "invalid_client", "error")
        check(r.header("WWW-Authenticate", ).startswith("Basic"), "challenge")
        r2 = self.s.token("no-such-client", "x" * 43)
        eq((r2.status, r2.json()), (r.status, r.json()), "unknown id answers the same")

    def test_wrong_secret_post_has_no_challenge(self):
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": self.c["client_id"], "client_secret": "nope"})
        eq(r.status, 401, "status")
        eq(r.json()["error"], "invalid_client", "error")
        eq(r.header("WWW-Authenticate"), None, "no Basic challenge without Basic")

    def test_two_auth_methods_is_invalid_request(self):
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": self.c["client_id"],
                                              "client_secret": self.c["client_secret"]},
                             headers={"Authorization": basic(self.c["client_id"], self.c["client_secret"])})
        eq(r.status, 400, "status")
        eq(r.json()["error"], "invalid_request", "error")

    def test_basic_with_its_own_client_id_in_the_body(self):
        # RFC 6749 §3.2.1: a client MAY name itself with client_id; alone it
        # is not a second authentication method (oauthlib include_client_id).
        auth = {"Authorization": basic(self.c["client_id"], self.c["client_secret"])}
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": self.c["client_id"]}, headers=auth)
        eq(r.status, 200, "the Basic client's own id: %r" % r)
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": "someone-else"}, headers=auth)
        eq((r.status, r.json()["error"]), (400, "invalid_request"), "another id")
        check("not the client of the Basic credentials" in r.json()["error_description"], "named")
        for path in ("/oauth/introspect", "/oauth/revoke"):
            r = self.s.post_form(path, {"token": "x" * 32, "client_id": self.c["client_id"]}, headers=auth)
            check(r.status in (200, 403), "%s takes the Basic client's own id: %r" % (path, r))
            r = self.s.post_form(path, {"token": "x" * 32, "client_id": "someone-else"}, headers=auth)
            eq((r.status, r.json()["error"]), (400, "invalid_request"), "%s: another id" % path)

    def test_scope_of_spaces_is_invalid_scope(self):
        # RFC 6749 §3.3: a scope is one or more scope tokens.
        for scope in (" ", "   ", "+"):
            r = self.s.post_form("/oauth/token", "grant_type=client_credentials&scope=" + scope.replace(" ", "%20"),
                                 headers={"Authorization": basic(self.c["client_id"], self.c["client_secret"])})
            eq((r.status, r.json()["error"]), (400, "invalid_scope"), "scope %r" % scope)
        r = self.s.token(self.c["client_id"], self.c["client_secret"], scope="  cards:read  ")
        eq((r.status, r.json().get("scope")), (200, "cards:read"), "spaces around a token are fine")

    def test_grant_type_errors(self):
        r = self.s.post_form("/oauth/token", {}, headers={"Authorization": basic(self.c["client_id"], self.c["client_secret"])})
        eq((r.status, r.json()["error"]), (400, "invalid_request"), "missing grant")
        check("grant_type" in r.json()["error_description"], "names the field")
        r = self.s.token(self.c["client_id"], self.c["client_secret"], grant_type="password")
        eq((r.status, r.json()["error"]), (400, "unsupported_grant_type"), "unknown grant")

    def test_urlencoded_basic_credentials(self):
        # A client id holding ':' is no longer made (RFC 7617 §2), but one
        # made before keeps working: here made as an older gatehouse made
        # it, by renaming a client in the store.
        c = self.s.client("acme", name="colon")
        old = "ns:partner.1"
        cols = ("tenant_id, name, env, roles, scopes, ttl, max_ttl, format, allow_ips, claims,"
                " disabled, rate_limit, tokens_valid_after, created_at, updated_at")
        self.s.sql("INSERT INTO clients (id, %s) SELECT ?, %s FROM clients WHERE id = ?" % (cols, cols),
                   (old, c["client_id"]))
        self.s.sql("UPDATE client_secrets SET client_id = ? WHERE client_id = ?", (old, c["client_id"]))
        self.s.sql("DELETE FROM clients WHERE id = ?", (c["client_id"],))
        self.s.sql("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
        r = self.s.token(old, c["client_secret"])
        eq(r.status, 200, "RFC 6749 §2.3.1 encoded id %r" % r)
        eq(jwt_parts(r.json()["access_token"])[1]["client_id"], old, "decoded id")
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials", "client_id": old,
                                              "client_secret": c["client_secret"]})
        eq(r.status, 200, "client_secret_post %r" % r)
        eq(self.s.cli("client", "show", old)["client_id"], old, "the CLI still finds it")

    def test_opaque_tokens(self):
        c = self.s.client("acme", name="opaque", token_format="opaque", ttl="600")
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.status, 200, "status")
        check(re.fullmatch(r"[0-9a-f]{32}", r.json()["access_token"]), "32 hex")
        eq(r.json()["expires_in"], 600, "ttl")
        toks = self.s.cli("token", "list", "--client", c["client_id"])
        eq(len(toks), 1, "recorded")
        check(toks[0]["id"] != r.json()["access_token"], "stored as a hash only")

    def test_token_list_pages(self):
        # token list printed every record of the client at once (millions
        # within the retention for a busy one): now at most --limit
        # (1..100000, default 1000), and when more follow, the cursor to
        # go on with on stderr; stdout stays the JSON array.
        s = self.s
        c = s.client("acme", name="paged", token_format="opaque")
        cid = c["client_id"]
        for i in range(12):
            eq(s.token(cid, c["client_secret"]).status, 200, "token %d" % i)

        def run(*extra):
            p = subprocess.run([BIN, "token", "list", "--client", cid, "--db", s.db,
                                "--master-key", s.master] + list(extra),
                               capture_output=True, env=s.env, timeout=60)
            return p.returncode, p.stdout.decode(), p.stderr.decode()

        rc, out, err = run()
        eq((rc, err), (0, ""), "the default page holds them all, nothing follows")
        whole = json.loads(out)
        eq(len(whole), 12, "12 records")
        got, pages, after = [], [], []
        while True:
            rc, out, err = run("--limit", "5", *after)
            eq(rc, 0, "page %d: %s" % (len(pages), err))
            page = json.loads(out)
            check(isinstance(page, list), "stdout is the array")
            pages.append(len(page))
            got += page
            if err == "":
                break
            m = re.fullmatch(r"gatehouse: token list: more tokens follow; --after (\S+)\n", err)
            check(m, "the cursor on stderr: %r" % err)
            check(m.group(1).endswith("." + page[-1]["id"]), "the last record's: %r" % err)
            after = ["--after", m.group(1)]
            check(len(pages) < 10, "pages end")
        eq(pages, [5, 5, 2], "pages of 5")
        eq([t["id"] for t in got], [t["id"] for t in whole], "every record once, in order")
        rc, out, err = run("--limit", "12")
        eq((rc, len(json.loads(out)), err), (0, 12, ""), "an exact fit is the last page")

        for bad in (["--limit", "0"], ["--limit", "100001"], ["--limit", "many"], ["--limit", "-5"],
                    ["--after", "x"], ["--after", "1." + "A" * 32], ["--after", "-1." + "a" * 32],
                    ["--after", "1." + "a" * 31], ["--after", "1.." + "a" * 32], ["--after", ""]):
            rc, out, err = run(*bad)
            check(rc != 0, "%r refused: %r" % (bad, out))
            eq(out, "", "%r: nothing on stdout" % bad)
            check(bad[0] in err, "%r named: %r" % (bad, err))

    def test_production_default_lifetime(self):
        c = self.s.client("acme", name="prod", env="production", allow_ip="127.0.0.1")
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.json()["expires_in"], 3600, "production default")
        p = jwt_parts(r.json()["access_token"])[1]
        eq((p["env"], p["is_test"]), ("production", False), "env claims")

    def test_allowlist_refuses_other_addresses(self):
        c = self.s.client("acme", name="allow", allow_ip="10.1.0.0/16")
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.status, 400, "refused %r" % r)
        eq(r.json()["error"], "unauthorized_client", "error")

    def test_disable_enable_take_effect_on_next_request(self):
        c = self.s.client("acme", name="toggle")
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "works")
        self.s.cli("client", "disable", c["client_id"])
        r = self.s.token(c["client_id"], c["client_secret"])
        eq((r.status, r.json()["error"]), (400, "unauthorized_client"), "disabled at once")
        self.s.cli("client", "enable", c["client_id"])
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "enabled at once")

    def test_client_created_while_running_works_at_once(self):
        c = self.s.client("late", name="late")
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "new client")


    def test_current_secret_works_after_many_rotations(self):
        # A rotation ends the old secret but does not revoke it: after four
        # rotations the ended secrets outnumbered the cache's four slots and,
        # taken oldest first, left the current one out (401 with it).
        c = self.s.client("acme", name="rotated")
        secret = c["client_secret"]
        for i in range(5):
            secret = self.s.cli("client", "rotate-secret", c["client_id"])["client_secret"]
            # The grace period over at once (its least is a second).
            self.s.sql("UPDATE client_secrets SET expires_at = 1 WHERE client_id = ?"
                       " AND expires_at != 0", (c["client_id"],))
        r = self.s.token(c["client_id"], secret)
        eq(r.status, 200, "the current secret after 5 rotations %r" % r)
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 401, "the first one ended")
    # -- JWKS, metadata, operations -----------------------------------------
    def test_jwks_and_metadata(self):
        r = self.s.get("/.well-known/jwks.json")
        eq(r.status, 200, "jwks")
        keys = r.json()["keys"]
        eq(sorted(k["env"] for k in keys), ["production", "sandbox"], "a key per environment")
        for k in keys:
            eq((k["kty"], k["alg"], k["use"]), ("RSA", "RS256", "sig"), "jwk")
            check("d" not in k and "p" not in k, "public only")
        m = self.s.get("/.well-known/oauth-authorization-server").json()
        eq(m["issuer"], self.s.base, "issuer")
        eq(m["token_endpoint"], self.s.base + "/oauth/token", "token endpoint")
        eq(m["jwks_uri"], self.s.base + "/.well-known/jwks.json", "jwks_uri")
        eq(m["grant_types_supported"], ["client_credentials"], "grants")
        tok = self.s.token(self.c["client_id"], self.c["client_secret"]).json()["access_token"]
        h, p = jwt_parts(tok)
        eq(p["iss"], m["issuer"], "iss == issuer")
        check(h["kid"] in m["gatehouse_environment_keys"]["sandbox"], "sandbox key signs sandbox tokens")

    def test_an_issuer_with_a_path_has_its_metadata_where_rfc8414_puts_it(self):
        # RFC 8414 §3.1: for https://example.com/tenant/auth the document is
        # at /.well-known/oauth-authorization-server/tenant/auth, which a
        # proxy forwards as it is; the root stays served too.
        s = Server("--issuer", "https://example.com/tenant/auth/")
        try:
            at = s.get("/.well-known/oauth-authorization-server/tenant/auth")
            eq(at.status, 200, "under the issuer's path: %r" % at)
            eq(at.json(), s.get("/.well-known/oauth-authorization-server").json(), "the same document")
            eq(at.json()["issuer"], "https://example.com/tenant/auth/", "its issuer")
            for other in ("/.well-known/oauth-authorization-server/tenant",
                          "/.well-known/oauth-authorization-server/tenant/auth/x"):
                eq(s.get(other).status, 404, "not under %s" % other)
        finally:
            s.cleanup()

    def test_issuer_with_a_trailing_slash_advertises_endpoints_that_exist(self):
        # RFC 8414: the metadata's URLs were the issuer and the path pasted
        # together, so an issuer ending in '/' advertised
        # https://auth.example.com//oauth/token and a jwks_uri with '//',
        # which 404. The issuer itself, and so iss, stays as configured.
        for issuer, base in (("https://auth.example.com/", "https://auth.example.com"),
                             ("https://example.com/auth/", "https://example.com/auth")):
            s = Server("--issuer", issuer)
            try:
                m = s.get("/.well-known/oauth-authorization-server").json()
                eq(m["issuer"], issuer, "issuer as configured")
                eq(m["token_endpoint"], base + "/oauth/token", "token_endpoint")
                eq(m["jwks_uri"], base + "/.well-known/jwks.json", "jwks_uri")
                eq(m["introspection_endpoint"], base + "/oauth/introspect", "introspection")
                eq(m["revocation_endpoint"], base + "/oauth/revoke", "revocation")
                eq(m["gatehouse_token_endpoints"]["papaya"], base + "/token", "a dialect's endpoint")
                check(base + "/oauth/token" in "".join(s.stdout) and
                      "//oauth" not in "".join(s.stdout), "first-run curl: %r" % s.stdout)
                tok = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"])
                eq(tok.status, 200, "a token %r" % tok)
                eq(jwt_parts(tok.json()["access_token"])[1]["iss"], issuer, "iss as configured")
                r = s.post_form("/oauth/introspect", {"token": tok.json()["access_token"]},
                                headers={"Authorization": basic(s.bootstrap["client_id"],
                                                                s.bootstrap["client_secret"])})
                eq((r.status, r.json().get("active"), r.json().get("iss")), (200, True, issuer),
                   "verified against the issuer as configured")
            finally:
                s.cleanup()

    def test_listening_on_every_interface_needs_an_issuer(self):
        # Regression: with listen 0.0.0.0 or [::] and no issuer, the issuer
        # was made from the listen address, so the metadata and every
        # token's iss said http://0.0.0.0:PORT: RFC 8414 clients compare the
        # metadata's issuer with the URL they fetched it from (§3.3;
        # oauth4webapi and openid-client refuse it), verifiers compare iss
        # with the issuer they know, and the advertised endpoints lead
        # nowhere off this host.
        for listen in ("0.0.0.0:0", "[::]:0"):
            s = Server("--listen", listen, start=False)
            try:
                check(s.start(expect_fail=True) != 0, "refused: %s" % listen)
                err = s.stderr()
                check("gatehouse: serve: issuer" in err and "every interface" in err,
                      "says why: %r" % err)
                check('"server.started"' not in err, "never served: %r" % err)
                check("pw@" not in err, "a password in it is not repeated: %r" % err)
            finally:
                s.cleanup()
        s = Server("--listen", "0.0.0.0:0", "--issuer", "https://auth.example.com")
        try:
            eq(s.get("/.well-known/oauth-authorization-server").json()["issuer"],
               "https://auth.example.com", "the issuer given")
        finally:
            s.cleanup()

    def test_an_issuer_that_is_not_an_http_url_is_refused_at_start(self):
        # RFC 8414 §2: the issuer is an https URL with no query or
        # fragment (http allowed here, for loopback). Any string was taken,
        # and served as the metadata's issuer and every token's iss.
        for bad in ("auth.example.com", "ftp://auth.example.com", "https://", "https:///oauth",
                    "https://auth.example.com/?tenant=a", "https://auth.example.com/#top",
                    "https://auth example.com", "https://auth.example.com/" + "a" * 256,
                    # Regression: only an empty authority counted as no
                    # host; these were taken, and every endpoint URL the
                    # metadata built on them was broken, or carried a
                    # password (RFC 9110 §4.2.4 forbids user@ in one).
                    "http://:8080", "https://u:pw@auth.example.com", "http://[::1",
                    "http://[auth]:80", "https://auth.example.com:99999", "https://auth.example.com:x",
                    "https://auth.example.com:"):
            s = Server("--issuer", bad, start=False)
            try:
                check(s.start(expect_fail=True) != 0, "refused: %r" % bad)
                err = s.stderr()
                check("gatehouse: serve: issuer" in err, "says it is the issuer: %r" % err)
                check('"server.started"' not in err, "never served: %r" % err)
            finally:
                s.cleanup()
        # Every setting that does not hold is named, not just the first.
        s = Server("--issuer", "ftp://auth.example.com", "--maker-checker", "sometimes",
                   "--platform-tenant", "", start=False)
        try:
            check(s.start(expect_fail=True) != 0, "refused")
            err = s.stderr()
            for what in ("serve: issuer", "serve: maker_checker", "serve: platform_tenant"):
                check("gatehouse: " + what in err, "names %s: %r" % (what, err))
        finally:
            s.cleanup()
        for good in ("http://127.0.0.1:9", "HTTPS://Auth.Example.com:8443/gh/", "http://[::1]:8080"):
            s = Server("--issuer", good)
            try:
                eq(s.get("/.well-known/oauth-authorization-server").json()["issuer"], good, "taken as it is")
            finally:
                s.cleanup()

    def test_health_ready_metrics(self):
        eq(self.s.get("/healthz").status, 200, "healthz")
        r = self.s.get("/readyz")
        eq((r.status, r.json()["store"]["backend"]), (200, BACKEND), "readyz")
        self.s.token(self.c["client_id"], self.c["client_secret"])
        self.s.token(self.c["client_id"], "bad")
        # A request is counted when its answer has gone out: give the
        # last one a moment.
        for _ in range(50):
            m = self.s.get("/metrics")
            text = m.body.decode()
            if 'reason="invalid_client"' in text:
                break
            time.sleep(0.05)
        eq(m.status, 200, "metrics")
        check('gatehouse_tokens_issued_total{tenant="acme",alg="RS256"}' in text, "issued by tenant and alg")
        check("gatehouse_http_requests_total" in text, "requests")
        check("gatehouse_http_request_duration_seconds_bucket" in text, "latency histogram")
        check('reason="invalid_client"' in text, "failures by reason")
        # The group commit: the issued tokens' records were committed.
        check('gatehouse_store_commits_total{outcome="ok"}' in text, "commits by outcome")
        check(re.search(r"^gatehouse_store_commit_duration_seconds_count [1-9]", text, re.M),
              "commit time histogram, a series without labels: %r" % text[-600:])
        recs = [l for l in text.splitlines() if l.startswith("gatehouse_store_committed_records_total")]
        check(len(recs) == 1 and float(recs[0].split()[-1]) >= 1, "committed records %r" % recs)
        check(self.c["client_secret"] not in text, "no secret in metrics")

    def test_request_id_echo_generate_validate(self):
        r = self.s.get("/healthz", headers={"X-Request-ID": "abc-123"})
        eq(r.header("X-Request-ID"), "abc-123", "echoed")
        r = self.s.get("/healthz")
        check(re.fullmatch(r"[0-9a-f-]{36}", r.header("X-Request-ID") or ""), "generated")
        r = self.s.get("/healthz", headers={"X-Request-ID": "bad id!"})
        eq(r.status, 400, "invalid id refused")
        r = self.s.get("/healthz", headers={"X-Request-ID": "a" * 200})
        eq(r.status, 400, "too long refused")

    def test_request_log_lines(self):
        self.s.token(self.c["client_id"], self.c["client_secret"], )
        self.s.get("/healthz", headers={"X-Request-ID": "trace-42"})
        time.sleep(0.2)
        log = self.s.stderr()
        lines = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
        check(any(l.get("request_id") == "trace-42" for l in lines), "request id logged")
        check(self.c["client_secret"] not in log, "secret never logged")
        tok = self.s.token(self.c["client_id"], self.c["client_secret"]).json()["access_token"]
        time.sleep(0.2)
        check(tok not in self.s.stderr(), "token never logged")

    def test_start_line_names_the_store_engine(self):
        # The operator sees what the store runs with: the engine's version
        # and, for SQLite, whether the page cache and WAL write layers are
        # in force (they are whenever gatehouse opened SQLite first).
        text = "".join(self.s.stdout) + self.s.stderr()
        starts = [json.loads(l) for l in text.splitlines()
                  if l.startswith("{") and '"server.started"' in l]
        eq(len(starts), 1, "one start line")
        engine = starts[0].get("store_engine", "")
        if BACKEND == "postgresql":
            check(re.match(r"PostgreSQL \d+", engine), "engine %r" % engine)
        else:
            check(re.match(r"SQLite 3\.\d+\.\d+, WAL, synchronous=FULL", engine), "engine %r" % engine)
            check("page cache layer on" in engine, "page cache layer %r" % engine)
            check("WAL writes gathered" in engine, "WAL layer %r" % engine)
            check("checkpoints on a thread of their own" in engine, "checkpointer %r" % engine)
        # /readyz tells the same, as it stands now.
        ready = self.s.get("/readyz").json()["store"]["engine"]
        eq(ready, engine, "readyz engine")

    def test_readyz_and_metrics_tell_operators_only(self):
        # Versions and metrics are for loopback and trusted proxies; a caller
        # from any other address gets readiness without the engine line, and
        # a 403 for /metrics. The caller here is this host's own non-loopback
        # address, used as the source of a connection to 127.0.0.1.
        addr = None
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("192.0.2.1", 9))     # no packet is sent
            addr = probe.getsockname()[0]
        except OSError:
            pass
        finally:
            probe.close()
        if addr is None or addr.startswith("127."):
            print("  skipped: this host has no non-loopback IPv4 address")
            return

        def get(path, source):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as k:
                k.settimeout(10)
                k.bind((source, 0))
                k.connect(("127.0.0.1", self.s.port))
                k.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
                data = b""
                while True:
                    d = k.recv(65536)
                    if not d:
                        break
                    data += d
            head, _, body = data.partition(b"\r\n\r\n")
            return int(head.split(b" ")[1]), body

        status, body = get("/readyz", addr)
        eq(status, 200, "ready for %s" % addr)
        store = json.loads(body)["store"]
        eq((store["status"], store["backend"]), ("ok", BACKEND), "readiness told")
        check("engine" not in store, "no engine line for %s: %r" % (addr, store))
        status, body = get("/metrics", addr)
        eq((status, json.loads(body)["error"]), (403, "access_denied"), "metrics refused for %s" % addr)
        status, body = get("/readyz", "127.0.0.1")
        check("engine" in json.loads(body)["store"], "the engine line on loopback")
        eq(get("/metrics", "127.0.0.1")[0], 200, "metrics on loopback")
        if BACKEND != "sqlite":
            return
        # Why the store is unavailable is an operator's to read (a
        # PostgreSQL error names its host, port and user).
        path = self.s.db[len("sqlite:"):]
        os.rename(path, path + ".moved")
        try:
            status, body = get("/readyz", addr)
            eq((status, json.loads(body)["store"]["status"]), (503, "unavailable"),
               "no reason for %s" % addr)
            status, body = get("/readyz", "127.0.0.1")
            check("moved" in json.loads(body)["store"]["status"], "the reason on loopback")
        finally:
            os.rename(path + ".moved", path)

    def test_listen_on_port_zero_names_the_port_it_got(self):
        # --listen ADDR:0 serves on a free port, bound before the issuer,
        # the first-run curl command and the start line name it.
        s = Server(port=0)
        try:
            check(s.port != 0, "a port learned from server.started")
            base = "http://127.0.0.1:%d" % s.port
            eq(s.get("/.well-known/oauth-authorization-server").json()["issuer"], base, "issuer")
            check(("%s/oauth/token" % base) in "".join(s.stdout), "the curl command's URL")
            tok = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"])
            eq(tok.status, 200, "a token")
            eq(jwt_parts(tok.json()["access_token"])[1]["iss"], base, "the token's iss")
            start = [json.loads(l) for l in s.stderr().splitlines()
                     if l.startswith("{") and '"server.started"' in l][0]
            eq((start["listen"], start["port"]), ("127.0.0.1:%d" % s.port, s.port), "start line")
            # A restart keeps that port, so the issuer stays the same.
            s.restart()
            eq(s.get("/.well-known/oauth-authorization-server").json()["issuer"], base, "after restart")
        finally:
            s.stop()
            s.cleanup()
        # Out of range is still refused, naming the range.
        s = Server("--listen", "127.0.0.1:65536", start=False)
        try:
            check(s.start(expect_fail=True) != 0 and "0-65535" in s.stderr(), s.stderr())
        finally:
            s.cleanup()

    # -- CLI ---------------------------------------------------------------
    def test_cli_errors_are_one_line_and_nonzero(self):
        p = self.s.cli("client", "create", "--tenant", "nope", "--name", "x", check=False)
        check(p.returncode != 0, "fails")
        eq(len(p.stderr.decode().strip().splitlines()), 1, "one line")
        check("nope" in p.stderr.decode(), "names it")
        p = self.s.cli("client", "create", "--tenant", "acme", "--name", "x", "--env", "production", check=False)
        check(p.returncode != 0 and b"allow" in p.stderr, "production needs an allowlist")
        p = self.s.cli("client", "create", "--tenant", "acme", "--name", "x", "--claims", '{"iss":"evil"}', check=False)
        check(p.returncode != 0 and b"registered" in p.stderr, "registered claims refused")
        p = subprocess.run([BIN, "--help"], capture_output=True)
        eq(p.returncode, 0, "--help")
        check(b"client create" in p.stdout, "help lists commands")

    def test_cli_help_of_every_command(self):
        """`gatehouse --help` lists the commands; each one's --help answers
        with one usage line naming it, every option once, exit 0; each
        group's (`gatehouse client --help`) lists its commands; and every
        command README.md and docs/policy.md show, with each of its
        options, is one that --help lists."""
        p = subprocess.run([BIN, "--help"], capture_output=True)
        eq(p.returncode, 0, "--help")
        listed = {}
        for line in p.stdout.decode().splitlines():
            m = re.match(r"^  ([a-z]+(?: [a-z-]+)?)\s{2,}", line) or re.match(r"^  ([a-z]+ [a-z-]+) ", line)
            if m:
                listed[m.group(1)] = None
        check(len(listed) >= 20, "parsed gatehouse --help: %r" % sorted(listed))
        listed.pop("approvals", None)     # a group of its own: approvals list|show|approve|reject
        for verb in ("list", "show", "approve", "reject"):
            listed["approvals " + verb] = None
        for name in listed:
            p = subprocess.run([BIN] + name.split() + ["--help"], capture_output=True)
            out = p.stdout.decode()
            eq(p.returncode, 0, "%s --help: %r" % (name, p.stderr))
            check(out.startswith("usage: gatehouse " + name), "%s --help begins with its usage: %r" % (name, out[:80]))
            eq(out.count("usage:"), 1, "%s --help: one usage line" % name)
            for line in out.splitlines():
                check(line.count("(repeatable)") <= 1, "%s --help: %r" % (name, line))
            listed[name] = out
        # The commands without --db are the ones the footer names.
        eq(sorted(n for n, out in listed.items() if "\n  --db " not in out and n != "serve"),
           ["policy check", "store copy", "token get", "token inspect"], "commands without --db")
        # serve's lists each setting with its bounds and default (README,
        # "Configuration"), as config.c's table has them.
        p = subprocess.run([BIN, "serve", "--help"], capture_output=True)
        eq(p.returncode, 0, "serve --help")
        out = p.stdout.decode()
        for key, text in (("threads", "(0..256; default: 0)"), ("request_timeout", "(1..3600 s; default: 30)"),
                          ("leeway", "(0..300 s; default: 30)"), ("rate_limit", "(0..10000000; default: 600)"),
                          ("max_ttl", "(60..31622400 s; default: 2d)"), ("policy", "(default: none)")):
            line = [l for l in out.splitlines() if l.startswith("  --%s " % key)]
            check(line and line[0].endswith(text), "serve --help on %s: %r" % (key, line))
        # A group's --help (gatehouse client --help) lists its commands.
        for group in sorted({name.split()[0] for name in listed if " " in name}):
            p = subprocess.run([BIN, group, "--help"], capture_output=True)
            out = p.stdout.decode()
            eq(p.returncode, 0, "%s --help: %r" % (group, p.stderr))
            for name in listed:
                if name.split()[0] == group:
                    check(re.search(r"^  %s " % re.escape(name), out, re.M), "%s --help lists %s: %r" % (group, name, out))
        # The commands the documents show, as a reader would copy them.
        shown = []
        for doc in ("README.md", os.path.join("docs", "policy.md")):
            with open(os.path.join(SRC, doc)) as f:
                for block in re.findall(r"```[a-z]*\n(.*?)```", f.read(), re.S):
                    for line in block.replace("\\\n", " ").splitlines():
                        m = re.match(r"^(?:build/)?gatehouse ([a-z]+(?: [a-z-]+)?)(.*)$", line.strip())
                        if m:
                            shown.append((doc, m.group(1), m.group(2).split("#")[0]))
        check(len(shown) >= 30, "parsed the documents' commands: %d" % len(shown))
        for doc, name, rest in shown:
            if name.split()[0] == "serve":
                continue    # its options are the configuration's settings
            if name not in listed:
                name = name.split()[0]
            check(listed.get(name), "%s shows `gatehouse %s`, which --help does not list" % (doc, name))
            for flag in re.findall(r"(--[a-z][a-z-]*)", rest):
                check(re.search(r"^  %s\b" % re.escape(flag), listed[name], re.M),
                      "%s: `gatehouse %s %s`: %s --help has no %s" % (doc, name, rest.strip(), name, flag))

    def test_cli_show_list(self):
        shown = self.s.cli("client", "show", self.c["client_id"])
        eq(shown["client_id"], self.c["client_id"], "show")
        eq(len(shown["secrets"]), 1, "one secret")
        check("hash" not in json.dumps(shown) and self.c["client_secret"] not in json.dumps(shown), "no secret")
        ids = [c["client_id"] for c in self.s.cli("client", "list", "--tenant", "acme")]
        check(self.c["client_id"] in ids, "listed")

    def test_sigterm_stops_serve_waiting_on_its_config_pipe(self):
        # Regression: serve blocked SIGTERM before reading --config, so a
        # pipe that was never written held it (and the stop) for good.
        fifo = os.path.join(self.s.dir, "never.conf")
        os.mkfifo(fifo, 0o600)
        p = subprocess.Popen([BIN, "serve", "--config", fifo], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            check(p.poll() is None, "waiting on the pipe")
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(10)
            except subprocess.TimeoutExpired:
                raise AssertionError("SIGTERM did not stop serve while it read its config")
            eq(rc, -signal.SIGTERM, "ended by the signal")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_cli_reads_its_config_file_once(self):
        """A command takes its store, master key and settings from one read
        of --config: a file that can be read only once (a pipe, as from
        `--config <(vault read ...)`) works, where a second open would wait
        for a writer that never comes."""
        fifo = os.path.join(self.s.dir, "once.conf")
        os.mkfifo(fifo, 0o600)
        text = "db = %s\nmaster_key = %s\n" % (self.s.db, self.s.master)

        def feed():
            with open(fifo, "w") as f:
                f.write(text)
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        env = {k: v for k, v in self.s.env.items() if k not in ("GATEHOUSE_DB", "GATEHOUSE_MASTER_KEY")}
        try:
            p = subprocess.run([BIN, "client", "create", "--tenant", "acme", "--name", "from-a-pipe",
                                "--config", fifo], capture_output=True, env=env, timeout=20)
        except subprocess.TimeoutExpired:     # (run has killed it)
            raise AssertionError("the command opened --config twice and waited for a writer")
        t.join(5)
        eq(p.returncode, 0, "client create: " + p.stderr.decode())
        made = json.loads(p.stdout)
        eq(self.s.cli("client", "show", made["client_id"])["name"], "from-a-pipe", "in the store the file names")
        # What is not a configuration file is refused in one line.
        big = os.path.join(self.s.dir, "big.conf")
        with open(big, "w") as f:
            f.write("# padding\n" * 110000)
        for path, words in ((big, "larger than 1 MB"), (self.s.dir, "Is a directory")):
            p = subprocess.run([BIN, "client", "list", "--config", path], capture_output=True,
                               env=env, timeout=20)
            err = p.stderr.decode()
            check(p.returncode != 0 and words in err and len(err.strip().splitlines()) == 1,
                  "%s: %r" % (words, err))

    def test_sigterm_flushes_and_exits_zero(self):
        s = Server()
        try:
            c = s.client("t", name="x")
            for _ in range(20):
                eq(s.token(c["client_id"], c["client_secret"]).status, 200, "issue")
            eq(s.stop(), 0, "clean exit")
            eq(len(s.cli("token", "list", "--client", c["client_id"])), 20, "every record durable")
            # The log ends saying the stop finished, and how: before, it
            # ended at server.stopping, as a stop cut short by SIGKILL does.
            last = json.loads(s.stderr().strip().splitlines()[-1])
            eq((last["event"], last["status"]), ("server.stopped", 0), "the last log line")
        finally:
            s.cleanup()

    def test_sigkill_under_load_loses_no_answered_token(self):
        # "Done" only once durable: killed at once in the middle of a load,
        # the server has recorded every token it answered 200 for (the
        # group-commit writer answers after its commit). Opaque tokens too:
        # their records are the only way to honour them.
        s = Server()
        try:
            jwt = s.client("t", name="j", rate_limit=100000000)
            opaque = s.client("t", name="o", token_format="opaque", rate_limit=100000000)
            answered = {jwt["client_id"]: [], opaque["client_id"]: []}
            stop = threading.Event()

            def load(c):
                conn = s.connection()
                while not stop.is_set():
                    try:
                        r = s.request("POST", "/oauth/token", body="grant_type=client_credentials",
                                      headers={"Authorization": basic(c["client_id"], c["client_secret"]),
                                               "Content-Type": "application/x-www-form-urlencoded"},
                                      conn=conn)
                    except OSError:
                        return
                    if r.status == 200:
                        answered[c["client_id"]].append(r.json()["access_token"])
            threads = [threading.Thread(target=load, args=(c,), daemon=True)
                       for c in (jwt, opaque) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.8)
            s.stop(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join(10)
            jwts, opaques = answered[jwt["client_id"]], answered[opaque["client_id"]]
            check(len(jwts) > 20 and len(opaques) > 20, "tokens issued before the kill: %d JWT, %d "
                  "opaque" % (len(jwts), len(opaques)))
            ids, after = set(), []
            while True:     # every page: a fast machine issues more than one holds
                p = subprocess.run([BIN, "token", "list", "--client", jwt["client_id"]] + after +
                                   ["--db", s.db, "--master-key", s.master], capture_output=True,
                                   env=s.env, timeout=60)
                eq(p.returncode, 0, "token list: %r" % p.stderr)
                ids.update(t["id"] for t in json.loads(p.stdout))
                more = re.search(r"--after (\S+)", p.stderr.decode())
                if not more:
                    break
                after = ["--after", more.group(1)]
            missing = [j for j in (jwt_parts(t)[1]["jti"] for t in jwts) if j not in ids]
            eq(missing, [], "every JWT answered 200 has its record")
            s.start()
            lost = [t for t in opaques if not s.post_form(
                "/oauth/introspect", {"token": t},
                headers={"Authorization": basic(opaque["client_id"], opaque["client_secret"])}
            ).json().get("active")]
            eq(lost, [], "every opaque token answered 200 is active after the restart")
        finally:
            s.cleanup()

    def test_store_locked_by_another_process_gets_503_not_a_hang(self):
        # SQLite's twin of tests/pgsql/test_pg_restart.py's lock test: a
        # process holding the write lock delays the token's record for the
        # 5 s busy timeout; then the request is answered 503. Once, not
        # twice: the token's audit row and its record share one commit
        # (before the writer's quiet-spell fix they could commit apart, and
        # each commit waited out the timeout: 10 s).
        if BACKEND != "sqlite":
            return
        import sqlite3
        eq(self.s.token(self.c["client_id"], self.c["client_secret"]).status, 200, "before")
        db = sqlite3.connect(self.s.db[len("sqlite:"):], timeout=10, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            t0 = time.time()
            r = self.s.token(self.c["client_id"], self.c["client_secret"])
            took = time.time() - t0
            eq(r.status, 503, "token while another process writes: %r" % r)
            check(4.0 < took < 9.0, "answered after one busy timeout (%.1fs)" % took)
            eq(r.header("Retry-After"), "1", "Retry-After")
            check('"store.commit_failed"' in self.s.stderr() and "locked" in self.s.stderr(),
                  "the log says why: " + self.s.stderr()[-600:])
        finally:
            db.execute("ROLLBACK")
            db.close()
        eq(self.s.token(self.c["client_id"], self.c["client_secret"]).status, 200, "after")

    def test_readyz_and_writes_refused_once_the_sqlite_file_is_gone(self):
        # Regression: with the database file renamed or deleted (a cleanup
        # job, a mistaken mv), the server's open descriptors took every
        # write, each token was answered 200, and /readyz said "ready":
        # all of it into a file no later start opens. /readyz now tells,
        # and every write is refused (503) until the file is back.
        if BACKEND != "sqlite":
            return
        s = Server("--lockout", "false")     # the refusals below stay 401s
        try:
            c = s.client("acme", name="moved", token_format="opaque")
            eq(s.get("/readyz").status, 200, "ready")
            path = s.db[len("sqlite:"):]
            os.rename(path, path + ".moved")
            r = s.get("/readyz")
            eq(r.status, 503, "not ready once the file is gone: %r" % r)
            check("moved or deleted" in r.json()["store"]["status"], "says why: %r" % r)
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 503, "a token that could not be recorded durably: %r" % r)
            # Refusals still answered, their failed audit rows logged one
            # line a second, not one a request (a guesser sends thousands).
            for _ in range(50):
                eq(s.token(c["client_id"], "wrong").status, 401, "refused while the store is gone")
            lines = [x for x in s.stderr().splitlines() if '"audit.write_failed"' in x]
            check(1 <= len(lines) <= 3, "%d audit.write_failed lines for 50 refusals" % len(lines))
            os.rename(path + ".moved", path)
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "served again once it is back")
        finally:
            s.cleanup()

    def test_readyz_not_ready_while_writes_fail(self):
        # Regression: with the disk full, every token request was answered
        # 503 while /readyz said "ready", so a balancer kept sending them.
        # A file-size limit of 0 (RLIMIT_FSIZE; the server ignores
        # SIGXFSZ, as PostgreSQL does) makes every write to the database
        # fail as a full disk would. Once writes go through again, /readyz
        # finds out by its own probe write, with no token traffic at all.
        if BACKEND != "sqlite":
            return
        import resource
        s = Server("--lockout", "false")
        try:
            c = s.client("acme", name="full", token_format="opaque")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "before")
            r = s.get("/readyz")
            eq((r.status, r.json()["store"]["writes"]), (200, "ok"), "ready: %r" % r)
            soft, hard = resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (0, hard))
            try:
                eq(s.token(c["client_id"], c["client_secret"]).status, 503, "not recorded")
                r = s.get("/readyz")
                eq((r.status, r.json()["status"], r.json()["store"]["writes"]),
                   (503, "unavailable", "failing"), "not ready while writes fail: %r" % r)
                eq(s.get("/readyz").status, 503, "still not ready")
                check(s.proc.poll() is None, "the server is still running")
            finally:
                resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
            r = s.get("/readyz")
            eq((r.status, r.json()["store"]["writes"]), (200, "ok"),
               "ready again, with no token asked for: %r" % r)
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "after")
        finally:
            s.cleanup()

    def test_sigterm_while_reloading_stops_cleanly(self):
        # SIGHUP keeps the main thread busy reloading keys and policy; a
        # SIGTERM then must still reach the clean stop, not a thread that
        # would die of it with the queue unflushed.
        for _ in range(3):
            s = Server()
            try:
                c = s.client("t", name="x")
                eq(s.token(c["client_id"], c["client_secret"]).status, 200, "issue")
                s.proc.send_signal(signal.SIGHUP)
                time.sleep(0.001)
                eq(s.stop(), 0, "clean exit")
                check("server.stopping" in s.stderr(), "the stop was logged")
            finally:
                s.cleanup()


    def test_a_port_in_use_is_refused(self):
        # The listening sockets share their port (SO_REUSEPORT) with each
        # other only: a second server on the same port fails to start, and
        # the first keeps every request.
        second = Server(start=False)
        try:
            second.port = self.s.port
            eq(second.start(expect_fail=True), 1, "second server's exit status")
            check("cannot listen on 127.0.0.1:%d" % self.s.port in second.stderr() and
                  "in use" in second.stderr(), "says why: " + second.stderr()[-300:])
            for _ in range(50):
                eq(self.s.get("/healthz").status, 200, "the first still answers")
        finally:
            second.cleanup()

    def test_many_connections_are_all_served(self):
        # Connections spread over the listening sockets (one per core); each
        # is answered, whichever socket took it.
        socks = [socket.create_connection(("127.0.0.1", self.s.port), timeout=20)
                 for _ in range(64)]
        try:
            for k in socks:
                k.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            for k in socks:
                eq(k.recv(64).split(b"\r\n")[0], b"HTTP/1.1 200 OK", "answered")
        finally:
            for k in socks:
                k.close()

    def test_listen_is_refused_when_it_is_not_one_address_and_port(self):
        # Regression: an IPv6 address without brackets was split at its
        # last ':', so "::1:0" served on [::1]:0, though it is also the
        # address ::1:0 given no port. Ambiguous, it is refused, as are a
        # host name and a port out of range.
        for listen in ("::1:0", "::ffff:127.0.0.1:0", "localhost:0", "127.0.0.1:65536",
                       "127.0.0.1:", "[::1]0", "[::1]"):
            s = Server(start=False)
            try:
                s.port = None
                s.argv = lambda: [BIN, "serve", "--db", s.db, "--master-key", s.master,
                                  "--listen", listen]
                eq(s.start(expect_fail=True), 1, "refused: %r" % listen)
                check('listen "%s" is not ADDR:PORT' % listen in s.stderr() and
                      "[ADDR]:PORT for IPv6" in s.stderr(), "says why: %r" % s.stderr()[-300:])
            finally:
                s.cleanup()

    def test_listens_on_ipv6(self):
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            probe.bind(("::1", 0))
        except OSError:
            print("  skipped: no IPv6 loopback here")
            return
        finally:
            probe.close()
        s = Server(start=False)
        s.argv = lambda: [BIN, "serve", "--db", s.db, "--master-key", s.master,
                          "--listen", "[::1]:0"]
        s.stderr_file = open(s.stderr_path, "ab")
        s.proc = subprocess.Popen(s.argv(), stdout=subprocess.DEVNULL, stderr=s.stderr_file)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    s.port = s._started_port()
                    if s.port == 0:
                        raise OSError("not started yet")
                    with socket.create_connection(("::1", s.port), timeout=5) as k:
                        k.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        eq(k.recv(64).split(b"\r\n")[0], b"HTTP/1.1 200 OK", "answered over IPv6")
                        break
                except OSError:
                    check(time.time() < deadline and s.proc.poll() is None,
                          "no answer on [::1]: " + s.stderr()[-300:])
                    time.sleep(0.1)
        finally:
            s.cleanup()


if __name__ == "__main__":
    TokenEndpoint().run()
