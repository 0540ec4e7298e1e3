/*
 * store_internal.h — private to the store's dispatch: store.c and the
 * store_<topic>.c files beside it (the list is at the top of store.c).
 * The handle behind store.h's struct store, and the checks every entry
 * point makes before it dispatches to the backend. The backends never
 * include this (store_backend.h is theirs); nothing outside src/store/
 * does.
 */
#ifndef GH_STORE_INTERNAL_H
#define GH_STORE_INTERNAL_H

#include "store/store.h"
#include "store/store_backend.h"

/* store_open makes it and store_close frees it (store.c); audit_key is
 * set once, by store_audit_set_key (store_audit.c), before the store is
 * shared between threads. */
struct store {
	const struct store_ops	*ops;
	void			*h;	/* the backend's handle */
	struct writer		*writer;
	struct store_audit_key	*audit_key;	/* NULL until store_audit_set_key */
};

/* Returns STORE_ERROR from the entry point it is in, naming it, unless
 * cond holds. */
#define REQUIRE(cond, what) do {					\
	if (!(cond))							\
		return store_set_error(STORE_ERROR, "%s: %s", __func__, what); \
} while (0)

/* p, or dflt when p is NULL: an optional string's default. */
#define OPT(p, dflt)	((p) != NULL ? (p) : (dflt))

#endif
