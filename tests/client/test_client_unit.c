/*
 * test_client_unit.c — the client library's parsers and helpers, without a
 * network: token answers (every dialect's shape and each bad lifetime), ISO
 * 8601 times as the seeds write them, the seed 003 Basic string, form
 * encoding, redaction before truncation, UUIDs, credentials from a file or
 * the environment, option checks in gh_client_new, and the sized stats.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "extern.h"

static void
test_iso8601(void **state)
{
	int64_t t;

	(void)state;
	/* Seed 002's example: minutes only, Z. */
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48Z", &t), 0);
	assert_int_equal(t, 1720684080);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48:05Z", &t), 0);
	assert_int_equal(t, 1720684085);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48:05.999z", &t), 0);
	assert_int_equal(t, 1720684085);
	assert_int_equal(ghc_parse_iso8601("2024-07-11t13:18:05+05:30", &t), 0);
	assert_int_equal(t, 1720684085);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T02:48:05-0500", &t), 0);
	assert_int_equal(t, 1720684085);
	assert_int_equal(ghc_parse_iso8601("2024-02-29T00:00Z", &t), 0);
	/* Refused: no zone, bad dates and times, trailing text, short fields. */
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2023-02-29T00:00Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-13-01T00:00Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-04-31T00:00Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T24:00Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:60Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48Zx", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-7-11T07:48Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48:05.Z", &t), -1);
	assert_int_equal(ghc_parse_iso8601("2024-07-11T07:48+24:00", &t), -1);
	assert_int_equal(ghc_parse_iso8601("tomorrow", &t), -1);
	assert_int_equal(ghc_parse_iso8601("", &t), -1);
	assert_int_equal(ghc_parse_iso8601(NULL, &t), -1);
}

static void
test_seed_003_basic_string(void **state)
{
	/* Seed 003 shows base64("ClientId:ApiKey") for its example pair. */
	const char *raw = "ExampleClientId:PEBB0VDhFENfEhXTUyorTYj6hCVmqL0HRbwY4g5N17ruiPjmQn";
	char *b64 = ghc_base64(raw, strlen(raw));

	(void)state;
	assert_non_null(b64);
	assert_string_equal(b64, "RXhhbXBsZUNsaWVudElkOlBFQkIwVkRoRkVOZkVoWFRVeW9yVFlqNmhDVm1xTDBIUmJ3"
	    "WTRnNU4xN3J1aVBqbVFu");
	free(b64);
	b64 = ghc_base64("a", 1);
	assert_string_equal(b64, "YQ==");
	free(b64);
	b64 = ghc_base64("ab", 2);
	assert_string_equal(b64, "YWI=");
	free(b64);
}

static void
test_form_encode(void **state)
{
	struct ghc_buf b = { 0 };

	(void)state;
	assert_int_equal(ghc_form_encode(&b, "a b&c=d/\xc3\xa9*-._~!"), 0);
	assert_string_equal(b.p, "a+b%26c%3Dd%2F%C3%A9*-._%7E%21");
	ghc_buf_free(&b);
	assert_null(b.p);
}

