/* json_alloc.h — telling jansson's out-of-memory apart from bad input. */
#ifndef GH_UTIL_JSON_ALLOC_H
#define GH_UTIL_JSON_ALLOC_H

/*
 * jansson reports an allocation that failed while parsing as anything
 * from "unknown error" with no text to a syntax error ("string or '}'
 * expected"): its json_error_code is no guide. So the program gives
 * jansson an allocator that counts, per thread, the allocations that
 * failed; a parser compares the count before and after a call.
 *
 * json_alloc_watch: installs it (json_set_alloc_funcs). Call once, before
 * any thread uses jansson; the program's main does.
 * json_alloc_failures: the calling thread's count so far.
 */
void	json_alloc_watch(void);
unsigned long json_alloc_failures(void);

#endif
