/* test_verify_cachectl.c — lib/verify/cachectl.c: what a JWKS answer's
 * Cache-Control and Age say about how long its keys may be used
 * (RFC 9111 §5.2, §4.2.1, §5.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cachectl.h"

/* The lifetime the field lines (NULL-terminated) give. */
static int64_t
life(const char *first, ...)
{
	struct cachectl cc;
	va_list ap;

	memset(&cc, 0, sizeof(cc));
	va_start(ap, first);
	for (const char *l = first; l != NULL; l = va_arg(ap, const char *))
		cachectl_add(&cc, l, strlen(l));
	va_end(ap);
	return cachectl_lifetime(&cc);
}

static void
test_max_age(void **state)
{
	(void)state;
	assert_int_equal(life("public, max-age=300", NULL), 300);	/* gatehouse's */
	assert_int_equal(life("max-age=60", NULL), 60);
	assert_int_equal(life("Max-Age=60", NULL), 60);		/* names: any case */
	assert_int_equal(life(" ,public,, max-age=7 ,", NULL), 7);	/* empty elements */
	assert_int_equal(life("max-age=\"42\"", NULL), 42);		/* quoted form accepted */
	assert_int_equal(life("s-maxage=5, max-age=600", NULL), 600);	/* shared caches only */
	assert_int_equal(life("max-age=0600", NULL), 600);
	/* Beyond what fits: 2^31 (RFC 9111 §1.2.2); the caller clamps. */
	assert_int_equal(life("max-age=99999999999999999999999", NULL), CACHECTL_DELTA_MAX);
	/* Several lines are one list. */
	assert_int_equal(life("public", "max-age=30", NULL), 30);
	assert_int_equal(life("max-age=30", "max-age=30", NULL), 30);
}

static void
test_no_max_age(void **state)
{
	(void)state;
	assert_int_equal(life(NULL), -1);
	assert_int_equal(life("", NULL), -1);
	assert_int_equal(life("public", NULL), -1);
	assert_int_equal(life("private, must-revalidate, ext=\"a, b\"", NULL), -1);
}

static void
test_stale_at_once(void **state)
{
	(void)state;
	assert_int_equal(life("max-age=0", NULL), 0);
	assert_int_equal(life("no-store", NULL), 0);
	assert_int_equal(life("max-age=300, no-cache", NULL), 0);
	assert_int_equal(life("NO-CACHE=\"Set-Cookie\", max-age=300", NULL), 0);
	assert_int_equal(life("public", "no-store", NULL), 0);
	/* Two different max-ages (RFC 9111 §4.2.1). */
	assert_int_equal(life("max-age=300, max-age=5", NULL), 0);
	assert_int_equal(life("max-age=300", "max-age=301", NULL), 0);
}

/* Invalid freshness information is stale (RFC 9111 §4.2.1), never the
 * default: a garbled header must not buy a key more time. */
static void
test_invalid_is_stale(void **state)
{
	static const char *const bad[] = {
		"max-age", "max-age=", "max-age=-1", "max-age=+5", "max-age=1.5",
		"max-age=5s", "max-age= 5", "max-age =5", "max-age=0x10", "max-age=\"5",
		"max-age=\"\"", "max-age=\"\\5\"", "max-age=5 6", "public max-age=5",
		"max-age=5;", "=5", "max-age=5, =", "ext=\"a\x01\"", "ext=\"a\\",
		"max-age=5\x7f", "max-age=5,\x01", "private, \"x\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cachectl cc;

		memset(&cc, 0, sizeof(cc));
		cachectl_add(&cc, bad[i], strlen(bad[i]));
		if (!cc.invalid)
			fail_msg("accepted as well-formed: %s", bad[i]);
		assert_int_equal(cachectl_lifetime(&cc), 0);
	}
	/* Bounded by len, not by a NUL: "max-age=12" cut at 9 is max-age=1. */
	{
		struct cachectl cc;

		memset(&cc, 0, sizeof(cc));
		cachectl_add(&cc, "max-age=12", 9);
		assert_int_equal(cachectl_lifetime(&cc), 1);
	}
}

static void
test_age(void **state)
{
	(void)state;
	assert_int_equal(cachectl_age("0", 1), 0);
	assert_int_equal(cachectl_age(" 120 ", 5), 120);
	assert_int_equal(cachectl_age("99999999999999999999", 20), CACHECTL_DELTA_MAX);
	assert_int_equal(cachectl_age("", 0), -1);
	assert_int_equal(cachectl_age("-1", 2), -1);
	assert_int_equal(cachectl_age("1, 2", 4), -1);		/* a list */
	assert_int_equal(cachectl_age("1.0", 3), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_no_max_age),
		cmocka_unit_test(test_stale_at_once),
		cmocka_unit_test(test_invalid_is_stale),
		cmocka_unit_test(test_age),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
