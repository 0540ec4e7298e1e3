/*
 * cli_audit.c — gatehouse audit verify|list|prune, and cli_audit(), which
 * the mutating commands call to put their action in the trail.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "config/config.h"
#include "util/util.h"

/* Sets the audit key of the master key (--master-key) on st, for a
 * command that writes the trail. 0, or -1 after printing why in one line
 * (README: an error is one line on stderr), ending in tail. */
static int
use_audit_key(const struct cli_args *a, struct store *st, const char *what, const char *tail)
{
	uint8_t master[32];
	int64_t keyed_after;
	char err[512];
	int rc;

	if (cli_master_key_tail(a, 0, master, NULL, tail) == -1)
		return -1;
	rc = audit_key_use(st, master, &keyed_after, err, sizeof(err));
	OPENSSL_cleanse(master, sizeof(master));
	if (rc == -1)
		cli_fail("%s: audit: %s%s", what, err, tail);
	else if (keyed_after > 0)
		cli_audit_keyed(keyed_after);
	return rc;
}

/* The store whose audit key cli_open_store_audited has set: cli_audit
 * need not load the master key again. */
static const struct store *audit_ready;

int
cli_open_store_audited(const struct cli_args *a, struct store **out, const char *action)
{
	struct config cfg;
	int audit;

	if (cli_load_config(a, &cfg) == -1)
		return -1;
	audit = cfg.audit;
	config_clear(&cfg);
	if (cli_open_store(a, out) == -1)
		return -1;
	if (!audit)
		return 0;
	if (use_audit_key(a, *out, action, ": refused before acting (the audit trail could "
	    "not record it), nothing changed") == -1) {
		store_close(*out);
		*out = NULL;
		return -1;
	}
	audit_ready = *out;
	return 0;
}

void
cli_audit_keyed(int64_t unkeyed_through)
{
	/* Once, at the upgrade; any other time, the key record was deleted
	 * and the rows before are trusted as they are: the operator sees it
	 * here, outside the database. */
	fprintf(stderr, "gatehouse: audit: the trail had no key record: keyed from here on, "
	    "its unkeyed rows up to seq %lld trusted as they are (expected once, at the "
	    "upgrade; else the record was deleted)\n", (long long)unkeyed_through);
}

/* The row of an admin action done by this command, into *ev (actor,
 * held by the caller, and c, which the caller clears, hold its strings). */
static void
cli_event(struct store *st, const char *action, const char *tenant, const char *target,
    const char *err, struct audit_event *ev, char actor[96], struct store_client *c)
{
	struct passwd *pw = getpwuid(geteuid());

	/* A client's actions belong to its tenant's trail. */
	memset(c, 0, sizeof(*c));
	if (tenant == NULL && target != NULL && store_client_get(st, target, c) == STORE_OK)
		tenant = c->tenant_id;
	snprintf(actor, 96, "cli:%.64s", pw != NULL ? pw->pw_name : "?");
	memset(ev, 0, sizeof(*ev));
	ev->actor = actor;
	ev->tenant = tenant;
	ev->action = action;
	ev->target = target;
	ev->outcome = err == NULL ? "ok" : "error";
	ev->detail = err;
}

int
cli_audit_stage(const struct cli_args *a, struct store *st, const char *action,
    const char *tenant, const char *target)
{
	struct audit_event ev;
	struct config cfg;
	struct store_client c;
	char actor[96];
	int rc = 0;

	if (cli_load_config(a, &cfg) == -1)
		return -1;
	cli_event(st, action, tenant, target, NULL, &ev, actor, &c);
	if (cfg.audit && ((st != audit_ready && use_audit_key(a, st, action, "") == -1) ||
	    audit_stage(st, &cfg, &ev) == -1))
		rc = cli_fail("%s: refused before acting (the audit trail could not take its row), "
		    "nothing changed", action);
	store_client_clear(&c);
	config_clear(&cfg);
	return rc;
}

