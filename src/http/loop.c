/*
 * loop.c — one thread per libmicrohttpd daemon (see loop.h for why).
 *
 * Each pass asks the daemon how long it may sleep (MHD_get_timeout: 0
 * when connections already have work, the nearest idle timeout
 * otherwise) and the caller's tick (which may want to wake sooner),
 * sleeps in poll() on the daemon's epoll descriptor and the
 * loop's own eventfd, then lets MHD_run() handle whatever is ready,
 * connections resumed from other threads included.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/loop.h"
#include "obs/log.h"
#include "util/util.h"

struct http_loop {
	struct MHD_Daemon	*d;
	http_loop_tick_fn	 tick;		/* between passes, or NULL */
	void			*tick_arg;
	int			 epfd;		/* the daemon's epoll set */
	int			 wakefd;	/* eventfd: a resume, or stop */
	atomic_int		 woken;		/* wakefd written, not yet read */
	pthread_t		 thread;
	struct http_loops	*owner;
	char			 name[16];	/* "http-N", as ps and perf show it */
};

struct http_loops {
	atomic_int		 stop;
	unsigned		 n, started;
	http_loop_tick_fn	 tick;
	struct http_loop	 l[];
};

static _Thread_local struct http_loop *current;

struct http_loop *
http_loop_current(void)
{
	return current;
}

void
http_loop_wake(struct http_loop *l)
{
	uint64_t one = 1;

	/* Only the first wake of a pass writes; the loop clears woken
	 * before it runs the daemon, so a later resume writes again. A
	 * write of 1 to an eventfd fails only at a counter near 2^64. */
	if (l != NULL && !atomic_exchange(&l->woken, 1))
		(void)!write(l->wakefd, &one, sizeof(one));
}

/* How long the daemon may sleep: -1 (until an event) when it has no
 * connection to time out. */
static int
timeout_ms(struct MHD_Daemon *d)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(d, &t) != MHD_YES)
		return -1;
	return t > INT_MAX ? INT_MAX : (int)t;
}

/*
 * Out of file descriptors (EMFILE, ENFILE), libmicrohttpd 0.9.75 cannot
 * accept, and either way the loop must not rely on its epoll set alone:
 *
 * - A daemon with connections of its own takes its listening socket out
 *   of the set and puts it back at the start of a pass after one of them
 *   has closed. A loop that slept until an event once its last connection
 *   closed never accepted again (every connection waited in the backlog
 *   for good). So a loop runs a pass at least every LOOP_MAX_SLEEP_MS.
 * - A daemon with none keeps the socket in the set: every pass woke at
 *   once, failed to accept and went round again, a core at 100% for as
 *   long as the limit lasted. So a pass that woke to the daemon's set and
 *   left it without a connection checks for a free descriptor, and
 *   without one the loop waits LOOP_STARVED_MS before the next.
 */
#define LOOP_MAX_SLEEP_MS	1000
#define LOOP_STARVED_MS		100
#define LOOP_STARVED_LOG_NS	(60 * 1000000000ULL)	/* one line a minute at most */

/* 1 when the process can open no descriptor now: a probe that dups one. */
static int
out_of_descriptors(struct http_loop *l)
{
	int fd = fcntl(l->wakefd, F_DUPFD_CLOEXEC, 0);

	if (fd != -1) {
		close(fd);
		return 0;
	}
	return errno == EMFILE || errno == ENFILE;
}

/* After a pass that woke to the daemon and left it without connections:
 * when no descriptor is free, waits (for a stop only) and says so, once a
 * minute at most. */
static void
starve_wait(struct http_loop *l, uint64_t *last_log)
{
	const union MHD_DaemonInfo *info;
	struct pollfd p = { .fd = l->wakefd, .events = POLLIN };
	uint64_t now;

	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	if (info == NULL || info->num_connections > 0 || !out_of_descriptors(l))
		return;
	now = clock_mono_ns();
	if (*last_log == 0 || now - *last_log >= LOOP_STARVED_LOG_NS) {
		*last_log = now;
		log_event(LOG_ERROR, "http.out_of_descriptors", json_pack("{s:s, s:s}",
		    "loop", l->name, "note", "connections wait until descriptors are free; "
		    "raise the open-file limit (LimitNOFILE=, ulimit -n)"));
	}
	(void)poll(&p, 1, LOOP_STARVED_MS);
}

