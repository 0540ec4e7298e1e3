"""Sends N token requests, one after another on one keep-alive connection,
in one seed route's spelling (bench/dialects_ir.sh). Exits non-zero on any
answer other than 200.

usage: dialect_requests.py CLIENT_JSON PORT ROUTE N
ROUTE: oauth | 000 | 001 | 002 | 003
"""
import base64
import http.client
import json
import sys


def main():
    client = json.load(open(sys.argv[1]))
    port, route, n = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    cid, secret = client["client_id"], client["client_secret"]
    basic = "Basic " + base64.b64encode(("%s:%s" % (cid, secret)).encode()).decode()
    form = "application/x-www-form-urlencoded"
    routes = {
        "oauth": ("/oauth/token", {"Content-Type": form, "Authorization": basic},
                  "grant_type=client_credentials"),
        "000": ("/auth/token", {"Content-Type": "application/json"},
                json.dumps({"clientId": cid, "clientSecret": secret,
                            "grantType": "client_credentials"})),
        "001": ("/api/oauth/token", {"Content-Type": "application/json",
                                     "Accept": "application/json"},
                json.dumps({"grant_type": "client_credentials", "client_id": cid,
                            "client_secret": secret})),
        "002": ("/token", {"Content-Type": "application/json"},
                json.dumps({"api_key": cid, "client_secret": secret, "expiration": 3600})),
        "003": ("/v2.01/oauth/token", {"Content-Type": form, "Authorization": basic},
                "grant_type=client_credentials"),
    }
    path, headers, body = routes[route]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("%s: answered %d" % (path, r.status))


if __name__ == "__main__":
    main()
