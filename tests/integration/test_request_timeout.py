#!/usr/bin/env python3
"""The request timeout (src/http/watch.c) against the real binary: a client
must send each request whole within request_timeout of its connection's
opening or of the answer before it."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq, read_response  # noqa: E402

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

def trickle(sock, data, gap, limit):
    """Sends data a byte every gap seconds, watching for the server to end
    the connection; returns the seconds it took to end it, or None when
    all of data went out or limit seconds passed first."""
    t0 = time.monotonic()
    for b in data:
        try:
            sock.send(bytes([b]))
        except OSError:
            return time.monotonic() - t0
        end = time.monotonic() + gap
        while time.monotonic() < end:
            sock.settimeout(max(end - time.monotonic(), 0.001))
            try:
                if sock.recv(1) == b"":
                    return time.monotonic() - t0
                raise AssertionError("an answer to a request not yet sent")
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            return None
    return None


class RequestTimeout(Suite):
    """A request must arrive whole within request_timeout of its
    connection's opening or of the answer before it (src/http/watch.c).
    libmicrohttpd's idle timeout alone, restarted by every byte, let a
    client trickling its request (slow-loris) hold the connection for good:
    the HTTP review saw a head sent a byte every 7 s served after 84 s, so
    4096 such clients held every connection the server takes."""
    TIMEOUT = 2
    # A head sent a byte every 0.25 s: 120 bytes take 30 s, each byte
    # well inside the idle timeout.
    HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 80 + b"\r\n\r\n"

    def setup(self):
        self.s = Server("--threads", "1", "--request-timeout", str(self.TIMEOUT),
                        "--rate-limit", "0")

    def teardown(self):
        self.s.stop()
        self.s.cleanup()

    def timed_out(self):
        for line in self.s.get("/metrics").body.decode().splitlines():
            if line.startswith("gatehouse_http_requests_timed_out_total "):
                return float(line.split()[1])
        raise AssertionError("no gatehouse_http_requests_timed_out_total in /metrics")

    def test_a_request_trickled_in_is_cut_off_at_the_request_timeout(self):
        before = self.timed_out()
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            took = trickle(c, self.HEAD, 0.25, 15)
        check(took is not None, "the connection was still open after 15 s of trickling")
        check(self.TIMEOUT - 0.5 <= took <= self.TIMEOUT + 2.5,
              "cut off after %.1f s, the timeout being %d s" % (took, self.TIMEOUT))
        eq(self.timed_out() - before, 1.0, "the cut is counted")
        check('"http.request_timeout"' in self.s.stderr(), "the cut is logged")
        eq(self.s.get("/healthz").status, 200, "the server serves on")

    def test_a_kept_alive_connection_has_the_same_bound_for_its_next_request(self):
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            c.sendall(REQUEST)
            eq(read_response(c).status, 200, "the first request, sent whole")
            took = trickle(c, self.HEAD, 0.25, 15)
        check(took is not None and took <= self.TIMEOUT + 2.5,
              "the next request, trickled, cut off after %r s" % took)

    def test_a_request_sent_whole_is_served_however_slowly_it_is_answered(self):
        # Time the server takes is not the client's: a token request whose
        # record waits for the store (its write lock held 1.75 timeouts) is
        # answered, not cut off at the request timeout: 200 once the lock
        # goes, or 503 when the store's own lock timeout (PostgreSQL's, at
        # times) ends the wait first. Either is an answer.
        c = self.s.client("slow", name="waits")
        before = self.timed_out()
        holder = self.s.hold_writes("tokens")
        got = {}
        t = threading.Thread(target=lambda: got.update(r=self.s.token(c["client_id"], c["client_secret"])))
        try:
            t.start()
            # Past the request timeout, short of the store's 5 s lock wait.
            time.sleep(self.TIMEOUT * 1.75)
            check(t.is_alive(), "the token request waits for the store")
        finally:
            holder.release()
        t.join(30)
        check("r" in got and got["r"].status in (200, 503), "the held request's answer: %r" % got)
        eq(self.timed_out() - before, 0.0, "nothing was cut off")



if __name__ == "__main__":
    RequestTimeout().run()
