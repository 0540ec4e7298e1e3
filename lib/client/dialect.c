/*
 * dialect.c — the token request of each dialect, table-driven, and the one
 * parser of token answers. Every dialect authenticates with a client id and
 * secret and answers with a bearer token and its lifetime; they differ only
 * in the path, the body's shape and where the credentials go.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "extern.h"

enum body_kind { BODY_FORM, BODY_JSON };
enum answer_kind { ANSWER_OAUTH, ANSWER_PAPAYA };

struct dialect {
	const char	*name;
	const char	*alias;
	const char	*path;
	enum body_kind	 body;
	enum answer_kind answer;
	int		 basic;		/* credentials in Authorization: Basic */
	int		 basic_encode;	/* form-urlencode id and secret first (RFC 6749 §2.3.1) */
	const char	*id_key;	/* body member names (NULL: not in the body) */
	const char	*secret_key;
	const char	*grant_key;
	int		 scope_ok;	/* the dialect can carry a scope */
};

static const struct dialect dialects[GH_CLIENT_DIALECT__MAX] = {
	[GH_CLIENT_DIALECT_OAUTH_BASIC] = { "oauth-basic", NULL, "/oauth/token", BODY_FORM,
	    ANSWER_OAUTH, 1, 1, NULL, NULL, "grant_type", 1 },
	[GH_CLIENT_DIALECT_OAUTH_POST] = { "oauth-post", NULL, "/oauth/token", BODY_FORM,
	    ANSWER_OAUTH, 0, 0, "client_id", "client_secret", "grant_type", 1 },
	[GH_CLIENT_DIALECT_M2P] = { "m2p", "000", "/auth/token", BODY_JSON,
	    ANSWER_OAUTH, 0, 0, "clientId", "clientSecret", "grantType", 1 },
	[GH_CLIENT_DIALECT_PARTNER] = { "partner", "001", "/api/oauth/token", BODY_JSON,
	    ANSWER_OAUTH, 0, 0, "client_id", "client_secret", "grant_type", 1 },
	[GH_CLIENT_DIALECT_PAPAYA] = { "papaya", "002", "/token", BODY_JSON,
	    ANSWER_PAPAYA, 0, 0, "api_key", "client_secret", NULL, 0 },
	/* Seed 003 says: base64 of "ClientId:ApiKey" as they are, no form encoding. */
	[GH_CLIENT_DIALECT_MANGOPAY] = { "mangopay", "003", "/v2.01/oauth/token", BODY_FORM,
	    ANSWER_OAUTH, 1, 0, NULL, NULL, "grant_type", 1 },
};

const char *
gh_client_dialect_name(enum gh_client_dialect d)
{
	if ((int)d < 0 || d >= GH_CLIENT_DIALECT__MAX)
		return NULL;
	return dialects[d].name;
}

const char *
gh_client_dialect_path(enum gh_client_dialect d)
{
	if ((int)d < 0 || d >= GH_CLIENT_DIALECT__MAX)
		return NULL;
	return dialects[d].path;
}

enum gh_client_err
gh_client_dialect_parse(const char *name, enum gh_client_dialect *out)
{
	int i;

	if (name == NULL || out == NULL)
		return GH_CLIENT_ERR_INVALID_ARGUMENT;
	for (i = 0; i < GH_CLIENT_DIALECT__MAX; i++) {
		if (strcmp(name, dialects[i].name) == 0 ||
		    (dialects[i].alias != NULL && strcmp(name, dialects[i].alias) == 0)) {
			*out = (enum gh_client_dialect)i;
			return GH_CLIENT_OK;
		}
	}
	return GH_CLIENT_ERR_INVALID_ARGUMENT;
}

/* s escaped as inside a JSON string (RFC 8259 §7), '/' as "\/" too when
 * slash (as some JSON writers do), appended to b. */
