#!/usr/bin/env python3
"""`gatehouse policy check`: a route policy read as serve reads it, every
bad line reported, and calls shown with the rule that decides them. Also
holds docs/policy.md's example to the parser, so the documentation cannot
show a policy the server refuses."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import BIN, SRC, Suite, check, eq  # noqa: E402


def run(*args):
    p = subprocess.run([BIN, "policy", "check"] + list(args), capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class PolicyCheck(Suite):
    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="gh-policy-")

    def teardown(self):
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def write(self, text):
        path = os.path.join(self.dir, "gate.policy")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_the_documented_example_is_a_good_policy(self):
        with open(os.path.join(SRC, "docs", "policy.md")) as f:
            doc = f.read()
        block = re.search(r"## Example\n\n```\n(.*?)```", doc, re.S)
        check(block is not None, "docs/policy.md has its example block")
        rc, out, err = run(self.write(block.group(1)), "--call", "DELETE /v1/cards/c-1",
                           "--call", "GET /v2.01/partner-1/users")
        eq(rc, 0, "the example parses: " + err)
        got = json.loads(out)
        check(got["rules"] >= 8, "every rule read: %r" % got["rules"])
        eq(got["calls"][0]["rule"]["critical"], True, "the card deletion is critical")
        eq(got["calls"][1]["rule"]["pattern"], "/v2.01/{client}/**", "seed 003's rule")

    def test_calls_are_shown_with_the_rule_that_decides_them(self):
        path = self.write("GET /v1/cards/*/balance role=viewer env=any\n"
                          "POST /v1/payouts role=operator scopes=payouts:write critical\n"
                          "* /v1/** role=admin\n")
        rc, out, err = run(path, "--call", "GET /v1/cards/c-1/balance", "--call",
                           "POST /v1/payouts?ref=9", "--call", "PUT /v1/other", "--call",
                           "PUT /v2/x", "--call", "GET /v1/a/../b")
        eq(rc, 0, err)
        calls = json.loads(out)["calls"]
        eq([c.get("rule", {}).get("line") for c in calls], [1, 2, 3, None, None], "lines")
        eq(calls[1]["rule"]["scopes"], "payouts:write", "the rule's scopes")
        check(calls[3]["refused"].startswith("no_rule"), "no rule: %r" % calls[3])
        check(calls[4]["refused"].startswith("path:"), "an ambiguous path: %r" % calls[4])

    def test_every_bad_line_is_reported_and_the_exit_is_not_zero(self):
        rc, out, err = run(self.write("GET /ok\nFETCH /a\nGET /b role=root\nGET /ok\n"))
        eq(rc, 1, "refused")
        eq(out, "", "nothing on stdout")
        for want in ("gate.policy:2: unknown method", "gate.policy:3: role",
                     "gate.policy:4: \"/ok\" is already decided by line 1"):
            check(want in err, "reports %r: %s" % (want, err))
        rc, _, err = run(os.path.join(self.dir, "missing.policy"))
        check(rc == 1 and "No such file" in err, "a missing file: %s" % err)
        rc, _, err = run(self.write("GET /ok\n"), "--call", "GET")
        check(rc != 0 and "METHOD /path" in err, "a call without a path: %s" % err)


if __name__ == "__main__":
    PolicyCheck().run()
