/*
 * dialects.c — the table of token dialects. Each row follows one document:
 * RFC 6749 §4.4, or one of the four providers' integration guides in
 * shared/seeds/, so that a partner's unchanged request works here.
 */
#include <stddef.h>

#include "oauth/dialect.h"

const struct dialect dialect_table[DIALECT__MAX] = {
	[DIALECT_OAUTH] = {
		.name = "oauth", .default_path = "/oauth/token",
		.source = "RFC 6749 §4.4",
		.bodies = DIALECT_FORM | DIALECT_JSON,
		.auth = DIALECT_AUTH_BASIC | DIALECT_AUTH_BODY,
		.in = { .client_id = "client_id", .client_secret = "client_secret",
		    .grant_type = "grant_type", .scope = "scope",
		    .audience = "audience", .resource = "resource" },
		.out = { .token = "access_token", .token_type = "Bearer",
		    .expires_in = 1, .scope = 1 },
	},
	[DIALECT_M2P] = {
		.name = "m2p", .default_path = "/auth/token",
		.source = "000_94b8ab117deefad7.txt",
		.bodies = DIALECT_JSON, .auth = DIALECT_AUTH_BODY,
		.in = { .client_id = "clientId", .client_secret = "clientSecret",
		    .grant_type = "grantType", .scope = "scope" },
		.out = { .token = "access_token", .token_type = "Bearer",
		    .expires_in = 1, .scope = 1 },
	},
	[DIALECT_PARTNER] = {
		.name = "partner", .default_path = "/api/oauth/token",
		.source = "001_ddb6af201d8eeddf.txt",
		.bodies = DIALECT_JSON, .auth = DIALECT_AUTH_BODY,
		.in = { .client_id = "client_id", .client_secret = "client_secret",
		    .grant_type = "grant_type", .scope = "scope" },
		.json_accept = 1,
		.out = { .token = "access_token", .token_type = "Bearer",
		    .expires_in = 1 },
	},
	[DIALECT_PAPAYA] = {
		.name = "papaya", .default_path = "/token",
		.source = "002_b34758cde04ce617.txt",
		.bodies = DIALECT_JSON, .auth = DIALECT_AUTH_BODY,
		.in = { .client_id = "api_key", .client_secret = "client_secret",
		    .lifetime = "expiration", .token_name = "token_name" },
		.implied_grant = "client_credentials",
		.default_lifetime = 86400,
		.out = { .token = "token", .valid_until = 1, .token_name = 1 },
	},
	[DIALECT_MANGOPAY] = {
		.name = "mangopay", .default_path = "/v2.01/oauth/token",
		.source = "003_a964d676178ef89a.txt",
		.bodies = DIALECT_FORM, .auth = DIALECT_AUTH_BASIC,
		.in = { .grant_type = "grant_type", .scope = "scope" },
		.out = { .token = "access_token", .token_type = "bearer",
		    .expires_in = 1 },
	},
};