static void
test_sanitize_redacts_before_cutting(void **state)
{
	struct ghc_redactions r = { 0 }, r2 = { 0 }, shorty = { 0 };
	struct gh_client_error e = { 0 };
	char out[20], big[64];
	const char *secret = "SECRETVALUE";

	(void)state;
	ghc_redactions_add(&r, secret, strlen(secret));
	/* Cut in the middle of the secret: without redaction "SECRE" would remain. */
	ghc_sanitize(out, sizeof(out), "0123456789abcSECRETVALUE", 24, &r);
	assert_string_equal(out, "0123456789abc***");
	ghc_redactions_add(&r2, "T1", 2);
	ghc_redactions_add(&r2, secret, strlen(secret));
	ghc_sanitize(out, sizeof(out), "tok=T1 s=SECRETVALUE\n", 21, &r2);
	assert_string_equal(out, "tok=*** s=***?");
	ghc_sanitize(out, sizeof(out), "a\x01\x7f\xff", 4, NULL);
	assert_string_equal(out, "a???");
	/* The server cut the text inside the secret: a prefix of 8 or more at
	 * the end is redacted, whether or not our own cut reaches it. */
	ghc_sanitize(big, sizeof(big), "echo: SECRETVA", 14, &r);
	assert_string_equal(big, "echo: ***");
	ghc_sanitize(out, 12, "echo: SECRETVA", 14, &r);
	assert_string_equal(out, "echo: ***");
	ghc_sanitize(big, sizeof(big), "echo: SECRETV", 13, &r);	/* 7: could be any word */
	assert_string_equal(big, "echo: SECRETV");
	ghc_sanitize(big, sizeof(big), "SECRETVA and more", 17, &r);	/* not at the end */
	assert_string_equal(big, "SECRETVA and more");
	/* A secret shorter than 8 is redacted only whole. */
	ghc_redactions_add(&shorty, "abc", 3);
	ghc_sanitize(big, sizeof(big), "xabcxab", 7, &shorty);
	assert_string_equal(big, "x***xab");
	/* The final message, which vsnprintf may have cut: the same rules. */
	snprintf(e.message, sizeof(e.message), "a SECRETVALUE b SECRETVALU");
	ghc_redact(&e, &r);
	assert_string_equal(e.message, "a *** b ***");
}

static void
test_token_syntax(void **state)
{
	(void)state;
	assert_true(ghc_token_syntax_ok("eyJ.abc-_~+/", 12));
	assert_true(ghc_token_syntax_ok("abc==", 5));
	assert_false(ghc_token_syntax_ok("abc=d", 5));
	assert_false(ghc_token_syntax_ok("a b", 3));
	assert_false(ghc_token_syntax_ok("a\r\nb", 4));
	assert_false(ghc_token_syntax_ok("", 0));
	assert_false(ghc_token_syntax_ok("==", 2));
}

static void
test_uuid4(void **state)
{
	char a[GH_CLIENT_REQUEST_ID_LEN], b[GH_CLIENT_REQUEST_ID_LEN];

	(void)state;
	assert_int_equal(gh_client_uuid4(a), GH_CLIENT_OK);
	assert_int_equal(gh_client_uuid4(b), GH_CLIENT_OK);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	assert_true(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	assert_string_not_equal(a, b);
}

/* Parse body as dialect d at now 1720600000; returns the code. */
static enum gh_client_err
parse(enum gh_client_dialect d, const char *body, int64_t *life, int64_t *exp, char *msg)
{
	struct gh_client_error e = { 0 };
	struct ghc_redactions r = { 0 };
	enum gh_client_err rc;
	char *tok = NULL;

	ghc_redactions_add(&r, "s3cret", 6);
	rc = ghc_token_parse(d, body, strlen(body), 1720600000, &r, &tok, life, exp, &e);
	if (rc == GH_CLIENT_OK) {
		assert_non_null(tok);
		free(tok);
	} else {
		assert_null(tok);
	}
	snprintf(msg, 512, "%s", e.message);
	return rc;
}

static void
test_token_answers(void **state)
{
	int64_t life = 0, exp = 0;
	char msg[512];

	(void)state;
	/* Seeds 000/001 (Bearer), 003 (bearer), 002 (valid_until, minutes). */
	assert_int_equal(parse(GH_CLIENT_DIALECT_M2P, "{\"access_token\":\"eyJ.a.b\","
	    "\"token_type\":\"Bearer\",\"expires_in\":3600}", &life, &exp, msg), GH_CLIENT_OK);
	assert_int_equal(life, 3600);
	assert_int_equal(exp, 1720603600);
	assert_int_equal(parse(GH_CLIENT_DIALECT_MANGOPAY, "{\"access_token\":"
	    "\"094696b3724d4aa5a182eac360dcd537\",\"token_type\":\"bearer\",\"expires_in\":1199}",
	    &life, &exp, msg), GH_CLIENT_OK);
	assert_int_equal(life, 1199);
	assert_int_equal(parse(GH_CLIENT_DIALECT_PAPAYA, "{\"valid_until\":\"2024-07-11T07:48Z\","
	    "\"token\":\"eyJ.a.b\",\"token_name\":\"82725488-22bf\"}", &life, &exp, msg), GH_CLIENT_OK);
	assert_int_equal(exp, 1720684080);
	assert_int_equal(life, 84080);
	/* A whole-number real is a number of seconds. */
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"expires_in\":60.0}", &life, &exp, msg), GH_CLIENT_OK);
	assert_int_equal(life, 60);

	/* Bad lifetimes. */
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\"}",
	    &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_non_null(strstr(msg, "never assumed"));
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"expires_in\":-1}", &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"expires_in\":0}", &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"expires_in\":31622401}", &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"expires_in\":\"60\"}", &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"expires_in\":1.5}", &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_int_equal(parse(GH_CLIENT_DIALECT_PAPAYA, "{\"token\":\"a\",\"valid_until\":"
	    "\"2024-07-10T08:00Z\"}", &life, &exp, msg), GH_CLIENT_ERR_BAD_LIFETIME);
	assert_non_null(strstr(msg, "not in the future"));
	/* Bad answers; the secret echoed in token_type is redacted. */
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"token_type\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxs3cret\",\"expires_in\":60}",
	    &life, &exp, msg), GH_CLIENT_ERR_BAD_RESPONSE);
	assert_null(strstr(msg, "s3c"));
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":\"a\","
	    "\"access_token\":\"b\",\"expires_in\":60}", &life, &exp, msg), GH_CLIENT_ERR_BAD_RESPONSE);
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "{\"access_token\":7,"
	    "\"expires_in\":60}", &life, &exp, msg), GH_CLIENT_ERR_BAD_RESPONSE);
	assert_int_equal(parse(GH_CLIENT_DIALECT_PAPAYA, "{\"access_token\":\"a\","
	    "\"valid_until\":\"2031-01-01T00:00Z\"}", &life, &exp, msg), GH_CLIENT_ERR_BAD_RESPONSE);
	assert_non_null(strstr(msg, "\"token\""));
	assert_int_equal(parse(GH_CLIENT_DIALECT_OAUTH_BASIC, "", &life, &exp, msg),
	    GH_CLIENT_ERR_BAD_RESPONSE);
}

