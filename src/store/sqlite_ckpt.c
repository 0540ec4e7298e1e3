/*
 * sqlite_ckpt.c — checkpoints off the committing threads (see
 * sqlite_internal.h).
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
 * past 1000 frames, on the committing thread. For the group-commit writer
 * that was ~7 ms of copying every ~19 batches of opaque tokens (measured
 * with timers around its statements): a fifth of the one writer thread's
 * cycle, while every request of those batches waited and a third of the
 * CPU stood idle. Here a commit only wakes a checkpointer thread, whose own
 * connection copies frames back into the database file with PASSIVE
 * checkpoints, which never block the writer or readers.
 *
 * A passive checkpoint cannot start the WAL over while the writer keeps
 * appending: the log restarts only when a writer begins with every frame
 * already copied. So once the WAL holds SQ_CKPT_FORCE_FRAMES, the committing
 * connection, between its transactions, waits for the thread's pass to end,
 * holds the next one off, and runs a RESTART checkpoint itself: it copies
 * the rest, waits (busy handler) for readers to move on, and the next commit
 * starts the log over. That bounds the -wal file near 64 MB. (It must wait
 * for our own pass: a second checkpoint fails at once with SQLITE_BUSY
 * while one runs, without asking the busy handler. And the thread cannot
 * run the RESTART: it would have to find a gap between the writer's
 * transactions, which a busy writer does not leave.)
 *
 * A reader that keeps an old snapshot (a backup, a sqlite3 shell left in a
 * transaction) makes every RESTART fail until it ends. So the RESTART waits
 * for readers SQ_CKPT_RESTART_WAIT_MS, not the connection's busy timeout,
 * and after one fails the next waits for a background pass's worth of
 * frames more: with the busy timeout every commit past the bound waited 5 s
 * for such a reader, on the committing thread (the writer's whole batch,
 * or the main connection with its mutex held). The WAL then grows until
 * the reader ends, as it would under SQLite's own checkpoints.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ_CKPT_FRAMES		1000	/* new frames that wake a pass (SQLite's default) */
#define SQ_CKPT_FORCE_FRAMES	16000	/* ~64 MB of 4 KB pages: checkpoint inline */
#define SQ_CKPT_MAX_ATTACHED	4
#define SQ_CKPT_RESTART_WAIT_MS	100	/* for readers, within a commit */

struct sq_ckpt {
	char		*path;
	sqlite3		*db;		/* the checkpointer's connection */
	pthread_t	 thread;
	int		 started;	/* the thread was started (it may have ended) */
	int		 failed;	/* it could not start or connect: no passes */
	char		 why[256];	/* what failed, for sq_ckpt_failed */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 want, stop;
	int		 running;	/* a pass is copying */
	int		 hold;		/* RESTARTs running: no pass may start */
	int		 copied;	/* frames the last pass had copied */
	int		 retry_at;	/* after a failed RESTART: frames before the next */
	int		 background, force;	/* thresholds, in frames */
	sqlite3		*attached[SQ_CKPT_MAX_ATTACHED];
	size_t		 nattached;
};

