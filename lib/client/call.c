/*
 * call.c — an API request signed with the cached token: Authorization:
 * Bearer (RFC 6750 §2.1), X-TENANT-ID, and one X-Request-ID per call that
 * its retries repeat, so that gatehouse can answer a retried state change
 * with its first answer instead of acting twice.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "extern.h"

static int
header_line_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	const char *p;

	if (colon == NULL || colon == h)
		return 0;
	for (p = h; p < colon; p++)	/* RFC 9110 §5.6.2 token */
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return 0;
	for (p = colon; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || (unsigned char)*p == 0x7f)
			return 0;
	return 1;
}

/* 1..max printable ASCII characters. */
static int
printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || n >= max)
			return 0;
	return n > 0;
}

static int
header_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

static int
method_ok(const char *m)
{
	size_t n = 0;

	for (; *m != '\0'; m++, n++)
		if (!isupper((unsigned char)*m) || n > 16)
			return 0;
	return n > 0;
}

void
gh_client_response_free(struct gh_client_response *r)
{
	if (r == NULL)
		return;
	/* An API may quote the bearer token, or return secrets of its own. */
	if (r->body != NULL)
		OPENSSL_cleanse(r->body, r->body_len);
	free(r->body);
	free(r->content_type);
	memset(r, 0, sizeof(*r));
}

/* Build the request's headers for token t; NULL when out of memory. */
static struct curl_slist *
headers_for(const struct gh_client_request *r, const struct gh_client_token *t,
    const char *tenant, const char *rid)
{
	struct curl_slist *h = NULL, *nh;
	struct ghc_buf b = { 0 };
	size_t i;

#define ADD(s) do { if ((nh = curl_slist_append(h, (s))) == NULL) goto fail; h = nh; } while (0)
	if (ghc_buf_append_str(&b, "Authorization: Bearer ") != 0 ||
	    ghc_buf_append(&b, t->value, t->len) != 0)
		goto fail;
	ADD(b.p);
	ghc_buf_free(&b);
	if (tenant != NULL) {
		if (ghc_buf_append_str(&b, "X-TENANT-ID: ") != 0 ||
		    ghc_buf_append_str(&b, tenant) != 0)
			goto fail;
		ADD(b.p);
		ghc_buf_free(&b);
	}
	if (ghc_buf_append_str(&b, "X-Request-ID: ") != 0 || ghc_buf_append_str(&b, rid) != 0)
		goto fail;
	ADD(b.p);
	ghc_buf_free(&b);
	if (r->body != NULL) {
		if (ghc_buf_append_str(&b, "Content-Type: ") != 0 ||
		    ghc_buf_append_str(&b, r->content_type ? r->content_type : "application/json"))
			goto fail;
		ADD(b.p);
		ghc_buf_free(&b);
	}
	ADD("Expect:");
	for (i = 0; r->headers != NULL && r->headers[i] != NULL; i++)
		ADD(r->headers[i]);
#undef ADD
	return h;
fail:
	ghc_buf_free(&b);
	for (nh = h; nh != NULL; nh = nh->next)
		OPENSSL_cleanse(nh->data, strlen(nh->data));
	curl_slist_free_all(h);
	return NULL;
}

/* RFC 9110 §9.2.2: sending these twice does what sending once does. */
static int
idempotent_method(const char *m)
{
	static const char *const safe[] = { "GET", "HEAD", "PUT", "DELETE", "OPTIONS" };

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(m, safe[i]) == 0)
			return 1;
	return 0;
}

/* r's extra headers: "Name: value" lines, none of them one the library sets. */
static enum gh_client_err
extra_headers_check(const struct gh_client_request *r, struct gh_client_error *err)
{
	size_t i;

	for (i = 0; r->headers != NULL && r->headers[i] != NULL; i++) {
		if (!header_line_ok(r->headers[i]))
			return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "extra header %zu is not a \"Name: value\" line", i);
		if (header_is(r->headers[i], "Authorization") ||
		    header_is(r->headers[i], "X-TENANT-ID") ||
		    header_is(r->headers[i], "X-Request-ID"))
			return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "extra header %zu sets a header the library sets itself", i);
	}
	return GH_CLIENT_OK;
}

/*
 * Check r before anything is sent. *methodp gets its method (GET if none),
 * *tenantp its tenant (NULL if none) and resp->request_id its request id
 * (a new UUID if none).
 */
