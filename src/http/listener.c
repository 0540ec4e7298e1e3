/*
 * listener.c — accept and hand over in turn (see listener.h).
 */
#define _GNU_SOURCE		/* accept4: the socket is non-blocking from the start */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/listener.h"

struct listener {
	int			 fd;		/* listening, non-blocking */
	int			 stop_fd;	/* eventfd: wakes the thread to stop */
	uint16_t		 port;
	struct MHD_Daemon *const *d;
	size_t			 n, next;
	pthread_t		 thread;
	int			 started;
};

int
listener_open(const char *host, uint16_t port, struct listener **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct listener *l;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "listen address %s is not numeric", host);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->stop_fd = -1;
	if ((l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (ss.ss_family == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(l->fd, (struct sockaddr *)&ss, len) == -1 || listen(l->fd, SOMAXCONN) == -1 ||
	    getsockname(l->fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", host, port, strerror(errno));
		goto fail;
	}
	l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	if ((l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	*out = l;
	return 0;
fail:
	listener_close(l);
	return -1;
}

uint16_t
listener_port(const struct listener *l)
{
	return l->port;
}

/* Accepts what the backlog holds; 0, or -1 when the process is out of
 * descriptors or memory (the caller waits before trying again, as a busy
 * retry would spin). */
static int
accept_all(struct listener *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				return -1;
			return 0;	/* EAGAIN: drained */
		}
		/* On failure (the daemon's connection limit) libmicrohttpd has
		 * closed fd. */
		(void)MHD_add_connection(l->d[l->next], fd, (struct sockaddr *)&ss, len);
		l->next = (l->next + 1) % l->n;
	}
}

static void *
accept_main(void *arg)
{
	struct listener *l = arg;

	for (;;) {
		struct pollfd p[2] = { { l->fd, POLLIN, 0 }, { l->stop_fd, POLLIN, 0 } };

		if (poll(p, 2, -1) == -1 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if ((p[0].revents & POLLIN) != 0 && accept_all(l) == -1)
			(void)poll(&p[1], 1, 100);	/* out of descriptors: back off */
	}
	return NULL;
}

int
listener_start(struct listener *l, struct MHD_Daemon *const *daemons, size_t n, char *err,
    size_t errlen)
{
	l->d = daemons;
	l->n = n;
	if (pthread_create(&l->thread, NULL, accept_main, l) != 0) {
		snprintf(err, errlen, "cannot start the accept thread");
		return -1;
	}
	l->started = 1;
	return 0;
}

void
listener_close(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->started) {
		uint64_t one = 1;

		if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(l->thread);	/* cannot happen with an eventfd */
		pthread_join(l->thread, NULL);
	}
	if (l->fd != -1)
		close(l->fd);
	if (l->stop_fd != -1)
		close(l->stop_fd);
	free(l);
}
