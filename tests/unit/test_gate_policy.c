/* test_gate_policy.c — the route policy: parsing with line-numbered errors,
 * path canonicalization (what could let a path slip past a rule), matching
 * order and patterns; the claim checks; and the token cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gate/cache.h"
#include "gate/claims.h"
#include "gate/policy.h"
#include "util/util.h"

static struct policy *
parse_ok(const char *text)
{
	struct policy *p = NULL;
	char err[2048];

	if (policy_parse(text, strlen(text), "t.policy", &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "unexpected: %s\n", err);
		fail();
	}
	return p;
}

static void
parse_bad(const char *text, const char *want)
{
	struct policy *p = NULL;
	char err[2048];

	assert_int_equal(policy_parse(text, strlen(text), "t.policy", &p, err, sizeof(err)), -1);
	assert_null(p);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
		fail();
	}
}

static void
test_parse_full_rule(void **state)
{
	struct policy *p = parse_ok(
	    "# comment\n"
	    "\n"
	    "GET,POST  /v1/cards/*/load  role=operator scopes=cards:write,cards:read env=any "
	    "aud=https://api.example critical errors=mangopay tenant=optional  # trailing\n"
	    "*\t/v1/**\n");
	const struct policy_rule *r;

	(void)state;
	assert_int_equal(p->n, 2);
	r = &p->rules[0];
	assert_int_equal(r->line, 3);
	assert_true(r->methods & (1u << HTTP_GET));
	assert_true(r->methods & (1u << HTTP_HEAD));	/* GET covers HEAD */
	assert_true(r->methods & (1u << HTTP_POST));
	assert_false(r->methods & (1u << HTTP_DELETE));
	assert_int_equal(r->role, POLICY_ROLE_OPERATOR);
	assert_int_equal(r->nscopes, 2);
	assert_string_equal(r->scope_text, "cards:write cards:read");
	assert_int_equal(r->env, POLICY_ENV_ANY);
	assert_string_equal(r->aud, "https://api.example");
	assert_true(r->critical);
	assert_int_equal(r->style, POLICY_STYLE_MANGOPAY);
	assert_true(r->tenant_optional);
	r = &p->rules[1];
	assert_int_equal(r->role, POLICY_ROLE_VIEWER);	/* defaults */
	assert_int_equal(r->env, POLICY_ENV_PRODUCTION);
	assert_int_equal(r->style, POLICY_STYLE_RFC6750);
	assert_false(r->tenant_optional);
	assert_null(r->aud);
	policy_unref(p);
}

static void
test_parse_errors_name_line_and_reason(void **state)
{
	(void)state;
	parse_bad("GET /a\nFETCH /b\n", "t.policy:2: unknown method \"FETCH\"");
	parse_bad("GET a/b\n", "t.policy:1: pattern \"a/b\": the path must start with '/'");
	parse_bad("GET /a role=root\n", "t.policy:1: role: \"root\" is not viewer, operator or admin");
	parse_bad("GET /a colour=red\n", "unknown option \"colour\"");
	parse_bad("GET /a role=admin role=viewer\n", "option role is given twice");
	parse_bad("GET /a/**/b\n", "'**' may only be the last segment");
	parse_bad("GET /a/x*\n", "stand for whole segments");
	parse_bad("GET /a/../b\n", "'.' or '..' segment");
	parse_bad("GET /a/%7euser\n", "not in canonical form; write \"/a/~user\"");
	parse_bad("GET\n", "expected \"METHOD PATH [option...]\"");
	parse_bad("GET /a scopes=\n", "option scopes needs a value");
	parse_bad("GET /a scopes=a,,b\n", "is not a scope");
	parse_bad("GET /a critical=yes\n", "critical takes no value");
	parse_bad("GET /a env=staging\n", "env: \"staging\"");
	parse_bad("GET /a errors=xml\n", "errors: \"xml\"");
	parse_bad("GET /a\nGET /a role=admin\n", "t.policy:2: \"/a\" is already decided by line 1");
	parse_bad("GET /a\x01\n", "control character");
	parse_bad("GET /a\xff\n", "invalid UTF-8");
	/* Every bad line is reported, not only the first. */
	parse_bad("GET /ok\nBAD /x\nGET /ok2\nGET /y role=x\n", "t.policy:2:");
	parse_bad("GET /ok\nBAD /x\nGET /ok2\nGET /y role=x\n", "t.policy:4:");
}

