/* cli_lock.c — gatehouse lock list|clear: the lockout locks (issue 5) as the
 * store keeps them. A running server made them and picks a clear up on its
 * next refresh (within a second), where it logs and counts the unlock. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "manage/manage.h"
#include "manage/views.h"
#include "net/cidr.h"
#include "util/util.h"

int
cmd_lock_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	struct store_lock *ls = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	char after[MANAGE_CURSOR_MAX + 1] = "", next[MANAGE_CURSOR_MAX + 1], err[512];
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse lock list", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_open_existing_store(&a, &st) == -1)
		return 1;
	/* Every lock in force, a bounded page at a time (manage.h). */
	arr = json_array();
	do {
		if (manage_lock_page(st, now, NULL, after[0] != '\0' ? after : NULL, CLI_LIST_PAGE,
		    &ls, &n, next, err, sizeof(err)) == -1) {
			json_decref(arr);
			store_close(st);
			return cli_fail("lock list: %s", err);
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, views_lock(&ls[i], now));
		store_lock_free(ls, n);
		memcpy(after, next, sizeof(after));
	} while (after[0] != '\0');
	store_close(st);
	return cli_print(arr);
}

int
cmd_lock_clear(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "address", 1, 0, "only locks of this address (its address lock and pair locks); an IPv6 address names its /64" },
		{ "client", 1, 0, "only this client id's pair locks" },
		{ "all", 0, 0, "every lock (needed when neither --address nor --client is given)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	const char *addr, *client;
	char key[CIDR_LOCK_KEY_LEN], what[160];
	int rc, count = 0;

	if ((rc = cli_parse(argc, argv, "gatehouse lock clear [--address A] [--client ID] | --all",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	addr = cli_get(&a, "address");
	client = cli_get(&a, "client");
	if (addr == NULL && client == NULL && !cli_has(&a, "all"))
		return cli_fail("lock clear: give --address, --client, or --all to clear every lock");
	if (cli_has(&a, "all") && (addr != NULL || client != NULL))
		return cli_fail("lock clear: --all clears every lock; it takes no --address or --client");
	/* Locks are kept per IPv4 address and per IPv6 /64: an address of
	 * the /64, or the /64 as `lock list` shows it, names the lock. */
	if (addr != NULL && cidr_lock_key(addr, key, sizeof(key)) == -1)
		return cli_fail("lock clear: --address \"%.60s\" is not an IPv4 or IPv6 address, "
		    "or an IPv6 /64", addr);
	if (addr != NULL)
		addr = key;
	if (client != NULL && (client[0] == '\0' || strlen(client) > STORE_LOCK_CLIENT_MAX ||
	    !str_is_clean_utf8(client, strlen(client))))
		return cli_fail("lock clear: --client must be 1 to %d bytes of printable text",
		    STORE_LOCK_CLIENT_MAX);
	if (cli_open_store_audited(&a, &st, "lock.clear") == -1)
		return 1;
	snprintf(what, sizeof(what), "%.45s%s%.100s", addr != NULL ? addr : "*", " ",
	    client != NULL ? client : "*");
	if (cli_audit_stage(&a, st, "lock.clear", NULL, what) == -1) {
		store_close(st);
		return 1;
	}
	if (store_lock_clear(st, addr, client, clock_now(), &count) != STORE_OK) {
		rc = cli_fail("lock clear: %s", store_last_error());
		cli_audit(&a, st, "lock.clear", NULL, client != NULL ? client : addr, "failed");
		store_close(st);
		return rc;
	}
	cli_audit(&a, st, "lock.clear", NULL, what, NULL);
	store_close(st);
	return cli_print(json_pack("{s:i}", "cleared", count));
}
