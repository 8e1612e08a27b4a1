/* nrfca-admin audit verify / list / export: reading the audit log. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit_archive.h"
#include "b64url.h"
#include "ledger.h"
#include "timefmt.h"

#define LIST_DEFAULT 1000

/* ---- audit verify ---- */

const char admin_audit_verify_help[] =
	"usage: nrfca-admin [--config FILE] audit verify [--archive FILE]...\n\n"
	"Walks the hash chain of the audit log and reports the first broken link.\n"
	"With --archive, checks exported archives instead (no configuration\n"
	"needed): each one's chain, header and trailer, and, given several in\n"
	"order, that each continues the one before.  Exit 0 intact, 1 broken or\n"
	"unreadable.\n\n"
	"  --archive FILE  an archive written by `audit export` (repeat for a series)\n";

static int verify_archives(struct admin *a, char **files, int n)
{
	struct audit_archive_result r, prev;
	struct nrfca_err e = { 0 };
	char h[65];
	FILE *f;
	int i, rc;

	for (i = 0; i < n; i++) {
		f = fopen(files[i], "r");
		if (f == NULL)
			return admin_fail(a, "cannot read %s: %s", files[i], strerror(errno));
		rc = audit_archive_verify(f, &r, &e);
		fclose(f);
		if (rc < 0)
			return admin_fail(a, "%s: %s", files[i], e.msg);
		if (rc == 1) {
			printf("BROKEN  %s line %lld: %s\n", files[i], r.line, r.why);
			return 1;
		}
		if (i > 0 && (r.after_id != prev.last_id || !r.has_first_prev ||
			      memcmp(r.first_prev, prev.last_hash, 32) != 0)) {
			printf("BROKEN  %s does not continue %s (it starts after entry %lld; the "
			       "previous archive ends with entry %lld)\n", files[i], files[i - 1],
			       r.after_id, prev.last_id);
			return 1;
		}
		nrfca_hex_encode(r.last_hash, 32, h);
		if (r.entries > 0)
			printf("ok    %s: entries %lld to %lld, chain intact; last hash %s\n", files[i],
			       r.first_id, r.last_id, h);
		else
			printf("ok    %s: no entries after %lld\n", files[i], r.after_id);
		if (r.entries > 0 || i == 0)
			prev = r;
		else
			prev.after_id = r.after_id;
	}
	return 0;
}

int admin_audit_verify(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_err e = { 0 };
	long long n = 0, broken = 0;
	char why[256] = "", **files;
	struct ledger *l;
	int o, nf = 0, r;

	files = calloc((size_t)argc + 1, sizeof(*files));
	if (files == NULL)
		return admin_fail(a, "out of memory");
	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'a') {
			free(files);
			return 2;
		}
		files[nf++] = optarg;
	}
	if (optind < argc) {
		free(files);
		return admin_usage_error(a, "unexpected argument '%s' (archives go with --archive)",
					 argv[optind]);
	}
	if (nf > 0) {
		r = verify_archives(a, files, nf);
		free(files);
		return r;
	}
	free(files);
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	r = ledger_audit_verify(l, &n, &broken, why, sizeof(why), &e);
	ledger_close(l);
	if (r < 0)
		return admin_fail(a, "%s", e.msg);
	if (r == 1) {
		printf("BROKEN  the audit chain breaks at entry %lld: %s\n", broken, why);
		return 1;
	}
	printf("ok    the audit chain of %lld entries is intact\n", n);
	return 0;
}

/* ---- audit list ---- */

