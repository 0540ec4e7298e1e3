/*
 * sqlite_walbuf.c — SQLite's default VFS with the write-ahead log's writes
 * gathered (see sqlite_internal.h).
 *
 * Why: SQLite writes each WAL frame with two system calls, one for its
 * 24-byte header and one for its page. A group commit of opaque tokens
 * appends ~50 frames (each token's record lands on a random index page):
 * strace counted 3.7 pwrite() calls a token on the one writer thread, the
 * serial path every request of the batch waits on. SQLite has no setting
 * for this, and no library sits between it and the file; a VFS is its own
 * documented seam for such a layer.
 *
 * So a WAL file keeps consecutive writes in a buffer and hands them over in
 * one write at the latest when SQLite next needs the file to hold them:
 * before it syncs, reads, truncates or sizes the file or closes it, before
 * a write that does not continue the buffer, and before the connection
 * publishes frames in the WAL index (xShmBarrier on the database file, the
 * step between writing frames and making them visible to readers). Under
 * synchronous=FULL, which every connection of ours runs, the commit's
 * xSync comes before that and empties the buffer.
 *
 * Durability is unchanged: a commit returns only after xSync, and xSync
 * writes the buffer before it syncs. A failed write is reported by the
 * call that made it (xSync at a commit), and the transaction fails there
 * as it would have at the write. The database file and journals pass
 * through untouched.
 *
 * A connection and its files are used by one thread at a time (SQLite's
 * rule for a VFS), so a file's buffer needs no lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define WALBUF_VFS	"gatehouse-walbuf"
#define WALBUF_MAX	(2 * 1024 * 1024)	/* bytes held before they go out anyway */
#define WALBUF_FIRST	(256 * 1024)		/* a batch's frames, usually */
/* The unix VFS (SQLite 3.40, seekAndWriteFd) writes `amt & 0x1ffff` bytes
 * a call and loops while that writes something: 128 KB exactly would write
 * nothing, which it reports as SQLITE_FULL. Each write stays below that. */
#define WALBUF_CHUNK	((size_t)0x1f000)	/* 124 KB */

struct wb_file {
	sqlite3_file	 base;		/* pMethods: &wb_methods */
	sqlite3_file	*real;		/* the default VFS's file, after this struct */
	int		 is_wal;
	struct wb_file	*wal;		/* a database: its open WAL file, or NULL */
	struct wb_file	*db;		/* a WAL file: its database, or NULL */
	unsigned char	*buf;		/* a WAL file: bytes not yet written */
	size_t		 len, cap;
	sqlite3_int64	 off;		/* where buf[0] goes in the file */
	int		 err;		/* a write that failed where none could be reported */
};

static sqlite3_vfs *root;	/* the default VFS, set once before use */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int installed;
static atomic_ulong gathered, written;	/* for sq_walbuf_stats */

#define REAL(f)	(((struct wb_file *)(f))->real)
#define RM(f)	(REAL(f)->pMethods)

/* Writes what the buffer holds. The buffer is emptied either way: after a
 * failed write its frames belong to a transaction SQLite is abandoning. */
static int
wal_flush(struct wb_file *f)
{
	int rc = f->err;

	f->err = SQLITE_OK;
	if (f->len == 0)
		return rc;
	for (size_t at = 0; rc == SQLITE_OK && at < f->len; at += WALBUF_CHUNK) {
		size_t n = f->len - at < WALBUF_CHUNK ? f->len - at : WALBUF_CHUNK;

		rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n,
		    f->off + (sqlite3_int64)at);
		if (rc == SQLITE_OK)
			atomic_fetch_add_explicit(&written, 1, memory_order_relaxed);
	}
	f->len = 0;
	return rc;
}

/* Room for amt more bytes in the buffer; 0 when it cannot grow. */
static int
wal_reserve(struct wb_file *f, size_t amt)
{
	size_t want = f->len + amt, cap = f->cap ? f->cap : WALBUF_FIRST;
	unsigned char *p;

	if (want > WALBUF_MAX)
		return 0;
	if (want <= f->cap)
		return 1;
	while (cap < want)
		cap *= 2;
	if (cap > WALBUF_MAX)
		cap = WALBUF_MAX;
	if ((p = sqlite3_realloc64(f->buf, cap)) == NULL)
		return 0;
	f->buf = p;
	f->cap = cap;
	return 1;
}

