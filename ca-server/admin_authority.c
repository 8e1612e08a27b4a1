/*
 * nrfca-admin devices import / devices check / token groups: what a station
 * may claim (station authority, policies/README.md).
 *
 *   devices import FILE --station NAME | --group NAME [--batch LABEL] [--dry-run]
 *   devices check DEVICE --station NAME
 *   token groups [--name NAME [--set G1,G2,... | --clear]]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "devlist.h"
#include "ledger.h"

const char admin_devices_import_help[] =
	"usage: nrfca-admin [--config FILE] devices import FILE (--station NAME | --group NAME)\n"
	"                   [--batch LABEL] [--dry-run]\n\n"
	"Imports the devices of a manufacturing order as expected at a station or at a\n"
	"station group, in one transaction; profiles with \"require_known_device\" refuse\n"
	"devices that were not imported for the calling station or its groups.\n"
	"FILE holds one device id per line (device UUID, 15-digit IMEI or nrf-<IMEI>;\n"
	"'#' comments and blank lines ignored) or is a CSV whose header names a\n"
	"device_id, uuid or imei column; at most 64 MiB and 1,000,000 devices.  Every\n"
	"mistake is reported with its line number and nothing is imported then.\n\n"
	"  --station NAME  the station credential the devices are expected at\n"
	"  --group NAME    the station group the devices are expected at\n"
	"  --batch LABEL   a label for the audit log, e.g. the order number (default: FILE's name)\n"
	"  --dry-run       read and check FILE, import nothing\n";

const char admin_devices_check_help[] =
	"usage: nrfca-admin [--config FILE] devices check DEVICE --station NAME\n\n"
	"Says whether DEVICE (UUID, IMEI or nrf-<IMEI>) is expected at the station or at\n"
	"one of its groups.  Exit status 0 expected, 1 not expected (or an error).\n\n"
	"  --station NAME  the station credential\n";

const char admin_token_groups_help[] =
	"usage: nrfca-admin [--config FILE] token groups [--name NAME [--set G1,G2,... | --clear]]\n\n"
	"Station groups (a line, a factory): without --name, lists every credential\n"
	"with its groups; with --name, shows that credential's groups, or replaces them\n"
	"(--set, at most 16 names of 1 to 64 characters A-Z a-z 0-9 . _ -) or removes\n"
	"them all (--clear).  Profiles name groups in \"groups\", and \"supersede_from\":\n"
	"\"station_group\" lets stations sharing a group finish each other's devices.\n\n"
	"  --name NAME     the credential\n"
	"  --set LIST      its groups, comma-separated\n"
	"  --clear         no groups\n";

static int read_whole(struct admin *a, const char *path, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return admin_fail(a, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return admin_fail(a, "%s is not a regular file", path);
	}
	if ((unsigned long long)st.st_size > DEVLIST_FILE_MAX) {
		close(fd);
		return admin_fail(a, "%s is %lld bytes, more than the limit of %u", path,
				  (long long)st.st_size, DEVLIST_FILE_MAX);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (*buf == NULL) {
		close(fd);
		return admin_fail(a, "out of memory reading %s", path);
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(*buf);
		*buf = NULL;
		return admin_fail(a, "cannot read %s: %s", path, strerror(errno));
	}
	*len = got;
	return 0;
}

/* On a terminal: one line redrawn while a big file is read. */
struct progress {
	const char *name;
	int tty;
	int shown;
};

static void show_progress(void *arg, size_t lines, size_t done, size_t total)
{
	struct progress *p = arg;

	if (!p->tty)
		return;
	fprintf(stderr, "\rreading %s: %zu lines, %3u%%", p->name, lines,
		total ? (unsigned)((done * 100) / total) : 100u);
	p->shown = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int admin_devices_import(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "station", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "batch", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *station = NULL, *group = NULL, *batch = NULL, *file, *base;
	struct progress pr = { 0 };
	struct devlist dl = { 0 };
	struct ledger_cred_info ci;
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;
	char *buf = NULL, *report = NULL;
	long long added = 0;
	size_t len = 0;
	int o, dry = 0, rc = 1;
	double t0;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 's': station = optarg; break;
		case 'g': group = optarg; break;
		case 'b': batch = optarg; break;
		case 'n': dry = 1; break;
		default: return 2;
		}
	}
	if (optind != argc - 1)
		return admin_usage_error(a, optind >= argc ? "needs the FILE of devices" :
					 "one FILE only");
	file = argv[optind];
	if ((station == NULL) == (group == NULL))
		return admin_usage_error(a, "needs exactly one of --station NAME and --group NAME");
	if (batch != NULL && (batch[0] == '\0' || strlen(batch) > LEDGER_BATCH_MAX))
		return admin_usage_error(a, "--batch must be 1 to %d characters", LEDGER_BATCH_MAX);
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	if (batch == NULL)
		batch = strlen(base) <= LEDGER_BATCH_MAX && base[0] != '\0' ? base : "import";

	if (read_whole(a, file, &buf, &len) != 0)
		return 1;
	report = malloc(DEVLIST_ERRORS_MAX * 256 + 64);
	if (report == NULL) {
		free(buf);
		return admin_fail(a, "out of memory");
	}
	pr.name = file;
	pr.tty = isatty(STDERR_FILENO);
	if (devlist_parse(buf, len, file, &dl, report, DEVLIST_ERRORS_MAX * 256 + 64, show_progress,
			  &pr, &e) != 0) {
		if (pr.shown)
			fputc('\n', stderr);
		if (report[0] != '\0')
			fputs(report, stderr);
		else
			fprintf(stderr, "%s\n", e.msg);
		admin_fail(a, "nothing imported");
		goto out;
	}
	if (pr.shown)
		fputc('\n', stderr);
	printf("%s: %zu device%s (%s%s), %zu listed twice\n", file, dl.n, dl.n == 1 ? "" : "s",
	       dl.csv ? "CSV, column " : "one per line", dl.csv ? dl.column : "", dl.duplicates);
	if (dry) {
		printf("dry run: nothing imported\n");
		rc = 0;
		goto out;
	}
	if ((l = admin_open_ledger(a)) == NULL)
		goto out;
	if (station != NULL) {
		int r = ledger_cred_get(l, station, &ci, &e);

		if (r < 0) {
			admin_fail(a, "%s", e.msg);
			goto out;
		}
		if (r == 1 || ci.role != ROLE_STATION) {
			admin_fail(a, "there is no station credential '%s' (nrfca-admin token list)",
				   station);
			goto out;
		}
	}
	if (pr.tty)
		fprintf(stderr, "importing %zu devices in one transaction...\n", dl.n);
	t0 = now_s();
	if (ledger_expected_import(l, station ? LEDGER_SCOPE_STATION : LEDGER_SCOPE_GROUP,
				   station ? station : group, batch, (const char *const *)dl.ids, dl.n,
				   admin_actor(), &added, &e) != 0) {
		admin_fail(a, "%s (nothing imported)", e.msg);
		goto out;
	}
	printf("imported %lld new device%s for %s '%s' (%lld already expected there), batch '%s', "
	       "in %.1f s\n", added, added == 1 ? "" : "s", station ? "station" : "group",
	       station ? station : group, (long long)dl.n - added, batch, now_s() - t0);
	rc = 0;
