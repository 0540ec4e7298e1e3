/* cli_keys.c — gatehouse keys list. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "keys/keys.h"
#include "manage/views.h"
#include "security/masterkey.h"
#include "util/util.h"

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
	if (cli_open_existing_store(&a, &st) == -1)
		return 1;
	if (store_key_list(st, &ks, &n) != STORE_OK) {
		rc = cli_fail("keys list: %s", store_last_error());
		store_close(st);
		return rc;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_key(&ks[i], now));
	store_key_free(ks, n);
	store_close(st);
	return cli_print(arr);
}

/* The options of keys rotate checked: --env into *only, --lead into *lead
 * (left alone when absent); --alg only checked, keys_rotate reads it again.
 * 0, or the exit status after the error is reported. */
static int
rotate_options(const struct cli_args *a, enum store_env *only, int64_t *lead)
{
	const char *why;

	if (cli_has(a, "env") && store_env_from_name(cli_get(a, "env"), only) == -1)
		return cli_fail("keys rotate: --env must be sandbox or production");
	if (cli_has(a, "lead") && strcmp(cli_get(a, "lead"), "0") != 0 &&
	    num_parse_duration(cli_get(a, "lead"), 1, 30 * 86400, lead, &why) == -1)
		return cli_fail("keys rotate: --lead %s (0..30d)", why);
	if (cli_has(a, "lead") && strcmp(cli_get(a, "lead"), "0") == 0)
		*lead = 0;
	if (cli_has(a, "alg")) {
		enum jose_alg alg;
		if (jose_alg_from_name(cli_get(a, "alg"), &alg) == -1)
			return cli_fail("keys rotate: --alg must be RS256, PS256, ES256 or EdDSA");
	}
	return 0;
}

/* A new key for each environment (only that one unless only is
 * STORE_ENV__MAX), all in one store transaction (keys_rotate_envs): with
 * the staged audit row, both envs or neither, never one rotated under a
 * row that says both were. Appended to arr once made. 0, or the exit
 * status after the error is reported, with the reason in err for the
 * audit record. */
static int
rotate_envs(struct store *st, const uint8_t seal_key[32], enum store_env only,
    const char *alg, int64_t now, int64_t lead, json_t *arr, char *err, size_t errlen)
{
	struct keys_successor s[STORE_ENV__MAX];
	size_t n = 0;

	memset(s, 0, sizeof(s));
	for (int env = 0; env < STORE_ENV__MAX; env++)
		if (only == STORE_ENV__MAX || (int)only == env)
			s[n++].env = (enum store_env)env;
	if (keys_rotate_envs(st, seal_key, s, n, alg, now, lead, err, errlen) == -1)
		return cli_fail("keys rotate: %s", err);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_key_rotated(s[i].kid, s[i].env, now, now + lead));
	return 0;
}

int
cmd_keys_rotate(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "env", 1, 0, "sandbox or production (default: both)" },
		{ "alg", 1, 0, "RS256, PS256, ES256 or EdDSA (default: the current key's)" },
		{ "lead", 1, 0, "publish this long before it signs (default 10m; 0 signs at once)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store *st = NULL;
	uint8_t master[32], seal_key[32];
	char err[512];
	enum store_env only = STORE_ENV__MAX;
	int64_t lead = 600, now = clock_now();
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse keys rotate [--env ENV] [--alg ALG] [--lead DURATION]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if ((rc = rotate_options(&a, &only, &lead)) != 0)
		return rc;
	if (cli_master_key(&a, 0, master, NULL) == -1)
		return 1;
	rc = masterkey_derive(master, "gatehouse signing key seal v1", seal_key);
	OPENSSL_cleanse(master, sizeof(master));
	if (rc == -1)
		return cli_fail("keys rotate: cannot derive the key seal (HKDF)");
	if (cli_open_store_audited(&a, &st, "keys.rotate") == -1) {
		OPENSSL_cleanse(seal_key, sizeof(seal_key));
		return 1;
	}
	if (cli_audit_stage(&a, st, "keys.rotate", NULL, only == STORE_ENV__MAX ? "all" :
	    store_env_names[only]) == -1) {
		OPENSSL_cleanse(seal_key, sizeof(seal_key));
		store_close(st);
		return 1;
	}
	arr = json_array();
	rc = rotate_envs(st, seal_key, only, cli_get(&a, "alg"), now, lead, arr, err, sizeof(err));
	OPENSSL_cleanse(seal_key, sizeof(seal_key));
	cli_audit(&a, st, "keys.rotate", NULL, only == STORE_ENV__MAX ? "all" : store_env_names[only],
	    rc != 0 ? err : NULL);
	store_close(st);
	if (rc != 0) {
		json_decref(arr);
		return rc;
	}
	return cli_print(arr);
}

int
cmd_keys_revoke(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	char err[512], took_over[KEYS_KID_LEN + 1];
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse keys revoke KID", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("keys revoke: name one kid");
	if (cli_open_store_audited(&a, &st, "keys.revoke") == -1)
		return 1;
	if (cli_audit_stage(&a, st, "keys.revoke", NULL, a.pos[0]) == -1) {
		store_close(st);
		return 1;
	}
	rc = keys_revoke(st, a.pos[0], clock_now(), took_over, err, sizeof(err));
	cli_audit(&a, st, "keys.revoke", NULL, a.pos[0], rc == -1 ? err : NULL);
	store_close(st);
	if (rc == -1)
		return cli_fail("keys revoke: %s", err);
	return cli_print(json_pack("{s:s, s:s, s:s*}", "kid", a.pos[0], "state", "removed",
	    "signing", took_over[0] != '\0' ? took_over : NULL));
}
