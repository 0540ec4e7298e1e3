/*
 * watch.c — the moment each connection's request is due by, and the sweep
 * that ends the connections past it (see watch.h for why).
 *
 * A list, not a heap or a timer wheel: a sweep is once a second and walks
 * at most a daemon's share of HTTP_MAX_CONNECTIONS, while opening,
 * closing and every request's two marks stay O(1) on the hot path.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "http/watch.h"
#include "obs/log.h"
#include "obs/metrics.h"

#define SWEEP_EVERY_MS	1000

struct conn_watch {
	struct http_watch	*owner;
	struct conn_watch	*prev, *next;
	int			 fd;
	uint64_t		 due_ns;	/* 0: the request is the server's */
};

struct conn_watch *
watch_open(struct http_watch *w, int fd, uint64_t now_ns)
{
	struct conn_watch *cw = malloc(sizeof(*cw));

	if (cw == NULL)
		return NULL;
	cw->owner = w;
	cw->fd = fd;
	cw->due_ns = now_ns + w->timeout_ns;
	cw->prev = NULL;
	cw->next = w->first;
	if (w->first != NULL)
		w->first->prev = cw;
	w->first = cw;
	return cw;
}

void
watch_close(struct conn_watch *cw)
{
	struct http_watch *w;

	if (cw == NULL)
		return;
	w = cw->owner;
	if (cw->prev != NULL)
		cw->prev->next = cw->next;
	else
		w->first = cw->next;
	if (cw->next != NULL)
		cw->next->prev = cw->prev;
	free(cw);
}

void
watch_busy(struct conn_watch *cw)
{
	if (cw != NULL)
		cw->due_ns = 0;
}

void
watch_answered(struct conn_watch *cw, uint64_t now_ns)
{
	if (cw != NULL)
		cw->due_ns = now_ns + cw->owner->timeout_ns;
}

/* One line and one count per sweep that ended any, not per connection:
 * under a slow-loris attack a line each would flood the log. */
static void
report_cut(struct http_watch *w)
{
	metrics_add("gatehouse_http_requests_timed_out_total", (double)w->cut, NULL);
	log_event(LOG_INFO, "http.request_timeout", json_pack("{s:I, s:I}",
	    "connections", (json_int_t)w->cut,
	    "timeout_s", (json_int_t)(w->timeout_ns / 1000000000u)));
	w->cut = 0;
}

int
watch_sweep(struct http_watch *w, uint64_t now_ns)
{
	if (w->first == NULL)
		return -1;
	if (now_ns < w->next_sweep_ns)
		return (int)((w->next_sweep_ns - now_ns + 999999) / 1000000);
	for (struct conn_watch *cw = w->first; cw != NULL; cw = cw->next)
		if (cw->due_ns != 0 && now_ns >= cw->due_ns) {
			/* libmicrohttpd owns the descriptor: its next read
			 * sees the end and closes the connection (and
			 * watch_close follows). Never close() it here. */
			(void)shutdown(cw->fd, SHUT_RDWR);
			cw->due_ns = 0;
			w->cut++;
		}
	if (w->cut > 0)
		report_cut(w);
	w->next_sweep_ns = now_ns + (uint64_t)SWEEP_EVERY_MS * 1000000u;
	return SWEEP_EVERY_MS;
}
