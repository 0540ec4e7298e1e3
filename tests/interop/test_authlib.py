"""Interop: authlib's client-credentials client (Debian's python3-authlib)
obtains tokens from /oauth/token with client_secret_basic and
client_secret_post, and sees invalid_client for a wrong secret."""
import os
import sys

from authlib.integrations.requests_client import OAuth2Session, OAuthError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq, jwt_parts  # noqa: E402


class AuthlibInterop(Suite):
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


if __name__ == "__main__":
    AuthlibInterop().run()
