"""Interop: panva's oauth4webapi (pinned in tests/interop/node), which nobody
here wrote and which holds servers to the RFCs more strictly than most
clients: RFC 8414 discovery (the metadata's issuer must be the URL it was
fetched from), the client credentials grant with client_secret_basic and
client_secret_post, RFC 9068 validation of our JWT access tokens
(validateJwtAccessToken: typ at+jwt, iss, aud, exp, iat, jti, sub,
client_id, the signature by the JWKS key of the kid), RFC 7662
introspection and RFC 7009 revocation — each over HTTPS, as the library
requires (a plain-HTTP issuer needs its allowInsecureRequests option).

What the library asks of its callers (its own rules, not our server's):
discovery of an OAuth-only server needs { algorithm: "oauth2" } (its
default is OpenID Connect's /.well-known/openid-configuration); and a 401
that carries a WWW-Authenticate challenge, as RFC 6749 §5.2 requires for a
Basic client's invalid_client, is thrown as a WWWAuthenticateChallengeError
(the challenge parsed) rather than as a ResponseBodyError with the body's
error code, which a client_secret_post client gets. Its JWKS cache, used by
validateJwtAccessToken, is kept for 5 minutes (our max-age at most) and
fetched again for a kid it lacks only once it is a minute old: after a
rotation with `--lead 0` the new key's first tokens may be refused for up
to a minute (the default lead, 10 minutes, publishes the key long before)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import EachSigningAlg, Server, Suite, check, eq  # noqa: E402
from nginx import Nginx  # noqa: E402
from node import run_node  # noqa: E402


def flow(s, c, **env):
    """Runs oauth4webapi_flow.mjs against s (HTTPS) as client c; the steps'
    outcomes by name."""
    e = {"ISSUER": s.base, "CLIENT_ID": c["client_id"], "SECRET": c["client_secret"],
         "NODE_EXTRA_CA_CERTS": s.cert}
    e.update(env)
    rc, out, err = run_node("oauth4webapi_flow.mjs", e)
    check(rc == 0 and out.strip(), "the script ran (rc %d, stderr: %s)" % (rc, err[-800:]))
    return json.loads(out)


def ok(steps, name):
    got = steps.get(name)
    check(got is not None, "step %s ran: %r" % (name, sorted(steps)))
    check(got["ok"], "%s: %r" % (name, got))
    return got["value"]


class OAuth4WebAPIInterop(EachSigningAlg, Suite):
    def verify_alg(self, alg):
        s = Server("--signing-alg", alg, tls=True)
        try:
            c = s.client("acme", scopes="read write")
            steps = flow(s, c, SCOPE="read")
            meta = ok(steps, "discovery")
            eq(meta["issuer"], s.base, "issuer")
            for m in ("basic", "post"):
                tok = ok(steps, "token_" + m)
                eq((tok["token_type"], tok["scope"]), ("bearer", "read"), m)
            claims = ok(steps, "validate")
            eq((claims["iss"], claims["aud"], claims["client_id"], claims["sub"]),
               (s.base, s.base, c["client_id"], c["client_id"]), "RFC 9068 claims")
            for m in ("basic", "post"):
                got = ok(steps, "introspect_" + m)
                eq((got["active"], got["client_id"], got["jti"]), (True, c["client_id"], claims["jti"]),
                   "introspected with client_secret_" + m)
            ok(steps, "revoke")
            eq(ok(steps, "introspect_revoked"), {"active": False}, "revoked")
        finally:
            s.cleanup()

    def test_invalid_client_as_each_method_reports_it(self):
        s = Server(tls=True)
        try:
            c = s.client("acme", scopes="read")
            steps = flow(s, c, STEPS="discovery,token_wrong_basic,token_wrong_post")
            basic = steps["token_wrong_basic"]
            eq((basic["ok"], basic["name"], basic["status"]),
               (False, "WWWAuthenticateChallengeError", 401), "Basic: %r" % basic)
            eq([ch["scheme"] for ch in basic["challenges"]], ["basic"], "the challenge parsed")
            post = steps["token_wrong_post"]
            eq((post["ok"], post["name"], post["error"], post["status"]),
               (False, "ResponseBodyError", "invalid_client", 401), "post: %r" % post)
        finally:
            s.cleanup()

    def test_resource_indicator_is_the_audience_validated(self):
        # RFC 8707: a token asked for an API carries it as aud, and
        # validateJwtAccessToken with that API as the expected audience
        # accepts it.
        s = Server("--audiences", "https://api.example.com", tls=True)
        try:
            c = s.client("acme", scopes="read")
            steps = flow(s, c, RESOURCE="https://api.example.com",
                         STEPS="discovery,token_basic,token_post,validate")
            eq(ok(steps, "validate")["aud"], "https://api.example.com", "aud")
        finally:
            s.cleanup()

    def test_issuer_with_a_trailing_slash(self):
        # RFC 8414 §3.3: the issuer is compared as a URL with the one the
        # metadata was fetched for; the token's iss with the metadata's
        # issuer, as a string.
        s = Server(tls=True)
        try:
            s.stop()
            issuer = s.base + "/"
            s.extra += ["--issuer", issuer]
            s.start()
            c = s.client("acme", scopes="read")
            steps = flow(s, c, ISSUER=issuer, STEPS="discovery,token_basic,validate")
            eq(ok(steps, "discovery")["issuer"], issuer, "issuer")
            eq(ok(steps, "validate")["iss"], issuer, "iss")
        finally:
            s.cleanup()

    def test_through_the_documented_edge(self):
        # Regression: docs/nginx/nginx.conf passed the token endpoints to
        # gatehouse and everything else through the gate to the API, so
        # at the edge, whose URL is the issuer partners know, the RFC 8414
        # metadata, the JWKS, introspection and revocation were refused
        # by the gate (or reached the API): discovery failed, and so did
        # every step after it.
        s = Server("--trusted-proxies", "127.0.0.1")
        ngx = None
        try:
            ngx = Nginx(s.port, s.port)     # the API is not called here
            # The edge is the issuer, set before nginx has a connection to
            # gatehouse (a restart would break one).
            s.stop()
            s.extra += ["--issuer", "http://127.0.0.1:%d" % ngx.port]
            s.start()
            c = s.client("acme", scopes="read")
            e = {"ISSUER": "http://127.0.0.1:%d" % ngx.port, "CLIENT_ID": c["client_id"],
                 "SECRET": c["client_secret"], "INSECURE": "1"}
            rc, out, err = run_node("oauth4webapi_flow.mjs", e)
            check(rc == 0 and out.strip(), "the script ran (rc %d, stderr: %s)" % (rc, err[-800:]))
            steps = json.loads(out)
            eq(ok(steps, "discovery")["issuer"], e["ISSUER"], "metadata at the edge")
            eq(ok(steps, "validate")["client_id"], c["client_id"], "JWKS at the edge")
            for m in ("basic", "post"):
                eq(ok(steps, "introspect_" + m)["active"], True, "introspection at the edge")
            ok(steps, "revoke")
            eq(ok(steps, "introspect_revoked"), {"active": False}, "revocation at the edge")
        finally:
            if ngx is not None:
                ngx.stop()
            s.cleanup()


if __name__ == "__main__":
    OAuth4WebAPIInterop().run()
