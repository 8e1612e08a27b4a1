/*
 * nrfca-admin - the operator CLI: the global options, then one subcommand
 * from the table below.
 *
 *   nrfca-admin [--config FILE] COMMAND [WORD] [OPTIONS] [ARGUMENTS]
 *
 * Global options may stand before or after the command (anywhere before a
 * `--`): `nrfca-admin check --config F` is `nrfca-admin --config F check`.
 * They are taken out of argv before the command parses the rest.  --help
 * and --version before the command are the program's; --help or -h after
 * it print that command's help text (the table's), and nothing reads the
 * configuration.  Every message names the command ("nrfca-admin token
 * add: ...").  Exit status: 0 done, 1 failed, 2 usage.
 *
 * Adding a subcommand, from your own file (e.g. admin_audit.c):
 *   1. write `int admin_audit_list(struct admin *a, int argc, char **argv)`
 *      and `const char admin_audit_list_help[]` (usage line first, then
 *      every option with one line each: the man page check reads it);
 *   2. declare both in admin.h with ADMIN_CMD(admin_audit_list);
 *   3. add one line to cmds[] below, where --help should list it:
 *        { "audit list", admin_audit_list, admin_audit_list_help, "summary" },
 * A two-word name ("token add") belongs to the group of its first word:
 * `nrfca-admin token` lists the group.  Parse options with admin_getopt(),
 * report wrong arguments with admin_usage_error(), and call admin_config()
 * only once the command line is known to be right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli.h"

#define PROG "nrfca-admin"

struct admin_cmd {
	const char *name;
	int (*run)(struct admin *a, int argc, char **argv);
	const char *help;
	const char *summary;
};

static const struct admin_cmd cmds[] = {
	{ "init", admin_init, admin_init_help,
	  "key ceremony: generate the CA key in the token, self-sign a root or write a CSR" },
	{ "import-chain", admin_import_chain, admin_import_chain_help,
	  "install the CA chain issued by an external root" },
	{ "check", admin_check, admin_check_help,
	  "check token, key, chain, database and policy" },
	{ "token add", admin_token_add, admin_token_add_help,
	  "create an API credential (the secret is shown once)" },
	{ "token list", admin_token_list, admin_token_list_help, "list API credentials" },
	{ "token disable", admin_token_disable, admin_token_disable_help,
	  "disable an API credential" },
	{ "token bind", admin_token_bind, admin_token_bind_help,
	  "bind a station's client certificate (mTLS) to a credential" },
	{ "token unbind", admin_token_unbind, admin_token_unbind_help,
	  "remove a credential's client certificate bindings" },
	{ "token enable", admin_token_enable, admin_token_enable_help,
	  "accept a disabled API credential again" },
	{ "token rotate", admin_token_rotate, admin_token_rotate_help,
	  "give a credential a new secret (shown once), same name and role" },
	{ "token groups", admin_token_groups, admin_token_groups_help,
	  "station groups of the credentials: list, set, clear" },
	{ "revoke", admin_revoke, admin_revoke_help,
	  "revoke a certificate by serial with an RFC 5280 reason" },
	{ "crl", admin_crl, admin_crl_help, "sign and write a fresh CRL" },
	{ "list", admin_list, admin_list_help, "list issued certificates" },
	{ "audit verify", admin_audit_verify, admin_audit_verify_help,
	  "walk the hash chain of the audit log" },
	{ "audit list", admin_audit_list, admin_audit_list_help,
	  "list audit entries (filters by time, actor, event; --json)" },
	{ "audit export", admin_audit_export, admin_audit_export_help,
	  "write the audit log as an archive that verifies on its own" },
	{ "policy check", admin_policy_check, admin_policy_check_help,
	  "validate a policy file (needs no configuration)" },
	{ "backup", admin_backup, admin_backup_help, "copy the SQLite ledger to a file, verified" },
	{ "migrate", admin_migrate, admin_migrate_help, "copy a ledger into an empty one (SQLite to PostgreSQL)" },
	{ "openssl-env", admin_openssl_env, admin_openssl_env_help,
	  "shell lines for openssl's pkcs11 engine to use the CA key (offline signing)" },
	{ "devices import", admin_devices_import, admin_devices_import_help,
	  "import the expected devices of a manufacturing order" },
	{ "devices check", admin_devices_check, admin_devices_check_help,
	  "is a device expected at a station or its groups?" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

struct admin {
	const struct admin_cmd *cmd;
	char prefix[96];            /* "nrfca-admin token add" */
	const char *config_path;
	const char *config_origin;  /* NULL: --config; else where the path came from */
	struct nrfca_config *cfg;
	int cfg_failed;
	int getopt_started;
};

