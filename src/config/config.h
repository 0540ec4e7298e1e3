/*
 * config.h — the server's configuration: one typed table with bounds
 * (STYLE 5). A file of "key = value" lines and command-line flags
 * ("--key value", '-' for '_') set the same keys; everything is validated
 * before the server listens, and every error is reported, not just the first.
 */
#ifndef GH_CONFIG_H
#define GH_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_ROUTES 8	/* dialect routes that may be configured */
#define CONFIG_MAX_ISSUER 255	/* bytes of an issuer URL (gh_ctx keeps it whole) */
#define CONFIG_MAX_FILE (1024 * 1024)	/* bytes of a config file config_load reads */

struct config {
	char	*db;		/* store URL */
	char	*master_key;	/* master key file */
	char	*listen;	/* ADDR:PORT or [V6]:PORT */
	char	*issuer;	/* "" = derived from listen and TLS */
	char	*tls_cert;	/* PEM file */
	char	*tls_key;	/* PEM file, mode 0600 */
	int64_t	 threads;	/* 0 = one per core */
	int64_t	 log_requests;	/* bool */
	int64_t	 request_timeout; /* seconds a request has to arrive whole */
	int64_t	 connections_per_address; /* 0: no limit */
	int64_t	 require_https;	/* -1 auto (on unless loopback), 0, 1 */
	char	*trusted_proxies; /* CIDRs whose X-Forwarded-* are honoured */
	int64_t	 ttl_sandbox;	/* default lifetime of new sandbox clients */
	int64_t	 ttl_production;
	int64_t	 max_ttl;	/* default maximum lifetime of new clients */
	char	*audiences;	/* audiences a request may name, space separated */
	char	*signing_alg;	/* algorithm of first and rotated keys */
	int64_t	 require_allowlist; /* production clients need an IP allowlist */
	char	*policy;	/* gate route policy file, "" none */
	int64_t	 leeway;	/* seconds of clock skew accepted on exp/nbf and stored locks */
	char	*route[CONFIG_MAX_ROUTES]; /* per dialect: path, "off", or "" default */
	int64_t	 lockout;		/* bool: count bad credentials and lock */
	int64_t	 lockout_pair_threshold;	/* failures of one id from one address */
	int64_t	 lockout_address_threshold;	/* failures from one address */
	int64_t	 lockout_window;	/* seconds failures are counted over */
	int64_t	 lockout_duration;	/* seconds a lock lasts */
	int64_t	 rate_limit;		/* tokens a minute per client, by default */
	int64_t	 secret_rotation_age;	/* a secret older than this is reported */
	int64_t	 key_rotation_interval;	/* rotate signing keys this often; 0 off */
	int64_t	 key_publish_lead;	/* publish a new key this long before it signs */
	int64_t	 gate_cache;		/* bool: cache verified tokens at the gate */
	int64_t	 gate_cache_size;	/* most tokens the gate's cache holds */
	int64_t	 gate_refresh_ms;	/* the gate re-reads the store generation this often */
	int64_t	 revoked_set_max;	/* most revoked ids the gate keeps in memory */
	int64_t	 audit;			/* bool: keep the audit trail (audit/audit.h) */
	int64_t	 audit_retention;	/* seconds token events are kept; 0 all */
	int64_t	 token_retention;	/* seconds expired token records are kept; 0 all */
	char	*platform_tenant;	/* admin API: its principals act across tenants */
	char	*maker_checker;		/* production | always | never */
	int64_t	 approval_ttl;		/* seconds an approval request lives */
	int64_t	 stop_timeout;		/* seconds SIGTERM may take before exit 1 */
	int64_t	 offload_queue;		/* requests waiting for the offload threads */

	/* Not settings: what the last configuration file read said. */
	char	*file_db;		/* the db value it gave (NULL: none) */
	char	 file_exposed[160];	/* why it may not hold a secret
					 * (util/secrecy.h); "" when it may */
};

/* Fills c with the defaults. */
void	config_defaults(struct config *c);
void	config_clear(struct config *c);
/* Sets key to value. Returns 0, or -1 with a message in err naming the key. */
int	config_set(struct config *c, const char *key, const char *value,
	    char *err, size_t errlen);
/* Reads the file at path whole, at most CONFIG_MAX_FILE bytes, into *text
 * (NUL-terminated, for the caller to free; NULL when empty) and *len. A
 * pipe (--config <(...)) is read as well; exposed gets why the file may
 * not hold a secret ("" when it may, or when it is no file of anyone's:
 * a pipe). 0, or -1 with why it cannot be read in err (a directory, too
 * large). */
int	config_read_file(const char *path, char **text, size_t *len,
	    char exposed[160], char *err, size_t errlen);
/* Reads a file of "key = value" lines ('#' comments), at most
 * CONFIG_MAX_FILE bytes. Reports every bad line as "FILE:LINE: reason"
 * (joined by newlines) into err, or why the file cannot be read (a
 * directory, too large). Sets file_db and file_exposed. 0 or -1. */
int	config_load(struct config *c, const char *path, char *err, size_t errlen);
/* The same over text[0..len) read by config_read_file. */
int	config_load_text(struct config *c, const char *text, size_t len, const char *name,
	    const char *exposed, char *err, size_t errlen);
/* The same over an open stream (not closed here); name stands for the file
 * in the messages. */
int	config_load_stream(struct config *c, FILE *f, const char *name, char *err,
	    size_t errlen);
/* Checks relations between keys after everything is set, and that an
 * issuer, when set, is an http(s) URL with a host and no query or
 * fragment. 0, or -1 with every error found in err, a line each. */
int	config_validate(const struct config *c, char *err, size_t errlen);
/* Prints every key with its type, bounds and default (for --help). */
void	config_usage(FILE *f);

#endif