/* Regression: a pattern quoted cut short (%.60s) inside a two-byte
 * character made the error invalid UTF-8, and the log's
 * gate.policy_refused line lost its file and reason. */
static void
test_parse_error_is_utf8(void **state)
{
	char text[128], err[2048], *line, *save = NULL;
	struct policy *p = NULL;

	(void)state;
	/* "/" and 58 'a': the quote's 60th byte is the first of an e-acute. */
	snprintf(text, sizeof(text), "GET /%s\xc3\xa9\xc3\xa9\nBAD /x\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(policy_parse(text, strlen(text), "t.policy", &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.policy:1: pattern"));
	assert_non_null(strstr(err, "\nt.policy:2: unknown method"));
	for (line = strtok_r(err, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		assert_true(str_is_clean_utf8(line, strlen(line)));
	/* Cut at errlen inside a character (of the file's name) too. */
	assert_int_equal(policy_parse(text, strlen(text), "p\xc3\xa9.policy", &p, err, 3), -1);
	assert_true(str_is_clean_utf8(err, strlen(err)));
}

static void
test_parse_long_line(void **state)
{
	char *big = malloc(POLICY_MAX_LINE + 100);

	(void)state;
	memset(big, 'a', POLICY_MAX_LINE + 50);
	memcpy(big, "GET /", 5);
	big[POLICY_MAX_LINE + 50] = '\0';
	parse_bad(big, "t.policy:1: line longer than 4096 bytes");
	free(big);
}

static void
norm_ok(const char *in, const char *want)
{
	char out[POLICY_MAX_PATH + 1];
	const char *why = NULL;

	if (policy_normalize_path(in, strlen(in), out, &why) != 0) {
		fprintf(stderr, "%s refused: %s\n", in, why);
		fail();
	}
	assert_string_equal(out, want);
}

static void
norm_bad(const char *in)
{
	char out[POLICY_MAX_PATH + 1];
	const char *why = NULL;

	if (policy_normalize_path(in, strlen(in), out, &why) != -1) {
		fprintf(stderr, "%s accepted as %s\n", in, out);
		fail();
	}
	assert_non_null(why);
}

static void
test_normalize(void **state)
{
	(void)state;
	norm_ok("/", "/");
	norm_ok("/v1/products/", "/v1/products/");
	norm_ok("/v1/products?x=1&y=/../", "/v1/products");
	norm_ok("/v1/%61dmin", "/v1/admin");		/* encoded unreserved: decoded */
	norm_ok("/v1/a%2eb", "/v1/a.b");
	norm_ok("/v1/a%3ab", "/v1/a%3Ab");		/* reserved: kept, upper-cased */
	norm_ok("/v1/x?a=1#frag", "/v1/x");		/* the path ends at '?' */
	norm_bad("");
	norm_bad("v1/x");
	norm_bad("http://host/v1/x");
	norm_bad("/v1/../admin");
	norm_bad("/v1/%2e%2e/admin");			/* decoded, then a '..' segment */
	norm_bad("/v1/./x");
	norm_bad("/v1/..");
	norm_bad("/v1//admin");
	norm_bad("/v1/a%2fb");				/* encoded '/' */
	norm_bad("/v1/a%5cb");				/* encoded '\' */
	norm_bad("/v1/a%00b");
	norm_bad("/v1/a%zz");
	norm_bad("/v1/a%4");
	norm_bad("/v1/admin;jsessionid=1");
	norm_bad("/v1/a b");
	norm_bad("/v1/a\\b");
	norm_bad("/v1/\x80");
	norm_bad("/v1/x#frag");				/* no fragment in a target */
	norm_bad("/v1/products#/../admin");
}

static void
test_match(void **state)
{
	struct policy *p = parse_ok(
	    "GET    /v1/admin/**          role=admin\n"
	    "GET    /v1/cards/*/balance   role=viewer\n"
	    "POST   /v1/cards/*/load      role=operator\n"
	    "GET    /v1/**                role=viewer\n"
	    "DELETE /v1/cards/*           role=admin\n"
	    "*      /health\n"
	    "GET    /exact/\n");
	const struct policy_rule *r;

	(void)state;
	r = policy_match(p, HTTP_GET, "/v1/admin");
	assert_non_null(r);
	assert_int_equal(r->line, 1);			/* '**' matches zero segments */
	assert_int_equal(policy_match(p, HTTP_GET, "/v1/admin/x/y")->line, 1);
	assert_int_equal(policy_match(p, HTTP_HEAD, "/v1/admin/x")->line, 1);
	assert_int_equal(policy_match(p, HTTP_GET, "/v1/cards/c1/balance")->line, 2);
	assert_int_equal(policy_match(p, HTTP_GET, "/v1/cards/c1/balance/x")->line, 4);
	assert_int_equal(policy_match(p, HTTP_POST, "/v1/cards/c1/load")->line, 3);
	assert_null(policy_match(p, HTTP_POST, "/v1/cards//load"));
	assert_null(policy_match(p, HTTP_POST, "/v1/cards/c1/load/"));
	assert_null(policy_match(p, HTTP_PUT, "/v1/cards/c1/load"));	/* default deny */
	assert_int_equal(policy_match(p, HTTP_DELETE, "/v1/cards/c1")->line, 5);
	assert_null(policy_match(p, HTTP_DELETE, "/v1/cards/c1/x"));
	assert_int_equal(policy_match(p, HTTP_METHOD_OTHER, "/health")->line, 6);
	assert_null(policy_match(p, HTTP_GET, "/health/"));
	assert_null(policy_match(p, HTTP_GET, "/healthz"));
	assert_int_equal(policy_match(p, HTTP_GET, "/exact/")->line, 7);
	assert_null(policy_match(p, HTTP_GET, "/exact"));
	assert_null(policy_match(p, HTTP_GET, "/"));
	policy_unref(p);
}

/* policy_match_call on path: 0 with the rule of line want (0: none), or
 * -1 (want -1) with a reason naming the reading. */
static void
call_is(const struct policy *p, enum http_method m, const char *path, int want)
{
	const struct policy_rule *r = NULL;
	const char *why = NULL;
	int rc = policy_match_call(p, m, path, &r, &why);

	if (want == -1) {
		if (rc != -1) {
			fprintf(stderr, "%s passed (line %d)\n", path, r != NULL ? r->line : 0);
			fail();
		}
		assert_non_null(strstr(why, "servers may route both alike"));
		return;
	}
	if (rc != 0) {
		fprintf(stderr, "%s refused: %s\n", path, why);
		fail();
	}
	assert_int_equal(r != NULL ? r->line : 0, want);
}

/* The security review's bypasses: a trailing '/' or another case that
 * Express or Spring route to the handler a more specific rule guards. */
static void
test_match_call_readings(void **state)
{
	struct policy *p = parse_ok(
	    "POST   /v1/payouts   critical role=operator\n"
	    "DELETE /v1/cards/*   role=admin\n"
	    "*      /v1/**        role=viewer\n"
	    "GET    /exact/\n");

	(void)state;
	assert_false(p->folds);
	call_is(p, HTTP_POST, "/v1/payouts", 1);
	call_is(p, HTTP_POST, "/v1/payouts/", -1);
	call_is(p, HTTP_POST, "/v1/Payouts", -1);
	call_is(p, HTTP_POST, "/v1/PAYOUTS/", -1);	/* only both together meet line 1 */
	call_is(p, HTTP_DELETE, "/v1/cards/42", 2);
	call_is(p, HTTP_DELETE, "/v1/cards/42/", -1);
	call_is(p, HTTP_DELETE, "/v1/cards/Ab-42", 2);	/* '*' in any case */
	call_is(p, HTTP_GET, "/v1/x/", 3);		/* every reading: line 3 */
	call_is(p, HTTP_GET, "/v1/", 3);
	call_is(p, HTTP_GET, "/v1/X/Y/", 3);
	call_is(p, HTTP_GET, "/v1/payouts/", 3);	/* line 1 is POST only */
	call_is(p, HTTP_GET, "/v1/a%3Ab", 3);		/* an escape's hex is no letter */
	call_is(p, HTTP_GET, "/exact/", -1);		/* "/exact" meets no rule */
	call_is(p, HTTP_GET, "/nothing/", 0);		/* no rule: refused as before */
	call_is(p, HTTP_POST, "/V2/Payouts/", 0);
	call_is(p, HTTP_GET, "/", 0);
	policy_unref(p);

	/* An upper-case pattern meets lower-case paths read folded. */
	p = parse_ok(
	    "GET /v1/accountBalance role=admin\n"
	    "GET /v1/**             role=viewer\n");
	assert_true(p->folds);
	call_is(p, HTTP_GET, "/v1/accountBalance", 1);
	call_is(p, HTTP_GET, "/v1/accountbalance", -1);
	call_is(p, HTTP_GET, "/v1/ACCOUNTBALANCE/", -1);
	call_is(p, HTTP_GET, "/v1/other", 2);
	policy_unref(p);
}

/* {tenant} and {client} segments: matched as '*', then bound to the
 * caller's ids (escapes decoded); anything else in braces is refused. */
static void
test_bound_segments(void **state)
{
	struct policy *p = parse_ok(
	    "GET  /v1/tenants/{tenant}/cards/**   role=viewer\n"
	    "*    /v2.01/{client}/**              role=viewer tenant=optional\n"
	    "GET  /v1/{tenant}/by/{client}\n");
	const struct policy_rule *r;
	enum policy_bind which = POLICY_BIND_NONE;

	(void)state;
	r = policy_match(p, HTTP_GET, "/v1/tenants/acme/cards/c-1");
	assert_non_null(r);
	assert_int_equal(r->line, 1);
	assert_true(r->bound);
	assert_string_equal(r->pattern, "/v1/tenants/{tenant}/cards/**");
	assert_int_equal(policy_check_binds(r, "/v1/tenants/acme/cards/c-1", "acme", "c", &which), 0);
	assert_int_equal(policy_check_binds(r, "/v1/tenants/globex/cards/c-1", "acme", "c", &which), -1);
	assert_int_equal(which, POLICY_BIND_TENANT);
	assert_int_equal(policy_check_binds(r, "/v1/tenants/ACME/cards", "acme", "c", &which), -1);
	assert_int_equal(policy_check_binds(r, "/v1/tenants/acm/cards", "acme", "c", &which), -1);
	assert_int_equal(policy_check_binds(r, "/v1/tenants/acmee/cards", "acme", "c", &which), -1);
	/* An escape is read as the server behind the gate reads it. */
	assert_int_equal(policy_check_binds(r, "/v1/tenants/a%3Ab/cards", "a:b", "c", &which), 0);
	assert_null(policy_match(p, HTTP_GET, "/v1/tenants//cards"));
	r = policy_match(p, HTTP_POST, "/v2.01/cid-9/users");
	assert_int_equal(r->line, 2);
	assert_int_equal(policy_check_binds(r, "/v2.01/cid-9/users", "acme", "cid-9", &which), 0);
	assert_int_equal(policy_check_binds(r, "/v2.01/cid-8/users", "acme", "cid-9", &which), -1);
	assert_int_equal(which, POLICY_BIND_CLIENT);
	r = policy_match(p, HTTP_GET, "/v1/acme/by/cid-9");
	assert_int_equal(r->line, 3);
	assert_int_equal(policy_check_binds(r, "/v1/acme/by/cid-9", "acme", "cid-9", &which), 0);
	assert_int_equal(policy_check_binds(r, "/v1/acme/by/cid-8", "acme", "cid-9", &which), -1);
	assert_int_equal(which, POLICY_BIND_CLIENT);
	assert_false(policy_match(p, HTTP_GET, "/v1/anything/else") != NULL &&
	    policy_match(p, HTTP_GET, "/v1/anything/else")->bound);
	policy_unref(p);

	parse_bad("GET /v1/{user}/x\n", "a placeholder is a whole segment, {tenant} or {client}");
	parse_bad("GET /v1/a{tenant}\n", "a placeholder is a whole segment");
	parse_bad("GET /v1/{tenant\n", "a placeholder is a whole segment");
	parse_bad("GET /v1/{tenant}/%7ex\n", "write \"/v1/{tenant}/~x\"");
}

static void
test_empty_policy_denies(void **state)
{
	struct policy *p = parse_ok("# nothing allowed yet\n");

	(void)state;
	assert_int_equal(p->n, 0);
	assert_null(policy_match(p, HTTP_GET, "/"));
	policy_unref(p);
}

/* s read into v, with buf and m as its storage. */
static void
J(const char *s, char *buf, struct json_view *v, struct json_view_member *m, size_t cap)
{
	size_t n = strlen(s);

	memcpy(buf, s, n);
	v->m = m;
	v->cap = cap;
	assert_int_equal(json_view_parse(v, buf, n, NULL), 0);
}

/* The claim checks on these texts; the roles found go to *roles. */
static enum claims_err
check_roles(const char *hdr, const char *payload, const char *aud, const char *tenant,
    int64_t now, unsigned *roles)
{
	char hb[256], pb[2400];
	struct json_view_member hm[8], pm[32];
	struct json_view h, p;
	struct claims_rules r = { "https://gh", aud, tenant, now, 30, 0 };
	struct claims c;
	char desc[160];
	enum claims_err e;

	J(hdr, hb, &h, hm, 8);
	J(payload, pb, &p, pm, 32);
	e = claims_check(&h, &p, &r, &c, desc, sizeof(desc));
	if (roles != NULL)
		*roles = c.roles;
	return e;
}

static enum claims_err
check(const char *hdr, const char *payload, const char *aud, const char *tenant,
    int64_t now)
{
	return check_roles(hdr, payload, aud, tenant, now, NULL);
}

#define GOOD "\"iss\":\"https://gh\",\"client_id\":\"c\",\"tenant_id\":\"t\",\"jti\":\"j\",\"env\":\"sandbox\""

static void
test_claims(void **state)
{
	const char *at = "{\"typ\":\"at+jwt\"}";
	unsigned roles;

	(void)state;
	assert_int_equal(check(at, "{" GOOD ",\"exp\":1000}", NULL, NULL, 999), CLAIMS_OK);
	assert_int_equal(check("{\"typ\":\"application/AT+JWT\"}", "{" GOOD ",\"exp\":1000}", NULL, NULL, 999), CLAIMS_OK);
	assert_int_equal(check("{\"typ\":\"JWT\"}", "{" GOOD ",\"exp\":1000}", NULL, NULL, 999), CLAIMS_TYP);
	assert_int_equal(check("{}", "{" GOOD ",\"exp\":1000}", NULL, NULL, 999), CLAIMS_TYP);
	/* Leeway 30 s on both sides. */
	assert_int_equal(check(at, "{" GOOD ",\"exp\":1000}", NULL, NULL, 1029), CLAIMS_OK);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":1000}", NULL, NULL, 1030), CLAIMS_EXPIRED);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"nbf\":1030}", NULL, NULL, 1000), CLAIMS_OK);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"nbf\":1031}", NULL, NULL, 1000), CLAIMS_NOT_YET_VALID);
	assert_int_equal(check(at, "{" GOOD "}", NULL, NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":\"9000\"}", NULL, NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{\"iss\":\"https://evil\",\"client_id\":\"c\",\"tenant_id\":\"t\",\"jti\":\"j\",\"exp\":9000}",
	    NULL, NULL, 1000), CLAIMS_ISSUER);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"aud\":\"a\"}", "a", NULL, 1000), CLAIMS_OK);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"aud\":[\"b\",\"a\"]}", "a", NULL, 1000), CLAIMS_OK);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"aud\":\"b\"}", "a", NULL, 1000), CLAIMS_AUDIENCE);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000}", "a", NULL, 1000), CLAIMS_AUDIENCE);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"aud\":7}", NULL, NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000}", NULL, "t", 1000), CLAIMS_OK);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000}", NULL, "u", 1000), CLAIMS_TENANT);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"roles\":\"admin\"}", NULL, NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{\"iss\":\"https://gh\",\"client_id\":\"c\",\"tenant_id\":\"t\",\"exp\":9000}",
	    NULL, NULL, 1000), CLAIMS_MALFORMED);
	/* Arrays must hold only strings; unknown role names are ignored. */
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"roles\":[\"admin\",1]}", NULL, NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"aud\":[\"a\",null]}", "a", NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":9000,\"aud\":[]}", NULL, NULL, 1000), CLAIMS_MALFORMED);
	assert_int_equal(check_roles(at, "{" GOOD ",\"exp\":9000,\"roles\":[\"viewer\",\"root\",\"admin\"]}",
	    NULL, NULL, 1000, &roles), CLAIMS_OK);
	assert_int_equal(roles, CLAIMS_ROLE_VIEWER | CLAIMS_ROLE_ADMIN);
	assert_int_equal(check_roles(at, "{" GOOD ",\"exp\":9000,\"roles\":[\"op\\u0065rator\"]}",
	    NULL, NULL, 1000, &roles), CLAIMS_OK);
	assert_int_equal(roles, CLAIMS_ROLE_OPERATOR);
	/* A NumericDate may have a fraction; it may not be negative or huge. */
	assert_int_equal(check(at, "{" GOOD ",\"exp\":1000.5}", NULL, NULL, 999), CLAIMS_OK);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":-1}", NULL, NULL, 0), CLAIMS_MALFORMED);
	assert_int_equal(check(at, "{" GOOD ",\"exp\":1e300}", NULL, NULL, 0), CLAIMS_MALFORMED);
	/* A claim too long to be ours (past the 2048 bytes of scopes a
	 * client may hold), and one as long as a client's may be. */
	{
		char big[2400];
		int n = snprintf(big, sizeof(big), "{" GOOD ",\"exp\":9000,\"scope\":\"%02049d\"}", 0);
		assert_true(n > 0 && (size_t)n < sizeof(big));
		assert_int_equal(check(at, big, NULL, NULL, 1000), CLAIMS_MALFORMED);
		n = snprintf(big, sizeof(big), "{" GOOD ",\"exp\":9000,\"scope\":\"%02048d\"}", 0);
		assert_true(n > 0 && (size_t)n < sizeof(big));
		assert_int_equal(check(at, big, NULL, NULL, 1000), CLAIMS_OK);
	}
}

