"""Issue 8, operations: `gatehouse migrate`, `gatehouse store copy --from
sqlite:... --to postgresql://...` (every row, the audit chain verified equal
on both sides under the master key, which must be the trail's, the platform
working on PostgreSQL with the same master key),
and the clear one-line errors at start for a malformed or unreachable URL,
wrong credentials and a newer schema (never a half-started node). Runs only
against PostgreSQL."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import BACKEND, BIN, Server, Suite, basic, check, eq, jwt_parts  # noqa: E402

POLICY = "GET /v1/** role=viewer env=any\n"


def run(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN] + list(args), capture_output=True, env=e, timeout=120)


class StoreOps(Suite):
    def setup(self):
        check(BACKEND == "postgresql", "run with GATEHOUSE_TEST_BACKEND=postgresql")
        self.pg = harness.pg_server()

    def gate(self, s, tok):
        return s.get("/gate", headers={"X-Original-Method": "GET", "X-Original-URI": "/v1/x",
                                       "X-TENANT-ID": "acme", "Authorization": "Bearer " + tok})

    def test_migrate(self):
        url = self.pg.new_database()
        p = run("migrate", "--db", url)
        eq(p.returncode, 0, "migrate: " + p.stderr.decode())
        out = json.loads(p.stdout)
        eq(out["backend"], "postgresql", "backend")
        eq(out["schema_version"], out["latest"], "at the latest version")
        eq(self.pg.psql("SELECT count(*) FROM schema_version", db=url.rsplit("/", 1)[1]),
           str(out["latest"]), "one row per migration")
        p = run("migrate", "--db", url)          # again: nothing to do
        eq((p.returncode, json.loads(p.stdout)), (0, out), "idempotent")
        # A newer schema: refused, by migrate and by serve.
        self.pg.psql("INSERT INTO schema_version VALUES (999)", db=url.rsplit("/", 1)[1])
        p = run("migrate", "--db", url)
        eq(p.returncode, 1, "newer schema refused")
        check(b"newer than this binary knows" in p.stderr, p.stderr.decode())
        s = Server(start=False)
        s.db = url
        try:
            t0 = time.time()
            check(s.start(expect_fail=True) != 0, "serve refuses a newer schema")
            check(time.time() - t0 < 10, "at once")
            check("newer than this binary knows" in s.stderr(), s.stderr())
        finally:
            s.cleanup()

    def test_migration_gives_up_on_a_held_lock(self):
        """A migration statement waits a bounded time for its lock, tries a
        few times, then fails with a clear error: a DDL statement queued for
        ever behind another session's transaction would queue every node's
        queries on that table behind itself."""
        url = self.pg.new_database()
        db = url.rsplit("/", 1)[1]
        holder = self.pg.session(db)
        try:
            # An open transaction that created the table migrate creates
            # first: its CREATE waits for this transaction to end.
            self.pg.session_run(holder, "BEGIN; CREATE TABLE schema_version (version integer);")
            t0 = time.time()
            p = run("migrate", "--db", url)
            took = time.time() - t0
            err = p.stderr.decode()
            eq(p.returncode, 1, "migrate gives up: " + err)
            check("lock timeout" in err and "3 tries, 2 s each" in err and
                  "another session holds a lock" in err, err)
            check(5 < took < 30, "three bounded waits, not for ever: %.1f s" % took)
            # serve refuses to start the same way, and nothing was written.
            s = Server(start=False)
            s.db = url
            try:
                check(s.start(expect_fail=True) != 0, "serve refuses")
                check("another session holds a lock" in s.stderr(), s.stderr())
            finally:
                s.cleanup()
        finally:
            self.pg.close_session(holder)
        eq(self.pg.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", db=db),
           "0", "the rolled-back holder and the failed migrations left no table")
        # The lock gone, the same command brings the schema up.
        p = run("migrate", "--db", url)
        eq(p.returncode, 0, "migrate once the lock is free: " + p.stderr.decode())
        out = json.loads(p.stdout)
        eq(out["schema_version"], out["latest"], "at the latest version")

    def test_migration_lock_wait_is_bounded(self):
        """A node starting while another holds the migration lock waits for
        it (a migration of a big table takes time), but only migrate_wait_s:
        a lock left by a stuck session makes it refuse to start, naming the
        session, instead of hanging without a word."""
        url = self.pg.new_database()
        db = url.rsplit("/", 1)[1]
        holder = self.pg.session(db)
        try:
            pid = self.pg.session_run(holder, "SELECT pg_backend_pid(); "
                                      "SELECT pg_advisory_lock(7452914630741);").split("\n")[0]
            t0 = time.time()
            p = run("migrate", "--db", url + "?migrate_wait_s=2")
            took = time.time() - t0
            err = p.stderr.decode()
            eq(p.returncode, 1, "migrate gives up: " + err)
            check("cannot take the migration lock" in err and "migrate_wait_s (2 s)" in err, err)
            check("backend pid %s, application 'psql'" % pid in err, "names the holder: " + err)
            check(1.5 < took < 15, "waited about migrate_wait_s: %.1f s" % took)
            eq(len(err.strip().split("\n")), 1, "one line")
            # Released while a node waits: the node goes on and migrates.
            w = subprocess.Popen([BIN, "migrate", "--db", url + "?migrate_wait_s=60"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1.5)
            check(w.poll() is None, "still waiting for the lock")
            self.pg.session_run(holder, "SELECT pg_advisory_unlock(7452914630741);")
            out, err = w.communicate(timeout=60)
            eq(w.returncode, 0, "migrates once the lock is free: " + err.decode())
            out = json.loads(out)
            eq(out["schema_version"], out["latest"], "at the latest version")
        finally:
            self.pg.close_session(holder)
        p = run("migrate", "--db", url + "?migrate_wait_s=0")
        eq(p.returncode, 1, "migrate_wait_s=0 refused")
        check("migrate_wait_s must be an integer from 1 to 86400" in p.stderr.decode(),
              p.stderr.decode())

    def test_two_nodes_first_start_at_once(self):
        """Two nodes started together on a fresh database both serve, and
        one of them makes the platform tenant and its admin client. Both
        found no tenant, both made "platform", and the one that came second
        refused to start ("tenant platform already exists"). A session
        holding the tenants table lets both find it empty before either
        writes, as two nodes starting in the same instant do."""
        url = self.pg.new_database()
        db = url.rsplit("/", 1)[1]
        eq(run("migrate", "--db", url).returncode, 0, "migrated")
        a = Server(start=False)
        a.db = url
        b = Server(start=False, workdir=a.dir)
        b.db = url
        # The master key made beforehand: this is about the store.
        fd = os.open(a.master, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        holder = self.pg.session(db)
        failed = {}

        def start(name, s):
            try:
                s.start()
            except Exception as e:      # noqa: BLE001 (reported below)
                failed[name] = str(e)
        try:
            # Readers pass (each node lists the tenants); an insert waits.
            self.pg.session_run(holder, "BEGIN; LOCK TABLE tenants IN SHARE MODE;")
            threads = [threading.Thread(target=start, args=(n, s)) for n, s in (("a", a), ("b", b))]
            for t in threads:
                t.start()
            deadline = time.time() + 20
            while time.time() < deadline and self.pg.psql(
                    "SELECT count(*) FROM pg_locks WHERE relation = 'tenants'::regclass"
                    " AND NOT granted", db=db) != "2":
                time.sleep(0.05)
            self.pg.session_run(holder, "COMMIT;")
            for t in threads:
                t.join(60)
            eq(failed, {}, "both nodes start")
            eq(self.pg.psql("SELECT count(*) FROM tenants WHERE id = 'platform'", db=db), "1",
               "one platform tenant")
            eq(self.pg.psql("SELECT count(*) FROM clients WHERE tenant_id = 'platform'", db=db),
               "1", "one admin client")
            boot = a.bootstrap or b.bootstrap
            check(boot is not None and not (a.bootstrap and b.bootstrap),
                  "one node shows the admin secret")
            for s in (a, b):
                eq(s.token(boot["client_id"], boot["client_secret"]).status, 200,
                   "the admin client works on each node")
        finally:
            self.pg.close_session(holder)
            b.stop()
            a.cleanup()

    def test_bad_urls_fail_at_start(self):
        good = self.pg.new_database()
        user_pw = good.split("//", 1)[1].split("@", 1)[0]
        cases = [
            ("postgresql://h:notaport/db", "invalid integer value"),
            ("postgresql://u@127.0.0.1:1/gh", "cannot connect to PostgreSQL"),
            (good.replace(user_pw, "gatehouse:wrong-pw"), "password authentication failed"),
            (good + "?pool_size=0", "pool_size must be an integer"),
            (good + "?bogus=1", "malformed database URL"),
        ]
        for url, words in cases:
            s = Server(start=False)
            s.db = url
            try:
                t0 = time.time()
                rc = s.start(expect_fail=True)
                err = s.stderr()
                check(rc != 0, "%s: serve must refuse" % url)
                check(time.time() - t0 < 10, "%s: at once" % url)
                check(words in err, "%s: %r not in %r" % (url, words, err))
                lines = [l for l in err.splitlines() if "gatehouse" in l and words in l]
                eq(len(lines), 1, "%s: one line" % url)
                check("wrong-pw" not in err, "no password in the error")
            finally:
                s.cleanup()

    def test_copy_from_no_store_fails(self):
        # A mistyped --from used to be opened as a new, empty SQLite store:
        # nothing copied, the empty chains "verified", exit 0.
        d = tempfile.mkdtemp()
        missing = os.path.join(d, "no-such-store.db")
        key = os.path.join(d, "master.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        try:
            to = self.pg.new_database()
            p = run("store", "copy", "--from", "sqlite:" + missing, "--to", to,
                    "--master-key", key)
            eq(p.returncode, 1, "refused: %r" % p.stderr)
            check(b"does not exist" in p.stderr and missing.encode() in p.stderr,
                  p.stderr.decode())
            eq(p.stdout, b"", "no result printed")
            check(not os.path.exists(missing), "no source made")
            eq(self.pg.psql("SELECT count(*) FROM information_schema.tables WHERE table_name ="
                            " 'audit'", db=to.rsplit("/", 1)[1]), "0", "the target untouched")
        finally:
            shutil.rmtree(d)

    def test_copy_sqlite_to_postgresql(self):
        # A platform on SQLite, with some history.
        s = Server("--issuer", "https://gh.test", "--trusted-proxies", "127.0.0.1",
                   policy=POLICY, start=False)
        s.db = "sqlite:" + os.path.join(s.dir, "gh.db")
        s.start()
        b = None
        try:
            c = s.client("acme", name="moved", roles="viewer")
            tok = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            gone = s.token(c["client_id"], c["client_secret"]).json()["access_token"]
            eq(s.post_form("/oauth/revoke", {"token": gone}, headers={
                "Authorization": basic(c["client_id"], c["client_secret"])}).status, 200, "revoke")
            new = s.cli("client", "rotate-secret", c["client_id"], "--grace", "1h")["client_secret"]
            s.cli("keys", "rotate", "--env", "sandbox", "--lead", "0")
            # A secret the admin API showed to its caller records whom.
            root = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"]).json()["access_token"]
            r = s.post_json("/admin/v1/clients", {"tenant": "acme", "name": "api-made"},
                            headers={"Authorization": "Bearer " + root})
            eq(r.status, 201, "made through the admin API: %r" % r)
            for i in range(5):   # a lock
                s.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers={
                    "Authorization": basic(c["client_id"], "bad"), "X-Forwarded-For": "203.0.113.9"})
            s.stop()
            to = self.pg.new_database()
            # The audit chain is checked with the master key: another one
            # is refused before anything is copied.
            other = os.path.join(s.dir, "other.key")
            fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, os.urandom(32).hex().encode() + b"\n")
            os.close(fd)
            p = run("store", "copy", "--from", s.db, "--to", to, "--master-key", other)
            eq(p.returncode, 1, "another master key refused")
            check(b"does not match" in p.stderr, p.stderr.decode())
            p = run("store", "copy", "--from", s.db, "--to", to, "--master-key", s.master)
            eq(p.returncode, 0, "store copy: " + p.stderr.decode())
            out = json.loads(p.stdout)
            for table in ("tenants", "clients", "client_secrets", "signing_keys", "tokens",
                          "locks", "audit"):
                check(out["rows"].get(table, 0) > 0, "%s copied: %r" % (table, out["rows"]))
            check(out["rows"]["client_secrets"] >= 2, "both secrets (and the bootstrap's)")
            check(out["audit"]["verified"] and out["audit"]["rows"] > 5, "audit: %r" % out["audit"])
            # Every row, compared with the source.
            import sqlite3
            src = sqlite3.connect(s.db[len("sqlite:"):])
            dbname = to.rsplit("/", 1)[1]
            for table, n in out["rows"].items():
                eq(src.execute("SELECT count(*) FROM %s" % table).fetchone()[0], n, table)
                eq(self.pg.psql("SELECT count(*) FROM %s" % table, db=dbname), str(n), table)
            holders = src.execute("SELECT id, holder FROM client_secrets ORDER BY id").fetchall()
            check((r.json()["client_id"], s.bootstrap["client_id"]) in [
                (cid, h) for cid, h in src.execute("SELECT client_id, holder FROM client_secrets")],
                "the api-made client's secret is held by its maker")
            eq(self.pg.psql("SELECT string_agg(id || ' ' || holder, ',' ORDER BY id) FROM client_secrets",
                            db=dbname), ",".join("%d %s" % h for h in holders), "every secret's holder")
            head = src.execute("SELECT seq, hex(hash) FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            # Each revocation's generation (the gate reads what changed by it).
            revoked = src.execute("SELECT id, revoked_gen FROM tokens WHERE revoked_at <> 0"
                                  " ORDER BY id").fetchall()
            src.close()
            check(len(revoked) == 1 and revoked[0][1] > 0, "the revocation's generation: %r" % revoked)
            eq(self.pg.psql("SELECT string_agg(id || ' ' || revoked_gen, ',' ORDER BY id) FROM tokens"
                            " WHERE revoked_at <> 0", db=dbname),
               ",".join("%s %d" % r for r in revoked), "revocation generations")
            eq(self.pg.psql("SELECT seq || ' ' || upper(encode(hash, 'hex')) FROM audit"
                            " ORDER BY seq DESC LIMIT 1", db=dbname), "%d %s" % head, "chain head")
            # Into a database that has rows: refused, nothing changed.
            p = run("store", "copy", "--from", s.db, "--to", to, "--master-key", s.master)
            eq(p.returncode, 1, "second copy refused")
            check(b"not empty" in p.stderr, p.stderr.decode())
            p = run("store", "copy", "--from", s.db, "--to", s.db, "--master-key", s.master)
            eq(p.returncode, 1, "to sqlite refused")
            # The platform runs on PostgreSQL with the same master key.
            b = Server(start=False, workdir=s.dir)
            b.db = to
            b.extra = list(s.extra)
            b.start()
            eq(self.gate(b, tok).status, 200, "a token issued on SQLite passes")
            eq(self.gate(b, gone).status, 401, "a revoked one stays revoked")
            other = b.token(c["client_id"], new).json()["access_token"]
            eq(self.gate(b, other).status, 200, "a token issued on PostgreSQL passes")
            eq(b.post_form("/oauth/revoke", {"token": other}, headers={
                "Authorization": basic(c["client_id"], new)}).status, 200, "revoke on the target")
            eq(self.gate(b, other).status, 401, "and the gate knows at once")
            eq(self.gate(b, tok).status, 200, "the others pass")
            eq(b.token(c["client_id"], new).status, 200, "the rotated secret works")
            eq(b.token(c["client_id"], c["client_secret"]).status, 200, "the old one in its grace")
            eq(b.post_form("/oauth/token", {"grant_type": "client_credentials"}, headers={
                "Authorization": basic(c["client_id"], new),
                "X-Forwarded-For": "203.0.113.9"}).status, 429, "the lock came along")
            r = b.client("acme", name="after-the-copy")     # new ids after the copied
            eq(b.token(r["client_id"], r["client_secret"]).status, 200, "a client made after")
            eq(self.pg.psql("SELECT count(DISTINCT id) FROM client_secrets", db=dbname),
               str(out["rows"]["client_secrets"] + 1), "ids")
            p = run("audit", "verify", "--db", to, "--master-key", s.master)
            eq(p.returncode, 0, "audit verify on the target: " + p.stderr.decode())
        finally:
            if b is not None:
                b.stop()
            s.cleanup()

    def test_copy_never_hands_out_a_deleted_secrets_id(self):
        # SQLite never gives a secret's id out again (AUTOINCREMENT keeps
        # the highest ever given in sqlite_sequence), nor does PostgreSQL's
        # identity. The copy set the target's sequence after the ids still
        # stored: with the newest secrets deleted (a client delete takes
        # its secrets), the first secret made after the copy took the id of
        # a deleted one, which the audit trail and approvals name.
        s = Server(start=False)
        s.db = "sqlite:" + os.path.join(s.dir, "gh.db")
        s.start()
        b = None
        try:
            adm = s.client("acme", name="adm", roles="admin", env="production",
                           allow_ip="127.0.0.1/32")
            gone = s.client("acme", name="gone", roles="viewer")
            gone_id = s.cli("client", "show", gone["client_id"])["secrets"][0]["id"]
            tok = s.token(adm["client_id"], adm["client_secret"]).json()["access_token"]
            r = s.request("DELETE", "/admin/v1/clients/" + gone["client_id"],
                          headers={"Authorization": "Bearer " + tok})
            eq(r.status, 200, "deleted with its secret: %r" % r)
            s.stop()
            to = self.pg.new_database()
            p = run("store", "copy", "--from", s.db, "--to", to, "--master-key", s.master)
            eq(p.returncode, 0, "store copy: " + p.stderr.decode())
            b = Server(start=False, workdir=s.dir)
            b.db = to
            b.extra = list(s.extra)
            b.start()
            after = b.client("acme", name="after")
            new_id = b.cli("client", "show", after["client_id"])["secrets"][0]["id"]
            check(new_id > gone_id, "a secret made after the copy takes a new id (%d), not the "
                  "deleted secret's (%d)" % (new_id, gone_id))
        finally:
            if b is not None:
                b.stop()
            s.cleanup()

    def test_copy_from_a_live_source(self):
        # A server still serving on the SQLite file appends audit rows
        # between the source's check and the copy's snapshot. The copy was
        # then refused as a mismatch after it had committed, and could not
        # be tried again ("not empty"); it is checked against the snapshot
        # it copied.
        s = Server("--rate-limit", "0", start=False)
        s.db = "sqlite:" + os.path.join(s.dir, "gh.db")
        s.start()
        stop = threading.Event()
        issued = []

        def issue():
            while not stop.is_set():
                issued.append(s.token(c["client_id"], c["client_secret"]).status)
        try:
            c = s.client("acme", name="busy")
            t = threading.Thread(target=issue)
            t.start()
            try:
                while len(issued) < 20:
                    time.sleep(0.05)
                to = self.pg.new_database()
                p = run("store", "copy", "--from", s.db, "--to", to, "--master-key", s.master)
                during = len(issued)
                time.sleep(0.3)
            finally:
                stop.set()
                t.join(30)
            eq(p.returncode, 0, "store copy from a live store: " + p.stderr.decode())
            check(len(issued) > during, "tokens were issued while it copied")
            out = json.loads(p.stdout)
            import sqlite3
            src = sqlite3.connect(s.db[len("sqlite:"):])
            now = src.execute("SELECT count(*) FROM audit").fetchone()[0]
            src.close()
            check(now > out["audit"]["rows"], "the source went on: %d rows, %d copied"
                  % (now, out["audit"]["rows"]))
            p = run("audit", "verify", "--db", to, "--master-key", s.master)
            eq(p.returncode, 0, "audit verify on the target: " + p.stderr.decode())
        finally:
            s.stop()
            s.cleanup()


if __name__ == "__main__":
    StoreOps().run()
