/*
 * wall_step.h — for tests of waits and timers against a stepped wall
 * clock. A test program linked with -Wl,--wrap=clock_gettime (its
 * target's link options) reads CLOCK_REALTIME wall_ahead_s seconds ahead
 * of the kernel's: what a wait sees when the clock is stepped back by
 * that much right after it took its deadline (negative: stepped ahead).
 * Other clocks are read as they are.
 */
#ifndef GH_TEST_WALL_STEP_H
#define GH_TEST_WALL_STEP_H

extern _Atomic long long wall_ahead_s;

#endif
