/*
 * cli.h — the operator's command line: one table of subcommands, one file per
 * command group. Commands print JSON on stdout on success, one line on stderr
 * and a non-zero exit on error.
 */
#ifndef GH_CLI_H
#define GH_CLI_H

int	cli_main(int argc, char **argv);

#endif
