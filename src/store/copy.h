/*
 * copy.h — gatehouse store copy: moves a platform from the embedded SQLite
 * store to PostgreSQL, every row of every table as it is (secret ids, key
 * blobs, the audit chain's seq and hashes, the generation), in one
 * PostgreSQL transaction, into a database that holds no rows yet.
 */
#ifndef GH_STORE_COPY_H
#define GH_STORE_COPY_H

#include <stddef.h>
#include <stdint.h>

struct store_copy_count {
	char	 table[64];
	int64_t	 rows;		/* copied, and counted again in the target */
};

/* The audit chain's head in the snapshot copied (a live source goes on
 * appending after it): what the target's own chain must end on. */
struct store_copy_head {
	int64_t	 seq;		/* 0: no audit rows */
	char	 hash[65];	/* lower-case hex; "" with seq 0 */
};

/*
 * from: "sqlite:PATH" (or a bare path); to: "postgresql://...". Both are
 * opened with store_open first (migrated to this binary's schema; a newer
 * one is refused). Refuses a target with rows in any copied table. On
 * success fills counts[0..*n) (at most max) and *head, and returns 0; else
 * -1 with a one-line reason in err and nothing committed.
 */
int	store_copy(const char *from, const char *to, struct store_copy_count *counts,
	    size_t max, size_t *n, struct store_copy_head *head, char *err, size_t errlen);

#endif
