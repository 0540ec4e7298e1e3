"""A private PostgreSQL server for tests and benchmarks (Debian's
postgresql package): initdb in a temporary directory as an unprivileged user,
a free 127.0.0.1 port, the socket in the temporary directory, stopped by PID.
Standard library only.

    srv = PgServer(); url = srv.new_database(); ...; srv.stop()

As a program:
    pg.py run [--fsync] -- CMD ARGS...   runs CMD with GATEHOUSE_TEST_PG set to
                                         a fresh database's URL, then stops
    pg.py serve [--fsync]                prints the URL and runs until SIGTERM
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from ports import free_port

USER = "gatehouse-test"          # initdb and postgres refuse to run as root
SUPERUSER = "gatehouse"


def bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    if not dirs or not os.path.exists(os.path.join(dirs[-1], "initdb")):
        subprocess.run([os.path.join(os.environ.get("GATEHOUSE_SRC", os.path.dirname(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
            "scripts", "install-deps.sh"), "--test"], check=True)
        return bindir()
    return dirs[-1]


def test_user():
    """(uid, gid) to run the server as: ourselves unless root, else USER
    (created as a system user without a home or shell when missing)."""
    if os.getuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", USER], check=True, capture_output=True)
        pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid


class PgServer:
    def __init__(self, fsync=False, start=True):
        self.bin = bindir()
        self.ids = test_user()
        self.dir = tempfile.mkdtemp(prefix="gh-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.password = os.urandom(12).hex()
        self.fsync = fsync
        self.proc = None
        self.started = False        # once: later starts keep the port
        self.dbs = 0
        if self.ids:
            os.chown(self.dir, *self.ids)
        os.chmod(self.dir, 0o700)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self.ids:
            os.chown(pwfile, *self.ids)
        # Password (SCRAM) over TCP, which is what the URLs use; trust on the
        # private socket directory only.
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", SUPERUSER,
                   "--pwfile", pwfile, "--auth-host=scram-sha-256", "--auth-local=trust",
                   "--no-sync", "-E", "UTF8", "--locale=C"])
        os.unlink(pwfile)
        if start:
            self.start()

    def _kw(self):
        if not self.ids:
            return {}
        return {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}

    def _run(self, argv):
        p = subprocess.run(argv, capture_output=True, cwd=self.dir, **self._kw())
        if p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (argv[0], p.stderr.decode(errors="replace")))
        return p

    def start(self):
        """Starts postgres on self.port. The first start draws another port
        when the one drawn was taken before postgres bound it (another
        ctest process, an outgoing connection); later ones keep it: the
        URLs handed out name it."""
        for _ in range(5):
            if self._start_once():
                self.started = True
                return
            if self.started:
                raise RuntimeError("postgres: port %d is taken:\n%s" % (self.port, self.log_text()))
            self.port = free_port()
        raise RuntimeError("postgres found no free port:\n" + self.log_text())

    def _ours_ready(self):
        """Whether postmaster.pid is this process's and says "ready" (its
        sockets are bound: pg_isready alone may reach another server on the
        port)."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                lines = f.read().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.proc.pid) and \
            lines[7].strip() == "ready"

    def _start_once(self):
        opts = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + self.dir,
                "-c", "max_connections=200", "-c", "shared_buffers=32MB"]
        if not self.fsync:
            # Tests: durability is the code's commit, not this disk's.
            opts += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        log_path = os.path.join(self.dir, "postgres.log")
        since = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(self.bin, "postgres"), "-D", self.data,
                                      "-p", str(self.port)] + opts,
                                     stdout=self.log, stderr=self.log, cwd=self.dir,
                                     start_new_session=True, **self._kw())
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                with open(log_path, "rb") as f:
                    f.seek(since)
                    new = f.read().decode("utf-8", "replace")
                rc, self.proc = self.proc.returncode, None
                self.log.close()
                if "could not bind" in new and "in use" in new:
                    return False
                raise RuntimeError("postgres exited %d:\n%s" % (rc, self.log_text()))
            r = subprocess.run([os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1",
                                "-p", str(self.port)], capture_output=True)
            if r.returncode == 0 and self._ours_ready():
                return True
            time.sleep(0.05)
        raise RuntimeError("postgres did not come up:\n" + self.log_text())

    def stop(self, sig=signal.SIGINT, timeout=60):
        """SIGINT: fast shutdown (sessions are cut, as in a failover)."""
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "postgres.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def url(self, db="postgres", user=SUPERUSER, password=None, **params):
        u = "postgresql://%s:%s@127.0.0.1:%d/%s" % (user, password or self.password,
                                                    self.port, db)
        if params:
            u += "?" + "&".join("%s=%s" % kv for kv in params.items())
        return u

    def psql(self, sql, db="postgres"):
        env = dict(os.environ, PGPASSWORD=self.password)
        p = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", SUPERUSER, "-d", db, "-c", sql],
                           capture_output=True, env=env)
        if p.returncode != 0:
            raise RuntimeError("psql: " + p.stderr.decode(errors="replace"))
        return p.stdout.decode().strip()

    def session(self, db="postgres"):
        """An interactive psql: write SQL to its stdin and wait() for a
        line it prints, so that a test can hold a transaction open while
        something else runs. Close with close_session()."""
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.Popen([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t",
                                 "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER,
                                 "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env)

    @staticmethod
    def session_run(p, sql, timeout=30):
        """Runs sql in session p and waits until it has run: returns the
        output it printed before a marker line."""
        p.stdin.write((sql + "\nSELECT 'gh-session-mark';\n").encode())
        p.stdin.flush()
        out, deadline = [], time.time() + timeout
        while time.time() < deadline:
            line = p.stdout.readline().decode(errors="replace").rstrip("\n")
            if line == "gh-session-mark":
                return "\n".join(out)
            if line == "" and p.poll() is not None:
                break
            out.append(line)
        raise RuntimeError("psql session: no answer to %r: %r" % (sql, out))

    @staticmethod
    def close_session(p):
        try:
            p.stdin.write(b"ROLLBACK;\n\\q\n")
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()

    def new_database(self, **params):
        """A fresh, empty database; its URL."""
        self.dbs += 1
        name = "gh_%d_%d" % (os.getpid(), self.dbs)
        self.psql("CREATE DATABASE %s" % name)
        return self.url(name, **params)


def main(argv):
    fsync = "--fsync" in argv
    if len(argv) >= 2 and argv[1] == "run" and "--" in argv:
        cmd = argv[argv.index("--") + 1:]
        srv = PgServer(fsync=fsync)
        try:
            env = dict(os.environ, GATEHOUSE_TEST_PG=srv.new_database())
            return subprocess.run(cmd, env=env).returncode
        finally:
            srv.cleanup()
    if len(argv) >= 2 and argv[1] == "serve":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        srv = PgServer(fsync=fsync)
        print(srv.new_database(), flush=True)
        try:
            signal.sigwait({signal.SIGTERM, signal.SIGINT})
        finally:
            srv.cleanup()
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main(sys.argv))
