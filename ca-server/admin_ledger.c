/* nrfca-admin migrate / backup: moving and copying the ledger; and how every
 * subcommand opens the configured ledger. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"

void admin_ledger_config(const struct nrfca_config *c, struct ledger_config *lc)
{
	memset(lc, 0, sizeof(*lc));
	lc->password_file = c->database_password_file;
	lc->readers = c->database_pool;
	lc->program = "nrfca-admin";
}

struct ledger *admin_open_ledger(struct admin *a)
{
	struct nrfca_config *c = admin_config(a);
	struct ledger_config lc;
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;

	if (c == NULL)
		return NULL;
	if (c->database == NULL) {
		admin_fail(a, "%s: $.database is not set", c->path);
		return NULL;
	}
	admin_ledger_config(c, &lc);
	if (ledger_open_cfg(c->database, &lc, &l, &e) != 0) {
		admin_fail(a, "%s", e.msg);
		return NULL;
	}
	return l;
}

/* ---- migrate ---- */

const char admin_migrate_help[] =
	"usage: nrfca-admin migrate --from URL --to URL [--password-file FILE]\n\n"
	"Copies a whole ledger into an empty one, typically a SQLite ledger into\n"
	"PostgreSQL when one CA outgrows one machine:\n"
	"  nrfca-admin migrate --from sqlite:/var/lib/nrfca/nrfca.db \\\n"
	"      --to postgresql://nrfca@db.example/nrfca --password-file /etc/nrfca/db.password\n"
	"Certificates, credentials (groups, client-certificate bindings), expected\n"
	"devices, the audit log (the same chain, entry by entry) and the CRL number\n"
	"are copied in one transaction; then the target is checked (same counts, the\n"
	"audit chain verifies, same CRL number) and its audit log notes the migration.\n"
	"Stop the servers first: a SQLite source in use by nrfca-server is refused.\n"
	"The target must be empty.  Needs no configuration.\n\n"
	"  --from URL            the ledger to copy (sqlite:PATH, postgresql://... or\n"
	"                        libpq keywords); upgraded to this program's schema\n"
	"  --to URL              the empty ledger to fill (created and migrated)\n"
	"  --password-file FILE  the PostgreSQL password (mode 0600); else libpq's\n"
	"                        PGPASSFILE / PGPASSWORD\n";

struct progress {
	int tty;
	const char *last;
};

static void show_progress(const char *what, long long done, long long total, void *arg)
{
	struct progress *p = arg;

	if (p->tty) {
		fprintf(stderr, "\r  copying %-18s %10lld / %lld", what, done, total);
		if (done >= total)
			fputc('\n', stderr);
	} else if (done >= total && p->last != what) {
		fprintf(stderr, "  copied %s: %lld\n", what, done);
		p->last = what;
	}
}

int admin_migrate(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "password-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct ledger_config src_cfg = { .exclusive = 1, .program = "nrfca-admin migrate" };
	struct ledger_config dst_cfg = { 0 };
	struct progress prog = { isatty(2), NULL };
	struct ledger_copy_stats st;
	struct ledger *src = NULL, *dst = NULL;
	struct nrfca_err e = { 0 };
	const char *from = NULL, *to = NULL;
	int o, rc = 1;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'p':
			src_cfg.password_file = dst_cfg.password_file = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (from == NULL || to == NULL)
		return admin_usage_error(a, "needs --from URL and --to URL");
	if (strcmp(from, to) == 0)
		return admin_usage_error(a, "--from and --to name the same ledger");
	if (ledger_open_cfg(from, &src_cfg, &src, &e) != 0) {
		admin_fail(a, "the source: %s", e.msg);
		goto out;
	}
	if (ledger_open_cfg(to, &dst_cfg, &dst, &e) != 0) {
		admin_fail(a, "the target: %s", e.msg);
		goto out;
	}
	if (ledger_copy(src, dst, show_progress, &prog, &st, &e) != 0) {
		if (prog.tty)
			fputc('\n', stderr);
		admin_fail(a, "%s; the target is unchanged", e.msg);
		goto out;
	}
	printf("ok    copied %lld certificates (%lld revoked), %lld credentials, %lld group memberships, "
	       "%lld expected devices\n",
	       st.certificates, st.revoked, st.credentials, st.groups, st.expected);
	printf("ok    the audit chain of %lld entries verifies on the target; CRL number %llu carried over\n",
	       st.audit_entries, st.crl_number);
	printf("Now point \"database\" in the configuration at the target and start the servers.\n");
	rc = 0;
out:
	ledger_close(src);
	ledger_close(dst);
	return rc;
}

/* ---- backup ---- */

const char admin_backup_help[] =
	"usage: nrfca-admin [--config FILE] backup FILE\n\n"
	"Copies the configured SQLite ledger to FILE (a new file, mode 0600) while\n"
	"the server keeps running (SQLite's online backup), then opens the copy and\n"
	"verifies it: integrity check, schema version, audit chain.  FILE is written\n"
	"only once all of that passed.  To restore: stop nrfca-server, move the\n"
	"ledger and its -wal and -shm files aside, copy FILE to the ledger's path\n"
	"(mode 0600), start nrfca-server; CRL numbers keep increasing after a\n"
	"restore.  A PostgreSQL ledger is backed up with PostgreSQL's tools (pg_dump).\n";

int admin_backup(struct admin *a, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	long long entries = 0;
	struct ledger *l;
	int rc = 1;

	if (admin_positional(a, argc, argv, 1) != 0)
		return 2;
	if (optind >= argc)
		return admin_usage_error(a, "needs the FILE to write");
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (ledger_backup(l, argv[optind], &entries, &e) != 0) {
		admin_fail(a, "%s", e.msg);
	} else {
		printf("ok    %s: the ledger, verified (integrity, schema %d, audit chain of %lld entries)\n",
		       argv[optind], ledger_schema_version(), entries);
		rc = 0;
	}
	ledger_close(l);
	return rc;
}
