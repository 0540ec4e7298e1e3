"""Issue 6 parts 1, 2 and 5: the admin API (/admin/v1) against the real
binary over HTTP — roles (Viewer reads, Operator non-critical writes, Admin
critical ones), tenant isolation (another tenant's rows are 404), the same
validation as the CLI, maker-checker (202 + approval applies once) and
X-Request-ID idempotency (replay, 422, 409)."""
import hashlib
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import BIN, Server, Suite, basic, check, eq  # noqa: E402

A = "/admin/v1"


class Admin(Suite):
    def setup(self):
        self.s = Server()
        s = self.s
        self.root = {"client_id": s.bootstrap["client_id"],
                     "client_secret": s.bootstrap["client_secret"]}
        # Checkers hold production tokens (a sandbox client decides nothing).
        prod = {"env": "production", "allow_ip": "127.0.0.1/32"}
        self.checker = s.client("platform", name="checker", roles="admin", **prod)
        self.p_op = s.client("platform", name="p-operator", roles="operator")
        self.a_admin = s.client("acme", name="acme-admin", roles="admin", **prod)
        self.a_admin2 = s.client("acme", name="acme-admin2", roles="admin", **prod)
        self.a_op = s.client("acme", name="acme-op", roles="operator")
        self.a_view = s.client("acme", name="acme-viewer", roles="viewer")
        self.g_admin = s.client("globex", name="globex-admin", roles="admin", **prod)
        self.g_client = s.client("globex", name="globex-app", roles="viewer")
        self.tokens = {}

    def teardown(self):
        self.s.cleanup()

    # -- helpers ------------------------------------------------------------
    def tok(self, c):
        cid = c["client_id"]
        if cid not in self.tokens:
            r = self.s.token(cid, c["client_secret"])
            eq(r.status, 200, "token for %s: %r" % (cid, r))
            self.tokens[cid] = r.json()["access_token"]
        return self.tokens[cid]

    def api(self, method, path, who=None, body=None, headers=None):
        h = {}
        if who is not None:
            h["Authorization"] = "Bearer " + self.tok(who)
        h.update(headers or {})
        if body is not None and not isinstance(body, (dict, list)) and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        return self.s.request(method, A + path, body=body, headers=h)

    def approve(self, aid, who, tenant):
        return self.s.request("POST", "/approvals/%s/approve" % aid, headers={
            "Authorization": "Bearer " + self.tok(who), "X-TENANT-ID": tenant})

    def idem_fingerprint(self, cid, method, target, body):
        """An idempotency record's fingerprint for a request of client cid,
        as the server makes it: the client as made (id, tenant, creation
        time), then the request (admin/idempotency.c)."""
        tenant, created = self.s.sql("SELECT tenant_id, created_at FROM clients WHERE id = ?",
                                     (cid,))[0]
        owner = "%s\n%s\n%s\n" % (cid, tenant, created)
        return hashlib.sha256(owner.encode() + method.encode() + b"\n" + target.encode() +
                              b"?\n" + body).hexdigest()

    def client_ids(self, who, tenant=None):
        got, _ = self.walk("/clients" + ("?tenant=" + tenant if tenant else ""), who, "clients",
                           1000)
        return sorted(c["client_id"] for c in got)

    def test_a_change_here_is_seen_by_the_next_request(self):
        # A change made through the admin API takes effect on the next
        # request, on any connection, however long the server may go
        # without re-reading the store's generation for other processes'
        # changes (gate_refresh_ms, here its most: a second). Before, a
        # token issued just before the change had taken the refresh's turn,
        # and the disabled client got tokens for up to that second.
        s = Server("--gate-refresh-ms", "1000")
        try:
            admin = s.client("acme", name="admin", roles="admin", env="production",
                             allow_ip="127.0.0.1/32")
            c = s.client("acme", name="app", roles="viewer")
            r = s.token(admin["client_id"], admin["client_secret"])
            eq(r.status, 200, "the admin's token")
            h = {"Authorization": "Bearer " + r.json()["access_token"]}
            path = A + "/clients/%s/" % c["client_id"]
            for i in range(3):
                eq(s.token(c["client_id"], c["client_secret"]).status, 200, "before, %d" % i)
                eq(s.request("POST", path + "disable", headers=h).status, 200, "disabled")
                r = s.token(c["client_id"], c["client_secret"])
                check(r.status in (400, 401) and "access_token" not in r.json(),
                      "refused at once after the disable, %d: %r" % (i, r))
                eq(s.request("POST", path + "enable", headers=h).status, 200, "enabled")
                eq(s.token(c["client_id"], c["client_secret"]).status, 200,
                   "issued at once after the enable, %d" % i)
        finally:
            s.cleanup()

    def test_a_change_is_answered_once_its_audit_row_is_durable(self):
        # The row of a change was queued and the change answered at once, so
        # a crash just after the answer left a change the trail never
        # showed. With the trail held, the answer now waits for it.
        s = Server()
        try:
            admin = s.client("acme", name="admin", roles="admin", env="production",
                             allow_ip="127.0.0.1/32")
            c = s.client("acme", name="app", roles="viewer")
            h = {"Authorization": "Bearer " + s.token(admin["client_id"],
                                                      admin["client_secret"]).json()["access_token"]}
            got = {}
            held = s.hold_writes("audit")
            th = threading.Thread(target=lambda: got.update(r=s.request(
                "POST", A + "/clients/%s/disable" % c["client_id"], headers=h)))
            th.start()
            th.join(1.0)
            early = not th.is_alive()
            held.release()
            th.join(15)
            check(not early, "no answer while the change's audit row could not be written")
            eq(got["r"].status, 200, "disabled: %r" % got["r"])
            s.stop(signal.SIGKILL)
            rows = s.cli("audit", "list", "--tenant", "acme", "--limit", "100")
            check(any(r["action"] == "admin.client.disable" and c["client_id"] in r["target"]
                      for r in rows), "the change is on the trail after a crash: %r" % rows)
        finally:
            s.cleanup()

    def test_a_change_and_its_audit_row_commit_together(self):
        # Regression: the change committed, then its row was written in a
        # second transaction; a crash between the two (GATEHOUSE_TEST_FAULT
        # ends the server there, as a kill would) left a change the trail
        # did not show. Now the row goes in with the change.
        s = Server(env={"GATEHOUSE_TEST_FAULT": "admin-before-audit"})
        try:
            root = {"client_id": s.bootstrap["client_id"],
                    "client_secret": s.bootstrap["client_secret"]}
            admin = s.client("acme", name="admin", roles="admin", env="production",
                             allow_ip="127.0.0.1/32")
            app = s.client("acme", name="app", roles="viewer")

            def call(who, method, path, body):
                h = {"Authorization": "Bearer " + s.token(
                    who["client_id"], who["client_secret"]).json()["access_token"]}
                try:
                    return s.request(method, A + path, body=body, headers=h).status
                except (OSError, http.client.HTTPException):
                    return None  # the server ended at the fault point

            def row(action, target):
                rows = s.cli("audit", "list", "--action", action, "--limit", "100")
                return [(r["outcome"], r["detail"]) for r in rows if r["target"] == target]

            eq(call(admin, "POST", "/clients/%s/disable" % app["client_id"], {}), 200,
               "disabled, and answered")
            eq(call(admin, "POST", "/clients", {"name": "made", "id": "made-1"}), 201, "made")
            eq(call(root, "POST", "/tenants", {"id": "initech", "name": "Initech"}), 201,
               "tenant made")
            s.stop(signal.SIGKILL)
            eq(row("admin.client.disable", app["client_id"]), [("ok", '{"status":200}')],
               "the disable's row")
            eq(row("admin.client.create", "made-1"), [("ok", '{"status":201}')],
               "the create's row names the client made")
            rows = s.cli("audit", "list", "--action", "admin.client.create", "--limit", "100")
            eq([r["tenant"] for r in rows if r["target"] == "made-1"], ["acme"], "in its tenant")
            eq(row("admin.tenant.create", "initech"), [("ok", '{"status":201}')],
               "the tenant's row")
            p = subprocess.run([BIN, "audit", "verify", "--db", s.db, "--master-key",
                                s.master], capture_output=True, timeout=60)
            eq(p.returncode, 0, "the trail verifies: %r" % p.stderr)
        finally:
            s.cleanup()

    # -- authentication and roles ----------------------------------------------
    def test_auth_required(self):
        r = self.api("GET", "/clients")
        eq(r.status, 401, "no token")
        check("Bearer" in r.header("WWW-Authenticate"), "challenge: %r" % r.headers)
        r = self.api("GET", "/clients", headers={"Authorization": "Bearer not.a.token"})
        eq(r.status, 401, "bad token")
        r = self.api("GET", "/clients", headers={"Authorization": basic("x", "y")})
        eq(r.status, 401, "basic credentials are not a bearer token")

    def test_authorization_read_as_the_gate_reads_it(self):
        # One reader for every route (gate/bearer.h): RFC 7235 allows one or
        # more spaces after the scheme; a repeated header is a malformed
        # request (RFC 6750 §3.1: 400 invalid_request).
        tok = self.tok(self.a_admin)
        r = self.api("GET", "/clients", headers={"Authorization": "bearer  " + tok})
        eq(r.status, 200, "two spaces, lower-case scheme: %r" % r)
        for path in (A + "/clients", "/approvals"):
            r = self.s.raw(("GET %s HTTP/1.1\r\nHost: x\r\nX-TENANT-ID: acme\r\n"
                            "Authorization: Bearer %s\r\nAuthorization: Bearer %s\r\n\r\n"
                            % (path, tok, tok)).encode())
            eq((r.status, r.json()["error"]), (400, "invalid_request"), "%s: repeated header" % path)
        # X-TENANT-ID is optional here, but never another tenant's.
        eq(self.api("GET", "/clients", self.a_admin, headers={"X-TENANT-ID": "acme"}).status, 200, "own")
        r = self.api("GET", "/clients", self.a_admin, headers={"X-TENANT-ID": "globex"})
        eq((r.status, r.json()["error"]), (403, "forbidden"), "another tenant named: %r" % r)
        r = self.s.raw(("GET %s/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                        "X-TENANT-ID: acme\r\nX-TENANT-ID: acme\r\n\r\n" % (A, tok)).encode())
        eq(r.status, 400, "X-TENANT-ID twice")
        r = self.s.request("GET", "/approvals", headers={"X-TENANT-ID": "acme"})
        eq(r.status, 401, "no token")
        eq(r.header("Cache-Control"), "no-store", "401s are not cached either")

    def test_https_required_as_for_tokens(self):
        s = Server("--require-https", "true", "--trusted-proxies", "127.0.0.1")
        try:
            r = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"])
            eq(r.status, 400, "plain HTTP token request refused: %r" % r)
            f = {"grant_type": "client_credentials"}
            r = s.post_form("/oauth/token", f, headers={"X-Forwarded-Proto": "https", "Authorization": basic(
                s.bootstrap["client_id"], s.bootstrap["client_secret"])})
            eq(r.status, 200, "via an HTTPS proxy: %r" % r)
            h = {"Authorization": "Bearer " + r.json()["access_token"]}
            r = s.get(A + "/clients", headers=h)
            eq(r.status, 400, "admin over plain HTTP: %r" % r)
            check("HTTPS" in r.json()["error_description"], "says why: %r" % r)
            eq(s.get(A + "/clients", headers=dict(h, **{"X-Forwarded-Proto": "https"})).status, 200, "over HTTPS")
        finally:
            s.cleanup()

    def test_a_token_for_another_audience_acts_nowhere_here(self):
        # RFC 9068 §4. A token asked for another API (audience=, for a
        # policy's aud= rule) is sent to that API with every call. It was
        # taken by the admin API and /approvals as its client's own, so that
        # API could change clients and decide approvals with it.
        s = Server("--audiences", "https://ledger.internal")
        try:
            adm = s.client("acme", name="acme-admin", roles="admin", env="production",
                           allow_ip="127.0.0.1/32")
            r = s.token(adm["client_id"], adm["client_secret"], audience="https://ledger.internal")
            eq(r.status, 200, "a token for the ledger: %r" % r)
            h = {"Authorization": "Bearer " + r.json()["access_token"]}
            r = s.get(A + "/clients", headers=h)
            eq(r.status, 401, "the admin API with the ledger's token: %r" % r)
            eq(r.json()["error"], "invalid_token", "error")
            check("audience" in r.json()["error_description"], "says why: %r" % r)
            check("invalid_token" in r.header("WWW-Authenticate"), "challenge: %r" % r.headers)
            r = s.request("POST", A + "/tokens/revoke", body={"name": "x"}, headers=h)
            eq(r.status, 401, "nor a write: %r" % r)
            r = s.get("/approvals", headers=dict(h, **{"X-TENANT-ID": "acme"}))
            eq(r.status, 401, "nor /approvals: %r" % r)
            # The client's token for gatehouse works, asked by name or not.
            for aud in ({}, {"audience": s.base}):
                r = s.token(adm["client_id"], adm["client_secret"], **aud)
                h = {"Authorization": "Bearer " + r.json()["access_token"]}
                eq(s.get(A + "/clients", headers=h).status, 200, "gatehouse's own %r" % aud)
                eq(s.get("/approvals", headers=dict(h, **{"X-TENANT-ID": "acme"})).status, 200,
                   "approvals with gatehouse's own %r" % aud)
        finally:
            s.cleanup()

    def test_client_allowlist_holds_for_admin_calls(self):
        c = self.s.client("acme", name="fenced-admin", roles="admin", allow_ip=["127.0.0.0/8"])
        eq(self.api("GET", "/clients", c).status, 200, "from an allowed address")
        r = self.api("PATCH", "/clients/" + c["client_id"], self.root, {"allow_ips": ["10.0.0.0/8"]})
        eq(r.status, 200, "allowlist moved: %r" % r)
        r = self.api("GET", "/clients", c)
        eq(r.status, 403, "the same token from an address no longer allowed: %r" % r)
        check("127.0.0.1" in r.json()["error_description"], "names the address: %r" % r)

    def test_viewer_reads_but_cannot_write(self):
        eq(self.api("GET", "/clients", self.a_view).status, 200, "viewer reads")
        before = self.client_ids(self.a_admin)
        r = self.api("POST", "/clients", self.a_view, {"name": "nope"})
        eq(r.status, 403, "viewer writes: %r" % r)
        check("operator" in r.json()["error_description"], "says the role needed: %r" % r)
        r = self.api("PATCH", "/clients/" + self.a_op["client_id"], self.a_view, {"name": "x"})
        eq(r.status, 403, "viewer patch")
        eq(self.client_ids(self.a_admin), before, "nothing changed")

    def test_no_client_made_or_managed_above_the_caller(self):
        # The secret a create or rotation makes goes to the maker: an
        # operator that could rotate an admin's secret, even with approval,
        # would hold an admin's credentials.
        prod = {"env": "production", "allow_ips": ["127.0.0.1/32"]}
        r = self.api("POST", "/clients/%s/secrets/rotate" % self.a_admin2["client_id"], self.a_op, {})
        eq(r.status, 403, "operator rotates an admin's secret: %r" % r)
        check("client_secret" not in r.body.decode(), "no secret shown")
        r = self.api("POST", "/clients", self.a_op, dict(name="op-made-admin", roles=["admin"], **prod))
        eq(r.status, 403, "operator makes an admin client: %r" % r)
        r = self.api("PATCH", "/clients/" + self.a_admin2["client_id"], self.a_op, {"name": "x"})
        eq(r.status, 403, "operator manages an admin client: %r" % r)
        r = self.api("PATCH", "/clients/" + self.a_view["client_id"], self.a_op, {"roles": ["admin"]})
        eq(r.status, 403, "operator hands out admin: %r" % r)
        r = self.api("POST", "/clients", self.a_op, dict(name="op-made-op", roles=["operator"], **prod))
        eq(r.status, 202, "an operator client, filed for approval: %r" % r)

    def test_an_operator_never_revokes_an_admins_tokens_nor_clears_its_locks(self):
        # Regression: revoking tokens by id or name and clearing a client's
        # locks skipped the rule every other client write keeps (a client
        # manages only clients with roles it holds itself): an Operator
        # revoked an Admin client's tokens and cleared its lockout locks.
        adm = self.s.client("acme", name="guarded-admin", roles="admin")
        t = self.s.token(adm["client_id"], adm["client_secret"]).json()["access_token"]
        jti = json.loads(__import__("base64").urlsafe_b64decode(t.split(".")[1] + "==").decode())["jti"]
        name = self.api("GET", "/tokens/" + jti, self.a_admin).json()["name"]
        for body in ({"id": jti}, {"name": name, "client_id": adm["client_id"]}):
            r = self.api("POST", "/tokens/revoke", self.a_op, body)
            eq(r.status, 403, "operator revokes an admin's token by %r: %r" % (list(body), r))
            check("admin role" in r.json()["error_description"], "says why: %r" % r)
        r = self.api("POST", "/tokens/revoke", self.a_op, {"name": name})
        eq(r.status, 404, "by name alone, an admin's token is not among the operator's: %r" % r)
        eq(self.api("GET", "/tokens/" + jti, self.a_admin).json()["status"], "live", "still live")
        eq(self.api("GET", "/clients", headers={"Authorization": "Bearer " + t}).status, 200,
           "and still works")
        for _ in range(5):      # a lock of the pair (admin client, this address)
            self.s.token(adm["client_id"], "wrong")
        deadline = time.time() + 5  # written to the store a moment later, batched
        while True:
            locked = [x for x in self.api("GET", "/locks", self.a_admin).json()["locks"]
                      if x["client_id"] == adm["client_id"]]
            if locked or time.time() > deadline:
                break
            time.sleep(0.05)
        eq(len(locked), 1, "the admin client is locked out: %r" % locked)
        r = self.api("POST", "/locks/clear", self.a_op, {"client_id": adm["client_id"]})
        eq(r.status, 403, "operator clears an admin's lock: %r" % r)
        check(any(x["client_id"] == adm["client_id"]
                  for x in self.api("GET", "/locks", self.a_admin).json()["locks"]), "still locked")
        r = self.api("POST", "/locks/clear", self.a_admin, {"client_id": adm["client_id"]})
        eq((r.status, r.json().get("cleared")), (200, 1), "an admin clears it: %r" % r)
        r = self.api("POST", "/tokens/revoke", self.a_admin, {"id": jti})
        eq((r.status, r.json().get("revoked")), (200, 1), "an admin revokes it: %r" % r)

    def test_operator_noncritical_yes_critical_no(self):
        cid = self.a_view["client_id"]
        r = self.api("PATCH", "/clients/" + cid, self.a_op, {"name": "renamed viewer", "token_format": "jwt"})
        eq(r.status, 200, "operator renames: %r" % r)
        eq(r.json()["name"], "renamed viewer", "name")
        # Lifetimes, the rate limit and claims are critical: a client could
        # otherwise give itself long-lived, unthrottled tokens.
        for change in ({"ttl": "10m"}, {"max_ttl": "366d"}, {"rate_limit": 0},
                       {"claims": {"partner_id": "someone-else"}}):
            r = self.api("PATCH", "/clients/" + cid, self.a_op, change)
            eq(r.status, 403, "operator changes %r directly: %r" % (change, r))
            check("critical" in r.json()["error_description"], "says why: %r" % r)
        # Critical, and maker-checker is off for sandbox under "production".
        before = self.client_ids(self.a_admin)
        r = self.api("POST", "/clients", self.a_op, {"name": "op-made"})
        eq(r.status, 403, "operator creates directly: %r" % r)
        check("critical" in r.json()["error_description"], "says why: %r" % r)
        r = self.api("PATCH", "/clients/" + cid, self.a_op, {"roles": ["admin"]})
        eq(r.status, 403, "operator grants admin directly: %r" % r)
        r = self.api("POST", "/clients/%s/disable" % cid, self.a_op)
        eq(r.status, 403, "operator disables directly")
        r = self.api("POST", "/clients/%s/secrets/rotate" % cid, self.a_op)
        eq(r.status, 403, "operator rotates directly")
        eq(self.client_ids(self.a_admin), before, "nothing created")
        r = self.api("GET", "/clients/" + cid, self.a_admin).json()
        eq(r["roles"], ["viewer"], "roles unchanged")
        eq(r["status"], "active", "still active")

    def test_admin_critical_direct_in_sandbox(self):
        r = self.api("POST", "/clients", self.a_admin, {
            "name": "made by api", "roles": "operator,viewer", "scopes": ["cards:read", "cards:write"],
            "ttl": 900, "claims": {"partner": "p1"}, "rate_limit": 50})
        eq(r.status, 201, "admin creates: %r" % r)
        c = r.json()
        eq(c["tenant_id"], "acme", "own tenant by default")
        eq(c["scopes"], ["cards:read", "cards:write"], "scopes")
        eq(c["claims"], {"partner": "p1"}, "claims")
        t = self.s.token(c["client_id"], c["client_secret"], scope="cards:read")
        eq(t.status, 200, "the new client gets a token: %r" % t)
        # Shown by the CLI the same way.
        shown = self.s.cli("client", "show", c["client_id"])
        eq(shown["roles"], c["roles"], "CLI sees the same roles")
        r = self.api("POST", "/clients/%s/disable" % c["client_id"], self.a_admin)
        eq(r.status, 200, "admin disables: %r" % r)
        eq(r.json()["status"], "disabled", "disabled")
        r = self.s.token(c["client_id"], c["client_secret"])
        check(r.status in (400, 401) and "access_token" not in r.json(), "disabled client refused: %r" % r)
        # Enabling undoes a disable, so it is critical as a disable is: an
        # operator that could enable alone could undo an approved disable.
        r = self.api("POST", "/clients/%s/enable" % c["client_id"], self.a_op)
        eq(r.status, 403, "operator enables directly: %r" % r)
        check("critical" in r.json()["error_description"], "says why: %r" % r)
        r = self.api("POST", "/clients/%s/enable" % c["client_id"], self.a_admin)
        eq(r.status, 200, "admin enables: %r" % r)
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "works again")
        tok = self.s.token(c["client_id"], c["client_secret"]).json()["access_token"]
        eq(self.api("GET", "/clients", who=None, headers={"Authorization": "Bearer " + tok}).status, 200,
           "the client's own token works before the delete")
        eq(self.api("DELETE", "/clients/" + c["client_id"], self.a_op).status, 403, "operator deletes directly")
        r = self.api("DELETE", "/clients/" + c["client_id"], self.a_admin)
        eq(r.status, 200, "admin deletes: %r" % r)
        eq(self.api("GET", "/clients/" + c["client_id"], self.a_admin).status, 404, "gone")
        eq(self.api("DELETE", "/clients/" + c["client_id"], self.a_admin).status, 404, "deleted once")
        r = self.s.token(c["client_id"], c["client_secret"])
        check(r.status in (400, 401), "a deleted client gets no token: %r" % r)
        eq(self.api("GET", "/clients", who=None, headers={"Authorization": "Bearer " + tok}).status, 401,
           "its tokens stop validating")

    def test_a_deleted_clients_tokens_stay_dead_when_its_id_is_reused(self):
        # A delete keeps the client's token records, for the record. They
        # stopped validating only because the client was gone: a client
        # made again with the same id brought every token of the deleted
        # one back to life, with the old one's roles and scopes.
        s = self.s
        old = s.client("acme", name="reused", roles="viewer", id="reused-app")
        tok = s.token(old["client_id"], old["client_secret"]).json()["access_token"]
        bearer = {"Authorization": "Bearer " + tok}
        eq(self.api("GET", "/clients", headers=bearer).status, 200, "its token works before")
        eq(self.api("DELETE", "/clients/reused-app", self.a_admin).status, 200, "deleted")
        eq(self.api("GET", "/clients", headers=bearer).status, 401, "refused once deleted")
        new = s.client("acme", name="reused", roles="viewer", id="reused-app")
        eq(self.api("GET", "/clients", headers=bearer).status, 401,
           "the deleted client's token stays refused when the id is reused")
        r = s.post_form("/oauth/introspect", {"token": tok},
                        headers={"Authorization": basic(new["client_id"], new["client_secret"])})
        eq(r.json(), {"active": False}, "and inactive")
        # Within the second the old token was issued, the new client is
        # told when to ask (its tokens from before that second are void).
        r = s.token(new["client_id"], new["client_secret"])
        deadline = time.time() + 3
        while r.status == 503 and time.time() < deadline:
            eq(r.header("Retry-After"), "1", "says when: %r" % r)
            time.sleep(0.2)
            r = s.token(new["client_id"], new["client_secret"])
        eq(r.status, 200, "the new client gets tokens: %r" % r)
        fresh = r.json()["access_token"]
        eq(self.api("GET", "/clients", headers={"Authorization": "Bearer " + fresh}).status, 200,
           "the new client's own tokens work")

    # -- tenant isolation --------------------------------------------------------
    def test_tenant_isolation(self):
        gid = self.g_client["client_id"]
        for method, path, body in [("GET", "/clients/" + gid, None),
                                   ("PATCH", "/clients/" + gid, {"name": "pwned"}),
                                   ("POST", "/clients/%s/disable" % gid, None),
                                   ("POST", "/clients/%s/enable" % gid, None),
                                   ("GET", "/clients/%s/secrets" % gid, None),
                                   ("POST", "/clients/%s/secrets/rotate" % gid, None),
                                   ("GET", "/clients/%s/tokens" % gid, None),
                                   ("POST", "/clients/%s/tokens/revoke" % gid, None),
                                   ("GET", "/tenants/globex", None),
                                   ("GET", "/clients?tenant=globex", None)]:
            r = self.api(method, path, self.a_admin, body)
            eq(r.status, 404, "%s %s from acme: %r" % (method, path, r))
        r = self.api("GET", "/clients/does-not-exist", self.a_admin)
        eq(r.status, 404, "unknown client")
        eq(r.json()["error_description"].replace("does-not-exist", "X"),
           self.api("GET", "/clients/" + gid, self.a_admin).json()["error_description"].replace(gid, "X"),
           "another tenant's client reads exactly as a missing one")
        r = self.api("POST", "/clients", self.a_admin, {"tenant": "globex", "name": "intruder"})
        eq(r.status, 404, "create in another tenant: %r" % r)
        ids = self.client_ids(self.a_admin)
        check(gid not in ids and self.a_op["client_id"] in ids, "list shows only acme")
        tenants = [t["tenant_id"] for t in self.api("GET", "/tenants", self.a_admin).json()["tenants"]]
        eq(tenants, ["acme"], "tenants visible to acme")
        eq(self.api("POST", "/tenants", self.a_admin, {"id": "newco"}).status, 403,
           "only the platform creates tenants")
        # globex's token cannot be revoked by acme, by id or by name.
        t = self.s.token(gid, self.g_client["client_secret"]).json()["access_token"]
        jti = json.loads(__import__("base64").urlsafe_b64decode(t.split(".")[1] + "==").decode())["jti"]
        eq(self.api("POST", "/tokens/revoke", self.a_admin, {"id": jti}).status, 404, "revoke by id")
        eq(self.api("GET", "/tokens/" + jti, self.a_admin).status, 404, "show by id")
        r = self.api("GET", "/tokens/" + jti, self.g_admin)
        eq(r.status, 200, "globex sees its own token")
        eq(r.json()["status"], "live", "still live")
        # The platform acts across tenants.
        eq(self.api("GET", "/clients/" + gid, self.root).status, 200, "platform reads globex")
        check(gid in self.client_ids(self.root), "platform lists every tenant")
        check(gid in self.client_ids(self.root, "globex"), "platform filters by tenant")

    # -- validation ----------------------------------------------------------------
    def test_validation_parity_with_cli(self):
        cases = [
            ({"roles": "superuser"}, ["--roles", "superuser"]),
            ({"ttl": "abc"}, ["--ttl", "abc"]),
            ({"ttl": "2h", "max_ttl": "1h"}, ["--ttl", "2h", "--max-ttl", "1h"]),
            ({"claims": {"iss": "me"}}, ["--claims", '{"iss":"me"}']),
            ({"allow_ips": ["10.0.0.1/8"]}, ["--allow-ip", "10.0.0.1/8"]),
            # An entry of separators alone named no address: the client had
            # no allowlist at all, any address allowed, though one was given.
            ({"allow_ips": [" "]}, ["--allow-ip", " "]),
            ({"allow_ips": ["10.0.0.0/8", ","]}, ["--allow-ip", "10.0.0.0/8", "--allow-ip", ","]),
            ({"scopes": ["a\"b"]}, ["--scopes", "a\"b"]),
            ({"token_format": "paseto"}, ["--token-format", "paseto"]),
            ({"env": "staging"}, ["--env", "staging"]),
            ({"rate_limit": -1}, ["--rate-limit", "-1"]),
            ({"env": "production"}, ["--env", "production"]),
        ]
        before = self.client_ids(self.root)
        for body, flags in cases:
            body = dict(body, name="parity", tenant="acme")
            r = self.api("POST", "/clients", self.a_admin, body)
            eq(r.status, 400, "API %r: %r" % (body, r))
            p = self.s.cli("client", "create", "--tenant", "acme", "--name", "parity", *flags, check=False)
            check(p.returncode != 0, "CLI refuses %r" % flags)
            cli_msg = p.stderr.decode().strip()
            api_msg = r.json()["error_description"]
            check(cli_msg.endswith(api_msg), "same message for %r:\n CLI %r\n API %r" % (flags, cli_msg, api_msg))
        eq(self.client_ids(self.root), before, "nothing was created")

    def test_a_refusal_quoting_the_input_is_still_400(self):
        # The status of a manage/ refusal was chosen by words found anywhere
        # in its message, which quotes the caller's input: a ttl of "does
        # not exist" was 404, roles or an allowlist entry "already" 409.
        cases = [{"ttl": "does not exist"}, {"roles": "already"}, {"allow_ips": ["already"]},
                 {"max_ttl": "has no secret"}]
        for body in cases:
            # globex's: acme's audit trail is another test's to read.
            r = self.api("POST", "/clients", self.g_admin, dict(body, name="quoted", tenant="globex"))
            eq((r.status, r.json().get("error")), (400, "invalid_request"), "%r: %r" % (body, r))

    def test_client_id_with_a_colon_is_refused(self):
        # RFC 7617 §2: a Basic user-id cannot hold ':', and parsers split at
        # the first one, so a client named "ns:partner.1" could only log in
        # with RFC 6749 §2.3.1's encoding; requests' HTTPBasicAuth and seed
        # 003's SDKs send the id raw and got 401. Such ids were made.
        before = self.client_ids(self.root)
        r = self.api("POST", "/clients", self.a_admin, {"tenant": "acme", "name": "colon", "id": "ns:partner.1"})
        eq(r.status, 400, "API %r" % r)
        desc = r.json()["error_description"]
        check("':'" in desc and "id" in desc, "names the character: %r" % desc)
        p = self.s.cli("client", "create", "--tenant", "acme", "--name", "colon", "--id", "ns:partner.1",
                       check=False)
        check(p.returncode != 0, "CLI refuses it")
        check(p.stderr.decode().strip().endswith(desc), "the same message: %r" % p.stderr)
        eq(self.client_ids(self.root), before, "nothing was created")
        # The rest of the identifier set still makes a client, and a
        # tenant id may still hold ':' (only client ids go in Basic).
        r = self.api("POST", "/clients", self.a_admin, {"tenant": "acme", "name": "dots", "id": "ns.partner_1-a"})
        eq(r.status, 201, "API %r" % r)
        eq(self.s.token("ns.partner_1-a", r.json()["client_secret"]).status, 200, "it logs in")
        eq(self.api("POST", "/tenants", self.root, {"id": "ns:colon-co"}).status, 201, "tenant with ':'")
        c = self.s.client("ns:colon-co", name="in a colon tenant")
        eq(self.s.token(c["client_id"], c["client_secret"]).status, 200, "its client logs in")

    def test_json_content_type_with_a_tab_before_its_parameters(self):
        # RFC 9110 §5.6.3: OWS is spaces or HTABs; the admin API read the
        # media type as the token routes did, and refused the tab with 415.
        r = self.api("POST", "/tenants", self.root, json.dumps({"id": "tab-co"}),
                     headers={"Content-Type": "application/json\t; charset=utf-8"})
        eq(r.status, 201, "with a tab %r" % r)
        r = self.api("POST", "/tenants", self.root, json.dumps({"id": "tab-co2"}),
                     headers={"Content-Type": "application/json x"})
        eq(r.status, 415, "not JSON %r" % r)

    def test_malformed_and_unknown_fields(self):
        cid = self.a_op["client_id"]
        before = self.api("GET", "/clients/" + cid, self.a_admin).json()
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, '{"name": "x",')
        eq(r.status, 400, "malformed JSON: %r" % r)
        check("malformed JSON" in r.json()["error_description"], "says malformed: %r" % r)
        # Where, not what: jansson quoted the body near the fault.
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, '{"name": unquoted-words}')
        eq(r.status, 400, "malformed JSON: %r" % r)
        check("unquoted" not in r.json()["error_description"] and
              "at byte" in r.json()["error_description"], "no quote of the body: %r" % r)
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, {"name": "x", "colour": "red"})
        eq(r.status, 400, "unknown field: %r" % r)
        check('"colour"' in r.json()["error_description"], "names the field: %r" % r)
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, {"tenant": "globex"})
        eq(r.status, 400, "tenant cannot change")
        check('"tenant"' in r.json()["error_description"], "names the field: %r" % r)
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, {"name": 42})
        eq(r.status, 400, "wrong type")
        check("name" in r.json()["error_description"], "names the field: %r" % r)
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, '["name"]')
        eq(r.status, 400, "not an object")
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, '{"name": "a", "name": "b"}')
        eq(r.status, 400, "duplicate key")
        r = self.api("POST", "/clients/%s/disable" % cid, self.a_admin, {"reason": "x"})
        eq(r.status, 400, "unknown field on an action: %r" % r)
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, "{}")
        eq(r.status, 400, "empty patch")
        r = self.api("PATCH", "/clients/" + cid, self.a_admin, {"name": "x"},
                     headers={"Content-Type": "text/plain"})
        eq(r.status, 415, "not JSON: %r" % r)
        eq(self.api("GET", "/clients/" + cid, self.a_admin).json(), before, "nothing changed")
        r = self.api("GET", "/nothing-here", self.a_admin)
        eq(r.status, 404, "unknown admin path")
        r = self.api("DELETE", "/tenants", self.a_admin)
        eq(r.status, 405, "wrong method")

    # -- maker-checker ----------------------------------------------------------------
    def test_an_approved_disable_is_not_undone_by_one_person(self):
        # Regression: enable skipped approvals, so an Operator re-enabled a
        # production client that two Admins had disabled, alone and at once.
        p = self.s.client("acme", name="suspended", roles="viewer", env="production",
                          allow_ip="127.0.0.1/32")
        r = self.api("POST", "/clients/%s/disable" % p["client_id"], self.a_admin)
        eq(r.status, 202, "disable filed: %r" % r)
        eq(self.approve(r.json()["approval_id"], self.a_admin2, "acme").status, 200, "approved")
        r = self.api("POST", "/clients/%s/enable" % p["client_id"], self.a_op,
                     headers={"X-Approval-Reason": "incident closed"})
        eq(r.status, 202, "the operator's enable is filed, not applied: %r" % r)
        eq(r.json()["kind"], "client.enable", "as a change of its own kind")
        eq(self.api("GET", "/clients/" + p["client_id"], self.a_admin).json()["status"], "disabled",
           "still disabled")
        check(self.s.token(p["client_id"], p["client_secret"]).status in (400, 401), "no token")
        r2 = self.api("POST", "/clients/%s/disable" % p["client_id"], self.a_op)
        eq(r2.status, 409, "one pending change of a client at a time: %r" % r2)
        eq(self.approve(r.json()["approval_id"], self.a_admin, "acme").status, 200, "an admin approves")
        eq(self.api("GET", "/clients/" + p["client_id"], self.a_admin).json()["status"], "active",
           "enabled once approved")
        eq(self.s.token(p["client_id"], p["client_secret"]).status, 200, "a token again")

    def test_an_approval_filed_here_carries_its_request_id_and_address(self):
        # Regression: the trail's approval.file row of a call filed through
        # the admin API had an empty request id and address (only /approvals
        # and the gate set them), so it could not be tied to the call.
        body = {"name": "traced-app", "env": "production", "roles": ["viewer"],
                "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/clients", self.a_op, body, headers={"X-Request-ID": "file-trace-1"})
        eq(r.status, 202, "filed: %r" % r)
        aid = r.json()["approval_id"]
        rows = []
        for _ in range(50):
            rows = [e for e in self.api("GET", "/audit?action=approval.file", self.a_admin).json()["events"]
                    if e["target"] == aid]
            if rows:
                break
            time.sleep(0.1)
        eq(len(rows), 1, "one approval.file row for %s: %r" % (aid, rows))
        eq((rows[0]["request_id"], rows[0]["address"], rows[0]["actor"]),
           ("file-trace-1", "127.0.0.1", self.a_op["client_id"]), "the call that filed it")

    def test_maker_checker_production_create_approve_once(self):
        body = {"name": "prod-app", "env": "production", "roles": ["viewer"],
                "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/clients", self.a_op, body)
        eq(r.status, 202, "operator files a production client: %r" % r)
        filed = r.json()
        aid, cid, secret = filed["approval_id"], filed["target"], filed["client_secret"]
        eq(self.api("GET", "/clients/" + cid, self.a_admin).status, 404, "not created yet")
        eq(self.s.token(cid, secret).status, 401, "the secret does not work yet")
        r = self.approve(aid, self.a_op, "acme")
        eq(r.status, 403, "an operator cannot approve: %r" % r)
        r = self.approve(aid, self.a_admin, "acme")
        eq(r.status, 200, "a same-tenant admin approves: %r" % r)
        eq(r.json()["state"], "applied", "applied: %r" % r)
        check("client_secret" not in json.dumps(r.json()), "no secret in the approval")
        c = self.api("GET", "/clients/" + cid, self.a_admin)
        eq(c.status, 200, "created")
        eq(c.json()["env"], "production", "as filed")
        eq(self.s.token(cid, secret).status, 200, "the secret shown at filing works now")
        r = self.approve(aid, self.a_admin2, "acme")
        eq(r.status, 409, "approved once only: %r" % r)
        eq(len([x for x in self.client_ids(self.a_admin) if x == cid]), 1, "one client")
        # A production secret rotation: filed, the new secret shown to the
        # maker at once, working only once approved; the old keeps working.
        r = self.api("POST", "/clients/%s/secrets/rotate" % cid, self.a_op, {"grace": "1h"},
                     headers={"X-Approval-Reason": "quarterly rotation"})
        eq(r.status, 202, "rotation filed: %r" % r)
        new = r.json()["client_secret"]
        eq(self.s.token(cid, new).status, 401, "not yet")
        a = self.s.request("GET", "/approvals/" + r.json()["approval_id"], headers={
            "Authorization": "Bearer " + self.tok(self.a_admin), "X-TENANT-ID": "acme"}).json()
        eq(a["reason"], "quarterly rotation", "the reason is kept")
        check(new not in json.dumps(a), "the approval does not hold the secret")
        eq(a["payload"].get("secret_hash"), "(withheld)", "nor shows its keyed hash: %r" % a)
        eq(self.approve(r.json()["approval_id"], self.a_admin2, "acme").status, 200, "approved")
        eq(self.s.token(cid, new).status, 200, "the new secret works")
        eq(self.s.token(cid, secret).status, 200, "the old one in its grace period")

    def test_maker_checker_own_request_conflict_concurrency(self):
        r = self.api("POST", "/clients", self.a_admin, {"name": "prod-2", "env": "production",
                                                        "allow_ips": ["127.0.0.0/8"]})
        eq(r.status, 202, "even an admin's production create is filed: %r" % r)
        aid, cid = r.json()["approval_id"], r.json()["target"]
        eq(self.approve(aid, self.a_admin, "acme").status, 403, "the maker cannot approve")
        eq(self.approve(aid, self.g_admin, "globex").status, 404, "another tenant's admin: 404")
        eq(self.approve(aid, self.checker, "platform").status, 200, "a platform admin approves")
        # Two pending changes of one client conflict.
        r1 = self.api("PATCH", "/clients/" + cid, self.a_op, {"scopes": ["a"]})
        eq(r1.status, 202, "scope change filed: %r" % r1)
        r2 = self.api("PATCH", "/clients/" + cid, self.a_op, {"roles": ["operator"]})
        eq(r2.status, 409, "conflicting pending change: %r" % r2)
        # Many checkers at once: exactly one applies it.
        checkers = [self.a_admin, self.a_admin2, self.checker, self.root] * 2
        for c in checkers:
            self.tok(c)
        out = []
        ths = [threading.Thread(target=lambda c=c: out.append(
            self.approve(r1.json()["approval_id"], c, "platform" if c in (self.checker, self.root) else "acme").status))
            for c in checkers]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        eq(sorted(out).count(200), 1, "exactly one approval wins: %r" % out)
        check(all(s in (200, 409) for s in out), "the others get 409: %r" % out)
        eq(self.api("GET", "/clients/" + cid, self.a_admin).json()["scopes"], ["a"], "applied")

    def test_a_creation_under_a_taken_id_is_refused_when_filed(self):
        # Regression: a creation's id was not checked when filed, and the
        # pending creation held the key "client:<id>" in every tenant: a
        # globex admin filed a client under acme's client's id (202), and
        # acme's admin then got 409 for every critical change of its own
        # client, naming globex's approval, for as long as it was pending.
        prod = {"env": "production", "allow_ip": "127.0.0.1/32"}
        vid = self.s.client("acme", name="squatted", roles="viewer", **prod)["client_id"]
        r = self.api("POST", "/clients", self.g_admin, {
            "name": "squatter", "id": vid, "env": "production", "allow_ips": ["127.0.0.0/8"]})
        eq(r.status, 409, "filed under acme's client's id: %r" % r)
        eq(r.json()["error"], "conflict", "a conflict: %r" % r)
        check(vid in r.json()["error_description"] and "taken" in r.json()["error_description"],
              "names the id as taken: %r" % r)
        r = self.api("POST", "/clients/%s/disable" % vid, self.a_admin)
        eq(r.status, 202, "acme files its own client's change: %r" % r)
        eq(self.s.request("POST", "/approvals/%s/reject" % r.json()["approval_id"], headers={
            "Authorization": "Bearer " + self.tok(self.a_admin2), "X-TENANT-ID": "acme"}).status,
           200, "and may drop it")

    def test_pending_changes_of_two_tenants_never_conflict(self):
        # Regression: two tenants filing the creation of one new id shared
        # the conflict key "client:<id>": the second got 409 naming the
        # first tenant's approval, which it cannot see or reject.
        body = {"name": "contested", "id": "contested-id-1", "env": "production",
                "allow_ips": ["127.0.0.0/8"]}
        r = self.api("POST", "/clients", self.g_admin, body)
        eq(r.status, 202, "globex files: %r" % r)
        gaid = r.json()["approval_id"]
        r = self.api("POST", "/clients", self.a_admin, body)
        eq(r.status, 202, "acme files the same id, its own key: %r" % r)
        check(gaid not in r.body.decode(), "globex's approval is never named to acme: %r" % r)
        # Within a tenant a pending change still holds its client.
        r2 = self.api("POST", "/clients", self.a_admin2, body)
        eq(r2.status, 409, "a second pending creation in acme: %r" % r2)
        check(r.json()["approval_id"] in r2.json()["error_description"],
              "names acme's own pending approval: %r" % r2)

    # -- a second person, not a second client of the maker's ----------------------------
    def prod_admin(self, name, s=None):
        return (s or self.s).client("acme", name=name, roles="admin", env="production",
                                    allow_ip="127.0.0.1/32")

    def bearer(self, cid, secret, s=None):
        r = (s or self.s).token(cid, secret)
        eq(r.status, 200, "a token for %s: %r" % (cid, r))
        return r.json()["access_token"]

    def file_call(self, tok, s=None):
        """A call approval of acme filed with tok (any approval would do)."""
        self.calls = getattr(self, "calls", 0) + 1
        r = (s or self.s).request("POST", "/approvals", body={
            "method": "POST", "path": "/v1/payouts/p%d" % self.calls}, headers={
            "Authorization": "Bearer " + tok, "X-TENANT-ID": "acme"})
        eq(r.status, 202, "filed: %r" % r)
        return r.json()["id"]

    def decide_as(self, aid, tok, verb="approve", s=None):
        return (s or self.s).request("POST", "/approvals/%s/%s" % (aid, verb), headers={
            "Authorization": "Bearer " + tok, "X-TENANT-ID": "acme"})

    def test_an_admin_never_decides_through_a_client_it_made(self):
        # Regression: the checker was compared with the maker by client id
        # alone, and the secret of a client whose creation an admin filed
        # is shown to that admin: A1 filed a production admin client A3,
        # A2 approved it, and A1 then approved its own requests as A3.
        a1, a2 = self.prod_admin("mk-a1"), self.prod_admin("mk-a2")
        t1, t2 = self.bearer(a1["client_id"], a1["client_secret"]), \
            self.bearer(a2["client_id"], a2["client_secret"])
        r = self.s.post_json(A + "/clients", {"name": "mk-a3", "roles": ["admin"], "env": "production",
                                              "allow_ips": ["127.0.0.0/8"]},
                             headers={"Authorization": "Bearer " + t1})
        eq(r.status, 202, "a1 files a3: %r" % r)
        a3, secret3 = r.json()["target"], r.json()["client_secret"]
        eq(self.decide_as(r.json()["approval_id"], t2).status, 200, "a2 approves a3")
        t3 = self.bearer(a3, secret3)
        aid = self.file_call(t1)
        for verb in ("approve", "reject"):
            r = self.decide_as(aid, t3, verb)
            eq(r.status, 403, "a1's request decided as a3 (%s): %r" % (verb, r))
            d = r.json()["error_description"]
            check("issued through " + a1["client_id"] in d, "says through whom: %r" % r)
            check(secret3 not in r.body.decode(), "names no secret")
        aid3 = self.file_call(t3)
        r = self.decide_as(aid3, t1)
        eq(r.status, 403, "a3's request decided by a1: %r" % r)
        check("maker's credentials were issued through this client" in r.json()["error_description"],
              "says why: %r" % r)
        # Revoking the secret a1 was shown, and not a3's tokens, leaves a3
        # a1's: a token taken with it still works.
        sid = self.api("GET", "/clients/%s/secrets" % a3, self.root).json()["secrets"][0]["secret_id"]
        r = self.s.post_json(A + "/clients/%s/secrets/%d/revoke" % (a3, sid), {},
                             headers={"Authorization": "Bearer " + t1})
        eq(r.status, 200, "a1 revokes a3's secret: %r" % r)
        eq(self.decide_as(aid, t3).status, 403, "a3's token after its secret was revoked")
        # A second person decides both.
        eq(self.decide_as(aid, t2).status, 200, "a2 approves a1's")
        eq(self.decide_as(aid3, t2).status, 200, "a2 approves a3's")

    def test_an_admin_never_decides_through_a_secret_it_rotated(self):
        # Regression: A1 filed the rotation of admin A2's secret and was
        # shown A2's new secret; once a third admin approved it, A1
        # approved its own requests as A2.
        a1, a2, a4 = self.prod_admin("rot-a1"), self.prod_admin("rot-a2"), self.prod_admin("rot-a4")
        t1, t4 = self.bearer(a1["client_id"], a1["client_secret"]), \
            self.bearer(a4["client_id"], a4["client_secret"])
        r = self.s.post_json(A + "/clients/%s/secrets/rotate" % a2["client_id"], {"grace": "1h"},
                             headers={"Authorization": "Bearer " + t1})
        eq(r.status, 202, "a1 files a2's rotation: %r" % r)
        seen = r.json()["client_secret"]
        eq(self.decide_as(r.json()["approval_id"], t4).status, 200, "a4 approves it")
        aid = self.file_call(t1)
        r = self.decide_as(aid, self.bearer(a2["client_id"], seen))
        eq(r.status, 403, "a1's request approved with the secret a1 was shown: %r" % r)
        check(seen not in r.body.decode(), "names no secret")
        # a2's own secret, in its grace, is a2's; but a1 holds the other.
        r = self.decide_as(aid, self.bearer(a2["client_id"], a2["client_secret"]))
        eq(r.status, 403, "nor with a2's own, while a1's works: %r" % r)
        # a2 takes itself back: the secret a1 saw revoked with a2's tokens.
        t2 = self.bearer(a2["client_id"], a2["client_secret"])
        listed = self.api("GET", "/clients/%s/secrets" % a2["client_id"], self.root).json()["secrets"]
        sids = [x["secret_id"] for x in listed]
        # The list says which secret a1 was shown, and so which to revoke.
        holders = {x["secret_id"]: x["holder"] for x in listed}
        eq(holders, {min(sids): None, max(sids): a1["client_id"]}, "holders: %r" % listed)
        eq({x["id"]: x["holder"] for x in self.s.cli("client", "show", a2["client_id"])["secrets"]},
           holders, "client show says so too")
        r = self.s.post_json(A + "/clients/%s/secrets/%d/revoke" % (a2["client_id"], max(sids)),
                             {"revoke_tokens": True}, headers={"Authorization": "Bearer " + t2})
        eq(r.status, 200, "a2 revokes the secret a1 saw: %r" % r)
        time.sleep(1.1)     # tokens of this second are void too
        t2 = self.bearer(a2["client_id"], a2["client_secret"])
        # Its own rotation leaves it its own.
        r = self.s.post_json(A + "/clients/%s/secrets/rotate" % a2["client_id"], {"grace": "1h"},
                             headers={"Authorization": "Bearer " + t2})
        eq(r.status, 202, "a2 files its own rotation: %r" % r)
        eq(self.decide_as(r.json()["approval_id"], t4).status, 200, "a4 approves it")
        t2 = self.bearer(a2["client_id"], r.json()["client_secret"])
        eq(self.decide_as(aid, t2).status, 200, "now a2 decides a1's request")

    def test_an_admin_never_frees_a_client_it_made_by_rotating_as_it(self):
        # Regression: a client's rotation of its own secret was recorded as
        # the client's own, whoever acted as the client. A1 made a sandbox
        # admin S at once (no approval: sandbox), rotated S's secret as S,
        # voided S's tokens (the secret A1 was shown had expired by then),
        # and A1 held S no more: S filed a production admin client and A1
        # approved it alone.
        s = Server()
        try:
            a1 = self.prod_admin("free-a1", s)
            t1 = self.bearer(a1["client_id"], a1["client_secret"], s)
            r = s.post_json(A + "/clients", {"name": "free-s", "roles": ["admin"]},
                            headers={"Authorization": "Bearer " + t1})
            eq(r.status, 201, "a1 makes sandbox s at once: %r" % r)
            sid = r.json()["client_id"]
            ts = self.bearer(sid, r.json()["client_secret"], s)
            r = s.post_json(A + "/clients/%s/secrets/rotate" % sid, {"grace": "1s"},
                            headers={"Authorization": "Bearer " + ts})
            eq(r.status, 201, "s rotates its own secret: %r" % r)
            own = r.json()["client_secret"]
            time.sleep(1.1)     # the secret a1 was shown has expired
            r = s.post_json(A + "/clients/%s/tokens/revoke" % sid, {},
                            headers={"Authorization": "Bearer " + self.bearer(sid, own, s)})
            eq(r.status, 200, "s voids its tokens: %r" % r)
            time.sleep(1.1)     # tokens of this second are void too
            ts = self.bearer(sid, own, s)
            r = s.post_json(A + "/clients", {"name": "free-p", "roles": ["admin"], "env": "production",
                                             "allow_ips": ["127.0.0.1/32"]},
                            headers={"Authorization": "Bearer " + ts})
            eq(r.status, 202, "s files a production admin client: %r" % r)
            aid = r.json()["approval_id"]
            r = self.decide_as(aid, t1, s=s)
            eq(r.status, 403, "a1 approves s's request: %r" % r)
            check("maker's credentials were issued through this client" in r.json()["error_description"],
                  "says why: %r" % r)
            eq(self.decide_as(self.file_call(ts, s), t1, s=s).status, 403, "nor a call s filed")
            r = s.get(A + "/clients/%s/secrets" % sid, headers={"Authorization": "Bearer " + t1})
            eq([x["holder"] for x in r.json()["secrets"]], [a1["client_id"], sid],
               "the rotation was shown to s, so to whoever acted as it")
            a2 = self.prod_admin("free-a2", s)
            eq(self.decide_as(aid, self.bearer(a2["client_id"], a2["client_secret"], s), s=s).status,
               200, "a second person approves it")
        finally:
            s.cleanup()

    def test_a_secret_shown_to_a_maker_disabled_since_never_works(self):
        # Regression: a filed creation or rotation shows its secret to the
        # maker at once, and an approval applied it after the maker was
        # disabled (someone let go) or deleted: whoever held the maker got
        # a working secret of the client.
        s = Server()
        try:
            adm, adm2 = self.prod_admin("gone-adm", s), self.prod_admin("gone-adm2", s)
            t_adm = self.bearer(adm["client_id"], adm["client_secret"], s)
            t_adm2 = self.bearer(adm2["client_id"], adm2["client_secret"], s)
            target = s.client("acme", name="gone-target", roles="viewer", env="production",
                              allow_ip="127.0.0.1/32")
            for undo in ("disable", "delete"):
                maker = s.client("acme", name="gone-" + undo, roles="operator")
                tm = self.bearer(maker["client_id"], maker["client_secret"], s)
                r = s.post_json(A + "/clients/%s/secrets/rotate" % target["client_id"], {"grace": "1h"},
                                headers={"Authorization": "Bearer " + tm})
                eq(r.status, 202, "the operator files a rotation: %r" % r)
                aid, seen = r.json()["approval_id"], r.json()["client_secret"]
                r = s.request("DELETE" if undo == "delete" else "POST",
                              A + "/clients/%s%s" % (maker["client_id"], "" if undo == "delete" else "/disable"),
                              headers={"Authorization": "Bearer " + t_adm})
                eq(r.status, 200, "the maker %sd: %r" % (undo, r))
                r = self.decide_as(aid, t_adm2, s=s)
                eq(r.status, 200, "decided: %r" % r)
                eq(r.json()["state"], "failed", "not applied (%s): %r" % (undo, r))
                check("file the change again" in r.json()["result"]["error"], "says why: %r" % r)
                eq(s.token(target["client_id"], seen).status, 401,
                   "the secret the %sd maker saw does not work" % undo)
                eq(s.token(target["client_id"], target["client_secret"]).status, 200,
                   "the client's own still does")
        finally:
            s.cleanup()

    def test_a_client_made_at_once_is_held_by_its_maker(self):
        # With maker-checker off for client changes, the secret of a client
        # made at once is shown to its maker as well: the same rule holds
        # for the approvals of calls.
        s = Server("--maker-checker", "never")
        try:
            a1, a2 = self.prod_admin("now-a1", s), self.prod_admin("now-a2", s)
            t1 = self.bearer(a1["client_id"], a1["client_secret"], s)
            r = s.post_json(A + "/clients", {"name": "now-a3", "roles": ["admin"], "env": "production",
                                             "allow_ips": ["127.0.0.0/8"]},
                            headers={"Authorization": "Bearer " + t1})
            eq(r.status, 201, "made at once: %r" % r)
            t3 = self.bearer(r.json()["client_id"], r.json()["client_secret"], s)
            aid = self.file_call(t1, s)
            r = self.decide_as(aid, t3, s=s)
            eq(r.status, 403, "a1's request approved as the client a1 made: %r" % r)
            eq(self.decide_as(aid, self.bearer(a2["client_id"], a2["client_secret"], s), s=s).status,
               200, "a second person approves it")
        finally:
            s.cleanup()

    def test_maker_checker_modes(self):
        for mode in ("always", "never"):
            s = Server("--maker-checker", mode)
            try:
                adm = s.client("acme", name="adm", roles="admin")
                op = s.client("acme", name="op", roles="operator")
                t_adm = s.token(adm["client_id"], adm["client_secret"]).json()["access_token"]
                t_op = s.token(op["client_id"], op["client_secret"]).json()["access_token"]
                r = s.post_json(A + "/clients", {"name": "sbx"}, headers={"Authorization": "Bearer " + t_op})
                eq(r.status, 202 if mode == "always" else 403, "%s: operator sandbox create: %r" % (mode, r))
                r = s.post_json(A + "/clients", {"name": "prd", "env": "production", "allow_ips": ["10.0.0.0/8"]},
                                headers={"Authorization": "Bearer " + t_adm})
                eq(r.status, 202 if mode == "always" else 201, "%s: admin production create: %r" % (mode, r))
            finally:
                s.cleanup()

    # -- idempotency ---------------------------------------------------------------------
    def test_a_call_whose_answer_was_never_recorded_is_not_run_again(self):
        # A server that stopped after acting but before recording the answer
        # leaves its key ACTED (its change marked it so). Once 300 s old, the
        # key was taken over and a retry acted again (a second tenant, a
        # second secret rotation). Now the retry is told the outcome is
        # unknown, for as long as the key is kept.
        body = '{"id":"idem-crashed"}'
        fp = self.idem_fingerprint(self.root["client_id"], "POST", A + "/tenants", body.encode())
        now = int(time.time())
        for key, began, state, reason in (("crashed-1", now - 600, 2, "idempotency_unknown"),
                                          ("acted-1", now - 5, 2, "idempotency_running"),
                                          ("running-1", now - 5, 0, "idempotency_running")):
            self.s.sql("INSERT INTO idempotency (client_id, key, fingerprint, state, status, body,"
                       " created_at, expires_at) VALUES (?, ?, ?, ?, 0, '', ?, ?)",
                       (self.root["client_id"], key, fp, state, began, now + 86400))
            r = self.api("POST", "/tenants", self.root, body, headers={"X-Request-ID": key})
            eq((r.status, r.json().get("error")), (409, "invalid_request"), "%s: %r" % (key, r))
            check(("taken effect" in r.json()["error_description"]) == (reason == "idempotency_unknown"),
                  "%s says why: %r" % (key, r.json()))
        eq(self.api("GET", "/tenants/idem-crashed", self.root).status, 404, "not acted on")

    def test_a_call_stopped_before_acting_is_run_by_its_retry(self):
        # A server that stopped (a crash, kill -9) after reserving the key
        # and before acting left it RUNNING, and every retry got 409 for
        # 24 h: a client retrying as told was stuck, and the call never
        # ran. A call's first change marks its record, so a record unmarked
        # 300 s on never acted: one retry takes it over and acts, its
        # concurrent twins get 409. One that acted stays 409 (unknown).
        s = Server(env={"GATEHOUSE_TEST_FAULT": "idempotency-after-claim"})
        try:
            root = {"client_id": s.bootstrap["client_id"],
                    "client_secret": s.bootstrap["client_secret"]}
            bearer = {"Authorization": "Bearer " + s.token(
                root["client_id"], root["client_secret"]).json()["access_token"]}

            def call(tid, key):
                try:
                    return s.post_json(A + "/tenants", {"id": tid},
                                       headers=dict(bearer, **{"X-Request-ID": key}))
                except (OSError, http.client.HTTPException):
                    return None  # the server ended at the fault point

            def ended_at_fault():
                eq(s.proc.wait(timeout=30), 70, "the server ended at the fault point")
                s.proc = None
                s.stderr_file.close()

            def restart(offset, fault=None):
                s.env.pop("GATEHOUSE_TEST_FAULT", None)
                if fault is not None:
                    s.env["GATEHOUSE_TEST_FAULT"] = fault
                s.env["GATEHOUSE_CLOCK_OFFSET"] = str(offset)
                s.start()

            def made(tid):
                return [t["id"] for t in s.cli("tenant", "list") if t["id"] == tid]

            eq(call("idem-stopped", "stopped-1"), None, "no answer: the server stopped")
            ended_at_fault()
            restart(0)
            r = call("idem-stopped", "stopped-1")
            eq((r.status, r.json()["error"]), (409, "invalid_request"), "still in flight: %r" % r)
            eq(made("idem-stopped"), [], "not acted on")
            s.stop()
            restart(301)
            out = []
            ths = [threading.Thread(target=lambda: out.append(call("idem-stopped", "stopped-1")))
                   for _ in range(6)]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            acted = [r for r in out if r.status == 201 and r.header("Idempotent-Replayed") is None]
            eq(len(acted), 1, "one retry acts: %r" % [(r.status, r.body) for r in out])
            check(all(r.status == 409 or (r.status == 201 and r.body == acted[0].body)
                      for r in out), "its twins wait (409) or get its answer: %r"
                  % [(r.status, r.body) for r in out])
            eq(made("idem-stopped"), ["idem-stopped"], "made once")
            r = call("idem-stopped", "stopped-1")
            eq((r.status, r.header("Idempotent-Replayed")), (201, "true"), "then replayed: %r" % r)
            # Stopped after acting, before recording the answer: never again.
            s.stop()
            restart(301, fault="idempotency-before-finish")
            eq(call("idem-acted", "acted-1"), None, "no answer: the server stopped")
            ended_at_fault()
            restart(602)
            r = call("idem-acted", "acted-1")
            eq(r.status, 409, "acted: not run again: %r" % r)
            check("taken effect" in r.json()["error_description"], "says why: %r" % r.json())
            eq(made("idem-acted"), ["idem-acted"], "made once")
        finally:
            s.cleanup()

    def test_a_call_that_acted_then_failed_is_not_run_by_its_retry(self):
        # A 5xx answer is not kept, so that a retry runs the call again:
        # right when it changed nothing, wrong when it changed the store
        # before it failed (a client made, then a read of it failing: the
        # retry made a second client). Here the change is a key's
        # revocation, answered 503 because the keyring cannot reload (the
        # other env's key no longer unseals). Its record, marked ACTED by
        # the change, was released all the same, and the retry ran the
        # revocation again ("already removed"): now it gets 409.
        s = Server()
        try:
            root = {"Authorization": "Bearer " + s.token(
                s.bootstrap["client_id"], s.bootstrap["client_secret"]).json()["access_token"]}
            r = s.post_json(A + "/keys/rotate", {"env": "sandbox", "lead": 600}, headers=root)
            eq(r.status, 201, "a successor waits: %r" % r)
            keys = s.request("GET", A + "/keys", headers=root).json()["keys"]
            cur = [k["kid"] for k in keys if k["env"] == "sandbox" and k["state"] == "active"]
            eq(len(cur), 1, "one sandbox key signs: %r" % keys)
            s.sql("UPDATE signing_keys SET sealed = substr(sealed, 1, 8) WHERE env = 1")
            h = dict(root, **{"X-Request-ID": "revoke-acted-1"})
            r = s.post_json(A + "/keys/%s/revoke" % cur[0], {}, headers=h)
            eq(r.status, 503, "revoked, the keyring not reloaded: %r" % r)
            check("revoked" in r.json()["error_description"], "says so: %r" % r.json())
            r = s.post_json(A + "/keys/%s/revoke" % cur[0], {}, headers=h)
            eq((r.status, r.json()["error"]), (409, "invalid_request"),
               "the retry does not act again: %r" % r)
            check("X-Request-ID" in r.json()["error_description"], "says why: %r" % r.json())
        finally:
            s.cleanup()

    def six_rotations_make_one_key(self, body, request_id):
        """Six identical key rotations at once with one X-Request-ID (a
        slow call: an RSA key): one key is made, every answer is 201 or
        409, and every 201 is the same answer."""
        self.tok(self.root)
        before = len(self.api("GET", "/keys", self.root).json()["keys"])
        out = []

        def go():
            r = self.api("POST", "/keys/rotate", self.root, body,
                         headers={"X-Request-ID": request_id})
            out.append((r.status, r.body))
        ths = [threading.Thread(target=go) for _ in range(6)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        after = len(self.api("GET", "/keys", self.root).json()["keys"])
        eq(after, before + 1, "one key made by six identical calls: %r" % out)
        check(all(s in (201, 409) for s, _ in out), "201 or 409 only: %r" % out)
        eq(len(set(b for s, b in out if s == 201)), 1, "every 201 is the same answer: %r" % out)

    def test_a_stale_claim_is_taken_over_once(self):
        # Six retries at once of a call whose server stopped before acting
        # (its record RUNNING, unmarked, 10 minutes old), the call slow (an
        # RSA key): one takes the key over and acts, once.
        body = json.dumps({"env": "sandbox", "lead": 0}).encode()
        fp = self.idem_fingerprint(self.root["client_id"], "POST", A + "/keys/rotate", body)
        now = int(time.time())
        self.s.sql("INSERT INTO idempotency VALUES (?, ?, ?, 0, 0, '', ?, ?)",
                   (self.root["client_id"], "rotate-stale-1", fp, now - 600, now + 86400))
        self.six_rotations_make_one_key(body, "rotate-stale-1")

    def test_a_call_taken_over_by_its_retry_says_so(self):
        # A call whose key a retry took over cannot act: its first write is
        # refused by its record's guard. The refusal was the store's
        # conflict, which the call took for its own: a key rotation
        # answered 400 "...; wait until it signs" (a tenant "already
        # exists"). It is 409, saying the retry took the call over. The
        # take-over is made by hand while the call is held just after its
        # claim (the fault point's pause): the record moved to a later
        # created_at, as a retry's would be.
        s = Server(env={"GATEHOUSE_TEST_FAULT": "pause:idempotency-after-claim"})
        try:
            root = s.token(s.bootstrap["client_id"], s.bootstrap["client_secret"])
            h = {"Authorization": "Bearer " + root.json()["access_token"]}
            before = len(s.request("GET", A + "/keys", headers=h).json()["keys"])
            out = []
            th = threading.Thread(target=lambda: out.append(s.post_json(
                A + "/keys/rotate", {"env": "sandbox", "lead": 600},
                headers=dict(h, **{"X-Request-ID": "taken-over-1"}))))
            th.start()
            q = ("UPDATE idempotency SET created_at = created_at + 1"
                 " WHERE key = 'taken-over-1' AND state = 0 RETURNING 1")
            deadline, moved = time.time() + 10, False
            while not moved and time.time() < deadline and th.is_alive():
                moved = s.sql(q) != []
                if not moved:
                    time.sleep(0.02)
            th.join()
            check(moved, "the record was taken over while the call was held: %r" % out)
            r = out[0]
            eq((r.status, r.json()["error"]), (409, "conflict"), "taken over: %r" % r)
            d = r.json()["error_description"]
            check("took its key over" in d and "wait until" not in d, "says why: %r" % d)
            eq(len(s.request("GET", A + "/keys", headers=h).json()["keys"]), before, "no key made")
        finally:
            s.cleanup()

    def test_idempotent_replay_and_mismatch(self):
        h = {"X-Request-ID": "create-tenant-1"}
        r1 = self.api("POST", "/tenants", self.root, {"id": "idem-co"}, headers=h)
        eq(r1.status, 201, "first: %r" % r1)
        eq(r1.header("X-Request-ID"), "create-tenant-1", "echoed")
        r2 = self.api("POST", "/tenants", self.root, {"id": "idem-co"}, headers=h)
        eq(r2.status, 201, "replayed, not 409 already exists: %r" % r2)
        eq(r2.json(), r1.json(), "the first answer")
        eq(r2.header("Idempotent-Replayed"), "true", "marked as a replay")
        r3 = self.api("POST", "/tenants", self.root, {"id": "idem-co2"}, headers=h)
        eq(r3.status, 422, "same id, other body: %r" % r3)
        eq(self.api("GET", "/tenants/idem-co2", self.root).status, 404, "the other body did nothing")
        # Scoped per client: the same id from another client is its own call.
        r4 = self.api("POST", "/tenants", self.checker, {"id": "idem-co"}, headers=h)
        eq(r4.status, 409, "another client's key space: %r" % r4)
        # A secret is shown once, never replayed.
        h = {"X-Request-ID": "rotate-1"}
        cid = self.a_view["client_id"]
        r5 = self.api("POST", "/clients/%s/secrets/rotate" % cid, self.a_admin, {"grace": "1h"}, headers=h)
        eq(r5.status, 201, "rotate: %r" % r5)
        r6 = self.api("POST", "/clients/%s/secrets/rotate" % cid, self.a_admin, {"grace": "1h"}, headers=h)
        eq(r6.status, 201, "replayed")
        eq(r6.json()["secret_id"], r5.json()["secret_id"], "same secret record")
        check("client_secret" not in r6.json() and r6.json().get("client_secret_omitted") is True,
              "secret not replayed: %r" % r6)
        live = [x for x in self.api("GET", "/clients/%s/secrets" % cid, self.a_admin).json()["secrets"]
                if x["state"] == "live"]
        eq(len(live), 2, "rotated once (two live secrets)")
        # Malformed ids are refused everywhere and the call does nothing.
        for bad in ["", "has space", "x" * 129, "semi;colon"]:
            r = self.api("POST", "/tenants", self.root, {"id": "never-made"}, headers={"X-Request-ID": bad})
            eq(r.status, 400, "X-Request-ID %r: %r" % (bad, r))
            check(r.header("X-Request-ID") not in (None, bad), "a fresh id is echoed")
        eq(self.api("GET", "/tenants/never-made", self.root).status, 404, "nothing made")
        eq(self.api("GET", "/clients", self.a_view, headers={"X-Request-ID": "read.1:a-b"}).header("X-Request-ID"),
           "read.1:a-b", "echoed on reads")

    def test_idempotent_answers_are_not_replayed_to_a_new_client_of_a_deleted_id(self):
        # The id of a deleted client may be given again, in any tenant. Its
        # idempotency records were keyed by the id alone: the new client,
        # another tenant's, was answered the old one's answer (acme's
        # client, its claims and allowlist) as if it were its own call's.
        # A record is the caller's only if it names the caller as made (its
        # tenant and creation time): else 422, as for another request.
        s = self.s
        old = s.client("acme", name="idem-old", roles="operator", id="idem-reused")
        victim = self.a_view["client_id"]
        h = {"X-Request-ID": "rename-1"}
        r = self.api("PATCH", "/clients/" + victim, old, {"name": "renamed-by-acme"}, headers=h)
        eq(r.status, 200, "acme's rename: %r" % r)
        eq(self.api("DELETE", "/clients/idem-reused", self.a_admin).status, 200, "deleted")
        new = s.client("globex", name="idem-new", roles="operator", id="idem-reused")
        r = s.token(new["client_id"], new["client_secret"])
        deadline = time.time() + 3
        while r.status == 503 and time.time() < deadline:
            time.sleep(0.2)
            r = s.token(new["client_id"], new["client_secret"])
        eq(r.status, 200, "the new client's token: %r" % r)
        bearer = {"Authorization": "Bearer " + r.json()["access_token"]}
        r = self.api("PATCH", "/clients/" + victim, body={"name": "renamed-by-acme"},
                     headers=dict(bearer, **h))
        eq(r.header("Idempotent-Replayed"), None, "not the deleted client's answer: %r" % r)
        eq(r.status, 422, "the key was a deleted client's: %r" % r)
        check("already used" in r.json()["error_description"], "says why: %r" % r)
        check("acme" not in r.body.decode(), "nothing of acme's: %r" % r)
        eq(self.api("PATCH", "/clients/" + victim, body={"name": "renamed-by-acme"},
                    headers=dict(bearer, **{"X-Request-ID": "rename-2"})).status, 404,
           "with a new key, its own answer: acme's client is not its to see")
        # Its own key works for its own calls, and is replayed to it.
        g = {"id": "idem-g", "name": "g", "tenant": "globex"}
        r1 = self.api("POST", "/clients", body=g, headers=dict(bearer, **{"X-Request-ID": "rename-1x"}))
        eq(r1.status, 403, "an operator makes no client directly (sandbox, admin needed): %r" % r1)
        r2 = self.api("POST", "/clients", body=g, headers=dict(bearer, **{"X-Request-ID": "rename-1x"}))
        eq((r2.status, r2.header("Idempotent-Replayed")), (403, "true"), "replayed: %r" % r2)
        # A record kept from before fingerprints named the client (an
        # upgrade) still holds for the client that was there when it began.
        body = json.dumps(g).encode()
        legacy = hashlib.sha256(b"POST\n" + (A + "/clients").encode() + b"?\n" + body).hexdigest()
        now = int(time.time())
        s.sql("INSERT INTO idempotency (client_id, key, fingerprint, state, status, body,"
              " created_at, expires_at) VALUES (?, ?, ?, 0, 0, '', ?, ?)",
              ("idem-reused", "legacy-1", legacy, now, now + 86400))
        r = self.api("POST", "/clients", body=g, headers=dict(bearer, **{"X-Request-ID": "legacy-1"}))
        eq(r.status, 409, "a call in flight from before the upgrade: %r" % r)

    def test_idempotent_answer_kept_a_day(self):
        s = Server()
        try:
            adm = {"client_id": s.bootstrap["client_id"], "client_secret": s.bootstrap["client_secret"]}

            def create(offset):
                if offset is not None:
                    s.env["GATEHOUSE_CLOCK_OFFSET"] = str(offset)
                    s.restart()
                t = s.token(adm["client_id"], adm["client_secret"]).json()["access_token"]
                return s.post_json(A + "/tenants", {"id": "daily"}, headers={
                    "Authorization": "Bearer " + t, "X-Request-ID": "daily-1"})
            eq(create(None).status, 201, "first")
            r = create(23 * 3600)
            eq((r.status, r.header("Idempotent-Replayed")), (201, "true"), "replayed 23 h later: %r" % r)
            r = create(25 * 3600)
            eq(r.status, 409, "25 h later the key is free: the call runs again (tenant exists): %r" % r)
        finally:
            s.cleanup()

    def test_idempotent_retry_while_running_is_409(self):
        # Deterministic: a record still RUNNING (its call in flight) as the
        # store keeps it, for exactly this request.
        body = json.dumps({"id": "running-co"}).encode()
        fp = self.idem_fingerprint(self.root["client_id"], "POST", A + "/tenants", body)
        now = int(time.time())
        self.s.sql("INSERT INTO idempotency VALUES (?, ?, ?, 0, 0, '', ?, ?)",
                   (self.root["client_id"], "in-flight-1", fp, now, now + 86400))
        r = self.api("POST", "/tenants", self.root, body, headers={"X-Request-ID": "in-flight-1"})
        eq(r.status, 409, "retry while running: %r" % r)
        eq(self.api("GET", "/tenants/running-co", self.root).status, 404, "did not act")
        # Concurrent: one slow call (an RSA key) and its retries at once.
        self.six_rotations_make_one_key({"env": "sandbox", "lead": 0}, "rotate-keys-1")

    # -- secrets, tokens, keys, locks, policy, audit ---------------------------------------
    def test_a_key_rotation_the_store_cannot_take_is_503(self):
        # Regression: a rotation whose new key the store could not write
        # (a full disk, a table held locked) was answered 400
        # invalid_request, as if the call were wrong: a client does not
        # retry a 400, and the operator was told to fix a good request.
        self.tok(self.root)
        before = len(self.api("GET", "/keys", self.root).json()["keys"])
        held = self.s.hold_writes("signing_keys")
        try:
            r = self.api("POST", "/keys/rotate", self.root, {"env": "sandbox", "lead": 0})
        finally:
            held.release()
        eq(r.status, 503, "the store refused the write: %r" % r)
        eq(r.json()["error"], "temporarily_unavailable", "the error: %r" % r)
        eq(r.header("Retry-After"), "1", "says when: %r" % r)
        eq(len(self.api("GET", "/keys", self.root).json()["keys"]), before, "no key made")

    def test_secrets_and_tokens(self):
        c = self.api("POST", "/clients", self.a_admin, {"name": "rotor"}).json()
        cid = c["client_id"]
        r = self.api("POST", "/clients/%s/secrets/rotate" % cid, self.a_admin, {"grace": "1h"})
        eq(r.status, 201, "rotate: %r" % r)
        new = r.json()["client_secret"]
        eq(self.s.token(cid, c["client_secret"]).status, 200, "old works in grace")
        eq(self.s.token(cid, new).status, 200, "new works")
        r = self.api("POST", "/clients/%s/secrets/rotate" % cid, self.a_admin)
        eq(r.status, 409, "a third live secret: %r" % r)
        secrets = self.api("GET", "/clients/%s/secrets" % cid, self.a_view).json()["secrets"]
        eq(len(secrets), 2, "two secrets")
        check(all(set(x) == {"secret_id", "created_at", "expires_at", "revoked_at", "state", "holder"} for x in secrets),
              "no values or hashes: %r" % secrets)
        old_id = min(x["secret_id"] for x in secrets)
        r = self.api("POST", "/clients/%s/secrets/%d/revoke" % (cid, old_id), self.a_op)
        eq(r.status, 200, "operator revokes a secret: %r" % r)
        eq(self.s.token(cid, c["client_secret"]).status, 401, "revoked secret refused")
        t = self.s.token(cid, new).json()["access_token"]
        toks = self.api("GET", "/clients/%s/tokens" % cid, self.a_view).json()["tokens"]
        eq(len(toks), 3, "three tokens recorded: %r" % toks)
        name = toks[0]["name"]
        eq(self.api("POST", "/tokens/revoke", self.g_admin, {"name": name}).status, 404,
           "another tenant cannot revoke it by name")
        r = self.api("POST", "/tokens/revoke", self.a_op, {"name": name})
        eq(r.status, 200, "revoke by name: %r" % r)
        eq(r.json()["revoked"], 1, "one")
        named = [x for x in self.api("GET", "/clients/%s/tokens" % cid, self.a_view).json()["tokens"]
                 if x["name"] == name]
        eq(named[0]["status"], "revoked", "revoked")
        eq(self.api("POST", "/tokens/revoke", self.a_op, {"name": "n", "id": "x"}).status, 400, "one of")
        r = self.api("POST", "/clients/%s/tokens/revoke" % cid, self.a_op)
        eq(r.status, 200, "revoke all: %r" % r)
        intro = self.s.post_form("/oauth/introspect", {"token": t},
                                 headers={"Authorization": basic(cid, new)})
        check(intro.status != 200 or intro.json().get("active") is False, "voided: %r" % intro)

    def test_revoking_a_secret_the_client_lacks_is_404(self):
        # /clients/ID/secrets/abc/revoke was 404, but a well-formed id the
        # client has no secret of was 400 invalid_request, as if the
        # request were malformed.
        cid = self.a_view["client_id"]
        for sid in ("999999", "abc"):
            r = self.api("POST", "/clients/%s/secrets/%s/revoke" % (cid, sid), self.a_admin, {})
            eq((r.status, r.json()["error"]), (404, "not_found"), "secret %s: %r" % (sid, r))
        other = self.api("GET", "/clients/%s/secrets" % self.g_client["client_id"],
                         self.g_admin).json()["secrets"][0]["secret_id"]
        r = self.api("POST", "/clients/%s/secrets/%d/revoke" % (cid, other), self.a_admin, {})
        eq(r.status, 404, "another client's secret id: %r" % r)
        eq(self.s.token(self.g_client["client_id"], self.g_client["client_secret"]).status, 200,
           "and that secret still works")

    def test_token_list_pages(self):
        # The listing used to answer every record of the client at once
        # (a busy client has millions within the retention, and a Viewer
        # may ask): now a page at a time, limit 1..1000 (default 100), with
        # the next page's cursor, until next is null. Issued in a burst,
        # many share their issued_at second: only the id orders them.
        for fmt in ("jwt", "opaque"):
            c = self.s.client("acme", name="paged-" + fmt, roles="viewer", token_format=fmt)
            cid = c["client_id"]
            for i in range(25):
                eq(self.s.token(cid, c["client_secret"]).status, 200, "token %d" % i)
            whole = self.api("GET", "/clients/%s/tokens" % cid, self.a_view).json()
            eq(len(whole["tokens"]), 25, "25 fit the default page")
            eq(whole["next"], None, "the one page is the last")
            order = [(t["issued_at"], t["id"]) for t in whole["tokens"]]
            eq(order, sorted(order), "in issue order, then id")
            got, pages, after = [], [], None
            while True:
                q = "?limit=10" + ("&after=" + after if after else "")
                r = self.api("GET", "/clients/%s/tokens%s" % (cid, q), self.a_view)
                eq(r.status, 200, "page %d: %r" % (len(pages), r))
                b = r.json()
                eq(b["client_id"], cid, "client")
                pages.append(len(b["tokens"]))
                got += b["tokens"]
                if b["next"] is None:
                    break
                last = b["tokens"][-1]
                check(b["next"].endswith("." + last["id"]), "cursor of the last: %r" % b["next"])
                after = b["next"]
                check(len(pages) < 10, "pages end")
            eq(pages, [10, 10, 5], "%s: pages of 10" % fmt)
            eq([t["id"] for t in got], [t["id"] for t in whole["tokens"]],
               "%s: every record once, in order" % fmt)
            # A page that ends exactly at the last record says so.
            r = self.api("GET", "/clients/%s/tokens?limit=25" % cid, self.a_view).json()
            eq((len(r["tokens"]), r["next"]), (25, None), "exact fit")
            r = self.api("GET", "/clients/%s/tokens?limit=24" % cid, self.a_view).json()
            eq(len(r["tokens"]), 24, "24")
            r = self.api("GET", "/clients/%s/tokens?limit=1000&after=%s" % (cid, r["next"]),
                         self.a_view).json()
            eq(([t["id"] for t in r["tokens"]], r["next"]), ([got[-1]["id"]], None), "the 25th")

        hexid = "0" * 32
        for q, name in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
                        ("limit=-1", "limit"), ("limit=", "limit"), ("after=", "after"),
                        ("after=abc", "after"), ("after=1", "after"), ("after=1.", "after"),
                        ("after=." + hexid, "after"), ("after=-1." + hexid, "after"),
                        ("after=%2B1." + hexid, "after"), ("after=01." + hexid, "after"),
                        ("after=1.2." + hexid, "after"), ("after=1." + "A" * 32, "after"),
                        ("after=1." + "0" * 31, "after"), ("after=1." + "0" * 33, "after"),
                        ("after=1." + "0" * 65, "after"), ("after=1.%s%%00" % hexid, "%00"),
                        ("after=99999999999999999999." + hexid, "after"),
                        ("after=1%20." + hexid, "after"), ("after=1." + "g" * 32, "after"),
                        ("before=1", "before"), ("limit=1&limit=2", "limit"),
                        ("tenant=acme", "tenant")]:
            r = self.api("GET", "/clients/%s/tokens?%s" % (cid, q), self.a_view)
            eq(r.status, 400, "%s: %r" % (q, r))
            eq(r.json()["error"], "invalid_request", "%s: code" % q)
            check(name in r.json()["error_description"], "%s names %s: %r" % (q, name, r.json()))
        # A well-formed cursor past everything: an empty last page.
        r = self.api("GET", "/clients/%s/tokens?after=9223372036854775807.%s" % (cid, "f" * 64),
                     self.a_view)
        eq((r.status, r.json()["tokens"], r.json()["next"]), (200, [], None), "past the end: %r" % r)
        # Another tenant's client stays 404, however the query reads.
        eq(self.api("GET", "/clients/%s/tokens?limit=1" % cid, self.g_admin).status, 404,
           "another tenant's")

    # -- the operator's lists, a page at a time --------------------------------
    def bulk(self, table, columns, rows):
        """Rows made straight in the store in one statement, either backend
        (the API or the CLI would take minutes for thousands)."""
        def lit(v):
            return str(v) if isinstance(v, int) else "'%s'" % v.replace("'", "''")
        self.s.sql("INSERT INTO %s (%s) VALUES %s" % (table, ", ".join(columns), ", ".join(
            "(%s)" % ", ".join(lit(v) for v in row) for row in rows)))

    def walk(self, path, who, key, limit=None, between=None):
        """Every page of a list: its rows in order, the page sizes."""
        got, sizes, after = [], [], None
        while True:
            q = [x for x in [limit and "limit=%d" % limit,
                             after and "after=" + urllib.parse.quote(after, safe="")] if x]
            full = path + ("&" if "?" in path else "?") + "&".join(q) if q else path
            r = self.api("GET", full, who)
            eq(r.status, 200, "%s: %r" % (full, r))
            b = r.json()
            sizes.append(len(b[key]))
            got += b[key]
            if b["next"] is None:
                return got, sizes
            check(isinstance(b["next"], str) and b["next"], "a cursor: %r" % b["next"])
            after = b["next"]
            if between is not None and len(sizes) == 1:
                between()
            check(len(sizes) <= 100, "%s: the pages end" % path)

    def test_admin_lists_come_a_page_at_a_time(self):
        # GET /clients, /tenants and /locks answered every row at once: a
        # platform of thousands of clients (or a lockout table under a
        # brute force) made one answer of megabytes. Now a page at a time,
        # limit 1..1000 (default 100), with the next page's cursor until
        # next is null, as the token list; the CLI's lists walk every page.
        now = int(time.time())
        n = 2500
        self.s.tenant("bulk")
        cols = ["id", "tenant_id", "name", "env", "roles", "scopes", "ttl", "max_ttl", "format",
                "allow_ips", "claims", "disabled", "rate_limit", "tokens_valid_after",
                "created_at", "updated_at"]
        # Three to a second: most pages end inside one, where the id orders.
        self.bulk("clients", cols, [("bulk-%04d" % i, "bulk", "bulk", 0, 1, "", 3600, 3600, 0,
                                     "", "{}", 0, 0, 0, now - 2000 + i // 3, now)
                                    for i in range(n)])
        self.bulk("tenants", ["id", "name", "created_at"],
                  [("bulk-t%04d" % i, "t", now) for i in range(n)])
        self.bulk("locks", ["kind", "address", "client_id", "created_at", "until"],
                  [(0, "10.9.%d.%d" % (i // 250, i % 250), "bulk-%04d" % i, now, now + 3600)
                   for i in range(n)])
        bulk_viewer = self.s.client("bulk", name="bulk-viewer", roles="viewer")

        # One page, not every row.
        for path, key in [("/clients?tenant=bulk", "clients"), ("/tenants", "tenants"),
                          ("/locks", "locks")]:
            r = self.api("GET", path, self.root)
            eq((r.status, len(r.json()[key])), (200, 100), "%s: a page of 100" % path)
            check(r.json().get("next"), "%s: and where the next starts" % path)

        # Clients: every one once, in creation order; one made mid-walk
        # (the newest) is on the last page.
        made = []
        got, sizes = self.walk("/clients?tenant=bulk", self.root, "clients", 1000,
                               between=lambda: made.append(self.s.client("bulk", name="late")))
        ids = [c["client_id"] for c in got]
        eq(sizes, [1000, 1000, 502], "pages of 1000")
        eq(len(set(ids)), len(ids), "no client twice")
        eq(ids[:n], ["bulk-%04d" % i for i in range(n)], "in creation order, then id")
        eq(sorted(ids[n:]), sorted([bulk_viewer["client_id"], made[0]["client_id"]]),
           "the ones made since, last")
        got, sizes = self.walk("/clients", bulk_viewer, "clients")
        eq((len(got), sizes[0], len(sizes)), (n + 2, 100, 26), "default pages of 100, own tenant")
        cli = self.s.cli("client", "list", "--tenant", "bulk")
        eq([c["client_id"] for c in cli], ids, "the CLI walks every page")

        # Tenants: by id, every one once; a tenant's principal sees its own.
        got, sizes = self.walk("/tenants", self.root, "tenants", 1000)
        tids = [t["tenant_id"] for t in got]
        eq(len(set(tids)), len(tids), "no tenant twice")
        check(set("bulk-t%04d" % i for i in range(n)) <= set(tids), "every tenant")
        eq(tids, [t["id"] for t in self.s.cli("tenant", "list")],
           "the CLI's list: the same, whole")
        eq(self.walk("/tenants", bulk_viewer, "tenants", 1)[0], [got[tids.index("bulk")]],
           "a tenant's principal: its own")

        # Locks: every one once; a tenant's principal sees its clients' own.
        got, sizes = self.walk("/locks", self.root, "locks", 1000)
        check(min(sizes[:-1]) == max(sizes) == 1000 and len(sizes) == 3, "pages of 1000: %r" % sizes)
        keys = [(x["address"], x["client_id"], x["kind"]) for x in got]
        eq(len(set(keys)), len(keys), "no lock twice")
        eq(len([k for k in keys if (k[1] or "").startswith("bulk-")]), n, "every lock")
        eq([(x["address"], x["client_id"], x["kind"]) for x in self.s.cli("lock", "list")], keys,
           "the CLI's list: the same, whole")
        eq(len(self.walk("/locks", bulk_viewer, "locks", 700)[0]), n, "bulk's clients' locks")
        eq(self.walk("/locks", self.a_view, "locks")[0], [], "acme sees none of them")
        # The other tests share this server: the bulk goes.
        self.s.sql("DELETE FROM locks WHERE client_id LIKE 'bulk-%'")
        self.s.sql("DELETE FROM clients WHERE id LIKE 'bulk-%'")
        self.s.sql("DELETE FROM tenants WHERE id LIKE 'bulk-t%'")

    def test_admin_list_cursors_and_limits_refused(self):
        # A cursor is the list's own: another list's, a token list's or a
        # made-up one is 400 naming after, never a place in another list.
        first = {}
        for path, key in [("/clients", "clients"), ("/tenants", "tenants"), ("/locks", "locks")]:
            r = self.api("GET", path + "?limit=1", self.root)
            eq(r.status, 200, "%s: %r" % (path, r))
            first[path] = r.json()["next"]
        self.s.sql("INSERT INTO locks (kind, address, client_id, created_at, until) VALUES"
                   " (1, '10.8.0.1', '', 1, 9999999999), (1, '10.8.0.2', '', 1, 9999999999)")
        first["/locks"] = self.api("GET", "/locks?limit=1", self.root).json()["next"]
        check(all(first.values()), "each has a next page: %r" % first)
        token_cursor = "1." + "0" * 32
        for path in first:
            others = [c for p, c in first.items() if p != path]
            for q, name in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                            ("after=", "after"), ("after=garbage", "after"),
                            ("after=" + token_cursor, "after"),
                            ("after=" + urllib.parse.quote(others[0]), "after"),
                            ("after=" + urllib.parse.quote(others[1]), "after"),
                            ("after=clients~x~bulk", "after"), ("after=clients~01~a", "after"),
                            ("after=tenants~a~b", "after"), ("after=tenants~a%20b", "after"),
                            ("after=locks~10.0.0.1~~pair", "after"),
                            ("after=locks~10.0.0.1~c~address", "after"),
                            ("after=" + "x" * 300, "after"), ("bogus=1", "bogus"),
                            ("limit=1&limit=2", "limit")]:
                r = self.api("GET", "%s?%s" % (path, q), self.root)
                eq(r.status, 400, "%s?%s: %r" % (path, q, r))
                eq(r.json()["error"], "invalid_request", "%s?%s: code" % (path, q))
                check(name in r.json()["error_description"], "%s?%s names %s: %r" % (
                    path, q, name, r.json()))
            # Its own cursor leads on.
            r = self.api("GET", "%s?after=%s" % (path, urllib.parse.quote(first[path])), self.root)
            eq(r.status, 200, "%s: its own cursor: %r" % (path, r))
        self.s.sql("DELETE FROM locks WHERE address IN ('10.8.0.1', '10.8.0.2')")

    def test_platform_resources(self):
        for path in ["/keys", "/policy"]:
            eq(self.api("GET", path, self.a_admin).status, 403, "acme reads " + path)
            eq(self.api("GET", path, self.root).status, 200, "platform reads " + path)
        eq(self.api("POST", "/keys/rotate", self.a_admin, {"env": "sandbox"}).status, 403, "acme rotates keys")
        eq(self.api("POST", "/keys/rotate", self.p_op, {"env": "sandbox"}).status, 403,
           "a platform operator rotates keys directly")
        r = self.api("POST", "/keys/rotate", self.p_op, {"env": "production"})
        eq(r.status, 202, "production key rotation is filed: %r" % r)
        eq(self.api("POST", "/keys/rotate", self.root, {"env": "sandbox", "alg": "HS256"}).status, 400, "bad alg")
        eq(self.api("POST", "/policy/reload", self.root).status, 409, "no policy file configured")
        eq(self.api("GET", "/locks", self.a_view).json(), {"locks": [], "next": None}, "no locks")
        eq(self.api("POST", "/locks/clear", self.a_op, {"address": "10.0.0.1"}).status, 403,
           "address locks are the platform's")
        eq(self.api("POST", "/locks/clear", self.a_op, {"client_id": self.g_client["client_id"]}).status, 404,
           "another tenant's client")
        eq(self.api("POST", "/locks/clear", self.root, {"address": "not-an-ip"}).status, 400, "bad address")
        eq(self.api("POST", "/locks/clear", self.root, {"all": True}).status, 200, "platform clears all")

    def test_a_replayed_write_is_not_a_second_change_on_the_trail(self):
        # A retry answered from its X-Request-ID's record changes nothing,
        # but its row was the first's again (action, target, outcome ok,
        # {"status":200}): the trail showed the change made twice.
        s = Server()
        try:
            adm = self.prod_admin("replay-admin", s)
            c = s.client("acme", name="replay-app", roles="viewer")
            h = {"Authorization": "Bearer " + self.bearer(adm["client_id"], adm["client_secret"], s),
                 "X-Request-ID": "audit-replay-1"}
            for i in range(2):
                r = s.request("PATCH", A + "/clients/" + c["client_id"], body={"name": "replayed"},
                              headers=h)
                eq(r.status, 200, "answer %d: %r" % (i, r))
            rows = []
            for _ in range(50):
                rows = [e for e in s.request("GET", A + "/audit?action=admin.client.update",
                                             headers=h).json()["events"]
                        if e["request_id"] == "audit-replay-1"]
                if len(rows) == 2:
                    break
                time.sleep(0.1)
            eq(len(rows), 2, "both answers are on the trail: %r" % rows)
            details = sorted((json.loads(e["detail"]) for e in rows), key=len)
            eq(details, [{"status": 200}, {"status": 200, "idempotent_replay": True}],
               "one change, one replay: %r" % rows)
        finally:
            s.cleanup()

    def test_audit_trail_of_own_tenant(self):
        c = self.api("POST", "/clients", self.a_admin, {"name": "audited"}, headers={"X-Request-ID": "audit-me-1"})
        eq(c.status, 201, "create")
        self.api("POST", "/clients", self.g_admin, {"name": "globex-audited"})
        self.api("POST", "/clients", self.a_view, {"name": "refused"})
        events = []
        for _ in range(50):
            r = self.api("GET", "/audit?action=admin.client.create", self.a_admin)
            eq(r.status, 200, "audit list: %r" % r)
            events = r.json()["events"]
            if any(e["request_id"] == "audit-me-1" for e in events) and \
               any(e["outcome"] == "refused" for e in events):
                break
            time.sleep(0.1)
        mine = [e for e in events if e["request_id"] == "audit-me-1"]
        eq(len(mine), 1, "the create is on the trail: %r" % events)
        eq(mine[0]["actor"], self.a_admin["client_id"], "actor")
        eq(mine[0]["outcome"], "ok", "outcome")
        eq(mine[0]["target"], c.json()["client_id"], "the target is the client made")
        # Every row's target is what it acted on, never bytes of an earlier
        # call: a path of fewer {} segments than the longest names them alone.
        cid = c.json()["client_id"]
        self.api("PATCH", "/clients/" + cid, self.a_admin, {"name": "audited-renamed"})
        self.api("POST", "/clients/%s/tokens/revoke" % cid, self.a_admin, {})
        for action in ("admin.client.update", "admin.token.revoke_all"):
            rows = []
            for _ in range(50):
                rows = self.api("GET", "/audit?action=" + action, self.a_admin).json()["events"]
                if rows:
                    break
                time.sleep(0.1)
            check(rows and all(e["target"] == cid for e in rows), "%s target: %r" % (action, rows))
        check(any(e["outcome"] == "refused" and e["actor"] == self.a_view["client_id"] for e in events),
              "the viewer's refused write too: %r" % events)
        check(all(e["tenant"] == "acme" for e in events), "only acme's rows: %r" % events)
        eq(self.api("GET", "/audit?tenant=globex", self.a_admin).status, 404, "another tenant's trail")
        eq(self.api("GET", "/audit?colour=red", self.a_admin).status, 400, "unknown filter")
        for q in ("since=0", "until=0"):
            # 0 is the filter's "none": it would list everything.
            eq(self.api("GET", "/audit?" + q, self.a_admin).status, 400, q)
        check("client_secret" not in json.dumps(events), "no secrets")
        eq(self.api("GET", "/audit/verify", self.a_admin).status, 403, "the chain is the platform's")
        r = self.api("GET", "/audit/verify", self.root)
        eq(r.status, 200, "platform verifies: %r" % r)
        check(r.json()["ok"] is True and r.json()["rows"] > 0, "an intact chain: %r" % r)


if __name__ == "__main__":
    Admin().run()
