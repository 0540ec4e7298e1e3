/*
 * secrecy.h — whether a file may hold a secret (the master key, a TLS
 * private key): STYLE 5, after OpenBSD httpd's check_file_secrecy().
 */
#ifndef GH_UTIL_SECRECY_H
#define GH_UTIL_SECRECY_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * The open file st describes (fstat it, not its name, so the checks hold
 * for what is read) may hold a secret for a process of effective user
 * euid: a regular file, open to nobody but its owner, owned by euid or by
 * root. A file another user owns is that user's to read or replace, so it
 * is refused too, unless euid is root (who may read anything anyway, as an
 * operator running the CLI with sudo on a service user's key does).
 * 0, or -1 with why (a phrase to follow the file's name) filled.
 */
int	file_secrecy_check(const struct stat *st, uid_t euid, char *why, size_t whylen);

#endif
