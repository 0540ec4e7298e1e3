/*
 * sqlite_pcache.c — SQLite's own page cache, with a check in front of its
 * truncate (see sqlite_internal.h).
 *
 * Why: a commit ends with the page cache asked to drop pages past the end
 * of the database. SQLite's default cache (pcache1) keeps only the highest
 * key it has ever held, and when that is more than its hash table's size
 * above the limit, it walks every bucket and every cached page. B-tree
 * balancing (balance_nonroot, SQLite 3.40) swaps two pages' numbers through
 * the pending-byte page's, number 262,145 with 4 KB pages, far past the end
 * of any database we hold; the page leaves that number again at once, but
 * the highest key stays. So each commit that split a page out of order
 * scanned the writer's whole 32 MB cache: ~8,000 buckets and ~8,000 pages.
 * Opaque tokens, keyed by a hash, split index pages out of order in nearly
 * every batch: perf put the scan at 5.75% of the server's CPU.
 *
 * The fix needs what pcache1 does not keep: which pages past the last
 * limit exist. This layer records the keys at or above the last limit
 * (pages the transaction appended, and the swap's temporary number) as
 * pages get them and drops a key when its page is renumbered away. A
 * truncate whose limit no recorded key reaches has nothing to drop, and is
 * not passed on. Pages pcache1 recycles or discards without telling us
 * stay recorded: the record may hold too much, never too little, and then
 * the truncate is passed on. Past WRAP_KEYS keys, or before the first
 * truncate, every truncate is passed on.
 *
 * SQLite calls a cache's methods from one connection at a time, so its
 * record needs no lock; pcache1 keeps its own.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/sqlite_internal.h"

#define WRAP_KEYS 64	/* keys above the limit a transaction may add */

struct wrap {
	sqlite3_pcache	*inner;
	unsigned	 floor;		/* the last truncate's limit */
	int		 unknown;	/* no floor yet, or the record overflowed */
	unsigned	 n;
	unsigned	 keys[WRAP_KEYS];	/* keys >= floor that may exist */
};

static sqlite3_pcache_methods2 inner;	/* pcache1, set once before use */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int installed;
static atomic_ulong passed, skipped;	/* truncates, for sq_pcache_stats */

static void
record_key(struct wrap *w, unsigned key)
{
	if (w->unknown || key < w->floor)
		return;
	for (unsigned i = 0; i < w->n; i++)
		if (w->keys[i] == key)
			return;
	if (w->n == WRAP_KEYS)
		w->unknown = 1;
	else
		w->keys[w->n++] = key;
}

static void
forget_key(struct wrap *w, unsigned key)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->keys[i] == key) {
			w->keys[i] = w->keys[--w->n];
			return;
		}
}

static int
wrap_init(void *arg)
{
	(void)arg;
	return inner.xInit(inner.pArg);
}

static void
wrap_shutdown(void *arg)
{
	(void)arg;
	if (inner.xShutdown != NULL)
		inner.xShutdown(inner.pArg);
}

static sqlite3_pcache *
wrap_create(int page_size, int extra, int purgeable)
{
	struct wrap *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if ((w->inner = inner.xCreate(page_size, extra, purgeable)) == NULL) {
		free(w);
		return NULL;
	}
	w->unknown = 1;
	return (sqlite3_pcache *)w;
}

static void
wrap_cachesize(sqlite3_pcache *c, int n)
{
	inner.xCachesize(((struct wrap *)c)->inner, n);
}

static int
wrap_pagecount(sqlite3_pcache *c)
{
	return inner.xPagecount(((struct wrap *)c)->inner);
}

static sqlite3_pcache_page *
wrap_fetch(sqlite3_pcache *c, unsigned key, int create)
{
	struct wrap *w = (struct wrap *)c;
	sqlite3_pcache_page *p = inner.xFetch(w->inner, key, create);

	if (p != NULL && key >= w->floor)
		record_key(w, key);
	return p;
}

static void
wrap_unpin(sqlite3_pcache *c, sqlite3_pcache_page *p, int discard)
{
	inner.xUnpin(((struct wrap *)c)->inner, p, discard);
}

static void
wrap_rekey(sqlite3_pcache *c, sqlite3_pcache_page *p, unsigned from, unsigned to)
{
	struct wrap *w = (struct wrap *)c;

	inner.xRekey(w->inner, p, from, to);
	/* Keys are unique in a cache: nothing else holds from now. */
	forget_key(w, from);
	record_key(w, to);
}

static void
wrap_truncate(sqlite3_pcache *c, unsigned limit)
{
	struct wrap *w = (struct wrap *)c;
	int pass = w->unknown || limit < w->floor;

	for (unsigned i = 0; !pass && i < w->n; i++)
		pass = w->keys[i] >= limit;
	if (pass)
		inner.xTruncate(w->inner, limit);
	atomic_fetch_add_explicit(pass ? &passed : &skipped, 1, memory_order_relaxed);
	/* No page at or above limit is left: the record starts over there. */
	w->floor = limit;
	w->unknown = 0;
	w->n = 0;
}

static void
wrap_destroy(sqlite3_pcache *c)
{
	struct wrap *w = (struct wrap *)c;

	inner.xDestroy(w->inner);
	free(w);
}

static void
wrap_shrink(sqlite3_pcache *c)
{
	inner.xShrink(((struct wrap *)c)->inner);
}

static void
install(void)
{
	static const sqlite3_pcache_methods2 wrap = {
		.iVersion = 1, .xInit = wrap_init, .xShutdown = wrap_shutdown,
		.xCreate = wrap_create, .xCachesize = wrap_cachesize,
		.xPagecount = wrap_pagecount, .xFetch = wrap_fetch, .xUnpin = wrap_unpin,
		.xRekey = wrap_rekey, .xTruncate = wrap_truncate, .xDestroy = wrap_destroy,
		.xShrink = wrap_shrink,
	};

	/* Both calls fail once SQLite is initialized (another part of the
	 * process opened a database first): it then runs with pcache1 as it
	 * is, correct and only slower. */
	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner) != SQLITE_OK || inner.xInit == NULL)
		return;
	installed = sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrap) == SQLITE_OK;
}

int
sq_pcache_install(void)
{
	pthread_once(&install_once, install);
	return installed;
}

void
sq_pcache_stats(struct sq_pcache_stats *out)
{
	out->passed = atomic_load_explicit(&passed, memory_order_relaxed);
	out->skipped = atomic_load_explicit(&skipped, memory_order_relaxed);
}