/* Sleeps until the daemon or the wake-up descriptor has something, or ms
 * pass; takes a wake-up that came. 1 when the daemon's set woke it. */
static int
wait_for_work(struct http_loop *l, int ms, int *complained)
{
	struct pollfd p[2] = {
		{ .fd = l->epfd, .events = POLLIN },
		{ .fd = l->wakefd, .events = POLLIN },
	};
	uint64_t n;

	if (ms != 0 && poll(p, 2, ms) == -1 && errno != EINTR) {
		/* Only ENOMEM is possible here: say so once, and do not spin
		 * while the kernel is short of memory. */
		if (!(*complained)++)
			log_event(LOG_ERROR, "http.poll_failed",
			    json_pack("{s:s}", "error", strerror(errno)));
		usleep(1000);
	}
	/* woken is cleared before MHD_run looks at the resumes; a write that
	 * lands after this read leaves the descriptor readable, and the
	 * next poll drains it. */
	if (atomic_exchange(&l->woken, 0) || (p[1].revents & POLLIN))
		(void)!read(l->wakefd, &n, sizeof(n));
	return ms != 0 && (p[0].revents & POLLIN) != 0;
}

static void *
loop_main(void *arg)
{
	struct http_loop *l = arg;
	int complained = 0;
	uint64_t starved_log = 0;

	current = l;
	(void)prctl(PR_SET_NAME, l->name, 0, 0, 0);
	while (!atomic_load(&l->owner->stop)) {
		int ms = timeout_ms(l->d), listened;

		if (l->tick != NULL) {
			int t = l->tick(l->tick_arg);
			if (t >= 0 && (ms < 0 || t < ms))
				ms = t;
		}
		if (ms < 0 || ms > LOOP_MAX_SLEEP_MS)
			ms = LOOP_MAX_SLEEP_MS;
		listened = wait_for_work(l, ms, &complained);
		MHD_run(l->d);
		if (listened)
			starve_wait(l, &starved_log);
	}
	return NULL;
}

static void
loops_free(struct http_loops *ls)
{
	for (unsigned i = 0; i < ls->n; i++)
		if (ls->l[i].wakefd != -1)
			close(ls->l[i].wakefd);
	free(ls);
}

/* Fills ls->l[i] for daemon d: -1 when it cannot be driven from here. */
static int
loop_init(struct http_loops *ls, unsigned i, struct MHD_Daemon *d, void *tick_arg,
    char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	struct http_loop *l = &ls->l[i];

	l->d = d;
	l->tick = ls->tick;
	l->tick_arg = tick_arg;
	l->owner = ls;
	l->epfd = info != NULL ? info->epoll_fd : -1;
	snprintf(l->name, sizeof(l->name), "http-%u", i);
	if (l->epfd == -1) {
		snprintf(err, errlen, "a daemon without an epoll set");
		return -1;
	}
	if ((l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct http_loops *
http_loops_start(struct MHD_Daemon *const *d, unsigned n, http_loop_tick_fn tick,
    void *const *tick_args, char *err, size_t errlen)
{
	struct http_loops *ls = calloc(1, sizeof(*ls) + n * sizeof(ls->l[0]));

	if (ls == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->n = n;
	ls->tick = tick;
	for (unsigned i = 0; i < n; i++)
		ls->l[i].wakefd = -1;
	for (unsigned i = 0; i < n; i++)
		if (loop_init(ls, i, d[i], tick_args != NULL ? tick_args[i] : NULL, err, errlen) == -1) {
			loops_free(ls);
			return NULL;
		}
	for (; ls->started < n; ls->started++) {
		struct http_loop *l = &ls->l[ls->started];
		int rc = pthread_create(&l->thread, NULL, loop_main, l);

		if (rc != 0) {
			snprintf(err, errlen, "cannot start an HTTP thread: %s", strerror(rc));
			http_loops_stop(ls);
			return NULL;
		}
	}
	return ls;
}

void
http_loops_stop(struct http_loops *ls)
{
	if (ls == NULL)
		return;
	atomic_store(&ls->stop, 1);
	for (unsigned i = 0; i < ls->started; i++) {
		atomic_store(&ls->l[i].woken, 0);	/* this wake must write */
		http_loop_wake(&ls->l[i]);
		pthread_join(ls->l[i].thread, NULL);
	}
	loops_free(ls);
}
