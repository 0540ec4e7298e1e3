"""A deterministic HTTP fuzz of the real server over raw sockets: seeded
mutations of valid requests to every route — the token routes of every
dialect, introspection, revocation, the gate, the admin API, approvals, the
well-known documents, /healthz and /metrics — in the request line, the
headers and their framing, the body, the credentials, X-Request-ID and
X-TENANT-ID. What a user must see:

- the server stays up and serves (/healthz 200 after every batch, no
  sanitizer report on its stderr);
- every request gets one parsable HTTP answer, in time: 200/202 when the
  mutation left the request valid, else a 4xx; no 5xx. A 4xx of ours is JSON
  with an "error" (or, on a gate rule with errors=mangopay, seed 003's
  {"Message", "Type"}); libmicrohttpd answers bad framing itself, without a
  Content-Type, with 400, 413, 414 or 431 (BENCHMARKS.md: its 431 for headers
  past its memory), and a request line of HTTP/2 or later with 505 (RFC 9110
  §15.6.6) — the one 5xx accepted, for that mutation only;
- a request cut short (a Content-Length beyond the body, an unfinished chunked
  body or header block) may be left waiting for the rest: an answer, if one
  comes, is checked as above. A connection may be closed unanswered only
  where libmicrohttpd 0.9.75 closes it itself: a request line without a
  method (no handler of ours runs), and a request past the header limit
  (refused with our bytes unread, or its 32 KB connection pool, which also
  holds its own copy of a Cookie header, left no room for the answer);
- no answer and no log line holds a client secret or one of our tokens, and
  every log line is one JSON object;
- bad input changes nothing: tenants, clients, their secrets and approvals
  are the same before and after;
- every route refused something (no vacuous pass).

GH_FUZZ_SEED and GH_FUZZ_COUNT override the seed and the number of mutated
requests; a failure prints the request (secrets redacted) to replay it."""
import base64
import json
import os
import random
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Server, Suite, basic, check, eq, read_response  # noqa: E402

SEED = int(os.environ.get("GH_FUZZ_SEED", "20261123"))
COUNT = int(os.environ.get("GH_FUZZ_COUNT", "3000"))
BATCH = 100
HEADER_BYTES = 16384    # src/http/limits.h: HTTP_MAX_HEADER_BYTES
TIMEOUT = 20            # seconds an answer may take (ASan on a loaded machine)

POLICY = """\
GET    /v1/products/**          role=viewer   env=any
GET    /v1/prod/**              role=viewer
POST   /v1/payouts/*/approve    role=operator env=any critical
*      /v2.01/**                role=viewer   env=any errors=mangopay tenant=optional
"""

NO_SUCH_ID = "5b1d7a0e-0000-4000-8000-00000000f022"
NO_SUCH_APPROVAL = "0" * 31 + "f"
MHD_OWN = (400, 413, 414, 431)
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


class Req:
    """One request before encoding. headers: [name, value] pairs of bytes,
    or [None, line] for a raw line. body: bytes or None. Framing is a
    correct Content-Length unless a mutation took it over (manual)."""

    def __init__(self, route, method, target, headers, body=None, form=None, obj=None):
        self.route = route
        self.method = method
        self.target = target
        self.version = b"HTTP/1.1"
        self.headers = [[b"Host", b"127.0.0.1"]] + [[k.encode(), v.encode() if isinstance(v, str) else v]
                                                    for k, v in headers]
        self.body = body
        self.form = form            # [(name, value)] of a form body, for field mutations
        self.obj = obj              # [(name, JSON text)] of a JSON body
        self.manual = False
        self.incomplete = False     # the server may wait for the rest
        self.unfinished = False     # no blank line after the headers
        self.may_close = False      # libmicrohttpd may close without a word
        self.done = []              # the mutations applied, for the report

    def copy(self):
        r = Req.__new__(Req)
        r.__dict__.update(self.__dict__)
        r.headers = [list(h) for h in self.headers]
        r.form = list(self.form) if self.form is not None else None
        r.obj = list(self.obj) if self.obj is not None else None
        r.done = []
        return r

    def header(self, name):
        for k, v in self.headers:
            if k is not None and k.lower() == name.lower():
                return v
        return None

    def set_header(self, name, value):
        for h in self.headers:
            if h[0] is not None and h[0].lower() == name.lower():
                h[1] = value
                return
        self.headers.append([name, value])

    def drop_header(self, name):
        self.headers = [h for h in self.headers if h[0] is None or h[0].lower() != name.lower()]

    def encode_body(self):
        if self.form is not None:
            return b"&".join(k + b"=" + v for k, v in self.form)
        if self.obj is not None:
            return b"{" + b",".join(b'"' + k + b'":' + v for k, v in self.obj) + b"}"
        return self.body

    def encode(self):
        body = self.encode_body()
        line = self.method + b" " + self.target + (b" " + self.version if self.version else b"")
        hdrs = list(self.headers)
        if body is not None and not self.manual:
            hdrs.append([b"Content-Length", str(len(body)).encode()])
        out = line + b"\r\n" + b"".join((h[1] if h[0] is None else h[0] + b": " + h[1]) + b"\r\n"
                                        for h in hdrs)
        if self.unfinished:
            return out              # the header block never ends
        return out + b"\r\n" + (body or b"")


def form(*pairs):
    return [(k.encode(), v.encode()) for k, v in pairs]


def obj(**members):
    return [(k.encode(), json.dumps(v).encode()) for k, v in members.items()]


# -- mutations ---------------------------------------------------------------
# m_NAME(rng, req) changes req in place; NAME is what a failure reports. They
# come in the groups LINE, FRAMING, HEAD, BODY and the credentials' (below).

