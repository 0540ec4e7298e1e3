/*
 * Unit tests for src/http/watch.c: which connections a sweep ends (those
 * past their moment, never one whose request is the server's), how often
 * it sweeps, and the list kept whole as connections come and go. Each
 * connection is one end of a socketpair: an ended one reads as closed at
 * the other end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/watch.h"

#define S	1000000000ull	/* a second, in ns */

struct pair {
	int ours, theirs;	/* ours: the server's end, watched */
};

static struct pair
pair_new(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	return (struct pair){ sv[0], sv[1] };
}

/* 1 when the server's end was shut down: the client's end reads EOF. */
static int
ended(struct pair p)
{
	char c;
	ssize_t n = read(p.theirs, &c, 1);

	if (n == -1)
		assert_int_equal(errno, EAGAIN);
	return n == 0;
}

static void
pair_close(struct pair p)
{
	close(p.ours);
	close(p.theirs);
}

static void
test_overdue_ended_busy_and_answered_kept(void **state)
{
	struct http_watch w = { .timeout_ns = 30 * S };
	struct pair slow = pair_new(), busy = pair_new(), fresh = pair_new();
	struct conn_watch *a = watch_open(&w, slow.ours, 0);
	struct conn_watch *b = watch_open(&w, busy.ours, 0);
	struct conn_watch *c = watch_open(&w, fresh.ours, 0);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	watch_busy(b);			/* its request is ours from now on */
	watch_answered(c, 20 * S);	/* answered: its next is due at 50 s */
	assert_int_equal(watch_sweep(&w, 29 * S), 1000);
	assert_false(ended(slow));
	assert_int_equal(watch_sweep(&w, 31 * S), 1000);
	assert_true(ended(slow));
	assert_false(ended(busy));
	assert_false(ended(fresh));
	/* Ours for however long it takes; then due again from the answer. */
	assert_int_equal(watch_sweep(&w, 100 * S), 1000);
	assert_false(ended(busy));
	assert_true(ended(fresh));
	watch_answered(b, 100 * S);
	(void)watch_sweep(&w, 129 * S);
	assert_false(ended(busy));
	(void)watch_sweep(&w, 131 * S);
	assert_true(ended(busy));
	watch_close(a);
	watch_close(b);
	watch_close(c);
	assert_int_equal(watch_sweep(&w, 200 * S), -1);
	pair_close(slow);
	pair_close(busy);
	pair_close(fresh);
}

static void
test_sweeps_at_most_once_a_second(void **state)
{
	struct http_watch w = { .timeout_ns = 1 * S };
	struct pair p = pair_new();
	struct conn_watch *a = watch_open(&w, p.ours, 0);

	(void)state;
	assert_int_equal(watch_sweep(&w, S / 2), 1000);	/* swept: not due */
	/* Due at 1 s, but the next sweep is at 1.5 s: the loop is told to
	 * sleep no longer than that, in whole milliseconds rounded up. */
	assert_int_equal(watch_sweep(&w, S + 1), 500);
	assert_false(ended(p));
	assert_int_equal(watch_sweep(&w, S + S / 2 - 1), 1);
	assert_int_equal(watch_sweep(&w, S + S / 2), 1000);
	assert_true(ended(p));
	watch_close(a);
	pair_close(p);
}

static void
test_list_stays_whole_as_connections_come_and_go(void **state)
{
	struct http_watch w = { .timeout_ns = 10 * S };
	struct pair p[5];
	struct conn_watch *cw[5];

	(void)state;
	for (int i = 0; i < 5; i++) {
		p[i] = pair_new();
		cw[i] = watch_open(&w, p[i].ours, (uint64_t)i * S);
	}
	/* Out of the middle, the head (the last opened) and the tail. */
	watch_close(cw[2]);
	watch_close(cw[4]);
	watch_close(cw[0]);
	(void)watch_sweep(&w, 12 * S);	/* 1 (due 11 s) is ended, 3 (13 s) not */
	assert_true(ended(p[1]));
	assert_false(ended(p[3]));
	(void)watch_sweep(&w, 14 * S);
	assert_true(ended(p[3]));
	watch_close(cw[1]);
	watch_close(cw[3]);
	assert_null(w.first);
	/* NULL, as a connection that could not be watched has: no-ops. */
	watch_busy(NULL);
	watch_answered(NULL, 0);
	watch_close(NULL);
	for (int i = 0; i < 5; i++)
		pair_close(p[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overdue_ended_busy_and_answered_kept),
		cmocka_unit_test(test_sweeps_at_most_once_a_second),
		cmocka_unit_test(test_list_stays_whole_as_connections_come_and_go),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
