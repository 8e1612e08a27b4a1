/*
 * admin.h - the subcommands of nrfca-admin, one function each, and what
 * they share.
 *
 * A subcommand is `int fn(struct admin *a, int argc, char **argv)`.  argv[0]
 * is its name ("revoke", "token add"); the rest are its own arguments: the
 * dispatcher (admin_main.c) has taken the global options (--config) out,
 * wherever they stood, and has answered --help already from the command's
 * help text.  A subcommand parses its arguments first (admin_getopt,
 * admin_usage_error), and only then asks for the configuration
 * (admin_config), so a wrong command line is explained even without one.
 * It returns the exit status: 0 done, 1 failed (the reason is printed),
 * 2 usage.
 *
 * To add a subcommand: write the function and its help text in your own
 * file, declare both below, add one line to the table in admin_main.c.
 */
#ifndef NRFCA_ADMIN_H
#define NRFCA_ADMIN_H

#include <getopt.h>

#include "config.h"

struct admin;

/* The configuration, loaded on the first call (later calls return the same
 * one; the dispatcher frees it).  NULL when it cannot be loaded: the reason
 * has been printed on standard error. */
struct nrfca_config *admin_config(struct admin *a);

/* "nrfca-admin token add": the prefix of every message of the command. */
const char *admin_cmd(const struct admin *a);

/* getopt_long over the command's arguments with long options `opts` (no
 * short options).  Returns the option's val, -1 at the end, or '?' after
 * printing which option was wrong (the caller returns 2).  Call it in a loop
 * from the start of the command: it resets getopt on the first call. */
int admin_getopt(struct admin *a, int argc, char **argv, const struct option *opts);

/* For a command without options: checks there are at most `max` arguments
 * (then they are argv[optind..argc)).  0, or 2 after printing the error. */
int admin_positional(struct admin *a, int argc, char **argv, int max);

/* "nrfca-admin CMD: <message> (see 'nrfca-admin CMD --help')"; returns 2. */
int admin_usage_error(struct admin *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "nrfca-admin CMD: <message>" on standard error; returns 1. */
int admin_fail(struct admin *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Who runs the command, for the audit log ($SUDO_USER, $USER, nrfca-admin). */
const char *admin_actor(void);

/* The configured ledger (admin_ledger.c): NULL after printing why.  Not
 * exclusive: nrfca-admin works beside a running server.  ledger_config
 * from the configuration (password file, pool). */
struct ledger;
struct ledger_config;
struct ledger *admin_open_ledger(struct admin *a);
void admin_ledger_config(const struct nrfca_config *c, struct ledger_config *lc);

/* "a, b, c" into buf (filled once: a static buffer is fine): the names of
 * codes 0..max-1 that have one, except `skip`. */
const char *admin_names_joined(char *buf, size_t n, const char *(*name)(int), int max, int skip);

/* Open the signer the configuration names (shared by the subcommands). */
struct signer;
struct signer *admin_open_signer(struct nrfca_config *c, struct nrfca_err *err);

/* ---- the subcommands: function and help text (usage line first) ---- */
#define ADMIN_CMD(fn) \
	int fn(struct admin *a, int argc, char **argv); \
	extern const char fn##_help[]

ADMIN_CMD(admin_init);
ADMIN_CMD(admin_import_chain);
ADMIN_CMD(admin_check);
ADMIN_CMD(admin_token_add);
ADMIN_CMD(admin_token_list);
ADMIN_CMD(admin_token_disable);
ADMIN_CMD(admin_token_bind);
ADMIN_CMD(admin_token_unbind);
ADMIN_CMD(admin_token_enable);
ADMIN_CMD(admin_token_rotate);
ADMIN_CMD(admin_revoke);
ADMIN_CMD(admin_crl);
ADMIN_CMD(admin_list);
ADMIN_CMD(admin_audit_verify);
ADMIN_CMD(admin_audit_list);
ADMIN_CMD(admin_audit_export);
ADMIN_CMD(admin_policy_check);
ADMIN_CMD(admin_migrate);
ADMIN_CMD(admin_backup);
ADMIN_CMD(admin_openssl_env);
ADMIN_CMD(admin_devices_import);   /* admin_authority.c */
ADMIN_CMD(admin_devices_check);
ADMIN_CMD(admin_token_groups);

#endif
