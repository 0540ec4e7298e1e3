/*
 * Unit tests for the group-commit writer (src/store/writer.c) over a fake
 * backend whose commit_tokens can be held at a gate: the queue bound, FIFO
 * order, batch sizes, per-record and whole-batch errors, flush and the
 * losses it reports, that stopping drains the queue, each commit reported
 * to the observer (metrics), and commit pacing: announced records share a
 * commit, after a quiet spell too; an unannounced one does not wait for the
 * longer bound. No database: these are the writer's rules, the same for
 * every backend.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/store_backend.h"
#include "store_fixture.h"
/* The writer itself, to see when a flush has begun (w->flush_target). */
#include "store/writer.c"

/* The fake backend. */
struct fake {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 hold;		/* commit_tokens waits while set */
	int		 inside;	/* a commit is waiting at the gate */
	int		 fail;		/* whole-batch error to return */
	size_t		 batches, max_batch, seen;
	char		 order[64][16];	/* ids in commit order */
};

static int
fake_commit(void *h, const struct store_token *t, size_t n, int *errs)
{
	struct fake *f = h;
	int rc;

	pthread_mutex_lock(&f->mu);
	f->inside = 1;
	pthread_cond_broadcast(&f->cv);
	while (f->hold)
		pthread_cond_wait(&f->cv, &f->mu);
	f->inside = 0;
	f->batches++;
	if (n > f->max_batch)
		f->max_batch = n;
	for (size_t i = 0; i < n; i++) {
		if (f->seen < 64)
			snprintf(f->order[f->seen], sizeof(f->order[0]), "%s", t[i].id);
		f->seen++;
		/* Optional strings arrive as "", never NULL. */
		if (t[i].aud == NULL || t[i].scope == NULL || t[i].name == NULL)
			errs[i] = STORE_ERROR;
		else if (strcmp(t[i].id, "dup") == 0)
			errs[i] = STORE_CONFLICT;
	}
	rc = f->fail;
	/* A record "boom" fails its whole batch. */
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].id, "boom") == 0)
			rc = STORE_UNAVAILABLE;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

#define FAKE_INIT(hold)	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, (hold), 0, 0, 0, 0, 0, { "" } }

static const struct store_ops fake_ops = {
	.name = "fake",
	.commit_tokens = fake_commit,
};

static struct store_token
tok(const char *id)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	t.id = (char *)id;
	t.client_id = (char *)"c";
	t.tenant_id = (char *)"t";
	/* name, scope, aud left NULL on purpose */
	return t;
}

/* A writer over f with room for queue records, committing at most batch
 * at a time; fails the test when refused. */
static struct writer *
start_writer(struct fake *f, size_t queue, size_t batch)
{
	char err[128] = "";
	struct writer *w = writer_start(&fake_ops, f, queue, batch, err, sizeof(err));

	if (w == NULL)
		fail_msg("writer_start: %s", err);
	return w;
}

/* Queues record id, answered into a; it must be accepted. */
static void
put(struct writer *w, const char *id, struct tally *a)
{
	struct store_token t = tok(id);

	assert_int_equal(writer_enqueue(w, &t, tally_done, a), STORE_OK);
}

