/*
 * writer.c — the group-commit writer (see writer.h). A ring of queued
 * records under one mutex; the writer thread moves up to batch_max of them
 * out under the lock, commits them without it, then answers them.
 *
 * Flush uses sequence numbers rather than "queue empty": a flush waits for
 * the records queued before it, so steady traffic from other threads cannot
 * starve it.
 *
 * Commits are paced (PostgreSQL's commit_delay, made adaptive). A durable
 * commit costs CPU of its own (the sync's kernel work, ~200 us here), so
 * back-to-back commits of one or two records took a tenth of the CPU from
 * RS256 signing. A commit starts at least WRITER_MIN_INTERVAL_NS after the
 * last one; past that, it waits for records that producers have announced
 * (writer_expect: a token being signed) up to WRITER_MAX_INTERVAL_NS, and
 * starts at once when none is on its way, or a full batch waits. A lone
 * request after a quiet spell therefore commits as soon as its records are
 * queued; under load, the tokens being signed join the batch instead of
 * paying their own sync.
 *
 * A backend may ask for a shorter minimum (store_ops.commit_interval_ns)
 * when its commits cost less than its answers' wait: SQLite, whose WAL
 * writes go out gathered (sqlite_walbuf.c), takes 0.5 ms. There opaque
 * issuance, which waits on the commit rather than on the CPU, went 13%
 * faster (three alternating runs each: 23,000 -> 26,000 tokens/s) and
 * RS256 and ES256, whose batches are closed by the records announced,
 * stayed the same; on PostgreSQL, where a commit is a round trip and a
 * flush of its own, 0.5 ms cost 7-11% (BENCHMARKS.md, fifteenth session).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/audit_group.h"
#include "store/store_backend.h"
#include "store/writer.h"

struct item {
	int			 is_audit;	/* a (audit row) rather than t */
	struct store_token	 t;	/* strings point into buf */
	struct store_audit	 a;	/* strings point into buf */
	char			*buf;	/* one allocation per record */
	store_done_fn		 done;
	void			*arg;
};

struct writer {
	const struct store_ops	*ops;
	void			*h;
	pthread_t		 thread;

	pthread_mutex_t		 mu;
	pthread_cond_t		 work;		/* queued, or stop */
	pthread_cond_t		 progress;	/* committed moved */
	struct item		*q;		/* ring of cap */
	size_t			 cap, head, len;
	uint64_t		 queued;	/* records ever queued */
	uint64_t		 answered;	/* records ever answered */
	/* The flush under way (one at a time, flush_mu): the records up to
	 * flush_target, and how many of them a failed commit lost. */
	pthread_mutex_t		 flush_mu;
	uint64_t		 flush_target, flush_lost;
	int			 flush_err;
	int			 stop;
	atomic_int		 pacing;	/* the writer waits in pace() */
	int64_t			 min_interval_ns, max_interval_ns;
	atomic_int		 expected;	/* records announced, not yet queued */
	store_commit_fn		 on_commit;	/* under mu */
	void			*on_commit_arg;
	const struct store_audit_key *audit_key;	/* under mu */

	/* The writer thread's own batch buffers (no lock). */
	size_t			 batch_max;
	struct item		*bi;
	struct store_token	*bt;
	int			*errs;
	struct store_audit	*ba;
	size_t			*tpos;	/* bi index -> bt index */
	struct audit_grouper	*grouper;	/* a client's token events share a row */
};

/*
 * Copies the n (at most 8) strings src[] (NULL as "") into one allocation,
 * *buf, and points *dst[i] at each copy: a record's strings are freed at
 * once when the writer has answered it. -1 when out of memory.
 */
static int
pack_strings(char **buf, const char *const *src, char **const *dst, int n)
{
	size_t len[8], total = 0;
	char *p;

	for (int i = 0; i < n; i++) {
		len[i] = strlen(src[i] != NULL ? src[i] : "") + 1;
		total += len[i];
	}
	if ((*buf = malloc(total)) == NULL)
		return -1;
	p = *buf;
	for (int i = 0; i < n; i++) {
		memcpy(p, src[i] != NULL ? src[i] : "", len[i]);
		*dst[i] = p;
		p += len[i];
	}
	return 0;
}

