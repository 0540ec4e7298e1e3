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

void
http_response_json(struct http_response *r, int status, json_t *body)
{
	free(r->body);
	r->status = status;
	r->content_type = "application/json";
	/* NULL: an empty object, written without jansson (the gate's 200). */
	r->body = body != NULL ? json_dumps(body, JSON_COMPACT) : xstrndup("{}", 2);
	r->body_len = r->body ? strlen(r->body) : 0;
	json_decref(body);
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
