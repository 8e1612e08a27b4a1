/* nrfca-admin token / revoke / crl / list / audit / policy: day-to-day operations. */
#include "admin.h"

#include <getopt.h>
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

static struct ledger *open_ledger(struct nrfca_config *c, const char *who)
{
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;

	if (c->database == NULL) {
		fprintf(stderr, "nrfca-admin %s: %s: $.database is not set\n", who, c->path);
		return NULL;
	}
	if (ledger_open(c->database, &l, &e) != 0) {
		fprintf(stderr, "nrfca-admin %s: %s\n", who, e.msg);
		return NULL;
	}
	return l;
}

static const char *actor(void)
{
	const char *u = getenv("SUDO_USER");

	if (u == NULL || u[0] == '\0')
		u = getenv("USER");
	return u && u[0] ? u : "nrfca-admin";
}

/* ---- token add | list | disable ---- */

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

static void token_usage(FILE *f)
{
	fprintf(f, "usage: nrfca-admin token add --name NAME --role station|operator|auditor [--quiet]\n"
		   "       nrfca-admin token list\n"
		   "       nrfca-admin token disable --name NAME\n\n"
		   "add prints the new secret once; only its SHA-256 is stored.  Give it to the\n"
		   "station or tool as 'Authorization: Bearer <secret>'.  --quiet prints the\n"
		   "secret alone (for scripts: ... --quiet > station.token).\n");
}

int admin_token(struct nrfca_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *role = NULL, *sub;
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;
	int o, quiet = 0, rc = 1;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		token_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			name = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			token_usage(stdout);
			return 0;
		default:
			token_usage(stderr);
			return 2;
		}
	}
	if (strcmp(sub, "add") == 0) {
		char secret[AUTH_SECRET_LEN + 1];
		unsigned char h[32];
		int r;

		if (name == NULL || role == NULL || (r = cred_role_from_name(role)) < 0) {
			fprintf(stderr, "nrfca-admin token add: needs --name NAME and --role "
				"station|operator|auditor\n");
			return 2;
		}
		if ((l = open_ledger(c, "token add")) == NULL)
			return 1;
		if (auth_new_secret(secret, &e) != 0)
			goto fail;
		auth_hash(secret, strlen(secret), h);
		if (ledger_cred_add(l, name, (enum cred_role)r, h, actor(), &e) != 0) {
			OPENSSL_cleanse(secret, sizeof(secret));
			goto fail;
		}
		if (quiet)
			printf("%s\n", secret);
		else
			printf("created %s credential '%s'.  The secret is shown only this once:\n\n"
			       "  %s\n\nsend it as 'Authorization: Bearer <secret>'\n", role, name,
			       secret);
		OPENSSL_cleanse(secret, sizeof(secret));
		rc = 0;
	} else if (strcmp(sub, "list") == 0) {
		if ((l = open_ledger(c, "token list")) == NULL)
			return 1;
		printf("%-32s %-9s %-9s %s\n", "NAME", "ROLE", "STATE", "CREATED");
		if (ledger_cred_list(l, token_list_cb, NULL, &e) != 0)
			goto fail;
		rc = 0;
	} else if (strcmp(sub, "disable") == 0) {
		if (name == NULL) {
			fprintf(stderr, "nrfca-admin token disable: needs --name NAME\n");
			return 2;
		}
		if ((l = open_ledger(c, "token disable")) == NULL)
			return 1;
		if (ledger_cred_disable(l, name, actor(), &e) != 0)
			goto fail;
		printf("disabled credential '%s' (a running server stops accepting it within 5 s)\n",
		       name);
		rc = 0;
	} else {
		token_usage(stderr);
		return 2;
	}
	goto out;
fail:
	fprintf(stderr, "nrfca-admin token %s: %s\n", sub, e.msg);
out:
	ledger_close(l);
	return rc;
}

/* ---- revoke / crl need the CA ---- */

struct admin_ca {
	struct signer *s;
	struct ledger *l;
	struct ca *ca;
};

static int open_ca(struct nrfca_config *c, struct admin_ca *a, const char *who)
{
	struct ca_options co = { .chain_path = c->ca_chain,
				 .crl_next_update_hours = c->crl_next_update_hours };
	struct nrfca_err e = { 0 };

	memset(a, 0, sizeof(*a));
	if ((a->l = open_ledger(c, who)) == NULL)
		return -1;
	if ((a->s = admin_open_signer(c, &e)) == NULL || ca_open(&co, a->s, a->l, &a->ca, &e) != 0) {
		fprintf(stderr, "nrfca-admin %s: %s\n", who, e.msg);
		return -1;
	}
	return 0;
}

static void close_ca(struct admin_ca *a)
{
	ca_free(a->ca);
	signer_free(a->s);
	ledger_close(a->l);
}

int admin_revoke(struct nrfca_config *c, int argc, char **argv)
{
	struct principal who;
	struct ca_result res;
	struct admin_ca a;
	const char *reason = "unspecified";
	int rc = 1;

	if (argc < 2 || argc > 4 || strcmp(argv[1], "--help") == 0 ||
	    (argc >= 3 && strcmp(argv[2], "--reason") != 0) || argc == 3) {
		int help = argc >= 2 && strcmp(argv[1], "--help") == 0;

		fprintf(help ? stdout : stderr,
			"usage: nrfca-admin revoke SERIAL [--reason REASON]\n\n"
			"REASON is an RFC 5280 name: unspecified (default), keyCompromise,\n"
			"cACompromise, affiliationChanged, superseded, cessationOfOperation,\n"
			"certificateHold, privilegeWithdrawn, aACompromise.  The CRL is re-signed.\n");
		return help ? 0 : 2;
	}
	if (argc == 4)
		reason = argv[3];
	if (open_ca(c, &a, "revoke") != 0)
		goto out;
	memset(&who, 0, sizeof(who));
	snprintf(who.name, sizeof(who.name), "%s", actor());
	who.role = ROLE_OPERATOR;
	ca_revoke(a.ca, &who, argv[1], reason, &res);
	if (res.status == 200) {
		printf("revoked %s (%s); the CRL was re-signed\n", argv[1], reason);
		rc = 0;
	} else {
		fprintf(stderr, "nrfca-admin revoke: %s\n", res.detail);
	}
	ca_result_clear(&res);
out:
	close_ca(&a);
	return rc;
}

