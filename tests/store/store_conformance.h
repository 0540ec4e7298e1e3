/*
 * store_conformance.h — the store's behaviour that every backend must show
 * (src/store/store.h): one suite, written once, that each backend's test
 * program runs against a store of its own.
 *
 * Runners: tests/unit/test_store_sqlite.c (sqlite:PATH in a fresh
 * directory) and tests/pgsql/test_store_pgsql.c (a fresh schema on the
 * PostgreSQL server tests/lib/pg.py starts). What only one backend has
 * (SQLite's file, its WAL; PostgreSQL's URL parameters, NOTIFY, the nodes
 * sharing one database) stays in that program.
 *
 * The suite opens the store by fixture_url (tests/support/store_fixture.h)
 * and reaches the database past the store only through the hooks below, to
 * see what another process sees.
 */
#ifndef GH_TEST_STORE_CONFORMANCE_H
#define GH_TEST_STORE_CONFORMANCE_H

#include <stdint.h>

struct conformance_backend {
	const char	*name;		/* store_backend()'s answer, and the group's name */
	/* cmocka setup and teardown of each test: before a test, fixture_url
	 * names an empty store; after, nothing of it is left. */
	int		(*setup)(void **state);
	int		(*teardown)(void **state);
	/* The single value sql selects, read through a connection of the
	 * test's own; -1 when it selects none. */
	int64_t		(*count)(const char *sql);
	/* Runs sql through such a connection; fails the test when refused. */
	void		(*exec)(const char *sql);
	/* Holds, through such a connection, a lock that keeps the store's
	 * writer from committing token records until release_writes (given
	 * what hold_writes returned). Both fail the test when refused. */
	void		*(*hold_writes)(void);
	void		(*release_writes)(void *held);
	/* How long a change may take to reach another handle's generation,
	 * ms; 0: at once (SQLite: the file is read on each call). */
	int		 gen_wait_ms;
	/* A printf format turning 64 hex digits into a blob literal of the
	 * engine's SQL (the audit tests write rows as an attacker would). */
	const char	*blob_sql;
	/* The statements that drop the triggers guarding the audit trail
	 * (audit, audit_key), as anyone with the database can; NULL-ended. */
	const char *const *unguard_audit;
};

/* Runs the suite as one cmocka group named b->name; returns the number of
 * tests that failed (0: all passed), as cmocka_run_group_tests does. */
int	conformance_run(const struct conformance_backend *b);

#endif
