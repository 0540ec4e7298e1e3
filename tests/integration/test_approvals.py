"""Issue 6 parts 2 and 3: maker-checker approvals for the protected API —
POST/GET /approvals, approve/reject, the gate's X-Approval-ID on a critical
route (used up once), expiry, the CLI, and every bad input the issue lists —
against the real binary over HTTP."""
import hashlib
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, basic, check, eq  # noqa: E402

POLICY = """\
GET    /v1/products/**          role=viewer   env=any
POST   /v1/payouts/*/approve    role=operator env=any critical
DELETE /v1/cards/*              role=operator env=any critical
"""

CALL_PATH = "/v1/payouts/%s/approve"


class Approvals(Suite):
    def setup(self):
        self.s = Server(policy=POLICY)
        def client(tenant, **kw):
            c = self.s.client(tenant, **kw)
            c["tenant"] = tenant
            return c
        self.op = client("acme", name="op", roles="operator")
        self.viewer = client("acme", name="viewer", roles="viewer")
        # Checkers hold production tokens (a sandbox client decides nothing).
        prod = {"env": "production", "allow_ip": "127.0.0.1/32"}
        self.admin = client("acme", name="admin", roles="admin,operator,viewer", **prod)
        self.admin2 = client("acme", name="admin2", roles="admin", **prod)
        self.other_admin = client("globex", name="gadmin", roles="admin,operator", **prod)
        self.other_op = client("globex", name="gop", roles="operator")
        self.platform = client("platform", name="root", roles="admin", **prod)
        self.sandbox_admin = client("acme", name="sandbox-admin", roles="admin")
        self.toks = {}
        self.seq = 0

    def teardown(self):
        self.s.cleanup()

    # -- helpers ------------------------------------------------------------
    def tok(self, c):
        cid = c["client_id"]
        if cid not in self.toks:
            r = self.s.token(cid, c["client_secret"])
            eq(r.status, 200, "token for %s: %r" % (cid, r))
            self.toks[cid] = r.json()["access_token"]
        return self.toks[cid]

    def hdrs(self, c, tenant=None, extra=None):
        h = {"Authorization": "Bearer " + self.tok(c),
             "X-TENANT-ID": tenant if tenant is not None else c["tenant"]}
        h.update(extra or {})
        return h

    def api(self, method, path, c, body=None, tenant=None, extra=None, raw=None):
        h = self.hdrs(c, tenant, extra)
        if raw is not None:
            h.setdefault("Content-Type", "application/json")
            return self.s.request(method, path, body=raw, headers=h)
        return self.s.request(method, path, body=body, headers=h)

    def new_path(self):
        self.seq += 1
        return CALL_PATH % ("p-%d" % self.seq)

    def file(self, c, path=None, **fields):
        body = {"method": "POST", "path": path or self.new_path(), "reason": "payout for review"}
        body.update(fields)
        r = self.api("POST", "/approvals", c, body)
        eq(r.status, 202, "filing: %r" % r)
        return r.json()

    def decide(self, c, aid, verb="approve", tenant=None):
        return self.api("POST", "/approvals/%s/%s" % (aid, verb), c, tenant=tenant)

    def gate(self, c, path, aid=None, method="POST", extra=None, body=None):
        h = {"X-Original-Method": method, "X-Original-URI": path,
             "X-TENANT-ID": c["tenant"], "Authorization": "Bearer " + self.tok(c)}
        if aid is not None:
            h["X-Approval-ID"] = aid
        h.update(extra or {})
        if body is not None:
            return self.s.request("POST", "/gate", body=body, headers=h)
        return self.s.get("/gate", headers=h)

    def error(self, r, status, what, code=None):
        eq(r.status, status, "%s: %r" % (what, r))
        b = r.json()
        check(b.get("error_description"), "%s: a description %r" % (what, b))
        if code:
            eq(b.get("error"), code, what)
        return b

    def state(self, aid, c=None):
        r = self.api("GET", "/approvals/" + aid, c or self.admin)
        eq(r.status, 200, "show %r" % r)
        return r.json()["state"]

    # -- the whole flow -----------------------------------------------------
    def test_whole_flow(self):
        path = self.new_path()
        r = self.gate(self.op, path)
        eq(r.status, 403, "critical route without approval %r" % r)
        eq(r.json()["reason"], "approval_required", "reason")
        a = self.file(self.op, path=path)
        check(len(a["id"]) == 32, "id %r" % a)
        eq(a["state"], "pending", "filed pending")
        eq(a["maker"], self.op["client_id"], "maker")
        eq(a["payload"], {"method": "POST", "path": path, "body_digest": ""}, "payload")
        eq(a["reason"], "payout for review", "reason kept")
        check(a["expires_at"] and a["checker"] is None, "dates %r" % a)
        # Pending: not usable yet.
        r = self.gate(self.op, path, a["id"])
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "pending use %r" % r)
        r = self.decide(self.admin, a["id"])
        eq(r.status, 200, "approve %r" % r)
        eq(r.json()["state"], "approved", "approved")
        eq(r.json()["checker"], self.admin["client_id"], "checker")
        # Wrong path or method: refused, and the approval stays usable.
        r = self.gate(self.op, self.new_path(), a["id"])
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "other path")
        r = self.gate(self.op, path, a["id"], method="DELETE")
        eq(r.status, 403, "other method")
        eq(self.state(a["id"]), "approved", "still approved after mismatches")
        r = self.gate(self.op, path, a["id"])
        eq(r.status, 200, "approved call passes %r" % r)
        eq(r.header("X-Gatehouse-Client"), self.op["client_id"], "identity")
        eq(self.state(a["id"]), "used", "used up")
        r = self.gate(self.op, path, a["id"])
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "second use")
        check("used" in r.json()["error_description"], "says used %r" % r.json())
        # Listing and filters.
        r = self.api("GET", "/approvals?state=used", self.viewer)
        eq(r.status, 200, "viewer lists %r" % r)
        check(a["id"] in [x["id"] for x in r.json()["approvals"]], "listed as used")
        r = self.api("GET", "/approvals?state=pending", self.viewer)
        check(a["id"] not in [x["id"] for x in r.json()["approvals"]], "not listed as pending")

    def test_reject_and_decided_refused(self):
        a = self.file(self.op)
        r = self.decide(self.admin, a["id"], "reject")
        eq((r.status, r.json()["state"]), (200, "rejected"), "reject %r" % r)
        b = self.error(self.decide(self.admin2, a["id"]), 409, "approving a rejected one", "conflict")
        check("rejected" in b["error_description"], "says rejected %r" % b)
        r = self.gate(self.op, a["payload"]["path"], a["id"])
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "using a rejected one")
        # Approving twice, approving a used one.
        a = self.file(self.op)
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        self.error(self.decide(self.admin2, a["id"]), 409, "approving an approved one")
        eq(self.gate(self.op, a["payload"]["path"], a["id"]).status, 200, "use")
        b = self.error(self.decide(self.admin2, a["id"]), 409, "approving a used one")
        check("used" in b["error_description"], "says used %r" % b)

    # -- bad input ------------------------------------------------------------
    def test_unknown_and_malformed_ids(self):
        self.error(self.decide(self.admin, "0" * 32), 404, "unknown id", "not_found")
        self.error(self.decide(self.admin, "not-an-id"), 400, "malformed id")
        self.error(self.api("GET", "/approvals/" + "f" * 32, self.admin), 404, "show unknown")
        self.error(self.api("POST", "/approvals/%s/frobnicate" % ("0" * 32), self.admin), 404,
                   "unknown action")
        r = self.gate(self.op, self.new_path(), "0" * 32)
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "gate: unknown id")
        r = self.gate(self.op, self.new_path(), "XYZ")
        eq((r.status, r.json()["reason"]), (400, "approval_header"), "gate: malformed id")

    def test_own_request_and_roles(self):
        a = self.file(self.admin)
        b = self.error(self.decide(self.admin, a["id"]), 403, "approving one's own", "forbidden")
        check("own" in b["error_description"], "says own %r" % b)
        self.error(self.decide(self.admin, a["id"], "reject"), 403, "rejecting one's own")
        self.error(self.decide(self.op, a["id"]), 403, "an operator approving")
        self.error(self.decide(self.viewer, a["id"]), 403, "a viewer approving")
        eq(self.state(a["id"]), "pending", "unchanged by refused decisions")
        self.error(self.api("POST", "/approvals", self.viewer,
                            {"method": "POST", "path": self.new_path()}), 403, "a viewer filing")
        # An admin's second client, made in sandbox with nobody's approval,
        # is not a second person.
        self.error(self.decide(self.sandbox_admin, a["id"]), 403, "a sandbox admin deciding", "forbidden")
        eq(self.decide(self.admin2, a["id"]).status, 200, "another admin may")

    def test_other_tenant(self):
        a = self.file(self.op)
        self.error(self.decide(self.other_admin, a["id"]), 404, "another tenant's admin approving")
        self.error(self.api("GET", "/approvals/" + a["id"], self.other_admin), 404,
                   "another tenant's admin reading")
        self.error(self.api("GET", "/approvals?tenant=acme", self.other_admin), 403,
                   "another tenant's admin listing")
        self.error(self.api("POST", "/approvals", self.other_op,
                            {"tenant": "acme", "method": "POST", "path": self.new_path()}),
                   403, "filing for another tenant")
        eq(self.state(a["id"]), "pending", "unchanged")
        self.error(self.api("POST", "/approvals", self.platform,
                            {"tenant": "nosuch", "method": "POST", "path": self.new_path()}),
                   404, "filing for a tenant that does not exist")
        # The platform tenant's admin acts across tenants.
        r = self.api("GET", "/approvals?tenant=acme&state=pending", self.platform)
        eq(r.status, 200, "platform lists acme %r" % r)
        check(a["id"] in [x["id"] for x in r.json()["approvals"]], "platform sees it")
        eq(self.decide(self.platform, a["id"]).status, 200, "platform admin approves")
        # An approved id of acme used by a globex caller reads as unknown.
        r = self.gate(self.other_op, a["payload"]["path"], a["id"])
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "other tenant's id")
        check("does not exist" in r.json()["error_description"], "no leak %r" % r.json())
        eq(self.gate(self.op, a["payload"]["path"], a["id"]).status, 200, "still usable by acme")

    def test_authentication_and_tenant_header(self):
        r = self.s.request("GET", "/approvals")
        eq(r.status, 401, "no token")
        check(r.header("WWW-Authenticate") == "Bearer", "challenge %r" % r.headers)
        r = self.s.request("GET", "/approvals", headers={"Authorization": "Bearer abc.def.ghi",
                                                        "X-TENANT-ID": "acme"})
        eq(r.status, 401, "bad token")
        r = self.s.request("GET", "/approvals", headers={"Authorization": "Bearer " + self.tok(self.op)})
        self.error(r, 400, "no X-TENANT-ID")
        self.error(self.api("GET", "/approvals", self.op, tenant="globex"), 403, "tenant mismatch")

    def test_https_required_as_for_the_admin_api(self):
        # With require_https (the default off loopback) the token endpoint
        # and the admin API refused plain HTTP, but /approvals took an
        # Admin's bearer token over it, and filed and decided with it.
        s = Server("--require-https", "true", "--trusted-proxies", "127.0.0.1")
        try:
            c = s.client("acme", name="admin", roles="admin", env="production",
                         allow_ip="127.0.0.1/32")
            https = {"X-Forwarded-Proto": "https"}
            r = s.post_form("/oauth/token", {"grant_type": "client_credentials"},
                            headers=dict(https, Authorization=basic(c["client_id"], c["client_secret"])))
            eq(r.status, 200, "a token over HTTPS: %r" % r)
            h = {"Authorization": "Bearer " + r.json()["access_token"], "X-TENANT-ID": "acme"}
            body = {"method": "POST", "path": CALL_PATH % "https-1"}
            self.error(s.request("GET", "/approvals", headers=h), 400, "listing over plain HTTP")
            b = self.error(s.request("POST", "/approvals", body=body, headers=h), 400,
                           "filing over plain HTTP")
            check("HTTPS" in b["error_description"], "says why: %r" % b)
            eq(s.request("GET", "/approvals?state=pending", headers=dict(h, **https)).json(),
               {"approvals": [], "next": None}, "nothing was filed")
            eq(s.request("POST", "/approvals", body=body, headers=dict(h, **https)).status, 202,
               "over HTTPS")
        finally:
            s.cleanup()

    def test_method_not_allowed_names_the_paths_methods(self):
        """RFC 9110 §15.5.6: a 405's Allow lists the methods the path has.
        /approvals/{id} and /approvals/{id}/approve were routed by one
        prefix, so each 405 named GET, HEAD and POST: POST to an approval
        answered 404, and GET of .../approve 404 too."""
        aid = self.file(self.op)["id"]
        item, decide = "/approvals/" + aid, "/approvals/%s/approve" % aid
        for method, path, allow in [("POST", item, "GET, HEAD"), ("PUT", item, "GET, HEAD"),
                                    ("DELETE", item, "GET, HEAD"), ("GET", decide, "POST"),
                                    ("HEAD", decide, "POST"), ("PUT", decide, "POST"),
                                    ("GET", "/approvals/%s/reject" % aid, "POST"),
                                    ("PATCH", "/approvals", "GET, HEAD, POST")]:
            r = self.api(method, path, self.admin)
            eq((r.status, r.header("Allow")), (405, allow), "%s %s" % (method, path))
        for path in ["/approvals/%s/bogus" % aid, "/approvals/%s/approve/x" % aid]:
            for method in ["GET", "POST"]:
                eq(self.api(method, path, self.admin).status, 404, "%s %s" % (method, path))
        eq(self.state(aid), "pending", "nothing decided")
        eq(self.decide(self.admin, aid).status, 200, "the decision route still serves")

    def test_malformed_and_unknown_json(self):
        cases = [
            ('{"method": "POST", "path": ', 400, "malformed JSON"),
            ('["POST"]', 400, "not an object"),
            ('{"method": "POST", "path": "/v1/payouts/x/approve", "amount": "1"}', 400,
             "unknown field"),
            ('{"method": "POST", "path": "/v1/payouts/x/approve", "reason": 5}', 400,
             "non-string field"),
            ('{"method": "POST", "method": "GET", "path": "/v1/x"}', 400, "duplicate key"),
            ('{"method": "BREW", "path": "/v1/x"}', 400, "unknown method"),
            ('{"method": "POST", "path": "v1/x"}', 400, "relative path"),
            ('{"method": "POST", "path": "/v1/x?y=a b"}', 400, "query outside RFC 3986"),
            ('{"method": "POST", "path": "/v1/x?y=%00"}', 400, "query with an encoded NUL"),
            ('{"method": "POST", "path": "/v1/x#y"}', 400, "fragment"),
            ('{"method": "POST", "path": "/v1/x?%s"}' % ("y" * 2049), 400, "query too long"),
            ('{"method": "POST", "path": "/v1/../x"}', 400, "dot segment"),
            ('{"method": "POST", "path": "/v1/x", "body_digest": "md5:abc"}', 400, "bad digest"),
            ('{"path": "/v1/x"}', 400, "no method"),
        ]
        before = len(self.api("GET", "/approvals?limit=1000", self.admin).json()["approvals"])
        for raw, status, what in cases:
            b = self.error(self.api("POST", "/approvals", self.op, raw=raw), status, what,
                           "invalid_request")
            if what == "unknown field":
                check("amount" in b["error_description"], "names the field %r" % b)
        r = self.api("POST", "/approvals", self.op, raw='{"method":"POST","path":"/v1/x"}',
                     extra={"Content-Type": "text/plain"})
        eq(r.status, 415, "not JSON %r" % r)
        a = self.file(self.op)
        self.error(self.api("POST", "/approvals/%s/approve" % a["id"], self.admin,
                            raw='{"note": "ok"}'), 400, "unknown field on approve")
        self.error(self.api("POST", "/approvals/%s/approve" % a["id"], self.admin,
                            raw='{"note": '), 400, "malformed approve body")
        eq(self.state(a["id"]), "pending", "unchanged")
        after = len(self.api("GET", "/approvals?limit=1000", self.admin).json()["approvals"])
        eq(after, before + 1, "bad filings stored nothing")
        self.error(self.api("GET", "/approvals?state=bogus", self.admin), 400, "bad state filter")
        self.error(self.api("GET", "/approvals?limit=0", self.admin), 400, "bad limit")
        self.error(self.api("GET", "/approvals?color=red", self.admin), 400, "unknown parameter")

    def test_conflicting_pending_request(self):
        path = self.new_path()
        a = self.file(self.op, path=path)
        b = self.error(self.api("POST", "/approvals", self.admin, {"method": "POST", "path": path}),
                       409, "same call pending", "conflict")
        check(a["id"] in b["error_description"], "names the pending one %r" % b)
        # Decided: a new request for the same call may be filed.
        eq(self.decide(self.admin, a["id"], "reject").status, 200, "reject")
        self.file(self.admin, path=path)

    def test_body_digest(self):
        body = b'{"amount": 100, "currency": "EUR"}'
        good = "sha256:" + hashlib.sha256(body).hexdigest()
        bad = "sha256:" + hashlib.sha256(b"{}").hexdigest()
        path = self.new_path()
        a = self.file(self.op, path=path, body_digest=good.upper().replace("SHA256:", "sha256:"))
        eq(a["payload"]["body_digest"], good, "digest lower-cased")
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        r = self.gate(self.op, path, a["id"])
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "no digest given %r" % r)
        r = self.gate(self.op, path, a["id"], extra={"X-Original-Body-Digest": bad})
        eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "digest mismatch %r" % r)
        check("does not match" in r.json()["error_description"], "says mismatch")
        r = self.gate(self.op, path, a["id"], body=b'{"amount": 1000000}')
        eq(r.status, 403, "other body sent to the gate %r" % r)
        r = self.gate(self.op, path, a["id"], body=body, extra={"X-Original-Body-Digest": bad})
        eq((r.status, r.json()["reason"]), (400, "body_digest"), "header and body disagree")
        eq(self.state(a["id"]), "approved", "still usable")
        # A malformed digest is refused, not cut to the length of a good one.
        r = self.gate(self.op, path, a["id"], extra={"X-Original-Body-Digest": good + "00"})
        eq((r.status, r.json()["reason"]), (400, "body_digest"), "digest too long %r" % r)
        eq(self.state(a["id"]), "approved", "still usable")
        r = self.gate(self.op, path, a["id"], extra={"X-Original-Body-Digest": good.upper()
                                                     .replace("SHA256:", "sha256:")})
        eq(r.status, 200, "matching digest header %r" % r)
        # The answer hands the upstream what to check the body against: the
        # caller's digest is only a claim (the gate never sees the body).
        eq((r.header("X-Gatehouse-Approval"), r.header("X-Gatehouse-Body-Digest")),
           (a["id"], good), "the approval and the digest it binds, for the upstream")
        # The body itself, posted to the gate.
        path = self.new_path()
        a = self.file(self.op, path=path, body_digest=good)
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        eq(self.gate(self.op, path, a["id"], body=body).status, 200, "matching body")
        # An approval that binds no body: the approval is named, no digest,
        # even when the caller claims one.
        path = self.new_path()
        a = self.file(self.op, path=path)
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        r = self.gate(self.op, path, a["id"], extra={"X-Original-Body-Digest": bad})
        eq((r.status, r.header("X-Gatehouse-Approval"), r.header("X-Gatehouse-Body-Digest")),
           (200, a["id"], None), "no digest bound: none passed on %r" % r)

    def test_query_binds_the_approval(self):
        """The review's bypass: an approval filed for DELETE /v1/cards/42 was
        used by DELETE /v1/cards/42?cascade=all&also=/v1/cards/43, and none
        could be filed for POST /v1/payouts?amount=...&to=... at all."""
        a = self.file(self.op, method="DELETE", path="/v1/cards/42")
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        for uri in ("/v1/cards/42?cascade=all&also=/v1/cards/43", "/v1/cards/42?"):
            r = self.gate(self.op, uri, a["id"], method="DELETE")
            eq((r.status, r.json().get("reason")), (403, "approval_invalid"), "%s: %r" % (uri, r))
        eq(self.state(a["id"]), "approved", "still usable")
        eq(self.gate(self.op, "/v1/cards/42", a["id"], method="DELETE").status, 200,
           "the approved call")
        # A query filed, kept and shown as given; only that query passes.
        path = self.new_path()
        target = path + "?amount=100&to=alice%40example.org&memo=/rent?"
        q = self.file(self.op, path=target)
        eq(q["payload"]["path"], target, "shown exactly")
        # Another query is another call: it does not conflict.
        other = self.file(self.op, path=path + "?amount=100&to=bob")
        eq(self.api("GET", "/approvals/" + q["id"], self.viewer).json()["payload"]["path"],
           target, "stored exactly")
        eq(self.decide(self.admin, q["id"]).status, 200, "approve")
        for uri in (path, path + "?amount=100000&to=mallory",
                    path + "?amount=100&to=alice%40example.org&memo=/rent?&to=mallory",
                    path + "?amount=100&to=alice%40EXAMPLE.org&memo=/rent?",
                    path + "?amount=100&to=alice@example.org&memo=/rent?"):
            r = self.gate(self.op, uri, q["id"])
            eq((r.status, r.json().get("reason")), (403, "approval_invalid"), "%s: %r" % (uri, r))
        eq(self.gate(self.op, target, q["id"]).status, 200, "the approved query %r" % target)
        eq(self.state(q["id"]), "used", "used up")
        # Filed with a query, an approval is not used by the call without.
        eq(self.decide(self.admin, other["id"]).status, 200, "approve")
        r = self.gate(self.op, path, other["id"])
        eq((r.status, r.json().get("reason")), (403, "approval_invalid"), "no query %r" % r)
        eq(self.state(other["id"]), "approved", "still usable")

    def test_idempotent_filing(self):
        body = {"method": "POST", "path": self.new_path()}
        h = {"X-Request-ID": "file-once-1"}
        r1 = self.api("POST", "/approvals", self.op, body, extra=h)
        eq(r1.status, 202, "first %r" % r1)
        r2 = self.api("POST", "/approvals", self.op, body, extra=h)
        eq((r2.status, r2.json()["id"]), (202, r1.json()["id"]), "replayed, not filed twice")
        body["reason"] = "different"
        r3 = self.api("POST", "/approvals", self.op, body, extra=h)
        eq(r3.status, 422, "same id, different request %r" % r3)

    # -- concurrency ------------------------------------------------------------
    def test_concurrent_approvals_one_wins(self):
        a = self.file(self.op)
        results = []
        barrier = threading.Barrier(24)

        def run(c):
            barrier.wait()
            r = self.decide(c, a["id"])
            results.append(r.status)

        ts = [threading.Thread(target=run, args=([self.admin, self.admin2, self.platform][i % 3],))
              for i in range(24)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        eq(sorted(results), [200] + [409] * 23, "exactly one approval wins")
        eq(self.state(a["id"]), "approved", "approved once")

    def test_concurrent_uses_one_passes(self):
        path = self.new_path()
        a = self.file(self.op, path=path)
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        self.tok(self.op)
        results = []
        barrier = threading.Barrier(32)

        def run():
            barrier.wait()
            r = self.gate(self.op, path, a["id"])
            results.append(r.status)

        ts = [threading.Thread(target=run) for _ in range(32)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        eq(sorted(results), [200] + [403] * 31, "exactly one use passes")
        eq(self.state(a["id"]), "used", "used")

    # -- expiry ---------------------------------------------------------------------
    def test_expiry(self):
        a = self.file(self.op)
        # A checker a day later (the clock shifted) finds it expired.
        p = self.cli_decide(a["id"], self.admin, env={"GATEHOUSE_CLOCK_OFFSET": "90000"})
        check(p.returncode != 0 and b"expired" in p.stderr, "expired at decision %r" % p.stderr)
        eq(self.state(a["id"]), "pending", "stored state unchanged by the refusal")
        # A short-lived server: an approved request unused past its ttl.
        s2 = Server(start=False, workdir=self.s.dir)
        s2.port = self.s.port       # the same issuer: the tokens stay valid
        s2.extra += ["--policy", self.s.policy, "--approval-ttl", "2"]
        self.s.stop()
        s2.start()
        try:
            h = lambda c: {"Authorization": "Bearer " + self.tok(c), "X-TENANT-ID": "acme"}  # noqa: E731
            path = self.new_path()
            r = s2.request("POST", "/approvals", body={"method": "POST", "path": path},
                           headers=h(self.op))
            eq(r.status, 202, "file %r" % r)
            aid = r.json()["id"]
            eq(s2.request("POST", "/approvals/%s/approve" % aid, headers=h(self.admin)).status, 200,
               "approve in time")
            time.sleep(2.2)
            r = s2.get("/gate", headers=dict(h(self.op), **{
                "X-Original-Method": "POST", "X-Original-URI": path, "X-Approval-ID": aid}))
            eq((r.status, r.json()["reason"]), (403, "approval_invalid"), "expired use %r" % r)
            check("expired" in r.json()["error_description"], "says expired %r" % r.json())
            r = s2.request("GET", "/approvals/" + aid, headers=h(self.admin))
            eq(r.json()["state"], "expired", "reads expired")
            # A pending one expires too, and frees its conflict key.
            r = s2.request("POST", "/approvals", body={"method": "POST", "path": path + "x"},
                           headers=h(self.op))
            aid2 = r.json()["id"]
            time.sleep(2.2)
            r = s2.request("POST", "/approvals/%s/approve" % aid2, headers=h(self.admin))
            eq(r.status, 409, "approving an expired one %r" % r)
            r = s2.request("POST", "/approvals", body={"method": "POST", "path": path + "x"},
                           headers=h(self.op))
            eq(r.status, 202, "the same call may be filed again %r" % r)
        finally:
            s2.stop()
            self.s.start()

    # -- CLI ------------------------------------------------------------------------
    def cli_decide(self, aid, c, verb="approve", env=None):
        import subprocess
        from harness import BIN
        e = dict(self.s.env)
        e.update(env or {})
        return subprocess.run([BIN, "approvals", verb, aid, "--as", c["client_id"], "--db",
                               self.s.db, "--master-key", self.s.master],
                              capture_output=True, env=e, timeout=60)

    def test_cli(self):
        a = self.file(self.op)
        out = self.s.cli("approvals", "list", "--tenant", "acme", "--state", "pending")
        check(a["id"] in [x["id"] for x in out], "cli lists it")
        eq(self.s.cli("approvals", "show", a["id"])["state"], "pending", "cli shows it")
        p = self.s.cli("approvals", "show", "0" * 32, check=False)
        check(p.returncode != 0 and b"does not exist" in p.stderr, "show unknown %r" % p.stderr)
        p = self.cli_decide(a["id"], self.op)
        check(p.returncode != 0 and b"admin role" in p.stderr, "--as operator %r" % p.stderr)
        p = self.s.cli("approvals", "approve", a["id"], check=False)
        check(p.returncode != 0 and b"--as" in p.stderr, "--as required")
        p = self.cli_decide(a["id"], {"client_id": "nobody"})
        check(p.returncode != 0 and b"does not exist" in p.stderr, "--as unknown")
        p = self.cli_decide(a["id"], self.other_admin)
        check(p.returncode != 0 and b"does not exist" in p.stderr, "--as other tenant's admin")
        eq(self.state(a["id"]), "pending", "unchanged")
        p = self.cli_decide(a["id"], self.admin)
        eq(p.returncode, 0, "cli approve: %r" % p.stderr)
        # README: JSON on stdout; stderr only for an error, in one line.
        eq(p.stderr, b"", "cli approve writes nothing on stderr")
        out = json.loads(p.stdout)
        eq((out["state"], out["checker"]), ("approved", self.admin["client_id"]), "approved by admin")
        eq(self.gate(self.op, a["payload"]["path"], a["id"]).status, 200, "server honours it")
        b = self.file(self.op)
        p = self.cli_decide(b["id"], self.admin, verb="reject")
        eq((p.returncode, json.loads(p.stdout)["state"]), (0, "rejected"), "cli reject")
        eq(p.stderr, b"", "cli reject writes nothing on stderr")
        p = self.cli_decide(b["id"], self.admin2)
        check(p.returncode != 0 and b"rejected" in p.stderr, "cli approve rejected")
        eq(len(p.stderr.decode().strip().splitlines()), 1, "a refused decision is one line: %r" % p.stderr)
        # The CLI's decisions are in the audit trail, as the server's are.
        rows = self.s.cli("audit", "list", "--tenant", "acme", "--limit", "1000")
        decided = {(r["action"], r["target"]) for r in rows}
        check({("approval.approve", a["id"]), ("approval.reject", b["id"])} <= decided,
              "the CLI's decisions are audited: %r" % sorted(decided))
        eq(self.s.cli("audit", "verify")["ok"], True, "and the trail verifies")

    def test_cli_applies_admin_change(self):
        # An admin change filed through the admin API, approved from the CLI:
        # the CLI process applies it, once.
        body = {"name": "prod-app", "env": "production", "roles": ["viewer"],
                "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/admin/v1/clients", self.op, body)
        eq(r.status, 202, "operator files a production client: %r" % r)
        filed = r.json()
        aid, cid, secret = filed["approval_id"], filed["target"], filed["client_secret"]
        eq(self.s.token(cid, secret).status, 401, "not created yet")
        p = self.cli_decide(aid, self.admin)
        eq(p.returncode, 0, "cli approve: %r" % p.stderr)
        out = json.loads(p.stdout)
        eq(out["state"], "applied", "applied by the CLI: %r" % out)
        eq(out["kind"], "client.create", "kind")
        eq(self.s.token(cid, secret).status, 200, "the client exists for the server")
        p = self.cli_decide(aid, self.admin2)
        check(p.returncode != 0 and b"applied" in p.stderr, "applied once only %r" % p.stderr)

    def wait_state(self, aid, want, what, limit=10.0):
        deadline = time.time() + limit
        st = self.state(aid)
        while st != want and time.time() < deadline:
            time.sleep(0.1)
            st = self.state(aid)
        eq(st, want, what)

    def test_decider_stopped_midway_is_finished_once(self):
        """A process that stops between deciding and recording the outcome
        (GATEHOUSE_TEST_FAULT ends the CLI there, as a kill would) leaves the
        approval approved; the server finishes it at its next housekeeping
        (here: a restart, its clock a minute on), exactly once: a change not
        yet made is applied, a change already made is not made again."""
        # 1. Stopped before applying: a production client, filed and approved.
        body = {"name": "half-done", "env": "production", "roles": ["viewer"],
                "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/admin/v1/clients", self.op, body)
        eq(r.status, 202, "filed: %r" % r)
        aid, cid, secret = r.json()["approval_id"], r.json()["target"], r.json()["client_secret"]
        p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-decide"})
        eq(p.returncode, 70, "the CLI stopped at the fault point: %r" % p.stderr)
        eq(self.state(aid), "approved", "decided, not applied")
        eq(self.s.token(cid, secret).status, 401, "no client yet")
        # The decision's row committed with the decision (regression: it
        # was queued after it, and the stop lost it).
        rows = [r for r in self.s.cli("audit", "list", "--tenant", "acme", "--action",
                                      "approval.approve", "--limit", "1000") if r["target"] == aid]
        eq([(r["actor"], r["outcome"]) for r in rows], [(self.admin["client_id"], "ok")],
           "the decision is on the trail: %r" % rows)
        # 2. Stopped after applying: a secret rotation of that client, made
        # but not recorded.
        self.s.stop()
        self.s.env["GATEHOUSE_CLOCK_OFFSET"] = "60"
        self.s.start()      # housekeeping runs once the server listens
        self.wait_state(aid, "applied", "finished by the restarted server")
        a = self.api("GET", "/approvals/" + aid, self.admin).json()
        eq(a["checker"], self.admin["client_id"], "the checker as decided")
        eq(self.s.token(cid, secret).status, 200, "the client exists, with the secret shown at filing")
        eq(len([c for c in self.s.cli("client", "list", "--tenant", "acme")
                if c["client_id"] == cid]), 1, "created once")
        r = self.api("POST", "/admin/v1/clients/%s/secrets/rotate" % cid, self.op, {"grace": "1h"})
        eq(r.status, 202, "rotation filed: %r" % r)
        aid2, new = r.json()["approval_id"], r.json()["client_secret"]
        p = self.cli_decide(aid2, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-apply",
                                                   "GATEHOUSE_CLOCK_OFFSET": "60"})
        eq(p.returncode, 70, "stopped after applying: %r" % p.stderr)
        eq(self.state(aid2), "approved", "applied but not recorded")
        eq(self.s.token(cid, new).status, 200, "the new secret works already")
        before = self.s.cli("client", "show", cid)["secrets"]
        self.s.stop()
        self.s.env["GATEHOUSE_CLOCK_OFFSET"] = "120"
        self.s.start()
        self.wait_state(aid2, "applied", "recorded by the restarted server")
        a = self.api("GET", "/approvals/" + aid2, self.admin).json()
        eq(a["result"].get("recovered"), True, "found in effect: %r" % a["result"])
        eq(len(self.s.cli("client", "show", cid)["secrets"]), len(before),
           "the secret was not added twice")

    def test_recovery_does_not_take_another_tenants_client_for_the_creation(self):
        """A creation approved but not applied when its decider stopped,
        whose id another tenant's client took meanwhile, is not finished as
        "already in effect": it is applied, and fails as the conflict it is."""
        body = {"name": "taken-later", "id": "taken-later", "env": "production",
                "roles": ["viewer"], "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/admin/v1/clients", self.op, body)
        eq(r.status, 202, "filed: %r" % r)
        aid, secret = r.json()["approval_id"], r.json()["client_secret"]
        p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-decide"})
        eq(p.returncode, 70, "the CLI stopped at the fault point: %r" % p.stderr)
        eq(self.state(aid), "approved", "decided, not applied")
        self.s.cli("client", "create", "--tenant", "globex", "--name", "theirs", "--id", "taken-later")
        self.s.stop()
        # A minute on from wherever earlier tests left the clock: never back.
        self.s.env["GATEHOUSE_CLOCK_OFFSET"] = str(int(self.s.env.get("GATEHOUSE_CLOCK_OFFSET", "0")) + 60)
        self.s.start()
        self.wait_state(aid, "failed", "refused by the restarted server, not called done")
        eq(self.s.cli("client", "show", "taken-later")["tenant_id"], "globex", "globex's client stays")
        eq(self.s.token("taken-later", secret).status, 401, "acme's secret opens nothing")

    def test_recovery_does_not_undo_a_later_change(self):
        """A disable approved but not applied when its decider stopped, the
        client re-enabled since (by hand, in the meantime), is not applied
        over that: recovery applied an update, disable or enable whole, and
        disabled the client again half a minute after it was enabled."""
        prod = {"env": "production", "allow_ip": "127.0.0.0/8"}
        c = self.s.client("acme", name="stuck-disable", roles="viewer", **prod)
        cid = c["client_id"]
        r = self.api("POST", "/admin/v1/clients/%s/disable" % cid, self.op, {})
        eq(r.status, 202, "filed: %r" % r)
        aid = r.json()["approval_id"]
        p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-decide"})
        eq(p.returncode, 70, "the CLI stopped at the fault point: %r" % p.stderr)
        eq(self.state(aid), "approved", "decided, not applied")
        time.sleep(1.1)     # a later second than the decision's
        self.s.cli("client", "disable", cid)
        self.s.cli("client", "enable", cid)
        self.s.stop()
        self.s.env["GATEHOUSE_CLOCK_OFFSET"] = str(int(self.s.env.get("GATEHOUSE_CLOCK_OFFSET", "0")) + 60)
        self.s.start()
        self.wait_state(aid, "failed", "not applied over the later change")
        a = self.api("GET", "/approvals/" + aid, self.admin).json()
        check("changed after this approval was decided" in json.dumps(a["result"]), "says why: %r" % a)
        eq(self.s.cli("client", "show", cid)["status"], "active", "the client stays enabled")

    def later_start(self):
        """Restarts the server with its clock a minute on from wherever
        earlier tests left it (never back): housekeeping's recovery runs
        once it listens."""
        self.s.stop()
        self.s.env["GATEHOUSE_CLOCK_OFFSET"] = str(int(self.s.env.get("GATEHOUSE_CLOCK_OFFSET", "0")) + 60)
        self.s.start()

    def test_recovery_records_an_applied_change_as_applied(self):
        """A disable and an update applied by a decider that stopped before
        recording the outcome, a second or more after its decision, were
        recorded failed by recovery ("the client changed after this
        approval was decided"): the approval's own change had moved the
        client's updated_at. The operator read failed for a client that was
        disabled. Both read applied, found in effect, and stay applied."""
        prod = {"env": "production", "allow_ip": "127.0.0.0/8"}
        filed = []
        for name, path, method, body in (
                ("applied-disable", "/admin/v1/clients/%s/disable", "POST", {}),
                ("applied-update", "/admin/v1/clients/%s", "PATCH",
                 {"roles": ["viewer", "operator"], "allow_ips": ["127.0.0.0/8", "10.0.0.0/8"],
                  "ttl": 600})):
            cid = self.s.client("acme", name=name, roles="viewer", **prod)["client_id"]
            r = self.api(method, path % cid, self.op, body)
            eq(r.status, 202, "filed: %r" % r)
            aid = r.json()["approval_id"]
            # The applier runs a second after the decision, then the CLI stops.
            p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-apply",
                                                      "GATEHOUSE_TEST_APPLY_PAUSE": "1100"})
            eq(p.returncode, 70, "stopped after applying: %r" % p.stderr)
            eq(self.state(aid), "approved", "applied but not recorded")
            filed.append((aid, cid))
        disabled, updated = filed
        eq(self.s.cli("client", "show", disabled[1])["status"], "disabled", "the disable is made")
        self.later_start()
        for aid, cid in filed:
            self.wait_state(aid, "applied", "recorded applied by the restarted server")
            a = self.api("GET", "/approvals/" + aid, self.admin).json()
            eq(a["result"].get("recovered"), True, "found in effect: %r" % a["result"])
        c = self.s.cli("client", "show", disabled[1])
        eq(c["status"], "disabled", "the client stays disabled")
        c = self.s.cli("client", "show", updated[1])
        eq((sorted(c["roles"]), c["ttl"]), (["operator", "viewer"], 600), "the update stays: %r" % c)

    def test_recovery_audit_row_names_the_server(self):
        """The approval.apply row of a change finished by recovery named the
        original checker as its actor, as if that admin had applied it half
        a minute later from the server's address: it names the server
        (actor "gatehouse", as for its other own work), and keeps the
        checker, who decided it, in the detail."""
        prod = {"env": "production", "allow_ip": "127.0.0.0/8"}
        cid = self.s.client("acme", name="recovered-audit", roles="viewer", **prod)["client_id"]
        r = self.api("POST", "/admin/v1/clients/%s/disable" % cid, self.op, {})
        eq(r.status, 202, "filed: %r" % r)
        aid = r.json()["approval_id"]
        p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-decide"})
        eq(p.returncode, 70, "the CLI stopped at the fault point: %r" % p.stderr)
        self.later_start()
        self.wait_state(aid, "applied", "finished by the restarted server")
        eq(self.api("GET", "/approvals/" + aid, self.admin).json()["checker"],
           self.admin["client_id"], "the approval keeps its checker")
        deadline, rows = time.time() + 5, []
        while not rows and time.time() < deadline:
            rows = [r for r in self.s.cli("audit", "list", "--tenant", "acme", "--action",
                                          "approval.apply", "--limit", "1000")
                    if r["target"] == aid]
            time.sleep(0.1)
        eq(len(rows), 1, "one apply row: %r" % rows)
        eq(rows[0]["actor"], "gatehouse", "the server applied it: %r" % rows[0])
        d = json.loads(rows[0]["detail"])
        eq((d["kind"], d["checker"], d["recovered"]), ("client.disable", self.admin["client_id"], True),
           "the detail names the checker: %r" % d)
        check(d.get("node"), "and the node that recovered it: %r" % d)

    def test_recovery_does_not_delete_a_client_made_since(self):
        """A deletion applied by a decider that stopped before recording it,
        the id given to a new client since (README: a deleted client's id
        may be given again), was applied again by recovery: it deleted the
        new client. The deletion is in effect: the new client stays."""
        prod = {"env": "production", "allow_ip": "127.0.0.0/8"}
        cid = self.s.client("acme", name="to-delete", roles="viewer", id="reused-id",
                            **prod)["client_id"]
        r = self.api("DELETE", "/admin/v1/clients/%s" % cid, self.op)
        eq(r.status, 202, "filed: %r" % r)
        aid = r.json()["approval_id"]
        p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-apply"})
        eq(p.returncode, 70, "stopped after applying: %r" % p.stderr)
        eq(self.state(aid), "approved", "applied but not recorded")
        time.sleep(1.1)     # a later second than the filing's
        new = self.s.client("acme", name="made-since", roles="viewer", id="reused-id", **prod)
        self.later_start()
        self.wait_state(aid, "applied", "recorded by the restarted server")
        a = self.api("GET", "/approvals/" + aid, self.admin).json()
        eq(a["result"].get("recovered"), True, "found in effect: %r" % a["result"])
        eq(self.s.cli("client", "show", "reused-id")["name"], "made-since", "the new client stays")
        eq(self.s.token("reused-id", new["client_secret"]).status, 200, "and works")

    def test_recovery_does_not_recreate_a_client_deleted_since(self):
        """A creation applied by a decider that stopped before recording
        it, the client deleted by an operator since: recovery saw an
        approved creation and no client, and created it again, bringing
        back a client the operator had removed, with the secret the maker
        was shown. The creation's mark committed with the client: it is
        recorded applied, and the client stays deleted."""
        body = {"name": "deleted-after", "id": "deleted-after", "env": "production",
                "roles": ["viewer"], "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/admin/v1/clients", self.op, body)
        eq(r.status, 202, "filed: %r" % r)
        aid, secret = r.json()["approval_id"], r.json()["client_secret"]
        p = self.cli_decide(aid, self.admin, env={"GATEHOUSE_TEST_FAULT": "approval-after-apply"})
        eq(p.returncode, 70, "stopped after applying: %r" % p.stderr)
        eq(self.state(aid), "approved", "applied but not recorded")
        eq(self.s.token("deleted-after", secret).status, 200, "the client was made")
        self.delete_client("deleted-after")
        self.later_start()
        self.wait_state(aid, "applied", "recorded by the restarted server")
        a = self.api("GET", "/approvals/" + aid, self.admin).json()
        eq(a["result"].get("recovered"), True, "recorded as made: %r" % a["result"])
        eq(self.s.token("deleted-after", secret).status, 401, "the client stays deleted")
        eq([c for c in self.s.cli("client", "list", "--tenant", "acme")
            if c["client_id"] == "deleted-after"], [], "not made again")

    def delete_client(self, cid):
        """Deletes a client in the store, as another approved deletion
        would (the CLI has no delete; one pending change per client)."""
        self.s.sql("DELETE FROM client_secrets WHERE client_id = '%s'" % cid)
        self.s.sql("DELETE FROM clients WHERE id = '%s'" % cid)

    def test_a_change_is_not_applied_to_a_client_made_since(self):
        """A change filed for a client, that client deleted and its id given
        to a new client before the change was approved (or recovered): the
        change was applied to the new client, which nobody had filed it
        for. A secret rotation then gave the maker, shown the secret at
        filing, a working secret of someone else's client. It fails."""
        prod = {"env": "production", "allow_ip": "127.0.0.0/8"}
        self.s.client("acme", name="old-holder", roles="viewer", id="reborn", **prod)
        r = self.api("POST", "/admin/v1/clients/reborn/secrets/rotate", self.op, {"grace": "1h"})
        eq(r.status, 202, "rotation filed: %r" % r)
        aid, shown = r.json()["approval_id"], r.json()["client_secret"]
        self.delete_client("reborn")
        time.sleep(1.1)     # a later second than the filing's
        new = self.s.client("acme", name="new-holder", roles="viewer", id="reborn", **prod)
        r = self.decide(self.admin, aid)
        eq(r.status, 200, "approved: %r" % r)
        eq(r.json()["state"], "failed", "not applied to the new client: %r" % r.json())
        check("made again" in json.dumps(r.json()["result"]), "says why: %r" % r.json())
        eq(self.s.token("reborn", shown).status, 401, "the maker's secret opens nothing")
        eq(self.s.token("reborn", new["client_secret"]).status, 200, "the new client works")
        # So for a disable: the new client stays enabled.
        r = self.api("POST", "/admin/v1/clients/reborn/disable", self.op, {})
        eq(r.status, 202, "disable filed: %r" % r)
        aid = r.json()["approval_id"]
        self.delete_client("reborn")
        time.sleep(1.1)
        self.s.client("acme", name="newer-holder", roles="viewer", id="reborn", **prod)
        r = self.decide(self.admin, aid)
        eq((r.status, r.json()["state"]), (200, "failed"), "not applied: %r" % r.json())
        eq(self.s.cli("client", "show", "reborn")["status"], "active", "the newer client stays enabled")

    def test_an_old_pending_request_is_listed(self):
        # GET /approvals?state=pending picked its rows out of the newest
        # 1000 of the tenant, whatever their state: a request filed before
        # 1000 others were was pending but on no list, so no checker saw
        # it. The store now filters on the state as of now, and every
        # list comes a page at a time (limit 1..1000, default 100, next).
        now = int(time.time())
        viewer = self.s.client("crowd", name="crowd-viewer", roles="viewer")
        viewer["tenant"] = "crowd"
        cols = ["id", "tenant_id", "kind", "maker", "maker_tenant", "payload", "reason",
                "conflict_key", "state", "checker", "result", "created_at", "expires_at",
                "decided_at", "used_at"]
        payload = '{"method":"POST","path":"/v1/payouts/x/approve","body_digest":""}'
        old = "%032x" % 1
        rows = [(old, 0, now - 7200, now + 7200)]	# pending, the oldest
        for i in range(2, 2501):
            # Rejected, used, and pending rows whose time is up (expired
            # as of now, though still stored pending); two to a second.
            state, expires = [(2, now + 7200), (4, now + 7200), (0, now - 60)][i % 3]
            rows.append(("%032x" % i, state, now - 6000 + i // 2, expires))
        values = ", ".join("('%s', 'crowd', 'call', 'm', 'crowd', '%s', '', '', %d, '', '', %d, %d,"
                           " 0, 0)" % (aid, payload, st, at, exp) for aid, st, at, exp in rows)
        self.s.sql("INSERT INTO approvals (%s) VALUES %s" % (", ".join(cols), values))
        newest_first = [r[0] for r in sorted(rows, key=lambda r: (r[2], r[0]), reverse=True)]

        def walk(query, who=viewer, tenant=None):
            got, sizes, after = [], [], None
            while True:
                q = query + ("&after=" + after if after else "")
                r = self.api("GET", "/approvals?" + q, who, tenant=tenant)
                eq(r.status, 200, "%s: %r" % (q, r))
                got += [a["id"] for a in r.json()["approvals"]]
                sizes.append(len(r.json()["approvals"]))
                after = r.json()["next"]
                if after is None:
                    return got, sizes
                check(len(sizes) < 100, "the pages end")

        r = self.api("GET", "/approvals?state=pending", viewer)
        eq((r.status, [a["id"] for a in r.json()["approvals"]]), (200, [old]),
           "the old pending request is listed")
        got, sizes = walk("state=pending")
        eq(got, [old], "one page, the last")
        got, sizes = walk("limit=1000")
        check(got == newest_first, "every request once, newest first: %d" % len(got))
        eq(sizes, [1000, 1000, 500], "pages of 1000")
        got, sizes = walk("state=expired&limit=300")
        want = [x for x in newest_first if int(x, 16) % 3 == 2]
        check(got == want, "the expired ones, still stored pending: %d of %d" % (len(got), len(want)))
        got, _ = walk("state=rejected")
        eq(len(got), 833, "rejected: a page of 100 at a time")
        got, _ = walk("tenant=*&state=pending&limit=1000", self.platform)
        check(old in got, "a platform principal finds it among every tenant's")
        out = self.s.cli("approvals", "list", "--tenant", "crowd", "--state", "pending")
        eq([x["id"] for x in out], [old], "and so does the CLI")

        # A cursor is this list's own.
        first = self.api("GET", "/approvals?limit=1", viewer).json()["next"]
        for q in ["after=", "after=garbage", "after=1." + "0" * 32, "after=clients~1~x",
                  "after=approvals~1~xyz", "after=approvals~01~" + old, "after=approvals~1",
                  "after=approvals~x~" + old, "after=" + first + "~1", "after=" + "a" * 300]:
            r = self.api("GET", "/approvals?" + q, viewer)
            eq(r.status, 400, "%s: %r" % (q, r))
            check("after" in r.json()["error_description"], "%s: names after: %r" % (q, r.json()))
        r = self.api("GET", "/approvals?limit=2&after=" + first, viewer)
        eq([a["id"] for a in r.json()["approvals"]], newest_first[1:3], "its own cursor leads on")
        # The other tests share this server: the crowd goes.
        self.s.sql("DELETE FROM approvals WHERE tenant_id = 'crowd'")

    def test_audit_events(self):
        a = self.file(self.op)
        eq(self.decide(self.admin, a["id"]).status, 200, "approve")
        eq(self.gate(self.op, a["payload"]["path"], a["id"]).status, 200, "use")
        deadline = time.time() + 5
        want = {"approval.file", "approval.approve", "approval.use"}
        seen = set()
        while time.time() < deadline and not want <= seen:
            p = self.s.cli("audit", "list", "--tenant", "acme", "--limit", "1000", check=False)
            rows = p if isinstance(p, list) else (p.get("events") or p.get("rows") or []) \
                if isinstance(p, dict) else []
            seen = {r.get("action") for r in rows if r.get("target") == a["id"]}
            time.sleep(0.2)
        check(want <= seen, "audit events %r" % seen)

    def test_a_decision_refused_for_its_role_is_on_the_trail(self):
        # A sandbox admin's refused decision was on the trail, but an
        # Operator's or a Viewer's was refused before the approval was
        # read, and left no row: an attempt to decide above one's role
        # went unrecorded.
        a = self.file(self.admin)
        self.error(self.decide(self.op, a["id"]), 403, "an operator approving")
        self.error(self.decide(self.viewer, a["id"], "reject"), 403, "a viewer rejecting")
        want = {("approval.approve", self.op["client_id"]),
                ("approval.reject", self.viewer["client_id"])}
        seen = set()
        deadline = time.time() + 5
        while time.time() < deadline and not want <= seen:
            rows = self.s.cli("audit", "list", "--tenant", "acme", "--limit", "1000")
            seen = {(r["action"], r["actor"]) for r in rows
                    if r["target"] == a["id"] and r["outcome"] == "refused"}
            time.sleep(0.2)
        check(want <= seen, "refused decisions on the trail: %r" % seen)
        eq(self.state(a["id"]), "pending", "unchanged")

    def test_refused_calls_are_on_the_trail(self):
        # The admin API puts every refusal (401, 403) on the trail; here a
        # bad token, a token of another tenant than X-TENANT-ID, a Viewer
        # filing and a listing of another tenant's approvals left no row.
        tag = "refused-%d" % int(time.time() * 1000)
        r = self.s.request("GET", "/approvals", headers={
            "Authorization": "Bearer abc.def.ghi", "X-TENANT-ID": "acme", "X-Request-ID": tag + "-a"})
        eq(r.status, 401, "bad token")
        self.error(self.api("GET", "/approvals", self.op, tenant="globex",
                            extra={"X-Request-ID": tag + "-b"}), 403, "tenant mismatch")
        self.error(self.api("POST", "/approvals", self.viewer, {"method": "POST", "path": self.new_path()},
                            extra={"X-Request-ID": tag + "-c"}), 403, "a viewer filing")
        self.error(self.api("GET", "/approvals?tenant=acme", self.other_admin,
                            extra={"X-Request-ID": tag + "-d"}), 403, "another tenant's list")
        want = {(tag + "-a", "approval.read", ""), (tag + "-b", "approval.read", self.op["client_id"]),
                (tag + "-c", "approval.file", self.viewer["client_id"]),
                (tag + "-d", "approval.read", self.other_admin["client_id"])}
        seen = set()
        deadline = time.time() + 5
        while time.time() < deadline and not want <= seen:
            rows = self.s.cli("audit", "list", "--limit", "1000")
            seen = {(e["request_id"], e["action"], e["actor"]) for e in rows
                    if e["request_id"].startswith(tag) and e["outcome"] == "refused"}
            time.sleep(0.2)
        check(want <= seen, "refusals on the trail: %r" % seen)


if __name__ == "__main__":
    Approvals().run()
