/* Unit tests for src/http/params.c: form, JSON and Basic parsing, media types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/params.h"
#include "util/json_alloc.h"

/* The project's code calls malloc through this (-Wl,--wrap=malloc in
 * tests/CMakeLists.txt): the malloc_fail_at'th call from now fails. */
void	*__real_malloc(size_t);
void	*__wrap_malloc(size_t);
static int malloc_fail_at;

void *
__wrap_malloc(size_t n)
{
	if (malloc_fail_at > 0 && --malloc_fail_at == 0)
		return NULL;
	return __real_malloc(n);
}


static void
form_ok(void **state)
{
	struct http_params p;
	const char *err = NULL;
	char field[HTTP_MAX_FIELD_NAME];
	const char *body = "grant_type=client_credentials&scope=a+b%20c&empty=";

	(void)state;
	assert_int_equal(http_form_parse(body, strlen(body), &p, &err, field), 0);
	assert_string_equal(http_params_get(&p, "grant_type"), "client_credentials");
	assert_string_equal(http_params_get(&p, "scope"), "a b c");
	assert_string_equal(http_params_get(&p, "empty"), "");
	assert_null(http_params_get(&p, "missing"));
	http_params_clear(&p);
}

static void
form_refusals(void **state)
{
	static const char *const bad[] = {
		"a=1&a=2",		/* repeated (RFC 6749 §3.2) */
		"a=%00",		/* NUL */
		"a=%zz",		/* bad escape */
		"a=%4",			/* truncated escape */
		"a=%C3%28",		/* invalid UTF-8 */
	};
	struct http_params p;
	const char *err = NULL;
	char field[HTTP_MAX_FIELD_NAME];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(http_form_parse(bad[i], strlen(bad[i]), &p, &err, field), -1);
		assert_non_null(err);
	}
	{
		char many[2048] = "";
		for (int i = 0; i < HTTP_MAX_PARAMS + 1; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "p%d=1&", i);
		assert_int_equal(http_form_parse(many, strlen(many), &p, &err, field), -1);
		assert_string_equal(err, "too many parameters");
	}
	assert_int_equal(http_form_parse("a=1&a=2", 7, &p, &err, field), -1);
	assert_string_equal(field, "a");
}

static void
json_rules(void **state)
{
	json_t *o = NULL;
	const char *err = NULL;
	const char *dup = "{\"a\":1,\"a\":2}", *nul = "{\"a\":\"x\\u0000y\"}", *arr = "[1]";
	const char *deep = "{\"a\":[[[[[[[[[[1]]]]]]]]]]}";

	(void)state;
	assert_int_equal(http_json_parse("{\"a\":\"b\"}", 9, &o, &err), 0);
	json_decref(o);
	assert_int_equal(http_json_parse(dup, strlen(dup), &o, &err), -1);
	assert_int_equal(http_json_parse(nul, strlen(nul), &o, &err), -1);
	assert_int_equal(http_json_parse(arr, strlen(arr), &o, &err), -1);
	assert_int_equal(http_json_parse(deep, strlen(deep), &o, &err), -1);
	assert_int_equal(http_json_parse("{", 1, &o, &err), -1);
}

static void
basic_rules(void **state)
{
	char *id = NULL, *secret = NULL;
	const char *err = NULL;

	(void)state;
	/* "a%2Bb:c%3Ad" — RFC 6749 §2.3.1 encoded id and secret. */
	assert_int_equal(http_basic_parse("Basic YSUyQmI6YyUzQWQ=", &id, &secret, &err), 0);
	assert_string_equal(id, "a+b");
	assert_string_equal(secret, "c:d");
	free(id);
	free(secret);
	assert_int_equal(http_basic_parse("Basic bm9jb2xvbg==", &id, &secret, &err), -1);	/* "nocolon" */
	assert_int_equal(http_basic_parse("Basic !!!", &id, &secret, &err), -1);
	assert_int_equal(http_basic_parse("Basic OnNlY3JldA==", &id, &secret, &err), -1);	/* ":secret" */
}

/* Running out of memory is the server's failure, not the client's: each
 * parser says so apart from a refusal, so that a good request is not
 * answered 400 or 401 (found: Basic credentials were invalid_client). */