/* Fills *it with a copy of t in one allocation; NULL optional strings
 * become "". */
static int
item_fill(struct item *it, const struct store_token *t)
{
	const char *const f[6] = { t->id, t->client_id, t->tenant_id, t->name, t->scope, t->aud };
	char **const dst[6] = { &it->t.id, &it->t.client_id, &it->t.tenant_id, &it->t.name,
	    &it->t.scope, &it->t.aud };

	memset(it, 0, sizeof(*it));
	it->t = *t;
	return pack_strings(&it->buf, f, dst, 6);
}

/* Fills *it with a copy of an audit row in one allocation; NULL strings
 * become "". */
static int
item_fill_audit(struct item *it, const struct store_audit *a)
{
	const char *const f[8] = { a->request_id, a->actor, a->tenant, a->address, a->action,
	    a->target, a->outcome, a->detail };
	char **const dst[8] = { &it->a.request_id, &it->a.actor, &it->a.tenant, &it->a.address,
	    &it->a.action, &it->a.target, &it->a.outcome, &it->a.detail };

	memset(it, 0, sizeof(*it));
	it->is_audit = 1;
	it->a = *a;
	return pack_strings(&it->buf, f, dst, 8);
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits (mu held) until a commit may start: see the top of the file. */
static void
pace(struct writer *w, int64_t last_start)
{
	int64_t min = last_start + w->min_interval_ns, max = last_start + w->max_interval_ns;
	struct timespec ts;

	atomic_store(&w->pacing, 1);	/* before reading expected: see writer_expect */
	for (;;) {
		int64_t now = mono_ns(), until;
		if (w->stop || w->len >= w->batch_max || now >= max)
			break;
		if (now >= min && atomic_load(&w->expected) <= 0)
			break;
		until = now < min ? min : max;
		ts.tv_sec = (time_t)(until / 1000000000LL);
		ts.tv_nsec = (long)(until % 1000000000LL);
		pthread_cond_timedwait(&w->work, &w->mu, &ts);
	}
	atomic_store(&w->pacing, 0);
}

void
writer_set_pacing(struct writer *w, int64_t min_ns, int64_t max_ns)
{
	pthread_mutex_lock(&w->mu);
	w->min_interval_ns = min_ns;
	w->max_interval_ns = max_ns > min_ns ? max_ns : min_ns;
	pthread_mutex_unlock(&w->mu);
}

void
writer_set_audit_key(struct writer *w, const struct store_audit_key *k)
{
	pthread_mutex_lock(&w->mu);
	w->audit_key = k;
	pthread_mutex_unlock(&w->mu);
}

void
writer_on_commit(struct writer *w, store_commit_fn fn, void *arg)
{
	pthread_mutex_lock(&w->mu);
	w->on_commit = fn;
	w->on_commit_arg = arg;
	pthread_mutex_unlock(&w->mu);
}

void
writer_expect(struct writer *w, int delta)
{
	/* The last announced record has arrived (or will not come): a pacing
	 * writer need not wait longer. Both sides write one atomic and then
	 * read the other's (sequentially consistent): either the writer sees
	 * expected at 0, or this sees pacing set and wakes it. Only then is
	 * the lock taken. */
	if (atomic_fetch_add(&w->expected, delta) + delta <= 0 && delta < 0 &&
	    atomic_load(&w->pacing)) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
	}
}

/* Takes the next batch, at most batch_max, off the queue into w->bi; w->mu
 * held. */
static size_t
batch_take(struct writer *w)
{
	size_t n = w->len < w->batch_max ? w->len : w->batch_max;

	for (size_t i = 0; i < n; i++) {
		w->bi[i] = w->q[w->head];
		w->head = (w->head + 1) % w->cap;
	}
	w->len -= n;
	return n;
}

