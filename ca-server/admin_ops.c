/* nrfca-admin token / revoke / crl / list / audit / policy: day-to-day operations. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth.h"
#include "b64url.h"
#include "ca.h"
#include "ledger.h"
#include "policy.h"
#include "policy_store.h"
#include "signer.h"

static struct ledger *open_ledger(struct admin *a)
{
	struct nrfca_err e = { 0 };
	struct nrfca_config *c = admin_config(a);
	struct ledger *l = NULL;

	if (c == NULL)
		return NULL;
	if (c->database == NULL) {
		admin_fail(a, "%s: $.database is not set", c->path);
		return NULL;
	}
	if (ledger_open(c->database, &l, &e) != 0) {
		admin_fail(a, "%s", e.msg);
		return NULL;
	}
	return l;
}

/* "a, b, c": the names of codes 0..max-1 that have one, except `skip` */
static const char *names_joined(char *buf, size_t n, const char *(*name)(int), int max, int skip)
{
	size_t used = 0;
	int i;

	if (buf[0] != '\0')
		return buf;
	for (i = 0; i < max; i++)
		if (i != skip && name(i) != NULL)
			used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s",
						 used ? ", " : "", name(i));
	return buf;
}

static const char *role_name(int r)
{
	return cred_role_name((enum cred_role)r);
}

/* "station, operator, auditor" */
static const char *role_list(void)
{
	static char buf[128];

	return names_joined(buf, sizeof(buf), role_name, ROLE_MAX, -1);
}

/* the reasons an operator may give: "unspecified, keyCompromise, ..." */
static const char *reason_list(void)
{
	static char buf[256];

	return names_joined(buf, sizeof(buf), crl_reason_name, CRL_REASON_MAX,
			    CRL_REASON_REMOVE_FROM_CRL);
}

/* ---- token add | list | disable ---- */

const char admin_token_add_help[] =
	"usage: nrfca-admin [--config FILE] token add --name NAME --role ROLE [--quiet]\n\n"
	"Creates an API credential and prints its secret once; only its SHA-256 is\n"
	"stored.  Give it to the station or tool as 'Authorization: Bearer <secret>'.\n\n"
	"  --name NAME   the credential's name (a station's name, a tool's name)\n"
	"  --role ROLE   station (enrolls), operator (lists, revokes) or auditor (lists)\n"
	"  --quiet       print the secret alone (for scripts: ... --quiet > station.token)\n";

const char admin_token_list_help[] =
	"usage: nrfca-admin [--config FILE] token list\n\n"
	"Lists the API credentials: name, role, state and creation time.\n";

const char admin_token_disable_help[] =
	"usage: nrfca-admin [--config FILE] token disable --name NAME\n\n"
	"Disables a credential; a running server refuses it within 5 s.\n\n"
	"  --name NAME   the credential to disable\n";

static int token_list_cb(const char *name, enum cred_role role, int disabled, long long created,
			 void *arg)
{
	char when[32];
	time_t t = (time_t)created;
	struct tm tm;

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-32s %-9s %-9s %s\n", name, cred_role_name(role), disabled ? "disabled" : "active",
	       when);
	return 0;
}

int admin_token_add(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	char secret[AUTH_SECRET_LEN + 1];
	unsigned char h[32];
	const char *name = NULL, *role = NULL;
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;
	int o, r = -1, quiet = 0, rc = 1;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'n':
			name = optarg;
			break;
		case 'r':
			role = optarg;
			if ((r = cred_role_from_name(role)) < 0)
				return admin_usage_error(a, "--role '%s' is not a role; the roles are "
							 "%s", role, role_list());
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (name == NULL || name[0] == '\0')
		return admin_usage_error(a, "needs --name NAME");
	if (role == NULL)
		return admin_usage_error(a, "needs --role ROLE (%s)", role_list());
	if ((l = open_ledger(a)) == NULL)
		return 1;
	if (auth_new_secret(secret, &e) != 0)
		goto fail;
	auth_hash(secret, strlen(secret), h);
	if (ledger_cred_add(l, name, (enum cred_role)r, h, admin_actor(), &e) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		goto fail;
	}
	if (quiet)
		printf("%s\n", secret);
	else
		printf("created %s credential '%s'.  The secret is shown only this once:\n\n"
		       "  %s\n\nsend it as 'Authorization: Bearer <secret>'\n", role, name, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	rc = 0;
	goto out;
fail:
	admin_fail(a, "%s", e.msg);
out:
	ledger_close(l);
	return rc;
}

int admin_token_list(struct admin *a, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int rc = 0;

	if (admin_positional(a, argc, argv, 0) != 0)
		return 2;
	if ((l = open_ledger(a)) == NULL)
		return 1;
	printf("%-32s %-9s %-9s %s\n", "NAME", "ROLE", "STATE", "CREATED");
	if (ledger_cred_list(l, token_list_cb, NULL, &e) != 0)
		rc = admin_fail(a, "%s", e.msg);
	ledger_close(l);
	return rc;
}

int admin_token_disable(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int o, rc = 0;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'n')
			return 2;
		name = optarg;
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (name == NULL || name[0] == '\0')
		return admin_usage_error(a, "needs --name NAME");
	if ((l = open_ledger(a)) == NULL)
		return 1;
	if (ledger_cred_disable(l, name, admin_actor(), &e) != 0)
		rc = admin_fail(a, "%s", e.msg);
	else
		printf("disabled credential '%s' (a running server stops accepting it within 5 s)\n",
		       name);
	ledger_close(l);
	return rc;
}

