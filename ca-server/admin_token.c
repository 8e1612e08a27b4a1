/* nrfca-admin token add / list / disable / enable / rotate: API credentials. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "auth.h"
#include "ledger.h"
#include "timefmt.h"

static const char *role_name(int r)
{
	return cred_role_name((enum cred_role)r);
}

/* "station, operator, auditor" */
static const char *role_list(void)
{
	static char buf[128];

	return admin_names_joined(buf, sizeof(buf), role_name, ROLE_MAX, -1);
}

#define EXPIRES_HELP \
	"  --expires WHEN  refuse the credential from then on (401, saying it\n" \
	"                  expired): an RFC 3339 date or time (2027-01-31 is 00:00\n" \
	"                  UTC that day; 2027-01-31T18:00:00+01:00) or a period\n" \
	"                  from now: 90d, 12h\n"

/* --expires: a period from now or an RFC 3339 time, in the future; "never"
 * (0) where allowed.  0, or 2 after printing the error. */
static int parse_expires(struct admin *a, const char *s, int never_ok, long long *out)
{
	long long now = (long long)time(NULL), n;
	char *end;

	if (never_ok && strcmp(s, "never") == 0) {
		*out = 0;
		return 0;
	}
	if (s[0] >= '0' && s[0] <= '9' && strchr("dh", s[strlen(s) - 1]) != NULL &&
	    strlen(s) < 8) {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno == 0 && end == s + strlen(s) - 1 && n > 0) {
			*out = now + n * (*end == 'd' ? 86400 : 3600);
			return 0;
		}
	}
	if (nrfca_time_parse(s, out) != 0)
		return admin_usage_error(a, "--expires '%s' is not a period (90d, 12h), an RFC 3339 "
					 "date or time (2027-01-31, 2027-01-31T18:00:00Z)%s", s,
					 never_ok ? " or never" : "");
	if (*out <= now)
		return admin_usage_error(a, "--expires '%s' is in the past", s);
	return 0;
}

static const char *when(long long t, char buf[NRFCA_TIME_ISO_LEN], const char *none)
{
	if (t <= 0)
		return none;
	nrfca_time_iso(t, buf);
	return buf;
}

/* Print a new secret: alone (--quiet) or with how to use it. */
static void show_secret(const char *secret, int quiet, const char *what, const char *name,
			long long expires)
{
	char ex[NRFCA_TIME_ISO_LEN];

	if (quiet) {
		printf("%s\n", secret);
		return;
	}
	printf("%s '%s'.  The secret is shown only this once:\n\n  %s\n\n"
	       "send it as 'Authorization: Bearer <secret>'", what, name, secret);
	if (expires > 0)
		printf("; it expires %s", when(expires, ex, ""));
	printf("\n");
}

/* The options of the commands that make a secret (add, rotate). */
struct secret_opts {
	const char *name, *role;
	int role_code;
	long long expires;            /* -1: not given; 0: never */
	int quiet;
};

/* role_ok: --role is accepted (add); never_ok: --expires never (rotate).
 * 0, or 2 after printing the error. */
