/*
 * http_floor.c — libmicrohttpd alone, set up as gatehouse set it up until
 * the eighteenth session (one SO_REUSEPORT socket per core, each a daemon
 * with a pool of two epoll workers, a 32 KB connection pool; gatehouse now
 * runs a loop thread of its own per socket, src/http/loop.c, which this
 * does not yet model), answering every request with a 200,
 * the body "{}" and the eight header fields of a gate answer. It does no
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

#define SOCKETS		2	/* gatehouse: one per core on this machine */
#define WORKERS		2	/* libmicrohttpd's pool per socket */
#define POOL_BYTES	32768	/* HTTP_MAX_HEADER_BYTES * 2 */

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
listen_on(int port)
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
	int port = argc == 2 ? atoi(argv[1]) : 0;

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: bench_http_floor PORT\n");
		return 2;
	}
	for (int i = 0; i < SOCKETS; i++)
		if (MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY, 0,
		    NULL, NULL, answer, NULL,
		    MHD_OPTION_LISTEN_SOCKET, listen_on(port),
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)WORKERS,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)POOL_BYTES,
		    MHD_OPTION_END) == NULL) {
			fprintf(stderr, "bench_http_floor: cannot start libmicrohttpd\n");
			return 1;
		}
	for (;;)
		pause();
}