static int
json_chars(struct ghc_buf *b, const char *s, int slash)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

		if (ch == '"' || ch == '\\' || (slash && ch == '/')) {
			esc[1] = (char)ch;
			if (ghc_buf_append(b, esc, 2) != 0)
				return -1;
		} else if (ch < 0x20) {
			if (ghc_buf_append(b, esc, 6) != 0)
				return -1;
		} else if (ghc_buf_append(b, s, 1) != 0) {
			return -1;
		}
	}
	return 0;
}

/* A JSON string literal, escaped (RFC 8259 §7), appended to b. */
static int
json_str(struct ghc_buf *b, const char *s)
{
	if (ghc_buf_append(b, "\"", 1) != 0 || json_chars(b, s, 0) != 0)
		return -1;
	return ghc_buf_append(b, "\"", 1);
}

static int
json_member(struct ghc_buf *b, int *first, const char *key, const char *val)
{
	if (ghc_buf_append_str(b, *first ? "{" : ",") != 0 || json_str(b, key) != 0 ||
	    ghc_buf_append(b, ":", 1) != 0 || json_str(b, val) != 0)
		return -1;
	*first = 0;
	return 0;
}

static int
form_member(struct ghc_buf *b, const char *key, const char *val)
{
	if ((b->len > 0 && ghc_buf_append(b, "&", 1) != 0) || ghc_form_encode(b, key) != 0 ||
	    ghc_buf_append(b, "=", 1) != 0 || ghc_form_encode(b, val) != 0)
		return -1;
	return 0;
}

/* base64(id:secret), each form-urlencoded first when encode (RFC 6749
 * §2.3.1): malloc'd, for the caller to wipe and free; NULL on failure. */
static char *
basic_credentials(const struct gh_client *c, int encode)
{
	struct ghc_buf raw = { 0 };
	char *b64 = NULL;

	if ((encode ? ghc_form_encode(&raw, c->client_id) : ghc_buf_append_str(&raw,
	    c->client_id)) == 0 && ghc_buf_append(&raw, ":", 1) == 0 &&
	    (encode ? ghc_form_encode(&raw, c->client_secret) : ghc_buf_append_str(&raw,
	    c->client_secret)) == 0)
		b64 = ghc_base64(raw.p, raw.len);
	ghc_buf_free(&raw);
	return b64;
}

/* "Basic base64(id:secret)", in a buffer the caller wipes. */
static int
basic_header(const struct gh_client *c, int encode, struct ghc_buf *out)
{
	char *b64 = basic_credentials(c, encode);
	int rc = -1;

	if (b64 != NULL && ghc_buf_append_str(out, "Authorization: Basic ") == 0 &&
	    ghc_buf_append_str(out, b64) == 0)
		rc = 0;
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return rc;
}

/* Keep b's block as one of c's forms (b gives it up) unless it is the
 * secret as is or a form already kept; the caller frees what b holds. */
static void
form_keep(struct gh_client *c, struct ghc_buf *b)
{
	size_t i;

	if (b->len == c->secret_len && memcmp(b->p, c->client_secret, b->len) == 0)
		return;
	for (i = 0; i < c->nforms; i++)
		if (c->forms_len[i] == b->len && memcmp(c->forms[i], b->p, b->len) == 0)
			return;
	/* A ghc_buf's block is its own malloc, kept as is. */
	c->forms[c->nforms] = b->p;
	c->forms_len[c->nforms++] = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
}

/*
 * The client secret in each form a server may echo it besides as is:
 * form-encoded (a client_secret_post body), JSON-escaped as a JSON body
 * sends it ('"' and '\\' escaped), each of those and the secret with '/'
 * escaped as some JSON writers do, and inside the base64 of the dialect's
 * Basic credentials. Computed once, so that every message is redacted of
 * all of them before anything cuts it.
 */
