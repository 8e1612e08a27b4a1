/*
 * admin.h - the subcommands of nrfca-admin, one function each.  Each takes
 * the loaded configuration and its own arguments (argv[0] is the
 * subcommand) and returns the exit status.
 */
#ifndef NRFCA_ADMIN_H
#define NRFCA_ADMIN_H

#include "config.h"

int admin_init(struct nrfca_config *c, int argc, char **argv);
int admin_import_chain(struct nrfca_config *c, int argc, char **argv);
int admin_check(struct nrfca_config *c, int argc, char **argv);
int admin_token(struct nrfca_config *c, int argc, char **argv);
int admin_revoke(struct nrfca_config *c, int argc, char **argv);
int admin_crl(struct nrfca_config *c, int argc, char **argv);
int admin_list(struct nrfca_config *c, int argc, char **argv);
int admin_audit(struct nrfca_config *c, int argc, char **argv);
int admin_policy(struct nrfca_config *c, int argc, char **argv);

/* Open the signer the configuration names (shared by the subcommands). */
struct signer;
struct signer *admin_open_signer(struct nrfca_config *c, struct nrfca_err *err);

#endif