static void
out_of_memory_is_not_a_refusal(void **state)
{
	struct http_params p;
	char *id = NULL, *secret = NULL, field[HTTP_MAX_FIELD_NAME];
	const char *err = NULL;
	json_t *o = NULL;

	(void)state;
	for (int at = 1; at <= 2; at++) {	/* the id's copy, then the secret's */
		malloc_fail_at = at;
		assert_int_equal(http_basic_parse("Basic YTpi", &id, &secret, &err), HTTP_PARSE_NOMEM);
		assert_string_equal(err, "out of memory");
		assert_null(id);
		assert_null(secret);
	}
	for (int at = 1; at <= 2; at++) {	/* the name's copy, then the value's */
		malloc_fail_at = at;
		err = NULL;
		assert_int_equal(http_form_parse("a=b", 3, &p, &err, field), HTTP_PARSE_NOMEM);
		assert_string_equal(err, "out of memory");
		assert_int_equal(p.n, 0);
	}
	/* jansson's own report of it varies with the allocation that failed
	 * (an unknown error, a syntax error): each one is seen. */
	for (int at = 1; at <= 4; at++) {
		malloc_fail_at = at;
		err = NULL;
		assert_int_equal(http_json_parse("{\"a\":[1,\"xx\"]}", 14, &o, &err), HTTP_PARSE_NOMEM);
		assert_string_equal(err, "out of memory");
		assert_null(o);
	}
	malloc_fail_at = 0;
	/* And with memory, the same inputs are good. */
	assert_int_equal(http_basic_parse("Basic YTpi", &id, &secret, &err), 0);
	free(id);
	free(secret);
	assert_int_equal(http_form_parse("a=b", 3, &p, &err, field), 0);
	http_params_clear(&p);
	assert_int_equal(http_json_parse("{\"a\":1}", 7, &o, &err), 0);
	json_decref(o);
}

/* RFC 9110 §8.3.1 and §5.6.3: OWS (spaces and HTABs) may stand between the
 * media type and its parameters' ';', and nothing else. */
static void
media_types(void **state)
{
	static const char json[] = "application/json";
	static const char *const yes[] = {
		"application/json", "Application/JSON", "application/json;charset=utf-8",
		"application/json; charset=utf-8", "application/json\t; charset=utf-8",
		"application/json \t ;charset=utf-8", "application/json ",
	};
	static const char *const no[] = {
		"application/jsonx", "application/json x", "application/json\tx",
		"application/json,text/plain", "application/jso", "text/plain", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(http_media_is(yes[i], json));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(http_media_is(no[i], json));
	assert_false(http_media_is(NULL, json));
}

/* RFC 9110 §12.5.1: Accept is a list of media ranges, compared without
 * regard to case (§8.3.1), each with an optional weight, q=0 ruling it
 * out (§12.4.2). */
static void
accept_ranges(void **state)
{
	static const char json[] = "application/json";
	static const char *const yes[] = {
		"application/json", "Application/JSON", "*/*", "application/*", "APPLICATION/*",
		"text/html, application/json", "text/html,application/json;q=0.5",
		"text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2",
		"application/json, application/*+json", " \tapplication/json ;charset=utf-8",
		"application/json;q=1", "application/json;q=0.001", "application/json;level=1;q=0.1",
		"text/html;q=0, application/json", "application/*;q=0, application/json",
		"*/*;q=0, application/*",
	};
	static const char *const no[] = {
		"", "text/html", "application/jsonx", "application/json-seq", "application/xml",
		"text/*", "application/json;q=0", "application/json; q=0.", "application/json;Q=0.000",
		"*/*;q=0", "application/*;q=0, text/html", "application", "*",
		",", "application/js", "application/*+json",
		/* The most specific range decides (RFC 9110 §12.5.1). */
		"*/*, application/json;q=0", "application/*, application/json;q=0",
		"*/*, application/*;q=0",
	};
	/* Field lines read as one list (§5.3). */
	static const char *const lines_yes[] = { "text/html", "application/json" };
	static const char *const lines_no[] = { "*/*", "application/json;q=0" };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!http_accepts_media(&yes[i], 1, json))
			fail_msg("refused: %s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (http_accepts_media(&no[i], 1, json))
			fail_msg("taken: %s", no[i]);
	assert_true(http_accepts_media(NULL, 0, json));
	assert_true(http_accepts_media(lines_yes, 2, json));
	assert_false(http_accepts_media(lines_no, 2, json));
	assert_false(http_accepts_media(lines_no + 1, 1, json));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(form_ok),
		cmocka_unit_test(form_refusals),
		cmocka_unit_test(json_rules),
		cmocka_unit_test(basic_rules),
		cmocka_unit_test(out_of_memory_is_not_a_refusal),
		cmocka_unit_test(media_types),
		cmocka_unit_test(accept_ranges),
	};
	json_alloc_watch();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
