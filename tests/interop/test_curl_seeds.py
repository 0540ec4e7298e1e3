"""Interop: curl, sending each seed's example token request (the four
integration guides in /work/shared/seeds) as the guide writes it, only the
host and the credentials put in: 000's curl command verbatim, 001's headers
and body, 002's request example (as JSON: the guide names no Content-Type,
and curl's -d alone would label it a form, which /token refuses with 415),
003's Basic credentials and form. Each answer has the guide's shape, and
its token is one our introspection calls active."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, basic, check, eq  # noqa: E402


class CurlSeedsInterop(Suite):
    def setup(self):
        self.s = Server()
        self.c = self.s.client("acme", scopes="read")

    def teardown(self):
        self.s.cleanup()

    def curl(self, *args):
        p = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}"] + list(args),
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, "curl ran: %s" % p.stderr)
        body, _, status = p.stdout.rpartition("\n")
        return int(status), body

    def active(self, token):
        r = self.s.post_form("/oauth/introspect", {"token": token},
                             headers={"Authorization": basic(self.c["client_id"], self.c["client_secret"])})
        eq((r.status, r.json()["active"]), (200, True), "introspected %r" % r)

    def test_000_curl_command(self):
        status, body = self.curl(
            "-X", "POST", self.s.base + "/auth/token",
            "-H", "Content-Type: application/json",
            "-d", '{\n"clientId": "%s",\n"clientSecret": "%s",\n"grantType": "client_credentials"\n}'
            % (self.c["client_id"], self.c["client_secret"]))
        eq(status, 200, body)
        got = json.loads(body)
        eq((got["token_type"], got["expires_in"]), ("Bearer", 1200), "the guide's shape")
        self.active(got["access_token"])

    def test_001_headers_and_body(self):
        status, body = self.curl(
            "-X", "POST", self.s.base + "/api/oauth/token",
            "-H", "Accept: application/json", "-H", "Content-Type: application/json",
            "-d", '{\n    "grant_type": "client_credentials",\n    "client_id": "%s",\n'
            '    "client_secret":"%s"\n}' % (self.c["client_id"], self.c["client_secret"]))
        eq(status, 200, body)
        got = json.loads(body)
        eq(sorted(got), ["access_token", "expires_in", "token_type"], "the guide's members")
        self.active(got["access_token"])

    def test_002_request_example(self):
        status, body = self.curl(
            "-X", "POST", self.s.base + "/token", "-H", "Content-Type: application/json",
            "-d", '{\n   "api_key": "%s",\n   "client_secret": "%s",\n   "expiration": 100001,\n'
            '   "token_name": "82725488-22bf"\n}' % (self.c["client_id"], self.c["client_secret"]))
        eq(status, 200, body)
        got = json.loads(body)
        eq((sorted(got), got["token_name"]), (["token", "token_name", "valid_until"], "82725488-22bf"),
           "the guide's members")
        self.active(got["token"])

    def test_003_basic_and_form(self):
        status, body = self.curl(
            "-X", "POST", self.s.base + "/v2.01/oauth/token",
            "-u", "%s:%s" % (self.c["client_id"], self.c["client_secret"]),
            "-H", "Content-Type: application/x-www-form-urlencoded",
            "-d", "grant_type=client_credentials")
        eq(status, 200, body)
        got = json.loads(body)
        eq((sorted(got), got["token_type"]), (["access_token", "expires_in", "token_type"], "bearer"),
           "the guide's members")
        self.active(got["access_token"])


if __name__ == "__main__":
    CurlSeedsInterop().run()