static void
test_scope_has(void **state)
{
	(void)state;
	assert_true(claims_scope_has("a b  c", "b", 1));
	assert_true(claims_scope_has("a b  c", "c", 1));
	assert_false(claims_scope_has("ab", "a", 1));
	assert_false(claims_scope_has("", "a", 1));
}

static struct gate_principal *
principal(int64_t exp)
{
	struct gate_principal *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	atomic_init(&p->refs, 1);
	p->exp = exp;
	return p;
}

static void
test_cache(void **state)
{
	struct gate_cache *c = gate_cache_new(64);
	uint8_t k[32];
	struct gate_principal *p, *got;
	uint64_t epoch;

	(void)state;
	assert_non_null(c);
	memset(k, 7, sizeof(k));
	epoch = gate_cache_epoch(c);
	p = principal(42);
	gate_cache_put(c, k, p, epoch);
	got = gate_cache_get(c, k);
	assert_ptr_equal(got, p);
	assert_int_equal(atomic_load(&p->refs), 3);
	gate_principal_release(got);
	k[0] ^= 1;
	assert_null(gate_cache_get(c, k));
	/* A put that raced with a clear is dropped. */
	gate_cache_clear(c);
	assert_int_equal(gate_cache_count(c), 0);
	gate_cache_put(c, k, p, epoch);
	assert_null(gate_cache_get(c, k));
	/* Bounded. */
	epoch = gate_cache_epoch(c);
	for (int i = 0; i < 10000; i++) {
		memset(k, 0, sizeof(k));
		memcpy(k, &i, sizeof(i));
		k[31] = (uint8_t)i;
		memcpy(k + 8, &i, sizeof(i));
		k[7] = (uint8_t)(i * 37);
		gate_cache_put(c, k, p, epoch);
	}
	assert_true(gate_cache_count(c) <= 64);
	gate_cache_free(c);
	assert_int_equal(atomic_load(&p->refs), 1);
	gate_principal_release(p);
}