/* ---- revoke / crl need the CA ---- */

struct admin_ca {
	struct signer *s;
	struct ledger *l;
	struct ca *ca;
};

static int open_ca(struct admin *a, struct admin_ca *ac)
{
	struct nrfca_config *c = admin_config(a);
	struct nrfca_err e = { 0 };
	struct ca_options co;

	memset(ac, 0, sizeof(*ac));
	if (c == NULL || (ac->l = open_ledger(a)) == NULL)
		return -1;
	co.chain_path = c->ca_chain;
	co.crl_next_update_hours = c->crl_next_update_hours;
	if ((ac->s = admin_open_signer(c, &e)) == NULL ||
	    ca_open(&co, ac->s, ac->l, &ac->ca, &e) != 0) {
		admin_fail(a, "%s", e.msg);
		return -1;
	}
	return 0;
}

static void close_ca(struct admin_ca *ac)
{
	ca_free(ac->ca);
	signer_free(ac->s);
	ledger_close(ac->l);
}

const char admin_revoke_help[] =
	"usage: nrfca-admin [--config FILE] revoke [--reason REASON] SERIAL\n\n"
	"Revokes the certificate with that serial (hexadecimal, as `list` shows it)\n"
	"and re-signs the CRL.\n\n"
	"  --reason REASON  an RFC 5280 reason: unspecified (default), keyCompromise,\n"
	"                   cACompromise, affiliationChanged, superseded,\n"
	"                   cessationOfOperation, certificateHold, privilegeWithdrawn,\n"
	"                   aACompromise\n";

int admin_revoke(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct principal who;
	struct ca_result res;
	struct admin_ca ac;
	const char *reason = "unspecified", *serial;
	int o, code, rc = 1;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		if (o != 'r')
			return 2;
		reason = optarg;
		code = crl_reason_from_name(reason);
		if (code < 0 || code == CRL_REASON_REMOVE_FROM_CRL)
			return admin_usage_error(a, "--reason '%s' is not an RFC 5280 reason; use "
						 "one of %s", reason, reason_list());
	}
	if (optind >= argc)
		return admin_usage_error(a, "needs the SERIAL of the certificate to revoke");
	if (optind + 1 < argc)
		return admin_usage_error(a, "unexpected argument '%s' (one SERIAL at a time)",
					 argv[optind + 1]);
	serial = argv[optind];
	if (open_ca(a, &ac) != 0)
		goto out;
	memset(&who, 0, sizeof(who));
	snprintf(who.name, sizeof(who.name), "%s", admin_actor());
	who.role = ROLE_OPERATOR;
	ca_revoke(ac.ca, &who, serial, reason, &res);
	if (res.status == 200) {
		printf("revoked %s (%s); the CRL was re-signed\n", serial, reason);
		rc = 0;
	} else {
		admin_fail(a, "%s", res.detail);
	}
	ca_result_clear(&res);
out:
	close_ca(&ac);
	return rc;
}

const char admin_crl_help[] =
	"usage: nrfca-admin [--config FILE] crl [--out FILE] [--der]\n\n"
	"Signs a new CRL in the token (v2, next CRL number) and writes it as PEM\n"
	"(or DER) to FILE or standard output.\n\n"
	"  --out FILE  write the CRL to FILE instead of standard output\n"
	"  --der       DER instead of PEM\n";

