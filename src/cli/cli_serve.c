/*
 * cli_serve.c — gatehouse serve: configuration, first run, and the server's
 * life from listening to a clean stop on SIGTERM (in-flight requests
 * answered, queued writes made durable).
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "approvals/approvals.h"
#include "audit/audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/serve_bootstrap.h"
#include "cli/serve_tls.h"
#include "config/config.h"
#include "gate/gate.h"
#include "gate/policy.h"
#include "http/http.h"
#include "jose/presign.h"
#include "keys/keys.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "net/cidr.h"
#include "security/masterkey.h"
#include "server/context.h"
#include "server/routes.h"
#include "server/signals.h"
#include "util/util.h"

static int
is_bool_key(const char *k)
{
	return !strcmp(k, "require-https") || !strcmp(k, "require_https") ||
	    !strcmp(k, "log-requests") || !strcmp(k, "log_requests") ||
	    !strcmp(k, "require-allowlist") || !strcmp(k, "require_allowlist");
}

/* The settings the environment may give (under the file and the flags). */
static const struct {
	const char *env, *key;
} env_settings[] = {
	{ "GATEHOUSE_DB", "db" },
	{ "GATEHOUSE_MASTER_KEY", "master_key" },
};

/* --config first (flags override the file), then every --key value. */
static int
configure(int argc, char **argv, struct config *cfg)
{
	char err[4096];
	int bad = 0;

	config_defaults(cfg);
	/* A value refused here is an error, as in every other command
	 * (cli/common.c): ignored, serve went on with the default store and
	 * key (var/), a first run of its own included. */
	for (size_t i = 0; i < GH_ARRAY_LEN(env_settings); i++) {
		const char *v = getenv(env_settings[i].env);
		if (v != NULL && v[0] != '\0' &&
		    config_set(cfg, env_settings[i].key, v, err, sizeof(err)) == -1) {
			fprintf(stderr, "gatehouse: serve: %s: %s\n", env_settings[i].env, err);
			bad = 1;
		}
	}
	/* Files first, whichever form names them (--config F, --config=F, as
	 * every other command takes), so that flags override them. */
	for (int i = 0; i < argc; i++) {
		const char *path = strcmp(argv[i], "--config") == 0 && i + 1 < argc ? argv[i + 1] :
		    strncmp(argv[i], "--config=", 9) == 0 ? argv[i] + 9 : NULL;
		if (path != NULL && (config_load(cfg, path, err, sizeof(err)) == -1 ||
		    cli_config_secrecy(cfg, path, err, sizeof(err)) == -1)) {
			fprintf(stderr, "gatehouse: config:\n%s\n", err);
			bad = 1;
		}
	}
	for (int i = 0; i < argc; i++) {
		const char *key = argv[i], *value;
		char name[64];
		if (strncmp(key, "--", 2) != 0) {
			fprintf(stderr, "gatehouse: serve: unexpected argument \"%.40s\"\n", key);
			bad = 1;
			continue;
		}
		key += 2;
		if (strcmp(key, "config") == 0 && i + 1 >= argc) {
			fprintf(stderr, "gatehouse: serve: --config needs a value\n");
			bad = 1;
			continue;
		}
		if (strcmp(key, "config") == 0 || strncmp(key, "config=", 7) == 0) {
			i += key[6] == '\0';	/* read above */
			continue;
		}
		if (strchr(key, '=') != NULL) {
			size_t n = strcspn(key, "=");
			snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), key);
			value = key + n + 1;
		} else {
			snprintf(name, sizeof(name), "%s", key);
			if (is_bool_key(name) && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
				value = "true";
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				fprintf(stderr, "gatehouse: serve: --%s needs a value\n", name);
				bad = 1;
				continue;
			}
		}
		if (config_set(cfg, name, value, err, sizeof(err)) == -1) {
			fprintf(stderr, "gatehouse: serve: %s\n", err);
			bad = 1;
		}
	}
	if (!bad && config_validate(cfg, err, sizeof(err)) == -1) {
		/* A line each, each saying whose it is. */
		for (char *line = strtok(err, "\n"); line != NULL; line = strtok(NULL, "\n"))
			fprintf(stderr, "gatehouse: serve: %s\n", line);
		bad = 1;
	}
	return bad ? -1 : 0;
}

