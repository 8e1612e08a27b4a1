/*
 * cli.h - what the command lines of every nrfca program share.
 *
 * The rules (README.md, "Command lines"): options are parsed with
 * getopt_long; every program and every subcommand answers --help on
 * standard output with exit 0, without reading any configuration; every
 * program answers --version; a wrong command line exits 2 with one line on
 * standard error that names the option or argument and what was expected,
 * and points at --help.
 *
 * Parsers pass an optstring that starts with ':' and set opterr = 0, so
 * getopt_long returns ':' for a missing value and '?' for anything else it
 * refuses; they hand that to nrfca_cli_bad_option().
 */
#ifndef NRFCA_CLI_H
#define NRFCA_CLI_H

#include <stdio.h>

/* "0.1.0 (git 90fe156)": CMake's project() version and, when built from a
 * git checkout, `git describe` at build time (cmake/version.cmake). */
const char *nrfca_version_string(void);

/* Prints "PROG VERSION" on standard output; returns 0 (the exit status). */
int nrfca_cli_version(const char *prog);

/* getopt_long returned ':' or '?' (ch) while parsing argv for command `cmd`
 * (e.g. "nrfca-admin token add"): prints which option was wrong and how,
 * then "see 'CMD --help'".  Returns 2 (the usage exit status). */
int nrfca_cli_bad_option(const char *cmd, char *const argv[], int ch);

/* Prints "CMD: <message> (see 'CMD --help')" on standard error; returns 2. */
int nrfca_cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
