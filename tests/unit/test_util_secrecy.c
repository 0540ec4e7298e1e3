/*
 * Unit tests for src/util/secrecy.c: which files may hold a secret for
 * which user. The struct stat is made here, so every owner can be tried
 * whoever runs the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "util/secrecy.h"

static struct stat
file(mode_t mode, uid_t owner)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_uid = owner;
	return st;
}

static void
test_a_private_file_of_this_user_or_root_is_taken(void **state)
{
	char why[160];
	struct stat mine = file(S_IFREG | 0600, 1000), roots = file(S_IFREG | 0400, 0);

	(void)state;
	assert_int_equal(file_secrecy_check(&mine, 1000, why, sizeof(why)), 0);
	assert_int_equal(file_secrecy_check(&roots, 1000, why, sizeof(why)), 0);
	assert_int_equal(file_secrecy_check(&mine, 0, why, sizeof(why)), 0);	/* sudo */
}

static void
test_a_file_others_may_read_or_own_is_refused(void **state)
{
	char why[160];
	struct stat open_to_group = file(S_IFREG | 0640, 1000);
	struct stat theirs = file(S_IFREG | 0600, 1001), dir = file(S_IFDIR | 0700, 1000);

	(void)state;
	assert_int_equal(file_secrecy_check(&open_to_group, 1000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "has mode 0640"));
	assert_non_null(strstr(why, "chmod 600"));
	assert_int_equal(file_secrecy_check(&theirs, 1000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "owned by uid 1001, neither this user (uid 1000) nor root"));
	assert_int_equal(file_secrecy_check(&dir, 1000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not a regular file"));
	/* Open to others stays refused for root too. */
	assert_int_equal(file_secrecy_check(&open_to_group, 0, why, sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_private_file_of_this_user_or_root_is_taken),
		cmocka_unit_test(test_a_file_others_may_read_or_own_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
