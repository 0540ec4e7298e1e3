"""Interop: Node's jose (panva/jose, pinned in tests/interop/node), which
nobody here wrote, fetches our JWKS and accepts our RS256, ES256, PS256 and
EdDSA access tokens with issuer, audience and typ checked — and refuses a
tampered one and one verified under another algorithm.

jose's createRemoteJWKSet, its callers should know, keeps the key set for
its own cacheMaxAge (10 minutes by default), not for our JWKS's max-age
(5 minutes at most): a key withdrawn with `keys revoke` verifies there for
up to 10 minutes unless cacheMaxAge is set lower. A token of a key it has
not seen makes it fetch the set again, but not within its cooldownDuration
(30 s) of the last fetch, so a rotation with `--lead 0` can leave the new
key's first tokens refused there for up to 30 s (the default lead, 10
minutes, does not)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import EachSigningAlg, Server, Suite, check, eq  # noqa: E402
from node import run_node  # noqa: E402


class NodeJoseInterop(EachSigningAlg, Suite):
    def verify(self, s, tok, alg):
        rc, out, err = run_node("jose_verify.mjs", {"BASE": s.base, "TOKEN": tok, "ALG": alg})
        check(out.strip() != "", "jose printed a result (stderr: %s)" % err[-500:])
        return rc, json.loads(out)

    def verify_alg(self, alg):
        s = Server("--signing-alg", alg)
        try:
            c = s.client("acme", scopes="read")
            r = s.token(c["client_id"], c["client_secret"], scope="read")
            eq(r.status, 200, "token %r" % r)
            tok = r.json()["access_token"]
            rc, got = self.verify(s, tok, alg)
            eq((rc, got["ok"]), (0, True), "jose accepts it: %r" % got)
            eq(got["header"]["alg"], alg, "alg")
            eq(got["claims"]["client_id"], c["client_id"], "client_id")
            eq(got["claims"]["scope"], "read", "scope")
            h, p, sig = tok.split(".")
            bad = h + "." + p + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
            rc, got = self.verify(s, bad, alg)
            eq((rc, got["code"]), (1, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"), "tampered: %r" % got)
            other = "ES256" if alg != "ES256" else "RS256"
            rc, got = self.verify(s, tok, other)
            eq((rc, got["ok"]), (1, False), "another algorithm refused: %r" % got)
        finally:
            s.cleanup()


if __name__ == "__main__":
    NodeJoseInterop().run()
