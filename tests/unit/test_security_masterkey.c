/* test_security_masterkey.c — master key file handling, HKDF, AES-GCM seal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "security/masterkey.h"
#include "util/util.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];

static int
setup(void **state)
{
	(void)state;
	return tmpdir_make(dir, sizeof(dir), "gh-mk");
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

static void
path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void
write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_create_then_load(void **state)
{
	char p[128], content[80], hex[65];
	uint8_t k1[MASTERKEY_LEN], k2[MASTERKEY_LEN];
	struct stat st;
	int created = -1, fd;
	char err[256];
	ssize_t n;

	(void)state;
	path_of(p, sizeof(p), "new.key");
	assert_int_equal(masterkey_load(p, 1, k1, &created, err, sizeof(err)), 0);
	assert_int_equal(created, 1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, content, sizeof(content));
	close(fd);
	assert_int_equal(n, 65);
	assert_int_equal(content[64], '\n');
	hex_encode(k1, MASTERKEY_LEN, hex);
	assert_memory_equal(content, hex, 64);

	assert_int_equal(masterkey_load(p, 1, k2, &created, err, sizeof(err)), 0);
	assert_int_equal(created, 0);
	assert_memory_equal(k1, k2, MASTERKEY_LEN);
}

/* Eight threads making the same new key at once: one makes it, every
 * one loads that one, none ever reads a half-written file, and nothing is
 * left beside it. The key is written to a file of its own and linked into
 * place: path never exists empty, not even after a crash mid-write (which
 * once left an empty key file that refused every start). */
struct racer {
	const char	*path;
	uint8_t		 key[MASTERKEY_LEN];
	int		 rc, created;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	char err[256];

	r->rc = masterkey_load(r->path, 1, r->key, &r->created, err, sizeof(err));
	return NULL;
}

static void
test_racing_creators_agree(void **state)
{
	char p[128];

	(void)state;
	for (int round = 0; round < 20; round++) {
		struct racer r[8];
		pthread_t t[8];
		int made = 0;
		DIR *d;
		struct dirent *e;

		snprintf(p, sizeof(p), "%s/race%d.key", dir, round);
		for (int i = 0; i < 8; i++) {
			r[i].path = p;
			assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
		}
		for (int i = 0; i < 8; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			assert_int_equal(r[i].rc, 0);
			made += r[i].created;
			assert_memory_equal(r[i].key, r[0].key, MASTERKEY_LEN);
		}
		assert_int_equal(made, 1);
		assert_non_null(d = opendir(dir));
		while ((e = readdir(d)) != NULL)
			assert_null(strstr(e->d_name, ".new."));
		closedir(d);
	}
}

static void
test_empty_file_says_what_to_do(void **state)
{
	char p[128], err[512];
	uint8_t k[MASTERKEY_LEN];

	(void)state;
	path_of(p, sizeof(p), "empty.key");
	write_file(p, "", 0600);
	assert_int_equal(masterkey_load(p, 1, k, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "it is empty"));
	assert_non_null(strstr(err, "delete it"));
}

static void
test_missing_without_create(void **state)
{
	char p[128], err[256];
	uint8_t k[MASTERKEY_LEN];
	int created = -1;

	(void)state;
	path_of(p, sizeof(p), "absent.key");
	assert_int_equal(masterkey_load(p, 0, k, &created, err, sizeof(err)), -1);
	assert_int_equal(created, 0);
	assert_non_null(strstr(err, p));
	assert_int_equal(access(p, F_OK), -1);
}

/* STYLE 5: a key readable or writable by group or others is refused, and
 * the message tells the operator what to do. */
