/* test_rng.c — see test_rng.h. */
#include "test_rng.h"

static uint64_t state = 1;

void
test_rng_seed(uint64_t seed)
{
	state = seed != 0 ? seed : 1;
}

uint64_t
test_rng(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * UINT64_C(2685821657736338717);
}

size_t
test_rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(test_rng() % n);
}
