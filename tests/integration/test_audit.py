"""Issue 6, the audit trail: every token issued or refused, gate refusal,
CLI admin action and lock is recorded; `gatehouse audit verify` finds each
kind of tampering (a copy of the store edited directly: the SQLite file, or
a PostgreSQL database copied with pg_dump) and names the first broken seq;
the chain is keyed by the master key, so a rewrite by someone without it
(every later row relinked by the old unkeyed SHA-256 scheme) is found, a
trail of unkeyed rows from before the key goes on with keyed ones, and a
wrong master key is named as such; `audit list` filters; retention prunes
token events behind a checkpoint that keeps the chain verifiable; audit =
off records nothing."""
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import BIN, Server, Suite, check, eq  # noqa: E402

FIELDS = ("request_id", "actor", "tenant", "address", "action", "target", "outcome", "detail")


def encoding(prev, seq, at, texts):
    """store.h store_audit_link's encoding of a row, after the domain."""
    out = bytes(prev) + struct.pack(">q", seq) + struct.pack(">q", at)
    for t in texts:
        b = t.encode()
        out += struct.pack(">I", len(b)) + b
    return out


def row_hash(prev, seq, at, texts):
    """store.h store_audit_link of a v1 row (unkeyed, SHA-256), written from
    its documentation: what anyone can compute, with or without the key."""
    return hashlib.sha256(b"gatehouse-audit-v1\0" + encoding(prev, seq, at, texts)).digest()


