/* common.c — see common.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

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

int
cli_config_secrecy(const struct config *cfg, const char *path, char *err, size_t errlen)
{
	if (cfg->file_db == NULL || cfg->file_exposed[0] == '\0' ||
	    !store_url_has_password(cfg->file_db))
		return 0;
	snprintf(err, errlen, "%s holds the database password (db) and %s", path,
	    cfg->file_exposed);
	return -1;
}

/* --config's bytes, read once: a command takes its store, its master key
 * and its other settings from the same text even if the file changes while
 * it runs (it used to open the file up to four times). config_path names
 * the file they are of, so that another path is never served from them;
 * config_exposed says why it may not hold a secret ("" when it may). */
static char	*config_text, *config_path, config_exposed[160];
static size_t	 config_len;

/* Reads path whole into config_text (replacing another file's), as serve
 * reads it (config_read_file). 0, or -1 with err set and the old text
 * kept. */
static int
config_text_read(const char *path, char *err, size_t errlen)
{
	char *text = NULL, *name = NULL, exposed[160];
	size_t n = 0;

	if (config_read_file(path, &text, &n, exposed, err, errlen) == -1)
		return -1;
	if ((name = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return -1;
	}
	free(config_text);
	free(config_path);
	config_text = text;
	config_path = name;
	config_len = n;
	snprintf(config_exposed, sizeof(config_exposed), "%s", exposed);
	return 0;
}

/* Applies --config, when given, over cfg: from the text read on the first
 * call for that path. 0, or -1 with err set. */
static int
config_apply_file(const struct cli_args *a, struct config *cfg, char *err, size_t errlen)
{
	const char *path = cli_get(a, "config");

	if (!cli_has(a, "config"))
		return 0;
	if ((config_path == NULL || strcmp(config_path, path) != 0) &&
	    config_text_read(path, err, errlen) == -1)
		return -1;
	if (config_load_text(cfg, config_text, config_len, path, config_exposed, err, errlen) == -1)
		return -1;
	return cli_config_secrecy(cfg, path, err, errlen);
}

/*
 * A setting in serve's order (cli_serve.c configure): the option, else
 * --config's value, else the environment, else the default; field picks it
 * out of a struct config. Into buf; NULL after printing when --config
 * cannot be read: a command must not fall back to a store or key other
 * than the one its file names.
 */
static const char *
cli_setting(const struct cli_args *a, const char *opt, const char *key, const char *env,
    char *const *(*field)(const struct config *), char *buf, size_t buflen)
{
	const char *v = cli_get(a, opt), *e = getenv(env);
	struct config cfg;
	char err[1024];

	if (v != NULL && v[0] != '\0')
		return v;
	config_defaults(&cfg);
	if (e != NULL && e[0] != '\0' && config_set(&cfg, key, e, err, sizeof(err)) == -1) {
		config_clear(&cfg);
		cli_fail("%s: %s", env, err);
		return NULL;
	}
	if (config_apply_file(a, &cfg, err, sizeof(err)) == -1) {
		config_clear(&cfg);
		cli_fail("config: %s", err);
		return NULL;
	}
	snprintf(buf, buflen, "%s", *field(&cfg));
	config_clear(&cfg);
	return buf;
}

static char *const *
db_field(const struct config *c)
{
	return &c->db;
}

static char *const *
master_key_field(const struct config *c)
{
	return &c->master_key;
}

const char *
cli_db_url(const struct cli_args *a)
{
	static char buf[4096];

	return cli_setting(a, "db", "db", "GATEHOUSE_DB", db_field, buf, sizeof(buf));
}

const char *
cli_master_path(const struct cli_args *a)
{
	static char buf[4096];

	return cli_setting(a, "master-key", "master_key", "GATEHOUSE_MASTER_KEY",
	    master_key_field, buf, sizeof(buf));
}

int
cli_load_config(const struct cli_args *a, struct config *cfg)
{
	char err[1024];

	config_defaults(cfg);
	if (config_apply_file(a, cfg, err, sizeof(err)) == -1) {
		config_clear(cfg);
		cli_fail("config: %s", err);
		return -1;
	}
	return 0;
}

int
cli_open_store(const struct cli_args *a, struct store **out)
{
	const char *url = cli_db_url(a);
	char err[512];

	if (url == NULL)
		return -1;
	if (store_open(url, out, err, sizeof(err)) != 0) {
		cli_fail("store: %s", err);
		return -1;
	}
	return 0;
}

int
cli_sqlite_missing(const char *url, const char *hint)
{
	const char *path = NULL;
	struct stat sb;

	/* store_open's reading of a URL: "sqlite:PATH", or a bare path. */
	if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	else if (strstr(url, "://") == NULL)
		path = url;
	if (path == NULL || path[0] == '\0' || stat(path, &sb) == 0 || errno != ENOENT)
		return 0;
	cli_fail("store: %s does not exist (check %s)", path, hint);
	return 1;
}

int
cli_open_existing_store(const struct cli_args *a, struct store **out)
{
	const char *url = cli_db_url(a);

	if (url == NULL || cli_sqlite_missing(url, "--db, GATEHOUSE_DB or db in --config"))
		return -1;
	return cli_open_store(a, out);
}

int
cli_master_key(const struct cli_args *a, int create, uint8_t out[32], int *created)
{
	return cli_master_key_tail(a, create, out, created, "");
}

int
cli_master_key_tail(const struct cli_args *a, int create, uint8_t out[32], int *created,
    const char *tail)
{
	const char *path = cli_master_path(a);
	char err[512];
	int dummy;

	if (path == NULL)
		return -1;
	if (masterkey_load(path, create, out, created ? created : &dummy, err, sizeof(err)) == -1) {
		/* The usual first-run mistake gets its way out. */
		if (!create && access(path, F_OK) == -1)
			cli_fail("master key: %s (serve makes it on its first run; name the "
			    "server's with --master-key, GATEHOUSE_MASTER_KEY or master_key in "
			    "--config)%s", err, tail);
		else
			cli_fail("master key: %s%s", err, tail);
		return -1;
	}
	return 0;
}
