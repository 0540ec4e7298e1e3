/*
 * response.c — building a handler's answer (http.h http_response_*): a
 * JSON or text body, headers kept in the answer's own room when they fit,
 * and the error shape every refusal uses (http_response_error).
 */
#include <stdlib.h>
#include <string.h>

#include "http/server_internal.h"
#include "obs/log.h"
#include "util/util.h"

/* The answer when a body could not be built: out of memory. */
static const char oom_body[] =
    "{\"error\":\"server_error\",\"error_description\":\"out of memory\"}";

void
http_response_json(struct http_response *r, int status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	free(r->body);
	r->content_type = "application/json";
	/* A body that could not be built (json_pack or json_dumps out of
	 * memory) is a 500, never the status asked with "{}" or nothing:
	 * that said 201 to a client create and showed no secret, or 200 to
	 * a list with no rows. */
	if (text == NULL) {
		r->status = 500;
		r->body = xstrndup(oom_body, sizeof(oom_body) - 1);
		r->body_len = r->body != NULL ? sizeof(oom_body) - 1 : 0;
		r->reason = "server_error";
		return;
	}
	r->status = status;
	r->body = text;
	r->body_len = strlen(text);
}

void
http_response_json_text(struct http_response *r, int status, char *body, size_t len)
{
	if (body == NULL) {
		http_response_error(r, 500, "server_error", "out of memory");
		return;
	}
	free(r->body);
	r->status = status;
	r->content_type = "application/json";
	r->body = body;
	r->body_len = len;
}

void
http_response_text(struct http_response *r, int status, const char *ctype,
    const char *body, size_t len)
{
	free(r->body);
	r->status = status;
	r->content_type = ctype;
	r->body = xstrndup(body, len);
	r->body_len = r->body ? len : 0;
}

int
http_response_header(struct http_response *r, const char *name, const char *value)
{
	size_t len = strlen(value);
	struct http_header *h;

	if (r->nheaders == HTTP_MAX_RESPONSE_HEADERS) {
		log_event(LOG_ERROR, "http.header_dropped", json_pack("{s:s}", "name", name));
		return -1;
	}
	h = &r->headers[r->nheaders];
	if (len < sizeof(r->room) - r->room_used) {
		h->value = memcpy(r->room + r->room_used, value, len + 1);
		h->heap = 0;
		r->room_used += len + 1;
	} else if ((h->value = xstrndup(value, len)) != NULL)
		h->heap = 1;
	else {
		log_event(LOG_ERROR, "http.header_dropped", json_pack("{s:s}", "name", name));
		return -1;
	}
	h->name = name;
	r->nheaders++;
	return 0;
}

void
http_response_reset(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	for (size_t i = 0; i < r->nheaders; i++)
		if (r->headers[i].heap)
			free(r->headers[i].value);
	r->nheaders = 0;
	r->room_used = 0;
}

void
http_response_error(struct http_response *r, int status, const char *code, const char *desc)
{
	http_response_json(r, status, json_pack("{s:s, s:s}", "error", code,
	    "error_description", desc));
	/* As every token endpoint answer (RFC 6749 §5.1), for HTTP/1.0 caches too. */
	http_response_header(r, "Cache-Control", "no-store");
	http_response_header(r, "Pragma", "no-cache");
	r->reason = code;
}