static int
parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *why;
	int64_t p;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= hostlen)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(end - s - 1), s + 1);
		colon = end + 1;
	} else {
		/* An IPv6 address goes in brackets (RFC 3986 §3.2.2): bare,
		 * "::1:8080" is both [::1]:8080 and an address with no port,
		 * and was taken as the first. */
		if ((colon = strrchr(s, ':')) == NULL || (size_t)(colon - s) >= hostlen ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
	}
	if (num_parse_i64(colon + 1, strlen(colon + 1), 0, 65535, &p, &why) == -1)
		return -1;
	*port = (uint16_t)p;
	{
		uint8_t tmp[16];
		if (inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1)
			return -1;
	}
	return 0;
}

static int
is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

/*
 * 1 when host is the unspecified address (0.0.0.0, ::): every interface,
 * and no host a client can name. An issuer made from it, as every token's
 * iss and the RFC 8414 metadata's issuer, is one no client can fetch the
 * metadata from under that name (§3.3 compares the two) and whose
 * endpoint URLs lead nowhere off this host.
 */
static int
is_unspecified(const char *host)
{
	static const uint8_t zero[16];
	uint8_t a[16];

	if (inet_pton(AF_INET, host, a) == 1)
		return memcmp(a, zero, 4) == 0;
	return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, zero, 16) == 0;
}

static void
declare_metrics(void)
{
	metrics_declare("gatehouse_tokens_issued_total", "counter",
	    "Tokens issued, by tenant and algorithm.", "tenant,alg");
	metrics_declare("gatehouse_tls_certificate_expiry_timestamp_seconds", "gauge",
	    "When the TLS certificate served now expires (Unix time; with TLS only).", "");
	metrics_declare("gatehouse_client_secrets_rotation_due", "gauge",
	    "Live client secrets older than secret_rotation_age.", "");
	metrics_declare("gatehouse_clock_skew_seconds", "gauge",
	    "This node's wall clock minus the database server's, to the second (PostgreSQL "
	    "only; clock.skew is logged past leeway).", "");
	metrics_declare("gatehouse_lockouts_total", "counter",
	    "Locks made after repeated bad credentials, by kind (pair, address).", "kind");
	metrics_declare("gatehouse_unlocks_total", "counter",
	    "Locks ended, by kind and reason (cleared by an operator, expired).", "kind,reason");
	metrics_declare("gatehouse_store_reload_failures_total", "counter",
	    "Reloads of the caches after a change in the store that failed, by the "
	    "change counter (context.h CTX_RETRY_MIN_MS).", "generation");
	metrics_declare("gatehouse_gate_revoked_rows_read_total", "counter",
	    "Revoked-token rows the gate read from the store, by load: full (the first, "
	    "after a failure, once a minute) or incremental (those revoked since).", "load");
	metrics_declare("gatehouse_gate_cache_lookups_total", "counter",
	    "Gate checks whose token was looked up in the gate's cache, by result: hit "
	    "(answered from memory) or miss (verified in full).", "result");
	metrics_declare("gatehouse_store_commits_total", "counter",
	    "Group commits of issued-token records and audit rows, by outcome.", "outcome");
	metrics_declare("gatehouse_store_committed_records_total", "counter",
	    "Records in the group commits that succeeded.", "");
	metrics_declare("gatehouse_store_commit_duration_seconds", "histogram",
	    "How long a group commit took, its sync included: the disk's share of a token's latency.", "");
}

/* store_on_commit: one batch of the group commit, for /metrics, /readyz
 * (ctx->writes_failing) and, when it failed, the log: its requests are
 * answered 503, and the operator must learn why. At most one line a second (the writer retries every
 * millisecond while a database is down); the line counts the failures it
 * stands for. Runs on the writer thread only, whose last store error is
 * the commit's. */
