/* cli_tenant.c — gatehouse tenant create|list. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "manage/manage.h"
#include "manage/views.h"
#include "util/util.h"

static json_t *
tenant_json(const struct store_tenant *t)
{
	return json_pack("{s:s, s:s, s:o}", "id", t->id, "name", t->name,
	    "created_at", views_time(t->created_at));
}

int
cmd_tenant_create(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "id", 1, 0, "tenant id, [A-Za-z0-9._:-]{1,64}" },
		{ "name", 1, 0, "display name (default: the id)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	struct store_tenant t;
	char err[256];
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse tenant create --id ID [--name NAME]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (!cli_has(&a, "id"))
		return cli_fail("tenant create: --id is required");
	if (cli_open_store_audited(&a, &st, "tenant.create") == -1)
		return 1;
	if (cli_audit_stage(&a, st, "tenant.create", cli_get(&a, "id"), cli_get(&a, "id")) == -1) {
		store_close(st);
		return 1;
	}
	if (manage_tenant_create(st, cli_get(&a, "id"), cli_get(&a, "name"), &t, err, sizeof(err)) == -1) {
		cli_audit(&a, st, "tenant.create", cli_get(&a, "id"), cli_get(&a, "id"), err);
		store_close(st);
		return cli_fail("tenant create: %s", err);
	}
	cli_audit(&a, st, "tenant.create", t.id, t.id, NULL);
	rc = cli_print(tenant_json(&t));
	store_tenant_clear(&t);
	store_close(st);
	return rc;
}

int
cmd_tenant_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	struct store_tenant *ts = NULL;
	size_t n = 0;
	char after[MANAGE_CURSOR_MAX + 1] = "", next[MANAGE_CURSOR_MAX + 1], err[512];
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse tenant list", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_open_existing_store(&a, &st) == -1)
		return 1;
	/* Every tenant, a bounded page at a time (manage.h). */
	arr = json_array();
	do {
		if (manage_tenant_page(st, NULL, after[0] != '\0' ? after : NULL, CLI_LIST_PAGE, &ts,
		    &n, next, err, sizeof(err)) == -1) {
			json_decref(arr);
			store_close(st);
			return cli_fail("tenant list: %s", err);
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, tenant_json(&ts[i]));
		store_tenant_free(ts, n);
		memcpy(after, next, sizeof(after));
	} while (after[0] != '\0');
	store_close(st);
	return cli_print(arr);
}
