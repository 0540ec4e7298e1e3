/* cli_client.c — gatehouse client create|list|show|disable|enable. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "manage/manage.h"
#include "manage/views.h"
#include "security/masterkey.h"
#include "util/util.h"

/* The client's settings as the options give them (strings pointing into
 * argv; NULL where not given). */
static void
spec_from_args(const struct cli_args *a, struct client_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->tenant = cli_get(a, "tenant");
	s->name = cli_get(a, "name");
	s->id = cli_get(a, "id");
	s->env = cli_get(a, "env");
	s->roles = cli_get(a, "roles");
	s->scopes = cli_get(a, "scopes");
	s->ttl = cli_get(a, "ttl");
	s->max_ttl = cli_get(a, "max-ttl");
	s->format = cli_get(a, "token-format");
	s->claims = cli_get(a, "claims");
	s->rate_limit = cli_get(a, "rate-limit");
	for (size_t i = 0; i < a->nmulti; i++)
		if (strcmp(a->multi_name[i], "allow-ip") == 0 && s->nallow < CIDR_MAX_BLOCKS)
			s->allow_ips[s->nallow++] = a->multi[i];
}

int
cmd_client_create(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "tenant", 1, 0, "tenant id (required)" },
		{ "name", 1, 0, "client name (required)" },
		{ "id", 1, 0, "client id, 1-128 of [A-Za-z0-9._-] (default: a new UUID)" },
		{ "env", 1, 0, "sandbox (default) or production" },
		{ "roles", 1, 0, "comma separated: admin, operator, viewer (default viewer)" },
		{ "scopes", 1, 0, "allowed scopes, space separated" },
		{ "ttl", 1, 0, "token lifetime (seconds, or 20m, 1h; default 1200 sandbox, 3600 production)" },
		{ "max-ttl", 1, 0, "the longest lifetime a request may ask (default: the max_ttl setting, 2d)" },
		{ "token-format", 1, 0, "jwt (default) or opaque" },
		{ "allow-ip", 1, 1, "CIDR allowed to call (IPv4 or IPv6)" },
		{ "claims", 1, 0, "extra claims, a JSON object (at most 100 members, 32 deep)" },
		{ "rate-limit", 1, 0, "tokens a minute (0: the server default)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct client_spec s;
	struct config cfg;
	struct store *st = NULL;
	struct store_client c;
	uint8_t master[32], skey[32];
	char secret[SECRET_TEXT_LEN + 1], err[512], made_id[37];
	json_t *o;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse client create --tenant ID --name NAME [options]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	spec_from_args(&a, &s);
	if (s.tenant == NULL || s.name == NULL)
		return cli_fail("client create: --tenant and --name are required");
	/* The checks depend on the configuration (defaults, require_allowlist). */
	if (cli_load_config(&a, &cfg) == -1)
		return 1;
	if (cli_master_key(&a, 0, master, NULL) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (masterkey_derive(master, "gatehouse client secrets v1", skey) == -1) {
		OPENSSL_cleanse(master, sizeof(master));
		config_clear(&cfg);
		return cli_fail("client create: cannot derive the secrets key (HKDF)");
	}
	OPENSSL_cleanse(master, sizeof(master));
	if (cli_open_store_audited(&a, &st, "client.create") == -1) {
		OPENSSL_cleanse(skey, sizeof(skey));
		config_clear(&cfg);
		return 1;
	}
	/* The id made here when not given (as manage_client_create would
	 * make it): the row staged before the change names the client. */
	if (s.id == NULL && uuid_v4(made_id) == 0)
		s.id = made_id;
	if (cli_audit_stage(&a, st, "client.create", s.tenant, s.id) == -1) {
		OPENSSL_cleanse(skey, sizeof(skey));
		store_close(st);
		config_clear(&cfg);
		return 1;
	}
	rc = manage_client_create(st, skey, &cfg, &s, &c, secret, err, sizeof(err));
	OPENSSL_cleanse(skey, sizeof(skey));
	cli_audit(&a, st, "client.create", s.tenant, rc == -1 ? s.id : c.id, rc == -1 ? err : NULL);
	store_close(st);
	config_clear(&cfg);
	if (rc == -1)
		return cli_fail("client create: %s", err);
	o = views_client(&c);
	/* The only time the secret is shown. */
	json_object_set_new(o, "client_secret", json_string(secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	store_client_clear(&c);
	return cli_print(o);
}

int
cmd_client_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "tenant", 1, 0, "only this tenant's clients" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct config cfg;
	struct store *st = NULL;
	struct store_client *cs = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	char after[MANAGE_CURSOR_MAX + 1] = "", next[MANAGE_CURSOR_MAX + 1], err[512];
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse client list [--tenant ID]", spec,
	    GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_load_config(&a, &cfg) == -1)
		return 1;
	if (cli_open_existing_store(&a, &st) == -1) {
		config_clear(&cfg);
		return 1;
	}
	/* Every client, a bounded page at a time (manage.h). */
	arr = json_array();
	do {
		if (manage_client_page(st, cli_get(&a, "tenant"), after[0] != '\0' ? after : NULL,
		    CLI_LIST_PAGE, &cs, &n, next, err, sizeof(err)) == -1) {
			json_decref(arr);
			store_close(st);
			config_clear(&cfg);
			return cli_fail("client list: %s", err);
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, views_client_listed(st, &cs[i], now,
			    cfg.secret_rotation_age));
		store_client_free(cs, n);
		memcpy(after, next, sizeof(after));
	} while (after[0] != '\0');
	store_close(st);
	config_clear(&cfg);
	return cli_print(arr);
}

int
cmd_client_show(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	struct store_client c;
	struct store_secret *ss = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	json_t *o, *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse client show ID", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("client show: name one client id");
	if (cli_open_existing_store(&a, &st) == -1)
		return 1;
	if ((rc = store_client_get(st, a.pos[0], &c)) != STORE_OK) {
		rc = rc == STORE_NOTFOUND ? cli_fail("client show: client %.64s does not exist", a.pos[0]) :
		    cli_fail("client show: %s", store_last_error());
		store_close(st);
		return rc;
	}
	if (store_secret_list(st, c.id, &ss, &n) != STORE_OK) {
		store_client_clear(&c);
		rc = cli_fail("client show: %s", store_last_error());
		store_close(st);
		return rc;
	}
	o = views_client(&c);
	arr = json_array();
	/* Secrets by their dates only; never the hash. */
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I, s:o, s:o, s:o, s:s, s:o}",
		    "id", (json_int_t)ss[i].id, "created_at", views_time(ss[i].created_at),
		    "expires_at", views_time(ss[i].expires_at), "revoked_at", views_time(ss[i].revoked_at),
		    "status", views_secret_state(&ss[i], now), "holder", views_secret_holder(&ss[i])));
	json_object_set_new(o, "secrets", arr);
	store_secret_free(ss, n);
	store_client_clear(&c);
	store_close(st);
	return cli_print(o);
}