int admin_crl(struct nrfca_config *c, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	struct admin_ca a;
	unsigned char *der = NULL;
	const unsigned char *p;
	const char *out = NULL;
	size_t len = 0;
	X509_CRL *crl = NULL;
	FILE *f = stdout;
	int der_out = 0, rc = 1, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--der") == 0)
			der_out = 1;
		else {
			int help = strcmp(argv[i], "--help") == 0;

			fprintf(help ? stdout : stderr,
				"usage: nrfca-admin crl [--out FILE] [--der]\n\n"
				"Signs a new CRL in the token (v2, next CRL number) and writes it as PEM\n"
				"(or DER with --der) to FILE or standard output.\n");
			return help ? 0 : 2;
		}
	}
	if (open_ca(c, &a, "crl") != 0)
		goto out;
	if (ca_crl_refresh(a.ca, &e) != 0 || ca_crl_der(a.ca, &der, &len, &e) != 0) {
		fprintf(stderr, "nrfca-admin crl: %s\n", e.msg);
		goto out;
	}
	if (out && (f = fopen(out, "wb")) == NULL) {
		fprintf(stderr, "nrfca-admin crl: cannot write %s\n", out);
		goto out;
	}
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (der_out ? fwrite(der, 1, len, f) != len : (crl == NULL || PEM_write_X509_CRL(f, crl) != 1))
		fprintf(stderr, "nrfca-admin crl: cannot write the CRL\n");
	else
		rc = 0;
	if (out)
		fclose(f);
out:
	X509_CRL_free(crl);
	free(der);
	close_ca(&a);
	return rc;
}

/* ---- list ---- */

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

int admin_list(struct nrfca_config *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "station", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ledger_filter f;
	struct nrfca_err e = { 0 };
	struct ledger *l;
	int o, rc = 1;

	memset(&f, 0, sizeof(f));
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': f.device_id = optarg; break;
		case 's': f.status = optarg; break;
		case 'p': f.profile = optarg; break;
		case 't': f.station = optarg; break;
		case 'l': f.limit = atoi(optarg); break;
		default:
			fprintf(o == 'h' ? stdout : stderr,
				"usage: nrfca-admin list [--device ID] [--status active|revoked]\n"
				"                        [--profile P] [--station S] [--limit N]\n");
			return o == 'h' ? 0 : 2;
		}
	}
	if ((l = open_ledger(c, "list")) == NULL)
		return 1;
	printf("%-32s %-8s %-38s %-16s %-16s %s\n", "SERIAL", "STATUS", "DEVICE", "PROFILE",
	       "STATION", "NOT AFTER");
	if (ledger_list(l, &f, list_cb, NULL, &e) != 0)
		fprintf(stderr, "nrfca-admin list: %s\n", e.msg);
	else
		rc = 0;
	ledger_close(l);
	return rc;
}

/* ---- audit verify ---- */

int admin_audit(struct nrfca_config *c, int argc, char **argv)
{
	struct nrfca_err e = { 0 };
	long long n = 0, broken = 0;
	struct ledger *l;
	char why[256] = "";
	int r;

	if (argc != 2 || strcmp(argv[1], "verify") != 0) {
		int help = argc == 2 && strcmp(argv[1], "--help") == 0;

		fprintf(help ? stdout : stderr,
			"usage: nrfca-admin audit verify\n\n"
			"Walks the hash chain of the audit log and reports the first broken link.\n"
			"Exit 0 intact, 1 broken or unreadable.\n");
		return help ? 0 : 2;
	}
	if ((l = open_ledger(c, "audit verify")) == NULL)
		return 1;
	r = ledger_audit_verify(l, &n, &broken, why, sizeof(why), &e);
	ledger_close(l);
	if (r < 0) {
		fprintf(stderr, "nrfca-admin audit verify: %s\n", e.msg);
		return 1;
	}
	if (r == 1) {
		printf("BROKEN  the audit chain breaks at entry %lld: %s\n", broken, why);
		return 1;
	}
	printf("ok    the audit chain of %lld entries is intact\n", n);
	return 0;
}

/* ---- policy check (needs no configuration) ---- */

int admin_policy(struct nrfca_config *c, int argc, char **argv)
{
	struct nrfca_err e = { 0 };

	(void)c;
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		int help = argc == 2 && strcmp(argv[1], "--help") == 0;

		fprintf(help ? stdout : stderr,
			"usage: nrfca-admin policy check FILE\n\n"
			"Loads a policy file as the server would and prints its profiles, or the\n"
			"file, the JSON path and the reason of the first mistake.\n");
		return help ? 0 : 2;
	}
	if (policy_check_file(argv[2], stdout, &e) != 0) {
		fprintf(stderr, "nrfca-admin policy check: %s\n", e.msg);
		return 1;
	}
	return 0;
}
