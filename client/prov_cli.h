/*
 * prov_cli.h - the command line and station config of a provisioning run,
 * shared by `nrfca provision` (one modem) and `nrfca line` (several): the
 * same options, the same station config file, the same defaults, the same
 * checks, and the same `--onboard` preflight.
 *
 * A command adds its own options through struct prov_cli_extra; --port may
 * be given several times (the command decides how many it takes).
 *
 * Ownership: the struct owns the station config and the nRF Cloud handle it
 * may create (prov_cli_clear); option strings are borrowed from argv.
 */
#ifndef NRFCA_CLIENT_PROV_CLI_H
#define NRFCA_CLIENT_PROV_CLI_H

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include "prov_cloud.h"
#include "provision.h"
#include "stationcfg.h"

#define PROV_CLI_MAX_PORTS 64

/* Options a command adds: its long options (ids from PROV_CLI_EXTRA_BASE
 * up) and a handler that returns 0, or an exit status for a bad value. */
#define PROV_CLI_EXTRA_BASE 1000
struct prov_cli_extra {
	const struct option *opts;    /* terminated by a NULL name; may be NULL */
	int (*handle)(void *ctx, int id, const char *arg);
	void *ctx;
};

struct prov_cli {
	const char *cmd;               /* "nrfca provision", for messages */
	struct nrfca_prov_opts o;      /* what nrfca_provision gets (port: ports[0]) */
	const char *ports[PROV_CLI_MAX_PORTS];
	size_t nports;
	int verbose, quiet, onboard;
	struct nrfca_prov_cloud *cloud;/* with --onboard, after prov_cli_finish */
	char cloud_warning[NRFCA_ERR_MSG_MAX + 200];
	/* private */
	struct nrfca_stationcfg cfg;
	struct nrfca_prov_cloud_opts cloud_o;
	const char *cfg_path, *server, *token, *bundle, *profile, *journal, *cloud_stage;
	const char *client_cert, *client_key;
	long long sec_tag, shell_buffer;
	int eol, coap;
	char jdir[PATH_MAX], queue[PATH_MAX];
};

/* The option list (for --help), with port_line describing --port. */
void prov_cli_usage_options(FILE *f, const char *port_line);

/* Parse argv.  Returns 0, -1 when --help was printed by `help` (exit 0), or
 * an exit status (usage).  pc is initialised first. */
int prov_cli_parse(struct prov_cli *pc, const char *cmd, int argc, char **argv,
		   const struct prov_cli_extra *x, void (*help)(FILE *f));

/* Apply the station config and the defaults, check what the options say
 * together, and with --onboard run nRF Cloud's preflight.  0 or an exit
 * status (the message is printed). */
int prov_cli_finish(struct prov_cli *pc);

void prov_cli_clear(struct prov_cli *pc);

/* 1 when s is a fixture slot name the CA accepts: 1..64 letters, digits or
 * . _ - : + @ */
int prov_cli_slot_ok(const char *s);

#endif
