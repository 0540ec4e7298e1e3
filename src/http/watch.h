/*
 * watch.h — private to src/http: one daemon's connections, each with the
 * moment by which its client must have sent its next request whole.
 *
 * Why: libmicrohttpd 0.9.75 bounds only a connection's idle time, which
 * every byte received restarts. A client that sends a request's head a
 * byte every few seconds (slow-loris) held its connection for as long as
 * it liked, and 4096 such clients held every connection the server takes
 * (HTTP_MAX_CONNECTIONS). libmicrohttpd has no hook for a request not yet
 * whole, so each daemon's loop sweeps its connections (watch_sweep) and
 * ends those past their moment; the request must arrive within the
 * server's request timeout of the connection's opening or of the answer
 * before it, as nginx's client_header_timeout and Apache's mod_reqtimeout
 * bound theirs. A connection whose request is in the server's hands
 * (running, waiting for a group commit, being answered) is never ended
 * here.
 *
 * Every function runs on the thread that runs the daemon (its loop, or
 * the thread stopping the server once the loops have ended): no locks.
 */
#ifndef GH_HTTP_WATCH_H
#define GH_HTTP_WATCH_H

#include <stdint.h>

struct conn_watch;		/* one connection's */

struct http_watch {		/* one daemon's connections */
	struct conn_watch	*first;
	uint64_t		 timeout_ns;	/* a request's time to arrive */
	uint64_t		 next_sweep_ns;
	unsigned long		 cut;		/* ended since the last log line */
};

/* Starts watching the connection on descriptor fd, opened at now_ns: its
 * first request is due by now_ns + timeout. NULL when out of memory. */
struct conn_watch	*watch_open(struct http_watch *, int fd, uint64_t now_ns);

/* Stops watching it (the connection has closed) and frees cw. NULL is a
 * no-op. */
void			 watch_close(struct conn_watch *cw);

/* The connection's request is whole and in the server's hands: nothing is
 * due until watch_answered(). NULL is a no-op. */
void			 watch_busy(struct conn_watch *cw);

/* The connection's answer has gone: its next request is due by now_ns +
 * timeout. NULL is a no-op. */
void			 watch_answered(struct conn_watch *cw, uint64_t now_ns);

/* Ends (shuts down, for libmicrohttpd to close) every connection past its
 * moment, at most once a second. Returns how many milliseconds the loop
 * may sleep before it should sweep again, or -1 when nothing is
 * watched. */
int			 watch_sweep(struct http_watch *, uint64_t now_ns);

#endif