int admin_crl(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "der", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_err e = { 0 };
	struct admin_ca ac;
	unsigned char *der = NULL;
	const unsigned char *p;
	const char *out = NULL;
	size_t len = 0;
	X509_CRL *crl = NULL;
	FILE *f = stdout;
	int der_out = 0, rc = 1, o;

	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'o':
			out = optarg;
			break;
		case 'd':
			der_out = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if (open_ca(a, &ac) != 0)
		goto out;
	if (ca_crl_refresh(ac.ca, &e) != 0 || ca_crl_der(ac.ca, &der, &len, &e) != 0) {
		admin_fail(a, "%s", e.msg);
		goto out;
	}
	if (out && (f = fopen(out, "wb")) == NULL) {
		admin_fail(a, "cannot write %s: %s", out, strerror(errno));
		goto out;
	}
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (der_out ? fwrite(der, 1, len, f) != len : (crl == NULL || PEM_write_X509_CRL(f, crl) != 1))
		admin_fail(a, "cannot write the CRL");
	else
		rc = 0;
	if (out && fclose(f) != 0 && rc == 0)
		rc = admin_fail(a, "cannot write %s: %s", out, strerror(errno));
out:
	X509_CRL_free(crl);
	free(der);
	close_ca(&ac);
	return rc;
}

/* ---- list ---- */

const char admin_list_help[] =
	"usage: nrfca-admin [--config FILE] list [--device ID] [--status active|revoked]\n"
	"                   [--profile P] [--station S] [--limit N]\n\n"
	"Lists issued certificates, newest first.\n\n"
	"  --device ID      only this device\n"
	"  --status S       active or revoked\n"
	"  --profile P      only certificates issued under profile P\n"
	"  --station S      only certificates asked for by credential S\n"
	"  --limit N        at most N rows, 1 to 1000\n";

static int list_cb(const struct cert_record *r, void *arg)
{
	char nb[32];
	time_t t = (time_t)r->not_after;
	struct tm tm;

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(nb, sizeof(nb), "%Y-%m-%d", &tm);
	printf("%-32s %-8s %-38s %-16s %-16s %s\n", r->serial, cert_status_name(r->status),
	       r->device_id, r->profile, r->station, nb);
	return 0;
}

int admin_list(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "station", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct ledger_filter f;
	struct nrfca_err e = { 0 };
	struct ledger *l;
	char *end;
	long n;
	int o, rc = 1;

	memset(&f, 0, sizeof(f));
	while ((o = admin_getopt(a, argc, argv, opts)) != -1) {
		switch (o) {
		case 'd': f.device_id = optarg; break;
		case 's':
			if (cert_status_from_name(optarg) < 0)
				return admin_usage_error(a, "--status '%s' is not a status; use active "
							 "or revoked", optarg);
			f.status = optarg;
			break;
		case 'p': f.profile = optarg; break;
		case 't': f.station = optarg; break;
		case 'l':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || n < 1 || n > 1000)
				return admin_usage_error(a, "--limit '%s' must be a whole number from "
							 "1 to 1000", optarg);
			f.limit = (int)n;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return admin_usage_error(a, "unexpected argument '%s'", argv[optind]);
	if ((l = open_ledger(a)) == NULL)
		return 1;
	printf("%-32s %-8s %-38s %-16s %-16s %s\n", "SERIAL", "STATUS", "DEVICE", "PROFILE",
	       "STATION", "NOT AFTER");
	if (ledger_list(l, &f, list_cb, NULL, &e) != 0)
		admin_fail(a, "%s", e.msg);
	else
		rc = 0;
	ledger_close(l);
	return rc;
}

/* ---- audit verify ---- */

const char admin_audit_verify_help[] =
	"usage: nrfca-admin [--config FILE] audit verify\n\n"
	"Walks the hash chain of the audit log and reports the first broken link.\n"
	"Exit 0 intact, 1 broken or unreadable.\n";

int admin_audit_verify(struct admin *a, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	long long n = 0, broken = 0;
	struct ledger *l;
	char why[256] = "";
	int r;

	if (admin_positional(a, argc, argv, 0) != 0)
		return 2;
	if ((l = open_ledger(a)) == NULL)
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

/* ---- policy check (needs no configuration) ---- */

const char admin_policy_check_help[] =
	"usage: nrfca-admin policy check FILE\n\n"
	"Loads a policy file as the server would and prints its profiles, or the\n"
	"file, the JSON path and the reason of the first mistake.  Needs no\n"
	"configuration.\n";

int admin_policy_check(struct admin *a, int argc, char **argv)
{
	struct nrfca_err e = { 0 };

	if (admin_positional(a, argc, argv, 1) != 0)
		return 2;
	if (optind >= argc)
		return admin_usage_error(a, "needs the policy FILE");
	if (policy_check_file(argv[optind], stdout, &e) != 0)
		return admin_fail(a, "%s", e.msg);
	return 0;
}
