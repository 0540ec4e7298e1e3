/*
 * tmpdir.c — see tmpdir.h. Removal walks the tree depth first without
 * following links (nftw FTW_PHYS), so a test that leaves a symbolic link
 * to a file of its own never makes us delete that file.
 */
#define _XOPEN_SOURCE 700	/* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tmpdir.h"

int
tmpdir_make(char *dir, size_t len, const char *prefix)
{
	int n = snprintf(dir, len, "/tmp/%s-XXXXXX", prefix);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
tmpdir_remove(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