static void
wait_inside(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	while (!f->inside)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void
release(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->hold = 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void
bounded_fifo_batched(void **state)
{
	struct fake f = FAKE_INIT(1);
	struct tally a = TALLY_INIT;
	struct store_token t;
	struct writer *w;
	char id[16];

	(void)state;
	w = start_writer(&f, 4, 2);
	/* The first record is taken at once and held at the gate. */
	put(w, "r0", &a);
	wait_inside(&f);
	/* Then four wait; the fifth is refused, and never answered. */
	for (int i = 1; i <= 4; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		put(w, id, &a);
	}
	t = tok("r5");
	assert_int_equal(writer_enqueue(w, &t, tally_done, &a), STORE_UNAVAILABLE);
	assert_non_null(strstr(store_last_error(), "queue is full"));
	assert_int_equal(a.n, 0);	/* nothing answered before it is durable */
	release(&f);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_int_equal(a.n, 5);
	assert_int_equal(a.ok, 5);
	assert_int_equal(f.seen, 5);
	assert_int_equal(f.max_batch, 2);
	assert_int_equal(f.batches, 3);	/* 1, then 2 + 2 */
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		assert_string_equal(f.order[i], id);
	}
	/* Room again once drained. */
	put(w, "r6", &a);
	writer_stop(w);
	assert_int_equal(a.ok, 6);
}

static void
errors_reach_each_record(void **state)
{
	struct fake f = FAKE_INIT(1);
	struct tally a = TALLY_INIT;
	struct store_token t;
	struct writer *w;

	(void)state;
	w = start_writer(&f, 16, 16);
	put(w, "first", &a);
	wait_inside(&f);
	put(w, "a", &a);
	put(w, "dup", &a);
	t = tok("b");
	assert_int_equal(writer_enqueue(w, &t, NULL, NULL), STORE_OK);	/* no callback: fine */
	release(&f);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_int_equal(a.ok, 2);
	assert_int_equal(a.conflict, 1);
	assert_int_equal(a.other, 0);

	/* A failed batch fails every record in it with the batch's error,
	 * and the flush that waited for them says so. */
	f.fail = STORE_UNAVAILABLE;
	put(w, "c", &a);
	put(w, "dup", &a);
	assert_int_equal(writer_flush(w), STORE_UNAVAILABLE);
	assert_non_null(strstr(store_last_error(), "2 of the records queued before the flush"));
	assert_int_equal(a.unavailable, 2);
	/* A loss before a flush is not that flush's. */
	f.fail = STORE_OK;
	assert_int_equal(writer_flush(w), STORE_OK);
	put(w, "d", &a);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_int_equal(a.ok, 3);
	writer_stop(w);
}

/* A flush on a thread of its own; its result and error message (the
 * message is per thread) in flushed. */
static struct {
	int	 rc;
	char	 msg[256];
} flushed;

static void *
flush_thread(void *arg)
{
	flushed.rc = writer_flush(arg);
	snprintf(flushed.msg, sizeof(flushed.msg), "%s", store_last_error());
	return NULL;
}

/* Waits until a flush has taken its target (the records queued before it). */
static void
wait_flush_begun(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->flush_target == 0) {
		pthread_mutex_unlock(&w->mu);
		sched_yield();
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
}

static void
a_failed_batch_counts_only_the_flush_s_records_in_it(void **state)
{
	struct fake f = FAKE_INIT(1);
	struct tally a = TALLY_INIT;
	struct writer *w;
	pthread_t th;

	(void)state;
	w = start_writer(&f, 16, 16);
	/* r0 commits alone, held at the gate; a and b queue behind it. */
	put(w, "r0", &a);
	wait_inside(&f);
	put(w, "a", &a);
	put(w, "b", &a);
	/* The flush waits for those three. Then two more queue: one batch of
	 * four, which fails, holds two of the flush's records and two that
	 * came after it. */
	assert_int_equal(pthread_create(&th, NULL, flush_thread, w), 0);
	wait_flush_begun(w);
	put(w, "boom", &a);
	put(w, "d", &a);
	release(&f);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(flushed.rc, STORE_UNAVAILABLE);
	assert_non_null(strstr(flushed.msg, "2 of the records queued before the flush"));
	assert_int_equal(f.batches, 2);
	assert_int_equal(a.ok, 1);
	assert_int_equal(a.unavailable, 4);
	/* The records after it were lost too, but no flush waited for them. */
	assert_int_equal(writer_flush(w), STORE_OK);
	writer_stop(w);
}

static void
stop_drains_the_queue(void **state)
{
	struct fake f = FAKE_INIT(0);
	struct tally a = TALLY_INIT;
	struct writer *w;
	char err[128], id[16];

	(void)state;
	w = start_writer(&f, 1000, 7);
	for (int i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		put(w, id, &a);
	}
	writer_stop(w);
	assert_int_equal(a.ok, 500);
	assert_true(f.max_batch >= 1 && f.max_batch <= 7);
	writer_stop(NULL);
	assert_null(writer_start(&fake_ops, &f, 0, 7, err, sizeof(err)));
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
announced_records_share_a_commit(void **state)
{
	struct fake f = FAKE_INIT(0);
	struct tally a = TALLY_INIT;
	struct timespec pause = { 0, 50 * 1000000L };	/* 50 ms: far past the 1 ms minimum */
	struct store_token t;
	struct writer *w;
	double t0;

	(void)state;
	w = start_writer(&f, 16, 16);
	/* A bound far beyond the test's pauses: waiting for it would show. */
	writer_set_pacing(w, 1000000LL, 20LL * 1000000000LL);
	put(w, "p0", &a);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_int_equal(f.batches, 1);

	/* p2 is on its way: p1 waits for it, past the minimum interval. */
	writer_expect(w, 1);
	put(w, "p1", &a);
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&f.mu);
	assert_int_equal(f.seen, 1);
	pthread_mutex_unlock(&f.mu);
	put(w, "p2", &a);
	writer_expect(w, -1);	/* arrived: the commit starts now, not in 20 s */
	t0 = now_s();
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_true(now_s() - t0 < 10.0);
	assert_int_equal(f.batches, 2);
	assert_int_equal(f.max_batch, 2);
	assert_string_equal(f.order[1], "p1");
	assert_string_equal(f.order[2], "p2");

	/* Nothing announced: a record commits without waiting for the bound. */
	t = tok("p3");
	t0 = now_s();
	assert_int_equal(writer_enqueue(w, &t, tally_done, &a), STORE_OK);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_true(now_s() - t0 < 10.0);
	assert_int_equal(f.batches, 3);

	/* A hint that never resolves delays, and never loses, a record. */
	writer_set_pacing(w, 1000000LL, 100000000LL);	/* 100 ms */
	writer_expect(w, 1);
	put(w, "p4", &a);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_int_equal(a.ok, 5);
	writer_expect(w, -1);
	writer_stop(w);
}

/*
 * Regression: after a quiet spell longer than the bound, the writer paced
 * from its last commit, long past, and committed the first record at once
 * although another was announced: a token's audit row went alone and its
 * record paid a second sync (1.3 commits per lone token over HTTP).
 */
static void
after_a_quiet_spell_announced_records_still_share_a_commit(void **state)
{
	struct fake f = FAKE_INIT(0);
	struct tally a = TALLY_INIT;
	struct timespec quiet = { 0, 300 * 1000000L }, gap = { 0, 20 * 1000000L };
	struct writer *w;

	(void)state;
	w = start_writer(&f, 16, 16);
	writer_set_pacing(w, 1000000LL, 200000000LL);	/* 1 ms, 200 ms */
	put(w, "q0", &a);
	assert_int_equal(writer_flush(w), STORE_OK);
	nanosleep(&quiet, NULL);	/* past the 200 ms bound */

	writer_expect(w, 1);
	put(w, "q1", &a);		/* the audit row */
	nanosleep(&gap, NULL);		/* signing, well within the bound */
	pthread_mutex_lock(&f.mu);
	assert_int_equal(f.seen, 1);	/* q1 waits for its record */
	pthread_mutex_unlock(&f.mu);
	put(w, "q2", &a);		/* the record */
	writer_expect(w, -1);
	assert_int_equal(writer_flush(w), STORE_OK);
	assert_int_equal(f.batches, 2);
	assert_int_equal(f.max_batch, 2);
	writer_stop(w);
}

/* What writer_on_commit reported (on the writer thread). */
struct reports {
	pthread_mutex_t	 mu;
	size_t		 calls, records;
	int		 last_err;
	int64_t		 min_ns;
};

static void
report(void *arg, size_t records, int64_t ns, int err)
{
	struct reports *r = arg;

	pthread_mutex_lock(&r->mu);
	r->calls++;
	r->records += records;
	r->last_err = err;
	if (ns < r->min_ns)
		r->min_ns = ns;
	pthread_mutex_unlock(&r->mu);
}

static void
commits_are_reported(void **state)
{
	struct fake f = FAKE_INIT(1);
	struct tally a = TALLY_INIT;
	struct reports r = { PTHREAD_MUTEX_INITIALIZER, 0, 0, -1, INT64_MAX };
	struct writer *w;
	char id[16];

	(void)state;
	w = start_writer(&f, 16, 4);
	writer_on_commit(w, report, &r);
	put(w, "c0", &a);
	wait_inside(&f);
	for (int i = 1; i < 10; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		put(w, id, &a);
	}
	release(&f);
	assert_int_equal(writer_flush(w), STORE_OK);
	/* One report a batch, with its records, before the answers. */
	assert_int_equal(r.calls, f.batches);
	assert_int_equal(r.calls, 4);	/* 1, then 4 + 4 + 1 */
	assert_int_equal(r.records, 10);
	assert_int_equal(r.last_err, STORE_OK);
	assert_true(r.min_ns >= 0);
	/* A failed commit is reported with its error. */
	f.fail = STORE_UNAVAILABLE;
	put(w, "c10", &a);
	assert_int_equal(writer_flush(w), STORE_UNAVAILABLE);
	assert_int_equal(r.calls, 5);
	assert_int_equal(r.last_err, STORE_UNAVAILABLE);
	f.fail = STORE_OK;
	/* And none once it is taken away. */
	writer_on_commit(w, NULL, NULL);
	put(w, "c11", &a);
	writer_stop(w);
	assert_int_equal(r.calls, 5);
	assert_int_equal(a.n, 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bounded_fifo_batched),
		cmocka_unit_test(errors_reach_each_record),
		cmocka_unit_test(a_failed_batch_counts_only_the_flush_s_records_in_it),
		cmocka_unit_test(stop_drains_the_queue),
		cmocka_unit_test(announced_records_share_a_commit),
		cmocka_unit_test(after_a_quiet_spell_announced_records_still_share_a_commit),
		cmocka_unit_test(commits_are_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