WEIRD_BYTES = [b"\x00", b"\x01", b"\x7f", b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf",
               b"\xf4\x90\x80\x80", b"\r", b"\n", b"\t", b" ", b"\"", b"\\", b"%", b"%00", b"%zz",
               b"%C3%28", b"+", b"=", b"&", b";", b",", b"{", b"}", b"[", b"\xe2\x80\xae"]


def weird(rng, n=None):
    return b"".join(rng.choice(WEIRD_BYTES) for _ in range(n or rng.randint(1, 4)))


def m_method(rng, r):
    r.method = rng.choice([b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS",
                           b"TRACE", b"CONNECT", b"get", b"Post", b"P\x00ST", b"G\xffT", b"",
                           b"X" * 300, b"POST\tX", b"BREW"])
    # A line without a method is not a request line to libmicrohttpd: it
    # closes the connection without an answer (no handler of ours runs).
    r.may_close = r.method == b""


def m_version(rng, r):
    r.version = rng.choice([b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"HTTP/3", b"HTTP/9.9",
                            b"HTTP/1", b"HTTP/1.1.1", b"http/1.1", b"", b"HTTP/01.1",
                            b"HTTP/1.1 x", b"HTTP/1.\xff", b"HTTX/1.1", b"HTTP/-1.1"])


def m_path(rng, r):
    path, q, query = r.target.partition(b"?")
    how = rng.randrange(8)
    i = rng.randrange(len(path) + 1)
    if how == 0:        # percent-encode one character, or a bad escape
        if i < len(path) and path[i:i + 1] != b"/":
            path = path[:i] + b"%%%02X" % path[i] + path[i + 1:]
        else:
            path = path[:i] + rng.choice([b"%", b"%G1", b"%00", b"%2F", b"%FF", b"%C3%28", b"%2e%2e"]) + path[i:]
    elif how == 1:
        path = path.upper() if rng.random() < 0.5 else path.swapcase()
    elif how == 2:
        path = path[:i] + rng.choice([b"/./", b"/../", b"//", b"/.", b"/%2e%2e/"]) + path[i:]
    elif how == 3:
        path = path + rng.choice([b"/", b"//", b"/x", b"~", b";x", b"#frag", b".json"])
    elif how == 4:
        path = path[:i] + weird(rng) + path[i:]
    elif how == 5:
        path = rng.choice([b"*", b"", b"http://127.0.0.1" + path, b"//" + path, b"?" + path,
                           path.lstrip(b"/")])
    elif how == 6:
        q, query = b"?", query + (b"&" if query else b"") + rng.choice(
            [b"a=1&a=2", b"client_secret=x", b"=", b"&&&", b"%", b"x=%C3%28", b"x=%00"])
    else:
        q, query = b"?", query + b"&x=" + weird(rng, 3)
    r.target = path + q + query


def m_long_target(rng, r):
    n = rng.choice([4000, 4097, 5000, 9000, 17000, 40000])
    if rng.random() < 0.5:
        r.target += (b"&" if b"?" in r.target else b"?") + b"q=" + b"a" * n
    else:
        r.target += b"/" + b"a" * n


def m_query_fields(rng, r):
    n = rng.choice([33, 127, 128, 129, 300, 600, 2000, 5000])
    sep = rng.choice([b"&", b"a&", b"a=b&", b"%41=%42&"])
    r.target += (b"&" if b"?" in r.target else b"?") + sep * n


def named(rng, r):
    return rng.choice([h for h in r.headers if h[0] is not None] or [[b"Host", b"x"]])


