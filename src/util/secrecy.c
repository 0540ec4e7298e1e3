/* secrecy.c — see secrecy.h. */
#include <stdio.h>

#include "util/secrecy.h"

int
file_secrecy_check(const struct stat *st, uid_t euid, char *why, size_t whylen)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "is not a regular file");
		return -1;
	}
	if (st->st_mode & 077) {
		snprintf(why, whylen, "has mode %04o and is open to group or others; chmod 600 it",
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (euid != 0 && st->st_uid != euid && st->st_uid != 0) {
		snprintf(why, whylen, "is owned by uid %u, neither this user (uid %u) nor root: "
		    "its owner may read or replace it; chown it", (unsigned)st->st_uid, (unsigned)euid);
		return -1;
	}
	return 0;
}