static enum gh_client_err
call_check(const struct gh_client *c, const struct gh_client_request *r,
    struct gh_client_response *resp, const char **methodp, const char **tenantp,
    struct gh_client_error *err)
{
	enum gh_client_err rc;
	const char *tenant, *method;

	method = r->method != NULL ? r->method : "GET";
	if (!method_ok(method))
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "method must be an upper-case token such as GET or POST");
	if ((rc = ghc_check_url(c, r->url, err)) != GH_CLIENT_OK)
		return rc;
	if (r->body == NULL && r->body_len != 0)
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "body_len without a body");
	if (r->content_type != NULL && !printable(r->content_type, 256))
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "content_type is too long or has control characters");
	if ((rc = extra_headers_check(r, err)) != GH_CLIENT_OK)
		return rc;
	if (r->request_id != NULL) {
		if (*r->request_id == '\0' ||
		    !printable(r->request_id, sizeof(resp->request_id) - 1))
			return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "request_id must be 1-36 printable characters");
		memcpy(resp->request_id, r->request_id, strlen(r->request_id) + 1);
	} else if (gh_client_uuid4(resp->request_id) != GH_CLIENT_OK) {
		return ghc_fail(err, GH_CLIENT_ERR_NO_MEMORY, 0, "no randomness for X-Request-ID");
	}
	tenant = r->tenant != NULL ? r->tenant : c->tenant;
	if (tenant != NULL && *tenant == '\0')
		tenant = NULL;
	if (tenant != NULL && !printable(tenant, 256))
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "tenant is too long or has control characters");
	*methodp = method;
	*tenantp = tenant;
	return GH_CLIENT_OK;
}

/* Send r with token t, retrying as ghc_http_do does: *attempts counts the attempts. */
static enum gh_client_err
call_send(struct gh_client *c, const struct gh_client_request *r, const char *method,
    const char *tenant, const struct gh_client_token *t, const char *rid,
    struct ghc_http_resp *hr, int *attempts, struct gh_client_error *err, int64_t deadline)
{
	struct ghc_http_req req = { 0 };
	struct curl_slist *h, *nh;
	enum gh_client_err rc;

	if ((h = headers_for(r, t, tenant, rid)) == NULL)
		return ghc_fail(err, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	req.method = method;
	req.url = r->url;
	req.headers = h;
	req.body = r->body;
	req.body_len = r->body_len;
	req.idempotent = r->idempotent || idempotent_method(method);
	rc = ghc_http_do(c, &req, hr, err, NULL, deadline);
	*attempts += hr->attempts;
	for (nh = h; nh != NULL; nh = nh->next)	/* the bearer token */
		OPENSSL_cleanse(nh->data, strlen(nh->data));
	curl_slist_free_all(h);
	return rc;
}

/*
 * The API answered 401 to *t, the first time. 1: send again with the new
 * token now in *t. 0: hand the 401 out, with *held set (the hold-off kept
 * the token) or *refresh_rc (the refresh failed), why saying why.
 */
static int
call_refresh_401(struct gh_client *c, const struct gh_client_request *r,
    struct gh_client_token **t, int *held, enum gh_client_err *refresh_rc,
    struct gh_client_error *why, int64_t deadline)
{
	struct gh_client_token *nt = NULL;
	enum gh_client_err rc;