int
cli_audit(const struct cli_args *a, struct store *st, const char *action, const char *tenant,
    const char *target, const char *err)
{
	struct audit_event ev;
	struct config cfg;
	struct store_client c;
	char actor[96];
	int rc;

	test_fault_point("cli-before-audit");
	/* The success row staged before the change (cli_audit_stage) went
	 * in with it: nothing more to write. Else it is dropped here, and
	 * the row that applies (a failure's, or a change that wrote
	 * nothing) is written on its own, as it always was. */
	if (store_audit_unstage(st) && err == NULL)
		return 0;
	if (cli_load_config(a, &cfg) == -1)
		return -1;
	cli_event(st, action, tenant, target, err, &ev, actor, &c);
	/* The row is linked under the audit key: the master key is needed. */
	if (cfg.audit && st != audit_ready && use_audit_key(a, st, action, "") == -1)
		rc = -1;
	else
		rc = audit_write(st, &cfg, &ev);
	/* err: the command failed, and this row was to say so; "done" would
	 * tell the operator that the change was made. */
	if (rc == -1 && err == NULL)
		cli_fail("%s: done, but the audit trail could not record it", action);
	else if (rc == -1)
		cli_fail("%s: failed, and the audit trail could not record the failure", action);
	store_client_clear(&c);
	config_clear(&cfg);
	return rc;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for ms since the epoch. */
static void
time_ms(int64_t ms, char out[32])
{
	char s[21];

	time_iso8601(ms / 1000, s);
	snprintf(out, 32, "%.19s.%03dZ", s, (int)(ms % 1000));
}

/*
 * A --since/--until value as ms since the epoch: "2026-11-23T09:00:00Z"
 * (UTC), seconds since the epoch ("1795000000"), or an age with a unit
 * ("15m", "2h", "7d": that long ago). 0, or -1 with why.
 */
static int
parse_when(const char *s, int64_t *out, const char **why)
{
	size_t n = strlen(s);
	int64_t v;

	if (n == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z') {
		struct tm tm;
		int Y, M, D, h, m, sec;
		char tail;

		memset(&tm, 0, sizeof(tm));
		if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &Y, &M, &D, &h, &m, &sec, &tail) != 7 ||
		    tail != 'Z' || Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 ||
		    h > 23 || m > 59 || sec > 60 || h < 0 || m < 0 || sec < 0) {
			*why = "is not a UTC time YYYY-MM-DDTHH:MM:SSZ";
			return -1;
		}
		tm.tm_year = Y - 1900;
		tm.tm_mon = M - 1;
		tm.tm_mday = D;
		tm.tm_hour = h;
		tm.tm_min = m;
		tm.tm_sec = sec;
		*out = (int64_t)timegm(&tm) * 1000;
		/* timegm moves a day past the month's end (02-30) on: refused. */
		if (tm.tm_mday != D || tm.tm_mon != M - 1) {
			*why = "is not a day of that month";
			return -1;
		}
		return 0;
	}
	/* From 1: 0 is the filter's "none", which would list everything. */
	if (n > 0 && n <= 12 && s[n - 1] >= '0' && s[n - 1] <= '9') {
		if (num_parse_i64(s, n, 1, 253402300799LL, &v, why) == -1)
			return -1;
		*out = v * 1000;
		return 0;
	}
	if (num_parse_duration(s, 0, 3660LL * 86400, &v, why) == -1)
		return -1;
	*out = audit_now_ms() - v * 1000;
	return 0;
}

