"""Issue 8: three `gatehouse serve` nodes on one PostgreSQL behave as one.
A client created through one node works on all; a token issued by one passes
the gate on the others; a revocation, a disabled client, a rotated signing key
or client secret, and a lockout lock made on one node hold on every other
within one second. Runs only against PostgreSQL (tests/pgsql/CMakeLists.txt sets
GATEHOUSE_TEST_BACKEND=postgresql)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import BACKEND, Server, Suite, basic, check, eq, jwt_parts  # noqa: E402

POLICY = "GET /v1/** role=viewer env=any\n"
ISSUER = "https://gatehouse.test"
WITHIN = 1.0            # the issue's bound for a change to reach every node


class MultiNode(Suite):
    def setup(self):
        check(BACKEND == "postgresql", "run with GATEHOUSE_TEST_BACKEND=postgresql")
        self.a = Server(start=False)
        self.policy = os.path.join(self.a.dir, "gate.policy")
        with open(self.policy, "w") as f:
            f.write(POLICY)
        extra = ["--issuer", ISSUER, "--policy", self.policy, "--trusted-proxies", "127.0.0.1"]
        self.a.extra += extra
        self.a.start()
        # Same workdir: the same database and the same master key file.
        self.b = Server(*extra, workdir=self.a.dir, start=False)
        self.c = Server(*extra, workdir=self.a.dir, start=False)
        self.b.start()
        self.c.start()
        self.nodes = [self.a, self.b, self.c]

    def teardown(self):
        for n in getattr(self, "nodes", [])[1:]:
            n.stop()
        if hasattr(self, "a"):
            self.a.cleanup()

    # -- helpers ------------------------------------------------------------
    def token(self, node, c, secret=None, xff=None):
        h = {"Authorization": basic(c["client_id"], secret or c["client_secret"])}
        if xff:
            h["X-Forwarded-For"] = xff
        return node.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers=h)

    def gate(self, node, tok):
        return node.get("/gate", headers={"X-Original-Method": "GET",
                                          "X-Original-URI": "/v1/things",
                                          "X-TENANT-ID": "acme",
                                          "Authorization": "Bearer " + tok})

    def within(self, what, fn, limit=WITHIN):
        """fn() becomes true on every node within limit seconds of the change."""
        t0 = time.time()
        pending = list(self.nodes)
        while pending:
            pending = [n for n in pending if not fn(n)]
            if pending:
                check(time.time() - t0 < limit,
                      "%s: nodes %s after %.2fs" % (what, [n.port for n in pending], limit))
                time.sleep(0.02)
        return time.time() - t0

    # -- tests ----------------------------------------------------------------
    def test_client_and_token_work_on_every_node(self):
        c = self.b.client("acme", name="everywhere", roles="viewer")
        for issuer in self.nodes:
            r = self.token(issuer, c)
            eq(r.status, 200, "token from node %d: %r" % (issuer.port, r))
            tok = r.json()["access_token"]
            eq(jwt_parts(tok)[1]["iss"], ISSUER, "one issuer")
            for gate in self.nodes:
                eq(self.gate(gate, tok).status, 200, "token of %d at the gate of %d"
                   % (issuer.port, gate.port))
        # One JWKS: the signing keys are shared (sealed under the one master key).
        kids = [sorted(k["kid"] for k in n.get("/.well-known/jwks.json").json()["keys"])
                for n in self.nodes]
        eq(kids[1], kids[0], "B's JWKS")
        eq(kids[2], kids[0], "C's JWKS")

    def test_revocation_reaches_every_node(self):
        c = self.a.client("acme", name="revoked", roles="viewer")
        tok = self.token(self.a, c).json()["access_token"]
        for n in self.nodes:
            eq(self.gate(n, tok).status, 200, "cached on %d" % n.port)
        r = self.b.post_form("/oauth/revoke", {"token": tok},
                             headers={"Authorization": basic(c["client_id"], c["client_secret"])})
        eq(r.status, 200, "revoked through B")
        self.within("revocation", lambda n: self.gate(n, tok).status == 401)

    def test_disabled_client_everywhere(self):
        c = self.a.client("acme", name="disabled", roles="viewer")
        tok = self.token(self.c, c).json()["access_token"]
        for n in self.nodes:
            eq(self.gate(n, tok).status, 200, "cached on %d" % n.port)
        self.a.cli("client", "disable", c["client_id"])
        self.within("disabled at the gate", lambda n: self.gate(n, tok).status == 401)
        self.within("disabled at the token endpoint", lambda n: self.token(n, c).status != 200)
        self.a.cli("client", "enable", c["client_id"])
        self.within("enabled again", lambda n: self.token(n, c).status == 200)

    def test_rotated_secret_everywhere(self):
        c = self.a.client("acme", name="rotated", roles="viewer")
        for n in self.nodes:
            eq(self.token(n, c).status, 200, "old secret on %d" % n.port)
        new = self.c.cli("client", "rotate-secret", c["client_id"], "--grace", "1s")["client_secret"]
        self.within("new secret", lambda n: self.token(n, c, secret=new).status == 200)
        time.sleep(1.2)
        self.within("old secret over", lambda n: self.token(n, c).status == 401, limit=2.0)

    def test_rotated_key_everywhere(self):
        before = {k["kid"] for k in self.a.get("/.well-known/jwks.json").json()["keys"]}
        self.b.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
        after = {k["kid"] for k in self.b.get("/.well-known/jwks.json").json()["keys"]}
        new = after - before
        eq(len(new), 1, "one new key")
        new = new.pop()
        self.within("new key published", lambda n: new in {
            k["kid"] for k in n.get("/.well-known/jwks.json").json()["keys"]})
        c = self.a.client("acme", name="newkey", roles="viewer")
        # Every node signs with it, and every node's gate takes the others'.
        self.within("new key signs", lambda n: jwt_parts(
            self.token(n, c).json()["access_token"])[0]["kid"] == new)
        for issuer in self.nodes:
            tok = self.token(issuer, c).json()["access_token"]
            for gate in self.nodes:
                eq(self.gate(gate, tok).status, 200, "new-key token of %d at %d"
                   % (issuer.port, gate.port))

    def test_lockout_made_on_one_node_holds_on_all(self):
        """The lock is in the store: made on one node, it holds on every
        other within a second. (Failure counting before the lock is still
        per node: see the issue 8 report.)"""
        c = self.a.client("acme", name="target", roles="viewer")
        xff = "198.51.100.77"
        for i in range(5):          # the pair threshold, on node B
            r = self.token(self.b, c, secret="wrong-%d" % i, xff=xff)
            check(r.status in (401, 429), "guess %d: %r" % (i, r))
        self.within("pair locked", lambda n: self.token(n, c, xff=xff).status == 429)
        # Another address is not locked.
        eq(self.token(self.c, c, xff="198.51.100.78").status, 200, "other address")
        self.a.cli("lock", "clear", "--client", c["client_id"])
        self.within("lock cleared", lambda n: self.token(n, c, xff=xff).status == 200)

if __name__ == "__main__":
    MultiNode().run()
