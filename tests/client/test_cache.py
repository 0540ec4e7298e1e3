"""Issue 7: the token cache (refresh ahead of expiry with short lifetimes,
the lifetime only from the answer), single flight (64 threads, one token
request counted at the server), background refresh that never blocks a
caller while the token is valid, and the call helper (Bearer, X-TENANT-ID, a
fresh X-Request-ID, one refresh and one retry on a 401)."""
import re
import time

from fakes import CLIENT_ID, Fake, check, eq, probe
from harness import Suite

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Cache(Suite):
    def setup(self):
        self.f = Fake()

    def teardown(self):
        self.f.close()

    def run_probe(self, *steps, path="/ok", extra=()):
        return probe("--url", self.f.base + path, "--id", CLIENT_ID, *(list(extra) + list(steps)))[0]

    def test_refresh_at_80_percent_of_short_lifetime(self):
        # expires_in 5: refreshed from 4 s on (80%), never handed out expired.
        self.f.expires_in = 5
        try:
            before = self.f.hits("/ok/")
            out = self.run_probe("get", "sleep:3500", "get", "sleep:800", "get", "get")
        finally:
            self.f.expires_in = 3600
        eq([x["rc"] for x in out], ["ok"] * 4, "%r" % out)
        check(abs(out[0]["refresh_in_ms"] - 4000) < 200, "refresh at 4 s: %r" % out[0])
        check(abs(out[0]["expires_in_ms"] - 5000) < 200, "lifetime 5 s from the answer: %r" % out[0])
        eq(out[1]["token"], out[0]["token"], "at 3.5 s: still the first token")
        check(out[2]["token"] != out[0]["token"], "at 4.3 s: refreshed")
        eq(out[3]["token"], out[2]["token"], "then cached again")
        eq(self.f.hits("/ok/") - before, 2, "two token requests in all")

    def test_refresh_before_is_configurable(self):
        # expires_in 10 with refresh_before 1 s (less than 20% of 10 s): refreshed at 9 s.
        self.f.expires_in = 10
        try:
            out = self.run_probe("get", "sleep:8400", "get", "sleep:900", "get",
                                 extra=["--refresh-before-ms", "1000"])
        finally:
            self.f.expires_in = 3600
        check(abs(out[0]["refresh_in_ms"] - 9000) < 200, "refresh at 9 s: %r" % out[0])
        eq(out[1]["token"], out[0]["token"], "at 8.4 s: the first token")
        check(out[2]["token"] != out[0]["token"], "at 9.3 s: refreshed")

    def test_lifetime_never_assumed(self):
        self.f.expires_in = 60
        try:
            out = self.run_probe("get", extra=["--refresh-before-s", "600"])
        finally:
            self.f.expires_in = 3600
        check(abs(out[0]["expires_in_ms"] - 60000) < 500, "60 s as answered: %r" % out[0])
        check(abs(out[0]["refresh_in_ms"] - 48000) < 500, "80%% of 60 s: %r" % out[0])

    def test_expired_token_never_handed_out(self):
        # expires_in 2, then every refresh fails: the token is handed out while
        # valid (the failed refresh-ahead is not the caller's problem), never after.
        out = self.run_probe("get", "sleep:1700", "get", "sleep:600", "get",
                             path="/bad/okthen500", extra=["--retries", "-1"])
        eq([x["rc"] for x in out], ["ok", "ok", "server_error"], "%r" % out)
        eq(out[1]["token"], out[0]["token"], "the valid token despite the failed refresh")
        check(0 < out[1]["expires_in_ms"] < 400, "close to expiry but valid: %r" % out[1])
        check("token" not in out[2], "no expired token handed out")

    def test_clock_skew_margin(self):
        # A 10 s token, then the token endpoint fails, so the client keeps
        # the token as long as it may; the API's clock runs 0.8 s ahead. The
        # token is handed out until 1 s (10%% of its life) before it
        # expires, so the API never sees it expired: at 9.4 s the call fails
        # without sending it (the old library sent it and met a 401).
        self.f.api_clock_ahead = 0.8
        seen = self.f.expired_seen
        try:
            out = self.run_probe("get", "call:" + self.f.base + "/api/checkexp", "sleep:8300", "get",
                                 "sleep:1000", "call:" + self.f.base + "/api/checkexp", "get",
                                 path="/bad/okthen500long", extra=["--retries", "-1"])
        finally:
            self.f.api_clock_ahead = 0.0
        eq([x["rc"] for x in out], ["ok", "ok", "ok", "server_error", "server_error"], "%r" % out)
        check(abs(out[0]["expires_in_ms"] - 10000) < 200, "the lifetime is the answer's: %r" % out[0])
        check(abs(out[0]["usable_in_ms"] - 9000) < 200, "handed out until 1 s before: %r" % out[0])
        check(abs(out[0]["refresh_in_ms"] - 8000) < 200, "refreshed from 8 s (80%%): %r" % out[0])
        eq(out[2]["token"], out[0]["token"], "at 8.3 s, after a failed refresh, the same token")
        eq(out[3]["status"], 0, "at 9.4 s the API was not called: %r" % out[3])
        check("token" not in out[4], "no token in its last second: %r" % out[4])
        eq(self.f.expired_seen - seen, 0, "the API never saw an expired token")

    def test_64_threads_one_token_request(self):
        self.f.delay = 0.5          # the fetch is slow: every thread arrives while it runs
        try:
            before = self.f.hits("/ok/")
            out = self.run_probe("conc:64", "conc:64")
        finally:
            self.f.delay = 0
        eq(out[0]["ok"], 64, "every thread got a token: %r" % out)
        eq(out[0]["distinct"], 1, "the same token")
        eq(out[0]["token_requests"], 1, "one request made by the library")
        eq(out[1]["token_requests"], 1, "cached for the second wave")
        eq(self.f.hits("/ok/") - before, 1, "exactly one token request counted at the server")

    def test_64_threads_share_a_failure(self):
        before = self.f.hits("/bad/e401/")
        out = probe("--url", self.f.base + "/bad/e401", "--id", CLIENT_ID, "conc:64")[0]
        eq(out[0]["ok"], 0, "no token")
        eq(self.f.hits("/bad/e401/") - before, 1, "64 waiting callers share one refused request")

    def test_background_refresh_does_not_block(self):
        # expires_in 5 (refresh at 4 s); the refresh takes 0.6 s at the server.
        self.f.expires_in = 5
        self.f.delay = 0.6
        self.f.delay_after = self.f.issued + 1      # the first fetch is quick
        # ~5.4 s of gets every 0.2 s: the refresh is done at ~4.6 s, and the
        # last gets show its token. (Until 4.6 s of gets, the last one raced
        # the refresh, and lost on a loaded CI machine.)
        steps = ["get"] + ["sleep:200", "get"] * 27
        try:
            out = self.run_probe(*steps, extra=["--background"])
        finally:
            self.f.expires_in = 3600
            self.f.delay = 0
        eq(set(x["rc"] for x in out), {"ok"}, "%r" % out)
        tokens = [x["token"] for x in out]
        check(tokens[-1] != tokens[0], "refreshed in the background")
        slow = [x for x in out[1:] if x["ms"] > 200]
        eq(slow, [], "no caller waited for the background refresh")
        # During the 0.6 s refresh (from 4.0 s after the first token) callers kept it.
        during = [x for x in out if 4100 <= x["t_ms"] - out[0]["t_ms"] - out[0]["ms"] <= 4500]
        check(during, "gets ran while the refresh did: %r" % [x["t_ms"] for x in out])
        eq(set(x["token"] for x in during), {tokens[0]}, "the current token while the refresh runs")

    def test_free_does_not_wait_for_a_background_refresh(self):
        # A 2 s token (refreshed from 1.6 s); the refresh hangs at the server
        # for 8 s, within the attempt's 15 s timeout. The program frees the
        # client at 2.5 s, while the refresh waits: gh_client_free ends it
        # within about a second instead of blocking until the server answers.
        self.f.expires_in = 2
        self.f.delay = 8
        self.f.delay_after = self.f.issued + 1      # the first fetch is quick
        try:
            t0 = time.monotonic()
            out = self.run_probe("get", "sleep:2500", extra=["--background", "--timeout-ms", "15000"])
            took = time.monotonic() - t0
        finally:
            self.f.expires_in = 3600
            self.f.delay = 0
        eq([x["rc"] for x in out], ["ok"], "%r" % out)
        eq(self.f.hits("/ok/") >= 2, True, "the background refresh was under way")
        check(took < 4.5, "freed in %.1f s, not after the hung refresh's 8 s" % took)

    def test_background_refresh_stops_for_unused_tokens(self):
        # A 2 s token (refreshed from 1.6 s) that nobody asks for after its
        # first get: with a 1 s idle limit the background thread refreshes
        # nothing (it used to refresh it every 1.6 s, forever).
        self.f.expires_in = 2
        try:
            steps = ["get", "sleep:5000", "stats"] + ["get", "sleep:300"] * 10 + ["stats"]
            out = self.run_probe(*steps, extra=["--background", "--background-idle-ms", "1000"])
        finally:
            self.f.expires_in = 3600
        eq(out[1]["token_requests"], 1, "no refresh for an unused token: %r" % out[1])
        gets = [x for x in out if x["step"] == "get"]
        eq(set(x["rc"] for x in gets), {"ok"}, "%r" % gets)
        check(gets[1]["token"] != gets[0]["token"], "used again: a new token (the old one was dropped)")
        # In use again, it is refreshed in the background again, and no
        # caller waits for that.
        later = [x["token"] for x in gets[1:]]
        check(len(set(later)) >= 2, "refreshed in the background while in use: %r" % later)
        eq([x for x in gets[2:] if x["ms"] > 200], [], "no caller waited")
        check(out[-1]["token_requests"] >= 3, "%r" % out[-1])

    def test_refresh_without_background_thread(self):
        # No background thread: one caller in the refresh window pays for the
        # (0.5 s) refresh; the 15 others keep the current token without waiting.
        self.f.expires_in = 5
        self.f.delay = 0.5
        self.f.delay_after = self.f.issued + 1
        try:
            out = self.run_probe("get", "sleep:4200", "conc:16", "get")
        finally:
            self.f.expires_in = 3600
            self.f.delay = 0
        eq((out[1]["ok"], out[1]["token_requests"]), (16, 2), "one refresh: %r" % out[1])
        eq(out[1]["slow_100ms"], 1, "only the refreshing caller waited: %r" % out[1])
        check(out[2]["token"] != out[0]["token"], "then the new token")

    def test_token_copy_buffer_sizes(self):
        # The fake's next token: "eyJhbGciOiJSUzI1NiJ9.eyJuIjo" N "." 24 hex digits.
        n = 53 + len(str(self.f.issued + 1))
        out = self.run_probe("get", "copy:%d" % (n + 1), "copy:%d" % n, "copy:1", "copy:0", "copy:200")
        tok = out[0]["token"]
        eq(len(tok), n, "the fake's token length")
        big, exact, one, query, roomy = out[1:]
        eq((big["rc"], big["needed"], big["buf"], big["guards_ok"]), ("ok", n, tok, True), "fits: %r" % big)
        for r in (exact, one):
            eq(r["rc"], "buffer_too_small", "%r" % r)
            eq(r["needed"], n, "the length without its NUL is reported: %r" % r)
            eq(r["guards_ok"], True, "nothing written outside the buffer: %r" % r)
            eq((r["nul_at"], r.get("buf")), (0, ""), "an empty string, not a cut token or old bytes: %r" % r)
            check("%d bytes" % (n + 1) in r["msg"], "says what it needs: %r" % r["msg"])
        eq((query["rc"], query["needed"]), ("buffer_too_small", n), "buf NULL, len 0 asks the size: %r" % query)
        eq((roomy["rc"], roomy["buf"], roomy["guards_ok"]), ("ok", tok, True), "%r" % roomy)
        # No token at all: the buffer holds an empty string and needed is 0.
        out = self.run_probe("copy:64", path="/bad/e500", extra=["--retries", "-1"])
        eq((out[0]["rc"], out[0]["needed"], out[0]["nul_at"], out[0]["guards_ok"]),
           ("server_error", 0, 0, True), "%r" % out[0])

    def test_call_signs_requests(self):
        out = self.run_probe("call:" + self.f.base + "/api/echo", "call:" + self.f.base + "/api/echo",
                             extra=["--tenant", "acme"])
        eq([x["rc"] for x in out], ["ok", "ok"], "%r" % out)
        import json
        seen = [json.loads(x["body"]) for x in out]
        check(seen[0]["authorization"].startswith("Bearer eyJ"), "Bearer: %r" % seen[0])
        eq(seen[0]["x-tenant-id"], "acme", "X-TENANT-ID")
        check(UUID4.match(seen[0]["x-request-id"]), "a UUID v4 X-Request-ID")
        check(seen[0]["x-request-id"] != seen[1]["x-request-id"], "a fresh one per call")
        eq(seen[0]["x-request-id"], out[0]["request_id"], "reported to the caller")

    def test_call_401_refreshes_once(self):
        before = self.f.hits("/ok/")
        out = self.run_probe("get", "call:" + self.f.base + "/api/401first", "stats")
        eq(out[1]["rc"], "ok", "401, refresh, retry: %r" % out)
        eq(out[1]["attempts"], 2, "two API requests")
        eq(self.f.hits("/ok/") - before, 2, "one new token")
        eq(self.f.hits("/api/401first"), 2, "retried once")
        import json
        check(json.loads(out[1]["body"])["authorization"] != "Bearer " + out[0]["token"],
              "the retry carried the new token")

        before = self.f.hits("/ok/")
        api_before = self.f.hits("/api/always401")
        out = self.run_probe("call:" + self.f.base + "/api/always401")
        eq((out[0]["rc"], out[0]["status"]), ("unauthorized", 401), "%r" % out)
        eq(self.f.hits("/api/always401") - api_before, 2, "one retry only")
        eq(self.f.hits("/ok/") - before, 2, "one refresh only")
        check("after a token refresh" in out[0]["msg"], out[0]["msg"])

    def test_call_401_storm_holds_off_refreshes(self):
        # An API that refuses every token: the first 401 refreshes the token
        # once; the fresh token refused too means a new one will not help, so
        # later 401s reach the caller without a token request (the old code
        # fetched a token per call and used up the issuance rate limit).
        api = "call:" + self.f.base + "/api/always401"
        before = self.f.hits("/ok/")
        out = self.run_probe(api, api, api, api, api, "stats")
        eq([(x["rc"], x["status"]) for x in out[:5]], [("unauthorized", 401)] * 5, "%r" % out)
        eq(self.f.hits("/ok/") - before, 2, "the first token and one refresh, not one per call")
        eq([x["attempts"] for x in out[:5]], [2, 1, 1, 1, 1], "only the first call retried")
        check("not refreshed" in out[1]["msg"] and "60 s" in out[1]["msg"], "says why: %r" % out[1]["msg"])
        # The hold-off is bounded: after it, one more refresh (again refused).
        before = self.f.hits("/ok/")
        out = self.run_probe(api, api, "sleep:700", api, api, extra=["--refresh-401-holdoff-ms", "500"])
        eq([x["status"] for x in out], [401] * 4, "%r" % out)
        eq([x["attempts"] for x in out], [2, 1, 2, 1], "a refresh again once the hold-off ended")
        eq(self.f.hits("/ok/") - before, 3, "one refresh per hold-off")
        # A caller with its own HTTP client reports its 401s through
        # gh_client_token_invalidate(token): the same rule.
        before = self.f.hits("/ok/")
        out = self.run_probe("refuse", "refuse", "refuse", "refuse", "get")
        eq(out[-1]["rc"], "ok", "%r" % out)
        eq(self.f.hits("/ok/") - before, 2, "the first token and one refresh, then the hold-off")

    def test_call_401_concurrent_callers_share_one_refresh(self):
        # Two waves of 16 threads calling an API that refuses every token:
        # the first wave shares the first token and one refresh; the second
        # wave finds the refreshed token refused and refreshes nothing.
        self.f.delay = 0.3          # slow token requests: every caller meets the one in flight
        try:
            before = self.f.hits("/ok/")
            out = self.run_probe("callconc:16:" + self.f.base + "/api/always401",
                                 "callconc:16:" + self.f.base + "/api/always401")
        finally:
            self.f.delay = 0
        eq(out[0]["statuses"], [401] * 16, "%r" % out[0])
        eq(out[1]["statuses"], [401] * 16, "%r" % out[1])
        eq(out[0]["token_requests"], 2, "one token, then one refresh shared by 16 callers")
        eq(out[1]["token_requests"], 2, "no refresh in the second wave")
        eq(self.f.hits("/ok/") - before, 2, "two token requests at the server")

    def test_call_401_then_failed_refresh_keeps_the_answer(self):
        # The refresh after a 401 fails: the error is the token fetch's, and
        # the caller still has the API's 401 (any answer received is kept).
        out = self.run_probe("call:" + self.f.base + "/api/always401",
                             path="/bad/okthen500/after401", extra=["--retries", "-1"])
        eq((out[0]["rc"], out[0]["status"]), ("server_error", 401), "%r" % out)
        check("invalid_token" in out[0]["body"], "the 401's body: %r" % out[0]["body"])

    def test_call_401_then_passing_refresh_failure_refreshes_again_soon(self):
        # The refresh after a 401 meets a 500 (the token server restarting):
        # the next 401 refreshes once the backoff has passed, not after the
        # 60 s hold-off for an API that refuses fresh tokens too.
        api = "call:" + self.f.base + "/api/refusefirst"
        out = self.run_probe(api, api, "sleep:400", api, path="/bad/okthen500once/x",
                             extra=["--retries", "-1", "--backoff-max-ms", "200"])
        eq((out[0]["rc"], out[0]["status"]), ("server_error", 401), "%r" % out[0])
        eq((out[1]["rc"], out[1]["attempts"]), ("unauthorized", 1), "within the backoff: %r" % out[1])
        check("token request after a 401 failed (server_error)" in out[1]["msg"],
              "says why, not that a fresh token was refused: %r" % out[1]["msg"])
        eq((out[2]["rc"], out[2]["status"], out[2]["attempts"]), ("ok", 200, 2),
           "refreshed and retried: %r" % out[2])

    def test_call_error_never_shows_the_token(self):
        out = self.run_probe("get", "call:" + self.f.base + "/api/echo403")
        tok = out[0]["token"]
        eq((out[1]["rc"], out[1]["status"]), ("rejected", 403), "%r" % out[1])
        check("denied yyy" in out[1]["msg"], "the body is quoted: %r" % out[1]["msg"])
        check(tok[:24] not in out[1]["msg"] and tok[-24:] not in out[1]["msg"],
              "no part of the token: %r" % out[1]["msg"])
        check(out[1]["body"].endswith(tok), "the caller still gets the whole body")

    def test_call_retries(self):
        out = self.run_probe("call:" + self.f.base + "/api/e500",
                             extra=["--retries", "2", "--backoff-ms", "20", "--backoff-max-ms", "50"])
        eq((out[0]["rc"], out[0]["attempts"]), ("server_error", 3), "5xx retried: %r" % out)
        eq(self.f.hits("/api/e500"), 3, "three requests")
        with self.f.lock:
            rids = [h.get("x-request-id") for p, h, _ in self.f.reqs if p == "/api/e500"]
        eq(len(set(rids[-3:])), 1, "the retries repeat the call's X-Request-ID: %r" % rids)
        out = self.run_probe("call:" + self.f.base + "/api/e404")
        eq((out[0]["rc"], out[0]["status"], out[0]["attempts"]), ("rejected", 404, 1), "404 not retried")
        check("not_found" in out[0]["msg"], "the body names the cause: %r" % out[0]["msg"])

    def test_call_deadline_bounds_retries(self):
        # The default deadline is timeout_ms x (retries + 1): 600 ms x 4. A
        # 503 with Retry-After: 1 is retried at 1 s and 2 s; the next retry
        # would start at 3 s, after the deadline, so it is not made (without
        # a deadline: four attempts, 3 s).
        before = self.f.hits("/api/e503ra1")
        out = self.run_probe("call:" + self.f.base + "/api/e503ra1", extra=["--timeout-ms", "600", "--retries", "3"])
        eq((out[0]["rc"], out[0]["status"], out[0]["attempts"]), ("server_error", 503, 3), "%r" % out)
        eq(self.f.hits("/api/e503ra1") - before, 3, "three requests")
        check(1900 <= out[0]["ms"] < 2700, "ended at the deadline (2.4 s), not after: %r" % out[0])
        check("deadline" in out[0]["msg"], "says why it stopped: %r" % out[0]["msg"])

    def test_call_deadline_covers_the_token_and_cuts_the_attempt(self):
        # The token takes 0.5 s, the API 1.5 s, the timeout is 5 s: with a
        # 900 ms deadline the API request gets what remains (~0.4 s).
        self.f.delay = 0.5
        try:
            out = self.run_probe("call:" + self.f.base + "/api/slow",
                                 extra=["--timeout-ms", "5000", "--deadline-ms", "900"])
        finally:
            self.f.delay = 0
        eq((out[0]["rc"], out[0]["attempts"]), ("timeout", 1), "%r" % out)
        check(850 <= out[0]["ms"] < 1300, "the whole call within the deadline: %r" % out[0])
        check("deadline" in out[0]["msg"], out[0]["msg"])
        # A deadline shorter than the token request alone: the get gives up.
        self.f.delay = 0.5
        try:
            out = self.run_probe("get", extra=["--deadline-ms", "200"])
        finally:
            self.f.delay = 0
        eq(out[0]["rc"], "timeout", "%r" % out)
        check(out[0]["ms"] < 600, "%r" % out[0])

    def test_post_not_sent_again_once_it_may_have_arrived(self):
        # A 5xx or a timeout may come after the API acted (a payout made):
        # a POST goes once, unless the caller marks it idempotent.
        fast = ["--retries", "2", "--backoff-ms", "20", "--backoff-max-ms", "50"]
        before = self.f.hits("/api/e500")
        out = self.run_probe("post:" + self.f.base + "/api/e500", extra=fast)
        eq((out[0]["rc"], out[0]["attempts"]), ("server_error", 1), "POST after a 500: %r" % out)
        eq(self.f.hits("/api/e500") - before, 1, "sent once")
        before = self.f.hits("/api/slow")
        out = self.run_probe("post:" + self.f.base + "/api/slow", extra=fast + ["--timeout-ms", "500"])
        eq((out[0]["rc"], out[0]["attempts"]), ("timeout", 1), "POST after a timeout: %r" % out)
        time.sleep(1.6)     # the fake finishes the request it was sent
        eq(self.f.hits("/api/slow") - before, 1, "sent once")
        before = self.f.hits("/api/e500")
        out = self.run_probe("postidem:" + self.f.base + "/api/e500", extra=fast)
        eq(out[0]["attempts"], 3, "an idempotent POST is retried: %r" % out)
        eq(self.f.hits("/api/e500") - before, 3, "three requests")
        # 503 with Retry-After: the server says it did not take it.
        before = self.f.hits("/api/e503ra")
        out = self.run_probe("post:" + self.f.base + "/api/e503ra", extra=fast)
        eq(out[0]["attempts"], 3, "a POST declined with Retry-After is retried: %r" % out)
        eq(self.f.hits("/api/e503ra") - before, 3, "three requests")


if __name__ == "__main__":
    Cache().run()
