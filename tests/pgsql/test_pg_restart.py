"""Issue 8: PostgreSQL restarts under load. While it is down, requests that
need it fail fast with 503 and a clear error instead of hanging; the gate with
cached keys and revocations, and the JWKS, keep working; /readyz reports the
database. When it is back the node reconnects by itself. No token answered 200
is lost, and none is recorded twice. A lock held on the tokens table gets 503
after the 5 s lock_timeout, not a hang; a database that stops answering
cannot keep a stopping server alive past stop_timeout. Runs only against
PostgreSQL."""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import BACKEND, Server, Suite, basic, check, eq, jwt_parts  # noqa: E402

FAST = 1.0      # a request that needs the database answers within this while it is down


def pool_size_url(s, size):
    """s's store URL with our pool_size parameter (libpq's own tools, such
    as psql, refuse it)."""
    check("?" not in s.db, "a URL without parameters: " + s.db)
    s.db += "?pool_size=%d" % size


class Load:
    """Threads asking for tokens as fast as they are answered."""

    def __init__(self, s, c, threads=4):
        self.s, self.c = s, c
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []           # (t_start, elapsed, status, jti or None, body)
        self.th = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        h = {"Authorization": basic(self.c["client_id"], self.c["client_secret"]),
             "Content-Type": "application/x-www-form-urlencoded"}
        while not self.stop.is_set():
            t0 = time.time()
            try:
                r = self.s.request("POST", "/oauth/token", body="grant_type=client_credentials",
                                   headers=h)
                status, body = r.status, r.body
            except OSError as e:
                status, body = -1, str(e).encode()
            jti = None
            if status == 200:
                jti = jwt_parts(r.json()["access_token"])[1]["jti"]
            with self.lock:
                self.answers.append((t0, time.time() - t0, status, jti, body[:200]))

    def __enter__(self):
        for t in self.th:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.th:
            t.join(30)