	/*
	 * 401: the token may have been revoked or the server's clock runs
	 * ahead. Fetch a new one (once for every caller refused this
	 * token) and try once more, unless the hold-off says a new token
	 * would be refused as well.
	 */
	rc = ghc_token_refused(c, r->scope, r->tenant, *t, &nt, why, deadline);
	if (rc == GH_CLIENT_ERR_UNAUTHORIZED) {
		*held = 1;	/* this 401 goes to the caller as it is */
		return 0;
	}
	if (rc != GH_CLIENT_OK) {
		*refresh_rc = rc;	/* the caller hands the API's 401 out too */
		return 0;
	}
	gh_client_token_release(*t);
	*t = nt;
	return 1;
}

/* The answer's body and Content-Type, taken from hr into resp. */
static enum gh_client_err
response_take(struct gh_client_response *resp, struct ghc_http_resp *hr,
    struct gh_client_error *err)
{
	resp->status = hr->status;
	resp->body = hr->body.p != NULL ? hr->body.p : calloc(1, 1);
	resp->body_len = hr->body.len;
	hr->body.p = NULL;
	hr->body.len = hr->body.cap = 0;
	resp->content_type = hr->content_type;
	hr->content_type = NULL;
	if (resp->body == NULL)
		return ghc_fail(err, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	return GH_CLIENT_OK;
}

/*
 * The error of an API answer other than 2xx (GH_CLIENT_OK for a 2xx),
 * whose body resp now holds; tries401 and held (why) say what the 401
 * handling did.
 */
static enum gh_client_err
status_fail(const struct gh_client *c, const struct gh_client_request *r, const char *method,
    const struct gh_client_token *t, const struct ghc_http_resp *hr,
    const struct gh_client_response *resp, int tries401, int held,
    const struct gh_client_error *why, struct gh_client_error *err)
{
	struct ghc_redactions red;
	enum gh_client_err rc;
	char detail[200], note[96];

	if ((rc = ghc_status_err(hr->status)) != GH_CLIENT_OK) {
		/* An API may echo the Authorization header: redact before cutting. */
		ghc_client_redactions(c, t, &red);
		ghc_sanitize(detail, sizeof(detail), resp->body, resp->body_len, &red);
		if (rc == GH_CLIENT_ERR_REDIRECT)
			ghc_fail(err, rc, hr->status, "%s %s answered %ld (redirect, not followed)",
			    method, r->url, hr->status);
		else if (rc == GH_CLIENT_ERR_RATE_LIMITED && hr->retry_after_ms > c->retry_after_max_ms)
			ghc_fail(err, rc, hr->status, "%s %s answered 429 with Retry-After %ld s, "
			    "longer than the %ld ms this client waits", method, r->url,
			    hr->retry_after_ms / 1000, c->retry_after_max_ms);
		else
			ghc_fail(err, rc, hr->status, "%s %s answered %ld%s%s%s%s%s%s%s", method,
			    r->url, hr->status, tries401 > 1 ? " after a token refresh" : "",
			    ghc_deadline_note(c, hr, note, sizeof(note)), held ? " (" : "",
			    held ? why->message : "", held ? ")" : "", detail[0] ? ": " : "", detail);
	}
	return rc;
}

enum gh_client_err
gh_client_call(struct gh_client *c, const struct gh_client_request *r,
    struct gh_client_response *resp, struct gh_client_error *err)
{
	struct gh_client_token *t = NULL;
	struct gh_client_error why = { 0 };	/* of the token refresh after a 401 */
	struct ghc_redactions red;
	struct ghc_http_resp hr = { 0 };
	enum gh_client_err rc, refresh_rc = GH_CLIENT_OK;
	const char *tenant = NULL, *method = NULL;
	int tries401 = 0, attempts = 0, held = 0;
	int64_t deadline;

	if (resp != NULL)
		memset(resp, 0, sizeof(*resp));
	if (c == NULL || r == NULL || resp == NULL)
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "no client, request or response");
	if ((rc = call_check(c, r, resp, &method, &tenant, err)) != GH_CLIENT_OK)
		return rc;
	atomic_fetch_add(&c->st_api_calls, 1);
	/* One deadline for the whole call: token, attempts, waits, the 401 refresh. */
	deadline = ghc_now_ns() + c->deadline_ns;

	if ((rc = ghc_token_get(c, r->scope, r->tenant, &t, err, deadline)) != GH_CLIENT_OK)
		goto out;
	for (;;) {
		if ((rc = call_send(c, r, method, tenant, t, resp->request_id, &hr, &attempts, err,
		    deadline)) != GH_CLIENT_OK)
			goto out;
		if (hr.status != 401)
			break;
		if (tries401++ > 0) {
			/* The token fetched after the first 401 is refused too. */
			ghc_token_refused_again(c, r->scope, r->tenant, t);
			break;
		}
		if (!call_refresh_401(c, r, &t, &held, &refresh_rc, &why, deadline))
			break;
		ghc_http_resp_free(&hr);
	}
	if ((rc = response_take(resp, &hr, err)) != GH_CLIENT_OK)
		goto out;
	if (refresh_rc != GH_CLIENT_OK) {
		/* The refresh after a 401 failed: its error, and the API's 401
		 * (the header promises any answer received). */
		if (err != NULL)
			*err = why;
		rc = refresh_rc;
		goto out;
	}
	rc = status_fail(c, r, method, t, &hr, resp, tries401, held, &why, err);
out:
	resp->attempts = attempts;
	ghc_client_redactions(c, t, &red);
	ghc_redact(err, &red);
	gh_client_token_release(t);
	ghc_http_resp_free(&hr);
	return rc;
}
