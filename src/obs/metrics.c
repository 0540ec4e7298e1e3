/* metrics.c — see metrics.h. A small registry under one mutex: updates are a
 * lookup and an add; the set of series is bounded by the label sets.
 * Every request updates a few series, so the lookup compares what the
 * caller passes (the name's pointer, a hash of the label values, then the
 * values) and renders the label text only when a series is created. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/metrics.h"

#define MAX_METRICS 64
#define MAX_SERIES 4096
#define MAX_LABELS 4
static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	char	*labels;	/* rendered: name="v",... */
	char	*vals[MAX_LABELS];	/* the label values as given */
	uint64_t hash;		/* of vals: values_hash() */
	double	 value;		/* counter/gauge; histogram sum */
	uint64_t count;
	uint64_t b[NBUCKETS];
	struct series *next;
};

struct metric {
	char	 name[96];
	const char *seen;	/* the name as a caller last passed it */
	char	 type[16];
	char	*help;
	char	*label_names[MAX_LABELS];
	size_t	 nlabels;
	struct series *series;
	size_t	 nseries;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric metrics[MAX_METRICS];
static size_t nmetrics;

void
metrics_declare(const char *name, const char *type, const char *help, const char *labels)
{
	struct metric *m;
	char *dup, *tok, *save = NULL;

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nmetrics; i++)
		if (strcmp(metrics[i].name, name) == 0) {
			pthread_mutex_unlock(&mu);
			return;
		}
	if (nmetrics == MAX_METRICS) {
		pthread_mutex_unlock(&mu);
		return;
	}
	m = &metrics[nmetrics++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->type, sizeof(m->type), "%s", type);
	m->help = strdup(help);
	if ((dup = strdup(labels)) != NULL) {
		for (tok = strtok_r(dup, ",", &save); tok && m->nlabels < MAX_LABELS; tok = strtok_r(NULL, ",", &save))
			m->label_names[m->nlabels++] = strdup(tok);
		free(dup);
	}
	pthread_mutex_unlock(&mu);
}

/* Appends v escaped for the exposition format (\\, \", \n): 0, or -1 when
 * it does not fit in cap. */
static int
escape(char *out, size_t cap, size_t *used, const char *v)
{
	for (; *v != '\0' && *used + 3 < cap; v++) {
		if (*v == '\\' || *v == '"') {
			out[(*used)++] = '\\';
			out[(*used)++] = *v;
		} else if (*v == '\n') {
			out[(*used)++] = '\\';
			out[(*used)++] = 'n';
		} else
			out[(*used)++] = *v;
	}
	out[*used] = '\0';
	return *v == '\0' ? 0 : -1;
}

/* FNV-1a over the values, each with its terminating NUL. */
static uint64_t
values_hash(size_t n, const char *const *values)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		const char *v = values && values[i] ? values[i] : "";
		do {
			h ^= (unsigned char)*v;
			h *= 1099511628211ULL;
		} while (*v++ != '\0');
	}
	return h;
}

static int
same_values(const struct series *s, size_t n, const char *const *values)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->vals[i], values && values[i] ? values[i] : "") != 0)
			return 0;
	return 1;
}

static struct metric *
find_metric(const char *name)
{
	/* The pointer finds the likely one first; the text decides (a name
	 * in a reused buffer may sit where another was). */
	for (size_t i = 0; i < nmetrics; i++)
		if (metrics[i].seen == name && strcmp(metrics[i].name, name) == 0)
			return &metrics[i];
	for (size_t i = 0; i < nmetrics; i++)
		if (strcmp(metrics[i].name, name) == 0) {
			metrics[i].seen = name;
			return &metrics[i];
		}
	return NULL;
}

static void
series_free(struct series *s)
{
	for (size_t i = 0; i < MAX_LABELS; i++)
		free(s->vals[i]);
	free(s->labels);
	free(s);
}

