"""Interop: PyJWT (Debian's python3-jwt), which nobody here wrote, fetches our
JWKS and accepts our RS256, ES256, PS256 and EdDSA access tokens — and
refuses one whose signature was tampered with. Its PyJWKClient follows a
key rotation (the admin API's or the CLI's): a token of the new key, whose
kid its cached set lacks, makes it fetch the set again, and tokens of the
old key keep verifying while we publish it.

PyJWKClient's own caching, which its callers should know: the key set is
kept for its lifespan (300 s by default, our JWKS's max-age at most), so a
key withdrawn with `keys revoke` verifies there until then; with
cache_keys=True a key once found is kept in an LRU cache with no expiry at
all, so a withdrawn key verifies there until the process restarts. A
verifier that must stop trusting a revoked key promptly should leave
cache_keys off (the default), or use libgatehouse-verify. PyJWT also
refuses a token whose iat or nbf (both the second it was issued) is ahead of
its own clock, with no leeway unless given one: a verifier on a host whose
clock is behind ours by a second refuses fresh tokens for that second, so
pass jwt.decode a leeway of a few seconds."""
import os
import sys
import time

import jwt  # python3-jwt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import EachSigningAlg, Server, Suite, check, eq  # noqa: E402


class PyJWTInterop(EachSigningAlg, Suite):
    def token(self, s, c):
        r = s.token(c["client_id"], c["client_secret"])
        eq(r.status, 200, "token %r" % r)
        return r.json()["access_token"]

    def verified(self, jwks, s, tok):
        key = jwks.get_signing_key_from_jwt(tok)
        return jwt.decode(tok, key.key, algorithms=["RS256", "ES256"], audience=s.base, issuer=s.base)

    def test_only_env_tells_a_sandbox_token_from_a_production_one(self):
        # What README's verification example checks, and why: the two
        # environments share the issuer, the default audience and the
        # JWKS, so PyJWT's checks pass a sandbox token as readily as a
        # production one; the env claim, and the env of the key in the
        # JWKS, tell them apart.
        s = Server()
        try:
            jwks = jwt.PyJWKClient(s.base + "/.well-known/jwks.json")
            published = {k["kid"]: k["env"] for k in s.get("/.well-known/jwks.json").json()["keys"]}
            for env in ("sandbox", "production"):
                c = s.client("acme", name=env, env=env, scopes="read", allow_ip="127.0.0.1")
                tok = self.token(s, c)
                claims = self.verified(jwks, s, tok)
                eq((claims["env"], claims["is_test"]), (env, env == "sandbox"), "env claims")
                eq(published[jwt.get_unverified_header(tok)["kid"]], env, "the key's env")
        finally:
            s.cleanup()

    def test_a_production_verifier_on_the_production_keys_refuses_sandbox_tokens(self):
        # /.well-known/jwks.json?env=production holds the production keys
        # only: PyJWT, checking what it always checks, finds no key for a
        # sandbox token.
        s = Server()
        try:
            prod = jwt.PyJWKClient(s.base + "/.well-known/jwks.json?env=production")
            box = s.client("acme", name="box", env="sandbox", scopes="read")
            live = s.client("acme", name="live", env="production", scopes="read",
                            allow_ip="127.0.0.1")
            eq(self.verified(prod, s, self.token(s, live))["env"], "production", "production")
            try:
                self.verified(prod, s, self.token(s, box))
                raise AssertionError("a sandbox token verified against the production keys")
            except jwt.exceptions.PyJWKClientError as e:
                check("Unable to find a signing key" in str(e), "no key for it: %s" % e)
            envs = {k["env"] for k in s.get("/.well-known/jwks.json?env=sandbox").json()["keys"]}
            eq(envs, {"sandbox"}, "the sandbox set")
            eq(s.get("/.well-known/jwks.json?env=staging").status, 400, "an unknown env")
        finally:
            s.cleanup()

    def test_jwk_client_follows_a_rotation_by_the_admin_api(self):
        s = Server()
        try:
            c = s.client("acme", scopes="read")
            admin = self.token(s, s.bootstrap)
            jwks = jwt.PyJWKClient(s.base + "/.well-known/jwks.json")
            old = self.token(s, c)
            self.verified(jwks, s, old)
            r = s.request("POST", "/admin/v1/keys/rotate", body={"env": "sandbox", "alg": "ES256", "lead": 0},
                          headers={"Authorization": "Bearer " + admin})
            eq(r.status, 201, "rotated %r" % r)
            new = self.token(s, c)
            eq(jwt.get_unverified_header(new)["kid"], r.json()["kid"], "the new key signs")
            eq(self.verified(jwks, s, new)["client_id"], c["client_id"], "new key found on a refetch")
            self.verified(jwks, s, old)
        finally:
            s.cleanup()

    def test_jwk_client_after_a_rotation_and_revocation_by_the_cli(self):
        s = Server()
        try:
            c = s.client("acme", scopes="read")
            old = self.token(s, c)
            old_kid = jwt.get_unverified_header(old)["kid"]
            # A short lifespan stands for the default 300 s.
            jwks = jwt.PyJWKClient(s.base + "/.well-known/jwks.json", lifespan=1)
            pinned = jwt.PyJWKClient(s.base + "/.well-known/jwks.json", cache_keys=True, lifespan=1)
            self.verified(jwks, s, old)
            self.verified(pinned, s, old)
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
            new = self.token(s, c)
            check(jwt.get_unverified_header(new)["kid"] != old_kid, "the new key signs")
            self.verified(jwks, s, new)
            self.verified(jwks, s, old)
            s.cli("keys", "revoke", old_kid)
            check(old_kid not in [k["kid"] for k in s.get("/.well-known/jwks.json").json()["keys"]],
                  "withdrawn from the JWKS")
            time.sleep(1.1)
            try:
                self.verified(jwks, s, old)
                raise AssertionError("a withdrawn key verified after the set's lifespan")
            except jwt.PyJWKClientError:
                pass
            self.verified(jwks, s, new)
            # PyJWT's quirk (see above): cache_keys pins a found key for good.
            eq(pinned.get_signing_key_from_jwt(old).key_id, old_kid, "cache_keys keeps the withdrawn key")
        finally:
            s.cleanup()

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