def m_dup_header(rng, r):
    h = named(rng, r)
    r.headers.insert(rng.randrange(len(r.headers) + 1),
                     [h[0], h[1] if rng.random() < 0.5 else h[1][:len(h[1]) // 2] + b"x"])


def m_drop_header(rng, r):
    r.drop_header(named(rng, r)[0])


def m_big_header(rng, r):
    n = rng.choice([8000, 16000, 17000, 40000])
    r.headers.append([rng.choice([b"X-Big", b"Cookie", b"Accept", b"X-" + b"n" * 200]), b"v" * n])


def m_many_headers(rng, r):
    n = rng.choice([63, 64, 65, 200, 1000])
    r.headers += [[b"X-H%d" % i, b"v"] for i in range(n)]


def m_ctl_header(rng, r):
    h = named(rng, r)
    where = rng.randrange(3)
    if where == 0:
        i = rng.randrange(len(h[1]) + 1)
        h[1] = h[1][:i] + weird(rng) + h[1][i:]
    elif where == 1:
        h[0] = h[0] + rng.choice([b" ", b"\x00", b"\xff", b"(", b""]) + (b"x" if rng.random() < 0.5 else b"")
    else:
        line = rng.choice([b"no colon here", b" folded continuation", b"\tfolded", b": empty name",
                           b"X-A:\x00", b"X-B: \xc3\x28", b"X-C:" + b"\x01" * 10])
        r.headers.insert(rng.randrange(len(r.headers) + 1), [None, line])


def m_content_type(rng, r):
    r.set_header(b"Content-Type", rng.choice([
        b"text/plain", b"application/json", b"application/x-www-form-urlencoded",
        b"application/json; charset=utf-16", b"multipart/form-data; boundary=x",
        b"application/jsonx", b"APPLICATION/JSON", b"", b"application/x-www-form-urlencoded\x00",
        b"application/json;" + b"a" * 3000]))


def m_content_length(rng, r):
    body = r.encode_body() or b""
    r.manual = True
    r.drop_header(b"Content-Length")
    how = rng.randrange(9)
    if how == 0:                # some of these parse, as a length the body lacks
        r.headers.append([b"Content-Length", rng.choice([b"-1", b"abc", b"1e3", b" 5", b"+5", b"0x10",
                                                         b"", b"5 5", b"5,5", b"\xff"])])
        r.incomplete = True
    elif how == 1:
        r.headers.append([b"Content-Length", b"99999999999999999999999"])
    elif how == 2:
        r.headers.append([b"Content-Length", b"%d" % len(body)])
        r.headers.append([b"Content-Length", b"%d" % (len(body) + 1)])
    elif how == 3:
        r.headers.append([b"Content-Length", b"%d" % len(body)])
        r.headers.append([b"Content-Length", b"%d" % len(body)])
    elif how == 4:
        r.headers.append([b"Content-Length", b"%d" % (len(body) + rng.randint(1, 50))])
        r.incomplete = True
    elif how == 5:
        r.headers.append([b"Content-Length", b"%d" % max(0, len(body) - rng.randint(1, 10))])
    elif how == 6:
        r.headers.append([b"Content-Length", b"%d" % len(body)])
        r.headers.append([b"Transfer-Encoding", b"chunked"])
    elif how == 7:              # no length at all: the body is a second request
        pass
    else:
        r.headers.append([b"Content-Length", b"00000%d" % len(body)])


def chunked(body, size_fmt=b"%x"):
    return (size_fmt % len(body)) + b"\r\n" + body + b"\r\n0\r\n\r\n" if body else b"0\r\n\r\n"


def m_chunked(rng, r):
    body = r.encode_body() or b""
    r.manual = True
    r.drop_header(b"Content-Length")
    r.headers.append([b"Transfer-Encoding", rng.choice([b"chunked", b"chunked", b"Chunked",
                                                         b"gzip, chunked", b"chunked, chunked",
                                                         b"identity", b"chunked\x00"])])
    how = rng.randrange(7)
    if how == 0:
        r.form = r.obj = None
        r.body = chunked(body)
    elif how == 1:
        r.form = r.obj = None
        r.body = rng.choice([b"zz", b"-1", b"ffffffffffffffffff", b"7fffffffffffffff", b" 5",
                             b"5;ext=\x00", b"0x5", b""]) + b"\r\n" + body + b"\r\n0\r\n\r\n"
        r.incomplete = True         # a size that parses but is wrong: it waits
    elif how == 2:
        r.form = r.obj = None
        r.body = b"%x\r\n" % (len(body) + 3) + body + b"\r\n0\r\n\r\n"
        r.incomplete = True
    elif how == 3:              # never finished
        r.form = r.obj = None
        r.body = b"%x\r\n" % len(body) + body + b"\r\n"
        r.incomplete = True
    elif how == 4:
        r.form = r.obj = None
        r.body = b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"
    elif how == 5:
        r.form = r.obj = None
        r.body = chunked(body) + b"X-Trailer: \x00\r\n\r\n"
    else:
        r.form = r.obj = None
        r.body = chunked(body, b"%08X")


def m_unfinished_head(rng, r):
    r.headers.append([None, b"X-Unfinished: " + b"y" * rng.randint(0, 100)])
    r.incomplete = r.unfinished = True


def m_expect(rng, r):
    r.headers.append([b"Expect", rng.choice([b"100-continue", b"100-continue", b"200-ok", b""])])


def m_connection(rng, r):
    r.headers.append(rng.choice([[b"Connection", b"close"], [b"Connection", b"keep-alive, Upgrade"],
                                 [b"Upgrade", b"h2c"], [b"Connection", b"\x00"]]))


def m_request_id(rng, r):
    v = rng.choice([b"", b"a" * 128, b"a" * 129, b"fz 1", b"fz\x00", b"\xc3\xa9t\xc3\xa9",
                    b"../../etc/passwd", b"fz-1\r\nX-Injected: 1", b"-", b":.:", b"a" * 5000,
                    b"<script>", b"\"quoted\""])
    if rng.random() < 0.3:
        r.headers.append([b"X-Request-ID", b"fz-dup"])
    r.set_header(b"X-Request-ID", v)


def m_tenant(rng, r):
    v = rng.choice([b"", b"globex", b"ACME", b"acme ", b" acme", b"acme\x00", b"a" * 65, b"a" * 64,
                    b"\xc3\xa9", b"acme,globex", b"platform", b"*", b"%61cme", b"acme\t"])
    if rng.random() < 0.3:
        r.headers.append([b"X-TENANT-ID", b"acme"])
    r.set_header(b"X-TENANT-ID", v)


def m_forwarded(rng, r):
    r.set_header(b"X-Forwarded-For", rng.choice([
        b"10.1.2.3", b"127.0.0.1, 10.0.0.1", b"::1", b"999.1.1.1", b"", b"1.2.3.4" * 100,
        b"127.0.0.1\x00", b"unknown", b", , ,", b"[::1]:80", b"127.0.0.1, " * 200]))
    if rng.random() < 0.3:
        r.set_header(b"X-Forwarded-Proto", rng.choice([b"https", b"http", b"ftp", b""]))


def m_truncate(rng, r):
    b = r.encode_body() or b""
    r.form = r.obj = None
    r.body = b[:rng.randrange(len(b))] if b else b


def m_bitflip(rng, r):
    b = bytearray(r.encode_body() or b"")
    for _ in range(rng.randint(1, 4)):
        if b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    r.form = r.obj = None
    r.body = bytes(b)


def m_insert(rng, r):
    b = r.encode_body() or b""
    i = rng.randrange(len(b) + 1)
    r.form = r.obj = None
    r.body = b[:i] + weird(rng) + b[i:]


def m_dup_field(rng, r):
    if r.form:
        k, v = rng.choice(r.form)
        r.form.insert(rng.randrange(len(r.form) + 1), (k, v if rng.random() < 0.5 else b"other"))
    elif r.obj:
        k, v = rng.choice(r.obj)
        r.obj.insert(rng.randrange(len(r.obj) + 1), (k, v if rng.random() < 0.5 else b'"other"'))
    else:
        m_insert(rng, r)


FORM_VALUES = [b"", b"%00", b"%zz", b"%C3%28", b"%ED%A0%80", b"a" * 5000, b"+" * 10, b"x=y",
               b"%25", b"\xff", b"client_credentials%00", b"authorization_code", b"a%20b",
               b"99999999999999999999999", b"-1"]
JSON_VALUES = [b"1e999999", b"-1e999999", b"123456789012345678901234567890", b"-0", b"3.5", b"NaN",
               b"Infinity", b"null", b"true", b"[]", b"{}", b'"\\u0000"', b'"\\ud800"', b'"\xc3\x28"',
               b'"' + b"a" * 5000 + b'"', b'"client_credentials\\u0000"', b'"\\x41"', b"'single'",
               b"[" * 20 + b"]" * 20, b'{"a":' * 12 + b"1" + b"}" * 12, b'""', b"01", b"0x10"]


def m_field_value(rng, r):
    if r.form:
        i = rng.randrange(len(r.form))
        r.form[i] = (r.form[i][0], rng.choice(FORM_VALUES))
    elif r.obj:
        i = rng.randrange(len(r.obj))
        r.obj[i] = (r.obj[i][0], rng.choice(JSON_VALUES))
    else:
        m_insert(rng, r)


def m_field_name(rng, r):
    if r.form:
        i = rng.randrange(len(r.form))
        r.form[i] = (rng.choice([b"", b"%00", b"%zz", r.form[i][0] + b"%00", r.form[i][0].upper(),
                                 b"a" * 300, b"scope[]", r.form[i][0] + b"+"]), r.form[i][1])
    elif r.obj:
        i = rng.randrange(len(r.obj))
        r.obj[i] = (rng.choice([b"", b"\\u0000", r.obj[i][0] + b"\\u0000", r.obj[i][0].upper(),
                                b"a" * 300, b"\xc3\x28", b"unknown_field"]), r.obj[i][1])
    else:
        m_insert(rng, r)


def m_replace_body(rng, r):
    d = rng.choice([10, 64, 1000, 5000])
    r.form = r.obj = None
    r.body = rng.choice([
        b"[" * d + b"]" * d, b'{"a":' * d + b"1" + b"}" * d, b"1e999999", b"null", b'"str"',
        b"\xef\xbb\xbf{}", b"{" * d, b'{"a":"\\ud800\\udc00\\ud800"}', b"\x00" * 10,
        b"a=" + b"%" * 300, b"&" * 3000, b"=&=&=", b"x" * rng.choice([8192, 8193, 16385, 70000]),
        b"", b"{}" * 10, b'{"__proto__":{}}'])


def m_basic(rng, r):
    a = r.header(b"Authorization") or b"Basic eDp5"
    how = rng.randrange(8)
    if how == 0:
        v = a[:6] + rng.choice([b"!!!", b"====", b" ", b"\xff", b"YQ", b"YTpi=", b"Zm9v"]) + a[6:]
    elif how == 1:
        v = b"Basic " + base64.b64encode(rng.choice([b"no-colon", b":", b"::", b"a:b:c", b"\xff:\xfe",
                                                      b"%zz:x", b"%00:x", b"id:\x00", b""]))
    elif how == 2:
        v = rng.choice([b"Basic", b"Basic ", b"basic " + a[6:], b"BASIC " + a[6:], b"Basic  " + a[6:],
                        b"Basic " + a[6:] + b"=", b"Basic " + a[6:-2]])
    elif how == 3:
        v = b"Basic " + base64.b64encode(b"a" * rng.choice([300, 3000, 12000]) + b":b")
    elif how == 4:
        b = bytearray(a)
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
        v = bytes(b)
    elif how == 5:
        v = b"Bearer " + a[6:]
    elif how == 6:
        v = a + b", Basic " + a[6:]
    else:
        v = b"Digest username=\"x\""
    r.set_header(b"Authorization", v)


def m_bearer(rng, r):
    a = r.header(b"Authorization") or b"Bearer x.y.z"
    tok = a[7:] or b"x.y.z"
    how = rng.randrange(9)
    if how == 0:
        b = bytearray(tok)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(7)
        tok = bytes(b)
    elif how == 1:
        seg = tok.split(b".")
        if len(seg) > 1:
            del seg[rng.randrange(len(seg))]
        tok = b".".join(seg)
    elif how == 2:
        seg = tok.split(b".")
        seg.insert(rng.randrange(len(seg) + 1), rng.choice([b"", b"e30", b"eyJhbGciOiJub25lIn0", b"x"]))
        tok = b".".join(seg)
    elif how == 3:
        tok = tok[:rng.randrange(len(tok))]
    elif how == 4:
        tok = tok + rng.choice([b".", b"=", b" ", b"\x00", b"a" * 9000])
    elif how == 5:
        seg = tok.split(b".")
        if len(seg) == 3:       # alg none, the same claims
            seg[0] = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=")
            seg[2] = b""
        tok = b".".join(seg)
    elif how == 6:
        tok = tok.upper()
    elif how == 7:
        a = rng.choice([b"bearer ", b"Bearer  ", b"Bearer\t", b"Bearer", b"Token ", b"Basic "])
        r.set_header(b"Authorization", a + tok)
        return
    else:
        tok = tok[::-1]
    r.set_header(b"Authorization", b"Bearer " + tok)


def m_auth_header_misc(rng, r):
    if rng.random() < 0.5:
        r.drop_header(b"Authorization")
    else:
        r.headers.append([b"Authorization", r.header(b"Authorization") or b"Bearer x"])


LINE = [m_method, m_version, m_path, m_long_target, m_query_fields]
FRAMING = [m_content_length, m_chunked, m_unfinished_head]
HEAD = [m_dup_header, m_drop_header, m_big_header, m_many_headers, m_ctl_header, m_content_type,
        m_expect, m_connection, m_request_id, m_tenant, m_forwarded]
BODY = [m_truncate, m_bitflip, m_insert, m_dup_field, m_field_value, m_field_value, m_field_name,
        m_replace_body]


def mutate(rng, base):
    """A mutated copy of base: one to three mutations, at most one of the
    request line and one of the framing."""
    r = base.copy()
    kinds = []
    for _ in range(1 + (rng.random() < 0.35) + (rng.random() < 0.1)):
        pool = list(HEAD)
        if not any(k in LINE for k in kinds):
            pool += LINE
        if not any(k in FRAMING for k in kinds):
            pool += FRAMING
        if base.body is not None or base.form is not None or base.obj is not None:
            pool += BODY * 2
        a = base.header(b"Authorization")
        if a is not None:
            pool += [m_basic if a.startswith(b"Basic ") else m_bearer] * 3 + [m_auth_header_misc]
        kinds.append(rng.choice(pool))
    # The framing last: it frames the body the other mutations left.
    for m in sorted(kinds, key=lambda m: m in FRAMING):
        m(rng, r)
        r.done.append(m.__name__[2:])
    return r


# -- the test ------------------------------------------------------------------

class FuzzHttp(Suite):
    def setup(self):
        self.s = Server("--trusted-proxies", "127.0.0.1", "--audiences", "https://api.example",
                        "--rate_limit", "0", "--lockout_pair_threshold", "1000",
                        "--lockout_address_threshold", "100000", policy=POLICY)
        s = self.s
        self.c = {
            "jwt": s.client("acme", name="fz-jwt", roles="operator", scopes="cards:read cards:write"),
            "opaque": s.client("acme", name="fz-opaque", roles="viewer", token_format="opaque"),
            "prod": s.client("acme", name="fz-prod", env="production", roles="viewer",
                             allow_ip=["127.0.0.0/8"]),
            "admin": s.client("acme", name="fz-admin", roles="admin,operator,viewer"),
            "viewer": s.client("acme", name="fz-viewer", roles="viewer"),
            "rev": s.client("acme", name="fz-rev", roles="viewer"),
            "globex": s.client("globex", name="fz-globex", roles="viewer"),
            "root": {"client_id": s.bootstrap["client_id"], "client_secret": s.bootstrap["client_secret"]},
        }
        self.tok = {}
        for name in ("jwt", "opaque", "prod", "admin", "viewer", "rev", "root"):
            c = self.c[name]
            r = s.token(c["client_id"], c["client_secret"])
            eq(r.status, 200, "token for %s: %r" % (name, r))
            self.tok[name] = r.json()["access_token"]
        r = s.token(self.c["rev"]["client_id"], self.c["rev"]["client_secret"])
        self.tok["victim"] = r.json()["access_token"]
        self.secrets = {}           # text that must never come back -> its name
        for name, c in self.c.items():
            self.secrets[c["client_secret"]] = "secret:" + name
        for name, t in self.tok.items():
            self.secrets[t] = "token:" + name
        self.log_from = len(s.stderr())

    def teardown(self):
        self.s.cleanup()

    # -- the valid requests mutations start from -------------------------------
    def bases(self):
        c, t = self.c, self.tok
        bas = lambda n: basic(c[n]["client_id"], c[n]["client_secret"])     # noqa: E731
        bearer = lambda n: "Bearer " + t[n]                                  # noqa: E731
        fct = ("Content-Type", "application/x-www-form-urlencoded")
        jct = ("Content-Type", "application/json")
        rid = ("X-Request-ID", "fz-base-1")
        B = []

        def add(route, method, target, headers, **kw):
            B.append(Req(route, method.encode(), target.encode(), headers, **kw))

        # token routes, each dialect
        add("/oauth/token", "POST", "/oauth/token", [("Authorization", bas("jwt")), fct, rid],
            form=form(("grant_type", "client_credentials"), ("scope", "cards:read")))
        add("/oauth/token", "POST", "/oauth/token", [jct, ("Accept", "application/json")],
            obj=obj(grant_type="client_credentials", client_id=c["opaque"]["client_id"],
                    client_secret=c["opaque"]["client_secret"]))
        add("/oauth/token", "POST", "/oauth/token", [fct, ("X-Forwarded-For", "127.0.0.1")],
            form=form(("grant_type", "client_credentials"), ("client_id", c["prod"]["client_id"]),
                      ("client_secret", c["prod"]["client_secret"]),
                      ("audience", "https://api.example")))
        add("/auth/token", "POST", "/auth/token", [jct, ("X-TENANT-ID", "acme")],
            obj=obj(clientId=c["jwt"]["client_id"], clientSecret=c["jwt"]["client_secret"],
                    grantType="client_credentials"))
        add("/api/oauth/token", "POST", "/api/oauth/token", [jct, ("Accept", "application/json")],
            obj=obj(grant_type="client_credentials", client_id=c["jwt"]["client_id"],
                    client_secret=c["jwt"]["client_secret"]))
        add("/token", "POST", "/token", [jct],
            obj=obj(api_key=c["opaque"]["client_id"], client_secret=c["opaque"]["client_secret"],
                    expiration=3600, token_name="fz-papaya"))
        add("/v2.01/oauth/token", "POST", "/v2.01/oauth/token", [("Authorization", bas("opaque")), fct],
            form=form(("grant_type", "client_credentials")))
        # introspection and revocation (RFC 7662, RFC 7009)
        add("/oauth/introspect", "POST", "/oauth/introspect", [("Authorization", bas("jwt")), fct],
            form=form(("token", t["jwt"]), ("token_type_hint", "access_token")))
        add("/oauth/introspect", "POST", "/oauth/introspect", [("Authorization", bas("opaque")), fct],
            form=form(("token", t["opaque"])))
        add("/oauth/revoke", "POST", "/oauth/revoke", [("Authorization", bas("rev")), fct],
            form=form(("token", t["victim"]), ("token_type_hint", "access_token")))
        # the gate (nginx auth_request)
        gate = [("X-Original-Method", "GET"), ("X-Original-URI", "/v1/products/42?x=1"),
                ("X-TENANT-ID", "acme"), ("X-Forwarded-For", "127.0.0.1"), rid]
        add("/gate", "GET", "/gate", gate + [("Authorization", bearer("jwt"))])
        add("/gate", "GET", "/gate", gate + [("Authorization", bearer("opaque"))])
        add("/gate", "GET", "/gate", [("X-Original-Method", "GET"), ("X-Original-URI", "/v1/prod/items"),
                                      ("X-TENANT-ID", "acme"), ("Authorization", bearer("prod"))])
        add("/gate", "POST", "/gate", [("X-Original-Method", "POST"),
                                       ("X-Original-URI", "/v1/payouts/p-1/approve"),
                                       ("X-TENANT-ID", "acme"), ("X-Approval-ID", NO_SUCH_APPROVAL),
                                       ("Authorization", bearer("jwt")), jct], body=b'{"amount":1}')
        add("/gate", "GET", "/gate", [("X-Original-Method", "GET"), ("X-Original-URI", "/v2.01/x/users"),
                                      ("Authorization", bearer("jwt"))])
        # the admin API: reads by a Viewer (whatever the mutation, no write
        # passes); writes by an Admin, each aimed where it must be refused
        # (another tenant's client, one that does not exist, a bad id)
        view = [("Authorization", bearer("viewer")), rid]
        add("/admin", "GET", "/admin/v1/clients", view)
        add("/admin", "GET", "/admin/v1/clients/" + c["jwt"]["client_id"], view)
        add("/admin", "GET", "/admin/v1/clients/%s/secrets" % c["jwt"]["client_id"], view)
        add("/admin", "GET", "/admin/v1/audit?limit=5&action=token.issued", view)
        add("/admin", "GET", "/admin/v1/tenants", view)
        add("/admin", "GET", "/admin/v1/keys", [("Authorization", bearer("root"))])
        add("/admin", "GET", "/admin/v1/policy", [("Authorization", bearer("root"))])
        adm = [("Authorization", bearer("admin")), jct]     # no X-Request-ID: no replays
        add("/admin", "POST", "/admin/v1/clients", adm,
            obj=obj(tenant="globex", name="fz-new", roles=["viewer"], ttl="15m"))
        add("/admin", "PATCH", "/admin/v1/clients/" + NO_SUCH_ID, adm,
            obj=obj(scopes=["cards:read"], allow_ips=["10.0.0.0/8"], rate_limit=5))
        add("/admin", "POST", "/admin/v1/clients/%s/disable" % c["globex"]["client_id"], adm, obj=[])
        add("/admin", "POST", "/admin/v1/clients/%s/secrets/rotate" % NO_SUCH_ID, adm,
            obj=obj(grace="1d"))
        add("/admin", "POST", "/admin/v1/tenants", adm, obj=obj(id="!bad id!", name="x"))
        add("/admin", "POST", "/admin/v1/tokens/revoke", adm, obj=obj(name="fz-no-such-token"))
        # approvals: filing by a Viewer (refused after validation), deciding
        # one that does not exist
        appr = [("Authorization", bearer("viewer")), ("X-TENANT-ID", "acme"), rid]
        add("/approvals", "GET", "/approvals?state=pending&limit=10", appr)
        add("/approvals", "GET", "/approvals/" + NO_SUCH_APPROVAL, appr)
        add("/approvals", "POST", "/approvals", appr + [jct],
            obj=obj(method="POST", path="/v1/payouts/p-9/approve", reason="fuzz",
                    body_digest="sha256:" + "a" * 64))
        add("/approvals", "POST", "/approvals/%s/approve" % NO_SUCH_APPROVAL,
            [("Authorization", bearer("admin")), ("X-TENANT-ID", "acme"), jct], body=b"")
        # public and operator documents
        add("/.well-known", "GET", "/.well-known/jwks.json", [])
        add("/.well-known", "GET", "/.well-known/oauth-authorization-server", [("Accept", "application/json")])
        add("/healthz", "GET", "/healthz", [])
        add("/readyz", "GET", "/readyz", [])
        add("/metrics", "GET", "/metrics", [("Accept", "text/plain")])
        return B

    # -- sending and judging -----------------------------------------------------
    def redact(self, data):
        text = data if isinstance(data, bytes) else data.encode()
        for secret, name in self.secrets.items():
            for form_ in (secret, base64.b64encode(secret.encode()).decode()):
                text = text.replace(form_.encode(), b"<" + name.encode() + b">")
        for c in self.c.values():
            cred = ("%s:%s" % (c["client_id"], c["client_secret"])).encode()
            text = text.replace(base64.b64encode(cred), b"<basic credentials>")
        return repr(text[:700])

    def leaks(self, data):
        """Names of our secrets or tokens found in data (bytes), whole or as
        a half (a mutation may have flipped a bit in the other half)."""
        found = []
        for secret, name in self.secrets.items():
            s = secret.encode()
            tail = s.rsplit(b".", 1)[-1] if s.count(b".") == 2 else s   # a JWT: its signature
            if len(tail) < 32:
                tail = s
            if s in data or tail[:len(tail) // 2] in data or tail[len(tail) // 2:] in data:
                found.append(name)
        return found

    def judge(self, req, r):
        """Problems with answer r to req."""
        p = []
        if r is None:
            return ["no answer: the connection was closed"]
        ctype = r.header("Content-Type")
        body_ok = req.method != b"HEAD"
        if r.status >= 500:
            if not (r.status == 505 and ctype is None and req.version[:5] == b"HTTP/"
                    and not req.version.startswith(b"HTTP/1.")):
                p.append("status %d" % r.status)
        elif r.status in (200, 202):
            if body_ok and ctype == "application/json":
                try:
                    json.loads(r.body)
                except ValueError:
                    p.append("2xx body is not JSON")
        elif 400 <= r.status < 500:
            if ctype is None:
                if r.status not in MHD_OWN:
                    p.append("a %d without a Content-Type (not one of libmicrohttpd's)" % r.status)
            elif ctype != "application/json":
                p.append("a %d of type %s" % (r.status, ctype))
            elif body_ok:
                try:
                    b = json.loads(r.body)
                except ValueError:
                    b = None
                if not isinstance(b, dict):
                    p.append("error body is not a JSON object")
                elif not isinstance(b.get("error"), str) and not (
                        req.route == "/gate" and b.get("Type") == "invalid_credentials"
                        and "Message" in b):
                    p.append("error body without an \"error\"")
        else:
            p.append("status %d" % r.status)
        leaked = self.leaks(r.raw)
        if leaked:
            p.append("the answer holds " + ", ".join(leaked))
        return p

    def send(self, req, stats, pending, failures):
        data = req.encode()
        st = stats.setdefault(req.route, dict.fromkeys(("sent", "2xx", "4xx", "mhd", "waiting",
                                                        "closed"), 0))
        st["sent"] += 1
        # Past the header limit (src/http/limits.h) an answer may not come:
        # the server refuses and closes with our bytes unread (TCP resets
        # the connection; the answer may be lost on the way), or
        # libmicrohttpd, its 32 KB connection pool filled by the request and
        # its own copy of any Cookie header, cannot build one and closes.
        cookies = sum(len(h[1]) for h in req.headers if h[0] is not None and h[0].lower() == b"cookie")
        req.may_close |= len(data) + cookies > HEADER_BYTES
        sock = socket.create_connection(("127.0.0.1", self.s.port), timeout=TIMEOUT)
        try:
            sock.sendall(data)
        except OSError:
            pass                                # the server may refuse before it read all
        if req.incomplete:
            pending.append((req, data, sock))
            return
        try:
            r = read_response(sock, req.method == b"HEAD")
        except socket.timeout:
            r = "hang"
        except ConnectionResetError:
            r = None
        except (AssertionError, OSError) as e:
            r = "bad answer: %s" % e
        finally:
            sock.close()
        self.record(req, data, r, st, failures)

    def record(self, req, data, r, st, failures):
        if r is None and req.may_close:
            st["closed"] += 1
            return
        problems = [r] if isinstance(r, str) else self.judge(req, r)
        if problems:
            failures.append("%s after [%s]: %s\n    request: %s\n    answer:  %s" % (
                req.route, ", ".join(req.done), "; ".join(problems),
                self.redact(data), self.redact(getattr(r, "raw", b"") or b"")))
            return
        if r.status in (200, 202):
            st["2xx"] += 1
        elif r.header("Content-Type") is None:
            st["mhd"] += 1
        else:
            st["4xx"] += 1

    def settle(self, pending, stats, failures):
        """Requests cut short: the server may answer early or wait for the
        rest; what it sends must be a whole, good answer."""
        deadline = time.time() + 0.2
        for req, data, sock in pending:
            st = stats[req.route]
            try:
                ready, _, _ = select.select([sock], [], [], max(0, deadline - time.time()))
                if not ready:
                    st["waiting"] += 1
                    continue
                sock.settimeout(1)
                try:
                    r = read_response(sock, req.method == b"HEAD")
                except socket.timeout:
                    st["waiting"] += 1          # a 100 Continue, then the wait
                    continue
                except (AssertionError, OSError) as e:
                    r = "bad answer: %s" % e
                if r is None:
                    st["waiting"] += 1          # closed: it gave up on the rest
                    continue
                self.record(req, data, r, st, failures)
            finally:
                sock.close()
        pending.clear()

    def alive(self, after):
        s = self.s
        check(s.proc is not None and s.proc.poll() is None,
              "the server died after %s:\n%s" % (after, s.stderr()[-3000:]))
        log = s.stderr()[self.log_from:]
        check(not SANITIZER.search(log), "sanitizer report after %s:\n%s" % (after, log[-5000:]))
        r = s.get("/healthz")
        eq(r.status, 200, "/healthz after %s" % after)

    def snapshot(self):
        s = self.s
        clients = s.cli("client", "list")
        return {"tenants": s.cli("tenant", "list"), "clients": clients,
                "secrets": {c["client_id"]: s.cli("client", "show", c["client_id"])["secrets"]
                            for c in clients},
                "approvals": s.cli("approvals", "list")}

    def test_fuzz(self):
        print("fuzz seed %d, %d requests (GH_FUZZ_SEED, GH_FUZZ_COUNT)" % (SEED, COUNT), flush=True)
        rng = random.Random(SEED)
        bases = self.bases()
        before = self.snapshot()
        for b in bases:             # every base is valid as it stands
            r = self.s.raw(b.encode(), b.method == b"HEAD")
            check(r is not None and r.status in (200, 202, 403, 404),
                  "base %s %s: %r" % (b.method, b.target[:60], r))
        stats, pending, failures = {}, [], []
        t0 = time.time()
        for i in range(COUNT):
            req = mutate(rng, bases[i % len(bases)])
            self.send(req, stats, pending, failures)
            if (i + 1) % BATCH == 0 or i + 1 == COUNT:
                self.settle(pending, stats, failures)
                self.alive("request %d" % (i + 1))
                check(not failures, "%d bad answers, the first:\n%s" % (len(failures), "\n".join(failures[:5])))
        took = time.time() - t0
        cols = ("sent", "2xx", "4xx", "mhd", "waiting", "closed")
        print("%-20s" % "route" + "".join("%8s" % c for c in cols))
        for route, st in sorted(stats.items()):
            print("%-20s" % route + "".join("%8d" % st[c] for c in cols))
        print("%d requests in %.1fs" % (COUNT, took), flush=True)
        for route, st in stats.items():
            check(st["4xx"] + st["mhd"] > 0, "%s: no mutation was refused: %r" % (route, st))
        eq(sorted(stats), sorted({b.route for b in bases}), "every route was fuzzed")
        # The log: one JSON object a line, no secret, no token of ours.
        log = self.s.stderr()[self.log_from:]
        for line in log.splitlines():
            try:
                check(isinstance(json.loads(line), dict), "log line %r" % line[:200])
            except ValueError:
                raise AssertionError("log line is not JSON: %r" % line[:300])
        leaked = self.leaks(log.encode())
        check(not leaked, "the log holds %s" % leaked)
        eq(self.snapshot(), before, "tenants, clients, secrets and approvals after the fuzz")

    # -- what the fuzz found, fixed ------------------------------------------------
    def test_many_query_fields_answered_not_held(self):
        """libmicrohttpd 0.9.75 ran out of its connection pool on a query of a
        few hundred fields and then held the connection, unanswered, until
        the idle timeout (src/http/server.c: uri_seen). Now: 414 at once."""
        for q in (b"&" * 3000, b"a=b&" * 500, b"a&" * 129):
            t = time.time()
            r = self.s.raw(b"GET /healthz?" + q + b" HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10)
            check(r is not None and time.time() - t < 5, "answered at once: %r" % r)
            eq(r.status, 414, "status")
            eq(r.json()["error"], "invalid_request", "error")
        r = self.s.raw(b"GET /healthz?" + b"a&" * 127 + b"a HTTP/1.1\r\nHost: x\r\n\r\n")
        eq(r.status, 200, "128 fields pass")
        r = self.s.raw(b"GET /healthz?q=" + b"a" * 4100 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        eq(r.status, 414, "a target past 4096 bytes, its query included")
        eq(self.s.get("/healthz").status, 200, "still serving")

    def test_expect_continue_then_more_bytes_answered(self):
        """With Expect: 100-continue and bytes after the request (here a
        pipelined one), libmicrohttpd 0.9.75 made its last handler call
        before it could take the answer; the connection was closed
        unanswered (src/http/server.c: queue). Now both are answered."""
        for m, path, status in ((b"GET", b"/healthz", b"200"), (b"POST", b"/oauth/revoke", b"415")):
            out = b""
            with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
                sock.sendall(m + b" " + path + b" HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                             b"Content-Length: 0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n")
                while True:             # until the server closes, after the second
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            finals = re.findall(rb"HTTP/1\.1 ([2-5]\d\d) ", out)
            eq(finals, [status, b"200"], "%s, then the pipelined one: %r" % (path, out[-300:]))

    def test_error_quoting_cut_utf8_keeps_its_error(self):
        """An error description quoting the client cut a UTF-8 character in
        two (jansson's error text on a bad escape; a field name cut at 40
        bytes; X-Original-Method cut at 10), or quoted invalid UTF-8: jansson
        refused to pack it and the 4xx went out as "{}" (src/util/util.c:
        str_scrub_utf8, used by oauth_fail, admin_error, gate_refuse and the
        approvals' answer_error)."""
        admin = self.tok["admin"]
        bad = b'{"n\\\xe2\x80\xae,{ame":"x"}'
        cut = json.dumps({"a" * 39 + "\u00e9": "x"}, ensure_ascii=False).encode()
        h = {"Content-Type": "application/json"}
        for path, body, hdrs in (
                ("/oauth/token", bad, h), ("/auth/token", bad, h),
                ("/admin/v1/tokens/revoke", bad, dict(h, Authorization="Bearer " + admin)),
                ("/approvals", bad, dict(h, Authorization="Bearer " + admin, **{"X-TENANT-ID": "acme"})),
                ("/approvals", cut, dict(h, Authorization="Bearer " + admin, **{"X-TENANT-ID": "acme"}))):
            r = self.s.request("POST", path, body=body, headers=hdrs)
            eq(r.status, 400, "%s: %r" % (path, r))
            eq(r.json().get("error"), "invalid_request", "%s: %r" % (path, r))
            check(r.json().get("error_description"), "%s: a description %r" % (path, r))
        for method in (b"a" + "\u00e9".encode() * 6, b"G\xffT", b"\xf4\x90\x80\x80"):
            r = self.s.raw(b"GET /gate HTTP/1.1\r\nHost: x\r\nX-Original-Method: " + method +
                           b"\r\nX-Original-URI: /v1/products/1\r\nX-TENANT-ID: acme\r\n"
                           b"Authorization: Bearer " + self.tok["jwt"].encode() + b"\r\n\r\n")
            check(r is not None and 400 <= r.status < 500, "gate, method %r: %r" % (method, r))
            check(r.json().get("error") and r.json().get("error_description"),
                  "gate, method %r: %r" % (method, r))


if __name__ == "__main__":
    FuzzHttp().run()