static void
observe_commit(void *arg, size_t records, int64_t ns, int err)
{
	static uint64_t last_log_ns;
	static long unlogged;
	const char *outcome[1] = { err == STORE_OK ? "ok" : "error" };
	struct gh_ctx *ctx = arg;

	atomic_store(&ctx->writes_failing, err != STORE_OK);
	metrics_add("gatehouse_store_commits_total", 1, outcome);
	if (err == STORE_OK)
		metrics_add("gatehouse_store_committed_records_total", (double)records, NULL);
	metrics_observe("gatehouse_store_commit_duration_seconds", (double)ns / 1e9, NULL);
	if (err != STORE_OK) {
		uint64_t now = clock_mono_ns();
		unlogged++;
		if (last_log_ns == 0 || now - last_log_ns >= 1000000000ULL) {
			log_event(LOG_ERROR, "store.commit_failed", json_pack("{s:s, s:I, s:I}",
			    "error", store_last_error(), "records", (json_int_t)records,
			    "failed_commits", (json_int_t)unlogged));
			last_log_ns = now;
			unlogged = 0;
		}
	}
}

/*
 * Deletes the records of tokens expired for token_retention, in chunks of
 * PRUNE_CHUNK (each its own short transaction, so that the group commit is
 * never held up long), at most PRUNE_CHUNKS_A_RUN a run: 200,000 records
 * every half minute keeps up with 6,600 tokens a second, and a larger
 * backlog (a first run on an old store) is worked off over several runs.
 */
#define PRUNE_CHUNK		5000
#define PRUNE_CHUNKS_A_RUN	40

static void
prune_token_records(struct gh_ctx *ctx, int64_t now)
{
	int64_t total = 0, pruned = 0;

	if (ctx->cfg->token_retention <= 0)
		return;
	for (int i = 0; i < PRUNE_CHUNKS_A_RUN; i++) {
		if (store_token_prune(ctx->store, now - ctx->cfg->token_retention, PRUNE_CHUNK,
		    &pruned) != STORE_OK) {
			log_event(LOG_ERROR, "tokens.prune_failed", json_pack("{s:s}", "reason",
			    store_last_error()));
			break;
		}
		total += pruned;
		if (pruned < PRUNE_CHUNK)
			break;
	}
	if (total > 0)
		log_event(LOG_INFO, "tokens.pruned", json_pack("{s:I}", "records", (json_int_t)total));
}

/* The row of a key the server made itself (keys.h struct keys_audit):
 * at start (keys.create) or by the schedule (keys.rotate), naming the
 * env and the kid. */
struct key_row {
	struct store		*st;
	const struct config	*cfg;
	const char		*action;
	const char		*why;	/* the detail's start */
};

static void
key_row_event(const struct key_row *kr, enum store_env env, const char *kid,
    struct audit_event *ev, char detail[128])
{
	snprintf(detail, 128, "%s; new kid %s", kr->why, kid);
	memset(ev, 0, sizeof(*ev));
	ev->actor = "gatehouse";
	ev->tenant = kr->cfg->platform_tenant;
	ev->action = kr->action;
	ev->target = store_env_names[env];
	ev->outcome = "ok";
	ev->detail = detail;
}

/* Staged before the key's transaction, which then commits it: a crash
 * leaves the key with its row, or neither. */
static void
key_row_stage(void *arg, enum store_env env, const char *kid)
{
	const struct key_row *kr = arg;
	struct audit_event ev;
	char detail[128];

	key_row_event(kr, env, kid, &ev, detail);
	(void)audit_stage(kr->st, kr->cfg, &ev);	/* logs its own failure */
}

/* After the key's transaction: written on its own only when the key went
 * in and its row did not (the stage failed), and said when it cannot be. */
static void
key_row_done(void *arg, enum store_env env, const char *kid, int ok)
{
	const struct key_row *kr = arg;
	struct audit_event ev;
	char detail[128];

	if (store_audit_unstage(kr->st) || !ok)
		return;
	key_row_event(kr, env, kid, &ev, detail);
	if (audit_write(kr->st, kr->cfg, &ev) == -1)
		log_event(LOG_ERROR, "audit.write_failed", json_pack("{s:s, s:s, s:s}", "action",
		    kr->action, "kid", kid, "note", "the key is made; its audit row is not"));
}

