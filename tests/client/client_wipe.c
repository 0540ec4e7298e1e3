/*
 * client_wipe.c — does the library wipe what it frees? Linked with
 * -Wl,--wrap=free, so that every free() made by the library's own objects
 * (not libcurl's or jansson's, which the wrap does not reach) comes here
 * first: a block that still holds the secret, one of its encoded forms or a
 * token (the patterns, one per line, in GH_WIPE_PATTERNS) is counted, with
 * the function that freed it. test_wipe.py runs it against the fake
 * servers and expects none.
 *
 *   client_wipe URL DIALECT API_BASE
 *
 * Prints one JSON line: {"self_test": 1, "flagged": N, "sites": [...], ...}.
 * self_test is the count for a block the program itself frees unwiped: it
 * must be 1, or the detector is broken and the test proves nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gatehouse/client.h>

#define MAX_PATTERNS	16
#define MAX_SITES	16

void	 __real_free(void *);
void	 __wrap_free(void *);

static const char *patterns[MAX_PATTERNS];
static size_t npatterns;
static int flagged;
static const char *sites[MAX_SITES];
static int nsites;

void
__wrap_free(void *p)
{
	size_t n, i;
	Dl_info di;

	if (p != NULL && npatterns > 0) {
		n = malloc_usable_size(p);
		for (i = 0; i < npatterns; i++) {
			if (memmem(p, n, patterns[i], strlen(patterns[i])) == NULL)
				continue;
			flagged++;
			if (nsites < MAX_SITES) {
				if (dladdr(__builtin_return_address(0), &di) != 0 && di.dli_sname)
					sites[nsites++] = di.dli_sname;
				else
					sites[nsites++] = "?";
			}
			break;
		}
	}
	__real_free(p);
}

static void
call(struct gh_client *c, const char *url)
{
	struct gh_client_request r = { 0 };
	struct gh_client_response resp;

	r.url = url;
	gh_client_call(c, &r, &resp, NULL);
	gh_client_response_free(&resp);
}

int
main(int argc, char **argv)
{
	struct gh_client_options o = { 0 };
	struct gh_client_error e = { 0 };
	struct gh_client_token *t = NULL;
	struct gh_client *c = NULL;
	char *list, *line, *save = NULL, *p, url[512], buf[4096];
	int self_test, i, got = 0;

	if (argc != 4 || (list = getenv("GH_WIPE_PATTERNS")) == NULL ||
	    (list = strdup(list)) == NULL) {
		fprintf(stderr, "usage: GH_WIPE_PATTERNS=... client_wipe URL DIALECT API_BASE\n");
		return 2;
	}
	for (line = strtok_r(list, "\n", &save); line != NULL && npatterns < MAX_PATTERNS;
	    line = strtok_r(NULL, "\n", &save))
		if (*line != '\0')
			patterns[npatterns++] = line;
	o.client_secret = getenv("GH_PROBE_SECRET");
	o.client_id = getenv("GH_PROBE_ID");
	if (o.client_secret == NULL || o.client_id == NULL || npatterns == 0)
		return 2;

	/* The detector itself: an unwiped block holding the secret. */
	if ((p = malloc(strlen(o.client_secret) + 8)) == NULL)
		return 1;
	snprintf(p, strlen(o.client_secret) + 8, "s=%s", o.client_secret);
	free(p);
	self_test = flagged;
	flagged = 0;
	nsites = 0;

	o.base_url = argv[1];
	if (gh_client_dialect_parse(argv[2], &o.dialect) != GH_CLIENT_OK)
		return 2;
	o.max_retries = -1;
	if (gh_client_new(&o, &c, &e) != GH_CLIENT_OK) {
		fprintf(stderr, "client_wipe: %s\n", e.message);
		return 1;
	}
	if (gh_client_token_get(c, NULL, NULL, &t, &e) == GH_CLIENT_OK)
		got = 1;
	gh_client_token_release(t);
	gh_client_token_copy(c, NULL, NULL, buf, sizeof(buf), NULL, NULL);
	/* APIs that quote the bearer token back, in a 200 and in a 403. */
	snprintf(url, sizeof(url), "%s/api/echo", argv[3]);
	call(c, url);
	snprintf(url, sizeof(url), "%s/api/echo403", argv[3]);
	call(c, url);
	gh_client_free(c);

	printf("{\"self_test\": %d, \"token\": %d, \"flagged\": %d, \"sites\": [", self_test, got,
	    flagged);
	for (i = 0; i < nsites; i++)
		printf("%s\"%s\"", i ? ", " : "", sites[i]);
	printf("]}\n");
	__real_free(list);
	return 0;
}
