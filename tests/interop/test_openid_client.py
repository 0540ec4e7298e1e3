"""Interop: panva's openid-client (v6, pinned in tests/interop/node), which
nobody here wrote, works against our OAuth-only RFC 8414 metadata: it
discovers the server, gets tokens with client_secret_basic and
client_secret_post, introspects (RFC 7662) and revokes (RFC 7009) them.

gatehouse is an OAuth 2.0 authorization server, not an OpenID Provider, so
its callers must ask openid-client's discovery for { algorithm: "oauth2" }:
the library's default fetches /.well-known/openid-configuration alone,
which we rightly do not serve (OpenID Connect Discovery 1.0 §3 requires
members an OAuth-only server cannot honestly give, such as
authorization_endpoint, subject_types_supported and
id_token_signing_alg_values_supported)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq  # noqa: E402
from node import run_node  # noqa: E402


class OpenIDClientInterop(Suite):
    def setup(self):
        self.s = Server(tls=True)
        self.c = self.s.client("acme", scopes="read write")

    def teardown(self):
        self.s.cleanup()

    def flow(self, **env):
        e = {"ISSUER": self.s.base, "CLIENT_ID": self.c["client_id"],
             "SECRET": self.c["client_secret"], "NODE_EXTRA_CA_CERTS": self.s.cert}
        e.update(env)
        rc, out, err = run_node("openid_client_flow.mjs", e)
        check(rc == 0 and out.strip(), "the script ran (rc %d, stderr: %s)" % (rc, err[-800:]))
        return json.loads(out)

    def check_flow(self, auth):
        steps = self.flow(AUTH=auth, SCOPE="write")
        for name in ("discovery", "token", "introspect", "revoke", "introspect_revoked"):
            check(name in steps and steps[name]["ok"], "%s with %s: %r" % (name, auth, steps.get(name)))
        eq(steps["discovery"]["value"]["issuer"], self.s.base, "issuer")
        tok = steps["token"]["value"]
        eq((tok["token_type"], tok["scope"]), ("bearer", "write"), "token")
        check(0 < tok["expires_in"] <= 1200, "expiresIn(): %r" % tok["expires_in"])
        got = steps["introspect"]["value"]
        eq((got["active"], got["client_id"], got["scope"]), (True, self.c["client_id"], "write"),
           "introspection")
        eq(steps["introspect_revoked"]["value"], {"active": False}, "after revocation")

    def test_client_secret_basic(self):
        self.check_flow("basic")

    def test_client_secret_post(self):
        self.check_flow("post")

    def test_openid_discovery_is_not_served(self):
        # The library's default discovery: a 404, which it reports as a
        # nonconforming answer, not metadata made up to pass for an OP.
        steps = self.flow(ALGORITHM="oidc")
        d = steps["discovery"]
        eq((d["ok"], d["code"]), (False, "OAUTH_RESPONSE_IS_NOT_CONFORM"), "oidc discovery: %r" % d)
        eq(self.s.get("/.well-known/openid-configuration").status, 404, "not served")


if __name__ == "__main__":
    OpenIDClientInterop().run()
