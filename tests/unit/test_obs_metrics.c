/*
 * Unit tests for the metrics registry (src/obs/metrics.c): a series per set
 * of label values, found again whichever copy of the name or values the
 * caller passes; label values escaped for the exposition format; histogram
 * buckets cumulative; undeclared metrics and overlong labels dropped, never
 * rendered twice. The registry is process-wide: each test uses names of its
 * own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "obs/metrics.h"

/* The rendered exposition (the caller frees). */
static char *
render(void)
{
	size_t len;
	char *text = metrics_render(&len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* How many times needle appears in hay. */
static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
one_series_per_label_set(void **state)
{
	const char *a[2] = { "token", "200" }, *b[2] = { "token", "401" };
	char name[32], route[8], status[4];
	char *text;

	(void)state;
	metrics_declare("t1_requests_total", "counter", "Requests.", "route,status");
	metrics_add("t1_requests_total", 1, a);
	metrics_add("t1_requests_total", 2, a);
	metrics_add("t1_requests_total", 5, b);
	/* The same name and values from other buffers: the same series. */
	snprintf(name, sizeof(name), "%s", "t1_requests_total");
	snprintf(route, sizeof(route), "%s", "token");
	snprintf(status, sizeof(status), "%s", "200");
	{
		const char *c[2] = { route, status };
		metrics_add(name, 4, c);
	}
	/* Another metric's name in the same buffer: that metric, not this. */
	metrics_declare("t1_other_total", "counter", "Other.", "");
	snprintf(name, sizeof(name), "%s", "t1_other_total");
	metrics_add(name, 9, NULL);
	text = render();
	assert_int_equal(count(text, "t1_other_total 9\n"), 1);
	assert_int_equal(count(text, "t1_requests_total{route=\"token\",status=\"200\"} 7\n"), 1);
	assert_int_equal(count(text, "t1_requests_total{route=\"token\",status=\"401\"} 5\n"), 1);
	assert_int_equal(count(text, "t1_requests_total{"), 2);
	assert_int_equal(count(text, "# TYPE t1_requests_total counter\n"), 1);
	free(text);
}

static void
values_that_hash_alike_stay_apart(void **state)
{
	/* "ab","c" and "a","bc" concatenate alike: the values are compared
	 * one by one. */
	const char *x[2] = { "ab", "c" }, *y[2] = { "a", "bc" };
	char *text;

	(void)state;
	metrics_declare("t2_total", "counter", "Pairs.", "p,q");
	metrics_add("t2_total", 1, x);
	metrics_add("t2_total", 10, y);
	text = render();
	assert_int_equal(count(text, "t2_total{p=\"ab\",q=\"c\"} 1\n"), 1);
	assert_int_equal(count(text, "t2_total{p=\"a\",q=\"bc\"} 10\n"), 1);
	free(text);
}

static void
label_values_are_escaped(void **state)
{
	const char *v[1] = { "a\"b\\c\nd" };
	char *text;

	(void)state;
	metrics_declare("t3_total", "counter", "Escapes.", "v");
	metrics_add("t3_total", 1, v);
	text = render();
	assert_int_equal(count(text, "t3_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), 1);
	free(text);
}

static void
gauges_set_and_histograms_accumulate(void **state)
{
	const char *r[1] = { "gate" };
	char *text;

	(void)state;
	metrics_declare("t4_gauge", "gauge", "A gauge.", "");
	metrics_set("t4_gauge", 3, NULL);
	metrics_set("t4_gauge", 2, NULL);
	metrics_declare("t4_seconds", "histogram", "Latency.", "route");
	metrics_observe("t4_seconds", 0.0002, r);
	metrics_observe("t4_seconds", 0.003, r);
	metrics_observe("t4_seconds", 7, r);
	text = render();
	assert_int_equal(count(text, "t4_gauge 2\n"), 1);
	assert_int_equal(count(text, "t4_seconds_bucket{route=\"gate\",le=\"0.0001\"} 0\n"), 1);
	assert_int_equal(count(text, "t4_seconds_bucket{route=\"gate\",le=\"0.00025\"} 1\n"), 1);
	assert_int_equal(count(text, "t4_seconds_bucket{route=\"gate\",le=\"0.005\"} 2\n"), 1);
	assert_int_equal(count(text, "t4_seconds_bucket{route=\"gate\",le=\"1\"} 2\n"), 1);
	assert_int_equal(count(text, "t4_seconds_bucket{route=\"gate\",le=\"+Inf\"} 3\n"), 1);
	assert_int_equal(count(text, "t4_seconds_count{route=\"gate\"} 3\n"), 1);
	free(text);
}

static void
undeclared_and_overlong_are_dropped(void **state)
{
	char big[600];
	const char *v[1] = { big }, *w[1] = { "ok" };
	char *text;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	metrics_add("t5_never_declared_total", 1, w);
	metrics_declare("t5_total", "counter", "Bounded.", "v");
	metrics_add("t5_total", 1, v);		/* too long to render: dropped */
	metrics_add("t5_total", 1, v);
	metrics_add("t5_total", 1, w);
	text = render();
	assert_int_equal(count(text, "t5_never_declared_total"), 0);
	assert_int_equal(count(text, "t5_total{"), 1);
	assert_int_equal(count(text, "t5_total{v=\"ok\"} 1\n"), 1);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_series_per_label_set),
		cmocka_unit_test(values_that_hash_alike_stay_apart),
		cmocka_unit_test(label_values_are_escaped),
		cmocka_unit_test(gauges_set_and_histograms_accumulate),
		cmocka_unit_test(undeclared_and_overlong_are_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
