/*
 * store_fixture.h — what the store's test programs share (tests/support/):
 * the store under test named by one URL, a fresh SQLite file per test, and
 * the rows, answer tallies and chain checks those tests build on.
 *
 * Users: tests/unit/test_store_*.c, tests/unit/test_approvals_engine.c,
 * tests/pgsql/test_store_pgsql.c and the conformance suite
 * (tests/store/store_conformance.h). Include after <cmocka.h>'s own
 * prerequisites (<setjmp.h>, <stdarg.h>, <stddef.h>); every check here is
 * a cmocka assertion and fails the running test.
 */
#ifndef GH_TEST_STORE_FIXTURE_H
#define GH_TEST_STORE_FIXTURE_H

#include <pthread.h>
#include <stdint.h>

#include "store/store.h"
#include "tmpdir.h"

/*
 * The store under test. fixture_setup_sqlite makes fixture_dir, names
 * fixture_path = fixture_dir/t.db and fixture_url = "sqlite:" fixture_path
 * (the file itself is made by the first open); fixture_teardown removes the
 * file with its -wal, -shm and -journal, then the directory, and fails when
 * anything else is left there (the store makes no other file). A PostgreSQL
 * test sets fixture_url itself (fixture_dir and fixture_path stay "").
 * Both are cmocka setup and teardown functions: 0, or -1 (the test then
 * fails).
 */
#define FIXTURE_URL_LEN	1024
extern char	fixture_dir[TMPDIR_LEN];
extern char	fixture_path[TMPDIR_LEN + 16];
extern char	fixture_url[FIXTURE_URL_LEN];
int	fixture_setup_sqlite(void **state);
int	fixture_teardown(void **state);
/* A cmocka test run between those two: a fresh SQLite store. */
#define SQLITE_TEST(f)	cmocka_unit_test_setup_teardown(f, fixture_setup_sqlite, fixture_teardown)
/* fixture_url = $GATEHOUSE_TEST_PG (tests/lib/pg.py run sets it to a
 * database of its server's), its public schema emptied; fails without it. */
int	fixture_setup_pg(void **state);
/* The backend the environment names: fixture_setup_pg when
 * GATEHOUSE_TEST_PG is set, else fixture_setup_sqlite. A test program
 * built of STORE_TESTs runs against either; tests/pgsql/CMakeLists.txt
 * runs it again against PostgreSQL. */
int	fixture_setup_store(void **state);
#define STORE_TEST(f)	cmocka_unit_test_setup_teardown(f, fixture_setup_store, fixture_teardown)

/* For tests of the SQLite backend's own parts (src/store/sqlite_*.c):
 * fixture_setup_sqlite, then fixture_path made as the store makes it (mode
 * 0600) and connected through the backend's sq_connect (WAL,
 * synchronous=FULL, the busy timeout): fixture_db. fixture_teardown_sq
 * closes it, then runs fixture_teardown. */
struct sqlite3;
extern struct sqlite3 *fixture_db;
int	fixture_setup_sq(void **state);
int	fixture_teardown_sq(void **state);
/* Another connection to fixture_path through sq_connect (must succeed);
 * the caller closes it. */
struct sqlite3 *fixture_connect(void);
/* The first column of the one row sql gives, as an integer (must succeed). */
int64_t	fixture_query_int(struct sqlite3 *db, const char *sql);
/* For a table t (k BLOB PRIMARY KEY, v BLOB NOT NULL): n rows keyed by 32
 * random bytes (test_rng, the B-tree's worst order), each with a zeroed
 * value of size bytes, in db's open transaction or each its own. */
void	fixture_insert_random(struct sqlite3 *db, int n, int size);
/* The same n rows in a transaction of their own (BEGIN IMMEDIATE, COMMIT). */
void	fixture_commit_random(struct sqlite3 *db, int n, int size);
/* fixture_path passes SQLite's integrity check and t holds rows rows, as
 * fixture_db and a fresh connection (nothing cached) both see. */
