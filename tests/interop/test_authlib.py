"""Interop: authlib's client-credentials client (Debian's python3-authlib)
obtains tokens from /oauth/token with client_secret_basic and
client_secret_post, and sees invalid_client for a wrong secret; its RFC
7662 introspection and RFC 7009 revocation calls work with either method,
and so does a resource server on its IntrospectTokenValidator;
and its jose module (JsonWebToken with claims options, the key from our
JWKS) validates our tokens of every signing algorithm."""
import json
import os
import sys
import urllib.request

from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import BadSignatureError, InvalidClaimError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import EachSigningAlg, Server, Suite, check, eq, jwt_parts  # noqa: E402


class AuthlibInterop(EachSigningAlg, Suite):
    def setup(self):
        self.s = Server()
        self.c = self.s.client("acme", scopes="orders:read orders:write", id="authlib.client-1")

    def teardown(self):
        self.s.cleanup()

    def fetch(self, method, secret=None, **kw):
        sess = OAuth2Session(self.c["client_id"], secret or self.c["client_secret"],
                             token_endpoint_auth_method=method, **kw)
        return sess.fetch_token(self.s.base + "/oauth/token", grant_type="client_credentials")

    def test_client_secret_basic(self):
        tok = self.fetch("client_secret_basic", scope="orders:read")
        eq(tok["token_type"], "Bearer", "type")
        eq(tok["scope"], "orders:read", "scope")
        eq(jwt_parts(tok["access_token"])[1]["client_id"], self.c["client_id"], "client id decoded per §2.3.1")

    def test_client_secret_post(self):
        tok = self.fetch("client_secret_post")
        check(tok["expires_in"] > 0 and tok.get("expires_at"), "authlib computed expiry")

    def test_wrong_secret(self):
        try:
            self.fetch("client_secret_basic", secret="wrong")
            raise AssertionError("accepted")
        except OAuthError as e:
            eq(e.error, "invalid_client", "error")

    def test_introspection_and_revocation(self):
        # RFC 7662 and RFC 7009 through authlib's own calls, the token's
        # type hinted or not (the hint may be ignored: §2.1 of each).
        for m in ("client_secret_basic", "client_secret_post"):
            sess = OAuth2Session(self.c["client_id"], self.c["client_secret"],
                                 token_endpoint_auth_method=m, scope="orders:read")
            tok = sess.fetch_token(self.s.base + "/oauth/token", grant_type="client_credentials")
            for hint in (None, "access_token"):
                r = sess.introspect_token(self.s.base + "/oauth/introspect",
                                          token=tok["access_token"], token_type_hint=hint)
                eq(r.status_code, 200, "%s introspection %r" % (m, r.text))
                eq((r.json()["active"], r.json()["scope"], r.json()["client_id"]),
                   (True, "orders:read", self.c["client_id"]), m)
            r = sess.revoke_token(self.s.base + "/oauth/revoke", token=tok["access_token"],
                                  token_type_hint="access_token")
            eq(r.status_code, 200, "%s revocation %r" % (m, r.text))
            r = sess.introspect_token(self.s.base + "/oauth/introspect", token=tok["access_token"])
            eq(r.json(), {"active": False}, "%s: revoked" % m)

    def test_resource_server_introspection_validator(self):
        # A resource server on authlib's RFC 7662 IntrospectTokenValidator,
        # introspecting with requests' own Basic credentials (not
        # urlencoded), refuses a revoked token and a missing scope.
        import requests
        from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
        from authlib.oauth2.rfc7662 import IntrospectTokenValidator
        rs = self.s.client("acme", name="resource server", scopes="orders:read")
        url = self.s.base + "/oauth/introspect"

        class Validator(IntrospectTokenValidator):
            def introspect_token(self, token_string):
                r = requests.post(url, data={"token": token_string, "token_type_hint": "access_token"},
                                  auth=(rs["client_id"], rs["client_secret"]))
                r.raise_for_status()
                return r.json()

        v = Validator()
        sess = OAuth2Session(self.c["client_id"], self.c["client_secret"], scope="orders:read")
        at = sess.fetch_token(self.s.base + "/oauth/token", grant_type="client_credentials")["access_token"]
        token = v.authenticate_token(at)
        v.validate_token(token, ["orders:read"], None)
        try:
            v.validate_token(token, ["orders:write"], None)
            raise AssertionError("a scope the token lacks passed")
        except InsufficientScopeError:
            pass
        sess.revoke_token(self.s.base + "/oauth/revoke", token=at)
        try:
            v.validate_token(v.authenticate_token(at), ["orders:read"], None)
            raise AssertionError("a revoked token passed")
        except InvalidTokenError:
            pass

    def verify_alg(self, alg):
        # authlib.jose's JsonWebToken, restricted to the key's algorithm,
        # with every RFC 9068 claim essential and iss, aud and client_id
        # checked by value.
        s = Server("--signing-alg", alg)
        try:
            c = s.client("acme", scopes="read")
            sess = OAuth2Session(c["client_id"], c["client_secret"], scope="read")
            at = sess.fetch_token(s.base + "/oauth/token", grant_type="client_credentials")["access_token"]
            with urllib.request.urlopen(s.base + "/.well-known/jwks.json") as r:
                keys = JsonWebKey.import_key_set(json.load(r))
            options = {"iss": {"essential": True, "value": s.base},
                       "aud": {"essential": True, "value": s.base},
                       "client_id": {"essential": True, "value": c["client_id"]}}
            for claim in ("exp", "iat", "nbf", "sub", "jti", "scope"):
                options[claim] = {"essential": True}
            claims = JsonWebToken([alg]).decode(at, keys, claims_options=options)
            claims.validate()
            eq((claims.header["typ"], claims["scope"]), ("at+jwt", "read"), "header and scope")
            h, p, sig = at.split(".")
            try:
                JsonWebToken([alg]).decode(h + "." + p + "." + ("A" if sig[0] != "A" else "B") + sig[1:],
                                           keys)
                raise AssertionError("tampered token accepted")
            except BadSignatureError:
                pass
            other = dict(options, aud={"essential": True, "value": "https://elsewhere.example"})
            try:
                JsonWebToken([alg]).decode(at, keys, claims_options=other).validate()
                raise AssertionError("another audience accepted")
            except InvalidClaimError:
                pass
        finally:
            s.cleanup()


if __name__ == "__main__":
    AuthlibInterop().run()
