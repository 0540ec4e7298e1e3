/*
 * lockout.h — locking out whoever keeps sending bad credentials (seed 003).
 *
 * Failures are counted per (client id, address) pair and per address, each
 * in a window; past its threshold the pair (or the address) is locked for a
 * while. Counting by pair, not by client, keeps a client usable from its own
 * address while someone elsewhere guesses its secret. Unknown client ids
 * count like known ones.
 *
 * Memory is bounded: at most LOCKOUT_MAX_ENTRIES tracked keys; past that the
 * oldest made that holds no lock in force makes room. When the table is full
 * of locks in force, a failure to count still makes room: the lock that ends
 * first goes from memory (it stays in the store), so that a flood of
 * addresses cannot switch the lockout off for a newcomer. Locks placed from
 * the store never drop another lock. Thread-safe.
 *
 * Two clocks (struct lockout_now): a lock's end on the wall clock is what
 * is stored, shared with other nodes, listed and audited; how long a lock
 * or a counting window lasts in this process is measured on the monotonic
 * clock, so that a step of the wall clock (NTP, a VM resumed, an
 * operator's date) neither ends a lock early nor lengthens it. A lock read
 * from the store (made by another node, or here before a restart) is
 * converted to a monotonic end once, when first read: its wall-clock end
 * as this node's clock reads it plus leeway (the clock skew accepted
 * between nodes), and never more than duration from that read.
 */
#ifndef GH_LOCKOUT_H
#define GH_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#define LOCKOUT_MAX_ENTRIES 65536
#define LOCKOUT_KEY_MAX 200

struct lockout_config {
	int64_t	pair_threshold;		/* failures of one id from one address (5) */
	int64_t	address_threshold;	/* failures from one address (20) */
	int64_t	window;			/* seconds failures are counted over (900) */
	int64_t	duration;		/* seconds a lock lasts (900) */
	int64_t	leeway;			/* seconds of clock skew between nodes (30) */
};

/* A moment on both clocks: wall seconds (clock_now: what is stored and
 * shown) and monotonic milliseconds (clock_mono_ns: what durations here
 * are measured on). */
struct lockout_now {
	int64_t	wall;
	int64_t	mono_ms;
};
/* Now on both clocks, the wall clock read as wall (clock_now()). */
struct lockout_now lockout_now_at(int64_t wall);

enum lockout_kind { LOCKOUT_PAIR, LOCKOUT_ADDRESS, LOCKOUT_KIND__MAX };
extern const char *const lockout_kind_names[LOCKOUT_KIND__MAX];

struct lockout_lock {
	enum lockout_kind kind;
	char		 client_id[129];	/* "" for an address lock */
	char		 address[46];
	int64_t		 until;		/* wall-clock seconds */
	uint64_t	 gen;		/* read from the store: the generation its
					 * row was written at (store_lock gen) */
};

/* A clear the store recorded (store_lock_cleared): its filters, as
 * lockout_clear takes them, and the store generation it was made at. */
struct lockout_cleared {
	const char	*address;	/* NULL: any */
	const char	*client_id;	/* NULL: any lock; else its pair locks */
	uint64_t	 gen;
};

struct lockout;

struct lockout	*lockout_new(const struct lockout_config *);
void		 lockout_free(struct lockout *);

/* 1 when (client_id, address) or address is locked at now; *retry_after
 * gets the seconds left (the longer of the two). */
int	lockout_check(struct lockout *, const char *client_id,
	    const char *address, struct lockout_now now, int64_t *retry_after);
/* Counts a failure. Returns how many locks it made (0, 1, or 2 when the
 * pair and the address reach their thresholds at once) and fills made[0..]
 * with them, the pair's first. */
int	lockout_failure(struct lockout *, const char *client_id,
	    const char *address, struct lockout_now now,
	    struct lockout_lock made[LOCKOUT_KIND__MAX]);
/*
 * The same with the counts kept elsewhere (the store's counters shared by
 * nodes: store_failure_add): pair_count and address_count are the
 * failures in their windows, this one included. Locks, and returns and
 * fills made, as lockout_failure does when a count reaches its threshold.
 */
