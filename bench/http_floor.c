/*
 * http_floor.c — libmicrohttpd alone, set up and driven as gatehouse
 * drives it: a listening socket per loop (SO_REUSEPORT), two loops per
 * core (http/limits.h HTTP_LOOPS_PER_CORE), each daemon without a thread
 * of its own and run by src/http/loop.c itself, a connection pool of
 * HTTP_MAX_HEADER_BYTES * 2. It answers every request with a 200, the
 * body "{}" and the eight header fields of a gate answer, and does no
 * work of its own beyond one header lookup, so bench/http_floor.sh can
 * split the gate's distance from nginx into the HTTP library's part and
 * gatehouse's own.
 *
 * usage: bench_http_floor PORT   (serves until killed)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/limits.h"
#include "http/loop.h"

#define MAX_LOOPS	64

/* The eight fields of a gate 200, with values of a gate answer's length. */
static const char *const fields[][2] = {
	{ "Content-Type", "application/json" },
	{ "X-Request-ID", "0fb11ad9-21d8-4fc7-98cf-0b02e345f058" },
	{ "X-Gatehouse-Client", "0fb11ad9-21d8-4fc7-98cf-0b02e345f058" },
	{ "X-Gatehouse-Tenant", "bench" },
	{ "X-Gatehouse-Roles", "viewer" },
	{ "X-Gatehouse-Scopes", "" },
	{ "X-Gatehouse-Env", "production" },
	{ "Cache-Control", "no-store" },
};

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static int first;
	struct MHD_Response *r;
	enum MHD_Result rc;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	if (*con_cls == NULL) {		/* headers only: answer on the next call */
		*con_cls = &first;
		return MHD_YES;
	}
	*upload_size = 0;
	(void)MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if ((r = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT)) == NULL)
		return MHD_NO;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		MHD_add_response_header(r, fields[i][0], fields[i][1]);
	rc = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static int
listen_on(long port)
{
	struct sockaddr_in a;
	int fd, one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(fd, 1024) == -1) {
		perror("bench_http_floor: listen");
		exit(1);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d[MAX_LOOPS];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = HTTP_LOOPS_PER_CORE * (unsigned)(ncpu > 0 ? ncpu : 1);
	char err[128], *end = NULL;
	long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;

	if (end == NULL || *end != '\0' || port <= 0 || port > 65535) {
		fprintf(stderr, "usage: bench_http_floor PORT\n");
		return 2;
	}
	if (n > MAX_LOOPS)
		n = MAX_LOOPS;
	for (unsigned i = 0; i < n; i++)
		if ((d[i] = MHD_start_daemon(MHD_USE_EPOLL_LINUX_ONLY | MHD_ALLOW_SUSPEND_RESUME, 0,
		    NULL, NULL, answer, NULL,
		    MHD_OPTION_LISTEN_SOCKET, listen_on(port),
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(HTTP_MAX_HEADER_BYTES * 2),
		    MHD_OPTION_END)) == NULL) {
			fprintf(stderr, "bench_http_floor: cannot start libmicrohttpd\n");
			return 1;
		}
	if (http_loops_start(d, n, NULL, NULL, err, sizeof(err)) == NULL) {
		fprintf(stderr, "bench_http_floor: %s\n", err);
		return 1;
	}
	for (;;)
		pause();
}