/* A new series of m for values: its label text rendered once, here. */
static struct series *
series_new(const struct metric *m, const char *const *values, uint64_t h)
{
	struct series *s;
	char key[512];
	size_t used = 0;

	key[0] = '\0';
	for (size_t i = 0; i < m->nlabels; i++) {
		used += (size_t)snprintf(key + used, sizeof(key) - used, "%s%s=\"", i ? "," : "", m->label_names[i]);
		if (used >= sizeof(key))
			return NULL;
		/* A value cut short would render like another: no series. */
		if (escape(key, sizeof(key), &used, values && values[i] ? values[i] : "") == -1 ||
		    used + 2 >= sizeof(key))
			return NULL;
		key[used++] = '"';
		key[used] = '\0';
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->hash = h;
	if ((s->labels = strdup(key)) == NULL) {
		series_free(s);
		return NULL;
	}
	for (size_t i = 0; i < m->nlabels; i++)
		if ((s->vals[i] = strdup(values && values[i] ? values[i] : "")) == NULL) {
			series_free(s);
			return NULL;
		}
	return s;
}

static struct series *
find_series(const char *name, const char *const *values)
{
	struct metric *m = find_metric(name);
	struct series *s;
	uint64_t h;

	if (m == NULL)
		return NULL;
	h = values_hash(m->nlabels, values);
	for (s = m->series; s != NULL; s = s->next)
		if (s->hash == h && same_values(s, m->nlabels, values))
			return s;
	if (m->nseries >= MAX_SERIES || (s = series_new(m, values, h)) == NULL)
		return NULL;
	s->next = m->series;
	m->series = s;
	m->nseries++;
	return s;
}

void
metrics_add(const char *name, double v, const char *const *values)
{
	struct series *s;

	pthread_mutex_lock(&mu);
	if ((s = find_series(name, values)) != NULL)
		s->value += v;
	pthread_mutex_unlock(&mu);
}

void
metrics_set(const char *name, double v, const char *const *values)
{
	struct series *s;

	pthread_mutex_lock(&mu);
	if ((s = find_series(name, values)) != NULL)
		s->value = v;
	pthread_mutex_unlock(&mu);
}

void
metrics_observe(const char *name, double v, const char *const *values)
{
	struct series *s;

	pthread_mutex_lock(&mu);
	if ((s = find_series(name, values)) != NULL) {
		s->value += v;
		s->count++;
		for (size_t i = 0; i < NBUCKETS; i++)
			if (v <= buckets[i])
				s->b[i]++;
	}
	pthread_mutex_unlock(&mu);
}

struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		char *np = realloc(b->p, b->cap * 2 + (size_t)n);
		if (np == NULL)
			return;
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

char *
metrics_render(size_t *len)
{
	struct buf b = { malloc(8192), 0, 8192 };

	if (b.p == NULL)
		return NULL;
	b.p[0] = '\0';
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nmetrics; i++) {
		struct metric *m = &metrics[i];
		bprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help ? m->help : "", m->name, m->type);
		for (struct series *s = m->series; s != NULL; s = s->next) {
			const char *sep = s->labels[0] ? "," : "";
			if (strcmp(m->type, "histogram") == 0) {
				for (size_t k = 0; k < NBUCKETS; k++)
					bprintf(&b, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->name, s->labels, sep,
					    buckets[k], (unsigned long long)s->b[k]);
				bprintf(&b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->name, s->labels, sep,
				    (unsigned long long)s->count);
				/* A series without labels has no braces at all. */
				if (s->labels[0])
					bprintf(&b, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", m->name,
					    s->labels, s->value, m->name, s->labels,
					    (unsigned long long)s->count);
				else
					bprintf(&b, "%s_sum %.9g\n%s_count %llu\n", m->name, s->value,
					    m->name, (unsigned long long)s->count);
			} else if (s->labels[0])
				bprintf(&b, "%s{%s} %.17g\n", m->name, s->labels, s->value);
			else
				bprintf(&b, "%s %.17g\n", m->name, s->value);
		}
	}
	pthread_mutex_unlock(&mu);
	*len = b.len;
	return b.p;
}
