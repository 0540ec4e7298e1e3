"""Interop: PyJWT (Debian's python3-jwt), which nobody here wrote, fetches our
JWKS and accepts our RS256, ES256, PS256 and EdDSA access tokens — and
refuses one whose signature was tampered with."""
import os
import sys

import jwt  # python3-jwt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import EachSigningAlg, Server, Suite, check, eq  # noqa: E402


class PyJWTInterop(EachSigningAlg, Suite):
    def verify_alg(self, alg):
        s = Server("--signing-alg", alg)
        try:
            c = s.client("acme", scopes="read")
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "token %r" % r)
            tok = r.json()["access_token"]
            jwks = jwt.PyJWKClient(s.base + "/.well-known/jwks.json")
            key = jwks.get_signing_key_from_jwt(tok)
            claims = jwt.decode(tok, key.key, algorithms=[alg], audience=s.base, issuer=s.base,
                                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]})
            eq(claims["client_id"], c["client_id"], "claims")
            eq(jwt.get_unverified_header(tok)["typ"], "at+jwt", "typ")
            h, p, sig = tok.split(".")
            bad = h + "." + p + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
            try:
                jwt.decode(bad, key.key, algorithms=[alg], audience=s.base)
                raise AssertionError("tampered token accepted")
            except jwt.InvalidSignatureError:
                pass
            # The algorithm is the key's: PyJWT refuses another one too.
            other = "HS256"
            try:
                jwt.decode(tok, key.key, algorithms=[other], audience=s.base)
                raise AssertionError("wrong algorithm accepted")
            except jwt.PyJWTError:
                pass
        finally:
            s.cleanup()


if __name__ == "__main__":
    PyJWTInterop().run()
