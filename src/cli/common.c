/* common.c — see common.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "security/masterkey.h"
#include "util/util.h"

static void
usage(FILE *f, const char *text, const struct cli_opt *spec, size_t n)
{
	fprintf(f, "usage: %s\n", text);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  --%-16s %s%s\n", spec[i].name, spec[i].help,
		    spec[i].repeat ? " (repeatable)" : "");
}

int
cli_parse(int argc, char **argv, const char *text, const struct cli_opt *spec,
    size_t nspec, struct cli_args *out)
{
	memset(out, 0, sizeof(*out));
	out->spec = spec;
	out->nspec = nspec;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *value = NULL;
		size_t k, namelen;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout, text, spec, nspec);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (out->npos == GH_ARRAY_LEN(out->pos)) {
				cli_fail("too many arguments");
				return -1;
			}
			out->pos[out->npos++] = a;
			continue;
		}
		a += 2;
		namelen = strcspn(a, "=");
		for (k = 0; k < nspec; k++)
			if (strlen(spec[k].name) == namelen && strncmp(spec[k].name, a, namelen) == 0)
				break;
		if (k == nspec) {
			cli_fail("unknown option --%.*s (see --help)", (int)namelen, a);
			return -1;
		}
		if (spec[k].has_arg) {
			if (a[namelen] == '=')
				value = a + namelen + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				cli_fail("--%s needs a value", spec[k].name);
				return -1;
			}
		} else if (a[namelen] == '=') {
			cli_fail("--%s takes no value", spec[k].name);
			return -1;
		}
		if (out->given[k] && !spec[k].repeat) {
			cli_fail("--%s is given twice", spec[k].name);
			return -1;
		}
		out->given[k]++;
		out->values[k] = value ? value : "";
		if (spec[k].repeat) {
			if (out->nmulti == CLI_MAX_VALUES) {
				cli_fail("--%s is given too many times", spec[k].name);
				return -1;
			}
			out->multi_name[out->nmulti] = spec[k].name;
			out->multi[out->nmulti++] = value;
		}
	}
	return 0;
}

const char *
cli_get(const struct cli_args *a, const char *name)
{
	for (size_t k = 0; k < a->nspec; k++)
		if (strcmp(a->spec[k].name, name) == 0)
			return a->given[k] ? a->values[k] : NULL;
	return NULL;
}

int
cli_has(const struct cli_args *a, const char *name)
{
	return cli_get(a, name) != NULL;
}

int
cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("gatehouse: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
cli_print(json_t *o)
{
	if (o == NULL)
		return cli_fail("out of memory");
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(o);
	return fflush(stdout) == 0 ? 0 : 1;
}

const char *
cli_db_url(const struct cli_args *a)
{
	const char *v = cli_get(a, "db");
	if (v == NULL)
		v = getenv("GATEHOUSE_DB");
	return v != NULL && v[0] != '\0' ? v : "sqlite:var/gatehouse.db";
}

const char *
cli_master_path(const struct cli_args *a)
{
	const char *v = cli_get(a, "master-key");
	if (v == NULL)
		v = getenv("GATEHOUSE_MASTER_KEY");
	return v != NULL && v[0] != '\0' ? v : "var/master.key";
}

int
cli_open_store(const struct cli_args *a, struct store **out)
{
	char err[512];

	if (store_open(cli_db_url(a), out, err, sizeof(err)) != 0) {
		cli_fail("store: %s", err);
		return -1;
	}
	return 0;
}

int
cli_master_key(const struct cli_args *a, int create, uint8_t out[32], int *created)
{
	char err[512];
	int dummy;

	if (masterkey_load(cli_master_path(a), create, out, created ? created : &dummy,
	    err, sizeof(err)) == -1) {
		cli_fail("master key: %s", err);
		return -1;
	}
	return 0;
}

json_t *
cli_time(int64_t t)
{
	char iso[21];

	if (t == 0)
		return json_null();
	time_iso8601(t, iso);
	return json_string(iso);
}

json_t *
cli_client_json(const struct store_client *c)
{
	json_t *roles = json_array(), *scopes = json_array(), *ips = json_array();
	static const char *const names[] = { "viewer", "operator", "admin" };
	json_t *claims = json_loads(c->claims, 0, NULL);
	char *dup, *tok, *save = NULL;

	for (size_t i = 0; i < GH_ARRAY_LEN(names); i++)
		if (c->roles & (1u << i))
			json_array_append_new(roles, json_string(names[i]));
	if ((dup = strdup(c->scopes)) != NULL) {
		for (tok = strtok_r(dup, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			json_array_append_new(scopes, json_string(tok));
		free(dup);
	}
	save = NULL;
	if ((dup = strdup(c->allow_ips)) != NULL) {
		for (tok = strtok_r(dup, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			json_array_append_new(ips, json_string(tok));
		free(dup);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:s, s:o, s:o, s:s, s:I, s:o, s:o, s:o}",
	    "client_id", c->id, "tenant_id", c->tenant_id, "name", c->name,
	    "env", store_env_names[c->env], "roles", roles, "scopes", scopes,
	    "ttl", (json_int_t)c->ttl, "max_ttl", (json_int_t)c->max_ttl,
	    "token_format", store_format_names[c->format], "allow_ips", ips,
	    "claims", claims ? claims : json_object(),
	    "status", c->disabled ? "disabled" : "active",
	    "rate_limit", (json_int_t)c->rate_limit,
	    "tokens_valid_after", cli_time(c->tokens_valid_after),
	    "created_at", cli_time(c->created_at), "updated_at", cli_time(c->updated_at));
}
