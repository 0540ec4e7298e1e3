/* cli_store.c — gatehouse migrate and gatehouse store copy (issue 8): the
 * schema brought to this binary's version on purpose (nodes also do it at
 * start, under an advisory lock on PostgreSQL), and a platform moved from
 * the embedded SQLite store to PostgreSQL, checked row for row and by the
 * audit chain, which must end on the same row with the same hash on both. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "store/copy.h"
#include "util/util.h"

int
cmd_migrate(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	int rc, cur = 0, latest = 0;

	if ((rc = cli_parse(argc, argv, "gatehouse migrate", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_open_store(&a, &st) == -1)	/* opening applies the migrations */
		return 1;
	if (store_schema_version(st, &cur, &latest) != STORE_OK) {
		rc = cli_fail("migrate: %s", store_last_error());
		store_close(st);
		return rc;
	}
	rc = cli_print(json_pack("{s:s, s:i, s:i}", "backend", store_backend(st),
	    "schema_version", cur, "latest", latest));
	store_close(st);
	return rc;
}

/*
 * The audit chain of url: verified under the audit key of master, and its
 * head. key_it: first set the key on the store as a writer would, which
 * gives a trail written before the chain was keyed its key record (the
 * source: the copy then carries it).
 */
static int
chain(const char *url, const uint8_t master[32], int key_it, struct audit_verify_result *r,
    const char *which)
{
	struct store_audit_key *k = NULL;
	struct store *st = NULL;
	char err[512];
	int rc;

	memset(r, 0, sizeof(*r));
	if (store_open(url, &st, err, sizeof(err)) != STORE_OK) {
		cli_fail("store copy: %s: %s", which, err);
		return -1;
	}
	if (!store_audit_supported(st)) {
		store_close(st);
		r->ok = 1;
		return 0;
	}
	if (key_it) {
		int64_t keyed_after;
		if (audit_key_use(st, master, &keyed_after, err, sizeof(err)) == -1) {
			cli_fail("store copy: %s: audit: %s", which, err);
			store_close(st);
			return -1;
		}
		if (keyed_after > 0)
			cli_audit_keyed(keyed_after);
	}
	/* Keyed, the store holds the key already; else derive it to read. */
	if (!key_it && (k = audit_key_new(master)) == NULL) {
		cli_fail("store copy: cannot derive the audit key from the master key");
		store_close(st);
		return -1;
	}
	rc = audit_verify(st, key_it ? store_audit_get_key(st) : k, r);
	store_audit_key_free(k);
	if (rc == -1) {
		cli_fail("store copy: %s: audit: %s", which, store_last_error());
		store_close(st);
		return -1;
	}
	store_close(st);
	return 0;
}

/* The rows copied of table (0 when it had none). */
static int64_t
count_of(const struct store_copy_count *counts, size_t n, const char *table)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(counts[i].table, table) == 0)
			return counts[i].rows;
	return 0;
}

int
cmd_store_copy(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "from", 1, 0, "the source store: sqlite:PATH" },
		{ "to", 1, 0, "the target store: postgresql://... (an empty database)" },
		{ "master-key", 1, 0, "master key file, to verify the audit chain on both sides;"
		    " env GATEHOUSE_MASTER_KEY" },
		{ "config", 1, 0, "configuration file" },
	};
	struct store_copy_count counts[64];
	struct store_copy_head copied;
	struct audit_verify_result src, dst;
	struct cli_args a;
	const char *from, *to;
	uint8_t master[32];
	char err[512];
	size_t n = 0;
	json_t *tables;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse store copy --from sqlite:PATH --to postgresql://...",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	from = cli_get(&a, "from");
	to = cli_get(&a, "to");
	if (from == NULL || to == NULL)
		return cli_fail("store copy: give --from sqlite:PATH and --to postgresql://...");
	/* Opening would make it: an empty platform copied, and said done. */
	if (cli_sqlite_missing(from, "--from"))
		return 1;
	if (cli_master_key(&a, 0, master, NULL) == -1)
		return 1;
	/* The source's chain must hold before we copy it. */
	rc = chain(from, master, 1, &src, "the source");
	if (rc == 0 && !src.ok) {
		OPENSSL_cleanse(master, sizeof(master));
		return cli_fail("store copy: the source's audit chain is broken at seq %lld (%s); "
		    "nothing copied", (long long)src.first_bad, src.why);
	}
	if (rc == 0 && store_copy(from, to, counts, GH_ARRAY_LEN(counts), &n, &copied, err,
	    sizeof(err)) == -1) {
		OPENSSL_cleanse(master, sizeof(master));
		return cli_fail("%s", err);
	}
	if (rc == 0)
		rc = chain(to, master, 0, &dst, "the target");
	OPENSSL_cleanse(master, sizeof(master));
	if (rc == -1)
		return 1;
	/* Against the snapshot copied, not the source as verified before it:
	 * a live source (a server still serving on it) appends rows in
	 * between, and the copy, committed by now, was refused as a mismatch
	 * and could not be tried again ("not empty"). The target's chain,
	 * verified whole under the key, must hold the rows verified before
	 * and end on the copied head. */
	if (!dst.ok || dst.rows != count_of(counts, n, "audit") || dst.head_seq != copied.seq ||
	    strcmp(dst.head_hash, copied.hash) != 0 || dst.head_seq < src.head_seq)
		return cli_fail("store copy: the copied audit chain does not match the source's "
		    "(source %lld rows to seq %lld when copied, target %lld rows to seq %lld%s%s); "
		    "the target holds the copy: empty it before another",
		    (long long)count_of(counts, n, "audit"), (long long)copied.seq,
		    (long long)dst.rows, (long long)dst.head_seq, dst.ok ? "" : ": ",
		    dst.ok ? "" : dst.why);
	tables = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(tables, counts[i].table, json_integer(counts[i].rows));
	return cli_print(json_pack("{s:s, s:s, s:o, s:{s:b, s:I, s:I, s:s}}", "from", "sqlite",
	    "to", "postgresql", "rows", tables, "audit", "verified", 1, "rows",
	    (json_int_t)dst.rows, "head_seq", (json_int_t)dst.head_seq, "head_hash",
	    dst.head_hash));
}
