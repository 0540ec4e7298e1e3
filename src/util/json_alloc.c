/* json_alloc.c — see json_alloc.h. */
#include <stdlib.h>

#include <jansson.h>

#include "util/json_alloc.h"

static _Thread_local unsigned long failures;

static void *
counting_malloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		failures++;
	return p;
}

void
json_alloc_watch(void)
{
	json_set_alloc_funcs(counting_malloc, free);
}

unsigned long
json_alloc_failures(void)
{
	return failures;
}