int
ghc_secret_forms(struct gh_client *c)
{
	const struct dialect *d = &dialects[c->dialect];
	struct ghc_buf f = { 0 }, j = { 0 }, js = { 0 }, s = { 0 };
	char *b64 = NULL;
	int rc = -1;

	if (ghc_form_encode(&f, c->client_secret) != 0 ||
	    json_chars(&j, c->client_secret, 0) != 0 || json_chars(&js, c->client_secret, 1) != 0)
		goto out;
	for (const char *p = c->client_secret; *p != '\0'; p++)
		if ((*p == '/' ? ghc_buf_append(&s, "\\/", 2) : ghc_buf_append(&s, p, 1)) != 0)
			goto out;
	if (d->basic && (b64 = basic_credentials(c, d->basic_encode)) == NULL)
		goto out;
	form_keep(c, &f);
	form_keep(c, &j);
	form_keep(c, &js);
	form_keep(c, &s);
	if (b64 != NULL) {
		c->forms[c->nforms] = b64;
		c->forms_len[c->nforms++] = strlen(b64);
		b64 = NULL;
	}
	rc = 0;
out:
	ghc_buf_free(&f);
	ghc_buf_free(&j);
	ghc_buf_free(&js);
	ghc_buf_free(&s);
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	return rc;
}

void
ghc_secret_forms_free(struct gh_client *c)
{
	size_t i;

	for (i = 0; i < c->nforms; i++) {
		OPENSSL_cleanse(c->forms[i], c->forms_len[i]);
		free(c->forms[i]);
		c->forms[i] = NULL;
	}
	c->nforms = 0;
}

void
ghc_client_redactions(const struct gh_client *c, const struct gh_client_token *t,
    struct ghc_redactions *r)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	ghc_redactions_add(r, c->client_secret, c->secret_len);
	for (i = 0; i < c->nforms; i++)
		ghc_redactions_add(r, c->forms[i], c->forms_len[i]);
	if (t != NULL)
		ghc_redactions_add(r, t->value, t->len);
}

void
ghc_redact_secret(const struct gh_client *c, struct gh_client_error *e)
{
	struct ghc_redactions r;

	ghc_client_redactions(c, NULL, &r);
	ghc_redact(e, &r);
}

static int
build_body(const struct gh_client *c, const struct dialect *d, const char *scope,
    struct ghc_buf *b)
{
	int first = 1;
	char num[48];

	if (d->body == BODY_FORM) {
		if (form_member(b, d->grant_key, "client_credentials") != 0)
			return -1;
		if (d->id_key != NULL && (form_member(b, d->id_key, c->client_id) != 0 ||
		    form_member(b, d->secret_key, c->client_secret) != 0))
			return -1;
		if (scope != NULL && form_member(b, "scope", scope) != 0)
			return -1;
		return 0;
	}
	if (d->grant_key != NULL && json_member(b, &first, d->grant_key, "client_credentials"))
		return -1;
	if (json_member(b, &first, d->id_key, c->client_id) != 0 ||
	    json_member(b, &first, d->secret_key, c->client_secret) != 0)
		return -1;
	if (scope != NULL && json_member(b, &first, "scope", scope) != 0)
		return -1;
	if (d->answer == ANSWER_PAPAYA) {
		if (c->token_expiration > 0) {
			(void)snprintf(num, sizeof(num), ",\"expiration\":%ld", c->token_expiration);
			if (ghc_buf_append_str(b, num) != 0)
				return -1;
		}
		if (c->token_name != NULL && json_member(b, &first, "token_name", c->token_name))
			return -1;
	}
	return ghc_buf_append(b, "}", 1);
}

/*
 * Wipe every string value in j, in place, before json_decref frees them:
 * token answers hold the token (and may hold others), and refused requests'
 * answers may quote the secret. jansson's own buffers (its lexer's) are
 * beyond reach; changing its allocator is global to the program, which is
 * the application's choice to make (json_set_alloc_funcs), not ours.
 */
static void
json_wipe(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			json_wipe(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_wipe(v);
	}
}

