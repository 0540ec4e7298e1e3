"""Integration harness: runs the real gatehouse binary on a free loopback port
with a private store and master key in a temporary directory, and talks to it
over real HTTP. Standard library only (Debian's python3)."""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from ports import free_port  # for the tests and nginx.py, which take it from here

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("GATEHOUSE_SRC", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("GATEHOUSE_BIN", os.path.join(SRC, "build", "gatehouse"))
# "postgresql": every Server gets a fresh database on one private PostgreSQL
# server per test process (tests/lib/pg.py), started on first use.
BACKEND = os.environ.get("GATEHOUSE_TEST_BACKEND", "sqlite")

# Servers that ended badly when stopped (a sanitizer report aborts the
# process at exit): the runner fails the test that stopped them, with the
# server's last words, so a fault at shutdown is never silent.
ABNORMAL_EXITS = []
_pg = None


def pg_server():
    global _pg
    if _pg is None:
        import atexit
        sys.path.insert(0, HERE)
        import pg
        _pg = pg.PgServer()
        atexit.register(_pg.cleanup)
    return _pg


_pg_urls = {}     # workdir -> its database: Servers sharing a workdir share a store


class _Holder:
    """Server.hold_writes's session."""

    def __init__(self, db, table):
        self.db, self.proc = None, None
        if BACKEND != "postgresql":
            import sqlite3
            self.db = sqlite3.connect(db[len("sqlite:"):], timeout=10, isolation_level=None)
            self.db.execute("BEGIN IMMEDIATE")
            return
        self.proc = subprocess.Popen([os.path.join(pg_server().bin, "psql"), "-X", "-q", "-A",
                                      "-t", "-d", db.split("?")[0]], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.proc.stdin.write(b"BEGIN; LOCK TABLE " + table.encode() +
                              b" IN ACCESS EXCLUSIVE MODE; SELECT 'held';\n")
        self.proc.stdin.flush()
        if b"held" not in self.proc.stdout.readline():
            raise AssertionError("hold_writes: psql did not take the lock")

    def release(self):
        if self.db is not None:
            self.db.execute("ROLLBACK")
            self.db.close()
        if self.proc is not None:
            self.proc.stdin.close()     # psql ends: the transaction rolls back
            self.proc.wait(30)
        self.db, self.proc = None, None


def new_store_url(directory):
    if BACKEND == "postgresql":
        if directory not in _pg_urls:
            _pg_urls[directory] = pg_server().new_database()
        return _pg_urls[directory]
    return "sqlite:" + os.path.join(directory, "gh.db")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-case name -> list of values
        self.body = body

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


def make_cert_files(directory, prefix, rsa=False, cn="127.0.0.1"):
    """A self-signed certificate for 127.0.0.1 and its key (mode 0600) as
    <directory>/<prefix>cert.pem and key.pem: EC P-256, or RSA 2048."""
    cert = os.path.join(directory, prefix + "cert.pem")
    key = os.path.join(directory, prefix + "key.pem")
    kind = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509", "-newkey"] + kind + ["-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class Server:
    """One gatehouse serve process and its store. policy: the text of a
    gate policy, written to <dir>/gate.policy (self.policy) and served
    with --policy after the extra arguments."""

    def __init__(self, *extra, env=None, tls=False, workdir=None, start=True, policy=None,
                 port=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="gh-it-")
        os.chmod(self.dir, 0o700)
        self.db = new_store_url(self.dir)
        self.master = os.path.join(self.dir, "master.key")
        # By default (port 0) serve binds a free port itself and names it
        # in its server.started line, learned at the first start and kept
        # for restarts (the same issuer). A port picked here instead could
        # be taken by another ctest process, or by any process's outgoing
        # connection, before serve binds it.
        self.port = 0 if port is None else port
        self.extra = list(extra)
        self.policy = None
        if policy is not None:
            self.policy = os.path.join(self.dir, "gate.policy")
            with open(self.policy, "w") as f:
                f.write(policy)
            self.extra += ["--policy", self.policy]
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.tls = tls
        self.proc = None
        self.stdout = []
        # A file of its own even when Servers share a workdir (the nodes of
        # one store): in one shared file their lines mixed, and the tail
        # shown for one node's bad exit was another node's.
        fd, self.stderr_path = tempfile.mkstemp(prefix="stderr-", suffix=".log", dir=self.dir)
        os.close(fd)
        self.bootstrap = {}
        if tls:
            self.make_cert()
        if start:
            self.start()

    # -- process -----------------------------------------------------------
    def make_cert(self, rsa=False):
        self.cert, self.key = make_cert_files(self.dir, "", rsa=rsa)
        self.tls = True
        self.extra += ["--tls-cert", self.cert, "--tls-key", self.key]

    def argv(self):
        return [BIN, "serve", "--db", self.db, "--master-key", self.master,
                "--listen", "127.0.0.1:%d" % self.port] + self.extra

    def start(self, expect_fail=False):
        log_from = os.path.getsize(self.stderr_path)   # this run's lines start here
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, env=self.env)
        t = threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True)
        t.start()
        if expect_fail:
            rc = self.proc.wait(timeout=30)
            self.proc = None
            return rc
        # Up when this process has logged server.started (it listens: a
        # port held by another server is refused, "cannot listen") and
        # /healthz answers. /healthz alone may be answered by another
        # server on the port, while this one exits 1.
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                rc, self.proc = self.proc.returncode, None     # said here, not again at stop
                self.stderr_file.close()
                raise RuntimeError("server on port %d exited %d:\n%s"
                                   % (self.port, rc, self.stderr()))
            try:
                if self.port == 0:
                    self.port = self._started_port(log_from)
                if self.port and self._logged("server.started", log_from) and \
                        self.get("/healthz").status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("server on port %d did not come up:\n%s"
                               % (self.port, self.stderr()))
        self._parse_bootstrap()
        return 0

    def _logged(self, event, offset=0):
        """Whether this server's stderr, from offset on, holds a JSON log
        line of event."""
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            return ('"event":"%s"' % event).encode() in f.read()

    def _started_port(self, offset=0):
        """The port of this server's server.started line from offset on; 0
        before it is logged."""
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            for line in f.read().decode("utf-8", "replace").splitlines():
                if line.startswith("{") and '"server.started"' in line:
                    return json.loads(line)["port"]
        return 0

    def _drain(self, stream):
        for line in stream:
            self.stdout.append(line.decode("utf-8", "replace"))

    def _parse_bootstrap(self):
        deadline = time.time() + 5
        while time.time() < deadline:
            text = "".join(self.stdout)
            if "client_secret:" in text and "curl" in text:
                for line in text.splitlines():
                    line = line.strip()
                    if line.startswith("client_id:"):
                        self.bootstrap["client_id"] = line.split(":", 1)[1].strip()
                    if line.startswith("client_secret:"):
                        self.bootstrap["client_secret"] = line.split(":", 1)[1].strip()
                return
            if (BACKEND != "sqlite" or os.path.exists(os.path.join(self.dir, "gh.db"))) \
                    and time.time() > deadline - 4:
                # Not a first run: no bootstrap output comes.
                if self.stdout == [] and time.time() > deadline - 3:
                    return
            time.sleep(0.05)

    # serve's own bound on a stop is its stop_timeout (30 s by default),
    # after which it logs server.stop_timeout and exits 1. Waiting longer
    # than that lets a stuck stop end as serve reports it (an exit status
    # and its log, below) instead of as this wait's TimeoutExpired.
    STOP_WAIT = 45

    def stop(self, sig=signal.SIGTERM, timeout=STOP_WAIT, expect=0):
        """Signals the server and waits; its exit status. A graceful stop
        that does not exit with expect fails the running test."""
        if self.proc is None:
            return 0
        # One that ended before it was asked to is reported as such: its
        # cause is in its log, not at the end of it.
        early = self.proc.poll() is not None
        if not early:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        self.stderr_file.close()
        graceful = sig in (signal.SIGTERM, signal.SIGINT)
        if early and rc != 0:
            ABNORMAL_EXITS.append("server on port %d had exited %d before it was stopped; "
                                  "its stderr (%s) ends:\n%s"
                                  % (self.port, rc, self.stderr_path, self.stderr()[-6000:]))
        elif (graceful and rc != expect) or (not graceful and rc < 0 and rc != -sig):
            ABNORMAL_EXITS.append("server on port %d stopped with %s exited %d; its stderr "
                                  "(%s) ends:\n%s" % (self.port, signal.Signals(sig).name, rc,
                                                       self.stderr_path, self.stderr()[-6000:]))
        return rc

    def restart(self):
        self.stop()
        self.start()

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the store, directly ---------------------------------------------------
    def sql(self, statement, params=()):
        """Runs one SQL statement on this server's store, whichever backend,
        with ? placeholders bound (SQLite: sqlite3; PostgreSQL: psql's
        quoted variables). Returns the rows as lists of text (PostgreSQL) or
        values (SQLite)."""
        if BACKEND != "postgresql":
            import sqlite3
            db = sqlite3.connect(self.db[len("sqlite:"):], timeout=10)
            try:
                rows = db.execute(statement, params).fetchall()
                db.commit()
            finally:
                db.close()
            return rows
        parts = statement.split("?")
        check(len(parts) == len(params) + 1, "sql: %d placeholders, %d params"
              % (len(parts) - 1, len(params)))
        text = parts[0] + "".join(":'p%d'%s" % (i, part) for i, part in enumerate(parts[1:]))
        srv = pg_server()
        argv = [os.path.join(srv.bin, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                "-v", "ON_ERROR_STOP=1", "-d", self.db]
        for i, v in enumerate(params):
            argv += ["-v", "p%d=%s" % (i, v)]
        p = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("sql: " + p.stderr.decode(errors="replace"))
        return [line.split("\t") for line in p.stdout.decode().splitlines() if line]

    def hold_writes(self, table):
        """Another session holding table locked (PostgreSQL), or the whole
        store's write lock (SQLite), until .release() on what this returns:
        the server's writes there wait out its 5 s lock timeout and fail."""
        return _Holder(self.db, table)

    # -- CLI -----------------------------------------------------------------
    def cli(self, *args, check=True):
        p = subprocess.run([BIN] + list(args) + ["--db", self.db, "--master-key", self.master],
                           capture_output=True, env=self.env, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("gatehouse %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                                  p.stderr.decode()))
        self._await_generations()
        out = p.stdout.decode()
        if p.returncode == 0 and out.strip():
            return json.loads(out)
        return p

    def _await_generations(self, limit=5.0):
        """On PostgreSQL, waits (up to limit) until this running server has
        heard of what a CLI run may have committed: it learns of another
        process's commits by NOTIFY, a moment later, and a check made at
        once could beat it (CI once asked for the JWKS first). SQLite's
        server reads the generations on its next request itself."""
        if BACKEND != "postgresql" or self.proc is None or self.proc.poll() is not None:
            return
        names = ("generation", "lock_generation", "revocation_generation")
        try:
            rows = self.sql("SELECT key, value FROM meta WHERE key IN (%s)"
                            % ", ".join("'%s'" % n for n in names))
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            return          # the database is down or held: nothing to wait for
        want = {k: int(v) for k, v in rows}
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                seen = self.get("/readyz").json().get("store", {})
            except (OSError, ValueError, http.client.HTTPException):
                return
            if all(seen.get(k, 0) >= v for k, v in want.items()):
                return
            time.sleep(0.02)

    def tenant(self, tid):
        r = self.cli("tenant", "create", "--id", tid, check=False)
        return r

    def client(self, tenant="acme", **kw):
        self.tenant(tenant)
        args = ["client", "create", "--tenant", tenant, "--name", kw.pop("name", "partner")]
        for k, v in kw.items():
            flag = "--" + k.replace("_", "-")
            if isinstance(v, (list, tuple)):
                for item in v:
                    args += [flag, item]
            else:
                args += [flag, str(v)]
        return self.cli(*args)

    # -- HTTP ----------------------------------------------------------------
    @property
    def base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def connection(self):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.cert)
            return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or self.connection()
        hdrs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            if not any(k.lower() == "content-type" for k, _ in hdrs):
                hdrs.append(("Content-Type", "application/json"))
        elif isinstance(body, str):
            body = body.encode()
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        hmap = {}
        for k, v in r.getheaders():
            hmap.setdefault(k.lower(), []).append(v)
        if own:
            conn.close()
        return Response(r.status, hmap, data)

    def raw(self, data, head=False, timeout=20):
        """Sends data (bytes, any framing, however malformed) on a new
        connection and reads one answer: a Response with .raw, the bytes
        read, or None when the server closed without answering. Interim 1xx
        answers are skipped; head: the request was a HEAD (no body follows).
        Raises socket.timeout when nothing complete came within timeout."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            return read_response(s, head)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post_form(self, path, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        body = fields if isinstance(fields, str) else urllib.parse.urlencode(fields)
        return self.request("POST", path, body=body, headers=h)

    def post_json(self, path, obj, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        body = obj if isinstance(obj, (str, bytes)) else json.dumps(obj)
        return self.request("POST", path, body=body, headers=h)

    def token(self, cid, secret, **fields):
        f = {"grant_type": "client_credentials"}
        f.update(fields)
        return self.post_form("/oauth/token", f, headers={"Authorization": basic(cid, secret)})


def read_response(sock, head=False):
    """One HTTP/1.x answer read from sock (see Server.raw); raises
    AssertionError when what came is not one."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            lines = buf[:end].split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            check(len(parts) >= 2 and parts[0] in (b"HTTP/1.0", b"HTTP/1.1") and
                  len(parts[1]) == 3 and parts[1].isdigit(), "status line %r" % lines[0][:100])
            status = int(parts[1])
            hmap = {}
            for line in lines[1:]:
                name, colon, value = line.partition(b":")
                check(colon and name and name == name.strip(), "header line %r" % line[:100])
                hmap.setdefault(name.decode("latin-1").lower(), []).append(
                    value.strip().decode("latin-1"))
            rest = buf[end + 4:]
            if 100 <= status < 200:
                buf = rest
                continue
            length = hmap.get("content-length")
            if head or status in (204, 304):
                length = ["0"]
            check(length is not None and len(length) == 1 and length[0].isdigit(),
                  "one Content-Length in %r" % buf[:end][:300])
            if len(rest) >= int(length[0]):
                r = Response(status, hmap, rest[:int(length[0])])
                r.raw = buf[:end + 4 + int(length[0])]
                return r
        chunk = sock.recv(65536)
        if not chunk:
            check(buf == b"", "connection closed within an answer: %r" % buf[:300])
            return None
        buf += chunk


def basic(cid, secret, encode=True):
    q = (lambda s: urllib.parse.quote(s, safe="")) if encode else (lambda s: s)
    return "Basic " + base64.b64encode(("%s:%s" % (q(cid), q(secret))).encode()).decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


class EachSigningAlg:
    """A test_<alg> for each signing algorithm gatehouse offers, each calling
    the suite's verify_alg(alg). Mix in before Suite."""

    def test_rs256(self):
        self.verify_alg("RS256")

    def test_es256(self):
        self.verify_alg("ES256")

    def test_ps256(self):
        self.verify_alg("PS256")

    def test_eddsa(self):
        self.verify_alg("EdDSA")


def check_servers_stopped_cleanly():
    if ABNORMAL_EXITS:
        text = "\n".join(ABNORMAL_EXITS)
        del ABNORMAL_EXITS[:]
        raise AssertionError(text)


class Suite:
    """A tiny runner: each test_* method runs; failures are counted and the
    process exits non-zero; the last line reads 'N passed, N failed'."""

    def run(self):
        names = [n for n in sorted(dir(self)) if n.startswith("test_")]
        only = os.environ.get("GH_ONLY")
        if only:
            names = [n for n in names if only in n]
        passed = failed = 0
        set_up = False
        try:
            self.setup()
            set_up = True
            for n in names:
                t0 = time.time()
                try:
                    getattr(self, n)()
                    check_servers_stopped_cleanly()
                    passed += 1
                    print("ok   %s (%.2fs)" % (n, time.time() - t0), flush=True)
                except Exception as e:  # noqa: BLE001 - report every failure
                    failed += 1
                    import traceback
                    print("FAIL %s: %s" % (n, e), flush=True)
                    traceback.print_exc()
                    if ABNORMAL_EXITS:  # the test failed first: say both
                        print("\n".join(ABNORMAL_EXITS), flush=True)
                        del ABNORMAL_EXITS[:]
        finally:
            # After a setup that stopped early (a skip, a failure) teardown
            # may find half its attributes: that must not hide the cause.
            try:
                self.teardown()
            except AttributeError:
                if set_up:
                    raise
            if ABNORMAL_EXITS:
                failed += 1
                print("FAIL teardown: " + "\n".join(ABNORMAL_EXITS), flush=True)
        print("%d passed, %d failed" % (passed, failed))
        sys.exit(1 if failed else 0)

    def setup(self):
        pass

    def teardown(self):
        pass


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what, b, a))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
