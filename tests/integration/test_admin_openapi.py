"""Issue 6: docs/openapi.yaml against the running server. Every documented
path and method exists and answers with a documented status and the
documented required fields; every write answers 401 without a token and a
Viewer gets 403 where the operation needs more; the operation tables in
src/admin/, and the approvals API's routes (src/approvals/api.c), hold no
route the file does not document; and nothing else under /admin answers
other than 404 (405 for another method on a documented path). Needs
Debian's python3-yaml."""
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, check, eq  # noqa: E402

SRC = os.environ.get("GATEHOUSE_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPEC_PATH = os.path.join(SRC, "docs", "openapi.yaml")
METHODS = ["get", "post", "put", "patch", "delete"]


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        cur = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            cur = cur[part]
        node = cur
    return node


def missing_fields(spec, schema, value, where="$"):
    """The required fields the value lacks, recursively (objects, allOf, arrays)."""
    schema = resolve(spec, schema)
    out = []
    for sub in schema.get("allOf", []):
        out += missing_fields(spec, sub, value, where)
    if schema.get("type") == "object" or "required" in schema:
        if not isinstance(value, dict):
            return out + ["%s is not an object" % where]
        for r in schema.get("required", []):
            if r not in value:
                out.append("%s.%s" % (where, r))
        for name, sub in schema.get("properties", {}).items():
            if name in value and value[name] is not None:
                out += missing_fields(spec, sub, value[name], "%s.%s" % (where, name))
    if schema.get("type") == "array" and isinstance(value, list):
        for i, item in enumerate(value[:5]):
            out += missing_fields(spec, schema.get("items", {}), item, "%s[%d]" % (where, i))
    return out


class OpenAPI(Suite):
    def setup(self):
        with open(SPEC_PATH) as f:
            self.spec = yaml.safe_load(f)
        self.s = Server(policy="GET /v1/** role=viewer env=any\n")
        s = self.s
        self.root = self.token(s.bootstrap["client_id"], s.bootstrap["client_secret"])
        v = s.client("platform", name="platform-viewer", roles="viewer")
        self.viewer = self.token(v["client_id"], v["client_secret"])
        # The maker of the approvals the platform admin decides.
        self.maker = s.client("platform", name="platform-operator", roles="operator")
        self.filed = 0
        self.app = s.client("acme", name="openapi-fixture", roles="viewer")
        t = s.token(self.app["client_id"], self.app["client_secret"]).json()["access_token"]
        self.token_id = json.loads(__import__("base64").urlsafe_b64decode(t.split(".")[1] + "==").decode())["jti"]

    def teardown(self):
        self.s.cleanup()

    def token(self, cid, secret):
        r = self.s.token(cid, secret)
        eq(r.status, 200, "token: %r" % r)
        return r.json()["access_token"]

    def ops(self):
        for path, item in self.spec["paths"].items():
            for m in METHODS:
                if m in item:
                    yield path, m, item[m]

    def url(self, path):
        """The path under its server: the file's, or the path's own
        (the approvals API is at the root)."""
        servers = self.spec["paths"].get(path, {}).get("servers") or self.spec["servers"]
        return servers[0]["url"].rstrip("/")

    def headers(self, path, tok):
        """Authorization, and X-TENANT-ID where the file requires it (every
        caller here is of the platform tenant)."""
        h = {"Authorization": "Bearer " + tok} if tok else {}
        if path.startswith("/approvals"):
            h["X-TENANT-ID"] = "platform"
        return h

    def call(self, method, path, tok, body=None, concrete=None):
        url = self.url(path) + (concrete or path)
        h = self.headers(path, tok)
        if body is not None:
            return self.s.request(method.upper(), url, body=json.dumps(body),
                                  headers=dict(h, **{"Content-Type": "application/json"}))
        return self.s.request(method.upper(), url, headers=h)

    def file_approval(self):
        """A new pending approval the platform operator filed (the platform
        admin may decide it): its id."""
        self.filed += 1
        # A new token each time: a test rotates and revokes the key of the last.
        maker = self.token(self.maker["client_id"], self.maker["client_secret"])
        r = self.call("post", "/approvals", maker,
                      {"method": "POST", "path": "/v1/openapi/%d" % self.filed})
        eq(r.status, 202, "filing an approval: %r" % r)
        return r.json()["id"]

    def concrete(self, path):
        """The documented path with this server's ids for its parameters."""
        secrets = self.call("get", "/clients/%s/secrets" % self.app["client_id"], self.root).json()["secrets"]
        keys = self.call("get", "/keys", self.root).json()["keys"]
        retired = [k["kid"] for k in keys if k["env"] == "sandbox" and k["state"] != "active"]
        values = {"client_id": self.app["client_id"], "tenant_id": "acme", "token_id": self.token_id,
                  "secret_id": str(min(x["secret_id"] for x in secrets)),
                  "kid": retired[0] if retired else keys[0]["kid"]}
        if "{approval_id}" in path:
            values["approval_id"] = self.file_approval()
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)

    def body_of(self, path, op):
        rb = resolve(self.spec, op.get("requestBody"))
        if rb is None:
            return None
        body = rb["content"]["application/json"].get("example", {})
        # Bodies that must name this server's rows to succeed.
        if path == "/tokens/revoke":
            body = {"id": self.token_id}
        return body

    # -- tests ------------------------------------------------------------------
    def test_documented_operations_answer_as_documented(self):
        order = sorted(self.ops(), key=lambda o: (
            o[0] == "/keys/{kid}/revoke",            # after a rotation made a retired key
            o[0].endswith("/disable"),                # disable late, enable after it
            o[0].endswith("/enable"),
            "/revoke" in o[0]))
        seen = 0
        for path, m, op in order:
            concrete = self.concrete(path)
            if m == "delete":
                # Deletes a client made for it (the fixture serves the other tests).
                doomed = self.s.client("acme", name="openapi-doomed")["client_id"]
                concrete = concrete.replace(self.app["client_id"], doomed)
            r = self.call(m, path, self.root, self.body_of(path, op), concrete)
            documented = {int(k) for k in op["responses"]}
            check(r.status in documented, "%s %s answered %d, documented %s: %r" % (
                m.upper(), path, r.status, sorted(documented), r))
            check(r.status < 300, "%s %s as the platform admin: %r" % (m.upper(), path, r))
            resp = resolve(self.spec, op["responses"][str(r.status)])
            schema = resp.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                miss = missing_fields(self.spec, schema, r.json())
                eq(miss, [], "%s %s: required fields missing" % (m.upper(), path))
            check(r.header("X-Request-ID"), "X-Request-ID echoed on %s %s" % (m.upper(), path))
            seen += 1
        check(seen >= 20, "every operation ran (%d)" % seen)

    def test_auth_and_roles_as_documented(self):
        for path, m, op in self.ops():
            concrete = self.concrete(path)
            body = self.body_of(path, op)
            r = self.call(m, path, None, body, concrete)
            eq(r.status, 401, "%s %s without a token" % (m.upper(), path))
            check(401 in {int(k) for k in op["responses"]}, "401 documented on %s %s" % (m.upper(), path))
            if op.get("x-role") in ("operator", "admin"):
                r = self.call(m, path, self.viewer, body, concrete)
                eq(r.status, 403, "%s %s as a viewer: %r" % (m.upper(), path, r))
                check(403 in {int(k) for k in op["responses"]}, "403 documented on %s %s" % (m.upper(), path))

    def test_query_parameters_as_documented(self):
        """Each documented query parameter is one the server knows, and, on
        a call that takes some, one it does not know is refused (400 naming
        it), so a parameter cannot be dropped from the code or the file
        alone. (Writes document none and take none; a read that takes none
        ignores a query, STYLE 9.)"""
        wrong = []
        for path, m, op in self.ops():
            if m != "get":
                continue
            params = [resolve(self.spec, p) for p in
                      op.get("parameters", []) + self.spec["paths"][path].get("parameters", [])]
            names = [p["name"] for p in params if p["in"] == "query"]
            concrete = self.concrete(path)
            for name in names + (["openapi_undocumented"] if names else []):
                r = self.call(m, path, self.root, None, "%s?%s=1" % (concrete, name))
                unknown = r.status == 400 and "unknown query parameter" in r.body.decode()
                if unknown != (name not in names):
                    wrong.append("%s %s?%s=1: %r" % (m.upper(), path, name, r))
        eq(wrong, [], "query parameters the server and docs/openapi.yaml disagree on")
        # And the other way: each handler's known[] names (the approvals
        # list's, its strcmp()s) are documented on its route.
        documented = {}
        for path, m, op in self.ops():
            params = [resolve(self.spec, p) for p in
                      op.get("parameters", []) + self.spec["paths"][path].get("parameters", [])]
            documented[(m.upper(), re.sub(r"\{\w+\}", "{x}", path))] = {
                p["name"] for p in params if p["in"] == "query"}
        known = {}
        admin = os.path.join(SRC, "src", "admin")
        for name in sorted(os.listdir(admin)):
            if name.endswith(".c"):
                with open(os.path.join(admin, name)) as f:
                    text = f.read()
                for method, pattern, fn in re.findall(
                        r'\{\s*HTTP_(\w+),\s*"([^"]+)",\s*ADMIN_\w+,\s*(\w+),', text):
                    body = re.search(r"^%s\(.*?^\}" % fn, text, re.S | re.M).group(0)
                    names = re.search(r"known\[\] = \{([^}]*)\}", body)
                    known[(method, "/" + pattern.replace("{}", "{x}"))] = set(
                        re.findall(r'"(\w+)"', names.group(1)) if names else [])
        with open(os.path.join(SRC, "src", "approvals", "api.c")) as f:
            text = f.read()
        body = re.search(r"^list\(.*?^\}", text, re.S | re.M).group(0)
        known[("GET", "/approvals")] = set(re.findall(r'strcmp\(q\.items\[i\]\.name, "(\w+)"\)', body))
        check(known[("GET", "/audit")] and known[("GET", "/approvals")], "parsed the handlers: %r" % known)
        eq({k: sorted(v - documented.get(k, set())) for k, v in known.items() if v - documented.get(k, set())},
           {}, "query parameters the handlers take that docs/openapi.yaml does not document")

    def test_write_refusals_are_documented(self):
        """What every write answers before it acts: a body that is not JSON
        (415), one past the admin body limit (413), and an X-Request-ID used
        before for another request (422) are statuses the file lists for
        each write, so that a client generated from it knows them."""
        undocumented = []
        for path, m, op in self.ops():
            if m == "get":
                continue
            h = self.headers(path, self.root)
            documented = {int(k) for k in op["responses"]}
            where = "%s %s" % (m.upper(), path)
            concrete = self.url(path) + self.concrete(path)
            r = self.s.request(m.upper(), concrete, body="{}",
                               headers=dict(h, **{"Content-Type": "text/plain"}))
            eq(r.status, 415, "%s with a text/plain body: %r" % (where, r))
            r = self.s.request(m.upper(), concrete, body='{"x":"%s"}' % ("a" * 70000),
                               headers=dict(h, **{"Content-Type": "application/json"}))
            eq(r.status, 413, "%s with a 70 KB body: %r" % (where, r))
            # Bodies with an unknown field: refused (400), so nothing acts,
            # and the refusal is the answer the X-Request-ID replays.
            rid = {"X-Request-ID": "openapi-reuse-%s-%s" % (m, re.sub(r"\W", "-", path)),
                   "Content-Type": "application/json"}
            first = self.s.request(m.upper(), concrete, body='{"openapi_unknown_a":1}', headers=dict(h, **rid))
            eq(first.status, 400, "%s with an unknown field: %r" % (where, first))
            r = self.s.request(m.upper(), concrete, body='{"openapi_unknown_b":1}', headers=dict(h, **rid))
            eq(r.status, 422, "%s with a reused X-Request-ID: %r" % (where, r))
            undocumented += ["%d on %s" % (st, where) for st in (413, 415, 422) if st not in documented]
        eq(undocumented, [], "statuses the writes answer that docs/openapi.yaml does not list")

    def test_code_has_no_undocumented_route(self):
        documented = {(m.upper(), p) for p, m, _ in self.ops()}
        found = set()
        admin = os.path.join(SRC, "src", "admin")
        for name in sorted(os.listdir(admin)):
            if not name.endswith(".c"):
                continue
            with open(os.path.join(admin, name)) as f:
                for method, pattern in re.findall(r'\{\s*HTTP_(\w+),\s*"([^"]+)",\s*ADMIN_', f.read()):
                    found.add((method, "/" + re.sub(r"\{\}", "{x}", pattern)))
        # The approvals API routes /approvals and, by prefix, /approvals/...;
        # its file's head lists every call the handler takes.
        with open(os.path.join(SRC, "src", "approvals", "api.c")) as f:
            text = f.read()
        listed = set(re.findall(r"^ \*\s+(GET|POST|PUT|PATCH|DELETE)\s+(/approvals\S*)",
                                text[:text.index("*/")], re.M))
        routes = re.findall(r'\{\s*HTTP_(\w+),\s*"(/approvals)",\s*0,\s*NULL\s*\}', text)
        check(len(routes) == 2, "parsed api.c's routes of /approvals: %r" % routes)
        for method, path in routes:
            check((method, path) in listed, "api.c's head lists %s %s" % (method, path))
        check(len(listed) >= 5, "parsed the approvals routes: %r" % sorted(listed))
        found |= {(m, re.sub(r"\{\w+\}", "{x}", p)) for m, p in listed}
        norm = {(m, re.sub(r"\{\w+\}", "{x}", p)) for m, p in documented}
        check(len(found) >= 20, "parsed the operation tables: %r" % sorted(found))
        eq(sorted(found - norm), [], "routes in src/admin/ or src/approvals/ that docs/openapi.yaml does not document")
        eq(sorted(norm - found), [], "documented routes that src/admin/ and src/approvals/ do not serve")

    def test_nothing_undocumented_answers(self):
        for path in ["/admin", "/admin/", "/admin/v1", "/admin/v1/", "/admin/v2/clients",
                     "/admin/v1/users", "/admin/v1/clients/x/bogus", "/admin/v1/clients/x/secrets/1",
                     "/admin/v1/tenants/acme/clients", "/admin/v1/keys/x", "/admin/v1/debug",
                     "/admin/v1/audit/1/2", "/admin/v1/clients/a/b/c/d/e"]:
            for m in METHODS:
                r = self.s.request(m.upper(), path, headers={"Authorization": "Bearer " + self.root})
                eq(r.status, 404, "%s %s" % (m.upper(), path))
        for path, item in self.spec["paths"].items():
            concrete = self.url(path) + self.concrete(path)
            for m in METHODS:
                if m in item:
                    continue
                r = self.s.request(m.upper(), concrete, headers=self.headers(path, self.root))
                check(r.status in (404, 405), "%s %s (undocumented) answered %r" % (m.upper(), path, r))
                if r.status == 405:
                    # Allow: the methods of every documented path this one matches
                    # (/tokens/revoke is also /tokens/{token_id}).
                    want = set()
                    for p2, item2 in self.spec["paths"].items():
                        if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p2)), self.concrete(path)):
                            want |= {x for x in METHODS if x in item2}
                    # (HEAD goes with GET: RFC 9110 §9.3.2.)
                    named = {x.strip().lower() for x in r.header("Allow").split(",")}
                    eq("head" in named, "get" in named, "HEAD beside GET in Allow on %s: %r"
                       % (path, named))
                    allow = named - {"head"}
                    eq(allow, want, "Allow on %s" % path)
                    check(m not in want, "%s %s is documented after all" % (m, path))


if __name__ == "__main__":
    OpenAPI().run()