/* gate_cache_invalidate: an entry put before it is never found again,
 * though its memory stays until a sweep (gate.c gate_sync_generation
 * publishes the new generation between the two). */
static void
test_cache_invalidate(void **state)
{
	struct gate_cache *c = gate_cache_new(64);
	struct gate_principal *p = principal(42), *got;
	uint8_t k[32];

	(void)state;
	assert_non_null(c);
	memset(k, 9, sizeof(k));
	gate_cache_put(c, k, p, gate_cache_epoch(c));
	assert_non_null(got = gate_cache_get(c, k));
	gate_principal_release(got);
	gate_cache_invalidate(c);
	assert_int_equal(gate_cache_count(c), 1);	/* not swept yet */
	assert_null(gate_cache_get(c, k));
	/* Put again in the new epoch before the sweep, the dead entry is
	 * taken over and found. */
	gate_cache_put(c, k, p, gate_cache_epoch(c));
	assert_int_equal(gate_cache_count(c), 1);
	assert_non_null(got = gate_cache_get(c, k));
	gate_principal_release(got);
	gate_cache_free(c);
	assert_int_equal(atomic_load(&p->refs), 1);
	gate_principal_release(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full_rule),
		cmocka_unit_test(test_parse_errors_name_line_and_reason),
		cmocka_unit_test(test_parse_error_is_utf8),
		cmocka_unit_test(test_parse_long_line),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_call_readings),
		cmocka_unit_test(test_bound_segments),
		cmocka_unit_test(test_empty_policy_denies),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_scope_has),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_invalidate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