def hkdf_sha256(key, info):
    """RFC 5869 with no salt (HashLen zeros), 32 bytes."""
    prk = hmac.new(bytes(32), key, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def audit_key(master_path):
    """audit.h audit_key_derive: HKDF-SHA-256(master, "gatehouse audit chain v2")."""
    with open(master_path) as f:
        master = bytes.fromhex(f.read().strip())
    return hkdf_sha256(master, b"gatehouse audit chain v2")


def row_link(key, prev, seq, at, texts):
    """store.h store_audit_link of a v2 row: HMAC-SHA-256 under the audit key."""
    return hmac.new(key, b"gatehouse-audit-v2\0" + encoding(prev, seq, at, texts),
                    hashlib.sha256).digest()


def sql_literal(v):
    """A value as PostgreSQL literal text (psql takes no bound parameters)."""
    if isinstance(v, (bytes, bytearray)):
        return "'\\x%s'::bytea" % bytes(v).hex()
    if isinstance(v, int):
        return str(v)
    return "'%s'" % str(v).replace("'", "''")


AUDIT_LOCK = 0x6761746568617564  # store.h STORE_AUDIT_LOCK


class SqliteCopies:
    """Copies of a SQLite store, edited and read with Python's sqlite3."""

    def __init__(self, server):
        self.s = server

    def snapshot(self, name):
        """A copy of the store, checkpointed (the server keeps running)."""
        src = self.s.db[len("sqlite:"):]
        con = sqlite3.connect(src)
        con.execute("PRAGMA wal_checkpoint(FULL)")
        con.close()
        return self.copy("sqlite:" + src, name)

    def copy(self, db, name):
        src = db[len("sqlite:"):]
        dst = os.path.join(self.s.dir, name + ".db")
        for suffix in ("", "-wal"):
            if os.path.exists(src + suffix):
                shutil.copy(src + suffix, dst + suffix)
        return "sqlite:" + dst

    def fresh(self, name):
        return "sqlite:" + os.path.join(self.s.dir, name + ".db")

    def has_chain(self, db):
        con = sqlite3.connect(db[len("sqlite:"):])
        cols = [r[1] for r in con.execute("PRAGMA table_info(audit)")]
        con.close()
        return "chain" in cols

    def edit(self, db, *sql):
        con = sqlite3.connect(db[len("sqlite:"):])
        for t in ("audit_append_only", "audit_key_no_update", "audit_key_no_delete"):
            con.execute("DROP TRIGGER IF EXISTS " + t)
        for q in sql:
            if isinstance(q, tuple):
                con.execute(q[0], q[1])
            else:
                con.execute(q)
        con.commit()
        con.close()

    def hold_writes(self, seconds, ready):
        """Holds the store's write lock for seconds (ready set once held):
        the group commit waits, and what is queued meanwhile shares a batch."""
        con = sqlite3.connect(self.s.db[len("sqlite:"):], isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    def rows(self, db):
        """(seq, at, the eight texts, prev_hash, hash, chain) by seq; chain
        is 1 in a store from before the chain was keyed (no column)."""
        chain = "chain" if self.has_chain(db) else "1"
        con = sqlite3.connect(db[len("sqlite:"):])
        r = con.execute("SELECT seq, at, " + ", ".join(FIELDS) + ", prev_hash, hash, " + chain +
                        " FROM audit ORDER BY seq").fetchall()
        con.close()
        return [tuple(x) for x in r]


class PgCopies:
    """Copies of a PostgreSQL store (pg_dump into a fresh database), edited
    and read with psql. Parameters of an edit ("?" in its SQL) are written
    in as literals."""

    def __init__(self, server):
        self.s = server
        self.pg = harness.pg_server()

    def _psql(self, url, sql, sep=None):
        env = dict(os.environ, PGPASSWORD=self.pg.password)
        argv = [os.path.join(self.pg.bin, "psql"), "-X", "-q", "-A", "-t", "-v",
                "ON_ERROR_STOP=1", "-d", url]
        if sep is not None:
            argv += ["-F", sep]
        p = subprocess.run(argv + ["-c", sql], capture_output=True, env=env, timeout=60)
        check(p.returncode == 0, "psql: %s" % p.stderr.decode(errors="replace"))
        return p.stdout.decode()

    def hold_writes(self, seconds, ready):
        """Holds the audit chain's advisory lock (STORE_AUDIT_LOCK) for
        seconds (ready set once held): the group commit waits for it."""
        env = dict(os.environ, PGPASSWORD=self.pg.password)
        p = subprocess.Popen([os.path.join(self.pg.bin, "psql"), "-X", "-q", "-d", self.s.db,
                              "-c", "SELECT pg_advisory_lock(%d)" % AUDIT_LOCK,
                              "-c", "SELECT pg_sleep(%f)" % seconds],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            held = self._psql(self.s.db, "SELECT count(*) FROM pg_locks WHERE"
                              " locktype = 'advisory' AND granted AND pid <> pg_backend_pid()")
            if int(held.strip() or "0") > 0:
                break
            time.sleep(0.01)
        ready.set()
        p.wait(timeout=60)

    def snapshot(self, name):
        return self.copy(self.s.db, name)

    def fresh(self, name):
        return self.pg.new_database()

    def has_chain(self, db):
        return self._psql(db, "SELECT count(*) FROM information_schema.columns WHERE"
                          " table_name = 'audit' AND column_name = 'chain'").strip() == "1"

    def copy(self, db, name):
        dst = self.pg.new_database()
        env = dict(os.environ, PGPASSWORD=self.pg.password)
        dump = subprocess.run([os.path.join(self.pg.bin, "pg_dump"), "--no-owner", "-d", db],
                              capture_output=True, env=env, timeout=120)
        check(dump.returncode == 0, "pg_dump: %s" % dump.stderr.decode(errors="replace"))
        load = subprocess.run([os.path.join(self.pg.bin, "psql"), "-X", "-q", "-v",
                               "ON_ERROR_STOP=1", "-d", dst], input=dump.stdout,
                              capture_output=True, env=env, timeout=120)
        check(load.returncode == 0, "psql load: %s" % load.stderr.decode(errors="replace"))
        return dst

    def edit(self, db, *sql):
        stmts = ["DROP TRIGGER IF EXISTS audit_append_only ON audit",
                 "DROP TRIGGER IF EXISTS audit_key_written_once ON audit_key"]
        for q in sql:
            if isinstance(q, tuple):
                parts = q[0].split("?")
                check(len(parts) == len(q[1]) + 1, "parameters of %r" % q[0])
                text = parts[0]
                for v, rest in zip(q[1], parts[1:]):
                    text += sql_literal(v) + rest
                stmts.append(text)
            else:
                stmts.append(q)
        self._psql(db, "BEGIN; " + "; ".join(stmts) + "; COMMIT")

    def rows(self, db):
        out = self._psql(db, "SELECT seq, at, " + ", ".join(FIELDS) + ", prev_hash, hash, chain"
                         " FROM audit ORDER BY seq", sep="\x1f")
        rows = []
        for line in out.splitlines():
            f = line.split("\x1f")
            check(len(f) == 13, "a row of 13 fields: %r" % line)
            rows.append((int(f[0]), int(f[1])) + tuple(f[2:10]) +
                        (bytes.fromhex(f[10][2:]), bytes.fromhex(f[11][2:]), int(f[12])))
        return rows


class Audit(Suite):
    def setup(self):
        self.s = Server("--lockout-pair-threshold", "3", "--lockout-address-threshold", "50")
        self.store = PgCopies(self.s) if harness.BACKEND == "postgresql" else SqliteCopies(self.s)
        self.c1 = self.s.client("acme", name="one")
        self.c2 = self.s.client("globex", name="two")
        self.s.cli("client", "disable", self.c2["client_id"])
        self.s.cli("client", "enable", self.c2["client_id"])
        for _ in range(3):
            eq(self.s.token(self.c1["client_id"], self.c1["client_secret"]).status, 200, "issued")
        eq(self.s.token(self.c2["client_id"], self.c2["client_secret"]).status, 200, "issued")
        eq(self.s.token(self.c1["client_id"], "wrong-secret-1").status, 401, "refused")
        eq(self.s.get("/gate").status in (400, 403), True, "gate refusal")
        # The gate does not wait for its refusal's row: wait here, so that a
        # test holding the store's writes (whose commit then fails) cannot
        # take the row with it.
        for _ in range(100):
            if self.s.cli("audit", "list", "--action", "gate.refused"):
                break
            time.sleep(0.05)

    def teardown(self):
        self.s.cleanup()

    # -- helpers -------------------------------------------------------------
    def run_cli(self, db, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([BIN] + list(args) + ["--db", db, "--master-key",
                              self.s.master], capture_output=True, env=e, timeout=60)

    def verify(self, db):
        p = self.run_cli(db, "audit", "verify")
        out = json.loads(p.stdout.decode()) if p.stdout.strip() else {}
        return p.returncode, out, p.stderr.decode()

    def snapshot(self, name):
        return self.store.snapshot(name)

    def edit(self, db, *sql):
        self.store.edit(db, *sql)

    def rows(self, db):
        return self.store.rows(db)

    def expect_broken(self, db, seq, words):
        rc, out, err = self.verify(db)
        eq(rc, 1, "verify fails: " + err)
        eq(out.get("ok"), False, "ok false")
        eq(out.get("first_bad_seq"), seq, "first broken seq (%s)" % out.get("reason"))
        check(words in out.get("reason", ""), "reason %r names %r" % (out.get("reason"), words))
        check("seq %d" % seq in err, "stderr names the seq: " + err)

    # -- what is recorded ------------------------------------------------------
    def test_events_recorded_without_secrets(self):
        rows = self.s.cli("audit", "list", "--limit", "1000")
        actions = [r["action"] for r in rows]
        for a in ("tenant.create", "client.create", "client.disable", "client.enable",
                  "token.issued", "token.refused", "gate.refused"):
            check(a in actions, "%s recorded: %s" % (a, actions))
        issued = [r for r in rows if r["action"] == "token.issued" and
                  r["actor"] in (self.c1["client_id"], self.c2["client_id"])]
        eq(len(issued), 4, "one entry per token")
        r = [r for r in issued if r["actor"] == self.c1["client_id"]][0]
        eq((r["tenant"], r["address"], r["outcome"]), ("acme", "127.0.0.1", "ok"), "fields")
        check(len(r["request_id"]) > 0 and len(r["target"]) > 0, "request id and token name")
        ref = [r for r in rows if r["action"] == "token.refused"][0]
        eq((ref["actor"], ref["tenant"], ref["outcome"]), (self.c1["client_id"], "acme", "refused"),
           "refusal names the claimed client and its tenant")
        check("invalid_client" in ref["detail"], "refusal reason: " + ref["detail"])
        cli = [r for r in rows if r["action"] == "client.disable"][0]
        check(cli["actor"].startswith("cli:"), "CLI actor: " + cli["actor"])
        eq((cli["target"], cli["tenant"]), (self.c2["client_id"], "globex"), "CLI target")
        text = json.dumps(rows)
        for secret in (self.c1["client_secret"], self.c2["client_secret"], "wrong-secret-1"):
            check(secret not in text, "no secret in the trail")
        seqs = [r["seq"] for r in rows]
        eq(seqs, sorted(seqs, reverse=True), "newest first")

    def test_first_run_recorded(self):
        # serve's first run makes the platform tenant and a production
        # Admin client: it used to leave no row, so the trail began with
        # an Admin nobody had made.
        boot = self.s.bootstrap["client_id"]
        rows = self.s.cli("audit", "list", "--tenant", "platform", "--limit", "1000")
        made = [(r["action"], r["target"], r["actor"], r["outcome"]) for r in rows
                if r["action"] in ("tenant.create", "client.create")]
        check(("tenant.create", "platform", "gatehouse", "ok") in made, "tenant row: %r" % made)
        check(("client.create", boot, "gatehouse", "ok") in made, "admin client row: %r" % made)
        check(self.s.bootstrap["client_secret"] not in json.dumps(rows), "no secret")
        # And its first signing keys, one per environment, each with the
        # kid made: they had no row, where a rotation's key has one.
        keys = {(k["env"], k["kid"]) for k in self.s.cli("keys", "list")}
        first = [(r["target"], r["detail"].rsplit(" ", 1)[-1], r["actor"]) for r in rows
                 if r["action"] == "keys.create"]
        eq(sorted(t for t, _, _ in first), ["production", "sandbox"], "a row per env: %r" % first)
        for env, kid, actor in first:
            check((env, kid) in keys, "the row names the %s key made: %r" % (env, kid))
            eq(actor, "gatehouse", "made by the server")

    def test_first_run_ended_between_its_commits_is_finished(self):
        # Regression: the first run commits the platform tenant, then the
        # admin client. A crash between the two (GATEHOUSE_TEST_FAULT ends
        # serve there) left a store that every later start took as set up:
        # no admin client was ever made or shown, and nothing said so.
        w = Server(start=False, env={"GATEHOUSE_TEST_FAULT": "bootstrap-after-tenant"})
        try:
            eq(w.start(expect_fail=True), 70, "the first run ended at the fault point")
            w.stderr_file.close()
            del w.env["GATEHOUSE_TEST_FAULT"]
            w.start()
            check("first run ended before it made the admin client" in w.stderr(), w.stderr())
            boot = w.bootstrap.get("client_id")
            check(boot is not None and w.bootstrap.get("client_secret"), "secret shown")
            eq(w.token(boot, w.bootstrap["client_secret"]).status, 200, "the admin client works")
            rows = w.cli("audit", "list", "--tenant", "platform", "--limit", "100")
            made = sorted((r["action"], r["target"]) for r in rows
                          if r["action"] in ("tenant.create", "client.create"))
            eq(made, [("client.create", boot), ("tenant.create", "platform")],
               "one row for each change")
            w.restart()
            eq(len(w.cli("client", "list")), 1, "a later start makes no other client")
            p = subprocess.run([BIN, "audit", "verify", "--db", w.db, "--master-key", w.master],
                               capture_output=True, timeout=60)
            eq(p.returncode, 0, "the trail verifies: %r" % p.stderr)
        finally:
            w.cleanup()

    def test_first_run_under_way_on_another_node_is_left_to_it(self):
        # A start that finds the platform tenant just made and no client may
        # be racing another node's first run: it waits until the tenant is
        # BOOTSTRAP_SETTLE_S old and asks again, and makes no admin client
        # of its own when the other's is there by then.
        w = Server(start=False, env={"GATEHOUSE_TEST_FAULT": "bootstrap-after-tenant"})
        try:
            eq(w.start(expect_fail=True), 70, "the first run ended at the fault point")
            w.stderr_file.close()
            del w.env["GATEHOUSE_TEST_FAULT"]
            th = threading.Thread(target=w.start)
            th.start()
            time.sleep(1)
            # The other node's admin client, made while this start waits.
            other = w.cli("client", "create", "--tenant", "platform", "--name", "other node",
                          "--roles", "admin", "--env", "sandbox")
            th.join(60)
            eq(w.bootstrap, {}, "no secret shown: %r" % w.bootstrap)
            eq([c["client_id"] for c in w.cli("client", "list")], [other["client_id"]],
               "no second admin client")
        finally:
            w.cleanup()

    def test_concurrent_tokens_share_rows_and_each_is_listed(self):
        # Tokens of one client answered in one group-commit batch share one
        # row (src/store/audit_group.h); the list still gives one entry per
        # token, with its own request id, address and token name.
        c = self.s.client("acme", name="burst")
        rids = []

        def burst(k):
            for i in range(10):
                rid = "burst-%d-%d" % (k, i)
                r = self.s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                                     headers={"Authorization": harness.basic(c["client_id"],
                                                                             c["client_secret"]),
                                              "X-Request-ID": rid})
                eq(r.status, 200, "issued")
                rids.append(rid)
        # The store's write lock held for a moment: the requests answered
        # after it commit in shared batches, however slowly this test's
        # threads are scheduled.
        ready = threading.Event()
        holder = threading.Thread(target=self.store.hold_writes, args=(0.5, ready))
        holder.start()
        check(ready.wait(30), "write lock held")
        threads = [threading.Thread(target=burst, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        holder.join()
        eq(len(rids), 80, "every request answered")
        listed = self.s.cli("audit", "list", "--action", "token.issued", "--client",
                            c["client_id"], "--limit", "1000")
        eq(sorted(r["request_id"] for r in listed), sorted(rids), "one entry per token")
        eq(len({r["target"] for r in listed}), 80, "each token's own name")
        check(all(r["address"] == "127.0.0.1" and r["tenant"] == "acme" for r in listed),
              "fields of each event")
        boot = self.s.token(self.s.bootstrap["client_id"], self.s.bootstrap["client_secret"])
        eq(boot.status, 200, "admin token")
        api = self.s.request("GET", "/admin/v1/audit?action=token.issued&client=%s&limit=1000"
                             % c["client_id"], headers={
                                 "Authorization": "Bearer " + boot.json()["access_token"]})
        eq(api.status, 200, "admin audit list: %r" % api)
        eq(sorted(e["request_id"] for e in api.json()["events"]), sorted(rids),
           "the API lists the same")
        check(all(e["chain"] == "v2" for e in api.json()["events"]) and
              all(r["chain"] == "v2" for r in listed), "every row keyed (chain v2)")
        db = self.snapshot("burst")
        grouped = [r for r in self.rows(db) if r[6] == "token.issued" and r[2] == ""
                   and r[3] == c["client_id"]]
        check(len(grouped) > 0, "80 concurrent tokens share rows")
        check(sum(len(json.loads(r[9])["events"]) for r in grouped) <= 80, "events in rows")
        rc, out, err = self.verify(db)
        eq(rc, 0, "the trail verifies: " + err)
        # An event edited inside a shared row breaks that row's hash.
        seq = grouped[0][0]
        ev = json.loads(grouped[0][9])
        ev["events"][0]["address"] = "10.9.9.9"
        self.edit(db, ("UPDATE audit SET detail = ? WHERE seq = ?",
                       (json.dumps(ev, separators=(",", ":")), seq)))
        self.expect_broken(db, seq, "hash")

    def test_lock_recorded(self):
        c = self.s.client("acme", name="lockme")
        for _ in range(4):
            self.s.token(c["client_id"], "bad-bad-bad")
        rows = self.s.cli("audit", "list", "--action", "lock.made")
        check(any(r["target"] == c["client_id"] and r["address"] == "127.0.0.1" for r in rows),
              "lock row: %r" % rows)

    def test_cli_change_and_its_row_commit_together(self):
        # Regression: a CLI change committed, then its row was written in a
        # second transaction: a crash between the two (GATEHOUSE_TEST_FAULT
        # ends the command there, as a kill would) left a security change
        # that the trail did not show. Now the row goes in with the change.
        db = self.snapshot("crash")

        def crashed(*args):
            p = self.run_cli(db, *args, env={"GATEHOUSE_TEST_FAULT": "cli-before-audit"})
            eq(p.returncode, 70, "%s ended at the fault point: %r" % (args[:2], p.stderr))

        def cli(*args):
            p = self.run_cli(db, *args)
            return p.returncode, json.loads(p.stdout) if p.returncode == 0 else p.stderr

        def row(action, target):
            rows = cli("audit", "list", "--action", action, "--limit", "1000")[1]
            return [(r["target"], r["outcome"], r["actor"][:4]) for r in rows
                    if r["target"] == target]

        c1 = self.c1["client_id"]
        crashed("tenant", "create", "--id", "initech")
        check("initech" in [t["id"] for t in cli("tenant", "list")[1]], "the tenant is made")
        eq(row("tenant.create", "initech"), [("initech", "ok", "cli:")], "and its row")
        crashed("client", "create", "--tenant", "initech", "--name", "x", "--env", "sandbox")
        made = [c["client_id"] for c in cli("client", "list", "--tenant", "initech")[1]]
        eq(len(made), 1, "the client is made")
        eq(row("client.create", made[0]), [(made[0], "ok", "cli:")], "its row names its id")
        crashed("client", "disable", c1)
        eq(cli("client", "show", c1)[1]["status"], "disabled", "the client is disabled")
        eq(row("client.disable", c1), [(c1, "ok", "cli:")], "and its row")
        crashed("client", "revoke-tokens", c1)
        eq(row("client.revoke_tokens", c1), [(c1, "ok", "cli:")], "revoke-tokens row")
        crashed("keys", "rotate", "--env", "sandbox")
        eq(row("keys.rotate", "sandbox"), [("sandbox", "ok", "cli:")], "keys rotate row")
        # A failed change commits nothing: its failure row alone, as before.
        eq(cli("tenant", "create", "--id", "initech")[0], 1, "a second initech is refused")
        eq(sorted(o for _, o, _ in row("tenant.create", "initech")), ["error", "ok"],
           "one ok row (the change) and one error row (the refusal)")
        rc, out, err = self.verify(db)
        eq(rc, 0, "the trail verifies: " + err)

    def crash_at_each_commit(self, db, args, done, nothing, done_state):
        """Runs the CLI command args on db ending it before its first COMMIT
        (util.h test_fault_point "store-commit-N", N = 1), then its second,
        and so on until it runs through: each crash must leave nothing of
        the change and its row (nothing(db)), a command that runs through
        all of it (done_state(db)). done is "what" for the messages."""
        for n in range(1, 6):
            p = self.run_cli(db, *args, env={"GATEHOUSE_TEST_FAULT": "store-commit-%d" % n})
            if p.returncode != 70:
                eq(p.returncode, 0, "%s ran through: %r" % (done, p.stderr))
                done_state(db)
                break
            nothing(db, "%s ended before commit %d" % (done, n))
        else:
            check(False, "%s never ran through" % done)
        rc, out, err = self.verify(db)
        eq(rc, 0, "the trail verifies: " + err)

    def cli_json(self, db, *args):
        p = self.run_cli(db, *args)
        eq(p.returncode, 0, "%s: %r" % (args[:2], p.stderr))
        return json.loads(p.stdout)

    def test_revoke_secret_and_its_tokens_commit_together(self):
        # Regression: revoke-secret --revoke-tokens revoked the secret (its
        # row with it) and voided the tokens in a second transaction: a
        # crash between left a leaked secret's tokens good, and the command
        # could not be run again to void them (the secret "is already
        # revoked"). Now one transaction: a crash at any commit leaves all
        # of it or none.
        db = self.snapshot("revsec")
        c1 = self.c1["client_id"]
        first = self.cli_json(db, "client", "show", c1)
        sid = first["secrets"][0]["id"]

        def state(d):
            show = self.cli_json(d, "client", "show", c1)
            rows = [r["outcome"] for r in self.cli_json(d, "audit", "list", "--action",
                    "client.revoke_secret", "--limit", "1000") if r["target"] == c1]
            return (show["secrets"][0]["status"], show["tokens_valid_after"] !=
                    first["tokens_valid_after"], rows)

        def nothing(d, what):
            eq(state(d), ("live", False, []), what + ": nothing changed, no row")

        def done_state(d):
            eq(state(d), ("revoked", True, ["ok"]), "secret revoked, tokens void, its row")

        self.crash_at_each_commit(db, ("client", "revoke-secret", c1, "--secret", str(sid),
                                       "--revoke-tokens"), "revoke-secret --revoke-tokens",
                                  nothing, done_state)

    def test_keys_rotate_of_both_envs_commits_together(self):
        # Regression: keys rotate with no --env rotated sandbox (its row
        # "all" with it), then production in a second transaction: a crash
        # between left one env rotated under a row saying both were, and
        # the same command run again was refused (sandbox "already
        # scheduled"). Now one transaction for both.
        db = self.snapshot("rotall")
        before = {k["kid"] for k in self.cli_json(db, "keys", "list")}

        def state(d):
            new = sorted(k["env"] for k in self.cli_json(d, "keys", "list")
                         if k["kid"] not in before)
            rows = [(r["target"], r["outcome"]) for r in self.cli_json(
                d, "audit", "list", "--action", "keys.rotate", "--limit", "1000")]
            return new, rows

        def nothing(d, what):
            eq(state(d), ([], []), what + ": no key made, no row")

        def done_state(d):
            eq(state(d), (["production", "sandbox"], [("all", "ok")]),
               "a new key for each env, one row")

        self.crash_at_each_commit(db, ("keys", "rotate", "--lead", "0"), "keys rotate", nothing,
                                  done_state)

    def keys_and_their_rows(self, server, what):
        """Every signing key of server's store has its row, made at start
        (keys.create) or by the schedule (keys.rotate), naming its env and
        kid, and every such row names a key of the store."""
        keys = sorted((k["env"], k["kid"]) for k in server.cli("keys", "list"))
        rows = sorted((r["target"], r["detail"].rsplit(" ", 1)[-1])
                      for r in server.cli("audit", "list", "--limit", "1000")
                      if r["action"] in ("keys.create", "keys.rotate"))
        eq(rows, keys, "%s: each key with its row" % what)
        return keys

    def test_keys_made_at_start_commit_with_their_rows(self):
        # Regression: serve made the signing keys of its first run (and of
        # an env left without one) and wrote their keys.create rows after,
        # in transactions of their own: a crash between (GATEHOUSE_TEST_FAULT
        # =store-commit-N ends serve before its N-th commit) left a key that
        # signs with no row saying who made it. Now each key commits with
        # its row.
        for n in range(1, 6):
            w = Server(start=False, env={"GATEHOUSE_TEST_FAULT": "store-commit-%d" % n})
            try:
                eq(w.start(expect_fail=True), 70, "serve ended before commit %d" % n)
                envs = {e for e, _ in self.keys_and_their_rows(w, "commit %d" % n)}
                if envs == {"sandbox", "production"}:
                    break
            finally:
                w.cleanup()
        else:
            check(False, "the first run's keys were never both made")

    def test_scheduled_rotation_commits_with_its_row(self):
        # Regression: the key schedule (key_rotation_interval) rotated each
        # env due and wrote their keys.rotate rows after all of them: a
        # crash between left a key with no row. Now each rotation commits
        # with its row, which names the new kid.
        w = Server("--key-rotation-interval", "1d", "--key-publish-lead", "10m", start=False)

        def rotated():
            return len(w.cli("keys", "list")) - len(first)

        def run_to_fault(n):
            """serve with the fault at commit n: 70 when it ended there,
            0 when it ran through the schedule (both envs rotated)."""
            w.env["GATEHOUSE_TEST_FAULT"] = "store-commit-%d" % n
            try:
                w.start()
            except RuntimeError as e:
                check("exited 70" in str(e), "ended at the fault point: %s" % e)
                return 70
            # The schedule runs just after the start.
            deadline = time.time() + 30
            while w.proc.poll() is None and rotated() < 2 and time.time() < deadline:
                time.sleep(0.1)
            if w.proc.poll() is None:
                w.stop()
                return 0
            rc, w.proc = w.proc.wait(), None
            w.stderr_file.close()
            return rc

        try:
            w.start()
            w.stop()
            first = self.keys_and_their_rows(w, "first run")
            w.env["GATEHOUSE_CLOCK_OFFSET"] = str(86400 - 300)
            for n in range(1, 6):
                rc = run_to_fault(n)
                self.keys_and_their_rows(w, "commit %d" % n)
                if rc == 0:
                    break
                eq(rc, 70, "serve ended before commit %d" % n)
            else:
                check(False, "the schedule never ran through")
            eq(rotated(), 2, "both envs rotated, each with its row")
            p = subprocess.run([BIN, "audit", "verify", "--db", w.db, "--master-key", w.master],
                               capture_output=True, timeout=60)
            eq(p.returncode, 0, "the trail verifies: %r" % p.stderr)
        finally:
            w.cleanup()

    def test_refusal_answer_waits_for_row(self):
        before = self.s.cli("audit", "list", "--action", "token.refused", "--limit", "10000")
        eq(self.s.token("nobody-" + str(time.time()), "x").status, 401, "refused")
        # No flush, no wait: the refusal was answered after its row was durable.
        after = self.s.cli("audit", "list", "--action", "token.refused", "--limit", "10000")
        eq(len(after), len(before) + 1, "the row is there when the answer is")

    # -- verification ------------------------------------------------------------
    def test_verify_clean_and_encoding(self):
        db = self.snapshot("clean")
        rc, out, err = self.verify(db)
        eq(rc, 0, "clean trail verifies: " + err)
        eq(out["ok"], True, "ok")
        rows = self.rows(db)
        eq(out["rows"], len(rows), "every row read")
        eq(out["head_seq"], rows[-1][0], "head")
        key = audit_key(self.s.master)
        prev = bytes(32)
        for r in rows:
            eq(bytes(r[10]), prev, "prev_hash of %d" % r[0])
            eq(r[12], 2, "row %d is keyed (v2)" % r[0])
            eq(row_link(key, prev, r[0], r[1], r[2:10]), bytes(r[11]),
               "link of %d as documented: HMAC under the key derived from the master key" % r[0])
            check(row_hash(prev, r[0], r[1], r[2:10]) != bytes(r[11]),
                  "row %d's link is not the unkeyed hash anyone can compute" % r[0])
            prev = bytes(r[11])
        eq(out["head_hash"], prev.hex(), "head hash")

    def test_tamper_edit(self):
        db = self.snapshot("edit")
        self.edit(db, "UPDATE audit SET detail = 'nothing to see' WHERE seq = 5")
        self.expect_broken(db, 5, "edited")

    def test_tamper_edit_with_rehash(self):
        db = self.snapshot("rehash")
        r = [x for x in self.rows(db) if x[0] == 5][0]
        texts = list(r[2:10])
        texts[1] = "someone-else"
        # Relinked with the key itself (by someone holding the master key):
        # row 5 is consistent in itself now; row 6 no longer chains to it.
        h = row_link(audit_key(self.s.master), bytes(r[10]), 5, r[1], texts)
        self.edit(db, ("UPDATE audit SET actor = ?, hash = ? WHERE seq = 5", (texts[1], h)))
        self.expect_broken(db, 6, "does not chain")

    def test_tamper_delete(self):
        db = self.snapshot("delete")
        self.edit(db, "DELETE FROM audit WHERE seq = 4")
        self.expect_broken(db, 4, "missing")

    def test_tamper_insert_middle(self):
        db = self.snapshot("insert")
        r = [x for x in self.rows(db) if x[0] == 6][0]
        self.edit(db, "UPDATE audit SET seq = seq + 1000 WHERE seq >= 6",
                  "UPDATE audit SET seq = seq - 999 WHERE seq >= 1006",
                  ("INSERT INTO audit VALUES (6, ?, 'x', 'cli:root', 'acme', '', 'client.create',"
                   " 'ghost', 'ok', '', ?, ?, 2)", (r[1], bytes(r[10]), bytes(r[11]))))
        self.expect_broken(db, 6, "edited")

    def test_tamper_insert_end(self):
        db = self.snapshot("append")
        last = self.rows(db)[-1]
        fake = row_link(os.urandom(32), bytes(32), last[0] + 1, last[1], ["x"] * 8)
        self.edit(db, ("INSERT INTO audit VALUES (?, ?, 'x','x','x','x','x','x','x','x', ?, ?, 2)",
                       (last[0] + 1, last[1], bytes(32), fake)))
        self.expect_broken(db, last[0] + 1, "does not chain")

    def test_tamper_reorder(self):
        db = self.snapshot("reorder")
        self.edit(db, "UPDATE audit SET seq = -1 WHERE seq = 3",
                  "UPDATE audit SET seq = 3 WHERE seq = 4",
                  "UPDATE audit SET seq = 4 WHERE seq = -1")
        self.expect_broken(db, 3, "does not chain")

    # -- the key -------------------------------------------------------------------
    def rewrite_unkeyed(self, db, seq):
        """What someone with the database but not the master key can do to
        the trail: edit row seq's detail, then relink it and every row after
        it by the unkeyed scheme (SHA-256, row_hash), each chained to the
        one before, and mark them unkeyed. Returns the rows read back."""
        rows = self.rows(db)
        mark = self.store.has_chain(db)
        prev, stmts = None, []
        for r in rows:
            if r[0] < seq:
                continue
            if prev is None:
                prev = bytes(r[10])
            detail = "nothing to see" if r[0] == seq else r[9]
            h = row_hash(prev, r[0], r[1], list(r[2:9]) + [detail])
            stmts.append(("UPDATE audit SET detail = ?, prev_hash = ?, hash = ?" +
                          (", chain = 1" if mark else "") + " WHERE seq = ?",
                          (detail, prev, h, r[0])))
            prev = h
        self.edit(db, *stmts)
        return self.rows(db)

    @staticmethod
    def holds_unkeyed(rows, seq):
        """The rows from seq on pass the unkeyed scheme's own checks (all
        that verification checked before the key): each chains to the row
        before and matches its SHA-256 link."""
        prev = None
        for i, r in enumerate(rows):
            if r[0] < seq:
                continue
            if prev is None:
                prev = bytes(rows[i - 1][11]) if i > 0 else bytes(32)
            if bytes(r[10]) != prev or row_hash(prev, r[0], r[1], r[2:10]) != bytes(r[11]):
                return False
            prev = bytes(r[11])
        return prev is not None

    def test_rewrite_without_key_is_found(self):
        # Row 5 edited and every row from it relinked by the unkeyed scheme,
        # as someone without the master key can: before the chain was keyed,
        # verify said ok to this (the rewrite holds by that scheme's rules).
        db = self.snapshot("unkeyed-rewrite")
        before = self.rows(db)
        after = self.rewrite_unkeyed(db, 5)
        eq(after[:4], before[:4], "rows 1-4 untouched")
        eq(after[4][9], "nothing to see", "row 5 edited")
        check(self.holds_unkeyed(after, 5), "the rewrite holds by the unkeyed scheme's rules")
        self.expect_broken(db, 5, "rewritten without the key")

    def test_rewrite_whole_trail_without_key_is_found(self):
        # Every row relinked by the unkeyed scheme, as if the trail had never
        # been keyed: the key record says it was.
        db = self.snapshot("unkeyed-all")
        after = self.rewrite_unkeyed(db, 1)
        check(self.holds_unkeyed(after, 1), "the rewrite holds by the unkeyed scheme's rules")
        self.expect_broken(db, 1, "rewritten without the key")
        # Deleting the key record too leaves a trail that is not keyed: not ok.
        self.edit(db, "DELETE FROM audit_key")
        rc, out, err = self.verify(db)
        eq(rc, 1, "verify fails: " + err)
        eq(out.get("ok"), False, "ok false")
        check("not keyed" in err, "says the trail is not keyed: " + err)
        # What the database cannot show: the next keyed write takes the
        # forgery for an upgrade's unkeyed rows and binds it. It says so on
        # stderr (serve: in its log), outside the database.
        p = self.run_cli(db, "tenant", "create", "--id", "initech")
        eq(p.returncode, 0, "tenant create: " + p.stderr.decode())
        check(b"no key record: keyed from here on" in p.stderr and
              ("seq %d " % after[-1][0]).encode() in p.stderr, "says so: %r" % p.stderr)

    def test_approvals_decision_says_when_it_keys(self):
        # approvals approve|reject writes the trail (the decision's row) and
        # so keys a trail that has no key record, as every writer does: it
        # must say so outside the database as the other commands do, or
        # a deleted record and a forged unkeyed trail are bound unseen.
        db = self.snapshot("unkeyed-decide")
        after = self.rewrite_unkeyed(db, 1)
        self.edit(db, "DELETE FROM audit_key")
        p = self.run_cli(db, "approvals", "approve", "no-such-approval", "--as",
                         self.s.bootstrap["client_id"])
        check(b"no key record: keyed from here on" in p.stderr and
              ("seq %d " % after[-1][0]).encode() in p.stderr, "says so: %r" % p.stderr)
        rc, out, err = self.verify(db)
        eq(rc, 0, "the forgery is bound now, as the line said: " + err)

    def test_unkeyed_trail_goes_on_keyed(self):
        # A trail from before the key: rows inserted as the old code did
        # (its INSERT names no chain column, so the migration's default
        # marks them unkeyed), linked by SHA-256.
        db = self.store.fresh("old-trail")
        p = self.run_cli(db, "migrate")
        eq(p.returncode, 0, "migrate: " + p.stderr.decode())
        prev, stmts = bytes(32), []
        for seq in (1, 2, 3):
            texts = ["", "cli:old", "acme", "", "tenant.create", "acme", "ok", ""]
            h = row_hash(prev, seq, 1000 + seq, texts)
            stmts.append(("INSERT INTO audit (seq, at, " + ", ".join(FIELDS) + ", prev_hash, hash)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          tuple([seq, 1000 + seq] + texts + [prev, h])))
            prev = h
        self.edit(db, *stmts)
        # Nobody holding the master key has written to it yet.
        rc, out, err = self.verify(db)
        eq(rc, 1, "an unkeyed trail does not verify: " + err)
        check("not keyed" in err, err)
        # The first command that writes the trail keys it: its row is keyed,
        # chained to the unkeyed ones, and the whole trail verifies.
        p = self.run_cli(db, "tenant", "create", "--id", "globex")
        eq(p.returncode, 0, "tenant create: " + p.stderr.decode())
        check(b"no key record: keyed from here on" in p.stderr and b"seq 3 " in p.stderr,
              "says it keyed the trail after its unkeyed rows: %r" % p.stderr)
        rows = self.rows(db)
        eq([r[12] for r in rows], [1, 1, 1, 2], "three unkeyed rows, then a keyed one")
        eq(bytes(rows[3][10]), prev, "one chain across")
        rc, out, err = self.verify(db)
        eq(rc, 0, "the old rows and the new verify: " + err)
        eq((out["rows"], out["head_seq"]), (4, 4), "every row")
        # The list tells the operator which rows are which.
        p = self.run_cli(db, "audit", "list", "--limit", "10")
        eq(p.returncode, 0, "audit list: " + p.stderr.decode())
        eq(sorted((r["seq"], r["chain"]) for r in json.loads(p.stdout)),
           [(1, "v1"), (2, "v1"), (3, "v1"), (4, "v2")], "each row's chain")
        # An unkeyed row after a keyed one, chained by the old scheme: tampering.
        last = rows[-1]
        texts = ["", "cli:old", "acme", "", "tenant.create", "initech", "ok", ""]
        h = row_hash(bytes(last[11]), 5, last[1] + 1, texts)
        self.edit(db, ("INSERT INTO audit (seq, at, " + ", ".join(FIELDS) + ", prev_hash, hash,"
                       " chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                       tuple([5, last[1] + 1] + texts + [bytes(last[11]), h])))
        self.expect_broken(db, 5, "unkeyed (v1) after keyed row 4")
        # The rows from the one the key record bound on cut off: the rest
        # chains, but the record says row 3 was there. (A cut after it, of
        # keyed rows alone, is what only a recorded head hash shows.)
        cut = self.store.copy(db, "old-trail-cut")
        self.edit(cut, "DELETE FROM audit WHERE seq >= 3")
        self.expect_broken(cut, 3, "cut off")

    def test_another_master_key(self):
        db = self.snapshot("other-key")
        other = os.path.join(self.s.dir, "other.key")
        fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        n = len(self.rows(db))
        p = subprocess.run([BIN, "audit", "verify", "--db", db, "--master-key", other],
                           capture_output=True, timeout=60)
        err = p.stderr.decode()
        eq(p.returncode, 1, "verify with another master key fails: " + err)
        eq(len(err.strip().splitlines()), 1, "one line: %r" % err)
        check("master key" in err and "does not match" in err,
              "says the key does not match: " + err)
        check("seq" not in err and "broken" not in err, "not a broken row: " + err)
        out = json.loads(p.stdout)
        eq((out["ok"], out["key_matches"]), (False, False), "the verdict")
        for path in (other, self.s.master):
            with open(path) as f:
                check(f.read().strip() not in err + p.stdout.decode(), "no key in the output")
        # The right key on the same copy: ok.
        rc, out, err = self.verify(db)
        eq(rc, 0, "verifies with the right key: " + err)
        # Nothing writes to the trail with another key: a command that
        # would record its action is refused before it acts ...
        p = subprocess.run([BIN, "tenant", "create", "--id", "initech", "--db", db,
                            "--master-key", other], capture_output=True, timeout=60)
        eq(p.returncode, 1, "refused: %r" % p.stderr)
        check(b"does not match" in p.stderr and b"nothing changed" in p.stderr,
              "the refusal says why: %r" % p.stderr)
        eq(len(p.stderr.decode().strip().splitlines()), 1, "in one line (README): %r" % p.stderr)
        eq(len(self.rows(db)), n, "no row written under another key")
        tenants = [t["id"] for t in json.loads(self.run_cli(db, "tenant", "list").stdout)]
        check("initech" not in tenants, "the tenant was not made: %r" % tenants)
        # ... and a server does not start.
        w = Server(start=False)
        try:
            w.db, w.master = db, other
            check(w.start(expect_fail=True) != 0, "serve refuses another master key")
            check("does not match" in w.stderr(), w.stderr())
        finally:
            w.cleanup()
        rc, out, err = self.verify(db)
        eq(rc, 0, "still verifies: " + err)

    def test_cli_without_the_master_key_changes_nothing(self):
        # A command that records its action needs the key before it acts:
        # without it the tenant would exist with no row saying who made it.
        db = self.snapshot("no-key")
        n = len(self.rows(db))
        missing = os.path.join(self.s.dir, "no-such.key")
        p = subprocess.run([BIN, "tenant", "create", "--id", "hooli", "--db", db,
                            "--master-key", missing], capture_output=True, timeout=60)
        err = p.stderr.decode()
        eq(p.returncode, 1, "refused: " + err)
        check("serve makes it on its first run" in err and "nothing changed" in err,
              "says why and what to do: " + err)
        eq(len(err.strip().splitlines()), 1, "in one line (README): %r" % err)
        check(not os.path.exists(missing), "no key file made")
        tenants = [t["id"] for t in json.loads(self.run_cli(db, "tenant", "list").stdout)]
        check("hooli" not in tenants, "the tenant was not made: %r" % tenants)
        eq(len(self.rows(db)), n, "no row")
        # The key named by --config's master_key (as serve reads it) is used.
        conf = os.path.join(self.s.dir, "cli.conf")
        with open(conf, "w") as f:
            f.write("master_key = %s\n" % self.s.master)
        p = subprocess.run([BIN, "tenant", "create", "--id", "hooli", "--db", db,
                            "--config", conf], capture_output=True, timeout=60,
                           env=dict(os.environ, GATEHOUSE_MASTER_KEY=missing))
        eq(p.returncode, 0, "made with the key of --config: %r" % p.stderr)
        rows = self.rows(db)
        eq(len(rows), n + 1, "its row")
        rc, out, err = self.verify(db)
        eq(rc, 0, "the trail verifies: " + err)

    def test_a_failed_command_whose_row_fails_does_not_say_done(self):
        # Regression: a command that failed (its store write refused, as on
        # a full disk) and whose error row failed too said "done, but the
        # audit trail could not record it": the operator read that the
        # client was made.
        # PostgreSQL: both tables held, the command acts, fails, and its
        # row fails. (SQLite holds the whole store: the command stops at
        # its audit key, before acting, which says so.)
        held = self.s.hold_writes("clients, audit")
        try:
            p = self.s.cli("client", "create", "--tenant", "acme", "--name", "held-out",
                           "--env", "sandbox", "--roles", "viewer", check=False)
        finally:
            held.release()
        err = p.stderr.decode()
        eq(p.returncode, 1, "refused: " + err)
        check("done" not in err, "says nothing was done: " + err)
        names = [c["name"] for c in self.s.cli("client", "list", "--tenant", "acme")]
        check("held-out" not in names, "and nothing was: %r" % names)

    def test_verify_of_no_store_fails(self):
        # A mistyped --db used to be opened as a new, empty SQLite store
        # (the file made and migrated) whose empty trail verified: ok, exit
        # 0, for a trail that was never read.
        typo = os.path.join(self.s.dir, "no-such-store.db")
        for cmd in (("audit", "verify"), ("audit", "list"), ("audit", "prune", "--older-than", "1d"),
                    ("tenant", "list"),
                    ("client", "list"), ("client", "show", "x"), ("keys", "list"), ("lock", "list"),
                    ("token", "list", "--client", "x"), ("approvals", "list")):
            p = self.run_cli("sqlite:" + typo, *cmd)
            err = p.stderr.decode()
            eq(p.returncode, 1, "%s refused: %s" % (" ".join(cmd), err))
            check("does not exist" in err and typo in err, "says why: " + err)
            eq(p.stdout, b"", "no verdict printed")
            check(not os.path.exists(typo), "no store made by %s" % " ".join(cmd))

    # -- list ----------------------------------------------------------------------
    def test_list_filters(self):
        c1, c2 = self.c1["client_id"], self.c2["client_id"]
        acme = self.s.cli("audit", "list", "--tenant", "acme", "--limit", "1000")
        check(len(acme) > 0 and all(r["tenant"] == "acme" for r in acme), "tenant filter")
        mine = self.s.cli("audit", "list", "--client", c2, "--limit", "1000")
        check(len(mine) >= 4 and all(c2 in (r["actor"], r["target"]) for r in mine),
              "client filter (actor or target)")
        iss = self.s.cli("audit", "list", "--action", "token.issued", "--client", c1)
        eq(len(iss), 3, "action + client")
        eq(len(self.s.cli("audit", "list", "--action", "client.create", "--limit", "2")), 2,
           "limit")
        newest = self.s.cli("audit", "list", "--limit", "1")[0]
        page = self.s.cli("audit", "list", "--limit", "1", "--before-seq", str(newest["seq"]))
        eq(page[0]["seq"], newest["seq"] - 1, "paging")
        eq(self.s.cli("audit", "list", "--since", "1h", "--action", "token.issued",
                      "--client", c1).__len__(), 3, "since an age")
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        eq(self.s.cli("audit", "list", "--since", future), [], "since the future: none")
        check(len(self.s.cli("audit", "list", "--until", future)) > 0, "until the future: all")
        eq(self.s.cli("audit", "list", "--until", "2000-01-01T00:00:00Z"), [], "until the past")
        ts = int(time.time()) - 3600
        eq(len(self.s.cli("audit", "list", "--since", str(ts), "--action", "token.issued",
                          "--client", c1)), 3, "since epoch seconds")

    def test_list_shows_a_row_of_bad_text(self):
        # SQLite keeps whatever bytes an editor writes; PostgreSQL refuses
        # them. A row whose text is not UTF-8 could not be put in JSON and
        # fell out of the list without a word, while verify named its seq.
        if harness.BACKEND == "postgresql":
            return
        db = self.snapshot("bad-text")
        seqs = sorted(r[0] for r in self.rows(db))
        self.edit(db, "UPDATE audit SET detail = CAST(X'41FF42' AS TEXT) WHERE seq = 5")
        p = self.run_cli(db, "audit", "list", "--limit", "1000")
        eq(p.returncode, 0, p.stderr.decode())
        rows = json.loads(p.stdout)
        eq(sorted(set(r["seq"] for r in rows)), seqs, "every row listed")
        eq([r["detail"] for r in rows if r["seq"] == 5], ["A?B"], "its text, bad byte shown")
        self.expect_broken(db, 5, "edited")

    def test_list_bad_input(self):
        for args, words in ((("--limit", "0"), "--limit"), (("--limit", "x"), "--limit"),
                            (("--limit", "10001"), "--limit"),
                            (("--since", "yesterday"), "--since"),
                            (("--until", "2026-13-01T00:00:00Z"), "--until"),
                            (("--before-seq", "-3"), "--before-seq"),
                            # No such day (it was read as March 2nd), and the
                            # epoch itself (0 was read as "no --until": all).
                            (("--until", "2026-02-30T00:00:00Z"), "--until"),
                            (("--since", "2026-04-31T00:00:00Z"), "--since"),
                            (("--until", "0"), "--until")):
            p = self.s.cli("audit", "list", *args, check=False)
            check(p.returncode != 0 and words in p.stderr.decode(),
                  "%r refused: %r" % (args, p.stderr))

    # -- retention -------------------------------------------------------------------
    def test_retention_prune_checkpoint(self):
        db = self.snapshot("prune")
        before = self.rows(db)
        tokens = [r for r in before if r[6] in ("token.issued", "token.refused")]
        kept = [r for r in before if r[6] not in ("token.issued", "token.refused")]
        check(len(tokens) > 0, "token rows to prune")
        p = self.run_cli(db, "audit", "prune", "--older-than", "1h",
                         env={"GATEHOUSE_CLOCK_OFFSET": "7200"})
        eq(p.returncode, 0, p.stderr.decode())
        eq(json.loads(p.stdout)["pruned"], len(tokens), "every old token row pruned")
        after = self.rows(db)
        eq([r for r in after if r[6] in ("token.issued", "token.refused")], [], "none left")
        eq([r[0] for r in after[:len(kept)]], [r[0] for r in kept], "the rest kept")
        cp = [r for r in after if r[6] == "audit.checkpoint"][-1]
        d = json.loads(cp[9])
        eq(d["through"], tokens[-1][0], "cut at the last pruned row")
        eq(d["through_hash"], bytes(tokens[-1][11]).hex(), "carries the pruned prefix's hash")
        rc, out, err = self.verify(db)
        eq(rc, 0, "pruned trail verifies: " + err)
        eq(out["checkpoint_through"], d["through"], "verify starts from the checkpoint")
        # Who pruned, and how far, is a row of its own after the checkpoint.
        eq(after[-2][0], cp[0], "the checkpoint, then the prune's row")
        who = after[-1] if after[-1][6] == "audit.prune" else None
        check(who is not None and who[3].startswith("cli:") and who[7] == "older than 1h"
              and who[8] == "ok", "the prune recorded with its actor: %r" % (after[-2:],))
        # Nothing old enough now: no second checkpoint.
        p = self.run_cli(db, "audit", "prune", "--older-than", "1h",
                         env={"GATEHOUSE_CLOCK_OFFSET": "7200"})
        eq(json.loads(p.stdout)["pruned"], 0, "nothing more")
        again = self.rows(db)
        eq([r[6] for r in again[len(after):]], ["audit.prune"], "no checkpoint added")

        # Tampering behind the checkpoint is still found.
        for name, sql, seq, words in (
                ("p-edit", "UPDATE audit SET detail = 'x' WHERE seq = %d" % kept[1][0],
                 kept[1][0], "edited"),
                ("p-delete", "DELETE FROM audit WHERE seq = %d" % kept[1][0],
                 d["through"], "deleted or inserted"),
                ("p-cp", "DELETE FROM audit WHERE action = 'audit.checkpoint'",
                 tokens[0][0], "missing")):
            t = self.store.copy(db, name)
            self.edit(t, sql)
            self.expect_broken(t, seq, words)

    def test_prune_commits_with_its_row(self):
        # Regression: audit prune cut the trail (its checkpoint with it)
        # and wrote its own audit.prune row after, in a second transaction:
        # a crash between left the trail cut with no row naming who cut
        # it. Now the row goes in the prune's transaction: a crash before
        # its commit leaves neither, one after it both.
        db = self.snapshot("prune-crash")
        tokens = len([r for r in self.rows(db) if r[6] in ("token.issued", "token.refused")])
        args = ("audit", "prune", "--older-than", "1h")

        def state():
            rows = self.rows(db)
            return (len([r for r in rows if r[6] in ("token.issued", "token.refused")]),
                    [r[6] for r in rows if r[6] in ("audit.checkpoint", "audit.prune")])

        for fault in ("store-commit-1", "cli-before-audit"):
            p = self.run_cli(db, *args, env={"GATEHOUSE_CLOCK_OFFSET": "7200",
                                             "GATEHOUSE_TEST_FAULT": fault})
            eq(p.returncode, 70, "prune ended at %s: %r" % (fault, p.stderr))
            if fault == "store-commit-1":
                eq(state(), (tokens, []), "before its commit: nothing pruned, no row")
        eq(state(), (0, ["audit.checkpoint", "audit.prune"]),
           "after its commit: the rows pruned, the checkpoint and the prune's row")
        who = self.rows(db)[-1]
        check(who[3].startswith("cli:") and who[7] == "older than 1h" and who[8] == "ok",
              "the prune's row names who ran it and how far: %r" % (who,))
        rc, out, err = self.verify(db)
        eq(rc, 0, "the pruned trail verifies: " + err)

    def test_retention_by_server_config(self):
        s = Server("--audit-retention", "1")
        try:
            c = s.client("acme", name="r")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "issued")
            s.stop()
            time.sleep(1.2)
            s.start()   # housekeeping runs at start
            deadline = time.time() + 10
            while time.time() < deadline:
                if s.cli("audit", "list", "--action", "token.issued") == []:
                    break
                time.sleep(0.2)
            eq(s.cli("audit", "list", "--action", "token.issued"), [], "pruned by the server")
            eq(len(s.cli("audit", "list", "--action", "audit.checkpoint")), 1, "one checkpoint")
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "issued after")
            eq(s.cli("audit", "verify")["ok"], True, "verifies")
        finally:
            s.cleanup()

    def test_audit_off_records_nothing(self):
        s = Server("--audit", "off")
        try:
            c = s.client("acme", name="off")
            n = len(s.cli("audit", "list", "--limit", "10000"))
            eq(s.token(c["client_id"], c["client_secret"]).status, 200, "issued")
            eq(s.token(c["client_id"], "bad").status, 401, "refused")
            eq(len(s.cli("audit", "list", "--limit", "10000")), n, "no token rows with audit off")
        finally:
            s.cleanup()


if __name__ == "__main__":
    Audit().run()
