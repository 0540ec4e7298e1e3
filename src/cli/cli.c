/* cli.c — dispatch to the command groups. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int
cli_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "gatehouse: no commands built yet\n");
	return 2;
}