const char admin_audit_list_help[] =
	"usage: nrfca-admin [--config FILE] audit list [--since WHEN] [--until WHEN]\n"
	"                   [--actor NAME] [--event EVENT] [--after-id N] [--limit N] [--json]\n\n"
	"Lists audit entries, oldest first: id, time (UTC), actor, event and the\n"
	"event's detail.  Events: issue, revoke, reject, cred_add, cred_disable,\n"
	"cred_enable, cred_rotate, cred_expiry, ceremony_key, ceremony_root,\n"
	"ceremony_csr, chain_import, policy_reload, crl_publish, start, stop, ...\n"
	"(docs/AUDIT.md lists them all).\n\n"
	"  --since WHEN    entries at or after WHEN: an RFC 3339 date or time\n"
	"                  (2026-03-01, 2026-03-01T08:00:00+01:00)\n"
	"  --until WHEN    entries before WHEN\n"
	"  --actor NAME    only this actor (a credential, an operator's login, nrfca-server)\n"
	"  --event EVENT   only this event\n"
	"  --after-id N    entries after id N (to page on: the id of the last one shown)\n"
	"  --limit N       at most N entries, 1 to 100000 (default 1000)\n"
	"  --json          one JSON object per line (id, at, time, actor, event, detail\n"
	"                  as an object, prev_hash, hash)\n";

struct list_ctx {
	int json, n;
	long long last_id;
};

static int list_row(const struct ledger_audit_entry *e, void *arg)
{
	struct list_ctx *c = arg;
	char t[NRFCA_TIME_ISO_LEN], ph[65], h[65];

	nrfca_time_iso(e->at, t);
	c->n++;
	c->last_id = e->id;
	if (c->json) {
		json_t *d = json_loads(e->detail, 0, NULL), *o;
		char *txt;

		nrfca_hex_encode(e->prev_hash, 32, ph);
		nrfca_hex_encode(e->hash, 32, h);
		o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:s, s:s}", "id", (json_int_t)e->id,
			      "at", (json_int_t)e->at, "time", t, "actor", e->actor, "event",
			      e->event, "detail", d ? d : json_string(e->detail), "prev_hash", ph,
			      "hash", h);
		txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (txt != NULL)
			printf("%s\n", txt);
		free(txt);
		json_decref(o);
		return txt == NULL;
	}
	printf("%-7lld %s  %-20s %-14s %s\n", e->id, t, e->actor, e->event, e->detail);
	return 0;
}

static int parse_count(struct admin *a, const char *opt, const char *s, long long lo,
		       long long hi, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *out < lo || *out > hi)
		return admin_usage_error(a, "%s '%s' must be a whole number from %lld to %lld", opt,
					 s, lo, hi);
	return 0;
}

static int parse_when(struct admin *a, const char *opt, const char *s, long long *out)
{
	if (nrfca_time_parse(s, out) != 0)
		return admin_usage_error(a, "%s '%s' is not an RFC 3339 date or time (2026-03-01, "
					 "2026-03-01T08:00:00Z)", opt, s);
	return 0;
}

int admin_audit_list(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "actor", required_argument, NULL, 'a' },
		{ "event", required_argument, NULL, 'e' },
		{ "after-id", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct ledger_audit_filter f;
	struct list_ctx c = { 0, 0, 0 };
	struct nrfca_err e = { 0 };
	struct ledger *l;
	long long v;
	int o, rc = 0;

	memset(&f, 0, sizeof(f));
	f.limit = LIST_DEFAULT;
	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 's':
			if (parse_when(a, "--since", optarg, &f.since) != 0)
				return 2;
			break;
		case 'u':
			if (parse_when(a, "--until", optarg, &f.until) != 0)
				return 2;
			break;
		case 'a':
			f.actor = optarg;
			break;
		case 'e':
			f.event = optarg;
			break;
		case 'i':
			if (parse_count(a, "--after-id", optarg, 0, (long long)1 << 62,
					&f.after_id) != 0)
				return 2;
			break;
		case 'l':
			if (parse_count(a, "--limit", optarg, 1, 100000, &v) != 0)
				return 2;
			f.limit = (int)v;
			break;
		case 'j':
			c.json = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (f.since > 0 && f.until > 0 && f.until <= f.since)
		return admin_usage_error(a, "--until must be later than --since");
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (!c.json)
		printf("%-7s %-20s  %-20s %-14s %s\n", "ID", "TIME", "ACTOR", "EVENT", "DETAIL");
	if (ledger_audit_list(l, &f, list_row, &c, &e) != 0)
		rc = admin_fail(a, "%s", e.msg);
	else if (c.n == f.limit)
		fprintf(stderr, "%s: %d entries shown, there may be more: add --after-id %lld\n",
			admin_cmd(a), c.n, c.last_id);
	ledger_close(l);
	return rc;
}