static json_t *
row_json(struct store_audit *r)
{
	char *text[8] = { r->request_id, r->actor, r->tenant, r->address, r->action, r->target,
	    r->outcome, r->detail };
	char t[32], h[65];

	/* Bytes that are not UTF-8 (an edited SQLite file: the writer stores
	 * none) shown as '?': jansson refuses them, and the row would drop
	 * out of the list, while verify names its seq. */
	for (int i = 0; i < 8; i++)
		str_scrub_utf8(text[i]);
	time_ms(r->at, t);
	hex_encode(r->hash, 32, h);
	return json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "seq", (json_int_t)r->seq, "time", t, "at_ms", (json_int_t)r->at,
	    "request_id", r->request_id, "actor", r->actor, "tenant", r->tenant,
	    "address", r->address, "action", r->action, "target", r->target,
	    "outcome", r->outcome, "detail", r->detail, "hash", h,
	    "chain", audit_chain_name(r->chain));
}

int
cmd_audit_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "tenant", 1, 0, "only this tenant's events" },
		{ "client", 1, 0, "only events by or about this client (actor or target)" },
		{ "action", 1, 0, "only this action (token.issued, token.refused, gate.refused, ...)" },
		{ "since", 1, 0, "from this time: 2026-11-23T09:00:00Z, epoch seconds, or an age (2h)" },
		{ "until", 1, 0, "before this time (same forms)" },
		{ "limit", 1, 0, "at most this many events, newest first (1..10000, default 100);"
		    " a page never splits a row of one client's token events" },
		{ "before-seq", 1, 0, "only rows with a lower seq (the next page)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct store_audit_filter f;
	struct store *st = NULL;
	struct store_audit *rows = NULL;
	size_t n = 0;
	const char *why;
	int64_t v;
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse audit list [--tenant T] [--client C] [--action A]"
	    " [--since WHEN] [--until WHEN] [--limit N] [--before-seq S]", spec,
	    GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	f.tenant = cli_get(&a, "tenant");
	f.client = cli_get(&a, "client");
	f.action = cli_get(&a, "action");
	if (cli_has(&a, "since") && parse_when(cli_get(&a, "since"), &f.since, &why) == -1)
		return cli_fail("audit list: --since \"%.40s\" %s", cli_get(&a, "since"), why);
	if (cli_has(&a, "until") && parse_when(cli_get(&a, "until"), &f.until, &why) == -1)
		return cli_fail("audit list: --until \"%.40s\" %s", cli_get(&a, "until"), why);
	if (cli_has(&a, "limit")) {
		const char *s = cli_get(&a, "limit");
		if (num_parse_i64(s, strlen(s), 1, 10000, &v, &why) == -1)
			return cli_fail("audit list: --limit \"%.20s\" %s (1..10000)", s, why);
		f.limit = (size_t)v;
	}
	if (cli_has(&a, "before-seq")) {
		const char *s = cli_get(&a, "before-seq");
		if (num_parse_i64(s, strlen(s), 1, INT64_MAX, &v, &why) == -1)
			return cli_fail("audit list: --before-seq \"%.20s\" %s", s, why);
		f.before_seq = v;
	}
	if (cli_open_existing_store(&a, &st) == -1)
		return 1;
	if (store_audit_list(st, &f, &rows, &n) != STORE_OK) {
		rc = cli_fail("audit list: %s", store_last_error());
		store_close(st);
		return rc;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, row_json(&rows[i]));
	store_audit_free(rows, n);
	store_close(st);
	return cli_print(arr);
}

/* The audit key of --master-key, for verifying; NULL after printing. */
static struct store_audit_key *
verify_key(const struct cli_args *a)
{
	struct store_audit_key *k;
	uint8_t master[32];

	if (cli_master_key(a, 0, master, NULL) == -1)
		return NULL;
	k = audit_key_new(master);
	OPENSSL_cleanse(master, sizeof(master));
	if (k == NULL)
		cli_fail("audit verify: cannot derive the audit key from the master key");
	return k;
}

