/*
 * cli_policy.c — `gatehouse policy check`: a route policy file read as the
 * server would read it, before a reload (as `nginx -t` checks nginx's), and
 * calls shown with the rule that would decide each.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "gate/policy.h"
#include "util/util.h"

/* The method of a call as the gate reads X-Original-Method: upper case,
 * any other is a method no rule of a list names (only '*' takes it). */
static enum http_method
method_of(const char *s, size_t n)
{
	for (int m = 0; m < HTTP_METHOD_OTHER; m++)
		if (strlen(http_method_names[m]) == n && memcmp(http_method_names[m], s, n) == 0)
			return (enum http_method)m;
	return HTTP_METHOD_OTHER;
}

static json_t *
rule_view(const struct policy_rule *r)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:b, s:s, s:s}", "line", r->line,
	    "pattern", r->pattern, "role", policy_role_names[r->role], "env",
	    policy_env_names[r->env], "critical", r->critical, "errors",
	    policy_style_names[r->style], "tenant", r->tenant_optional ? "optional" : "required");

	if (o != NULL && r->scope_text != NULL)
		json_object_set_new(o, "scopes", json_string(r->scope_text));
	if (o != NULL && (r->aud != NULL || r->aud_any))
		json_object_set_new(o, "aud", json_string(r->aud_any ? "any" : r->aud));
	return o;
}

/* One call, "METHOD TARGET", as the gate would decide its rule: the rule,
 * or why none decides it (refused: no rule, or an ambiguous path). */
static json_t *
call_view(const struct policy *p, const char *call)
{
	const char *sp = strchr(call, ' '), *why = NULL;
	const struct policy_rule *r = NULL;
	char path[POLICY_MAX_PATH + 1];
	enum http_method m;
	json_t *o;

	if (sp == NULL || sp == call || sp[1] == '\0')
		return NULL;
	m = method_of(call, (size_t)(sp - call));
	o = json_pack("{s:s}", "call", call);
	if (policy_normalize_path(sp + 1, strlen(sp + 1), path, &why) == -1 ||
	    policy_match_call(p, m, path, &r, &why) == -1)
		json_object_set_new(o, "refused", json_sprintf("path: %s", why));
	else if (r == NULL)
		json_object_set_new(o, "refused", json_string("no_rule: no rule allows it"));
	else
		json_object_set_new(o, "rule", rule_view(r));
	return o;
}

int
cmd_policy_check(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "call", 1, 1, "a call to decide, \"METHOD /path?query\": shows the rule" },
	};
	struct cli_args a;
	struct policy *p = NULL;
	char err[8192];
	json_t *out, *calls;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse policy check FILE [--call \"METHOD /path\"]...",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("policy check: name one policy file");
	if (policy_load(a.pos[0], &p, err, sizeof(err)) == -1) {
		/* Every bad line, as serve reports them, one a line. */
		fprintf(stderr, "gatehouse: policy check: %s\n", err);
		return 1;
	}
	calls = json_array();
	for (size_t i = 0; i < a.nmulti; i++) {
		json_t *c = call_view(p, a.multi[i]);
		if (c == NULL) {
			json_decref(calls);
			policy_unref(p);
			return cli_fail("policy check: --call \"%.80s\": write \"METHOD /path\"", a.multi[i]);
		}
		json_array_append_new(calls, c);
	}
	out = json_pack("{s:s, s:I, s:o}", "file", a.pos[0], "rules", (json_int_t)p->n, "calls", calls);
	policy_unref(p);
	return cli_print(out);
}