/* What a refused token request's body says, for the message: RFC 6749 §5.2, or 003's. */
static void
error_detail(const struct gh_client *c, const char *body, size_t len, char *out, size_t outlen)
{
	struct ghc_redactions r;
	json_t *j, *v, *d;
	char a[160], b[240];

	out[0] = '\0';
	if (body == NULL || len == 0 ||
	    (j = json_loadb(body, len, 0, NULL)) == NULL)
		return;
	if (json_is_object(j)) {
		v = json_object_get(j, "error");
		d = json_object_get(j, "error_description");
		if (!json_is_string(v)) {
			v = json_object_get(j, "Type");
			d = json_object_get(j, "Message");
		}
		if (!json_is_string(v) && !json_is_string(d))
			d = json_object_get(j, "message");
		a[0] = b[0] = '\0';
		ghc_client_redactions(c, NULL, &r);
		if (json_is_string(v))
			ghc_sanitize(a, sizeof(a), json_string_value(v), json_string_length(v), &r);
		if (json_is_string(d))
			ghc_sanitize(b, sizeof(b), json_string_value(d), json_string_length(d), &r);
		if (a[0] && b[0])
			snprintf(out, outlen, ": %s: %s", a, b);
		else if (a[0] || b[0])
			snprintf(out, outlen, ": %s", a[0] ? a : b);
	}
	json_wipe(j);
	json_decref(j);
}

/* The token member of answer j: a non-empty string a bearer token can be, in *t. */
static enum gh_client_err
answer_token_member(json_t *j, const char *tok_key, json_t **t, struct gh_client_error *e)
{
	*t = json_object_get(j, tok_key);
	if (*t == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "the token endpoint's answer has no \"%s\"", tok_key);
	if (!json_is_string(*t) || json_string_length(*t) == 0)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "\"%s\" in the answer is not a non-empty string", tok_key);
	if (json_string_length(*t) > GH_CLIENT_TOKEN_MAX)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "the token is longer than %d bytes", GH_CLIENT_TOKEN_MAX);
	/* RFC 6750 §2.1: it goes into a header; CR, LF, spaces would split it. */
	if (!ghc_token_syntax_ok(json_string_value(*t), json_string_length(*t)))
		return ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "the token has characters a bearer token cannot have (RFC 6750 §2.1)");
	return GH_CLIENT_OK;
}

static enum gh_client_err
oauth_token_type(json_t *j, const struct ghc_redactions *r, struct gh_client_error *e)
{
	json_t *tt;
	char why[128];

	/* RFC 6749 §5.1: token_type is case-insensitive; 003 sends "bearer". */
	tt = json_object_get(j, "token_type");
	if (tt != NULL && (!json_is_string(tt) ||
	    strcasecmp(json_string_value(tt), "bearer") != 0)) {
		if (json_is_string(tt))
			ghc_sanitize(why, 40, json_string_value(tt), json_string_length(tt), r);
		else
			snprintf(why, sizeof(why), "(not a string)");
		return ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "token_type %s is not Bearer", why);
	}
	return GH_CLIENT_OK;
}

/* expires_in (RFC 6749 §5.1), counted from now_wall: *life and *expires_wall. */
static enum gh_client_err
oauth_lifetime(json_t *j, int64_t now_wall, int64_t *life, int64_t *expires_wall,
    struct gh_client_error *e)
{
	json_t *ex;

	ex = json_object_get(j, "expires_in");
	if (ex == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "the answer has no expires_in; the lifetime is never assumed");
	if (json_is_integer(ex)) {
		*life = json_integer_value(ex);
	} else if (json_is_real(ex)) {
		double v = json_real_value(ex);

		if (!isfinite(v) || v != floor(v) || v < -1e15 || v > 1e15)
			return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
			    "expires_in is not a whole number of seconds");
		*life = (int64_t)v;
	} else {
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "expires_in is not a number");
	}
	if (*life <= 0)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "expires_in %lld is not positive", (long long)*life);
	if (*life > GHC_MAX_LIFETIME_S)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "expires_in %lld is longer than %ld seconds", (long long)*life,
		    GHC_MAX_LIFETIME_S);
	*expires_wall = now_wall + *life;
	return GH_CLIENT_OK;
}

