/*
 * Unit tests for src/http/listener.c: connections are dealt to the daemons
 * in turn (so two event loops get the same share of a client's connections,
 * which libmicrohttpd's own thread pool did not guarantee), a keep-alive
 * connection stays with its daemon, the port is reported, a busy port and a
 * bad address are refused with a reason, and after close nothing listens.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "http/listener.h"

#define NDAEMONS 2

static const char *const names[NDAEMONS] = { "d0", "d1" };

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	const char *name = cls;
	struct MHD_Response *r;
	enum MHD_Result rc;

	(void)url, (void)method, (void)version, (void)upload, (void)upload_size;
	if (*state == NULL) {
		*state = c;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(strlen(name), (void *)name, MHD_RESPMEM_PERSISTENT);
	rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static int
dial(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One keep-alive request on fd: the name of the daemon that answered. */
static const char *
ask(int fd)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
	char buf[1024];
	size_t len = 0;

	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *end;

		assert_true(n > 0);
		len += (size_t)n;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL && strlen(end + 4) >= 2) {
			for (int i = 0; i < NDAEMONS; i++)
				if (strncmp(end + 4, names[i], 2) == 0)
					return names[i];
			fail_msg("unexpected answer: %s", buf);
		}
	}
}

static void
deals_in_turn(void **state)
{
	struct MHD_Daemon *d[NDAEMONS];
	struct listener *l = NULL;
	char err[256];
	int fds[6], count[NDAEMONS] = { 0 };

	(void)state;
	for (int i = 0; i < NDAEMONS; i++) {
		d[i] = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY |
		    MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, answer, (void *)names[i], MHD_OPTION_END);
		assert_non_null(d[i]);
	}
	assert_int_equal(listener_open("127.0.0.1", 0, &l, err, sizeof(err)), 0);
	assert_true(listener_port(l) > 0);
	assert_int_equal(listener_start(l, d, NDAEMONS, err, sizeof(err)), 0);

	for (int i = 0, prev = -1; i < 6; i++) {
		int who;

		assert_true((fds[i] = dial(listener_port(l))) >= 0);
		who = ask(fds[i])[1] - '0';
		count[who]++;
		/* Consecutive connections go to different daemons. */
		assert_int_not_equal(who, prev);
		prev = who;
	}
	assert_int_equal(count[0], 3);
	assert_int_equal(count[1], 3);
	/* A keep-alive connection stays where it was dealt. */
	for (int i = 0; i < 6; i++) {
		const char *first = ask(fds[i]);
		assert_string_equal(ask(fds[i]), first);
	}
	for (int i = 0; i < 6; i++)
		close(fds[i]);

	/* The port is taken while the listener holds it. */
	{
		struct listener *again = NULL;
		assert_int_equal(listener_open("127.0.0.1", listener_port(l), &again, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "Address already in use"));
		assert_null(again);
	}
	{
		uint16_t port = listener_port(l);
		int fd;

		listener_close(l);
		fd = dial(port);
		assert_int_equal(fd, -1);
	}
	for (int i = 0; i < NDAEMONS; i++)
		MHD_stop_daemon(d[i]);
}

static void
refuses_bad_addresses(void **state)
{
	struct listener *l = NULL;
	char err[256];

	(void)state;
	assert_int_equal(listener_open("localhost", 0, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not numeric"));
	assert_int_equal(listener_open("192.0.2.1", 0, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot listen on 192.0.2.1"));
	assert_null(l);
	listener_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deals_in_turn),
		cmocka_unit_test(refuses_bad_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
