/* cli.c - the version line and option errors shared by every program. */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

int nrfca_cli_version(const char *prog)
{
	printf("%s %s\n", prog, nrfca_version_string());
	return 0;
}

int nrfca_cli_bad_option(const char *cmd, char *const argv[], int ch)
{
	const char *arg = optind > 0 ? argv[optind - 1] : NULL;

	if (arg != NULL && strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
		size_t n = strcspn(arg, "=");

		if (ch == ':')
			return nrfca_cli_usage_error(cmd, "option '%.*s' needs a value", (int)n, arg);
		if (arg[n] == '=' && optopt != 0)
			return nrfca_cli_usage_error(cmd, "option '%.*s' takes no value", (int)n, arg);
		return nrfca_cli_usage_error(cmd, "unknown or ambiguous option '%.*s'", (int)n, arg);
	}
	if (ch == ':')
		return nrfca_cli_usage_error(cmd, "option '-%c' needs a value", optopt);
	if (optopt > 32 && optopt < 127)
		return nrfca_cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return nrfca_cli_usage_error(cmd, "unknown option '%s'", arg ? arg : "?");
}

int nrfca_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", cmd);
	return 2;
}
