/*
 * loop.h — private to src/http/: the threads that run libmicrohttpd
 * daemons started without an internal polling thread.
 *
 * Why not libmicrohttpd's own threads: in 0.9.75 a polling thread that
 * gets exactly MAX_EVENTS (128) events from one epoll_wait() calls
 * epoll_wait() again with the connections' full timeout (30 s here)
 * before it handles any of them. When nothing else happens on that
 * daemon, 128 connections sit with their requests unread until the
 * timeout or a new event: a server hit by a burst of 256 connections at
 * one thread per socket stalled at tens of requests per second (caught
 * with an epoll_wait shim: the call after a full one blocked for 2.6 s
 * and 3.0 s of a 3 s run). MHD_run() polls its epoll set with a zero
 * timeout, and the wait happens here instead, on the daemon's epoll
 * descriptor, so no burst of events is ever held back.
 *
 * A daemon without its own thread has no wake-up channel of its own
 * (0.9.75 drops MHD_USE_ITC then), so a connection resumed from another
 * thread must wake its loop: http_loop_wake(). Wakes coalesce: one
 * eventfd write per loop pass however many connections a group commit
 * resumes.
 */
#ifndef GH_HTTP_LOOP_H
#define GH_HTTP_LOOP_H

struct MHD_Daemon;
struct http_loops;
struct http_loop;	/* one daemon's */

/* Run by a loop before each sleep with its daemon's tick argument, on
 * the loop's thread: returns the longest the loop may sleep, in ms (-1:
 * as long as the daemon likes). */
typedef int (*http_loop_tick_fn)(void *arg);

/*
 * Starts one thread per daemon in d[0..n), named "http-0".."http-N",
 * each running its daemon until http_loops_stop(), and tick (when not
 * NULL) with tick_args[i] between the passes of d[i]. The daemons must
 * use epoll and no internal thread. Returns NULL (with err set) on
 * failure, having started nothing.
 */
struct http_loops	*http_loops_start(struct MHD_Daemon *const *d, unsigned n,
			    http_loop_tick_fn tick, void *const *tick_args,
			    char *err, size_t errlen);

/* Ends every loop after its current pass and joins the threads; the
 * daemons are left for MHD_stop_daemon(). NULL is a no-op. */
void			 http_loops_stop(struct http_loops *);

/* The loop the calling thread runs; NULL on any other thread. */
struct http_loop	*http_loop_current(void);

/* Makes l run its daemon again soon (after MHD_resume_connection on one
 * of its connections); safe from any thread. */
void			 http_loop_wake(struct http_loop *l);

#endif
