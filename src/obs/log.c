/* log.c — see log.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/log.h"

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;
static const char *const level_names[LOG_LEVEL__MAX] = { "debug", "info", "warn", "error" };

void
log_setup(enum log_level min, int fd)
{
	min_level = min;
	log_fd = fd;
}

void
log_event(enum log_level level, const char *event, json_t *fields)
{
	struct timespec ts;
	struct tm tm;
	char when[40];
	char *line;
	size_t len;

	if (level < min_level) {
		json_decref(fields);
		return;
	}
	if (fields == NULL || !json_is_object(fields)) {
		json_decref(fields);
		fields = json_object();
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);
	json_object_set_new(fields, "ts", json_string(when));
	json_object_set_new(fields, "level", json_string(level_names[level]));
	json_object_set_new(fields, "event", json_string(event));
	/* 15 significant digits, not jansson's 17: a duration of 1.106 ms is
	 * written 1.106, not 1.1060000000000001. */
	line = json_dumps(fields, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(fields);
	if (line == NULL)
		return;
	len = strlen(line);
	line[len] = '\n';	/* json_dumps leaves room for the NUL we replace */
	if (write(log_fd, line, len + 1) < 0) {
		/* Nowhere else to report it. */
	}
	free(line);
}
