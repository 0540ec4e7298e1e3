/*
 * api.h — the approvals HTTP API (issue 6 part 3): POST/GET /approvals,
 * GET /approvals/{id}, POST /approvals/{id}/approve|reject. See api.c and
 * docs/policy.md ("Critical routes and approvals").
 */
#ifndef GH_APPROVALS_API_H
#define GH_APPROVALS_API_H

#include <stddef.h>

#include <jansson.h>

struct gh_ctx;
struct route_table;

/* The fields of POST /approvals (a call filed), NULL-terminated. */
extern const char *const approvals_file_fields[];

/*
 * A request body of the approvals API as it reads one: a JSON object
 * (http_json_parse: no duplicate keys, NUL, deep nesting) whose members
 * are each among allowed (NULL-terminated; { NULL } for a decision, whose
 * body is {} or empty) and each a string. 0 with *out a new reference, or
 * 400 with *out NULL and err saying why (the field named, never its
 * value).
 */
int	approvals_body_parse(const char *body, size_t len,
	    const char *const *allowed, json_t **out, char *err, size_t errlen);

/* Adds the routes. 0, or -1 when the table is full. */
int	approvals_routes_add(struct route_table *, struct gh_ctx *);

#endif
