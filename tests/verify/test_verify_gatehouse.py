"""libgatehouse-verify against the real server: examples/verify_token fetches
gatehouse's JWKS and checks its tokens with the gate's rules."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq  # noqa: E402

VT = os.environ.get("GATEHOUSE_VERIFY_TOKEN", "")


class VerifyAgainstGatehouse(Suite):
    def setup(self):
        if not os.access(VT, os.X_OK):
            raise RuntimeError("set GATEHOUSE_VERIFY_TOKEN to the verify_token example")
        self.s = Server()
        self.c = self.s.client("acme", name="svc", roles="operator", scopes="cards:read cards:write")
        r = self.s.token(self.c["client_id"], self.c["client_secret"])
        eq(r.status, 200, "token")
        self.tok = r.json()["access_token"]

    def teardown(self):
        self.s.cleanup()

    def vt(self, tok, *extra):
        # Tokens name the issuer as their audience unless asked otherwise.
        if "--audience" not in extra and "--any-audience" not in extra:
            extra = ("--audience", self.s.base) + extra
        if "--env" not in extra:
            extra = ("--env", "sandbox") + extra   # the harness's clients are sandbox ones
        p = subprocess.run([VT, "--allow-http"] + list(extra) +
                           [self.s.base + "/.well-known/jwks.json", self.s.base, "-"],
                           input=tok.encode(), capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode()

    def test_valid_token_and_claims(self):
        rc, out = self.vt(self.tok, "--tenant", "acme")
        eq(rc, 0, "valid: %s" % out)
        check(self.c["client_id"] in out and "cards:write" in out, "claims printed: %s" % out)

    def test_refusals(self):
        eq(self.vt(self.tok, "--tenant", "globex"), (1, "refused: the token belongs to another tenant\n"), "tenant")
        eq(self.vt(self.tok, "--env", "production")[0], 1, "sandbox token, production required")
        eq(self.vt(self.tok, "--audience", "https://elsewhere")[0], 1, "audience")
        h, p, s = self.tok.split(".")
        eq(self.vt(h + "." + p + "." + s[:-4] + "AAAA")[0], 1, "bad signature")
        eq(self.vt(h + "." + p + ".")[0], 1, "stripped signature")

    def test_audience_required(self):
        # Regression: without --audience the example (and any verifier set
        # up with a NULL audience) took tokens minted for another API.
        p = subprocess.run([VT, "--allow-http", "--env", "sandbox",
                            self.s.base + "/.well-known/jwks.json",
                            self.s.base, "-"], input=self.tok.encode(),
                           capture_output=True, timeout=30)
        eq(p.returncode, 2, "no audience: a setup error")
        check(b"audience is required" in p.stderr, "says why: %r" % p.stderr)
        eq(self.vt(self.tok, "--audience", self.s.base)[0], 0, "the issuer's audience")
        eq(self.vt(self.tok, "--any-audience")[0], 0, "the named opt-out")

    def test_environment_required(self):
        # Regression: without --env a sandbox client's token passed a
        # verifier for a production API (same iss, aud and JWKS).
        p = subprocess.run([VT, "--allow-http", "--audience", self.s.base,
                            self.s.base + "/.well-known/jwks.json", self.s.base, "-"],
                           input=self.tok.encode(), capture_output=True, timeout=30)
        eq(p.returncode, 2, "no env: a setup error")
        check(b"required_env is required" in p.stderr, "says why: %r" % p.stderr)
        eq(self.vt(self.tok, "--env", "production")[0], 1, "a sandbox token in production")
        eq(self.vt(self.tok, "--env", "any")[0], 0, "the named opt-out")

    def test_rotated_key_is_fetched(self):
        eq(self.vt(self.tok)[0], 0, "before rotation")
        self.s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
        r = self.s.token(self.c["client_id"], self.c["client_secret"])
        eq(self.vt(r.json()["access_token"])[0], 0, "a token of the new key")


if __name__ == "__main__":
    VerifyAgainstGatehouse().run()