/* The key schedule (key_rotation_interval): each key it makes is logged
 * and, as a rotation by hand is, put on the audit trail, in the key's own
 * transaction. */
static void
scheduled_rotations(struct gh_ctx *ctx, int64_t now)
{
	char made[STORE_ENV__MAX][KEYS_KID_LEN + 1], err[256];
	struct key_row kr = { ctx->store, ctx->cfg, "keys.rotate", "scheduled" };
	struct keys_audit au = { key_row_stage, key_row_done, &kr };
	int failed;

	failed = keys_rotate_due(ctx->store, ctx->seal_key, now, ctx->cfg->key_rotation_interval,
	    ctx->cfg->key_publish_lead, made, &au, err, sizeof(err)) == -1;
	if (failed)
		log_event(LOG_ERROR, "keys.schedule_failed", json_pack("{s:s}", "reason", err));
	for (int env = 0; env < STORE_ENV__MAX; env++)
		if (made[env][0] != '\0')
			log_event(LOG_INFO, "keys.rotated", json_pack("{s:s, s:s, s:s}", "env",
			    store_env_names[env], "kid", made[env], "by", "schedule"));
}

/* Every half minute: the key schedule, audit retention, expired token
 * records, approvals left half-done by a stopped process, and the count of
 * secrets due for rotation for /metrics. */
static void
housekeeping(struct gh_ctx *ctx)
{
	int64_t due = 0, now = clock_now();

	scheduled_rotations(ctx, now);
	{
		int64_t pruned = 0;
		if (audit_prune(ctx->store, ctx->cfg, &pruned) == -1)
			log_event(LOG_ERROR, "audit.prune_failed", json_pack("{s:s}", "reason",
			    store_last_error()));
		else if (pruned > 0)
			log_event(LOG_INFO, "audit.pruned", json_pack("{s:I}", "rows", (json_int_t)pruned));
	}
	prune_token_records(ctx, now);
	{
		/* Approvals a stopped process decided but did not finish. */
		int recovered = 0;
		if (approvals_recover(ctx, now, &recovered) == -1)
			log_event(LOG_ERROR, "approval.recover_failed", json_pack("{s:s}", "reason",
			    store_last_error()));
		else if (recovered > 0)
			log_event(LOG_INFO, "approval.recovered", json_pack("{s:i}", "count", recovered));
	}
	/* One count, not a read per client. */
	if (store_secret_count_due(ctx->store, now - ctx->cfg->secret_rotation_age, now, &due) != STORE_OK)
		return;
	metrics_set("gatehouse_client_secrets_rotation_due", (double)due, NULL);
}

struct serve;
static json_t	*serve_reload_tls(struct serve *, int *refused);

/* Runs until a stop is asked (SIGTERM, SIGINT: server/signals.h); SIGHUP
 * and a once-a-second tick refresh the caches from the store (changes by
 * the CLI or other nodes); SIGHUP also reads the TLS certificate again. */
static void
run_until_stopped(struct gh_ctx *ctx, struct sigwatch *sw, struct serve *sv)
{
	unsigned ticks = 0;
	enum sigwatch_event ev;

	housekeeping(ctx);
	while ((ev = sigwatch_wait(sw, 1000)) != SIGWATCH_STOP) {
		if (ev == SIGWATCH_HUP) {
			char err[256];
			int keys = ctx_reload_keys(ctx, err, sizeof(err)), policy, tls_refused = 0;
			json_t *tls, *line;

			if (keys == -1)
				log_event(LOG_ERROR, "server.reload_failed", json_pack("{s:s}", "reason", err));
			/* The route policy: a file that does not parse is refused
			 * (gate.policy_refused names it and its lines) and the old
			 * policy stays, which the reload's line says too. */
			policy = gate_reload(ctx, err, sizeof(err));
			/* Likewise the TLS certificate (server.tls_refused). */
			tls = serve_reload_tls(sv, &tls_refused);
			if (keys == 0) {
				line = json_pack("{s:s}", "policy", policy == 0 ? "current" :
				    "the previous one: the file was refused");
				if (line != NULL && tls != NULL)
					json_object_set(line, "tls", tls);
				log_event(policy == 0 && !tls_refused ? LOG_INFO : LOG_WARN,
				    "server.reloaded", line);
			}
			json_decref(tls);
		}
		ctx_refresh(ctx);
		/* Locks that ran out: logged and counted within a second. */
		ctx_lock_housekeeping(ctx, clock_now());
		ctx_learn_failures(ctx, clock_now());
		if (++ticks % 30 == 0)
			housekeeping(ctx);
	}
}