static int
wb_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 off)
{
	struct wb_file *f = (struct wb_file *)file;
	int rc;

	if (!f->is_wal || amt <= 0)
		return RM(f)->xWrite(f->real, data, amt, off);
	if (f->len > 0 && off != f->off + (sqlite3_int64)f->len &&
	    (rc = wal_flush(f)) != SQLITE_OK)
		return rc;
	if (!wal_reserve(f, (size_t)amt)) {
		if ((rc = wal_flush(f)) != SQLITE_OK)
			return rc;
		if (!wal_reserve(f, (size_t)amt))	/* larger than the buffer */
			return RM(f)->xWrite(f->real, data, amt, off);
	}
	if (f->len == 0)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += (size_t)amt;
	atomic_fetch_add_explicit(&gathered, 1, memory_order_relaxed);
	return SQLITE_OK;
}

/* Every other use of a WAL file first writes what is held. */
#define FLUSHED(f) do {							\
	int rc_ = ((struct wb_file *)(f))->is_wal ?			\
	    wal_flush((struct wb_file *)(f)) : SQLITE_OK;		\
	if (rc_ != SQLITE_OK)						\
		return rc_;						\
} while (0)

static int
wb_close(sqlite3_file *file)
{
	struct wb_file *f = (struct wb_file *)file;
	int rc = f->is_wal ? wal_flush(f) : SQLITE_OK, rc2;

	if (f->db != NULL)
		f->db->wal = NULL;
	if (f->wal != NULL)
		f->wal->db = NULL;
	sqlite3_free(f->buf);
	f->buf = NULL;
	rc2 = RM(f)->xClose(f->real);
	return rc != SQLITE_OK ? rc : rc2;
}

static int
wb_read(sqlite3_file *f, void *data, int amt, sqlite3_int64 off)
{
	FLUSHED(f);
	return RM(f)->xRead(REAL(f), data, amt, off);
}

static int
wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	FLUSHED(f);
	return RM(f)->xTruncate(REAL(f), size);
}

static int
wb_sync(sqlite3_file *f, int flags)
{
	FLUSHED(f);
	return RM(f)->xSync(REAL(f), flags);
}

static int
wb_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	FLUSHED(f);
	return RM(f)->xFileSize(REAL(f), size);
}

static int
wb_lock(sqlite3_file *f, int lock)
{
	return RM(f)->xLock(REAL(f), lock);
}

static int
wb_unlock(sqlite3_file *f, int lock)
{
	return RM(f)->xUnlock(REAL(f), lock);
}

static int
wb_check_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int
wb_file_control(sqlite3_file *f, int op, void *arg)
{
	FLUSHED(f);
	return RM(f)->xFileControl(REAL(f), op, arg);
}

static int
wb_sector_size(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}

static int
wb_device_characteristics(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int
wb_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **p)
{
	return RM(f)->xShmMap(REAL(f), region, size, extend, p);
}

static int
wb_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return RM(f)->xShmLock(REAL(f), offset, n, flags);
}

/* The step before new frames become visible in the WAL index: they must be
 * in the file by then. It cannot report an error; a failed write is kept
 * and returned by the WAL file's next call. */
static void
wb_shm_barrier(sqlite3_file *file)
{
	struct wb_file *f = (struct wb_file *)file;

	if (f->wal != NULL && f->wal->len > 0)
		f->wal->err = wal_flush(f->wal);
	RM(f)->xShmBarrier(f->real);
}

static int
wb_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return RM(f)->xShmUnmap(REAL(f), delete_flag);
}

static int
wb_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **p)
{
	return RM(f)->xFetch(REAL(f), off, amt, p);
}