static const char global_help[] =
	"Global options (before or after the command):\n"
	"  --config FILE  the JSON configuration; default $NRFCA_CONFIG, else ./nrfca.json\n"
	"  --help, -h     this text (after a command: that command's help)\n"
	"  --version      the program's version\n";

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: " PROG " [--config FILE] <command> [options]\n\n"
		   "The operator's tool: key ceremony, credentials, revocation, CRL, audit.\n\n"
		   "commands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-15s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n%s\n`" PROG " <command> --help` describes one command; none of them needs\n"
		   "a configuration for that.\n"
		   "Exit status: 0 done, 1 failed (the reason is printed), 2 usage.\n", global_help);
}

/* the commands of group `word` ("token"): "add, list, disable" */
static void group_names(const char *word, char *out, size_t n)
{
	size_t i, wl = strlen(word), used = 0;

	out[0] = '\0';
	for (i = 0; i < NCMDS; i++) {
		if (strncmp(cmds[i].name, word, wl) != 0 || cmds[i].name[wl] != ' ')
			continue;
		used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%s",
					 used ? ", " : "", cmds[i].name + wl + 1);
	}
}

static int group_usage(const char *word, int help)
{
	FILE *f = help ? stdout : stderr;
	size_t i, wl = strlen(word);

	if (!help) {
		char names[256];

		group_names(word, names, sizeof(names));
		fprintf(stderr, PROG " %s: needs a subcommand: %s\n\n", word, names);
	}
	fprintf(f, "usage: " PROG " [--config FILE] %s <subcommand> [options]\n\n", word);
	for (i = 0; i < NCMDS; i++)
		if (strncmp(cmds[i].name, word, wl) == 0 && cmds[i].name[wl] == ' ')
			fprintf(f, "  %-15s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n`" PROG " %s <subcommand> --help` describes one.\n", word);
	return help ? 0 : 2;
}

struct nrfca_config *admin_config(struct admin *a)
{
	struct nrfca_err e = { 0 };

	if (a->cfg != NULL || a->cfg_failed)
		return a->cfg;
	if (nrfca_config_load(a->config_path, &a->cfg, &e) != 0) {
		a->cfg_failed = 1;
		a->cfg = NULL;
		if (a->config_origin != NULL)
			fprintf(stderr, "%s: %s (%s; give --config FILE)\n", a->prefix, e.msg,
				a->config_origin);
		else
			fprintf(stderr, "%s: %s\n", a->prefix, e.msg);
	}
	return a->cfg;
}

const char *admin_cmd(const struct admin *a)
{
	return a->prefix;
}

int admin_getopt(struct admin *a, int argc, char **argv, const struct option *opts)
{
	int o;

	if (!a->getopt_started) {
		/* 0, not 1: glibc then also forgets main's "+" (stop at the first
		 * argument), so options and arguments may come in any order */
		optind = 0;
		a->getopt_started = 1;
	}
	opterr = 0;
	o = getopt_long(argc, argv, ":", opts, NULL);
	if (o == '?' || o == ':') {
		nrfca_cli_bad_option(a->prefix, argv, o);
		return '?';
	}
	return o;
}

int admin_positional(struct admin *a, int argc, char **argv, int max)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };

	if (admin_getopt(a, argc, argv, none) != -1)
		return 2;
	if (argc - optind > max)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind + max]);
	return 0;
}