/* 002's valid_until, an absolute time: *life from now_wall, and *expires_wall. */
static enum gh_client_err
papaya_lifetime(json_t *j, int64_t now_wall, const struct ghc_redactions *r, int64_t *life,
    int64_t *expires_wall, struct gh_client_error *e)
{
	json_t *ex;
	char why[128];
	int64_t vu = 0;

	ex = json_object_get(j, "valid_until");
	if (ex == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "the answer has no valid_until; the lifetime is never assumed");
	if (!json_is_string(ex) || ghc_parse_iso8601(json_string_value(ex), &vu) != 0) {
		if (json_is_string(ex))
			ghc_sanitize(why, 48, json_string_value(ex), json_string_length(ex), r);
		else
			snprintf(why, sizeof(why), "(not a string)");
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "valid_until %s is not an ISO 8601 UTC time", why);
	}
	*life = vu - now_wall;
	if (*life <= 0)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "valid_until %s is not in the future", json_string_value(ex));
	if (*life > GHC_MAX_LIFETIME_S)
		return ghc_fail(e, GH_CLIENT_ERR_BAD_LIFETIME, 0,
		    "valid_until %s is more than %ld seconds away", json_string_value(ex),
		    GHC_MAX_LIFETIME_S);
	*expires_wall = vu;
	return GH_CLIENT_OK;
}

enum gh_client_err
ghc_token_parse(enum gh_client_dialect dialect, const char *body, size_t len, int64_t now_wall,
    const struct ghc_redactions *r, char **token, int64_t *lifetime_s,
    int64_t *expires_wall, struct gh_client_error *e)
{
	const struct dialect *d = &dialects[dialect];
	enum gh_client_err rc;
	json_error_t jerr;
	json_t *j = NULL, *t;
	const char *tok_key = d->answer == ANSWER_PAPAYA ? "token" : "access_token";
	char why[128];
	int64_t life = 0;

	*token = NULL;
	if (body == NULL || len == 0) {
		rc = ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0, "the token endpoint's answer is empty");
		goto out;
	}
	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		ghc_sanitize(why, sizeof(why), jerr.text, strlen(jerr.text), r);
		rc = ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "the token endpoint's answer is not JSON (line %d: %s)", jerr.line, why);
		goto out;
	}
	if (!json_is_object(j)) {
		rc = ghc_fail(e, GH_CLIENT_ERR_BAD_RESPONSE, 0,
		    "the token endpoint's answer is not a JSON object");
		goto out;
	}
	if ((rc = answer_token_member(j, tok_key, &t, e)) != GH_CLIENT_OK)
		goto out;
	if (d->answer == ANSWER_OAUTH) {
		if ((rc = oauth_token_type(j, r, e)) != GH_CLIENT_OK ||
		    (rc = oauth_lifetime(j, now_wall, &life, expires_wall, e)) != GH_CLIENT_OK)
			goto out;
	} else if ((rc = papaya_lifetime(j, now_wall, r, &life, expires_wall, e)) !=
	    GH_CLIENT_OK) {
		goto out;
	}
	if ((*token = strdup(json_string_value(t))) == NULL) {
		rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		goto out;
	}
	*lifetime_s = life;
	rc = GH_CLIENT_OK;
out:
	/* jansson does not wipe; the token would linger in freed memory. */
	if (j != NULL)
		json_wipe(j);
	json_decref(j);
	return rc;
}

/*
 * The token request's headers, appended to *h; hdr holds the X-TENANT-ID
 * line. 0, or -1 when out of memory: *h, and hdr, are the caller's to
 * free (wiping the Basic header) either way.
 */
static int
request_headers(const struct dialect *d, const char *auth, const char *tenant,
    struct ghc_buf *hdr, struct curl_slist **h)
{
	struct curl_slist *nh;

#define ADD(s) do { if ((nh = curl_slist_append(*h, (s))) == NULL) return -1; *h = nh; } while (0)
	ADD(d->body == BODY_FORM ? "Content-Type: application/x-www-form-urlencoded" :
	    "Content-Type: application/json");
	ADD("Accept: application/json");	/* 001 requires it; harmless elsewhere */
	ADD("Expect:");
	if (auth != NULL)
		ADD(auth);
	if (tenant != NULL) {
		if (ghc_buf_append_str(hdr, "X-TENANT-ID: ") != 0 ||
		    ghc_buf_append_str(hdr, tenant) != 0)
			return -1;
		ADD(hdr->p);
	}
#undef ADD
	return 0;
}