static void
test_mode_refused(void **state)
{
	static const mode_t modes[] = { 0640, 0604, 0620, 0602, 0660, 0644, 0700 | 010 };
	const char *good = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	char p[128], err[256], want[16];
	uint8_t k[MASTERKEY_LEN];

	(void)state;
	path_of(p, sizeof(p), "open.key");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file(p, good, modes[i]);
		assert_int_equal(masterkey_load(p, 1, k, NULL, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%04o", (unsigned)modes[i]);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, p));
		assert_non_null(strstr(err, "chmod 600"));
	}
	/* 0400 is fine too: only group and other bits matter. */
	write_file(p, good, 0400);
	assert_int_equal(masterkey_load(p, 0, k, NULL, err, sizeof(err)), 0);
	assert_int_equal(k[0], 0x00);
	assert_int_equal(k[31], 0x1f);
	assert_int_equal(chmod(p, 0600), 0);
}

static void
test_not_regular(void **state)
{
	char err[256];
	uint8_t k[MASTERKEY_LEN];

	(void)state;
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(masterkey_load(dir, 1, k, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
}

static void
test_bad_content(void **state)
{
	static const char *bad[] = {
		"",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",	/* 63 */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0\n",	/* 65 */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",	/* not hex */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
		" 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	};
	char p[128], err[256];
	uint8_t k[MASTERKEY_LEN];

	(void)state;
	path_of(p, sizeof(p), "bad.key");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(p, bad[i], 0600);
		assert_int_equal(masterkey_load(p, 1, k, NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "64 hex"));
	}
	/* No newline is fine. */
	write_file(p, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600);
	assert_int_equal(masterkey_load(p, 0, k, NULL, err, sizeof(err)), 0);
	assert_int_equal(k[16], 0x10);
}

/* HKDF-SHA-256, no salt: a fixed answer computed independently (RFC 5869
 * written out with Python's hmac module). */
static void
test_derive(void **state)
{
	uint8_t m[MASTERKEY_LEN], a[32], b[32];
	char hex[65];

	(void)state;
	for (int i = 0; i < MASTERKEY_LEN; i++)
		m[i] = (uint8_t)i;
	assert_int_equal(masterkey_derive(m, "gatehouse client secrets v1", a), 0);
	hex_encode(a, 32, hex);
	assert_string_equal(hex,
	    "8da0e0d40f76f17524b244d2dd87f9af2a40047c58e21f973dff23d5aade2726");
	assert_int_equal(masterkey_derive(m, "gatehouse signing key seal v1", b), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(masterkey_derive(m, NULL, b), -1);
}

static void
test_seal_round_trip(void **state)
{
	uint8_t key[32], pt[100], *s1 = NULL, *s2 = NULL, *o = NULL;
	size_t n1, n2, on;

	(void)state;
	assert_int_equal(rand_bytes(key, 32), 0);
	assert_int_equal(rand_bytes(pt, sizeof(pt)), 0);
	assert_int_equal(seal(key, pt, sizeof(pt), "kid-1", &s1, &n1), 0);
	assert_int_equal(n1, 12 + sizeof(pt) + 16);
	assert_int_equal(seal(key, pt, sizeof(pt), "kid-1", &s2, &n2), 0);
	/* A fresh nonce each time. */
	assert_memory_not_equal(s1, s2, 12);
	assert_int_equal(unseal(key, s1, n1, "kid-1", &o, &on), 0);
	assert_int_equal(on, sizeof(pt));
	assert_memory_equal(o, pt, sizeof(pt));
	free(o);
	free(s1);
	free(s2);

	/* Empty plaintext, and NULL aad is the empty aad. */
	assert_int_equal(seal(key, NULL, 0, NULL, &s1, &n1), 0);
	assert_int_equal(n1, 28);
	assert_int_equal(unseal(key, s1, n1, "", &o, &on), 0);
	assert_int_equal(on, 0);
	free(o);
	free(s1);
}

static void
test_seal_tamper(void **state)
{
	uint8_t key[32], pt[40], *s = NULL, *o = NULL;
	size_t n, on;

	(void)state;
	assert_int_equal(rand_bytes(key, 32), 0);
	memset(pt, 'p', sizeof(pt));
	assert_int_equal(seal(key, pt, sizeof(pt), "kid-1", &s, &n), 0);
	/* Any flipped bit, in nonce, ciphertext or tag. */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			s[i] ^= (uint8_t)(1u << bit);
			o = (uint8_t *)1;
			assert_int_equal(unseal(key, s, n, "kid-1", &o, &on), -1);
			assert_ptr_equal(o, (uint8_t *)1);
			s[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* Moved to another row (aad), wrong key, truncated. */
	assert_int_equal(unseal(key, s, n, "kid-2", &o, &on), -1);
	assert_int_equal(unseal(key, s, n, NULL, &o, &on), -1);
	key[0] ^= 1;
	assert_int_equal(unseal(key, s, n, "kid-1", &o, &on), -1);
	key[0] ^= 1;
	assert_int_equal(unseal(key, s, n - 1, "kid-1", &o, &on), -1);
	assert_int_equal(unseal(key, s, 27, "kid-1", &o, &on), -1);
	assert_int_equal(unseal(key, s, 0, "kid-1", &o, &on), -1);
	/* Still good untouched. */
	assert_int_equal(unseal(key, s, n, "kid-1", &o, &on), 0);
	assert_memory_equal(o, pt, sizeof(pt));
	free(o);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_then_load),
		cmocka_unit_test(test_missing_without_create),
		cmocka_unit_test(test_racing_creators_agree),
		cmocka_unit_test(test_empty_file_says_what_to_do),
		cmocka_unit_test(test_mode_refused),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_bad_content),
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_tamper),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
