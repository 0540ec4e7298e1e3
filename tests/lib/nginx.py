"""Debian's nginx running docs/nginx/nginx.conf, adapted to free ports, as
the current user with a temporary prefix; stopped by PID."""
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import SRC, check, free_port

NGINX = "/usr/sbin/nginx"
CONF = os.path.join(SRC, "docs", "nginx", "nginx.conf")


class Nginx:
    """nginx as the current user with a temporary prefix, stopped by PID."""

    def __init__(self, gate_port, api_port):
        self.dir = tempfile.mkdtemp(prefix="gh-nginx-")
        for d in ("logs", "tmp"):
            os.mkdir(os.path.join(self.dir, d))
        self.gate_port, self.api_port = gate_port, api_port
        self.pidfile = os.path.join(self.dir, "nginx.pid")
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = None
        # nginx cannot bind port 0 and say which it got: a port free when
        # drawn may be taken (another ctest process, an outgoing
        # connection) before nginx binds it. Then it is drawn again.
        for _ in range(5):
            if self._start(free_port()):
                return
        raise RuntimeError("nginx found no free port: " + self.log())

    def _start(self, port):
        """Starts nginx on port: True when it serves, False when the port
        was taken, else raises."""
        self.port = port
        with open(CONF) as f:
            text = f.read()
        text = re.sub(r"server 127\.0\.0\.1:8080;", "server 127.0.0.1:%d;" % self.gate_port, text)
        text = re.sub(r"server 127\.0\.0\.1:9000;", "server 127.0.0.1:%d;" % self.api_port, text)
        text = re.sub(r"listen 127\.0\.0\.1:8000;", "listen 127.0.0.1:%d;" % self.port, text)
        check(str(self.gate_port) in text and str(self.port) in text, "config adapted")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(text)
        since = self.log_sizes()
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", self.conf, "-g",
                                      "daemon off; pid %s;" % self.pidfile],
                                     stdout=self.stderr, stderr=self.stderr)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                if "Address already in use" in self.log(since):
                    return False
                raise RuntimeError("nginx exited: " + self.log())
            # Its pid file is written once its sockets are bound (another
            # process on the port would answer the connection too).
            try:
                with open(self.pidfile) as f:
                    ours = f.read().strip() == str(self.proc.pid)
                if ours:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + self.log())

    LOGS = ("stderr.log", "logs/error.log")

    def log_sizes(self):
        return [os.path.getsize(os.path.join(self.dir, n))
                if os.path.exists(os.path.join(self.dir, n)) else 0 for n in self.LOGS]

    def log(self, since=None):
        """The logs' tails; since (from log_sizes): only what came after."""
        out = ""
        for i, name in enumerate(self.LOGS):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    f.seek(since[i] if since else 0)
                    out += f.read().decode("utf-8", "replace")[-3000:]
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()       # by PID: the process we started
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, headers=None, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if body is not None:
            body = body.encode()
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        c.close()
        return r.status, hdrs, data