class Restart(Suite):
    def setup(self):
        check(BACKEND == "postgresql", "run with GATEHOUSE_TEST_BACKEND=postgresql")
        # No rate limit: the load is the point.
        self.s = Server("--rate-limit", "0", policy="GET /v1/** role=viewer env=any\n")
        self.pg = harness.pg_server()

    def teardown(self):
        if self.pg.proc is None:
            self.pg.start()
        self.s.cleanup()

    def gate(self, tok):
        return self.gate_on(self.s, tok)

    def gate_on(self, s, tok):
        return s.get("/gate", headers={"X-Original-Method": "GET", "X-Original-URI": "/v1/x",
                                       "X-TENANT-ID": "acme", "Authorization": "Bearer " + tok})

    def test_restart_under_load(self):
        c = self.s.client("acme", name="loaded", roles="viewer")
        cached = self.s.token(c["client_id"], c["client_secret"]).json()["access_token"]
        eq(self.gate(cached).status, 200, "gate before")
        revoked = self.s.token(c["client_id"], c["client_secret"]).json()["access_token"]
        eq(self.s.post_form("/oauth/revoke", {"token": revoked},
                            headers={"Authorization": basic(c["client_id"],
                                                            c["client_secret"])}).status,
           200, "revoked before")
        eq(self.gate(revoked).status, 401, "revoked before")
        with Load(self.s, c) as load:
            time.sleep(1.0)
            self.pg.stop()                  # fast shutdown: sessions cut
            down_at = time.time()
            time.sleep(0.3)
            # Needs the database: fails fast, with a clear error.
            t0 = time.time()
            r = self.s.token(c["client_id"], c["client_secret"])
            eq(r.status, 503, "token while down: %r" % r)
            check(time.time() - t0 < FAST, "503 within %.1fs" % FAST)
            check(b"temporarily_unavailable" in r.body or b"unavailable" in r.body,
                  "a clear error: %r" % r.body)
            r = self.s.get("/readyz")
            eq(r.status, 503, "readyz while down: %r" % r)
            eq(r.json()["store"]["backend"], "postgresql", "readyz names the database")
            check("unavailable" in r.json()["store"]["status"], "readyz says why: %r" % r.body)
            # Does not need it: the gate from its caches, the JWKS.
            for _ in range(20):
                eq(self.gate(cached).status, 200, "cached token at the gate while down")
                eq(self.gate(revoked).status, 401, "cached revocation while down")
            eq(self.s.get("/.well-known/jwks.json").status, 200, "JWKS while down")
            eq(self.s.get("/healthz").status, 200, "alive while down")
            time.sleep(max(0.0, 2.0 - (time.time() - down_at)))
            self.pg.start()
            up_at = time.time()
            # Back by itself.
            deadline = time.time() + 10
            while self.s.token(c["client_id"], c["client_secret"]).status != 200:
                check(time.time() < deadline, "no reconnect within 10 s")
                time.sleep(0.1)
            back = time.time() - up_at
            r = self.s.get("/readyz")
            eq(r.status, 200, "readyz after: %r" % r.body)
            time.sleep(1.0)
        eq(self.gate(cached).status, 200, "gate after")
        print("  reconnected %.2fs after the server was back" % back)

        answers = load.answers
        down = [a for a in answers if down_at + 0.2 < a[0] < up_at]
        check(len(down) > 0, "requests were made while down")
        slow = [a for a in down if a[1] > FAST]
        check(not slow, "hung while down: %r" % slow[:3])
        statuses = {a[2] for a in down}
        check(statuses <= {503, 200}, "while down only 503 (or 200 before the cut): %r" % statuses)
        check(503 in statuses, "503s while down")
        after = [a for a in answers if a[0] > up_at + back + 0.5]
        check(after and all(a[2] == 200 for a in after), "all 200 again after reconnecting")
        # Durability: every token answered 200 is recorded, once.
        issued = [a[3] for a in answers if a[2] == 200]
        check(len(issued) > 50, "load issued tokens (%d)" % len(issued))
        eq(len(set(issued)), len(issued), "no jti answered twice")
        rows = {r[0] for r in self.s.sql("SELECT id FROM tokens WHERE client_id = ?",
                                         (c["client_id"],))}
        missing = [j for j in issued if j not in rows]
        eq(missing, [], "answered tokens that are not recorded")
        dup = self.s.sql("SELECT count(*) - count(DISTINCT id) FROM tokens")
        eq(dup[0][0], "0", "no record twice")
        print("  %d answers, %d while down (max %.3fs), %d tokens recorded"
              % (len(answers), len(down), max(a[1] for a in down), len(rows)))

    def readyz_burst(self, n=16):
        """n concurrent /readyz: each reads the schema version through the
        pool, so together they take every pooled connection."""
        out = []
        th = [threading.Thread(target=lambda: out.append(self.s.get("/readyz")))
              for _ in range(n)]
        for t in th:
            t.start()
        for t in th:
            t.join(30)
        return out

    def test_idle_pooled_connections_survive_a_restart(self):
        # A connection the outage never touched still holds the server's
        # FATAL and its close; the first request to take it must reconnect,
        # not fail (a CI run got 503 from /readyz right after recovery).
        name = urllib.parse.urlparse(self.s.db).path.lstrip("/")
        for _ in range(20):     # until every pooled connection is open
            before = self.readyz_burst()
            eq([r.status for r in before], [200] * len(before), "ready before")
            held = int(self.pg.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                "AND application_name = 'gatehouse'" % name))
            if held >= 5:       # the pool's 4 and the listener
                break
        # Four workers take at most four at once: the pool may not fill,
        # but more than one pooled connection must be idle through the
        # restart for the test to mean anything.
        check(held >= 3, "pooled connections were opened (%d held)" % held)
        self.pg.stop()
        self.pg.start()
        # Back once one request is served (as in the CI run: a token, then
        # /readyz); from then on every pooled connection must serve.
        deadline = time.time() + 5
        while self.s.get("/readyz").status != 200:
            check(time.time() < deadline, "not ready within 5 s of the restart")
            time.sleep(0.05)
        for attempt in range(3):
            after = self.readyz_burst()
            bad = [(r.status, r.body[:400]) for r in after if r.status != 200]
            eq(bad, [], "burst %d after the restart" % attempt)

    def test_every_503_while_down_says_when_to_retry(self):
        # Every request that needs the database while it is away is answered
        # 503 at once and with Retry-After, whichever route it took: a
        # client (ours among them) retries a POST after a 503 only when the
        # answer says when. Before, only the offload queue's and the token
        # record's 503s said so: a token request whose client was not yet
        # in memory, a gate check of a token not yet cached, and the admin
        # and approvals APIs answered 503 without it.
        adm = self.s.bootstrap
        admin = self.s.token(adm["client_id"], adm["client_secret"]).json()["access_token"]
        seen = self.s.client("acme", name="seen", roles="viewer")
        tok = self.s.token(seen["client_id"], seen["client_secret"]).json()["access_token"]
        bearer = {"Authorization": "Bearer " + admin, "X-TENANT-ID": "platform"}
        eq(self.s.get("/admin/v1/clients", headers=bearer).status, 200, "admin API before")
        # A change empties the caches: tok's client is not in memory.
        c = self.s.client("acme", name="uncached", roles="viewer")
        time.sleep(1.5)        # loaded by the server's once-a-second refresh
        self.pg.stop()
        try:
            self.ask_while_down(c, tok, bearer)
        finally:
            self.pg.start()
            deadline = time.time() + 5
            while self.s.get("/readyz").status != 200 and time.time() < deadline:
                time.sleep(0.05)

    def ask_while_down(self, c, tok, bearer):
        time.sleep(0.3)
        asks = [
            ("token, client not in memory", lambda: self.s.token(c["client_id"],
                                                                 c["client_secret"])),
            ("gate, token not cached", lambda: self.gate(tok)),
            ("admin API", lambda: self.s.get("/admin/v1/clients", headers=bearer)),
            ("approvals API", lambda: self.s.get("/approvals", headers=bearer)),
            ("readyz", lambda: self.s.get("/readyz")),
        ]
        for what, ask in asks:
            t0 = time.time()
            r = ask()
            eq(r.status, 503, "%s while down: %r" % (what, r))
            check(time.time() - t0 < FAST, "%s: 503 at once" % what)
            eq(r.header("Retry-After"), "1", "%s: Retry-After (%r)" % (what, r.headers))

    def test_a_stalled_listener_does_not_hide_changes_for_long(self):
        # The backend that serves the node's LISTEN connection stops (a
        # stalled backend whose host still acknowledges TCP: here SIGSTOP),
        # while the database serves everything else. Its notifications
        # and re-reads stop; the node must notice within a few seconds and
        # read the change counters another way. Before, the re-read waited
        # the whole query_timeout_ms (30 s) for an answer, and all that time
        # the node took its cached counters as current: a client disabled
        # meanwhile kept passing the gate and getting tokens.
        s = Server(start=False, policy="GET /v1/** role=viewer env=any\n")
        check("?" not in s.db, "a URL without parameters")
        s.db += "?resync_ms=300"
        stopped = None
        try:
            s.start()
            c = s.client("acme", name="stalled", roles="viewer")
            tok = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            eq(self.gate_on(s, tok).status, 200, "the token at the gate")
            time.sleep(1.0)
            # The listener re-reads every 300 ms: its generation read is the
            # gatehouse session's most recent statement of that text.
            name = urllib.parse.urlparse(s.db).path.lstrip("/")
            pid = self.pg.psql(
                "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND "
                "application_name = 'gatehouse' AND query LIKE 'SELECT (SELECT value FROM meta%%' "
                "ORDER BY query_start DESC LIMIT 1" % name)
            check(pid.isdigit(), "the listener's backend: %r" % pid)
            stopped = int(pid)
            os.kill(stopped, signal.SIGSTOP)
            time.sleep(0.5)
            s.cli("client", "disable", c["client_id"])
            t0 = time.time()
            while self.gate_on(s, tok).status != 401:
                check(time.time() - t0 < 5, "the disabled client's token still passes the gate "
                      "%.1fs after the change" % (time.time() - t0))
                time.sleep(0.1)
            eq(s.token(c["client_id"], c["client_secret"]).status, 400, "and gets no token")
        finally:
            if stopped is not None:
                os.kill(stopped, signal.SIGCONT)
            s.cleanup()

    def test_a_database_back_behind_the_node_still_reaches_it(self):
        # A database that comes back with change counters lower than the
        # node last saw (restored from a backup, or a replica promoted
        # before it had the last commits) is the one the node serves from
        # now on: a change made there reaches the node within the bound.
        # Before, the node kept the highest counter it had ever seen and
        # took nothing below it as a change: a client disabled after the
        # failover kept its tokens at the gate and got new ones until as
        # many changes had been made as the database had lost.
        c = self.s.client("acme", name="failover", roles="viewer")
        tok = self.s.token(c["client_id"], c["client_secret"]).json()["access_token"]
        eq(self.gate(tok).status, 200, "the token at the gate")
        before = self.s.get("/readyz").json()["store"]
        # The last five changes of each kind are not in the database that
        # comes back.
        self.s.sql("UPDATE meta SET value = value - 5 WHERE key IN "
                   "('generation', 'revocation_generation')")
        self.pg.stop()
        self.pg.start()
        deadline = time.time() + 5
        while self.s.get("/readyz").status != 200:
            check(time.time() < deadline, "not ready within 5 s of the restart")
            time.sleep(0.05)
        self.s.cli("client", "disable", c["client_id"])
        t0 = time.time()
        while self.gate(tok).status != 401:
            check(time.time() - t0 < 3, "the token of the client disabled after the restart "
                  "still passes the gate (generation was %d)" % before["generation"])
            time.sleep(0.05)
        r = self.s.token(c["client_id"], c["client_secret"])
        eq(r.status, 400, "the disabled client gets no token: %r" % r)

    def test_lock_held_gets_503_not_a_hang(self):
        c = self.s.client("acme", name="locked out by a lock", roles="viewer")
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "before")
        holder = subprocess.Popen([os.path.join(self.pg.bin, "psql"), "-X", "-q", "-A", "-t",
                                   "-d", self.s.db],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            holder.stdin.write(b"BEGIN; LOCK TABLE tokens IN EXCLUSIVE MODE; SELECT 'held';\n")
            holder.stdin.flush()
            check(b"held" in holder.stdout.readline(), "the lock is held")
            t0 = time.time()
            r = self.s.token(c["client_id"], c["client_secret"])
            took = time.time() - t0
            eq(r.status, 503, "token while the table is locked: %r" % r)
            # One lock timeout: the audit row and the record share a commit.
            check(4.0 < took < 9.0, "answered after one lock timeout (%.1fs)" % took)
        finally:
            holder.stdin.close()        # psql ends: the transaction rolls back
            holder.wait(30)
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "after")

    def hang_sessions(self, s):
        """Stops (SIGSTOP) the database sessions of server s: they stop
        answering while the kernel still acknowledges, so no timeout of the
        connection notices. Returns their pids, for SIGCONT."""
        name = urllib.parse.urlparse(s.db).path.lstrip("/")
        pids = [int(p) for p in self.pg.psql(
            "SELECT pid FROM pg_stat_activity WHERE datname = '%s' "
            "AND application_name = 'gatehouse'" % name).split()]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        check(pids, "the server's sessions were found")
        return pids

    def hung_token_request(self, s, c):
        t = threading.Thread(target=lambda: s.request(
            "POST", "/oauth/token", body="grant_type=client_credentials",
            headers={"Authorization": basic(c["client_id"], c["client_secret"]),
                     "Content-Type": "application/x-www-form-urlencoded"}), daemon=True)
        t.start()
        time.sleep(0.5)

    def test_a_hung_database_gets_503_not_a_hang(self):
        # Sessions that stop answering while the kernel still acknowledges
        # (a backend stuck on a stalled disk): no TCP timeout notices, and
        # before query_timeout_ms the token request waited with them.
        s = Server(start=False)
        s.db += ("&" if "?" in s.db else "?") + "query_timeout_ms=1500"
        s.start()
        stopped = []
        try:
            c = s.client("acme", name="hung", roles="viewer")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "before")
            stopped = self.hang_sessions(s)
            t0 = time.time()
            r = s.token(c["client_id"], c["client_secret"])
            took = time.time() - t0
            eq(r.status, 503, "token while the database hangs: %r" % r)
            check(1.0 < took < 6.0, "answered after the query timeout (%.1fs)" % took)
            eq(r.header("Retry-After"), "1", "Retry-After")
            check("did not answer within 1500 ms" in s.stderr(),
                  "the log says why: " + s.stderr()[-800:])
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            stopped = []
            # The timed-out connections were dropped: fresh ones serve.
            deadline = time.time() + 10
            while s.token(c["client_id"], c["client_secret"]).status != 200:
                check(time.time() < deadline, "no recovery within 10 s")
                time.sleep(0.1)
            eq(s.get("/readyz").status, 200, "ready again")
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            s.cleanup()

    def test_a_read_that_waits_holds_up_no_other_request(self):
        # One HTTP loop, so that every request below shares it. A token
        # request for a client not yet in memory, a wrong secret for a
        # cached one (its failure is counted in the store), a gate check of
        # an opaque token not yet in the gate's cache and an admin API call
        # must use tables that another session holds locked; they wait for
        # the lock (up to the 5 s lock_timeout) on offload threads, not on
        # the loop.
        # Before, the health check, the JWKS and a gate check of a cached
        # token all waited with them.
        s = Server("--threads", "1", policy="GET /v1/** role=viewer env=any\n")
        holder = None
        try:
            a = s.client("acme", name="cached", roles="viewer")
            b = s.client("acme", name="uncached", roles="viewer")
            o = s.client("acme", name="opaque", roles="viewer", token_format="opaque")
            r = s.token(a["client_id"], a["client_secret"])
            eq(r.status, 200, "a's token")
            tok = r.json()["access_token"]
            r = s.token(o["client_id"], o["client_secret"])
            eq(r.status, 200, "the opaque token")
            opaque = r.json()["access_token"]
            r = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"])
            eq(r.status, 200, "the admin's token")
            admin = {"Authorization": "Bearer " + r.json()["access_token"]}

            def gate(tok):
                return self.gate_on(s, tok)
            eq(gate(tok).status, 200, "a's token at the gate")
            holder = s.hold_writes("clients, client_secrets, tokens, lock_failures")
            answers = {}
            t0 = time.time()
            waiting = [threading.Thread(target=lambda: answers.setdefault(
                           "token", s.token(b["client_id"], b["client_secret"])), daemon=True),
                       threading.Thread(target=lambda: answers.setdefault(
                           "gate", gate(opaque)), daemon=True),
                       threading.Thread(target=lambda: answers.setdefault(
                           "admin", s.get("/admin/v1/clients", headers=admin)), daemon=True),
                       threading.Thread(target=lambda: answers.setdefault(
                           "wrong", s.token(a["client_id"], "not-the-secret")), daemon=True)]
            for t in waiting:
                t.start()
            time.sleep(0.5)
            check(not answers, "all four wait for the lock: %r" % answers)
            for name, call in (("/healthz", lambda: s.get("/healthz")),
                               ("/.well-known/jwks.json", lambda: s.get("/.well-known/jwks.json")),
                               ("the gate, a cached token", lambda: gate(tok))):
                t1 = time.time()
                eq(call().status, 200, name)
                took = time.time() - t1
                check(took < FAST, "%s answered while the others wait (%.2fs)" % (name, took))
            check(not answers, "they still wait")
            for t in waiting:
                t.join(30)
            eq(sorted(answers), ["admin", "gate", "token", "wrong"], "all four were answered")
            for name in ("admin", "gate", "token"):
                eq(answers[name].status, 503, "%s, after the lock timeout" % name)
            # The count falls back to this node's memory; the answer stands.
            eq(answers["wrong"].status, 401, "the wrong secret, after the lock timeout")
            check(time.time() - t0 > 4.0, "they waited for the lock timeout")
        finally:
            self.unlock_tables(holder)
            s.cleanup()

    def counter_moved(self, s, before, name):
        """/readyz's store once its change counter name has moved past
        before's (5 s at most)."""
        deadline = time.time() + 5
        while True:
            after = s.get("/readyz").json()["store"]
            if after[name] > before[name] or time.time() > deadline:
                break
            time.sleep(0.05)
        check(after[name] > before[name], "%s moved: %r -> %r" % (name, before, after))
        return after

    def unlock_tables(self, holder):
        if holder is not None:
            holder.release()

    def test_a_change_to_load_holds_up_no_other_request(self):
        # A change made elsewhere (here the CLI's) is loaded before the
        # requests that use the caches go on, and loading it reads the
        # signing keys and the locks, which another session holds locked
        # here. The token requests that see the change wait for it on
        # offload threads (up to the 5 s lock timeout); the loop, one for
        # every connection, serves the health checks meanwhile. Before, the
        # first request on the loop to see the change loaded it there, and
        # the others waited a second each for that load.
        s = Server("--threads", "1")
        holder = None
        try:
            a = s.client("acme", name="cached", roles="viewer")
            eq(s.token(a["client_id"], a["client_secret"]).status, 200, "a's first token")
            holder = s.hold_writes("signing_keys, locks")
            s.tenant("moved")   # the generation moves; every node must reload
            stop, answers = threading.Event(), []

            def load():
                while not stop.is_set():
                    t0 = time.time()
                    r = s.token(a["client_id"], a["client_secret"])
                    answers.append((r.status, time.time() - t0))
            th = threading.Thread(target=load, daemon=True)
            th.start()
            slowest = 0.0
            try:
                time.sleep(0.3)
                for _ in range(8):
                    t1 = time.time()
                    eq(s.get("/healthz").status, 200, "/healthz")
                    slowest = max(slowest, time.time() - t1)
                    time.sleep(0.4)
            finally:
                stop.set()
            check(slowest < 0.5, "/healthz answered at once while the change waits "
                  "(slowest %.2fs)" % slowest)
            th.join(30)
            check(answers and all(st == 200 for st, _ in answers),
                  "the tokens are issued: %d answers, not 200: %r" %
                  (len(answers), [a for a in answers if a[0] != 200][:5]))
            check(max(t for _, t in answers) > 0.9,
                  "a token request waited for the change: %r" % answers[:5])
            check("keys.reload_failed" in s.stderr(), "the failed load is logged")
            self.unlock_tables(holder)
            holder = None
            # Loaded once the tables are free: the new tenant's client works.
            c = s.client("moved", name="after", roles="viewer")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "after the lock")
        finally:
            self.unlock_tables(holder)
            s.cleanup()

    def test_a_lock_made_empties_no_cache(self):
        # A lock made by a brute force moves the locks' own generation, not
        # the data's: no node empties its client cache (or its gate cache,
        # or reloads its keys) for it. With the clients table held locked by
        # another session, a cached client's token is issued at once while
        # a lock is made and loaded; before, the lock emptied the client
        # cache and that request waited out the 5 s lock timeout for a 503.
        s = Server("--trusted-proxies", "127.0.0.1")
        holder = None
        try:
            a = s.client("acme", name="cached", roles="viewer")
            eq(s.token(a["client_id"], a["client_secret"]).status, 200, "a's first token")
            before = s.get("/readyz").json()["store"]
            holder = s.hold_writes("clients, client_secrets")
            guesser = {"Authorization": basic(a["client_id"], "not-the-secret"),
                       "X-Forwarded-For": "198.51.100.7"}
            for i in range(5):      # lockout_pair_threshold
                r = s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                                headers=guesser)
                eq(r.status, 401, "guess %d" % i)
            r = s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers={"Authorization": basic(a["client_id"], a["client_secret"]),
                                     "X-Forwarded-For": "198.51.100.7"})
            eq(r.status, 429, "the pair is locked, the right secret too: %r" % r)
            after = self.counter_moved(s, before, "lock_generation")
            eq(after["generation"], before["generation"], "the data generation stays")
            t0 = time.time()
            r = s.token(a["client_id"], a["client_secret"])
            took = time.time() - t0
            eq(r.status, 200, "a's token from its own address: %r" % r)
            check(took < FAST, "from the cache, at once (%.2fs)" % took)
        finally:
            self.unlock_tables(holder)
            s.cleanup()

    def test_a_revocation_empties_only_the_gates_cache(self):
        # A revocation moves its own generation: nodes drop their gate
        # caches (the revoked token is refused at once) but keep their
        # clients and keys. Once the node has taken a revocation by the CLI
        # in, another client's token is issued from the cache at once even
        # with the clients table held locked; before, the revocation had
        # emptied the client cache and that request waited out the 5 s lock
        # timeout for a 503.
        s = Server(policy="GET /v1/** role=viewer env=any\n")
        holder = None
        try:
            a = s.client("acme", name="cached", roles="viewer")
            b = s.client("acme", name="revoker", roles="viewer")
            eq(s.token(a["client_id"], a["client_secret"]).status, 200, "a's first token")
            r = s.token(b["client_id"], b["client_secret"])
            eq(r.status, 200, "b's token")
            tok = r.json()["access_token"]
            eq(self.gate_on(s, tok).status, 200, "b's token at the gate")
            before = s.get("/readyz").json()["store"]
            s.cli("token", "revoke", "--id", jwt_parts(tok)[1]["jti"])
            after = self.counter_moved(s, before, "revocation_generation")
            eq(after["generation"], before["generation"], "the data generation stays")
            g = self.gate_on(s, tok)
            eq(g.status, 401, "the revoked token at the gate, at once: %r" % g)
            holder = s.hold_writes("clients, client_secrets")
            t0 = time.time()
            r = s.token(a["client_id"], a["client_secret"])
            took = time.time() - t0
            eq(r.status, 200, "a's token: %r" % r)
            check(took < FAST, "from the cache, at once (%.2fs)" % took)
        finally:
            self.unlock_tables(holder)
            s.cleanup()

    def test_one_offload_thread_per_pooled_connection(self):
        # The threads that run requests waiting on the database: as many
        # as the node has connections to give them (pool_size), as ps -L
        # shows them.
        for size in (2, 6):
            s = Server(start=False)
            pool_size_url(s, size)
            try:
                s.start()
                tasks = "/proc/%d/task" % s.proc.pid
                names = []
                for tid in os.listdir(tasks):
                    with open(os.path.join(tasks, tid, "comm")) as f:
                        names.append(f.read().strip())
                eq(names.count("offload"), size, "offload threads with pool_size=%d: %r"
                   % (size, sorted(names)))
                c = s.client("acme", name="pooled", roles="viewer")
                eq(s.token(c["client_id"], c["client_secret"]).status, 200, "a token")
            finally:
                s.cleanup()

    def test_a_full_offload_queue_gets_503_at_once_and_is_audited(self):
        # One connection, so one offload thread, and room for one request
        # waiting for it (offload_queue). With the clients table locked, a
        # token request for a client not in memory holds the thread, a
        # second waits in the queue, and a third is refused at once: 503
        # with Retry-After, and a token.refused row in the audit trail
        # (queued, not waited for, as the store is what is slow). So is a
        # gate check that must read the store: 503, and a gate.refused row.
        s = Server("--threads", "1", "--offload-queue", "1", start=False,
                   policy="GET /v1/** role=viewer env=any\n")
        pool_size_url(s, 1)
        holder = None
        try:
            s.start()
            cs = [s.client("acme", name="c%d" % i, roles="viewer") for i in range(3)]
            o = s.client("acme", name="opaque", roles="viewer", token_format="opaque")
            r = s.token(o["client_id"], o["client_secret"])
            eq(r.status, 200, "the opaque token")
            opaque = r.json()["access_token"]
            holder = s.hold_writes("clients")
            answers = {}

            def ask(i):
                answers[i] = s.token(cs[i]["client_id"], cs[i]["client_secret"])
            waiting = []
            for i in (0, 1):
                waiting.append(threading.Thread(target=ask, args=(i,), daemon=True))
                waiting[-1].start()
                time.sleep(0.5)     # taken by the thread, then queued
            t0 = time.time()
            r = s.token(cs[2]["client_id"], cs[2]["client_secret"])
            took = time.time() - t0
            eq(r.status, 503, "the third, past the queue: %r" % r)
            check(took < FAST, "refused at once (%.2fs)" % took)
            eq(r.header("Retry-After"), "1", "Retry-After")
            eq(r.json()["error"], "temporarily_unavailable", "the error")
            t0 = time.time()
            g = self.gate_on(s, opaque)
            eq(g.status, 503, "a gate check past the queue: %r" % g)
            check(time.time() - t0 < FAST, "refused at once")
            eq(g.header("Retry-After"), "1", "the gate's Retry-After")
            check(not answers, "the first two still wait: %r" % answers)
            self.unlock_tables(holder)
            holder = None
            for t in waiting:
                t.join(30)
            eq([answers[i].status for i in (0, 1)], [200, 200], "the first two, once free")
            rows = s.cli("audit", "list", "--limit", "1000")
            refused = [row for row in rows if row["action"] == "token.refused" and
                       row["actor"] == cs[2]["client_id"]]
            eq(len(refused), 1, "one refusal row for the third: %r" % refused)
            check("temporarily_unavailable" in refused[0]["detail"] and
                  "busy" in refused[0]["detail"], "its reason: " + refused[0]["detail"])
            gate = [row for row in rows if row["action"] == "gate.refused"]
            eq(len(gate), 1, "one gate refusal row: %r" % gate)
            eq(gate[0]["target"], "GET /v1/x", "the call it refused")
            check(gate[0]["detail"].startswith("503 store:"), "its reason: " + gate[0]["detail"])
        finally:
            self.unlock_tables(holder)
            s.cleanup()

    def test_a_slow_database_does_not_queue_requests_for_minutes(self):
        # One connection, so one offload thread, and the clients table held
        # locked: each request for a client not in memory waits out the
        # 5 s lock_timeout there. The ones queued behind it are not each
        # given their own 5 s in turn (the fifth answered after 25 s, and
        # with the default queue of 4096 the last after hours, long after
        # its client gave up): one that has waited past the bound is
        # answered 503 with Retry-After when its turn comes, without the
        # database, and audited as a refusal.
        s = Server(start=False, policy="GET /v1/** role=viewer env=any\n")
        pool_size_url(s, 1)
        holder = None
        try:
            s.start()
            cs = [s.client("acme", name="q%d" % i, roles="viewer") for i in range(5)]
            holder = s.hold_writes("clients")
            answers = {}

            def ask(i):
                t0 = time.time()
                r = s.token(cs[i]["client_id"], cs[i]["client_secret"])
                answers[i] = (r, time.time() - t0)
            th = []
            for i in range(5):
                th.append(threading.Thread(target=ask, args=(i,), daemon=True))
                th[-1].start()
                time.sleep(0.1)
            for t in th:
                t.join(60)
            eq(sorted(answers), list(range(5)), "every request answered")
            # The first holds the thread for its own lock waits; the others,
            # late by then, are answered as soon as it is free, not each
            # after another round of lock waits (before: 5 s apart).
            first_done = answers[0][1]
            for i in range(5):
                r, took = answers[i]
                eq(r.status, 503, "request %d: %r" % (i, r))
                eq(r.header("Retry-After"), "1", "request %d: Retry-After" % i)
                check(took - i * 0.1 < first_done + 2, "request %d answered %.1fs after the "
                      "first's %.1fs: queued behind the others' lock waits"
                      % (i, took, first_done))
            self.unlock_tables(holder)
            holder = None
            rows = s.cli("audit", "list", "--action", "token.refused", "--limit", "1000")
            busy = [row for row in rows if "busy" in row["detail"]]
            check(len(busy) >= 3, "the late ones are refusals on the trail: %r" % rows)
            for c in cs:
                eq(s.token(c["client_id"], c["client_secret"]).status, 200, "once free")
        finally:
            self.unlock_tables(holder)
            s.cleanup()

    def test_stop_is_bounded_when_the_database_hangs(self):
        s = Server("--stop-timeout", "2")
        stopped = []
        try:
            c = s.client("acme", name="hung", roles="viewer")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "before")
            stopped = self.hang_sessions(s)
            self.hung_token_request(s, c)
            t0 = time.time()
            eq(s.stop(timeout=20, expect=1), 1, "exit status")
            took = time.time() - t0
            check(1.5 < took < 6.0, "stopped after stop_timeout (%.1fs)" % took)
            check("server.stopping" in s.stderr(), "the stop was logged")
            check("server.stop_timeout" in s.stderr(), "says why: " + s.stderr()[-500:])
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            s.cleanup()

    def test_second_stop_signal_ends_it_at_once(self):
        s = Server("--stop-timeout", "60")
        stopped = []
        try:
            c = s.client("acme", name="impatient", roles="viewer")
            stopped = self.hang_sessions(s)
            self.hung_token_request(s, c)
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            t0 = time.time()
            eq(s.stop(sig=signal.SIGINT, timeout=20, expect=1), 1, "exit status")
            check(time.time() - t0 < 3.0, "at once (%.1fs)" % (time.time() - t0))
            check("server.stop_forced" in s.stderr(), "says so: " + s.stderr()[-500:])
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            s.cleanup()

if __name__ == "__main__":
    Restart().run()