int
cmd_audit_verify(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct store *st = NULL;
	struct store_audit_key *k = NULL;
	struct audit_verify_result r;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse audit verify", spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	/* Only the master key's holder can tell a keyed row from a forged
	 * one: verify reads the trail, and writes nothing (not even the key
	 * record a trail without one would get). */
	if ((k = verify_key(&a)) == NULL)
		return 1;
	/* A mistyped path must not verify as an empty trail. */
	if (cli_open_existing_store(&a, &st) == -1) {
		store_audit_key_free(k);
		return 1;
	}
	rc = audit_verify(st, k, &r);
	store_audit_key_free(k);
	if (rc == -1) {
		rc = cli_fail("audit verify: %s", store_last_error());
		store_close(st);
		return rc;
	}
	store_close(st);
	if (!r.ok && r.first_bad == 0) {
		/* Not a row's fault: the key, or the key record. */
		cli_print(json_pack("{s:b, s:b, s:s, s:I}", "ok", 0, "key_matches", !r.key_mismatch,
		    "reason", r.why, "rows", (json_int_t)r.rows));
		if (r.key_mismatch)
			return cli_fail("audit verify: the master key %s does not match the key this "
			    "audit trail was written with", cli_master_path(&a));
		return cli_fail("audit verify: %s", r.why);
	}
	if (!r.ok) {
		cli_print(json_pack("{s:b, s:I, s:s, s:I}", "ok", 0, "first_bad_seq",
		    (json_int_t)r.first_bad, "reason", r.why, "rows", (json_int_t)r.rows));
		return cli_fail("audit verify: the chain is broken at seq %lld: %s",
		    (long long)r.first_bad, r.why);
	}
	return cli_print(json_pack("{s:b, s:I, s:I, s:s, s:I}", "ok", 1, "rows", (json_int_t)r.rows,
	    "head_seq", (json_int_t)r.head_seq, "head_hash", r.head_hash,
	    "checkpoint_through", (json_int_t)r.checkpoint));
}

int
cmd_audit_prune(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "older-than", 1, 0, "prune token events older than this (default: audit_retention)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct config cfg;
	struct store *st = NULL;
	const char *why;
	int64_t pruned = 0;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse audit prune [--older-than DURATION]", spec,
	    GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (cli_load_config(&a, &cfg) == -1)
		return 1;
	if (cli_has(&a, "older-than") && num_parse_duration(cli_get(&a, "older-than"), 1,
	    3660LL * 86400, &cfg.audit_retention, &why) == -1) {
		config_clear(&cfg);
		return cli_fail("audit prune: --older-than %s (1s..3660d)", why);
	}
	if (cfg.audit_retention == 0) {
		config_clear(&cfg);
		return cli_fail("audit prune: no retention: set audit_retention or give --older-than");
	}
	cfg.audit = 1;	/* an explicit prune works on the trail there is */
	if (cli_open_existing_store(&a, &st) == -1) {
		config_clear(&cfg);
		return 1;
	}
	/* The checkpoint is a row of the trail: linked under the key. */
	if (use_audit_key(&a, st, "audit prune", "") == -1) {
		config_clear(&cfg);
		store_close(st);
		return 1;
	}
	audit_ready = st;
	{
		/* Who cut the trail, and how far: the checkpoint names no one.
		 * Staged, so that the prune's transaction commits it after the
		 * checkpoint: a crash cannot leave the trail cut with no row
		 * saying who cut it. */
		char what[64], why[256];
		snprintf(what, sizeof(what), "older than %.40s", cli_has(&a, "older-than") ?
		    cli_get(&a, "older-than") : "audit_retention");
		if (cli_audit_stage(&a, st, "audit.prune", NULL, what) == -1) {
			config_clear(&cfg);
			store_close(st);
			return 1;
		}
		rc = audit_prune(st, &cfg, &pruned);
		config_clear(&cfg);
		snprintf(why, sizeof(why), "%s", rc == -1 ? store_last_error() : "");
		cli_audit(&a, st, "audit.prune", NULL, what, rc == -1 ? why : NULL);
		if (rc == -1) {
			rc = cli_fail("audit prune: %s", why);
			store_close(st);
			return rc;
		}
	}
	store_close(st);
	return cli_print(json_pack("{s:I}", "pruned", (json_int_t)pruned));
}
