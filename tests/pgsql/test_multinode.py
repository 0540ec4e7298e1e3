"""Issue 8: three `gatehouse serve` nodes on one PostgreSQL behave as one.
A client created through one node works on all; a token issued by one passes
the gate on the others; a revocation, a disabled client, a rotated signing key
or client secret, and a lockout lock made on one node hold on every other
within one second; bad secrets spread over the nodes are counted together,
and a success on any node clears the count;
and so are the tokens a client takes against its rate limit; an approval
filed on one node, decided on another and used on a third is used once. Runs only against PostgreSQL (tests/pgsql/CMakeLists.txt sets
GATEHOUSE_TEST_BACKEND=postgresql)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import BACKEND, Server, Suite, basic, check, eq, jwt_parts  # noqa: E402

POLICY = ("GET /v1/** role=viewer env=any\n"
          "POST /v1/payouts/*/approve role=operator env=any critical\n")
ISSUER = "https://gatehouse.test"
WITHIN = 1.0            # the issue's bound for a change to reach every node


class MultiNode(Suite):
    def setup(self):
        check(BACKEND == "postgresql", "run with GATEHOUSE_TEST_BACKEND=postgresql")
        extra = ["--issuer", ISSUER, "--trusted-proxies", "127.0.0.1"]
        self.a = Server(*extra, policy=POLICY)
        extra += ["--policy", self.a.policy]
        # Same workdir: the same database and the same master key file.
        self.b = Server(*extra, workdir=self.a.dir, start=False)
        self.c = Server(*extra, workdir=self.a.dir, start=False)
        # Before the starts: a start that fails still has the others stopped.
        self.nodes = [self.a, self.b, self.c]
        self.b.start()
        self.c.start()

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
        """fn() becomes true on every node within limit seconds of the
        change: a probe sent later than that must see it. (Timing the check
        after the probes instead counted their own time: under ASan a
        round of three requests could carry a node that learnt the change
        in time past the bound.)"""
        t0 = time.time()
        pending = list(self.nodes)
        while pending:
            still = []
            for n in pending:
                sent = time.time()
                if not fn(n):
                    check(sent - t0 < limit, "%s: node %d, asked %.2fs after the change "
                          "(bound %.2fs)" % (what, n.port, sent - t0, limit))
                    still.append(n)
            pending = still
            if pending:
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

    def lookups(self, node):
        """The gate's cache lookups on node: {"hit": n, "miss": n}."""
        got = {"hit": 0.0, "miss": 0.0}
        for line in node.get("/metrics").body.decode().splitlines():
            for k in got:
                if line.startswith('gatehouse_gate_cache_lookups_total{result="%s"} ' % k):
                    got[k] = float(line.split()[-1])
        return got

    def test_a_revocation_leaves_the_other_cached_tokens_on_every_node(self):
        # Regression: a revocation on any node emptied every node's gate
        # cache. Now each node refuses the revoked token from its next
        # refresh turn and keeps the others cached.
        c = self.a.client("acme", name="kept", roles="viewer")
        keep, gone = (self.token(self.a, c).json()["access_token"] for _ in range(2))
        for n in self.nodes:
            for t in (keep, gone):
                eq(self.gate(n, t).status, 200, "cached on %d" % n.port)
        r = self.b.post_form("/oauth/revoke", {"token": gone},
                             headers={"Authorization": basic(c["client_id"], c["client_secret"])})
        eq(r.status, 200, "revoked through B")
        eq(self.gate(self.b, gone).status, 401, "refused at once on B")
        self.within("revocation", lambda n: self.gate(n, gone).status == 401)
        for n in self.nodes:
            before = self.lookups(n)
            eq(self.gate(n, keep).status, 200, "the other passes on %d" % n.port)
            after = self.lookups(n)
            eq((after["hit"] - before["hit"], after["miss"] - before["miss"]), (1.0, 0.0),
               "and from the cache on %d" % n.port)

    def revoked_rows(self, node):
        """The revoked-token rows node's gate has read: (full, incremental)."""
        got = {}
        for line in node.get("/metrics").body.decode().splitlines():
            for load in ("full", "incremental"):
                if line.startswith('gatehouse_gate_revoked_rows_read_total{load="%s"} ' % load):
                    got[load] = float(line.split()[-1])
        return got.get("full"), got.get("incremental")

    def test_revocations_in_a_loop_read_what_changed_on_every_node(self):
        # Regression: a revocation on any node made every node's gate read
        # every revoked, unexpired token again; a client revoking its own
        # tokens in a loop made each node re-read them all each time. Now
        # a node that hears of one (LISTEN/NOTIFY) reads the rows revoked
        # since its set's generation, and each revocation still reaches
        # every node's gate within the bound.
        c = self.a.client("acme", name="looper", roles="viewer")
        toks = [self.token(self.a, c).json()["access_token"] for _ in range(9)]
        live = toks.pop()
        for n in self.nodes:
            eq(self.gate(n, live).status, 200, "loaded on %d" % n.port)
        before = {n.port: self.revoked_rows(n) for n in self.nodes}
        auth = {"Authorization": basic(c["client_id"], c["client_secret"])}
        for t in toks:
            eq(self.b.post_form("/oauth/revoke", {"token": t}, headers=auth).status, 200,
               "revoked through B")
            self.within("revocation", lambda n: self.gate(n, t).status == 401)
        for n in self.nodes:
            full, inc = self.revoked_rows(n)
            full0, inc0 = before[n.port]
            check(full is not None and inc is not None, "counted on %d" % n.port)
            eq(full, full0, "no full reload on %d" % n.port)
            # Each row once (twice at most, when a node's generation was
            # read before the rows and a revocation came in between).
            check(len(toks) <= inc - (inc0 or 0) <= 2 * len(toks),
                  "%d rows read incrementally on %d for %d revocations"
                  % (inc - (inc0 or 0), n.port, len(toks)))
            eq(self.gate(n, live).status, 200, "the live one passes on %d" % n.port)

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
        made = self.b.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
        eq(len(made), 1, "one new key: %r" % made)
        new = made[0]["kid"]
        check(new not in before, "a new kid")
        # Every node publishes it within the bound (the CLI wrote the store;
        # no node was told directly, so none may be assumed to have it yet).
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
        other within a second."""
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

    def test_a_node_whose_clock_is_ahead_lifts_no_lock(self):
        """A lock made by a node whose clock is 2000 s ahead does not
        lift the locks of the others: before, its write pruned every lock
        that ended 600 s before its own clock's now, locks still in force
        on the others among them, and they took the missing rows for
        cleared."""
        c = self.a.client("acme", name="ahead", roles="viewer")
        d = Server(*self.a.extra, workdir=self.a.dir, env={"GATEHOUSE_CLOCK_OFFSET": "2000"},
                   start=False)
        self.nodes.append(d)
        try:
            d.start()
            for i in range(5):
                r = self.token(self.a, c, secret="wrong-%d" % i, xff="198.51.100.81")
                check(r.status in (401, 429), "guess %d: %r" % (i, r))
            others = [self.a, self.b, self.c]
            for n in others:
                deadline = time.time() + 3
                while self.token(n, c, xff="198.51.100.81").status != 429:
                    check(time.time() < deadline, "locked on %d" % n.port)
                    time.sleep(0.1)
            time.sleep(1.5)     # every node has seen it in the store
            for i in range(5):  # a lock made on the node ahead
                r = self.token(d, c, secret="ahead-%d" % i, xff="198.51.100.82")
                check(r.status in (401, 429), "guess %d: %r" % (i, r))
            time.sleep(2)       # its write, and every node's sync
            for n in others:
                r = self.token(n, c, xff="198.51.100.81")
                eq(r.status, 429, "still locked on %d: %r" % (n.port, r))
        finally:
            self.nodes.remove(d)
            d.stop()

    def test_a_node_far_behind_keeps_its_locks_until_cleared(self):
        """A node whose clock is 2000 s behind (more than lockout_duration
        + 600 s) keeps a lock it made when another node's lock write prunes
        its row as ended (by the writer's clock and the database's): before,
        missing from its next read, the lock was taken for cleared and
        lifted. A clear, recorded in the store, still reaches it."""
        c = self.a.client("acme", name="behind", roles="viewer")
        d = Server(*self.a.extra, workdir=self.a.dir, env={"GATEHOUSE_CLOCK_OFFSET": "-2000"},
                   start=False)
        self.nodes.append(d)

        def rows(addr):
            return int(self.a.sql("SELECT count(*) FROM locks WHERE address = ?", (addr,))[0][0])

        def wait_for(what, cond):
            deadline = time.time() + 5
            while not cond():
                check(time.time() < deadline, what)
                time.sleep(0.1)
        try:
            d.start()
            for i in range(5):
                r = self.token(d, c, secret="behind-%d" % i, xff="198.51.100.85")
                check(r.status in (401, 429), "guess %d: %r" % (i, r))
            wait_for("its row in the store", lambda: rows("198.51.100.85") == 1)
            time.sleep(1.5)     # the node behind has read its row back
            for i in range(5):  # a lock made on node A prunes that row
                r = self.token(self.a, c, secret="a-%d" % i, xff="198.51.100.86")
                check(r.status in (401, 429), "guess %d: %r" % (i, r))
            wait_for("the row pruned", lambda: rows("198.51.100.85") == 0 and
                     rows("198.51.100.86") == 1)
            time.sleep(1.5)     # every node's sync
            eq(self.token(d, c, xff="198.51.100.85").status, 429, "still locked on the node behind")
            self.a.cli("lock", "clear", "--address", "198.51.100.85")
            wait_for("the clear reached the node behind",
                     lambda: self.token(d, c, xff="198.51.100.85").status == 200)
            eq(self.token(self.b, c, xff="198.51.100.86").status, 429, "the other lock holds")
        finally:
            self.nodes.remove(d)
            d.stop()

    def test_guesses_spread_over_nodes_are_counted_together(self):
        """Five bad secrets for one client from one address, spread 2/2/1
        over the three nodes: the pair is locked as if one node had seen
        them all (each node alone saw fewer than the threshold)."""
        c = self.a.client("acme", name="spread", roles="viewer")
        xff = "198.51.100.90"
        for i, node in enumerate([self.a, self.b, self.c, self.a, self.b]):
            r = self.token(node, c, secret="wrong-%d" % i, xff=xff)
            eq(r.status, 401, "guess %d on %d: %r" % (i, node.port, r))
        self.within("pair locked by guesses on three nodes",
                    lambda n: self.token(n, c, xff=xff).status == 429)
        r = self.token(self.c, c, xff=xff)
        eq(r.json()["error"], "unauthorized_client", "seed 003's lock answer: %r" % r)
        ra = int(r.header("Retry-After"))
        check(0 < ra <= 900, "Retry-After within the lock: %d" % ra)
        # The client's own address is not locked.
        eq(self.token(self.b, c, xff="198.51.100.91").status, 200, "other address")
        # The address threshold (20) counts over nodes too: 20 bad guesses for
        # unknown ids from one address, spread over the nodes.
        xff2 = "198.51.100.92"
        for i in range(20):
            node = self.nodes[i % 3]
            r = node.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers={
                "Authorization": basic("nobody-%d" % i, "x"), "X-Forwarded-For": xff2})
            eq(r.status, 401, "unknown id %d on %d: %r" % (i, node.port, r))
        self.within("address locked by guesses on three nodes",
                    lambda n: self.token(n, c, xff=xff2).status == 429)
        # A success clears the pair's count on the node that saw failures:
        # four guesses, a success, four more: not locked.
        self.a.cli("lock", "clear", "--address", xff)
        self.within("lock cleared", lambda n: self.token(n, c, xff=xff).status == 200)
        xff3 = "198.51.100.93"
        for i in range(4):
            eq(self.token(self.a, c, secret="again-%d" % i, xff=xff3).status, 401, "guess")
        eq(self.token(self.a, c, xff=xff3).status, 200, "the right secret, before the threshold")
        for i in range(4):
            eq(self.token(self.nodes[i % 3], c, secret="more-%d" % i, xff=xff3).status, 401,
               "guess after a success")
        eq(self.token(self.c, c, xff=xff3).status, 200, "four after a success do not lock")

    def test_success_on_another_node_clears_the_count(self):
        """Four bad secrets on node A, then the right one on node B, which
        saw none of them: the shared count is cleared as if A had seen the
        success, so four more guesses do not lock the pair."""
        c = self.a.client("acme", name="cleared elsewhere", roles="viewer")
        xff = "198.51.100.94"
        for i in range(4):
            eq(self.token(self.a, c, secret="wrong-%d" % i, xff=xff).status, 401, "guess %d" % i)
        time.sleep(WITHIN + 0.5)    # B learns of A's count (once a second)
        eq(self.token(self.b, c, xff=xff).status, 200, "the right secret on B")
        for i in range(4):
            eq(self.token(self.nodes[i % 3], c, secret="more-%d" % i, xff=xff).status, 401,
               "guess %d after the success" % i)
        for n in self.nodes:
            eq(self.token(n, c, xff=xff).status, 200, "not locked on %d" % n.port)

    def test_approval_over_nodes_used_once(self):
        """Maker-checker across nodes: filed on A, approved on B, the call
        passes C's gate once; the same approval at any node afterwards is
        refused as used, and two nodes using one approval at once let one
        through."""
        op = self.a.client("acme", name="op", roles="operator")
        # A checker holds a production token (a sandbox client decides nothing).
        adm = self.a.client("acme", name="adm", roles="admin", env="production", allow_ip="127.0.0.1/32")

        def bearer(node, c):
            r = self.token(node, c)
            eq(r.status, 200, "token %r" % r)
            return {"Authorization": "Bearer " + r.json()["access_token"], "X-TENANT-ID": "acme"}

        def gate(node, path, aid):
            h = bearer(node, op)
            h.update({"X-Original-Method": "POST", "X-Original-URI": path, "X-Approval-ID": aid})
            return node.get("/gate", headers=h)

        def filed(path):
            r = self.a.request("POST", "/approvals", body={"method": "POST", "path": path,
                               "reason": "payout"}, headers=bearer(self.a, op))
            eq(r.status, 202, "filed on A: %r" % r)
            aid = r.json()["id"]
            r = self.b.request("POST", "/approvals/%s/approve" % aid, headers=bearer(self.b, adm))
            eq(r.status, 200, "approved on B: %r" % r)
            return aid

        path = "/v1/payouts/p-1/approve"
        aid = filed(path)
        eq(gate(self.c, path, aid).status, 200, "used on C")
        for n in self.nodes:
            r = gate(n, path, aid)
            eq((r.status, r.json().get("reason")), (403, "approval_invalid"),
               "used up, seen on %d: %r" % (n.port, r))
        # Two nodes at once: exactly one passes.
        import threading
        path2 = "/v1/payouts/p-2/approve"
        aid2 = filed(path2)
        results = []
        ts = [threading.Thread(target=lambda n=n: results.append(gate(n, path2, aid2).status))
              for n in (self.a, self.c)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        eq(sorted(results), [200, 403], "one of two concurrent uses passes: %r" % results)

    def test_stuck_approval_recovered_by_one_node(self):
        """An admin change approved by a process that stopped before
        applying it is finished by exactly one of two nodes recovering it
        at once: before, both applied it (each applier's check of what is
        in effect ran before the other made the change), and a key rotation
        made two keys. GATEHOUSE_TEST_APPLY_PAUSE holds each applier
        between that check and the change, so that the two meet there."""
        import subprocess
        from harness import BIN
        op = self.a.client("platform", name="stuck-op", roles="operator")
        adm = self.a.client("platform", name="stuck-adm", roles="admin", env="production",
                            allow_ip="127.0.0.1/32")

        def production_keys():
            return len([k for k in self.a.cli("keys", "list") if k["env"] == "production"])

        before = production_keys()
        tok = self.token(self.a, op).json()["access_token"]
        r = self.a.request("POST", "/admin/v1/keys/rotate", body={"env": "production", "lead": "0"},
                           headers={"Authorization": "Bearer " + tok})
        eq(r.status, 202, "rotation filed: %r" % r)
        aid = r.json()["approval_id"]
        env = dict(self.a.env, GATEHOUSE_TEST_FAULT="approval-after-decide")
        p = subprocess.run([BIN, "approvals", "approve", aid, "--as", adm["client_id"], "--db",
                            self.a.db, "--master-key", self.a.master], capture_output=True,
                           env=env, timeout=60)
        eq(p.returncode, 70, "the deciding CLI stopped after the decision: %r" % p.stderr)
        eq(self.a.cli("approvals", "show", aid)["state"], "approved", "decided, not applied")
        # Two more nodes, a minute on, recover it as they start.
        env = {"GATEHOUSE_CLOCK_OFFSET": "60", "GATEHOUSE_TEST_APPLY_PAUSE": "5000"}
        d = Server(*self.a.extra, workdir=self.a.dir, env=env, start=False)
        e = Server(*self.a.extra, workdir=self.a.dir, env=env, start=False)
        self.nodes += [d, e]
        d.start()
        e.start()
        deadline = time.time() + 30
        while self.a.cli("approvals", "show", aid)["state"] == "approved" and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(6)       # the other node's applier, had it run, ends its pause
        a = self.a.cli("approvals", "show", aid)
        eq(a["state"], "applied", "finished: %r" % a)
        eq(production_keys(), before + 1, "one key made, by one node")
        # One apply row, the server's, naming the node that made it.
        deadline, rows = time.time() + 5, []
        while not rows and time.time() < deadline:
            rows = [r for r in self.a.cli("audit", "list", "--action", "approval.apply",
                                          "--limit", "1000") if r["target"] == aid]
            time.sleep(0.2)
        eq([r["actor"] for r in rows], ["gatehouse"], "one apply, by the server: %r" % rows)
        eq(json.loads(rows[0]["detail"])["checker"], adm["client_id"], "naming the checker")
        self.nodes.remove(d)
        self.nodes.remove(e)
        d.stop()
        e.stop()

    def test_rate_limit_holds_over_nodes(self):
        """A client limited to 6 tokens a minute takes 2 on each node: 6 in
        all. Once the nodes have shared their counts (every 0.5 s), every
        node refuses the next with 429 and Retry-After, where each alone
        would still allow 4."""
        c = self.a.client("acme", name="limited", roles="viewer", rate_limit=6)
        for node in self.nodes:
            for i in range(2):
                eq(self.token(node, c).status, 200, "token %d on %d" % (i, node.port))
        time.sleep(1.5)     # three sharing rounds; the bucket refills 0.15 token
        for node in self.nodes:
            r = self.token(node, c)
            eq(r.status, 429, "over the limit on %d: %r" % (node.port, r))
            check(int(r.header("Retry-After")) >= 1, "Retry-After")
        # Another client is not affected.
        other = self.b.client("acme", name="unlimited", roles="viewer")
        eq(self.token(self.c, other).status, 200, "another client")

    def test_rate_limit_holds_with_a_node_whose_clock_is_behind(self):
        """A node whose clock is 400 s behind the others' still has its
        tokens counted by them: the shared totals are timed on the
        database's clock. Before, the others took its rows for five minutes
        old, read none of them and deleted them at each push, so its share
        silently stopped counting."""
        d = Server(*self.a.extra, workdir=self.a.dir, env={"GATEHOUSE_CLOCK_OFFSET": "-400"},
                   start=False)
        self.nodes.append(d)
        try:
            d.start()
            c = self.a.client("acme", name="skewed", roles="viewer", rate_limit=6)
            time.sleep(1.0)     # the new node's first sharing round: only noted
            for i in range(5):
                eq(self.token(d, c).status, 200, "token %d on the node behind" % i)
            eq(self.token(self.a, c).status, 200, "the sixth, on another node")
            time.sleep(1.5)     # three sharing rounds
            for node in self.nodes:
                r = self.token(node, c)
                eq(r.status, 429, "over the limit on %d: %r" % (node.port, r))
        finally:
            self.nodes.remove(d)
            d.stop()

    def test_a_node_reports_its_clock_skew(self):
        """Each node measures its clock against the database server's:
        gatehouse_clock_skew_seconds, and clock.skew logged once when it
        passes leeway (30 s), as a node 400 s behind does."""
        def skew(node):
            for line in node.get("/metrics").body.decode().splitlines():
                if line.startswith("gatehouse_clock_skew_seconds "):
                    return float(line.split()[1])
            return None

        d = Server(*self.a.extra, workdir=self.a.dir, env={"GATEHOUSE_CLOCK_OFFSET": "-400"},
                   start=False)
        self.nodes.append(d)
        try:
            d.start()
            time.sleep(1.5)     # three sharing rounds, each reading the clock
            got = skew(d)
            check(got is not None and -402 <= got <= -398, "the node behind: %r" % got)
            got = skew(self.a)
            check(got is not None and -2 <= got <= 2, "a node in step: %r" % got)
            lines = [l for l in d.stderr().splitlines() if '"event":"clock.skew"' in l]
            eq(len(lines), 1, "logged once: %r" % lines)
            eq(json.loads(lines[0])["skew_seconds"] <= -398, True, "with the skew")
            check('"event":"clock.skew"' not in self.a.stderr(), "not by a node in step")
        finally:
            self.nodes.remove(d)
            d.stop()

    def test_counts_a_push_failed_to_share_are_shared_later(self):
        """Tokens taken while the shared counts could not be written (their
        table locked past the 5 s lock timeout) are shared once it can be:
        before, the failed push had already zeroed them, and the other
        nodes never counted them."""
        c = self.a.client("acme", name="pushed late", roles="viewer", rate_limit=4)
        holder = self.a.hold_writes("rate_totals")
        try:
            for i in range(4):
                eq(self.token(self.a, c).status, 200, "token %d on the first node" % i)
            time.sleep(6.5)     # a push waits out the lock timeout and fails
        finally:
            holder.release()
        time.sleep(2)           # the next rounds push and pull
        r = self.token(self.b, c)
        eq(r.status, 429, "the first node's 4 count on another: %r" % r)


if __name__ == "__main__":
    MultiNode().run()
