/* cli_token.c — gatehouse token list|revoke|get. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "manage/manage.h"
#include "manage/views.h"
#include "util/util.h"

/*
 * One page of a client's token records, a JSON array on stdout; when more
 * follow, the cursor to ask for them with on stderr (stdout stays the array
 * scripts parse). Bounded like the admin API's, if by more: a client holds
 * millions of records within the retention.
 */
#define TOKEN_LIST_LIMIT	1000

int
cmd_token_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "client", 1, 0, "client id (required)" },
		{ "limit", 1, 0, "at most this many tokens, in issue order (1..100000, default 1000)" },
		{ "after", 1, 0, "the tokens after this cursor (the one a previous list printed)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	struct store_token *ts = NULL;
	size_t n = 0;
	int64_t now = clock_now(), limit = TOKEN_LIST_LIMIT, after_issued;
	char next[MANAGE_TOKEN_CURSOR_MAX + 1], after_id[MANAGE_TOKEN_ID_MAX + 1], err[512];
	const char *why;
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse token list --client ID [--limit N] [--after CURSOR]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (!cli_has(&a, "client"))
		return cli_fail("token list: --client is required");
	if (cli_has(&a, "limit") && num_parse_i64(cli_get(&a, "limit"), strlen(cli_get(&a, "limit")),
	    1, MANAGE_TOKEN_PAGE_MAX, &limit, &why) == -1)
		return cli_fail("token list: --limit \"%.20s\" %s (1..%d)", cli_get(&a, "limit"), why,
		    MANAGE_TOKEN_PAGE_MAX);
	/* Refused before the store opens (manage_token_page checks it too). */
	if (cli_has(&a, "after") && manage_token_cursor_parse(cli_get(&a, "after"), &after_issued,
	    after_id) == -1)
		return cli_fail("token list: --after is not a cursor a token list gave "
		    "(<issued_at>.<token id>)");
	if (cli_open_existing_store(&a, &st) == -1)
		return 1;
	if (manage_token_page(st, cli_get(&a, "client"), cli_get(&a, "after"), (size_t)limit, &ts,
	    &n, next, err, sizeof(err)) == -1) {
		store_close(st);
		return cli_fail("token list: %s", err);
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_token(&ts[i], now, 0));
	store_token_free(ts, n);
	store_close(st);
	if (next[0] != '\0')
		fprintf(stderr, "gatehouse: token list: more tokens follow; --after %s\n", next);
	return cli_print(arr);
}

int
cmd_token_revoke(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "name", 1, 0, "revoke every live token with this token_name" },
		{ "client", 1, 0, "only this client's tokens (with --name)" },
		{ "id", 1, 0, "revoke the token with this jti or opaque record id (token list)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	int rc, count = 0;

	if ((rc = cli_parse(argc, argv, "gatehouse token revoke --name NAME [--client ID] | --id ID",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_has(&a, "name") == cli_has(&a, "id"))
		return cli_fail("token revoke: give --name or --id (one of them)");
	if (cli_open_store_audited(&a, &st, "token.revoke") == -1)
		return 1;
	if (cli_audit_stage(&a, st, "token.revoke", NULL, cli_has(&a, "name") ?
	    cli_get(&a, "name") : cli_get(&a, "id")) == -1) {
		store_close(st);
		return 1;
	}
	if (cli_has(&a, "name"))
		rc = store_token_revoke_by_name(st, cli_get(&a, "client"), cli_get(&a, "name"),
		    clock_now(), &count);
	else {
		rc = store_token_revoke(st, cli_get(&a, "id"), clock_now());
		count = rc == STORE_OK;
	}
	{
		char why[256];
		snprintf(why, sizeof(why), "%s", rc == STORE_NOTFOUND ? "no live token" :
		    store_last_error());
		cli_audit(&a, st, "token.revoke", NULL, cli_has(&a, "name") ? cli_get(&a, "name") :
		    cli_get(&a, "id"), rc == STORE_OK ? NULL : why);
		store_close(st);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return cli_fail("token revoke: %s", why);
	}
	if (rc == STORE_NOTFOUND)
		return cli_fail("token revoke: no live token %s \"%.128s\"",
		    cli_has(&a, "name") ? "named" : "with id",
		    cli_has(&a, "name") ? cli_get(&a, "name") : cli_get(&a, "id"));
	if (rc != STORE_OK)
		return cli_fail("token revoke: %s", store_last_error());
	return cli_print(json_pack("{s:i}", "revoked", count));
}

#ifdef GH_HAVE_CLIENT_LIB
int gh_client_cli_token_get(int argc, char **argv);
#endif

int
cmd_token_get(int argc, char **argv)
{
#ifdef GH_HAVE_CLIENT_LIB
	return gh_client_cli_token_get(argc, argv);
#else
	(void)argc;
	(void)argv;
	return cli_fail("token get: this build has no client library");
#endif
}
