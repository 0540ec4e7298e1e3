/*
 * test_rng.h — the fuzz drivers' pseudo-random numbers (tests/support/):
 * xorshift64* (Vigna 2016), fast and the same sequence everywhere, so that
 * a failing input is found again from its seed. One sequence per program.
 */
#ifndef GH_TEST_RNG_H
#define GH_TEST_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Starts the sequence; a zero seed is made non-zero. */
void		test_rng_seed(uint64_t seed);
uint64_t	test_rng(void);
/* Uniform enough in [0, n); 0 when n is 0. */
size_t		test_rng_below(size_t n);

#endif