void	fixture_assert_sound(int64_t rows);

/* A handle on fixture_url; fails the test with open's reason when refused.
 * The caller closes it (store_close). open_store sets the audit key
 * fixture_audit_key on it (store_audit_set_key, which must succeed), as
 * every process that writes the trail does; open_store_unkeyed does not
 * (the handle cannot append to the trail). fixture_key is that key as the
 * chain functions take it (made once, never freed). */
extern const uint8_t fixture_audit_key[32];
const struct store_audit_key *fixture_key(void);
struct store *open_store(void);
struct store *open_store_unkeyed(void);
/* The handle's change generation of a kind (store_generation must
 * succeed): gen_of any; gen the data's, lock_gen the locks'. */
uint64_t gen_of(struct store *, enum store_gen_kind kind);
uint64_t gen(struct store *);
uint64_t lock_gen(struct store *);
/* Another handle's generation once it reaches want, polled every 10 ms for
 * at most wait_ms (0: read once); the last value read. For backends where
 * a change reaches other handles a little later (PostgreSQL: NOTIFY). */
uint64_t gen_wait_of(struct store *, enum store_gen_kind kind, uint64_t want, int wait_ms);
uint64_t gen_wait(struct store *, uint64_t want, int wait_ms);
uint64_t lock_gen_wait(struct store *, uint64_t want, int wait_ms);

/* Tenant id (name "Tenant", created at 100); must succeed. */
void	make_tenant(struct store *, const char *id);

/* How many lockout locks are in force at now (store_lock_list must
 * succeed). */
size_t	locks_in_force(struct store *, int64_t now);

/*
 * Rows to write. The strings point at the arguments and at literals: the
 * caller owns nothing and frees nothing (store_*_clear is for rows read).
 *   client_fixture  production, Operator|Viewer, scopes "payments:read
 *                   payments:write", ttl 3600, max_ttl 7200, opaque, allow_ips
 *                   "10.0.0.0/8 192.168.1.1/32", claims {"partner_id":"p-1"},
 *                   rate 60, tokens_valid_after 5, created 1000, updated 1001
 *   secret_fixture  every hash byte fill, created 2000, no expiry
 *   token_fixture   tenant "acme", JWT, sandbox, scope "a b", aud
 *                   "https://api", issued iat, expires iat + 3600
 */
struct store_client client_fixture(const char *id, const char *tenant);
struct store_secret secret_fixture(const char *client, uint8_t fill);
struct store_token token_fixture(const char *id, const char *client,
	    const char *name, int64_t iat);

/*
 * Answers counted by a store_done_fn (store_token_record, store_audit_append,
 * the writer): n all, then by kind. other is every error but CONFLICT,
 * UNAVAILABLE included; unavailable counts those alone as well.
 */
struct tally {
	pthread_mutex_t	mu;
	int		n, ok, conflict, unavailable, other;
};
#define TALLY_INIT	{ PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0 }
void	tally_done(void *arg, int err);

/*
 * The group commit under load: runs fn(arg + i * size) on n threads at once
 * (1 <= n <= GROUP_COMMIT_THREADS_MAX), waits for them all, flushes s, and
 * prints "group commit: <records> records from <n> threads in <t> s =
 * <rate> records/s" (printed, not asserted: timing depends on the machine).
 */
#define GROUP_COMMIT_THREADS_MAX	64
void	group_commit_run(struct store *s, void *(*fn)(void *), void *arg, size_t size,
	    int n, int records);

/*
 * An audit chain walked by store_audit_scan(s, from, chain_check, &c): set
 * c.next to the first seq expected and c.prev to its prev_hash (zero for
 * seq 1). Each row must have that seq and prev_hash, and its own link
 * (store_audit_link under fixture_key); bad counts the rows that do not.
 * Afterwards c.next is the seq after the last.
 */
struct chain {
	int64_t	 next;
	uint8_t	 prev[32];
	int	 bad;
};
int	chain_check(void *arg, const struct store_audit *row);

#endif