static void
test_credentials(void **state)
{
	struct gh_client_error e = { 0 };
	char path[] = "/tmp/ghc-unit-XXXXXX", *id = NULL, *secret = NULL;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "file-secret\r\nsecond line\n", 25), 25);
	close(fd);
	assert_int_equal(gh_client_credentials_load("id1", NULL, path, NULL, &id, &secret, &e),
	    GH_CLIENT_OK);
	assert_string_equal(id, "id1");
	assert_string_equal(secret, "file-secret");
	gh_client_credentials_free(id, secret);
	/* Readable by others: refused, the secret not in the message. */
	chmod(path, 0644);
	assert_int_equal(gh_client_credentials_load("id1", NULL, path, NULL, &id, &secret, &e),
	    GH_CLIENT_ERR_INSECURE_FILE);
	assert_null(id);
	assert_null(secret);
	assert_null(strstr(e.message, "file-secret"));
	assert_non_null(strstr(e.message, "chmod 600"));
	chmod(path, 0600);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	assert_int_equal(gh_client_credentials_load("id1", NULL, path, NULL, &id, &secret, &e),
	    GH_CLIENT_ERR_CREDENTIALS);
	unlink(path);
	assert_int_equal(gh_client_credentials_load("id1", NULL, path, NULL, &id, &secret, &e),
	    GH_CLIENT_ERR_CREDENTIALS);
	/* A FIFO (mode 600, nobody writing) is not a regular file: refused at
	 * once, not waited on for ever (the alarm ends a hang). */
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(gh_client_credentials_load("id1", NULL, path, NULL, &id, &secret, &e),
	    GH_CLIENT_ERR_CREDENTIALS);
	alarm(0);
	assert_non_null(strstr(e.message, "not a regular file"));
	unlink(path);
	/* From the environment. */
	setenv("GHC_UNIT_ID", "env-id", 1);
	setenv("GHC_UNIT_SECRET", "env-secret", 1);
	assert_int_equal(gh_client_credentials_load(NULL, "GHC_UNIT_ID", NULL, "GHC_UNIT_SECRET", &id,
	    &secret, &e), GH_CLIENT_OK);
	assert_string_equal(id, "env-id");
	assert_string_equal(secret, "env-secret");
	gh_client_credentials_free(id, secret);
	unsetenv("GHC_UNIT_SECRET");
	assert_int_equal(gh_client_credentials_load(NULL, "GHC_UNIT_ID", NULL, "GHC_UNIT_SECRET", &id,
	    &secret, &e), GH_CLIENT_ERR_CREDENTIALS);
	assert_non_null(strstr(e.message, "GHC_UNIT_SECRET"));
}

