/* nrfca - the station client: thin dispatch to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "exitcodes.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "parse", cmd_parse, "decode %KEYGEN / %ATTESTTOKEN output and check the binding" },
	{ "creds", cmd_creds, "list, write or delete credentials on a modem" },
	{ "provision", cmd_provision, "provision one modem end to end (key, CA, write, verify)" },
	{ "line", cmd_line, "provision several modems at once, board after board, one live table" },
	{ "onboard", cmd_onboard, "put provisioned devices into nRF Cloud (bulk onboarding)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: nrfca <command> [options]\n"
		   "       nrfca --help | --version\n\ncommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\n`nrfca <command> --help` describes one command.\n\n");
	nrfca_exit_print_table(f);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return nrfca_cli_version("nrfca");
	if (argv[1][0] == '-') {
		fprintf(stderr, "nrfca: unknown option '%s' before the command (see 'nrfca --help')\n",
			argv[1]);
		return 2;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "nrfca: unknown command '%s' (see 'nrfca --help')\n", argv[1]);
	return 2;
}