/* The error of a token endpoint's answer other than 2xx; a 429's Retry-After in *retry_after_ms. */
static enum gh_client_err
answer_error(const struct gh_client *c, const struct ghc_http_resp *resp,
    struct gh_client_error *e, long *retry_after_ms)
{
	enum gh_client_err rc;
	char detail[420], note[96];

	rc = ghc_status_err(resp->status);
	if (resp->status == 429)
		*retry_after_ms = resp->retry_after_ms;
	error_detail(c, resp->body.p, resp->body.len, detail, sizeof(detail));
	if (rc == GH_CLIENT_ERR_REDIRECT) {
		struct ghc_redactions r;
		char loc[200];

		ghc_client_redactions(c, NULL, &r);
		ghc_sanitize(loc, sizeof(loc), resp->location,
		    resp->location ? strlen(resp->location) : 0, &r);
		ghc_fail(e, rc, resp->status, "the token endpoint %s answered %ld with a "
		    "redirect to %s; redirects are not followed", c->token_url, resp->status,
		    loc[0] ? loc : "(no Location)");
	} else if (rc == GH_CLIENT_ERR_RATE_LIMITED && resp->retry_after_ms > c->retry_after_max_ms) {
		ghc_fail(e, rc, resp->status, "the token endpoint %s answered 429 with "
		    "Retry-After %ld s, longer than the %ld ms this client waits%s",
		    c->token_url, resp->retry_after_ms / 1000, c->retry_after_max_ms, detail);
	} else {
		ghc_fail(e, rc, resp->status, "the token endpoint %s answered %ld%s%s%s",
		    c->token_url, resp->status, detail,
		    resp->attempts > 1 ? " (after retries)" : "",
		    ghc_deadline_note(c, resp, note, sizeof(note)));
	}
	return rc;
}

/*
 * A snapshot of token, with one reference, expiring as life or expires_wall
 * say for a request sent at start_ns and answered at now_wall; NULL when
 * out of memory.
 */
static struct gh_client_token *
token_new(const struct gh_client *c, const struct dialect *d, const char *token, int64_t life,
    int64_t expires_wall, int64_t start_ns, int64_t now_wall)
{
	struct gh_client_token *tok;
	int64_t window, margin, life_ns, now_ns;

	if ((tok = malloc(sizeof(*tok) + strlen(token) + 1)) == NULL)
		return NULL;
	atomic_init(&tok->refs, 1);
	tok->forced = tok->refused = 0;	/* the cache marks a 401-forced one */
	tok->len = strlen(token);
	memcpy(tok->value, token, tok->len + 1);
	tok->expires_wall = expires_wall;
	/*
	 * expires_in counts from when the server answered; counting from before
	 * we asked is on the safe side. valid_until is absolute: count from now.
	 */
	now_ns = ghc_now_ns();
	if (d->answer == ANSWER_PAPAYA)
		tok->expires_ns = now_ns + (expires_wall - now_wall) * 1000000000LL;
	else
		tok->expires_ns = start_ns + life * 1000000000LL;
	/* Refresh when refresh_before remains, or at 80% of a short lifetime. */
	life_ns = tok->expires_ns - start_ns;
	window = c->refresh_before_ns;
	if (window > life_ns / 5)
		window = life_ns / 5;
	tok->refresh_ns = tok->expires_ns - window;
	/*
	 * Clock skew: a server whose clock runs ahead of ours (or a valid_until
	 * read by a clock that runs behind) ends the token before we would. So
	 * it is handed out only until a margin before it expires: 10% of its
	 * lifetime, at least 30 s, at most 60 s (as Spring Security and Authlib
	 * do; Go's oauth2 takes 10 s, google-auth 225 s), and never more than
	 * half the refresh window, so that on a short lifetime it stays 10% and
	 * a refresh always begins while the token is still handed out.
	 */
	margin = life_ns / 10;
	if (margin < GHC_SKEW_MIN_NS)
		margin = GHC_SKEW_MIN_NS;
	if (margin > GHC_SKEW_MAX_NS)
		margin = GHC_SKEW_MAX_NS;
	if (margin > window / 2)
		margin = window / 2;
	tok->usable_ns = tok->expires_ns - margin;
	return tok;
}