static void *
checkpointer_main(void *arg)
{
	struct sq_ckpt *c = arg;
	char err[256];
	/* Its own connection, opened here rather than in the commit that
	 * started the thread. Without one the thread ends: the frames stay in
	 * the WAL for readers, and the inline RESTART still bounds it. */
	int ok = sq_connect(c->path, &c->db, err, sizeof(err)) == 0;

	pthread_mutex_lock(&c->mu);
	if (!ok) {
		c->failed = 1;
		c->stop = 1;
		snprintf(c->why, sizeof(c->why), "%s", err);
	}
	for (;;) {
		int log = 0, copied = 0;

		while ((!c->want || c->hold) && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->want = 0;
		c->running = 1;
		pthread_mutex_unlock(&c->mu);
		/* A failure (SQLITE_BUSY while another process checkpoints)
		 * leaves the frames in the WAL, where readers find them; a
		 * later commit asks again. */
		(void)sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log,
		    &copied);
		pthread_mutex_lock(&c->mu);
		c->copied = copied > 0 ? copied : 0;
		c->running = 0;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* sqlite3_wal_hook: after each commit of an attached connection, on the
 * committing thread, with the frames now in the WAL. */
static int
on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq_ckpt *c = arg;
	int rc;

	pthread_mutex_lock(&c->mu);
	if (frames < c->force)
		c->retry_at = 0;	/* below the bound: none failed since */
	if (frames < c->force || frames < c->retry_at) {
		if (frames < c->copied)
			c->copied = 0;		/* the WAL started over */
		/* Frames since the last pass, not in all: a pass per commit
		 * would copy (and sync) the same hot pages again and again. */
		if (frames - c->copied >= c->background && !c->failed) {
			c->want = 1;
			/* Started by the first commit that needs a pass: a short
			 * CLI command never does, and so runs no thread. */
			if (!c->started) {
				if (pthread_create(&c->thread, NULL, checkpointer_main, c) == 0)
					c->started = 1;
				else {
					c->failed = 1;
					snprintf(c->why, sizeof(c->why), "cannot start its thread");
				}
			}
			pthread_cond_broadcast(&c->cv);
		}
		pthread_mutex_unlock(&c->mu);
		return SQLITE_OK;
	}
	c->hold++;		/* a count: both connections may get here */
	while (c->running)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	/* Failure (a reader past the wait, or another process's checkpoint)
	 * leaves the frames in the WAL, where readers find them; a commit a
	 * background pass's worth of frames later tries again. The hook runs
	 * on the thread that owns db: its busy timeout is ours to change and
	 * put back. */
	sqlite3_busy_timeout(db, SQ_CKPT_RESTART_WAIT_MS);
	rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	sqlite3_busy_timeout(db, SQI_BUSY_TIMEOUT_MS);
	pthread_mutex_lock(&c->mu);
	c->hold--;
	c->copied = rc == SQLITE_OK ? 0 : frames;
	c->retry_at = rc == SQLITE_OK ? 0 : frames + c->background;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return SQLITE_OK;
}

int
sq_ckpt_start(struct sq_ckpt **out, const char *path, char *err, size_t errlen)
{
	struct sq_ckpt *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->background = SQ_CKPT_FRAMES;
	c->force = SQ_CKPT_FORCE_FRAMES;
	if ((c->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		sq_ckpt_stop(c);
		return -1;
	}
	*out = c;
	return 0;
}

void
sq_ckpt_attach(struct sq_ckpt *c, sqlite3 *db)
{
	if (c->nattached == SQ_CKPT_MAX_ATTACHED)
		return;		/* SQLite's own automatic checkpoint stays */
	c->attached[c->nattached++] = db;
	sqlite3_wal_hook(db, on_commit, c);	/* replaces the automatic checkpoint */
}

int
sq_ckpt_failed(struct sq_ckpt *c, char *why, size_t len)
{
	int failed;

	pthread_mutex_lock(&c->mu);
	failed = c->failed;
	if (failed)
		snprintf(why, len, "%s", c->why);
	pthread_mutex_unlock(&c->mu);
	return failed;
}

void
sq_ckpt_set_frames(struct sq_ckpt *c, int background, int force)
{
	pthread_mutex_lock(&c->mu);
	c->background = background;
	c->force = force;
	pthread_mutex_unlock(&c->mu);
}

void
sq_ckpt_stop(struct sq_ckpt *c)
{
	if (c == NULL)
		return;
	/* The connections close after this: their last one checkpoints
	 * everything on close, as SQLite always does. */
	for (size_t i = 0; i < c->nattached; i++)
		sqlite3_wal_hook(c->attached[i], NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->started)
		pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	free(c->path);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
