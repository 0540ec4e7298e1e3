/* signals.c — see signals.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "obs/log.h"
#include "server/signals.h"

struct sigwatch {
	sigset_t	 set;
	int64_t		 stop_timeout;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* on the monotonic clock */
	unsigned	 hups;		/* SIGHUPs not yet taken by sigwatch_wait */
	int		 stop;		/* the signal that asked for the stop; 0 */
};

static void
signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

void
sigwatch_block(void)
{
	sigset_t set;

	signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *
watchdog(void *arg)
{
	const struct sigwatch *w = arg;
	struct timespec ts = { (time_t)w->stop_timeout, 0 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	log_event(LOG_ERROR, "server.stop_timeout", json_pack("{s:I, s:s}", "seconds",
	    (json_int_t)w->stop_timeout, "reason", "requests in flight or queued records were "
	    "not answered by the store in time; exiting without them"));
	_exit(1);
}

static const char *
signal_name(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP";
}

static void *
signal_thread(void *arg)
{
	struct sigwatch *w = arg;

	for (;;) {
		int sig = 0;
		pthread_t t;

		if (sigwait(&w->set, &sig) != 0)
			continue;
		pthread_mutex_lock(&w->mu);
		if (sig == SIGHUP) {
			w->hups++;
		} else if (w->stop != 0) {
			pthread_mutex_unlock(&w->mu);
			log_event(LOG_ERROR, "server.stop_forced", json_pack("{s:s}", "signal",
			    signal_name(sig)));
			_exit(1);
		} else {
			w->stop = sig;
			log_event(LOG_INFO, "server.stopping", json_pack("{s:s}", "signal",
			    signal_name(sig)));
			/* Never joined: the process's exit ends it. */
			if (pthread_create(&t, NULL, watchdog, w) == 0)
				pthread_detach(t);
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

/* One per process, as the signal dispositions are: it lives until the
 * process exits (a stop may come at any time, and a second one must still
 * be heard), so it is static rather than allocated. */
static struct sigwatch the_watch;

struct sigwatch *
sigwatch_start(int64_t stop_timeout)
{
	struct sigwatch *w = &the_watch;
	pthread_condattr_t ca;
	pthread_t t;

	if (stop_timeout <= 0 || w->stop_timeout != 0)
		return NULL;	/* a bad timeout, or started already */
	signal_set(&w->set);
	w->stop_timeout = stop_timeout;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t, NULL, signal_thread, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		w->stop_timeout = 0;
		return NULL;
	}
	pthread_detach(t);
	return w;
}

enum sigwatch_event
sigwatch_wait(struct sigwatch *w, int ms)
{
	struct timespec until;
	enum sigwatch_event ev = SIGWATCH_TICK;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (w->stop == 0 && w->hups == 0 &&
	    pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
		;
	if (w->stop != 0)
		ev = SIGWATCH_STOP;
	else if (w->hups > 0) {
		w->hups = 0;
		ev = SIGWATCH_HUP;
	}
	pthread_mutex_unlock(&w->mu);
	return ev;
}