/* Commits the batch of n in w->bi (w->mu not held), then answers each of
 * them: only now that it is durable. The commit's answer. */
static int
batch_commit(struct writer *w, size_t n, const struct store_audit_key *key,
    store_commit_fn report, void *report_arg)
{
	size_t nt = 0, na = 0;
	int64_t t0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (w->bi[i].is_audit) {
			w->ba[na++] = w->bi[i].a;
			continue;
		}
		w->tpos[i] = nt;
		w->bt[nt] = w->bi[i].t;
		w->errs[nt++] = STORE_OK;
	}
	/* Audit rows ride in the tokens' transaction: no extra sync.
	 * (writer_enqueue_audit has checked that commit_batch exists.) */
	t0 = mono_ns();
	if (na == 0) {
		rc = w->ops->commit_tokens(w->h, w->bt, nt, w->errs);
	} else {
		na = audit_group_rows(w->grouper, w->ba, na);
		rc = w->ops->commit_batch(w->h, w->bt, nt, w->errs, key, w->ba, na);
		audit_grouper_release(w->grouper);
	}
	if (report != NULL)
		report(report_arg, n, mono_ns() - t0, rc);
	/* Answers go out only now that the batch is durable. */
	for (size_t i = 0; i < n; i++) {
		int e = rc != STORE_OK || w->bi[i].is_audit ? rc : w->errs[w->tpos[i]];
		if (w->bi[i].done != NULL)
			w->bi[i].done(w->bi[i].arg, e);
		free(w->bi[i].buf);
	}
	return rc;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	int64_t last_start = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		size_t n;
		int rc, slept = 0;
		int64_t t0;
		store_commit_fn report;
		void *report_arg;
		const struct store_audit_key *key;

		while (w->len == 0 && !w->stop) {
			pthread_cond_wait(&w->work, &w->mu);
			slept = 1;
		}
		if (w->len == 0)
			break;		/* stopping, and drained */
		/* After a quiet spell the last commit is long past, and pacing
		 * from it would start this one at once: a token's audit row,
		 * queued just before its record, would commit alone and the
		 * record would pay a second sync. Pace from now instead, as if
		 * a commit had started the minimum interval ago: nothing
		 * announced still commits at once; an announced record is
		 * waited for, up to the usual bound. */
		if (slept && (t0 = mono_ns()) - last_start > w->max_interval_ns)
			last_start = t0 - w->min_interval_ns;
		pace(w, last_start);
		last_start = mono_ns();
		n = batch_take(w);
		report = w->on_commit;
		report_arg = w->on_commit_arg;
		key = w->audit_key;
		pthread_mutex_unlock(&w->mu);

		rc = batch_commit(w, n, key, report, report_arg);

		pthread_mutex_lock(&w->mu);
		if (rc != STORE_OK && w->flush_target > w->answered) {
			uint64_t end = w->answered + n;
			w->flush_lost += (end < w->flush_target ? end : w->flush_target) - w->answered;
			w->flush_err = rc;
		}
		w->answered += n;
		pthread_cond_broadcast(&w->progress);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void writer_free(struct writer *);