static int
set_disabled(int argc, char **argv, int disabled)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	struct store_client c;
	char err[256];
	int rc;

	if ((rc = cli_parse(argc, argv, disabled ? "gatehouse client disable ID" :
	    "gatehouse client enable ID", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("client %s: name one client id", disabled ? "disable" : "enable");
	if (cli_open_store_audited(&a, &st, disabled ? "client.disable" : "client.enable") == -1)
		return 1;
	if (cli_audit_stage(&a, st, disabled ? "client.disable" : "client.enable", NULL,
	    a.pos[0]) == -1) {
		store_close(st);
		return 1;
	}
	rc = manage_client_set_disabled(st, a.pos[0], disabled, &c, err, sizeof(err));
	cli_audit(&a, st, disabled ? "client.disable" : "client.enable", NULL, a.pos[0],
	    rc == -1 ? err : NULL);
	store_close(st);
	if (rc == -1)
		return cli_fail("client %s: %s", disabled ? "disable" : "enable", err);
	rc = cli_print(views_client(&c));
	store_client_clear(&c);
	return rc;
}

int
cmd_client_disable(int argc, char **argv)
{
	return set_disabled(argc, argv, 1);
}

int
cmd_client_enable(int argc, char **argv)
{
	return set_disabled(argc, argv, 0);
}

static int
parse_grace(const char *v, int64_t *out)
{
	const char *why;

	if (v == NULL) {
		*out = 7 * 86400;
		return 0;
	}
	if (num_parse_duration(v, 1, 366 * 86400, out, &why) == -1) {
		cli_fail("--grace \"%.32s\" %s (1s..366d; units s, m, h, d)", v, why);
		return -1;
	}
	return 0;
}

int
cmd_client_rotate_secret(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "grace", 1, 0, "how long the old secret keeps working (default 7d)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	struct store_secret s;
	uint8_t master[32], skey[32];
	char secret[SECRET_TEXT_LEN + 1], err[512];
	int64_t grace, prev_end = 0;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse client rotate-secret ID [--grace DURATION]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("client rotate-secret: name one client id");
	if (parse_grace(cli_get(&a, "grace"), &grace) == -1)
		return 2;
	if (cli_master_key(&a, 0, master, NULL) == -1)
		return 1;
	if (masterkey_derive(master, "gatehouse client secrets v1", skey) == -1) {
		OPENSSL_cleanse(master, sizeof(master));
		return cli_fail("client rotate-secret: cannot derive the secrets key (HKDF)");
	}
	OPENSSL_cleanse(master, sizeof(master));
	if (cli_open_store_audited(&a, &st, "client.rotate_secret") == -1) {
		OPENSSL_cleanse(skey, sizeof(skey));
		return 1;
	}
	if (cli_audit_stage(&a, st, "client.rotate_secret", NULL, a.pos[0]) == -1) {
		OPENSSL_cleanse(skey, sizeof(skey));
		store_close(st);
		return 1;
	}
	rc = manage_secret_rotate(st, skey, a.pos[0], grace, &s, &prev_end, secret, err, sizeof(err));
	OPENSSL_cleanse(skey, sizeof(skey));
	cli_audit(&a, st, "client.rotate_secret", NULL, a.pos[0], rc == -1 ? err : NULL);
	store_close(st);
	if (rc == -1)
		return cli_fail("client rotate-secret: %s", err);
	rc = cli_print(json_pack("{s:s, s:I, s:s, s:o, s:o}", "client_id", a.pos[0],
	    "secret_id", (json_int_t)s.id, "client_secret", secret,
	    "created_at", views_time(s.created_at),
	    "previous_secrets_expire_at", views_time(prev_end)));
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

int
cmd_client_revoke_secret(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "secret", 1, 0, "the secret's id (see client show)" },
		{ "revoke-tokens", 0, 0, "also void every token the client holds" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	char err[512];
	const char *why;
	int64_t sid;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse client revoke-secret ID --secret SECRET_ID [--revoke-tokens]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1 || !cli_has(&a, "secret"))
		return cli_fail("client revoke-secret: name one client id and --secret SECRET_ID");
	if (num_parse_i64(cli_get(&a, "secret"), strlen(cli_get(&a, "secret")), 1, INT64_MAX, &sid, &why) == -1)
		return cli_fail("client revoke-secret: --secret %s", why);
	if (cli_open_store_audited(&a, &st, "client.revoke_secret") == -1)
		return 1;
	if (cli_audit_stage(&a, st, "client.revoke_secret", NULL, a.pos[0]) == -1) {
		store_close(st);
		return 1;
	}
	rc = manage_secret_revoke(st, a.pos[0], sid, cli_has(&a, "revoke-tokens"), err, sizeof(err));
	cli_audit(&a, st, "client.revoke_secret", NULL, a.pos[0], rc == -1 ? err : NULL);
	store_close(st);
	if (rc == -1)
		return cli_fail("client revoke-secret: %s", err);
	return cli_print(json_pack("{s:s, s:I, s:b}", "client_id", a.pos[0], "revoked_secret",
	    (json_int_t)sid, "tokens_revoked", cli_has(&a, "revoke-tokens")));
}

int
cmd_client_revoke_tokens(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	char err[512];
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse client revoke-tokens ID", spec,
	    GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("client revoke-tokens: name one client id");
	if (cli_open_store_audited(&a, &st, "client.revoke_tokens") == -1)
		return 1;
	if (cli_audit_stage(&a, st, "client.revoke_tokens", NULL, a.pos[0]) == -1) {
		store_close(st);
		return 1;
	}
	rc = manage_client_revoke_tokens(st, a.pos[0], err, sizeof(err));
	cli_audit(&a, st, "client.revoke_tokens", NULL, a.pos[0], rc == -1 ? err : NULL);
	store_close(st);
	if (rc == -1)
		return cli_fail("client revoke-tokens: %s", err);
	return cli_print(json_pack("{s:s, s:b}", "client_id", a.pos[0], "tokens_revoked", 1));
}