static int secret_opts(struct admin *a, int argc, char **argv, int role_ok, int never_ok,
		       struct secret_opts *so)
{
	static const struct option with_role[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "expires", required_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option without_role[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "expires", required_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	memset(so, 0, sizeof(*so));
	so->expires = -1;
	so->role_code = -1;
	while ((o = admin_getopt(a, argc, argv, role_ok ? with_role : without_role)) != -1) {
		switch (o) {
		case 'n':
			so->name = optarg;
			break;
		case 'r':
			so->role = optarg;
			if ((so->role_code = cred_role_from_name(optarg)) < 0)
				return admin_usage_error(a, "--role '%s' is not a role; the roles are "
							 "%s", optarg, role_list());
			break;
		case 'e':
			if (parse_expires(a, optarg, never_ok, &so->expires) != 0)
				return 2;
			break;
		case 'q':
			so->quiet = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (so->name == NULL || so->name[0] == '\0')
		return admin_usage_error(a, "needs --name NAME");
	if (role_ok && so->role == NULL)
		return admin_usage_error(a, "needs --role ROLE (%s)", role_list());
	return 0;
}

/* ---- token add ---- */

const char admin_token_add_help[] =
	"usage: nrfca-admin [--config FILE] token add --name NAME --role ROLE [--expires WHEN]\n"
	"                   [--quiet]\n\n"
	"Creates an API credential and prints its secret once; only its SHA-256 is\n"
	"stored.  Give it to the station or tool as 'Authorization: Bearer <secret>'.\n"
	"Audited as cred_add.\n\n"
	"  --name NAME     the credential's name (a station's name, a tool's name)\n"
	"  --role ROLE     station (enrolls), operator (lists, revokes) or auditor (lists)\n"
	EXPIRES_HELP
	"  --quiet         print the secret alone (for scripts: ... --quiet > station.token)\n";

int admin_token_add(struct admin *a, int argc, char **argv)
{
	struct ledger_cred_opts co = { 0 };
	char secret[AUTH_SECRET_LEN + 1], what[96];
	struct secret_opts so;
	unsigned char h[32];
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;
	int rc = 1;

	if (secret_opts(a, argc, argv, 1, 0, &so) != 0)
		return 2;
	co.expires_at = so.expires > 0 ? so.expires : 0;
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (auth_new_secret(secret, &e) != 0)
		goto fail;
	auth_hash(secret, strlen(secret), h);
	if (ledger_cred_add_opts(l, so.name, (enum cred_role)so.role_code, h, &co, admin_actor(),
				 &e) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		goto fail;
	}
	snprintf(what, sizeof(what), "created %s credential", so.role);
	show_secret(secret, so.quiet, what, so.name, co.expires_at);
	OPENSSL_cleanse(secret, sizeof(secret));
	rc = 0;
	goto out;
fail:
	admin_fail(a, "%s", e.msg);
out:
	ledger_close(l);
	return rc;
}

/* ---- token list ---- */

const char admin_token_list_help[] =
	"usage: nrfca-admin [--config FILE] token list [--json]\n\n"
	"Lists the API credentials: name, role, state (active, disabled, expired),\n"
	"creation, last use (updated at most once a minute) and expiry.\n\n"
	"  --json  one JSON object per line instead of a table\n";

static int list_row(const struct ledger_cred_info *c, void *arg)
{
	char t1[NRFCA_TIME_ISO_LEN], t2[NRFCA_TIME_ISO_LEN], t3[NRFCA_TIME_ISO_LEN];
	const char *state = c->disabled ? "disabled" : c->expired ? "expired" : "active";
	int json = *(int *)arg;

	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "name", c->name, "role",
				      cred_role_name(c->role), "state", state, "created",
				      when(c->created, t1, "-"), "last_used",
				      c->last_used > 0 ? when(c->last_used, t2, NULL) : NULL,
				      "expires", c->expires_at > 0 ? when(c->expires_at, t3, NULL) :
				      NULL);
		char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (txt != NULL)
			printf("%s\n", txt);
		free(txt);
		json_decref(o);
		return txt == NULL;
	}
	printf("%-24s %-9s %-9s %-21s %-21s %s\n", c->name, cred_role_name(c->role), state,
	       when(c->created, t1, "-"), when(c->last_used, t2, "never"),
	       when(c->expires_at, t3, "never"));
	return 0;
}

int admin_token_list(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int o, json = 0, rc = 0;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'j')
			return 2;
		json = 1;
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if (!json)
		printf("%-24s %-9s %-9s %-21s %-21s %s\n", "NAME", "ROLE", "STATE", "CREATED",
		       "LAST USED", "EXPIRES");
	if (ledger_cred_each(l, list_row, &json, &e) != 0)
		rc = admin_fail(a, "%s", e.msg);
	ledger_close(l);
	return rc;
}

/* ---- token disable / enable: --name only ---- */

const char admin_token_disable_help[] =
	"usage: nrfca-admin [--config FILE] token disable --name NAME\n\n"
	"Disables a credential; a running server refuses it within 2 s.  Audited as\n"
	"cred_disable; `token enable` undoes it.\n\n"
	"  --name NAME   the credential to disable\n";

const char admin_token_enable_help[] =
	"usage: nrfca-admin [--config FILE] token enable --name NAME\n\n"
	"Accepts a disabled credential again (with the secret it had; `token rotate`\n"
	"gives it a new one).  Audited as cred_enable.\n\n"
	"  --name NAME   the credential to enable\n";

static int name_only(struct admin *a, int argc, char **argv, const char **name)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*name = NULL;
	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'n')
			return 2;
		*name = optarg;
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (*name == NULL || (*name)[0] == '\0')
		return admin_usage_error(a, "needs --name NAME");
	return 0;
}

