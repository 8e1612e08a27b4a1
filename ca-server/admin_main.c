/* nrfca-admin - the operator CLI: thin dispatch to admin.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

struct admin_cmd {
	const char *name;
	int (*run)(struct nrfca_config *c, int argc, char **argv);
	int needs_config;
	const char *summary;
};

static const struct admin_cmd cmds[] = {
	{ "init", admin_init, 1, "key ceremony: generate the CA key in the token, self-sign a root or write a CSR" },
	{ "import-chain", admin_import_chain, 1, "install the CA chain issued by an external root" },
	{ "check", admin_check, 1, "check token, key, chain, database and policy" },
	{ "token", admin_token, 1, "API credentials: add (secret shown once), list, disable" },
	{ "revoke", admin_revoke, 1, "revoke a certificate by serial with an RFC 5280 reason" },
	{ "crl", admin_crl, 1, "sign and write a fresh CRL" },
	{ "list", admin_list, 1, "list issued certificates" },
	{ "audit", admin_audit, 1, "audit verify: walk the hash chain of the audit log" },
	{ "policy", admin_policy, 0, "policy check FILE: validate a policy file" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: nrfca-admin [--config FILE] <command> [options]\n\n"
		   "The configuration defaults to $NRFCA_CONFIG, else ./nrfca.json.\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n`nrfca-admin <command> --help` describes one command.\n"
		   "Exit status: 0 done, 1 failed (the reason is printed), 2 usage.\n");
}

int main(int argc, char **argv)
{
	const char *cfgpath = getenv("NRFCA_CONFIG");
	struct nrfca_config *cfg = NULL;
	struct nrfca_err e = { 0 };
	int i = 1, rc;
	size_t k;

	if (cfgpath == NULL || cfgpath[0] == '\0')
		cfgpath = "nrfca.json";
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			cfgpath = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			cfgpath = argv[i] + 9;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "nrfca-admin: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(argv[i], cmds[k].name) != 0)
			continue;
		if (cmds[k].needs_config && nrfca_config_load(cfgpath, &cfg, &e) != 0) {
			fprintf(stderr, "nrfca-admin: %s\n", e.msg);
			return 1;
		}
		rc = cmds[k].run(cfg, argc - i, argv + i);
		nrfca_config_free(cfg);
		return rc;
	}
	fprintf(stderr, "nrfca-admin: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
