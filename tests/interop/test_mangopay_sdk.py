"""Interop: the 003 provider's official Node SDK (mangopay2-nodejs-sdk,
pinned in tests/interop/node), unchanged, with its base URL pointed at an
nginx running docs/nginx/nginx.conf: the SDK gets its token from gatehouse's
/v2.01/oauth/token (Basic ClientId:ApiKey, form body) and calls the API,
which the gate lets through. A wrong API key gets nowhere near the API."""
import http.server
import json
import os
import re
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq  # noqa: E402
from nginx import Nginx  # noqa: E402
from node import run_node  # noqa: E402

POLICY = "GET /v2.01/** role=viewer env=any errors=mangopay tenant=optional\n"


class Users(http.server.BaseHTTPRequestHandler):
    """The protected API: GET /v2.01/{ClientId}/users/{Id} answers a user as
    the provider's API would (the SDK builds its model from it)."""
    protocol_version = "HTTP/1.1"
    calls = []

    def do_GET(self):
        Users.calls.append({"path": self.path, "client": self.headers.get("X-Gatehouse-Client")})
        m = re.fullmatch(r"/v2\.01/([^/]+)/users/([^/?]+)", self.path)
        if m is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps({"Id": m.group(2), "PersonType": "NATURAL", "FirstName": "Ada-" + m.group(2),
                           "LastName": "Lovelace", "Email": "ada@example.com", "Tag": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


class MangopaySDK(Suite):
    def setup(self):
        self.api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Users)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        self.s = Server("--trusted-proxies", "127.0.0.1", policy=POLICY)
        self.c = self.s.client("acme", name="sdk", roles="viewer", token_format="opaque")
        self.ngx = Nginx(self.s.port, self.api.server_address[1])
        self.base = "http://127.0.0.1:%d" % self.ngx.port

    def teardown(self):
        if getattr(self, "ngx", None):
            self.ngx.stop()
        self.s.cleanup()
        self.api.shutdown()

    def test_sdk_authenticates_and_calls_the_api(self):
        Users.calls.clear()
        rc, out, err = run_node("mangopay_sdk.js", {"CLIENT_ID": self.c["client_id"],
                                                    "API_KEY": self.c["client_secret"], "BASE": self.base})
        check(out.strip() != "", "the SDK printed a result (stderr: %s; nginx: %s)" % (err[-800:], self.ngx.log()))
        got = json.loads(out)
        eq((rc, got.get("ok")), (0, True), "the SDK's calls passed: %r" % got)
        eq(got["ids"], ["u-1", "u-2"], "both users")
        eq(got["names"], ["Ada-u-1", "Ada-u-2"], "the SDK parsed the API's answers")
        eq([c["client"] for c in Users.calls], [self.c["client_id"]] * 2, "the gate named the client")
        tokens = self.s.cli("token", "list", "--client", self.c["client_id"])
        eq(len(tokens), 1, "one token for both calls: the SDK cached it")

    def test_wrong_api_key_is_refused(self):
        Users.calls.clear()
        rc, out, err = run_node("mangopay_sdk.js", {"CLIENT_ID": self.c["client_id"],
                                                    "API_KEY": "x" * 43, "BASE": self.base})
        got = json.loads(out)
        eq((rc, got.get("ok")), (1, False), "refused: %r" % got)
        eq(Users.calls, [], "nothing reached the API")


if __name__ == "__main__":
    MangopaySDK().run()