struct writer *
writer_start(const struct store_ops *ops, void *h, size_t queue_max, size_t batch_max,
    char *err, size_t errlen)
{
	struct writer *w = NULL;

	if (queue_max == 0 || batch_max == 0) {
		snprintf(err, errlen, "writer: queue and batch sizes must be positive");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->ops = ops;
	w->h = h;
	w->cap = queue_max;
	w->batch_max = batch_max;
	if ((w->q = calloc(queue_max, sizeof(*w->q))) == NULL ||
	    (w->bi = calloc(batch_max, sizeof(*w->bi))) == NULL ||
	    (w->bt = calloc(batch_max, sizeof(*w->bt))) == NULL ||
	    (w->errs = calloc(batch_max, sizeof(*w->errs))) == NULL ||
	    (w->ba = calloc(batch_max, sizeof(*w->ba))) == NULL ||
	    (w->tpos = calloc(batch_max, sizeof(*w->tpos))) == NULL ||
	    (w->grouper = audit_grouper_new(batch_max)) == NULL)
		goto nomem;
	w->min_interval_ns = ops->commit_interval_ns > 0 ? ops->commit_interval_ns :
	    WRITER_MIN_INTERVAL_NS;
	w->max_interval_ns = WRITER_MAX_INTERVAL_NS;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->flush_mu, NULL);
	{
		pthread_condattr_t ca;	/* pace() waits on the monotonic clock */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->work, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&w->progress, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(err, errlen, "cannot start the store writer thread");
		pthread_mutex_destroy(&w->mu);
		pthread_mutex_destroy(&w->flush_mu);
		pthread_cond_destroy(&w->work);
		pthread_cond_destroy(&w->progress);
		goto fail;
	}
	return w;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	writer_free(w);
	return NULL;
}

static int enqueue(struct writer *, struct item *, store_done_fn, void *);

int
writer_enqueue(struct writer *w, const struct store_token *t, store_done_fn done, void *arg)
{
	struct item it;

	if (item_fill(&it, t) == -1)
		return store_set_error(STORE_ERROR, "out of memory");
	return enqueue(w, &it, done, arg);
}

int
writer_enqueue_audit(struct writer *w, const struct store_audit *a, store_done_fn done, void *arg)
{
	struct item it;

	if (w->ops->commit_batch == NULL)
		return store_set_error(STORE_ERROR,
		    "the %s store backend does not keep an audit trail", w->ops->name);
	if (item_fill_audit(&it, a) == -1)
		return store_set_error(STORE_ERROR, "out of memory");
	return enqueue(w, &it, done, arg);
}

/* Takes it (and its buf) into the queue, to be answered with done(arg), or
 * frees buf and refuses. */
static int
enqueue(struct writer *w, struct item *itp, store_done_fn done, void *arg)
{
	struct item it = *itp;

	it.done = done;
	it.arg = arg;

	pthread_mutex_lock(&w->mu);
	if (w->stop || w->len == w->cap) {
		int closing = w->stop;
		pthread_mutex_unlock(&w->mu);
		free(it.buf);
		if (closing)
			return store_set_error(STORE_UNAVAILABLE, "the store is closing");
		return store_set_error(STORE_UNAVAILABLE,
		    "the token write queue is full (%zu records waiting)", w->cap);
	}
	w->q[(w->head + w->len) % w->cap] = it;
	/* The writer only sleeps on an empty queue. */
	if (w->len++ == 0)
		pthread_cond_signal(&w->work);
	w->queued++;
	pthread_mutex_unlock(&w->mu);
	return STORE_OK;
}

int
writer_flush(struct writer *w)
{
	uint64_t lost;
	int err;

	/* One flush at a time, so that the writer counts the losses of one
	 * range of records: flushes are rare (SIGTERM, tests). */
	pthread_mutex_lock(&w->flush_mu);
	pthread_mutex_lock(&w->mu);
	w->flush_target = w->queued;
	w->flush_lost = 0;
	while (w->answered < w->flush_target)
		pthread_cond_wait(&w->progress, &w->mu);
	lost = w->flush_lost;
	err = w->flush_err;
	w->flush_target = 0;
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_unlock(&w->flush_mu);
	if (lost > 0)
		return store_set_error(err, "%llu of the records queued before the flush "
		    "were not committed", (unsigned long long)lost);
	return STORE_OK;
}

void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->flush_mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->progress);
	writer_free(w);
}

/* Frees w and its buffers (not the thread, mutex or conditions); NULL is a
 * no-op. */
static void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	free(w->q);
	free(w->bi);
	free(w->bt);
	free(w->errs);
	free(w->ba);
	free(w->tpos);
	audit_grouper_free(w->grouper);
	free(w);
}