/* A token endpoint's 2xx answer to a request sent at start_ns and start_wall: the token in *out. */
static enum gh_client_err
answer_token(const struct gh_client *c, const struct dialect *d,
    const struct ghc_http_resp *resp, int64_t start_ns, int64_t start_wall,
    struct gh_client_token **out, struct gh_client_error *e)
{
	struct ghc_redactions red;
	enum gh_client_err rc;
	char *token = NULL;
	int64_t life = 0, expires_wall = 0, now_wall;

	now_wall = (int64_t)time(NULL);
	ghc_client_redactions(c, NULL, &red);
	if ((rc = ghc_token_parse(c->dialect, resp->body.p, resp->body.len,
	    d->answer == ANSWER_PAPAYA ? now_wall : start_wall, &red, &token, &life,
	    &expires_wall, e)) != GH_CLIENT_OK) {
		if (e != NULL)
			e->http_status = resp->status;
		goto out;
	}
	if ((*out = token_new(c, d, token, life, expires_wall, start_ns, now_wall)) == NULL) {
		rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		goto out;
	}
	rc = GH_CLIENT_OK;
out:
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	return rc;
}

enum gh_client_err
ghc_token_fetch(struct gh_client *c, const char *scope, const char *tenant,
    struct gh_client_token **out, struct gh_client_error *e, int64_t deadline_ns,
    long *retry_after_ms)
{
	const struct dialect *d = &dialects[c->dialect];
	struct ghc_buf body = { 0 }, auth = { 0 }, hdr = { 0 };
	struct ghc_http_resp resp = { 0 };
	struct ghc_http_req req = { 0 };
	struct curl_slist *h = NULL, *nh;
	enum gh_client_err rc;
	int64_t start_ns, start_wall;

	*out = NULL;
	*retry_after_ms = -1;
	if (scope != NULL && !d->scope_ok) {
		rc = ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "the %s dialect has no scope parameter", d->name);
		goto out;
	}
	if (build_body(c, d, scope, &body) != 0 ||
	    (d->basic && basic_header(c, d->basic_encode, &auth) != 0) ||
	    request_headers(d, auth.p, tenant, &hdr, &h) != 0) {
		rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		goto out;
	}
	req.method = "POST";
	req.url = c->token_url;
	req.headers = h;
	req.body = body.p;
	req.body_len = body.len;
	req.idempotent = 1;	/* a second token request only makes a second token */
	start_ns = ghc_now_ns();
	start_wall = (int64_t)time(NULL);
	if ((rc = ghc_http_do(c, &req, &resp, e, &c->st_token_requests, deadline_ns)) !=
	    GH_CLIENT_OK)
		goto out;
	if (resp.status < 200 || resp.status > 299)
		rc = answer_error(c, &resp, e, retry_after_ms);
	else
		rc = answer_token(c, d, &resp, start_ns, start_wall, out, e);
out:
	if (rc == GH_CLIENT_OK)
		atomic_fetch_add(&c->st_token_fetches, 1);
	else
		atomic_fetch_add(&c->st_token_failures, 1);
	for (nh = h; nh != NULL; nh = nh->next)	/* the Basic header */
		OPENSSL_cleanse(nh->data, strlen(nh->data));
	curl_slist_free_all(h);
	ghc_buf_free(&body);
	ghc_buf_free(&auth);
	ghc_buf_free(&hdr);
	ghc_http_resp_free(&resp);
	ghc_redact_secret(c, e);
	return rc;
}
