/*
 * log.h — structured logs: one JSON object per line on stderr.
 *
 * Values are JSON-escaped (so client strings cannot forge lines, STYLE 16).
 * Secrets and tokens are never passed here. Authentication failures use the
 * event name prefix "auth." so they grep together, with the source address.
 */
#ifndef GH_LOG_H
#define GH_LOG_H

#include <jansson.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_LEVEL__MAX };

/* Sets the least level written (default LOG_INFO) and the fd (default 2). */
void	log_setup(enum log_level min, int fd);
/* Writes {"ts":..., "level":..., "event": event, ...fields} as one line with
 * one write(2). Steals fields (may be NULL). */
void	log_event(enum log_level, const char *event, json_t *fields);

#endif