int	lockout_failure_counted(struct lockout *, const char *client_id,
	    const char *address, struct lockout_now now, int64_t pair_count,
	    int64_t address_count, struct lockout_lock made[LOCKOUT_KIND__MAX]);
/* Failures of the pair counted elsewhere (by another node, in the store's
 * shared counters, in the window that began at window_start): the pair's
 * entry takes the larger count, so that a success here has failures to
 * clear (lockout_success) in the store as well. A pair locked here keeps
 * its lock and count. */
void	lockout_note_failures(struct lockout *, const char *client_id,
	    const char *address, int64_t failures, int64_t window_start, struct lockout_now now);
/* A success clears the pair's failures (not the address's). Returns 1 when
 * there were failures to clear. */
int	lockout_success(struct lockout *, const char *client_id,
	    const char *address);
/* 1 when the pair has failures a success would clear; changes nothing. */
int	lockout_has_failures(struct lockout *, const char *client_id,
	    const char *address);
/* Every lock in force at now; *out is malloc'd. */
int	lockout_list(struct lockout *, struct lockout_now now, struct lockout_lock **out,
	    size_t *n);
/* Removes locks: address NULL = all; client_id NULL = the address lock and
 * every pair lock of that address. Returns how many were removed. */
size_t	lockout_clear(struct lockout *, const char *address,
	    const char *client_id);
/* The wall-clock time a stored lock must end after to be read for
 * lockout_sync: now.wall - leeway (a lock that looks just ended may come
 * from a node whose clock is behind this one's). */
int64_t	lockout_read_after(const struct lockout *, struct lockout_now now);
/*
 * Brings the locks in step with the store: places each of locks[0..n)
 * (the store's list of locks ending after lockout_read_after(now), or
 * some of them) not placed before (a lock already placed keeps its end
 * here: read again, it is not lengthened), learning each one's store
 * generation; then applies cleared[0..ncleared) (the clears recorded
 * since the last sync, oldest first): a clear lifts each lock in force
 * here that its filters name and whose row was written at a generation
 * below the clear's. A lock is never lifted for being missing from
 * locks: a read on the wall clock can miss a lock still in force (this
 * clock stepped forward past its end; another node's clock far ahead
 * pruned it). A lock made here whose write's generation is not known yet
 * (lockout_mark_stored) keeps a clear that names it until it is: lifted
 * then if the write came first. The lifted locks go to *removed
 * (malloc'd, *nremoved of them; NULL when none) for the log. 0, or -1
 * out of memory (the locks are in step; *removed is then NULL).
 */
int	lockout_sync(struct lockout *, const struct lockout_lock *locks,
	    size_t n, const struct lockout_cleared *cleared, size_t ncleared,
	    struct lockout_now now, struct lockout_lock **removed, size_t *nremoved);
/* The locks[0..n) made here were committed to the store at generation
 * gen (store_lock_put_gen). A lock that a clear newer than gen named
 * meanwhile (lockout_sync) is lifted, into *removed as lockout_sync
 * does. 0 or -1 out of memory (lifted all the same). */
int	lockout_mark_stored(struct lockout *, const struct lockout_lock *locks,
	    size_t n, uint64_t gen, struct lockout_lock **removed, size_t *nremoved);
/*
 * 1 when lk, a lock made here, no longer holds: its time ran out here (the
 * monotonic clock, not lk->until against the wall clock, which a step
 * forward would end early), or its entry now holds another lock or none
 * (cleared, ended, or a newer one placed). A lock whose entry went from
 * memory to make room is judged by its wall-clock end. For the lock
 * writer: whether a lock whose write failed is still worth writing.
 */
int	lockout_ended(struct lockout *, const struct lockout_lock *lk, struct lockout_now now);
/* Locks whose time ran out since the last call, into *out (malloc'd; NULL
 * when none), and forgets them: for the "unlocked" log. 0 or -1. */
int	lockout_expired(struct lockout *, struct lockout_now now, struct lockout_lock **out,
	    size_t *n);

#endif