static int
wb_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods wb_methods = {
	.iVersion = 3, .xClose = wb_close, .xRead = wb_read, .xWrite = wb_write,
	.xTruncate = wb_truncate, .xSync = wb_sync, .xFileSize = wb_file_size,
	.xLock = wb_lock, .xUnlock = wb_unlock, .xCheckReservedLock = wb_check_reserved,
	.xFileControl = wb_file_control, .xSectorSize = wb_sector_size,
	.xDeviceCharacteristics = wb_device_characteristics, .xShmMap = wb_shm_map,
	.xShmLock = wb_shm_lock, .xShmBarrier = wb_shm_barrier, .xShmUnmap = wb_shm_unmap,
	.xFetch = wb_fetch, .xUnfetch = wb_unfetch,
};

static int
wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *out_flags)
{
	struct wb_file *f = (struct wb_file *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = root->xOpen(root, name, f->real, flags, out_flags);
	/* SQLite calls xClose exactly when pMethods is set: ours closes the
	 * real file, so ours is set exactly when the real file's is. */
	if (f->real->pMethods == NULL)
		return rc;
	f->base.pMethods = &wb_methods;
	/* Ours forwards the version 3 methods; the unix VFS's files all have
	 * them. A file without them is refused rather than half served. */
	if (rc == SQLITE_OK && f->real->pMethods->iVersion < 3)
		return SQLITE_CANTOPEN;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) && name != NULL) {
		sqlite3_file *db = sqlite3_database_file_object(name);

		f->is_wal = 1;
		if (db != NULL && db->pMethods == &wb_methods) {
			f->db = (struct wb_file *)db;
			f->db->wal = f;
		}
	}
	return rc;
}

/* The rest of the VFS is the default one's, called with its own handle. */
static int
wb_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	(void)v;
	return root->xDelete(root, name, sync_dir);
}

static int
wb_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return root->xAccess(root, name, flags, out);
}

static int
wb_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return root->xFullPathname(root, name, n, out);
}

static void *
wb_dl_open(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return root->xDlOpen(root, name);
}

static void
wb_dl_error(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	root->xDlError(root, n, msg);
}

static void (*wb_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return root->xDlSym(root, h, sym);
}

static void
wb_dl_close(sqlite3_vfs *v, void *h)
{
	(void)v;
	root->xDlClose(root, h);
}

static int
wb_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return root->xRandomness(root, n, out);
}

static int
wb_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return root->xSleep(root, us);
}

static int
wb_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return root->xCurrentTime(root, out);
}

static int
wb_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return root->xGetLastError(root, n, out);
}

static int
wb_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return root->xCurrentTimeInt64(root, out);
}

static sqlite3_vfs wb_vfs = {
	.iVersion = 2, .zName = WALBUF_VFS, .xOpen = wb_open, .xDelete = wb_delete,
	.xAccess = wb_access, .xFullPathname = wb_full_pathname, .xDlOpen = wb_dl_open,
	.xDlError = wb_dl_error, .xDlSym = wb_dl_sym, .xDlClose = wb_dl_close,
	.xRandomness = wb_randomness, .xSleep = wb_sleep, .xCurrentTime = wb_current_time,
	.xGetLastError = wb_last_error, .xCurrentTimeInt64 = wb_current_time64,
};

static void
install(void)
{
	/* The layer forwards the shared-memory and memory-map methods (version
	 * 3) and the 64-bit clock (version 2); a default VFS without them, or
	 * a failed registration, leaves SQLite's own VFS in use. */
	if ((root = sqlite3_vfs_find(NULL)) == NULL || root->iVersion < 2 ||
	    root->xCurrentTimeInt64 == NULL)
		return;
	wb_vfs.szOsFile = (int)sizeof(struct wb_file) + root->szOsFile;
	wb_vfs.mxPathname = root->mxPathname;
	installed = sqlite3_vfs_register(&wb_vfs, 0) == SQLITE_OK;
}

const char *
sq_walbuf_vfs(void)
{
	pthread_once(&install_once, install);
	return installed ? WALBUF_VFS : NULL;
}

void
sq_walbuf_stats(struct sq_walbuf_stats *out)
{
	out->gathered = atomic_load_explicit(&gathered, memory_order_relaxed);
	out->written = atomic_load_explicit(&written, memory_order_relaxed);
}