/* ---- audit export ---- */

const char admin_audit_export_help[] =
	"usage: nrfca-admin [--config FILE] audit export [--after-id N] [--out FILE]\n\n"
	"Writes the audit log, entries after id N (default: all), as an archive that\n"
	"can be verified on its own: JSON Lines with a header, every entry with its\n"
	"prev_hash and hash, and a trailer naming the last hash (docs/AUDIT.md: the\n"
	"format, and how to verify it without nrfca).  The next export continues with\n"
	"--after-id set to this one's last id, and `audit verify --archive A\n"
	"--archive B` checks that B continues A.  FILE is created (never replaced)\n"
	"with mode 0600.\n\n"
	"  --after-id N  start after entry N (the last id of the previous export)\n"
	"  --out FILE    write to FILE instead of standard output\n";

struct export_ctx {
	struct audit_archive_writer *w;
	struct nrfca_err *err;
};

static int export_row(const struct ledger_audit_entry *e, void *arg)
{
	struct export_ctx *x = arg;

	return audit_archive_entry(x->w, e, x->err) != 0;
}

int admin_audit_export(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "after-id", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct ledger_audit_filter f;
	struct nrfca_err e = { 0 }, we = { 0 };
	struct export_ctx x;
	const char *out = NULL;
	unsigned char last[32];
	long long n = 0, last_id = 0;
	struct ledger *l = NULL;
	FILE *fo = stdout;
	char h[65];
	int o, fd, rc = 1;

	memset(&f, 0, sizeof(f));
	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'i':
			if (parse_count(a, "--after-id", optarg, 0, (long long)1 << 62,
					&f.after_id) != 0)
				return 2;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (out != NULL) {
		fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || (fo = fdopen(fd, "w")) == NULL) {
			admin_fail(a, "cannot create %s: %s%s", out, strerror(errno),
				   errno == EEXIST ? " (an archive is never replaced)" : "");
			if (fd >= 0)
				close(fd);
			goto out;
		}
	}
	x.w = audit_archive_begin(fo, f.after_id, admin_actor());
	x.err = &we;
	if (x.w == NULL) {
		admin_fail(a, "out of memory");
		goto out;
	}
	if (ledger_audit_list(l, &f, export_row, &x, &e) != 0) {
		audit_archive_end(x.w, NULL, NULL, NULL, &we);
		admin_fail(a, "%s", e.msg);
		goto out;
	}
	if (we.code != NRFCA_OK) {
		audit_archive_end(x.w, NULL, NULL, NULL, &we);
		admin_fail(a, "%s", we.msg);
		goto out;
	}
	if (audit_archive_end(x.w, &n, &last_id, last, &we) != 0) {
		admin_fail(a, "%s", we.msg);
		goto out;
	}
	if (out != NULL) {
		if (fsync(fileno(fo)) != 0 || fclose(fo) != 0) {
			fo = NULL;
			admin_fail(a, "cannot write %s: %s", out, strerror(errno));
			goto out;
		}
		fo = NULL;
	}
	nrfca_hex_encode(last, 32, h);
	if (n > 0)
		fprintf(stderr, "%s: %lld %s (%lld to %lld); last hash %s\n"
			"the next export continues with --after-id %lld\n", admin_cmd(a), n,
			n == 1 ? "entry" : "entries",
			f.after_id + 1, last_id, h, last_id);
	else
		fprintf(stderr, "%s: no entries after %lld\n", admin_cmd(a), f.after_id);
	rc = 0;
out:
	if (fo != NULL && fo != stdout)
		fclose(fo);
	ledger_close(l);
	return rc;
}