/* What serve holds from start to stop; cmd_serve frees it. */
struct serve {
	struct config cfg;
	struct gh_ctx ctx;
	struct route_table routes;
	struct http_config hc;
	struct http_server *srv;
	struct store *st;
	uint8_t master[MASTERKEY_LEN];
	char host[64], base[300], bound[80];
	char *cert, *key;		/* PEM, key wiped when freed */
	struct serve_cert cert_desc;	/* cert's */
	uint16_t port;
	enum jose_alg alg;
	int nkeys, ctx_ready, served;
};

/*
 * SIGHUP: the certificate and key read again from tls_cert and tls_key, as
 * a renewal (ACME's every 60 days, an internal CA's every few) leaves
 * them, and served to new connections from here on; connections open keep
 * theirs. A pair that cannot be read, whose key is not the certificate's,
 * or that GnuTLS will not take is refused (server.tls_refused says why)
 * and the one before stays in service. Returns what the reload's line
 * says of TLS (NULL without TLS); *refused is set when it was refused.
 */
static json_t *
serve_reload_tls(struct serve *sv, int *refused)
{
	struct serve_cert d;
	char err[512];
	char *cert = NULL, *key = NULL;
	const char *what;

	if (sv->cert == NULL)
		return NULL;
	if (serve_tls_read(&sv->cfg, &cert, &key, &d, err, sizeof(err)) == -1 ||
	    http_server_tls_replace(sv->srv, cert, key, err, sizeof(err)) == -1) {
		log_event(LOG_ERROR, "server.tls_refused", json_pack("{s:s, s:s}", "reason", err,
		    "note", "the certificate before is still served"));
		*refused = 1;
		what = "the previous one: the new one was refused";
		goto out;
	}
	serve_tls_metric(&d);
	/* The certificate alone tells: the key was checked to be its key. */
	what = strcmp(cert, sv->cert) == 0 ? "unchanged" : "replaced";
	free(sv->cert);
	sv->cert = cert;
	cert = NULL;
	OPENSSL_cleanse(sv->key, strlen(sv->key));
	free(sv->key);
	sv->key = key;
	key = NULL;
	sv->hc.tls_cert_pem = sv->cert;
	sv->hc.tls_key_pem = sv->key;
	return json_pack("{s:s, s:s, s:s}", "certificate", what, "subject", d.subject,
	    "not_after", d.not_after);
out:
	free(cert);
	if (key != NULL) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	return json_pack("{s:s}", "certificate", what);
}

/* The settings read again when the server is set up (trusted_proxies by
 * ctx_init, the policy file by gate_init), read here first: refused then,
 * a first run had made the master key, the store and its signing keys. 0,
 * or -1 with the reason in err. */
static int
settings_read(const struct config *cfg, char *err, size_t errlen)
{
	struct cidr_list proxies;
	struct policy *p = NULL;
	const char *why = NULL, *bad = NULL;

	if (cidr_parse_list(cfg->trusted_proxies, &proxies, &why, &bad) == -1) {
		snprintf(err, errlen, "trusted_proxies: \"%.40s\" %s", bad, why);
		return -1;
	}
	if (cfg->policy != NULL && cfg->policy[0] != '\0') {
		char perr[768];

		if (policy_load(cfg->policy, &p, perr, sizeof(perr)) == -1) {
			snprintf(err, errlen, "policy: %s", perr);
			return -1;
		}
		policy_unref(p);
	}
	return 0;
}

