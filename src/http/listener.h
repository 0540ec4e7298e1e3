/*
 * listener.h — the accept loop in front of libmicrohttpd's event loops
 * (server.c): one listening socket, and each accepted connection handed to
 * the next of n daemons in turn, each with one thread of its own.
 *
 * Why not libmicrohttpd's own thread pool: its workers race to accept() on
 * the one socket, and a worker that wins takes a whole burst of
 * connections. Measured with wrk's 64 keep-alive connections (RS256, four
 * runs): in one run every connection went to one of the two workers, which
 * signed alone at 1141 tokens/s while the other core idled; balanced runs
 * gave 2021-2300/s. Round robin makes the split even every time.
 */
#ifndef GH_HTTP_LISTENER_H
#define GH_HTTP_LISTENER_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;
struct listener;

/* Binds host (numeric IPv4 or IPv6; IPv6 only, as libmicrohttpd binds
 * without dual stack) and port (0: a free one) and listens. 0, or -1 with a
 * one-line reason in err. */
int	 listener_open(const char *host, uint16_t port, struct listener **out,
	    char *err, size_t errlen);
/* The port actually bound. */
uint16_t listener_port(const struct listener *);
/* Starts the accept thread over daemons[0..n) (started with
 * MHD_USE_NO_LISTEN_SOCKET; they must outlive listener_close). 0, or -1
 * with a reason in err. */
int	 listener_start(struct listener *, struct MHD_Daemon *const *daemons,
	    size_t n, char *err, size_t errlen);
/* Stops accepting (connections still in the backlog are reset), joins the
 * thread, closes the socket, frees. NULL is a no-op. */
void	 listener_close(struct listener *);

#endif
