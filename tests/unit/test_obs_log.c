/*
 * Unit tests for src/obs/log.c: one JSON object per line, with ts, level
 * and event; levels under the minimum dropped; fields JSON-escaped so that
 * a client's string cannot forge a line; reals written without binary
 * noise (a request's duration_ms of 1.106 reads 1.106, not
 * 1.1060000000000001).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "obs/log.h"

/* Logs through a pipe and returns what came out (static, NUL-ended). */
static const char *
logged(enum log_level min, enum log_level level, const char *event, json_t *fields)
{
	static char buf[4096];
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	log_setup(min, fds[1]);
	log_event(level, event, fields);
	log_setup(LOG_INFO, 2);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void
one_json_line_with_ts_level_event(void **state)
{
	const char *line = logged(LOG_INFO, LOG_WARN, "test.event", json_pack("{s:s}", "k", "v"));
	json_t *o;
	json_error_t e;
	size_t len = strlen(line);

	(void)state;
	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + len - 1);
	o = json_loadb(line, len, 0, &e);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "test.event");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(o, "k")), "v");
	/* 2026-11-24T05:03:46.494Z */
	assert_int_equal(strlen(json_string_value(json_object_get(o, "ts"))), 24);
	json_decref(o);
}

static void
under_the_minimum_is_dropped(void **state)
{
	(void)state;
	assert_string_equal(logged(LOG_INFO, LOG_DEBUG, "quiet", json_object()), "");
	assert_string_equal(logged(LOG_ERROR, LOG_WARN, "quiet", NULL), "");
	assert_true(strlen(logged(LOG_DEBUG, LOG_DEBUG, "loud", NULL)) > 0);
}

static void
a_newline_in_a_field_cannot_start_a_line(void **state)
{
	const char *line = logged(LOG_INFO, LOG_INFO, "x",
	    json_pack("{s:s}", "client", "a\n{\"event\":\"forged\"}"));

	(void)state;
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	assert_non_null(strstr(line, "\\n{\\\"event\\\":\\\"forged\\\"}"));
}

static void
reals_without_binary_noise(void **state)
{
	uint64_t took_us = 1106;	/* as completed() writes duration_ms */
	const char *line = logged(LOG_INFO, LOG_INFO, "x",
	    json_pack("{s:f, s:f, s:f}", "a", (double)took_us / 1000.0, "b", 0.1 + 0.2,
	    "c", 12345678.901));

	(void)state;
	assert_non_null(strstr(line, "\"a\":1.106,"));
	assert_non_null(strstr(line, "\"b\":0.3,"));
	assert_non_null(strstr(line, "\"c\":12345678.901,"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_json_line_with_ts_level_event),
		cmocka_unit_test(under_the_minimum_is_dropped),
		cmocka_unit_test(a_newline_in_a_field_cannot_start_a_line),
		cmocka_unit_test(reals_without_binary_noise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
