/*
 * store_pgsql.c — the PostgreSQL backend of store.h (the only user of
 * libpq-fe.h). Not built yet: this placeholder makes "postgresql://" and
 * "postgres://" URLs fail at open with a clear message, through the same
 * ops table the real backend will fill (see store_backend.h; the SQLite
 * backend, store_sqlite.c, is the reference for every op). Replace this
 * file; keep the symbol name store_pgsql_ops.
 */
#include <stdio.h>

#include "store/store_backend.h"

static int
pg_open(const char *target, void **h, char *err, size_t errlen)
{
	(void)target;
	(void)h;
	snprintf(err, errlen, "PostgreSQL backend not built yet; use sqlite:PATH");
	return STORE_ERROR;
}

const struct store_ops store_pgsql_ops = {
	.name = "postgresql",
	.open = pg_open,
};
