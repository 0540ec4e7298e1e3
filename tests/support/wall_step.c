/* wall_step.c — see wall_step.h. */
#include <time.h>

#include "wall_step.h"

_Atomic long long wall_ahead_s;

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);

int
__wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = __real_clock_gettime(id, ts);

	if (rc == 0 && id == CLOCK_REALTIME)
		ts->tv_sec += (time_t)wall_ahead_s;
	return rc;
}