static enum gh_client_err
new_with(struct gh_client_options *o, struct gh_client_error *e)
{
	struct gh_client *c = NULL;
	enum gh_client_err rc = gh_client_new(o, &c, e);

	gh_client_free(c);
	return rc;
}

static void
test_options(void **state)
{
	struct gh_client_options o;
	struct gh_client_error e = { 0 };

	(void)state;
	memset(&o, 0, sizeof(o));
	o.base_url = "https://auth.example.com";
	o.client_id = "id";
	o.client_secret = "secret";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_OK);
	o.base_url = "http://auth.example.com";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.allow_http = 1;
	assert_int_equal(new_with(&o, &e), GH_CLIENT_OK);
	o.allow_http = 0;
	o.base_url = "http://127.0.0.1:8080";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_OK);
	o.base_url = "ftp://127.0.0.1";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	/* Loopback as libcurl reads it: an octal form is the address; digits
	 * and dots that are no IPv4 address (libcurl looks them up in the DNS,
	 * which may answer anything) are not loopback. */
	o.base_url = "http://127.0.0.010";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_OK);
	o.base_url = "http://127.0.0.1.5:8080/";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.base_url = "http://127.300.0.1";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.base_url = "http://127.0.0.1./x";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.base_url = "http://127.0.0.08";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.base_url = "http://127.0.0.1234567890123";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.base_url = "https://a.example/\r\nX: y";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.base_url = "https://auth.example.com";
	o.token_path = "oauth/token";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.token_path = NULL;
	o.client_secret = "pw-\n-value";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "client_secret"));
	assert_null(strstr(e.message, "pw-"));
	o.client_secret = "secret";
	o.dialect = GH_CLIENT_DIALECT_MANGOPAY;
	o.client_id = "a:b";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.client_id = "id";
	o.dialect = GH_CLIENT_DIALECT_PAPAYA;
	o.scope = "read";
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.scope = NULL;
	o.timeout_ms = -1;
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	o.timeout_ms = 0;
	o.dialect = (enum gh_client_dialect)99;
	assert_int_equal(new_with(&o, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
}

/*
 * A binary built against the 0.1.0 header passes a shorter struct: the
 * library must read no further (the block is exactly that long, so ASan
 * reports any read past it) and default the fields it lacks. A newer
 * header's struct is accepted when the fields this library does not know
 * are zero.
 */
static void
test_options_sized(void **state)
{
	struct gh_client_options o;
	struct gh_client_error e = { 0 };
	struct gh_client *c = NULL;
	unsigned char *v0, *big;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.base_url = "https://auth.example.com";
	o.client_id = "id";
	o.client_secret = "secret";
	assert_non_null(v0 = malloc(GHC_OPTIONS_V0_SIZE));
	memcpy(v0, &o, GHC_OPTIONS_V0_SIZE);
	assert_int_equal((gh_client_new)((struct gh_client_options *)v0, &c, &e), GH_CLIENT_OK);
	gh_client_free(c);
	c = NULL;
	assert_int_equal(gh_client_new_sized((struct gh_client_options *)v0,
	    GHC_OPTIONS_V0_SIZE - 1, &c, &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	assert_null(c);
	free(v0);

	assert_non_null(big = calloc(1, sizeof(o) + 16));
	memcpy(big, &o, sizeof(o));
	assert_int_equal(gh_client_new_sized((struct gh_client_options *)big, sizeof(o) + 16, &c,
	    &e), GH_CLIENT_OK);
	gh_client_free(c);
	c = NULL;
	big[sizeof(o) + 9] = 1;
	assert_int_equal(gh_client_new_sized((struct gh_client_options *)big, sizeof(o) + 16, &c,
	    &e), GH_CLIENT_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(e.message, "does not know"));
	assert_null(c);
	free(big);
}

/*
 * The stats are written only as far as the caller's struct goes (a block
 * of exactly that size: ASan reports a write past it), bytes beyond the
 * struct this library knows are zeroed, and the 0.1.0 symbol writes the
 * 0.1.0 struct.
 */
static void
test_stats_sized(void **state)
{
	struct gh_client_options o;
	struct gh_client_error e = { 0 };
	struct gh_client *c = NULL;
	struct gh_client_stats st;
	size_t two = offsetof(struct gh_client_stats, token_failures);
	unsigned char *b;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.base_url = "https://auth.example.com";
	o.client_id = "id";
	o.client_secret = "secret";
	assert_int_equal(gh_client_new(&o, &c, &e), GH_CLIENT_OK);
	atomic_store(&c->st_token_requests, 5);
	atomic_store(&c->st_token_fetches, 4);
	atomic_store(&c->st_token_failures, 1);
	atomic_store(&c->st_api_calls, 9);

	assert_non_null(b = malloc(two));
	gh_client_stats_get_sized(c, (struct gh_client_stats *)b, two);
	memset(&st, 0, sizeof(st));
	memcpy(&st, b, two);
	assert_int_equal(st.token_requests, 5);
	assert_int_equal(st.token_fetches, 4);
	free(b);

	assert_non_null(b = malloc(sizeof(st) + 16));
	memset(b, 0xff, sizeof(st) + 16);
	gh_client_stats_get_sized(c, (struct gh_client_stats *)b, sizeof(st) + 16);
	memcpy(&st, b, sizeof(st));
	assert_int_equal(st.api_calls, 9);
	for (size_t i = sizeof(st); i < sizeof(st) + 16; i++)
		assert_int_equal(b[i], 0);
	free(b);

	memset(&st, 0, sizeof(st));
	(gh_client_stats_get)(c, &st);
	assert_int_equal(st.token_requests, 5);
	assert_int_equal(st.token_failures, 1);
	assert_int_equal(st.api_calls, 9);
	memset(&st, 0, sizeof(st));
	gh_client_stats_get(c, &st);
	assert_int_equal(st.token_fetches, 4);
	gh_client_free(c);
}

static void
test_dialect_names(void **state)
{
	enum gh_client_dialect d;

	(void)state;
	assert_int_equal(gh_client_dialect_parse("000", &d), GH_CLIENT_OK);
	assert_int_equal(d, GH_CLIENT_DIALECT_M2P);
	assert_int_equal(gh_client_dialect_parse("mangopay", &d), GH_CLIENT_OK);
	assert_string_equal(gh_client_dialect_path(d), "/v2.01/oauth/token");
	assert_string_equal(gh_client_dialect_path(GH_CLIENT_DIALECT_PAPAYA), "/token");
	assert_string_equal(gh_client_dialect_path(GH_CLIENT_DIALECT_PARTNER), "/api/oauth/token");
	assert_int_equal(gh_client_dialect_parse("004", &d), GH_CLIENT_ERR_INVALID_ARGUMENT);
	assert_string_equal(gh_client_err_name(GH_CLIENT_ERR_BAD_LIFETIME), "bad_lifetime");
	assert_string_equal(gh_client_err_name((enum gh_client_err)999), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_seed_003_basic_string),
		cmocka_unit_test(test_form_encode),
		cmocka_unit_test(test_sanitize_redacts_before_cutting),
		cmocka_unit_test(test_token_syntax),
		cmocka_unit_test(test_uuid4),
		cmocka_unit_test(test_token_answers),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_options_sized),
		cmocka_unit_test(test_stats_sized),
		cmocka_unit_test(test_dialect_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
