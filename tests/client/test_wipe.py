"""Secrets and tokens are wiped from the memory the client library frees:
client_wipe (linked with -Wl,--wrap=free) looks at every block the
library's own code frees, in every dialect against the fake seed servers and
against APIs that quote the bearer token back, and counts those that still
hold the secret, one of the forms it is sent in, or a token. (libcurl and
jansson free their own buffers themselves, out of the wrap's reach: see
client.h.)"""
import base64
import json
import os
import subprocess
import urllib.parse

from fakes import CLIENT_ID, SECRET, Fake, check, eq
from harness import Suite

WIPE = os.environ.get("CLIENT_WIPE", "")
# The fake's JWT-like tokens all begin so (seed 003's are 32 random hex digits).
TOKEN_PREFIX = "eyJhbGciOiJSUzI1NiJ9.eyJuIjo"


class Wipe(Suite):
    def setup(self):
        self.f = Fake()

    def teardown(self):
        self.f.close()

    def run_wipe(self, path, dialect):
        q = urllib.parse.quote
        forms = [SECRET, q(SECRET, safe=""), urllib.parse.quote_plus(SECRET),
                 base64.b64encode(("%s:%s" % (q(CLIENT_ID, safe=""), q(SECRET, safe=""))).encode()).decode(),
                 base64.b64encode(("%s:%s" % (CLIENT_ID, SECRET)).encode()).decode(),
                 TOKEN_PREFIX]
        env = dict(os.environ, GH_WIPE_PATTERNS="\n".join(forms), GH_PROBE_SECRET=SECRET, GH_PROBE_ID=CLIENT_ID)
        p = subprocess.run([WIPE, self.f.base + path, dialect, self.f.base], capture_output=True, env=env,
                           timeout=120)
        eq(p.returncode, 0, "client_wipe: %s" % p.stderr.decode()[-3000:])
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def test_library_wipes_what_it_frees(self):
        check(WIPE and os.access(WIPE, os.X_OK), "CLIENT_WIPE (client_wipe) is not built")
        for path, dialect in (("/ok", "oauth-basic"), ("/s000", "m2p"), ("/s001", "partner"),
                              ("/s002", "papaya"), ("/s003", "mangopay")):
            r = self.run_wipe(path, dialect)
            eq(r["self_test"], 1, "the detector sees an unwiped block")
            eq(r["token"], 1, "%s: a token was fetched: %r" % (dialect, r))
            eq((r["flagged"], r["sites"]), (0, []), "%s: blocks freed without wiping" % dialect)
        # A token endpoint that quotes the request (the secret) back in its error.
        r = self.run_wipe("/bad/echoreq", "m2p")
        eq((r["self_test"], r["token"]), (1, 0), "%r" % r)
        eq((r["flagged"], r["sites"]), (0, []), "the refused request's answer: blocks freed without wiping")


if __name__ == "__main__":
    Wipe().run()
