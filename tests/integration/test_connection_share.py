#!/usr/bin/env python3
"""Each client address's share of connections (src/http/peers.c) against
the real binary: one address may hold connections_per_address at once, so
that one host cannot take all the server's connections; trusted proxies
are not limited."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq, read_response  # noqa: E402

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


# The held connections' address: not the harness's own (127.0.0.1), whose
# closed connections the server may count a moment longer.
HELD = "127.0.0.3"


def connect(port, source=HELD):
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def refusal(sock):
    """The answer to a request on sock (None: the connection ended
    unanswered), and whether the server then closed it."""
    try:
        sock.sendall(REQUEST)
        r = read_response(sock)
        return r, sock.recv(1) == b""
    except (ConnectionError, OSError, AssertionError, ValueError):
        return None, True


def served(sock):
    """1 when a request on sock is answered 200, 0 when the server ends
    the connection instead."""
    try:
        sock.sendall(REQUEST)
        r = read_response(sock)	# None: the connection ended
        return 1 if r is not None and r.status == 200 else 0
    except (ConnectionError, OSError, AssertionError, ValueError):
        return 0


class ConnectionShare(Suite):
    """Before, one address could open every connection the server takes
    (4096) and hold them idle within the request timeout, shutting every
    other client out."""
    SHARE = 4

    def setup(self):
        self.s = Server("--connections-per-address", str(self.SHARE), "--rate-limit", "0")

    def teardown(self):
        self.s.stop()
        self.s.cleanup()

    def metric(self, name):
        for line in self.s.get("/metrics").body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError("no %s in /metrics" % name)

    def test_an_address_past_its_share_is_refused_and_others_are_served(self):
        before = self.metric("gatehouse_http_connections_refused_total")
        held = [connect(self.s.port) for _ in range(self.SHARE)]
        try:
            for k in held:
                eq(served(k), 1, "a connection within the share, kept alive")
            # One more from the same address: answered 503 with when to
            # try again, then closed (it was closed unanswered: clients
            # saw a reset or EOF and often retried at once).
            extra = connect(self.s.port)
            r, closed = refusal(extra)
            extra.close()
            check(r is not None, "one more from the same address is answered")
            eq(r.status, 503, "past the share")
            eq(r.header("Retry-After"), "1", "says when to try again")
            eq(r.header("Connection"), "close", "says it closes")
            eq(r.json()["error"], "temporarily_unavailable", "an RFC 6749 error body")
            check(closed, "and closes")
            with connect(self.s.port, source="127.0.0.2") as other:
                eq(served(other), 1, "another address is served meanwhile")
            for k in held:
                eq(served(k), 1, "the held connections serve on")
            held.pop().close()
            deadline = time.monotonic() + 10
            while True:	# the server counts the close out when it reads it
                with connect(self.s.port) as again:
                    if served(again):
                        break
                check(time.monotonic() < deadline, "a share let go is not taken again")
                time.sleep(0.1)
        finally:
            for k in held:
                k.close()
        time.sleep(0.2)
        check(self.metric("gatehouse_http_connections_refused_total") - before >= 1,
              "refusals are counted")
        check('"http.connection_refused"' in self.s.stderr(), "and logged")

    def test_trusted_proxies_are_not_limited(self):
        s = Server("--connections-per-address", "2", "--trusted-proxies", "127.0.0.1",
                   "--rate-limit", "0")
        held = []
        try:
            for _ in range(10):
                held.append(connect(s.port, source="127.0.0.1"))
                eq(served(held[-1]), 1, "a proxy's connection beyond the share")
        finally:
            for k in held:
                k.close()
            s.stop()
            s.cleanup()


if __name__ == "__main__":
    ConnectionShare().run()
