/*
 * peers.c — connections per client address (see peers.h for why).
 *
 * An open-addressed table under one lock: opening and closing a
 * connection are a hash and a probe or two, and the table is sized for
 * every connection the server takes coming from a different address, so
 * it is never more than half full. The hash is keyed (SipHash under a
 * random key): the addresses are the clients', and without the key none
 * can aim its entries at one run of slots.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/limits.h"
#include "http/peers.h"
#include "net/cidr.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/util.h"

#define PEER_SLOTS	(2 * HTTP_MAX_CONNECTIONS)	/* a power of two */
#define PEER_KEY_LEN	16

struct peer_slot {
	uint8_t		key[PEER_KEY_LEN];	/* an IPv6 /64, or ::ffff:IPv4 */
	unsigned	n;			/* 0: free */
};

struct http_peers {
	pthread_mutex_t		 mu;
	unsigned		 max_each;
	const struct cidr_list	*unlimited;
	uint8_t			 hash_key[16];
	_Atomic int64_t		 logged_s;	/* the last refusal logged */
	struct peer_slot	 slot[PEER_SLOTS];
};

struct http_peers *
peers_new(unsigned max_each, const struct cidr_list *unlimited)
{
	struct http_peers *p;

	if (max_each == 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (rand_bytes(p->hash_key, sizeof(p->hash_key)) == -1 ||
	    pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return NULL;
	}
	p->max_each = max_each;
	p->unlimited = unlimited;
	return p;
}

void
peers_free(struct http_peers *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/*
 * The key addr counts under, and its text: an IPv4 address (also one
 * written IPv4-mapped) as ::ffff:a.b.c.d, an IPv6 address as its /64.
 * Returns 0, or -1 for an address that is not IP.
 */
static int
peer_key(const struct sockaddr *addr, uint8_t key[PEER_KEY_LEN], char *text, size_t len)
{
	memset(key, 0, PEER_KEY_LEN);
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)len) ? 0 : -1;
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			memcpy(key, &in6->sin6_addr, PEER_KEY_LEN);
		else
			memcpy(key, &in6->sin6_addr, 8);
		return inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)len) ? 0 : -1;
	}
	return -1;
}

static size_t
home_of(const struct http_peers *p, const uint8_t key[PEER_KEY_LEN])
{
	return (size_t)siphash24(p->hash_key, key, PEER_KEY_LEN) & (PEER_SLOTS - 1);
}

/* The slot holding key, or the free slot where it would go; NULL when
 * the table is full and key is not in it. Called locked. */
static struct peer_slot *
slot_find(struct http_peers *p, const uint8_t key[PEER_KEY_LEN])
{
	size_t i = home_of(p, key);

	for (size_t probes = 0; probes < PEER_SLOTS; probes++, i = (i + 1) & (PEER_SLOTS - 1))
		if (p->slot[i].n == 0 || memcmp(p->slot[i].key, key, PEER_KEY_LEN) == 0)
			return &p->slot[i];
	return NULL;
}

/* Frees slot i, moving back each later entry of its run whose home is at
 * or before i, so that every lookup still finds its entry without
 * tombstones (Knuth's deletion for linear probing). Called locked. */
static void
slot_free(struct http_peers *p, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & (PEER_SLOTS - 1);
		if (p->slot[j].n == 0)
			break;
		size_t k = home_of(p, p->slot[j].key);
		/* j's entry may move to i unless its home lies cyclically
		 * within (i, j]. */
		int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			p->slot[i] = p->slot[j];
			i = j;
		}
	}
	p->slot[i].n = 0;
}

/* One line a second at most: a host refused thousands of times a second
 * would otherwise flood the log. The count is in the metric. */
static void
report_refused(struct http_peers *p, const char *ip)
{
	int64_t now = (int64_t)time(NULL), last = atomic_load(&p->logged_s);
	char shown[CIDR_LOCK_KEY_LEN];

	metrics_add("gatehouse_http_connections_refused_total", 1, NULL);
	if (now == last || !atomic_compare_exchange_strong(&p->logged_s, &last, now))
		return;
	if (cidr_lock_key(ip, shown, sizeof(shown)) == -1)
		snprintf(shown, sizeof(shown), "?");
	log_event(LOG_WARN, "http.connection_refused", json_pack("{s:s, s:I, s:s}",
	    "address", shown, "connections_per_address", (json_int_t)p->max_each,
	    "note", "the address already holds its share of connections"));
}

int
peers_open(struct http_peers *p, const struct sockaddr *addr)
{
	uint8_t key[PEER_KEY_LEN];
	char ip[INET6_ADDRSTRLEN];
	struct peer_slot *s;
	int rc = -1;

	if (p == NULL || peer_key(addr, key, ip, sizeof(ip)) == -1 ||
	    (p->unlimited != NULL && cidr_match(p->unlimited, ip)))
		return 0;
	pthread_mutex_lock(&p->mu);
	if ((s = slot_find(p, key)) != NULL && s->n < p->max_each) {
		if (s->n++ == 0)
			memcpy(s->key, key, PEER_KEY_LEN);
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	if (rc == -1)
		report_refused(p, ip);
	return rc;
}

void
peers_close(struct http_peers *p, const struct sockaddr *addr)
{
	uint8_t key[PEER_KEY_LEN];
	char ip[INET6_ADDRSTRLEN];
	struct peer_slot *s;

	if (p == NULL || peer_key(addr, key, ip, sizeof(ip)) == -1 ||
	    (p->unlimited != NULL && cidr_match(p->unlimited, ip)))
		return;
	pthread_mutex_lock(&p->mu);
	if ((s = slot_find(p, key)) != NULL && s->n > 0 && --s->n == 0)
		slot_free(p, (size_t)(s - p->slot));
	pthread_mutex_unlock(&p->mu);
}