/* The settings checked before anything is opened: listen, the signing
 * algorithm, the files settings_read names, and the TLS certificate and
 * key, read. */
static int
serve_settings(struct serve *sv)
{
	char err[1024];

	if (parse_listen(sv->cfg.listen, sv->host, sizeof(sv->host), &sv->port) == -1) {
		fprintf(stderr, "gatehouse: serve: listen \"%.60s\" is not ADDR:PORT with a numeric address and a port 0-65535 (0: any free port; [ADDR]:PORT for IPv6)\n", sv->cfg.listen);
		return -1;
	}
	if (sv->cfg.issuer[0] == '\0' && is_unspecified(sv->host)) {
		fprintf(stderr, "gatehouse: serve: issuer is required when listen is %s (every interface, "
		    "which names no host): set issuer to the URL clients reach this server at, "
		    "such as https://auth.example.com\n", sv->host);
		return -1;
	}
	if (jose_alg_from_name(sv->cfg.signing_alg, &sv->alg) == -1) {
		fprintf(stderr, "gatehouse: serve: signing_alg \"%.20s\" is not RS256, PS256, ES256 or EdDSA\n", sv->cfg.signing_alg);
		return -1;
	}
	if (settings_read(&sv->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	if (sv->cfg.tls_cert[0] != '\0') {
		if (serve_tls_read(&sv->cfg, &sv->cert, &sv->key, &sv->cert_desc, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "gatehouse: serve: TLS: %s\n", err);
			return -1;
		}
		/* Not refused: a proxy in front may rewrite what clients see.
		 * But a client that takes the metadata at its word calls the
		 * endpoints over plain HTTP on a port that speaks only TLS. */
		if (strncmp(sv->cfg.issuer, "http://", 7) == 0)
			log_event(LOG_WARN, "server.issuer_not_https", json_pack("{s:s, s:s}",
			    "issuer", sv->cfg.issuer, "note", "this server speaks only TLS, and the "
			    "metadata sends clients to http:// endpoints; set issuer to https://"));
	}
	return 0;
}

/* The master key (made on the first run), the store, and the audit
 * trail's key checked against it. */
static int
serve_open_store(struct serve *sv)
{
	char err[1024];
	int created = 0;

	if (masterkey_load(sv->cfg.master_key, 1, sv->master, &created, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: master key: %s\n", err);
		return -1;
	}
	if (created)
		fprintf(stderr, "gatehouse: created the master key %s (mode 0600): back it up; without it the store's keys cannot be read\n", sv->cfg.master_key);
	if (store_open(sv->cfg.db, &sv->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "gatehouse: serve: store: %s\n", err);
		return -1;
	}
	/* Every audit row this server writes is linked under the key of its
	 * master key (ctx_init sets it too, for every user of a context). One
	 * that does not match the trail's is refused now, before anything
	 * else reads the store with it: rows linked with it would never
	 * verify. */
	if (store_audit_supported(sv->st)) {
		int64_t keyed_after;
		if (audit_key_use(sv->st, sv->master, &keyed_after, err, sizeof(err)) == -1) {
			fprintf(stderr, "gatehouse: serve: audit: %s\n", err);
			return -1;
		}
		/* Once, at the upgrade; any other time, the key record was
		 * deleted and the rows before are trusted as they are: this
		 * line, outside the database, is what shows it. */
		if (keyed_after > 0)
			log_event(LOG_WARN, "audit.keyed", json_pack("{s:I, s:s}", "unkeyed_through",
			    (json_int_t)keyed_after, "note", "the trail had no key record: keyed from "
			    "here on, the unkeyed rows before trusted as they are (expected once, at "
			    "the upgrade; else the record was deleted)"));
	}
	return 0;
}

/* Bound now, served once everything is ready (connections wait in the
 * backlog): port 0 becomes a real port before the issuer and the
 * first-run curl command name it. */
static int
serve_listen(struct serve *sv)
{
	const char *scheme = sv->cert ? "https" : "http";
	int v6 = strchr(sv->host, ':') != NULL;
	char err[1024];

	memset(&sv->hc, 0, sizeof(sv->hc));
	sv->hc.listen_host = sv->host;
	sv->hc.listen_port = sv->port;
	sv->hc.tls_cert_pem = sv->cert;
	sv->hc.tls_key_pem = sv->key;
	sv->hc.threads = (unsigned)sv->cfg.threads;
	sv->hc.log_requests = (int)sv->cfg.log_requests;
	sv->hc.request_timeout_s = (unsigned)sv->cfg.request_timeout;
	if (http_server_listen(&sv->hc, &sv->srv, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	sv->port = http_server_port(sv->srv);
	snprintf(sv->bound, sizeof(sv->bound), v6 ? "[%s]:%u" : "%s:%u", sv->host, sv->port);
	if (sv->cfg.issuer[0] != '\0')
		snprintf(sv->base, sizeof(sv->base), "%s", sv->cfg.issuer);
	else
		snprintf(sv->base, sizeof(sv->base), v6 ? "%s://[%s]:%u" : "%s://%s:%u", scheme,
		    sv->host, sv->port);
	config_set(&sv->cfg, "issuer", sv->base, err, sizeof(err));
	return 0;
}

/* The signing keys: made on the first run, else loaded and checked. */
static int
serve_keys(struct serve *sv)
{
	uint8_t seal_key[32];
	char made[STORE_ENV__MAX][KEYS_KID_LEN + 1], err[1024];
	/* A key made at start (the first run's, or one for an environment
	 * left without a key that signs) on the audit trail, as a
	 * rotation's is: every key that signs has a row saying who made it. */
	struct key_row kr = { sv->st, &sv->cfg, "keys.create", "at start: no key signed" };
	struct keys_audit au = { key_row_stage, key_row_done, &kr };
	int rc;

	/* Before any key is made or loaded: ES256 keys made while it runs
	 * get their nonces made ahead (jose/presign.h). */
	if (jose_presign_start(err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	if (masterkey_derive(sv->master, "gatehouse signing key seal v1", seal_key) == -1) {
		OPENSSL_cleanse(seal_key, sizeof(seal_key));
		fprintf(stderr, "gatehouse: serve: cannot derive the key seal (HKDF)\n");
		return -1;
	}
	rc = keys_ensure(sv->st, seal_key, sv->alg, clock_now(), &sv->nkeys, made, &au, err,
	    sizeof(err));
	OPENSSL_cleanse(seal_key, sizeof(seal_key));
	if (rc == -1) {
		fprintf(stderr, "gatehouse: serve: signing keys: %s\n", err);
		return -1;
	}
	return 0;
}

/* The server's context, the gate's policy, the first run's bootstrap
 * tenant, and the route table. */
static int
serve_context(struct serve *sv)
{
	char err[1024];

	if (sv->cfg.audit && !store_audit_supported(sv->st)) {
		fprintf(stderr, "gatehouse: serve: audit = on, but the %s store keeps no audit "
		    "trail yet (set audit = off)\n", store_backend(sv->st));
		return -1;
	}
	if (ctx_init(&sv->ctx, &sv->cfg, sv->st, sv->master, sv->base, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	sv->ctx_ready = 1;
	if (ctx_share_rate_limits(&sv->ctx, err, sizeof(err)) == -1 ||
	    ctx_start_offload(&sv->ctx, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	if (gate_init(&sv->ctx, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: policy:\n%s\n", err);
		return -1;
	}
	sv->ctx.tls = sv->cert != NULL;
	sv->ctx.require_https = sv->cfg.require_https == -1 ? !is_loopback(sv->host) :
	    (int)sv->cfg.require_https;
	if (serve_bootstrap(&sv->ctx, &sv->cfg, sv->base) == -1)
		return -1;
	declare_metrics();
	serve_tls_metric(&sv->cert_desc);
	store_on_commit(sv->st, observe_commit, &sv->ctx);
	if (routes_build(&sv->routes, &sv->ctx, err, sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	return 0;
}

/* Serves until SIGTERM or SIGINT, then stops: in-flight requests
 * answered, then the store's pending writes flushed. */
static int
serve_run(struct serve *sv, struct sigwatch *sw)
{
	char err[1024], engine[512];

	sv->hc.conns_per_address = (unsigned)sv->cfg.connections_per_address;
	sv->hc.unlimited = &sv->ctx.trusted_proxies;
	if (http_server_serve(sv->srv, &sv->hc, sv->routes.routes, sv->routes.n, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "gatehouse: serve: %s\n", err);
		return -1;
	}
	sv->served = 1;
	log_event(LOG_INFO, "server.started", json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:b}",
	    "listen", sv->bound, "port", (int)sv->port, "issuer", sv->base, "store",
	    store_backend(sv->st), "store_engine", store_engine(sv->st, engine, sizeof(engine)),
	    "keys_created", sv->nkeys, "require_https", sv->ctx.require_https));
	run_until_stopped(&sv->ctx, sw, sv);
	http_server_stop(sv->srv);
	sv->srv = NULL;
	/* The exit status says whether the last writes were kept: each
	 * request had its own answer, but a supervisor should hear of it. */
	if (store_flush(sv->st) != STORE_OK) {
		fprintf(stderr, "gatehouse: serve: flushing the store: %s\n", store_last_error());
		return -1;
	}
	return 0;
}

int
cmd_serve(int argc, char **argv)
{
	struct serve sv;
	struct sigwatch *sw;
	int rc = 1;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: gatehouse serve [--config FILE] [--KEY VALUE]...\n\n"
			    "Every setting may be given in the config file (key = value) or as a flag:\n");
			config_usage(stdout);
			return 0;
		}
	signal(SIGPIPE, SIG_IGN);
	/* A write past the file-size limit (RLIMIT_FSIZE) fails with EFBIG,
	 * which the store reports like a full disk, rather than killing the
	 * server mid-commit: as PostgreSQL's postmaster does. */
	signal(SIGXFSZ, SIG_IGN);
	log_setup(LOG_INFO, 2);
	memset(&sv, 0, sizeof(sv));
	if (configure(argc, argv, &sv.cfg) == -1) {
		config_clear(&sv.cfg);
		return 2;
	}
	/* Blocked before any thread starts (the store's writer, the lock
	 * writer, ...), so every thread inherits the mask and only the
	 * signal thread receives them. A thread that had them unblocked
	 * would take a SIGTERM sent while the main thread is busy (on a
	 * SIGHUP's reload, say) and die of it, unflushed. A stop asked
	 * during start-up is taken when the loop starts, within the stop
	 * timeout like any other. Not before the configuration is read:
	 * nothing is open to flush yet, and a --config pipe that is never
	 * written held a SIGTERM for good. */
	sigwatch_block();
	if ((sw = sigwatch_start(sv.cfg.stop_timeout)) == NULL) {
		fprintf(stderr, "gatehouse: serve: cannot start the signal thread\n");
		config_clear(&sv.cfg);
		return 1;
	}
	if (serve_settings(&sv) == 0 && serve_open_store(&sv) == 0 && serve_listen(&sv) == 0 &&
	    serve_keys(&sv) == 0 && serve_context(&sv) == 0 && serve_run(&sv, sw) == 0)
		rc = 0;
	http_server_stop(sv.srv);
	if (sv.ctx_ready) {
		gate_free(sv.ctx.gate);
		sv.ctx.gate = NULL;
		ctx_clear(&sv.ctx);
	}
	store_close(sv.st);
	jose_presign_stop();
	OPENSSL_cleanse(sv.master, sizeof(sv.master));
	if (sv.key != NULL) {
		OPENSSL_cleanse(sv.key, strlen(sv.key));
		free(sv.key);
	}
	free(sv.cert);
	config_clear(&sv.cfg);
	/* The last line, once everything is written and closed: without it a
	 * stop cut short (SIGKILL after a supervisor's own timeout) and one
	 * that finished both ended the log at server.stopping. */
	if (sv.served)
		log_event(rc == 0 ? LOG_INFO : LOG_ERROR, "server.stopped", json_pack("{s:i}",
		    "status", rc));
	return rc;
}