static int set_disabled(struct admin *a, int argc, char **argv, int disable)
{
	struct nrfca_err e = { 0 };
	const char *name;
	struct ledger *l;
	int rc = 0;

	if (name_only(a, argc, argv, &name) != 0)
		return 2;
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if ((disable ? ledger_cred_disable : ledger_cred_enable)(l, name, admin_actor(), &e) != 0)
		rc = admin_fail(a, "%s", e.msg);
	else if (disable)
		printf("disabled credential '%s' (a running server refuses it within 2 s)\n", name);
	else
		printf("enabled credential '%s' (a running server accepts it within 2 s)\n", name);
	ledger_close(l);
	return rc;
}

int admin_token_disable(struct admin *a, int argc, char **argv)
{
	return set_disabled(a, argc, argv, 1);
}

int admin_token_enable(struct admin *a, int argc, char **argv)
{
	return set_disabled(a, argc, argv, 0);
}

/* ---- token rotate ---- */

const char admin_token_rotate_help[] =
	"usage: nrfca-admin [--config FILE] token rotate --name NAME [--expires WHEN|never]\n"
	"                   [--quiet]\n\n"
	"Gives a credential a new secret, printed once; the old secret is refused\n"
	"from then on (by a running server within 2 s).  Name, role, groups and\n"
	"client-certificate bindings stay.  Audited as cred_rotate (and cred_expiry).\n\n"
	"  --name NAME     the credential\n"
	EXPIRES_HELP
	"                  or never; without --expires the expiry stays as it was\n"
	"  --quiet         print the secret alone\n";

int admin_token_rotate(struct admin *a, int argc, char **argv)
{
	char secret[AUTH_SECRET_LEN + 1];
	struct ledger_cred_info ci;
	struct nrfca_err e = { 0 };
	struct secret_opts so;
	struct ledger *l = NULL;
	unsigned char h[32];
	long long expires;
	int rc = 1, r;

	if (secret_opts(a, argc, argv, 0, 1, &so) != 0)
		return 2;
	if ((l = admin_open_ledger(a)) == NULL)
		return 1;
	if ((r = ledger_cred_get(l, so.name, &ci, &e)) != 0) {
		if (r == 1)
			nrfca_err_set(&e, NRFCA_E_NOTFOUND, "no credential named '%s' (token list shows "
				      "them)", so.name);
		goto fail;
	}
	if (auth_new_secret(secret, &e) != 0)
		goto fail;
	auth_hash(secret, strlen(secret), h);
	if (ledger_cred_rotate(l, so.name, h, admin_actor(), &e) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		goto fail;
	}
	OPENSSL_cleanse(h, sizeof(h));
	if (so.expires >= 0 &&
	    ledger_cred_set_expiry(l, so.name, so.expires, admin_actor(), &e) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		admin_fail(a, "the secret was rotated but the expiry was not changed: %s", e.msg);
		goto out;
	}
	expires = so.expires >= 0 ? so.expires : ci.expires_at;
	show_secret(secret, so.quiet, "new secret for credential", so.name, expires);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (!so.quiet && ci.disabled)
		printf("the credential is still disabled: `nrfca-admin token enable --name %s`\n",
		       so.name);
	if (!so.quiet && expires > 0 && expires <= (long long)time(NULL))
		printf("the credential has expired: give --expires to extend it\n");
	rc = 0;
	goto out;
fail:
	admin_fail(a, "%s", e.msg);
out:
	ledger_close(l);
	return rc;
}
