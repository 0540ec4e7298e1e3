/*
 * tmpdir.h — a private directory for one test (tests/support/).
 *
 * tmpdir_make fills dir (at least TMPDIR_LEN bytes) with a fresh directory
 * /tmp/<prefix>-XXXXXX, mode 0700; tmpdir_remove deletes it and everything
 * below it (files, links, subdirectories; nothing it links to). Both return
 * 0, or -1 with errno set. Neither prints nor exits: a cmocka setup or
 * teardown returns their answer.
 */
#ifndef GH_TEST_TMPDIR_H
#define GH_TEST_TMPDIR_H

#include <stddef.h>

#define TMPDIR_LEN	64

int	tmpdir_make(char *dir, size_t len, const char *prefix);
int	tmpdir_remove(const char *dir);

#endif
