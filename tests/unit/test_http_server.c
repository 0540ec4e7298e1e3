/*
 * Unit tests for the request and response helpers of src/http/server.c
 * that handlers use: header lookup over a request's fields, and answer
 * headers kept in the response's own room or, when they do not fit, on the
 * heap (ASan checks that reset frees exactly the latter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "http/http.h"

/* jansson's allocator for body_not_built: fails while fail_json is set. */
static int fail_json;

static void *
json_malloc(size_t n)
{
	return fail_json ? NULL : malloc(n);
}

/*
 * Regression: an answer whose JSON body could not be built (json_pack or
 * json_dumps out of memory) went out with the status asked and "{}" or no
 * body at all: 201 to a client create that showed no secret, 200 to a
 * list with no rows. It is a 500 that says why.
 */
static void
body_not_built(void **state)
{
	struct http_response r;
	json_t *o;

	(void)state;
	memset(&r, 0, sizeof(r));
	http_response_json(&r, 201, NULL);		/* json_pack's NULL */
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body, "\"server_error\""));
	assert_int_equal(r.body_len, strlen(r.body));
	o = json_pack("{s:s}", "client_secret", "x");
	assert_non_null(o);
	fail_json = 1;
	http_response_json(&r, 201, o);		/* json_dumps fails */
	fail_json = 0;
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body, "out of memory"));
	http_response_json(&r, 200, json_pack("{s:i}", "n", 1));
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"n\":1}");
	http_response_reset(&r);
}

static void
header_lookup(void **state)
{
	static const struct http_field f[] = {
		{ "Host", "example", 4 },
		{ "authorization", "Bearer a", 13 },
		{ "X-Tenant-Id", "t1", 11 },
		{ "AUTHORIZATION", "Bearer b", 13 },
		/* A name with a NUL inside (as received, 17 bytes) is not
		 * the field whose name it starts with. */
		{ "X-Original-URI\0ab", "/x", 17 },
	};
	struct http_request req;
	size_t n = 99;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.fields = f;
	req.nfields = sizeof(f) / sizeof(f[0]);
	/* Case-insensitive, the first value, every occurrence counted. */
	assert_string_equal(http_request_header(&req, "Authorization", &n), "Bearer a");
	assert_int_equal(n, 2);
	assert_string_equal(http_request_header(&req, "X-TENANT-ID", &n), "t1");
	assert_int_equal(n, 1);
	assert_null(http_request_header(&req, "X-Tenant", &n));
	assert_int_equal(n, 0);
	assert_null(http_request_header(&req, "X-Original-URI", NULL));
	/* Only the first nfields are the request's. */
	req.nfields = 1;
	assert_null(http_request_header(&req, "Authorization", &n));
	assert_int_equal(n, 0);
}

static void
headers_in_room_and_on_heap(void **state)
{
	struct http_response r;
	char big[HTTP_RESPONSE_HEADER_ROOM + 10];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(http_response_header(&r, "A", "one"), 0);
	assert_int_equal(http_response_header(&r, "B", big), 0);	/* too big: heap */
	assert_int_equal(http_response_header(&r, "C", "three"), 0);
	assert_int_equal(r.nheaders, 3);
	assert_string_equal(r.headers[0].value, "one");
	assert_false(r.headers[0].heap);
	assert_string_equal(r.headers[1].value, big);
	assert_true(r.headers[1].heap);
	assert_string_equal(r.headers[2].value, "three");
	assert_false(r.headers[2].heap);
	assert_int_equal(r.room_used, sizeof("one") + sizeof("three"));

	/* Fill the room exactly: the value that then fits no more goes to the
	 * heap, and earlier values are untouched. */
	{
		size_t left = sizeof(r.room) - r.room_used;
		char *fill = malloc(left);
		assert_non_null(fill);
		memset(fill, 'f', left - 1);
		fill[left - 1] = '\0';
		assert_int_equal(http_response_header(&r, "D", fill), 0);
		assert_false(r.headers[3].heap);
		assert_int_equal(r.room_used, sizeof(r.room));
		assert_int_equal(http_response_header(&r, "E", "x"), 0);
		assert_true(r.headers[4].heap);
		assert_string_equal(r.headers[3].value, fill);
		assert_string_equal(r.headers[0].value, "one");
		free(fill);
	}

	/* Reset drops everything (ASan: the heap values are freed once) and
	 * the room is reused. */
	r.body = strdup("{}");
	r.body_len = 2;
	http_response_reset(&r);
	assert_int_equal(r.nheaders, 0);
	assert_int_equal(r.room_used, 0);
	assert_null(r.body);
	assert_int_equal(http_response_header(&r, "F", "again"), 0);
	assert_false(r.headers[0].heap);
	assert_string_equal(r.headers[0].value, "again");

	/* More than HTTP_MAX_RESPONSE_HEADERS is refused, not overrun. */
	for (size_t i = 1; i < HTTP_MAX_RESPONSE_HEADERS; i++)
		assert_int_equal(http_response_header(&r, "G", "g"), 0);
	assert_int_equal(http_response_header(&r, "H", "h"), -1);
	assert_int_equal(r.nheaders, HTTP_MAX_RESPONSE_HEADERS);
	http_response_reset(&r);
}

int
main(void)
{
	json_set_alloc_funcs(json_malloc, free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_lookup),
		cmocka_unit_test(headers_in_room_and_on_heap),
		cmocka_unit_test(body_not_built),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