out:
	devlist_free(&dl);
	ledger_close(l);
	free(report);
	free(buf);
	return rc;
}

int admin_devices_check(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "station", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *station = NULL;
	char id[DEVLIST_ID_MAX + 1], why[160];
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int o, expected = 0, rc;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 's')
			return 2;
		station = optarg;
	}
	if (optind != argc - 1)
		return admin_usage_error(a, "needs one DEVICE");
	if (station == NULL)
		return admin_usage_error(a, "needs --station NAME");
	if (devlist_normalise(argv[optind], strlen(argv[optind]), id, why, sizeof(why)) != 0)
		return admin_usage_error(a, "%s", why);
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (ledger_expected_check(l, id, station, &expected, &e) != 0) {
		rc = admin_fail(a, "%s", e.msg);
	} else {
		printf("%s is %sexpected at station '%s' or its groups\n", id, expected ? "" : "not ",
		       station);
		rc = expected ? 0 : 1;
	}
	ledger_close(l);
	return rc;
}

static int print_groups(const struct ledger_cred_info *c, void *arg)
{
	int i;

	(void)arg;
	printf("%-32s %-9s ", c->name, cred_role_name(c->role));
	for (i = 0; i < c->n_groups; i++)
		printf("%s%s", i ? "," : "", c->groups[i]);
	printf("%s\n", c->n_groups == 0 ? "-" : "");
	return 0;
}

int admin_token_groups(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "set", required_argument, NULL, 's' },
		{ "clear", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *set = NULL, *g[LEDGER_CRED_GROUPS_MAX];
	struct ledger_cred_info ci;
	struct nrfca_err e = { 0 };
	struct ledger *l;
	char *copy = NULL, *tok, *save = NULL;
	size_t n = 0;
	int o, clear = 0, rc = 1, r;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'n': name = optarg; break;
		case 's': set = optarg; break;
		case 'c': clear = 1; break;
		default: return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if ((set != NULL || clear) && name == NULL)
		return admin_usage_error(a, "--set and --clear need --name NAME");
	if (set != NULL && clear)
		return admin_usage_error(a, "--set or --clear, not both");
	if (set != NULL) {
		copy = strdup(set);
		if (copy == NULL)
			return admin_fail(a, "out of memory");
		for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
			if (n == LEDGER_CRED_GROUPS_MAX) {
				free(copy);
				return admin_usage_error(a, "at most %d groups", LEDGER_CRED_GROUPS_MAX);
			}
			g[n++] = tok;
		}
		if (n == 0) {
			free(copy);
			return admin_usage_error(a, "--set needs at least one group (or use --clear)");
		}
	}
	if ((l = admin_open_ledger(a)) == NULL) {
		free(copy);
		return 1;
	}
	if (name == NULL) {
		printf("%-32s %-9s %s\n", "NAME", "ROLE", "GROUPS");
		rc = ledger_cred_each(l, print_groups, NULL, &e) == 0 ? 0 : admin_fail(a, "%s", e.msg);
		goto out;
	}
	if ((set != NULL || clear) &&
	    ledger_cred_set_groups(l, name, g, n, admin_actor(), &e) != 0) {
		admin_fail(a, "%s", e.msg);
		goto out;
	}
	r = ledger_cred_get(l, name, &ci, &e);
	if (r != 0) {
		if (r < 0)
			admin_fail(a, "%s", e.msg);
		else
			admin_fail(a, "there is no credential '%s' (nrfca-admin token list)", name);
		goto out;
	}
	print_groups(&ci, NULL);
	rc = 0;
out:
	ledger_close(l);
	free(copy);
	return rc;
}
