"""Issue 7: the concurrency scenario (64 threads at once on an empty cache,
then a background refresh racing 16 more callers) under ThreadSanitizer and
under valgrind's Helgrind. Both report data races, lock-order inversions and
misuse of the pthread API; the test fails on any report.

ThreadSanitizer and valgrind cannot run an AddressSanitizer binary, so the
sanitizer build (GH_SANITIZE) runs the scenario under ASan only and says so;
the release build runs all three."""
import os
import shutil
import tempfile

from fakes import CLIENT_ID, Fake, check, eq, probe
from harness import Suite

HERE = os.path.dirname(os.path.abspath(__file__))
TSAN = os.environ.get("CLIENT_PROBE_TSAN", "")
SANITIZED = os.environ.get("GH_SANITIZE", "0") in ("1", "ON", "TRUE", "true")


def thread_sanitized(path):
    """Whether the binary at path was built with -fsanitize=thread (a
    ThreadSanitizer build made by hand, README): it carries TSan's runtime
    entry point."""
    try:
        with open(path, "rb") as f:
            return b"__tsan_init" in f.read()
    except OSError:
        return False


class ConcurrencyTools(Suite):
    def setup(self):
        self.f = Fake()

    def teardown(self):
        self.f.close()

    def scenario(self, prefix=None, probe_path=None, env=None):
        # Every token request takes 1 s at the server; tokens live 6 s, so the
        # background thread refreshes from 4.8 s to 5.8 s, while 16 callers ask.
        self.f.delay = 1.0
        self.f.expires_in = 6
        before = self.f.hits("/ok/")
        try:
            out, p = probe("--url", self.f.base + "/ok", "--id", CLIENT_ID, "--background",
                           "conc:64", "sleep:5200", "conc:16", "sleep:1500", "get", "stats",
                           prefix=prefix, env=env, timeout=600, probe_path=probe_path)
        finally:
            self.f.delay = 0
            self.f.expires_in = 3600
        eq(p.returncode, 0, "exit status; stderr:\n%s" % p.stderr.decode()[-6000:])
        eq((out[0]["ok"], out[0]["distinct"], out[0]["token_requests"]), (64, 1, 1), "64 threads: %r" % out[0])
        eq((out[1]["ok"], out[1]["distinct"]), (16, 1), "16 threads during the refresh: %r" % out[1])
        check(out[1]["max_ms"] < 500, "no caller waited for the 1 s refresh: %r" % out[1])
        eq(out[2]["rc"], "ok", "after the refresh: %r" % out[2])
        eq(out[3]["token_requests"], 2, "the background thread refreshed once: %r" % out[3])
        eq(self.f.hits("/ok/") - before, 2, "two token requests at the server")
        return p

    def test_plain_or_asan(self):
        self.scenario()

    def test_thread_sanitizer(self):
        if SANITIZED:
            print("note: ThreadSanitizer does not combine with ASan; the release build runs this test")
            return
        check(TSAN and os.access(TSAN, os.X_OK), "CLIENT_PROBE_TSAN (client_probe_tsan) is not built")
        p = self.scenario(probe_path=TSAN,
                          env={"TSAN_OPTIONS": "halt_on_error=1 exitcode=66 second_deadlock_stack=1"})
        check(b"ThreadSanitizer" not in p.stderr, "TSan report:\n%s" % p.stderr.decode()[-6000:])

    def test_valgrind_helgrind(self):
        if SANITIZED:
            print("note: valgrind cannot run an ASan binary; the release build runs this test")
            return
        if thread_sanitized(os.environ.get("CLIENT_PROBE", "")):
            print("note: valgrind cannot run a ThreadSanitizer binary; the release build runs this test")
            return
        vg = shutil.which("valgrind")
        check(vg is not None, "valgrind is required: scripts/install-deps.sh --test installs it")
        log = tempfile.mktemp(prefix="helgrind-", suffix=".log")
        try:
            p = self.scenario(prefix=[vg, "--tool=helgrind",
                                      "--suppressions=" + os.path.join(HERE, "helgrind.supp"),
                                      "--log-file=" + log])
            with open(log) as f:
                text = f.read()
            check("ERROR SUMMARY: 0 errors" in text, "Helgrind report:\n%s" % text[-6000:])
        finally:
            if os.path.exists(log):
                os.unlink(log)


if __name__ == "__main__":
    ConcurrencyTools().run()
