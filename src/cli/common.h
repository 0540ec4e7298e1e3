/*
 * common.h — what every command shares: option parsing against a declared
 * table, loading the configuration, opening the store and the master key,
 * printing results (the JSON views themselves are manage/views.h, shared
 * with the admin API).
 */
#ifndef GH_CLI_COMMON_H
#define GH_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "store/store.h"

#define CLI_MAX_VALUES 64
/* The page a list command reads at a time (manage.h MANAGE_PAGE_MAX at
 * most): its output is every row, its memory per query bounded. */
#define CLI_LIST_PAGE	1000

struct cli_opt {
	const char	*name;		/* without "--" */
	int		 has_arg;
	int		 repeat;	/* may be given more than once */
	const char	*help;
};

struct cli_args {
	const struct cli_opt *spec;
	size_t		 nspec;
	const char	*values[CLI_MAX_VALUES];	/* per spec entry: last value */
	int		 given[CLI_MAX_VALUES];
	const char	*multi[CLI_MAX_VALUES];		/* repeated values, in order */
	const char	*multi_name[CLI_MAX_VALUES];
	size_t		 nmulti;
	const char	*pos[8];			/* positional arguments */
	size_t		 npos;
};

/* The options every store command takes. */
#define CLI_STORE_OPTS \
	{ "db", 1, 0, "store URL (sqlite:PATH, postgresql://...); env GATEHOUSE_DB" }, \
	{ "master-key", 1, 0, "master key file; env GATEHOUSE_MASTER_KEY" }, \
	{ "config", 1, 0, "configuration file" }

/* Parses argv against spec; prints the error and returns -1 on a bad one.
 * "--help" prints usage and returns 1. */
int	cli_parse(int argc, char **argv, const char *usage,
	    const struct cli_opt *spec, size_t nspec, struct cli_args *out);
const char *cli_get(const struct cli_args *, const char *name);
int	cli_has(const struct cli_args *, const char *name);

/* Reports an error on stderr ("gatehouse: ...") and returns 1. */
int	cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints o as JSON on stdout and returns 0. Steals o. */
int	cli_print(json_t *o);

/* The store URL and master key path, from options, environment, defaults. */
const char *cli_db_url(const struct cli_args *);
const char *cli_master_path(const struct cli_args *);
/* Defaults, then --config when given. 0, or -1 after printing (cfg is
 * then clear); on 0 the caller config_clear()s it. */
int	cli_load_config(const struct cli_args *, struct config *cfg);
/* STYLE 5: a configuration file whose db holds a password must be open to
 * nobody but its owner (util/secrecy.h), as the master key file is. 0, or
 * -1 with the reason in err. serve checks its file so too. */
int	cli_config_secrecy(const struct config *cfg, const char *path, char *err,
	    size_t errlen);
/* Opens the store. 0, or prints the reason and returns -1. */
int	cli_open_store(const struct cli_args *, struct store **out);
/* cli_open_store for a command that only reads: a SQLite store whose file
 * does not exist is an error (a mistyped path), not a new empty store that
 * opening would make and a reader would report on as if it were the real
 * one. 0, or prints the reason and returns -1. */
int	cli_open_existing_store(const struct cli_args *, struct store **out);
/* 1 when url names a SQLite file that does not exist, said on stderr with
 * hint (where the URL came from); else 0. */
int	cli_sqlite_missing(const char *url, const char *hint);
/* Loads (create: or makes) the master key. 0 or -1 after printing. */
int	cli_master_key(const struct cli_args *, int create, uint8_t out[32],
	    int *created);
/* The same, its one line of error ending in tail (what the failure means
 * to the caller), so that an error stays one line. */
int	cli_master_key_tail(const struct cli_args *, int create, uint8_t out[32],
	    int *created, const char *tail);

#endif
