"""Issue 3: each seed document's own example request, unchanged but for real
credentials, against the real server; every field of the answer checked
against the seed's example answer, types included."""
import datetime
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, basic, check, eq, jwt_parts, make_cert_files  # noqa: E402


def iso_to_epoch(s):
    return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp())


class Dialects(Suite):
    def setup(self):
        self.s = Server()
        self.prod = self.s.client("tenant-000", name="m2p partner", env="production",
                                  allow_ip=["127.0.0.1", "::1"], scopes="bookings:create bookings:delete",
                                  claims='{"user_id":"842902db-54e5-4614-b348-002e8ce5da12",'
                                         '"partner_id":"f31120ee-b5cb-41c4-9529-288d02e91cd6"}')
        self.sbx = self.s.client("tenant-000", name="sandbox partner", env="sandbox", max_ttl="200000")
        self.opaque = self.s.client("tenant-003", name="marketplace", token_format="opaque")

    def teardown(self):
        self.s.cleanup()

    # -- 000: POST /auth/token ---------------------------------------------
    def test_000_auth_token(self):
        r = self.s.post_json("/auth/token", {"clientId": self.prod["client_id"],
                                             "clientSecret": self.prod["client_secret"],
                                             "grantType": "client_credentials"})
        eq(r.status, 200, "status %r" % r)
        b = r.json()
        check(isinstance(b["access_token"], str) and b["access_token"].startswith("eyJ"), "JWT")
        eq(b["token_type"], "Bearer", "token_type")
        check(isinstance(b["expires_in"], int), "expires_in is a number")
        eq(b["expires_in"], 3600, "production lifetime")
        h, _ = jwt_parts(b["access_token"])
        eq(h["alg"], "RS256", "RS256 as the seed shows")
        # A stale bearer token its HTTP client sends on every request is
        # no client authentication here: ignored (it was a 400), while
        # Basic credentials beside the body's still are a second method.
        body = {"clientId": self.prod["client_id"], "clientSecret": self.prod["client_secret"],
                "grantType": "client_credentials"}
        r = self.s.post_json("/auth/token", body, headers={"Authorization": "Bearer " + b["access_token"]})
        eq(r.status, 200, "with a stale Authorization: Bearer %r" % r)
        r = self.s.post_json("/auth/token", body, headers={"Authorization": basic("a", "b")})
        eq(r.status, 400, "with Basic credentials too %r" % r)

    def test_000_tenant_header_must_match(self):
        body = {"clientId": self.prod["client_id"], "clientSecret": self.prod["client_secret"],
                "grantType": "client_credentials"}
        eq(self.s.post_json("/auth/token", body, headers={"X-TENANT-ID": "tenant-000"}).status, 200, "own tenant")
        r = self.s.post_json("/auth/token", body, headers={"X-TENANT-ID": "tenant-003"})
        eq(r.status, 400, "other tenant")
        check("X-TENANT-ID" in r.json()["error_description"], "says which")

    # -- 001: POST /api/oauth/token ----------------------------------------
    def test_001_partner_token(self):
        r = self.s.post_json("/api/oauth/token", {"grant_type": "client_credentials",
                                                  "client_id": self.prod["client_id"],
                                                  "client_secret": self.prod["client_secret"]},
                             headers={"Accept": "application/json"})
        eq(r.status, 200, "status %r" % r)
        b = r.json()
        eq(sorted(b), ["access_token", "expires_in", "token_type"], "members as the seed")
        eq((b["token_type"], b["expires_in"]), ("Bearer", 3600), "values")
        h, p = jwt_parts(b["access_token"])
        for claim in ("aud", "jti", "iat", "nbf", "exp", "sub"):
            check(claim in p, "claim " + claim)
        eq(p["scopes"], ["bookings:create", "bookings:delete"], "scopes array")
        eq(p["user_id"], "842902db-54e5-4614-b348-002e8ce5da12", "user_id")
        eq(p["partner_id"], "f31120ee-b5cb-41c4-9529-288d02e91cd6", "partner_id")
        eq(p["is_test"], False, "is_test")

    def test_001_accept_must_allow_json(self):
        r = self.s.post_json("/api/oauth/token", {"grant_type": "client_credentials",
                                                  "client_id": self.prod["client_id"],
                                                  "client_secret": self.prod["client_secret"]},
                             headers={"Accept": "text/html"})
        eq(r.status, 406, "not acceptable")

    def test_001_accept_read_as_media_ranges(self):
        # Regression: Accept was searched for the bytes "application/json",
        # "*/*" or "application/*", so a client writing the media type in
        # another case (RFC 9110 §8.3.1: case-insensitive) got 406, and one
        # that ruled JSON out with q=0 (§12.4.2) got JSON.
        body = {"grant_type": "client_credentials", "client_id": self.prod["client_id"],
                "client_secret": self.prod["client_secret"]}
        for accept, status in (("Application/JSON", 200), ("APPLICATION/*;q=0.5", 200),
                               ("text/html, */*; q=.2", 200), ("text/html;level=1, application/json", 200),
                               ("application/json;q=0", 406), ("text/html, application/json; Q=0.000", 406),
                               ("application/jsonx, application/json-seq", 406)):
            r = self.s.post_json("/api/oauth/token", body, headers={"Accept": accept})
            eq(r.status, status, "Accept: %s: %r" % (accept, r))

    def test_001_accept_lines_read_as_one_list(self):
        # Regression: only the first Accept line was read, and the first
        # range that took JSON decided. RFC 9110 §5.3 reads repeated lines as
        # one list, and §12.5.1 lets the most specific range decide.
        body = {"grant_type": "client_credentials", "client_id": self.prod["client_id"],
                "client_secret": self.prod["client_secret"]}
        for lines, status in (([("Accept", "text/html"), ("Accept", "application/json")], 200),
                              ([("Accept", "*/*"), ("Accept", "application/json;q=0")], 406),
                              ([("Accept", "*/*, application/json;q=0")], 406),
                              ([("Accept", "application/*;q=0, application/json")], 200)):
            r = self.s.request("POST", "/api/oauth/token", body=body, headers=lines)
            eq(r.status, status, "%r: %r" % (lines, r))

    # -- 002: POST /token ---------------------------------------------------
    def test_002_papaya_token(self):
        r = self.s.post_json("/token", {"api_key": self.sbx["client_id"],
                                        "client_secret": self.sbx["client_secret"],
                                        "expiration": 100001, "token_name": "82725488-22bf"})
        eq(r.status, 200, "status %r" % r)
        b = r.json()
        eq(sorted(b), ["token", "token_name", "valid_until"], "members as the seed")
        eq(b["token_name"], "82725488-22bf", "name echoed")
        h, p = jwt_parts(b["token"])
        check(h.get("kid"), "header has kid")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b["valid_until"]), "ISO 8601 UTC")
        eq(iso_to_epoch(b["valid_until"]), p["exp"], "valid_until equals exp")
        eq(p["exp"] - p["iat"], 100001, "asked lifetime")
        eq(p["token_name"], "82725488-22bf", "token_name claim")

    def test_002_defaults(self):
        r = self.s.post_json("/token", {"api_key": self.sbx["client_id"], "client_secret": self.sbx["client_secret"]})
        eq(r.status, 200, "status %r" % r)
        b = r.json()
        check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", b["token_name"]),
              "UUID name")
        _, p = jwt_parts(b["token"])
        eq(p["exp"] - p["iat"], 86400, "24 h default")

    def test_002_seed_example_verbatim_on_a_default_client(self):
        # The seed's own example, as its text stands but for the secret, to
        # a client made with no settings at all. It asks 100001 s, more than
        # a day: the default maximum was 86400, and the client above made
        # with max_ttl 200000 hid that every partner copying it got 400.
        c = self.s.client("tenant-000", name="papaya default", id="82725488-22bf-40d1-ace6-9ea6ee42f870")
        body = ('{\n'
                '   "api_key": "82725488-22bf-40d1-ace6-9ea6ee42f870",\n'
                '   "client_secret": %s,\n'
                '   "expiration": 100001,\n'
                '   "token_name": "82725488-22bf"\n'
                '}') % json.dumps(c["client_secret"])
        r = self.s.post_json("/token", body)
        eq(r.status, 200, "the seed's request %r" % r)
        b = r.json()
        eq(b["token_name"], "82725488-22bf", "name echoed")
        _, p = jwt_parts(b["token"])
        eq(p["exp"] - p["iat"], 100001, "asked lifetime")
        # The default maximum still holds, and the refusal names it.
        r = self.s.post_json("/token", {"api_key": c["client_id"], "client_secret": c["client_secret"],
                                        "expiration": 172801})
        eq(r.status, 400, "over the default maximum %r" % r)
        check("maximum of 172800 seconds" in r.json()["error_description"], "names it: %r" % r.json())

    def test_002_expiration_over_maximum(self):
        r = self.s.post_json("/token", {"api_key": self.sbx["client_id"], "client_secret": self.sbx["client_secret"],
                                        "expiration": 200001})
        eq(r.status, 400, "status")
        check("200000" in r.json()["error_description"], "names the maximum")

    def test_002_expiration_as_a_whole_real(self):
        # Seed 002 types expiration "numeric": Python's
        # timedelta.total_seconds() and a Java Double write a whole number
        # as 86400.0, which was refused as not a whole number of seconds.
        for v, want in (("86400.0", 86400), ("100001.0", 100001), ("3.6e3", 3600), ("1E4", 10000)):
            body = '{"api_key":"%s","client_secret":"%s","expiration":%s}' % (
                self.sbx["client_id"], self.sbx["client_secret"], v)
            r = self.s.post_json("/token", body)
            eq(r.status, 200, "expiration %s: %r" % (v, r))
            _, p = jwt_parts(r.json()["token"])
            eq(p["exp"] - p["iat"], want, "lifetime of %s" % v)
        r = self.s.post_json("/token", '{"api_key":"%s","client_secret":"%s","expiration":200001.0}' % (
            self.sbx["client_id"], self.sbx["client_secret"]))
        eq(r.status, 400, "a real over the client's maximum %r" % r)
        check("200000" in r.json()["error_description"], "names the maximum")

    def test_002_bad_expiration_values(self):
        for v in ('"ten"', '"3600"', "-5", "0", "1e309", "1.5", "86400.5", "0.5", "0.0", "-86400.0",
                  "1e300", "true", "null", "[3600]", "{}"):
            body = '{"api_key":"%s","client_secret":"%s","expiration":%s}' % (
                self.sbx["client_id"], self.sbx["client_secret"], v)
            r = self.s.post_json("/token", body)
            eq(r.status, 400, "expiration %s" % v)
            eq(r.json()["error"], "invalid_request", "code for %s" % v)
            desc = r.json()["error_description"].lower()
            check("expiration" in desc or "json" in desc, "names the field for %s: %s" % (v, desc))

    def test_002_token_list_and_revoke_by_name(self):
        for name in ("alpha", "beta"):
            eq(self.s.post_json("/token", {"api_key": self.sbx["client_id"],
                                           "client_secret": self.sbx["client_secret"],
                                           "token_name": name}).status, 200, "issue " + name)
        toks = self.s.cli("token", "list", "--client", self.sbx["client_id"])
        names = [t["name"] for t in toks]
        check("alpha" in names and "beta" in names, "names listed: %r" % names)
        out = self.s.cli("token", "revoke", "--name", "alpha")
        eq(out["revoked"], 1, "revoked one")
        toks = {t["name"]: t for t in self.s.cli("token", "list", "--client", self.sbx["client_id"])}
        eq(toks["alpha"]["status"], "revoked", "alpha revoked")
        eq(toks["beta"]["status"], "live", "beta live")
        p = self.s.cli("token", "revoke", "--name", "nope", check=False)
        check(p.returncode != 0, "unknown name is an error")

    # -- 003: POST /v2.01/oauth/token ----------------------------------------
    def test_003_mangopay_token(self):
        r = self.s.post_form("/v2.01/oauth/token", {"grant_type": "client_credentials"},
                             headers={"Authorization": basic(self.opaque["client_id"], self.opaque["client_secret"], encode=False)})
        eq(r.status, 200, "status %r" % r)
        b = r.json()
        eq(sorted(b), ["access_token", "expires_in", "token_type"], "members as the seed")
        check(re.fullmatch(r"[0-9a-f]{32}", b["access_token"]), "32 hex as the seed")
        eq(b["token_type"], "bearer", "lower-case as the seed")
        eq(b["expires_in"], 1200, "sandbox lifetime")

    def test_003_needs_basic(self):
        r = self.s.post_form("/v2.01/oauth/token", {"grant_type": "client_credentials",
                                                    "client_id": self.opaque["client_id"],
                                                    "client_secret": self.opaque["client_secret"]})
        eq(r.status, 401, "body credentials are not this route's")
        check((r.header("WWW-Authenticate") or "").startswith("Basic"), "Basic challenge")

    # -- the normalizer's rules, per route ------------------------------------
    def test_other_routes_spelling_names_the_field(self):
        m2p = {"clientId": self.sbx["client_id"], "clientSecret": self.sbx["client_secret"],
               "grantType": "client_credentials"}
        r = self.s.post_json("/api/oauth/token", m2p)
        check(r.status in (400, 401), "refused")
        check("client_id" in r.json()["error_description"], "names client_id: %r" % r.json())
        partner = {"grant_type": "client_credentials", "client_id": self.sbx["client_id"],
                   "client_secret": self.sbx["client_secret"]}
        r = self.s.post_json("/auth/token", partner)
        check("clientId" in r.json()["error_description"], "names clientId: %r" % r.json())
        r = self.s.post_json("/token", m2p)
        check("api_key" in r.json()["error_description"], "names api_key: %r" % r.json())

    def test_unknown_fields_ignored_duplicates_rejected(self):
        body = {"clientId": self.sbx["client_id"], "clientSecret": self.sbx["client_secret"],
                "grantType": "client_credentials", "favourite_colour": "blue"}
        eq(self.s.post_json("/auth/token", body).status, 200, "unknown ignored")
        dup = '{"clientId":"%s","clientId":"%s","clientSecret":"%s","grantType":"client_credentials"}' % (
            self.sbx["client_id"], self.sbx["client_id"], self.sbx["client_secret"])
        r = self.s.post_json("/auth/token", dup)
        eq((r.status, r.json()["error"]), (400, "invalid_request"), "duplicate key")

    def test_wrong_types_and_empty_strings(self):
        r = self.s.post_json("/auth/token", {"clientId": 42, "clientSecret": "x", "grantType": "client_credentials"})
        eq(r.status, 400, "number id")
        check("clientId" in r.json()["error_description"], "names it")
        r = self.s.post_json("/auth/token", {"clientId": "", "clientSecret": "x", "grantType": "client_credentials"})
        eq(r.status, 400, "empty id")
        r = self.s.post_json("/api/oauth/token", {"client_id": self.sbx["client_id"],
                                                  "client_secret": self.sbx["client_secret"]})
        eq(r.status, 400, "missing grant_type")
        check("grant_type" in r.json()["error_description"], "names it")
        r = self.s.post_json("/auth/token", {"clientId": self.sbx["client_id"],
                                             "clientSecret": self.sbx["client_secret"], "grantType": "password"})
        eq(r.json()["error"], "unsupported_grant_type", "unknown grant")

    def test_basic_plus_body_even_when_equal(self):
        r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_id": self.sbx["client_id"],
                                              "client_secret": self.sbx["client_secret"]},
                             headers={"Authorization": basic(self.sbx["client_id"], self.sbx["client_secret"])})
        eq((r.status, r.json()["error"]), (400, "invalid_request"), "two methods")
        r = self.s.post_json("/auth/token", {"clientId": self.sbx["client_id"],
                                             "clientSecret": self.sbx["client_secret"], "grantType": "client_credentials"},
                             headers={"Authorization": basic(self.sbx["client_id"], self.sbx["client_secret"])})
        eq(r.status, 400, "Basic on a body-only route")

    # -- environments -------------------------------------------------------
    def test_environments_sign_with_their_own_keys(self):
        t1 = self.s.post_json("/auth/token", {"clientId": self.prod["client_id"],
                                              "clientSecret": self.prod["client_secret"],
                                              "grantType": "client_credentials"}).json()["access_token"]
        t2 = self.s.post_json("/auth/token", {"clientId": self.sbx["client_id"],
                                              "clientSecret": self.sbx["client_secret"],
                                              "grantType": "client_credentials"}).json()["access_token"]
        (h1, p1), (h2, p2) = jwt_parts(t1), jwt_parts(t2)
        check(h1["kid"] != h2["kid"], "different keys")
        keys = {k["kid"]: k["env"] for k in self.s.get("/.well-known/jwks.json").json()["keys"]}
        eq(keys[h1["kid"]], "production", "production key")
        eq(keys[h2["kid"]], "sandbox", "sandbox key")
        eq((p1["env"], p1["is_test"], p2["env"], p2["is_test"]), ("production", False, "sandbox", True), "claims")

    # -- routes in configuration ---------------------------------------------
    def test_a_route_path_no_request_can_reach_is_refused(self):
        # Regression: route.oauth = /tok?x=1 (or a path with '%', '#' or a
        # space) was taken: no request ever matched it (a path is matched
        # decoded and without its query), and the metadata advertised it
        # as the token_endpoint.
        for path in ("/tok?x=1", "/a%2Fb", "/t#x", "/a b"):
            s = Server("--route.oauth", path, start=False)
            try:
                eq(s.start(expect_fail=True), 2, "refused: %r" % path)
                check("route paths hold no" in s.stderr() and path in s.stderr(),
                      "says why: %r" % s.stderr()[-400:])
            finally:
                s.cleanup()

    def test_routes_moved_and_disabled(self):
        s = Server("--route.m2p", "off", "--route.papaya", "/v1/token")
        try:
            c = s.client("t", name="x")
            eq(s.post_json("/auth/token", {}).status, 404, "disabled")
            eq(s.post_json("/token", {}).status, 404, "moved away")
            r = s.post_json("/v1/token", {"api_key": c["client_id"], "client_secret": c["client_secret"]})
            eq(r.status, 200, "moved here %r" % r)
            eps = s.get("/.well-known/oauth-authorization-server").json()["gatehouse_token_endpoints"]
            eq(eps.get("papaya"), s.base + "/v1/token", "metadata shows the move")
            check("m2p" not in eps, "metadata omits the disabled route")
        finally:
            s.cleanup()

    # -- HTTPS ----------------------------------------------------------------
    def test_https(self):
        s = Server(tls=True)
        try:
            c = s.client("t", name="x")
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "over TLS %r" % r)
            eq(jwt_parts(r.json()["access_token"])[1]["iss"], s.base, "https issuer")
            eq(s.get("/.well-known/oauth-authorization-server").json()["issuer"][:8], "https://", "metadata")
            # The certificate's end, for an alert on one not renewed
            # (the harness's is good for two days).
            m = re.search(r"^gatehouse_tls_certificate_expiry_timestamp_seconds (\S+)$",
                          s.get("/metrics").body.decode(), re.M)
            check(m is not None, "the expiry gauge is served")
            check(abs(float(m.group(1)) - (time.time() + 2 * 86400)) < 600,
                  "two days from now: %s" % m.group(1))
        finally:
            s.cleanup()

    def test_an_http_issuer_over_tls_is_warned_of(self):
        # The metadata would send clients to http:// endpoints on a port
        # that speaks only TLS: said at start (a proxy may still rewrite).
        s = Server(tls=True, start=False)
        try:
            s.extra += ["--issuer", "http://auth.example.test"]
            s.start()
            check('"server.issuer_not_https"' in s.stderr(), "warned: %s" % s.stderr()[-400:])
            eq(s.get("/.well-known/oauth-authorization-server").json()["issuer"],
               "http://auth.example.test", "still the issuer given")
        finally:
            s.cleanup()
        s = Server(tls=True)
        try:
            check("server.issuer_not_https" not in s.stderr(), "no warning for https")
        finally:
            s.cleanup()

    def test_a_tls_key_that_is_not_the_certificates_is_refused_before_the_first_run(self):
        # Regression: libmicrohttpd found the mismatch only when the
        # listener started, after the first run had made the store, its
        # keys and an admin client (secret shown), and said "a bad TLS
        # certificate or key?". Now it is refused before the store is
        # opened, naming both files; as is a certificate that is not one.
        s = Server(start=False)
        try:
            s.make_cert()
            other = os.path.join(s.dir, "other-key.pem")
            os.rename(s.key, other)
            s.make_cert()       # cert.pem made again, with a key of its own
            s.extra = ["--tls-cert", s.cert, "--tls-key", other]
            eq(s.start(expect_fail=True), 1, "exit status")
            err = s.stderr()
            check("%s is not the key of the certificate in %s" % (other, s.cert) in err,
                  "says which: %r" % err[-600:])
            check("first run" not in "".join(s.stdout) and not os.path.exists(s.master),
                  "nothing made: %r" % s.stdout)
            s.extra = ["--tls-cert", other, "--tls-key", other]
            eq(s.start(expect_fail=True), 1, "a key for a certificate")
            check("%s: no PEM certificate (tls_cert)" % other in s.stderr(), s.stderr()[-600:])
        finally:
            s.cleanup()

    def test_a_fifo_as_tls_key_is_refused_not_waited_on(self):
        # Regression: the key file was opened blocking, so a FIFO named as
        # tls_key held serve at start (and would hold a SIGHUP's reload)
        # until some process wrote to it.
        s = Server(start=False)
        try:
            s.make_cert()
            fifo = os.path.join(s.dir, "fifo-key.pem")
            os.mkfifo(fifo, 0o600)
            s.extra = ["--tls-cert", s.cert, "--tls-key", fifo]
            eq(s.start(expect_fail=True), 1, "exit status")
            check("%s: not a regular file" % fifo in s.stderr(), s.stderr()[-600:])
        finally:
            s.cleanup()

    def test_https_refuses_tls_1_0_and_1_1(self):
        # RFC 8996: TLS 1.0 and 1.1 MUST NOT be negotiated; libmicrohttpd's
        # default GnuTLS priorities took both.
        import socket
        import ssl
        import warnings
        s = Server(tls=True)
        try:
            def handshake(version):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    ctx.minimum_version = ctx.maximum_version = version
                ctx.set_ciphers("ALL:@SECLEVEL=0")
                try:
                    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=10)) as t:
                        return t.version()
                except (ssl.SSLError, OSError):
                    return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                old = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
            for v in old:
                eq(handshake(v), None, "%s refused" % v.name)
            eq(handshake(ssl.TLSVersion.TLSv1_2), "TLSv1.2", "TLS 1.2 served")
            eq(handshake(ssl.TLSVersion.TLSv1_3), "TLSv1.3", "TLS 1.3 served")
        finally:
            s.cleanup()

    def test_https_takes_no_static_rsa_or_cbc_at_tls_1_2(self):
        # Regression: GnuTLS "NORMAL" at TLS 1.2 still took static RSA key
        # exchange (no forward secrecy) and CBC suites, which RFC 9325
        # (BCP 195) says not to negotiate; ECDHE with AEAD is what is left.
        import socket
        import ssl
        s = Server(start=False)
        try:
            s.make_cert(rsa=True)
            s.start()

            def cipher(suite):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_ciphers(suite + ":@SECLEVEL=0")
                try:
                    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=10)) as t:
                        return t.cipher()[0]
                except (ssl.SSLError, OSError):
                    return None
            for weak in ("AES256-GCM-SHA384", "AES128-SHA", "ECDHE-RSA-AES128-SHA",
                         "ECDHE-RSA-AES256-SHA384"):
                eq(cipher(weak), None, "%s refused" % weak)
            for good in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"):
                eq(cipher(good), good, "%s served" % good)
        finally:
            s.cleanup()

    def test_sighup_serves_a_renewed_tls_certificate(self):
        # Regression: the certificate and key were read once, at start; a
        # renewed one (ACME's, an internal CA's of days) took a restart.
        # SIGHUP now reads both again: new connections see the new one,
        # connections already open keep theirs, and a bad pair is refused
        # with the one before still served.
        import signal
        import socket
        import ssl
        import time
        s = Server(tls=True)

        def der(path):
            with open(path) as f:
                return ssl.PEM_cert_to_DER_cert(f.read())

        def served(sock=None):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = sock or socket.create_connection(("127.0.0.1", s.port), timeout=10)
            with ctx.wrap_socket(sock) as t:
                return t.getpeercert(binary_form=True)

        def hup():
            before = s.stderr().count('"event":"server.reloaded"')
            s.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while s.stderr().count('"event":"server.reloaded"') == before:
                check(time.time() < deadline, "no server.reloaded: %s" % s.stderr()[-1500:])
                time.sleep(0.05)
            return [json.loads(x) for x in s.stderr().splitlines() if x.startswith("{")]

        try:
            a = der(s.cert)
            eq(served(), a, "cert A at start")
            kept = s.connection()                 # keep-alive, on A
            kept.request("GET", "/healthz")
            r = kept.getresponse()
            r.read()
            eq(r.status, 200, "first answer")
            early = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            time.sleep(0.2)                       # opened before the reload

            # Renewed the way certbot and cert-manager do: files replaced.
            bc, bk = make_cert_files(s.dir, "b-", rsa=True, cn="renewed.example")
            b = der(bc)
            with open(bk) as f:
                b_key = f.read()
            os.replace(bc, s.cert)
            os.replace(bk, s.key)
            line = [e for e in hup() if e["event"] == "server.reloaded"][-1]
            eq(line["level"], "info", "reloaded: %r" % line)
            eq(line["tls"]["certificate"], "replaced", "says it changed: %r" % line)
            eq(line["tls"]["subject"], "CN=renewed.example", "subject")
            check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", line["tls"]["not_after"]),
                  "notAfter: %r" % line)
            eq(served(), b, "a new connection sees the renewed certificate")
            eq(served(early), a, "a connection opened before the reload keeps its own")
            kept.request("GET", "/healthz")
            eq(kept.getresponse().status, 200, "a connection open across the reload still serves")
            eq(kept.sock.getpeercert(binary_form=True), a, "on its own certificate")
            kept.close()
            r = s.get("/healthz")
            eq(r.status, 200, "served after the reload")

            # A broken renewal: the key of another certificate; then a
            # key open to others. Each refused, B still served.
            ac, ak = make_cert_files(s.dir, "c-")
            os.replace(ac, s.cert)                # the key is still B's
            ev = hup()
            check(any(e["event"] == "server.tls_refused" and
                      "is not the key of the certificate" in e["reason"] for e in ev),
                  "refusal logged: %s" % s.stderr()[-1500:])
            line = [e for e in ev if e["event"] == "server.reloaded"][-1]
            eq(line["level"], "warn", "the reload's line warns")
            check("refused" in line["tls"]["certificate"], "says the old one stays: %r" % line)
            eq(served(), b, "the renewed certificate still served")
            os.replace(ak, s.key)
            os.chmod(s.key, 0o644)
            ev = hup()
            check(any(e["event"] == "server.tls_refused" and "open to group or others" in e["reason"]
                      for e in ev), "a readable key refused: %s" % s.stderr()[-1500:])
            eq(served(), b, "still the renewed certificate")
            body = "".join(b_key.splitlines()[1:-1])
            check(body[:40] not in s.stderr(), "no key material in the logs")
        finally:
            s.cleanup()

    def test_require_https(self):
        s = Server("--require-https", "--trusted-proxies", "127.0.0.1")
        try:
            c = s.client("t", name="x")
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 400, "plain HTTP refused")
            check("HTTPS" in r.json()["error_description"], "says why")
            r = s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers={"Authorization": basic(c["client_id"], c["client_secret"]),
                                     "X-Forwarded-Proto": "https"})
            eq(r.status, 200, "trusted proxy that says https")
        finally:
            s.cleanup()


if __name__ == "__main__":
    Dialects().run()
