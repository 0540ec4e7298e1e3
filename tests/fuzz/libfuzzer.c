/*
 * libfuzzer.c — the parsers of tests/unit/test_fuzz_parsers.c under
 * libFuzzer's coverage guidance, for runs longer than `make test` can give
 * (scripts/fuzz.sh; `make fuzz`).
 *
 * The unit program mutates blindly from a fixed seed, so that every build
 * sees the same inputs in under two seconds. Here libFuzzer keeps the
 * inputs that reach new code and mutates those, for as long as it is let
 * run. The targets, their seeds and every check are the unit program's own
 * (its fz_targets table, included below); only the driver differs. A
 * failed check aborts (CMOCKA_TEST_ABORT=1, set here), which libFuzzer
 * reports as a crash and saves the input of.
 *
 *   FUZZ_TARGET=NAME      the target to run: its fz_target name with every
 *                         character outside [A-Za-z0-9] as '_'
 *                         ("jws/verify token" is jws_verify_token)
 *   FUZZ_SEEDS_TO=DIR     write the target's seeds into DIR, one file each,
 *                         and exit (the starting corpus)
 *   FUZZ_TARGET=list      print every target's name, a line each, and exit
 */
#include <ctype.h>

#define GH_FUZZ_NO_MAIN
#include "../unit/test_fuzz_parsers.c"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const struct fz_target *lf_target;

/* t's name as FUZZ_TARGET spells it, into out. */
static void
lf_name(const struct fz_target *t, char *out, size_t cap)
{
	size_t i;

	for (i = 0; t->name[i] != '\0' && i + 1 < cap; i++)
		out[i] = isalnum((unsigned char)t->name[i]) ? t->name[i] : '_';
	out[i] = '\0';
}

/* The set-up's private directory goes with the process. */
static void
lf_teardown(void)
{
	(void)fz_teardown(NULL);
}

static void
lf_seeds_to(const char *dir)
{
	char path[4096];
	FILE *f;

	for (size_t i = 0; i < lf_target->nseeds; i++) {
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		if ((f = fopen(path, "w")) == NULL ||
		    fwrite(lf_target->seeds[i], 1, strlen(lf_target->seeds[i]), f) !=
		    strlen(lf_target->seeds[i]) || fclose(f) != 0) {
			fprintf(stderr, "fuzz: cannot write %s\n", path);
			exit(1);
		}
	}
	exit(0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *want = getenv("FUZZ_TARGET"), *dir = getenv("FUZZ_SEEDS_TO");
	char name[64];

	(void)argc;
	(void)argv;
	/* cmocka ends a failed check outside a test with exit(255), which
	 * libFuzzer would not count as a crash; abort() it counts. */
	setenv("CMOCKA_TEST_ABORT", "1", 1);
	if (want != NULL && strcmp(want, "list") == 0) {
		for (size_t i = 0; i < GH_ARRAY_LEN(fz_targets); i++) {
			lf_name(fz_targets[i], name, sizeof(name));
			printf("%s\n", name);
		}
		exit(0);
	}
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_targets) && want != NULL; i++) {
		lf_name(fz_targets[i], name, sizeof(name));
		if (strcmp(name, want) == 0)
			lf_target = fz_targets[i];
	}
	if (lf_target == NULL) {
		fprintf(stderr, "fuzz: FUZZ_TARGET names none of:");
		for (size_t i = 0; i < GH_ARRAY_LEN(fz_targets); i++) {
			lf_name(fz_targets[i], name, sizeof(name));
			fprintf(stderr, " %s", name);
		}
		fprintf(stderr, "\n");
		exit(2);
	}
	if (fz_setup(NULL) != 0) {
		fprintf(stderr, "fuzz: set-up failed\n");
		exit(1);
	}
	atexit(lf_teardown);
	if (dir != NULL)
		lf_seeds_to(dir);
	/* The unit program's own pass first (its seeds accepted, their
	 * prefixes and fixed mutations): a driver whose checks no longer
	 * hold stops here rather than after hours. */
	fz_run(lf_target);
	fz_cur.target = lf_target->name;
	fz_cur.phase = "libFuzzer input";
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	/* A copy of exactly n bytes: a read past it is an ASan report. */
	uint8_t *b = malloc(n > 0 ? n : 1);

	if (b == NULL)
		return 0;
	memcpy(b, d, n);
	fz_cur.data = b;
	fz_cur.len = n;
	(void)lf_target->run(b, n);
	fz_cur.data = NULL;
	free(b);
	return 0;
}
