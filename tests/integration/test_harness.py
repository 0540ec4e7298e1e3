"""The harness's own promises about the servers it runs (tests/lib/harness.py),
named for the bug that broke them: pgsql/integration/test_multinode once passed
its ten tests and then failed at teardown with "exited 1" and a log tail that
ended at another node's server.stopping. Its nodes B and C had drawn one port
(two bind(0) calls in a row return the same port now and then); C could not
listen and exited 1 at once, B answered C's /healthz, so C passed for started
and B served both; and as the nodes shared a workdir they shared one
stderr.log, where C's "cannot listen" lay 60 KB before the tail shown."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import Server, Suite, check, eq  # noqa: E402


def listens(server):
    """The listen addresses of the server.started lines in its stderr."""
    out = []
    for line in server.stderr().splitlines():
        if line.startswith("{") and '"server.started"' in line:
            out.append(json.loads(line)["listen"])
    return out


class Harness(Suite):
    def setup(self):
        self.a = Server()

    def teardown(self):
        self.a.cleanup()

    def test_node_on_a_port_held_by_another_is_not_started(self):
        """A second server drawn the first one's port does not pass for
        started because the first answers /healthz: its start fails with
        its own reason."""
        b = Server(workdir=self.a.dir, start=False)
        b.port = self.a.port
        try:
            b.start()
        except RuntimeError as e:
            why = str(e)
        else:
            why = None
        finally:
            b.stop()
        check(why is not None, "a server that could not listen passed for started")
        check("cannot listen on 127.0.0.1:%d" % self.a.port in why and "in use" in why,
              "the start failed with the server's own reason: %s" % why[-600:])
        harness.check_servers_stopped_cleanly()     # reported once, by start
        eq(self.a.get("/healthz").status, 200, "the first server still serves")

    def test_nodes_sharing_a_workdir_log_apart(self):
        """Servers of one workdir (one store, one master key) each have
        their own stderr: what one logged is never shown as the other's."""
        b = Server(workdir=self.a.dir)
        try:
            eq(listens(self.a), ["127.0.0.1:%d" % self.a.port], "A's stderr: A's start only")
            eq(listens(b), ["127.0.0.1:%d" % b.port], "B's stderr: B's start only")
        finally:
            b.stop()
        check('"server.stopping"' in b.stderr(), "B's stop in B's stderr")
        check('"server.stopping"' not in self.a.stderr(), "and not in A's")

    def test_free_port_never_hands_out_a_port_twice(self):
        """Ports drawn in one process are all different, however often the
        kernel hands out the same one (3,000 draws: the kernel alone repeats
        some hundreds of times)."""
        drawn = [harness.free_port() for _ in range(3000)]
        eq(len(set(drawn)), len(drawn), "distinct ports")

    def test_nginx_on_a_taken_port_draws_another(self):
        """nginx cannot bind port 0, so it gets a drawn port, which another
        process may take first: it must start on another one, not fail."""
        import socket
        import nginx
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        taken = held.getsockname()[1]
        draws = iter([taken])
        real = nginx.free_port
        nginx.free_port = lambda: next(draws, None) or real()
        try:
            n = nginx.Nginx(self.a.port, self.a.port)
            try:
                check(n.port != taken, "another port than the taken %d" % taken)
                status = n.request("GET", "/")[0]
                check(100 <= status <= 599, "it answers HTTP: %r" % status)
            finally:
                n.stop()
        finally:
            nginx.free_port = real
            held.close()


if __name__ == "__main__":
    Harness().run()
