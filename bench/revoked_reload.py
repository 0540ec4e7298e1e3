"""What a revocation costs the gate with many revoked tokens outstanding:
OUTSTANDING revoked, unexpired token records are written straight into the
store, the gate loads them once, then a client revokes ROUNDS of its own
tokens (RFC 7009), each followed by a gate check (gate cache off). Prints
the server's CPU time per revocation and the revoked-token rows the gate
read (gatehouse_gate_revoked_rows_read_total; absent before the reload was
incremental, when every reload read them all).

  GATEHOUSE_BIN=build/gatehouse GATEHOUSE_BUILD=build GATEHOUSE_SRC=. \\
      [GATEHOUSE_TEST_BACKEND=postgresql] python3 bench/revoked_reload.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from harness import BACKEND, Server, basic, eq  # noqa: E402

OUTSTANDING = int(os.environ.get("OUTSTANDING", "20000"))
ROUNDS = int(os.environ.get("ROUNDS", "50"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows(s):
    got = {}
    for line in s.get("/metrics").body.decode().splitlines():
        if line.startswith("gatehouse_gate_revoked_rows_read_total{"):
            got[line.split('"')[1]] = float(line.split()[-1])
    return got


def tuples_read(s):
    """PostgreSQL's count of token rows read (index entries and rows of
    sequential scans; None on SQLite). Its statistics are flushed within a
    second or so."""
    if BACKEND != "postgresql":
        return None
    time.sleep(2)
    idx = s.sql("SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes"
                " WHERE relname = 'tokens'")[0][0]
    seq = s.sql("SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables"
                " WHERE relname = 'tokens'")[0][0]
    return int(idx) + int(seq)


def main():
    s = Server("--gate-cache", "off", policy="GET /v1/** env=any\n")
    try:
        c = s.client("acme", name="bench", roles="viewer")
        far = int(time.time()) + 86400
        if BACKEND == "postgresql":
            s.sql("INSERT INTO tokens (id, client_id, tenant_id, name, format, env, scope, aud,"
                  " issued_at, expires_at, revoked_at) SELECT 'bulk' || i, ?, 'acme', 'bulk', 0, 0,"
                  " '', '', 1, ?::bigint, 1 FROM generate_series(1, ?::int) i",
                  (c["client_id"], far, OUTSTANDING))
        else:
            s.sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                  " INSERT INTO tokens (id, client_id, tenant_id, name, format, env, scope, aud,"
                  " issued_at, expires_at, revoked_at) SELECT 'bulk' || i, ?, 'acme', 'bulk', 0,"
                  " 0, '', '', 1, ?, 1 FROM n", (OUTSTANDING, c["client_id"], far))
        auth = {"Authorization": basic(c["client_id"], c["client_secret"])}
        toks = []
        for _ in range(ROUNDS + 1):
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "token")
            toks.append(r.json()["access_token"])
        live = toks.pop()
        gate = {"X-Original-Method": "GET", "X-Original-URI": "/v1/x", "X-TENANT-ID": "acme",
                "Authorization": "Bearer " + live}
        eq(s.get("/gate", headers=gate).status, 200, "the first load")
        read0 = tuples_read(s)
        before, cpu0, t0 = rows(s), cpu_seconds(s.proc.pid), time.time()
        for t in toks:
            eq(s.post_form("/oauth/revoke", {"token": t}, headers=auth).status, 200, "revoke")
            eq(s.get("/gate", headers=gate).status, 200, "gate")
        cpu, wall, after = cpu_seconds(s.proc.pid) - cpu0, time.time() - t0, rows(s)
        read = tuples_read(s)
        print("%s: %d outstanding, %d revocations: server CPU %.1f ms, wall %.1f ms per revocation"
              % (BACKEND, OUTSTANDING, ROUNDS, 1000 * cpu / ROUNDS, 1000 * wall / ROUNDS))
        print("rows read during them: %s" % ({k: after[k] - before.get(k, 0) for k in after}
                                              if after else "not counted (before the change)"))
        if read is not None:
            print("token rows (and index entries) PostgreSQL read meanwhile: %d" % (read - read0))
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
