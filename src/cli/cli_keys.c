/* cli_keys.c — gatehouse keys list. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "util/util.h"

/* A key's state at now, from its dates. */
static const char *
key_state(const struct store_key *k, int64_t now)
{
	if (k->remove_at != 0 && k->remove_at <= now)
		return "removed";
	if (k->retire_at != 0 && k->retire_at <= now)
		return "retired";
	if (k->publish_at > now)
		return "scheduled";
	if (k->activate_at > now)
		return "published";
	return "active";
}

int
cmd_keys_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	struct store_key *ks = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse keys list", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_open_store(&a, &st) == -1)
		return 1;
	if (store_key_list(st, &ks, &n) != STORE_OK) {
		rc = cli_fail("keys list: %s", store_last_error());
		store_close(st);
		return rc;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
		    "kid", ks[i].kid, "alg", ks[i].alg, "env", store_env_names[ks[i].env],
		    "state", key_state(&ks[i], now), "created_at", cli_time(ks[i].created_at),
		    "publish_at", cli_time(ks[i].publish_at), "activate_at", cli_time(ks[i].activate_at),
		    "retire_at", cli_time(ks[i].retire_at), "remove_at", cli_time(ks[i].remove_at)));
	store_key_free(ks, n);
	store_close(st);
	return cli_print(arr);
}
