"""Free loopback ports for the servers tests start (gatehouse, nginx,
PostgreSQL). Standard library only: pg.py runs as a program too."""
import socket
import threading

_ports_given = set()
_ports_mu = threading.Lock()


def free_port():
    """A loopback port that nothing listened on when asked, and that this
    process has not handed out before. The kernel gives two bind(0) calls
    in a row the same port now and then (6 pairs in 50,000 here): two
    Servers made before either starts (test_multinode's nodes B and C)
    then raced for one port, and the loser's exit was noticed only at
    teardown (see Server.start)."""
    with _ports_mu:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port