int admin_usage_error(struct admin *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nrfca_cli_usage_error(a->prefix, "%s", msg);
}

int admin_fail(struct admin *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", a->prefix);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

const char *admin_actor(void)
{
	const char *u = getenv("SUDO_USER");

	if (u == NULL || u[0] == '\0')
		u = getenv("USER");
	return u && u[0] ? u : PROG;
}

/*
 * Take the global options out of argv[from..argc) (up to a `--`): returns
 * the new argc, or -1 after printing the error.
 */
static int take_globals(struct admin *a, int argc, char **argv, int from)
{
	int i, j = from;

	for (i = from; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc || argv[i + 1][0] == '\0') {
				nrfca_cli_usage_error(a->prefix, "option '--config' needs a value");
				return -1;
			}
			a->config_path = argv[++i];
			a->config_origin = NULL;
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			if (argv[i][9] == '\0') {
				nrfca_cli_usage_error(a->prefix, "option '--config' needs a value");
				return -1;
			}
			a->config_path = argv[i] + 9;
			a->config_origin = NULL;
			continue;
		}
		argv[j++] = argv[i];
	}
	argv[j] = NULL;
	return j;
}

static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct admin a;
	const struct admin_cmd *cmd = NULL;
	const char *word;
	size_t k, wl;
	int o, rc;

	memset(&a, 0, sizeof(a));
	snprintf(a.prefix, sizeof(a.prefix), PROG);
	a.config_path = getenv("NRFCA_CONFIG");
	a.config_origin = "from $NRFCA_CONFIG";
	if (a.config_path == NULL || a.config_path[0] == '\0') {
		a.config_path = "nrfca.json";
		a.config_origin = "the default: no --config given and $NRFCA_CONFIG is not set";
	}
	/* the program's own options, up to the command */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			a.config_path = optarg;
			a.config_origin = NULL;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return nrfca_cli_version(PROG);
		default:
			return nrfca_cli_bad_option(PROG, argv, o);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": no command given\n\n");
		usage(stderr);
		return 2;
	}
	word = argv[optind];
	wl = strlen(word);
	for (k = 0; k < NCMDS && cmd == NULL; k++) {
		if (strcmp(cmds[k].name, word) == 0)
			cmd = &cmds[k];
		else if (strncmp(cmds[k].name, word, wl) == 0 && cmds[k].name[wl] == ' ')
			cmd = &cmds[k]; /* a group: the second word decides below */
	}
	if (cmd == NULL) {
		fprintf(stderr, PROG ": unknown command '%s' (see '" PROG " --help')\n", word);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd->name, word) != 0) {
		const char *sub;

		/* a group: the subcommand is the next word once the globals are out */
		snprintf(a.prefix, sizeof(a.prefix), PROG " %s", word);
		if ((argc = take_globals(&a, argc, argv, 1)) < 0)
			return 2;
		if (argc < 2 || argv[1][0] == '-')
			return group_usage(word, argc >= 2 && wants_help(argc, argv));
		sub = argv[1];
		for (k = 0, cmd = NULL; k < NCMDS; k++)
			if (strncmp(cmds[k].name, word, wl) == 0 && cmds[k].name[wl] == ' ' &&
			    strcmp(cmds[k].name + wl + 1, sub) == 0)
				cmd = &cmds[k];
		if (cmd == NULL) {
			char names[256];

			group_names(word, names, sizeof(names));
			fprintf(stderr, PROG " %s: unknown subcommand '%s' (%s; see '" PROG
				" %s --help')\n", word, sub, names, word);
			return 2;
		}
		argc--;
		argv++;
	} else if ((argc = take_globals(&a, argc, argv, 1)) < 0) {
		return 2;
	}
	a.cmd = cmd;
	snprintf(a.prefix, sizeof(a.prefix), PROG " %s", cmd->name);
	if (wants_help(argc, argv)) {
		fputs(cmd->help, stdout);
		return 0;
	}
	rc = cmd->run(&a, argc, argv);
	nrfca_config_free(a.cfg);
	return rc;
}
