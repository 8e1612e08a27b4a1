/* nrfca-admin revoke / crl / list / audit verify / policy check: day-to-day operations,
 * and helpers the other admin_*.c files share (admin.h). */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "api_decode.h"
#include "auth.h"
#include "b64url.h"
#include "ca.h"
#include "ledger.h"
#include "policy.h"
#include "policy_store.h"
#include "signer.h"

const char *admin_names_joined(char *buf, size_t n, const char *(*name)(int), int max, int skip)
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

/* the reasons an operator may give: "unspecified, keyCompromise, ..." */
static const char *reason_list(void)
{
	static char buf[256];

	return admin_names_joined(buf, sizeof(buf), crl_reason_name, CRL_REASON_MAX,
			    CRL_REASON_REMOVE_FROM_CRL);
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

	memset(&co, 0, sizeof(co));
	memset(ac, 0, sizeof(*ac));
	if (c == NULL || (ac->l = admin_open_ledger(a)) == NULL)
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
	"Revokes the certificate with that serial and re-signs the CRL.  SERIAL is\n"
	"hexadecimal as `list` shows it, or as openssl prints it (either case,\n"
	"colons between bytes).\n\n"
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
	const char *reason = "unspecified";
	char serial[LEDGER_SERIAL_MAX + 1], why[160];
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
	/* as people copy it (openssl x509 -serial / -text): either case, colons */
	if (api_serial(argv[optind], serial, why, sizeof(why)) != API_OK)
		return admin_usage_error(a, "SERIAL '%s': %s", argv[optind], why);
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
	"Signs a new CRL in the token (v2, next CRL number, every revocation in the\n"
	"ledger) and publishes it in the ledger: every nrfca-server on that ledger\n"
	"serves it at GET /v1/crl from its next request on.  Also writes it as PEM\n"
	"(or DER) to FILE or standard output, e.g. for a distribution point that is\n"
	"not nrfca-server.  Audited as crl_publish.\n\n"
	"  --out FILE  write the CRL to FILE instead of standard output\n"
	"  --der       DER instead of PEM\n";

/* crl_publish: the CRL's number, size of its list, validity and SHA-256. */
static int audit_crl(struct ca *ca, struct ledger *l, const unsigned char *der, size_t len,
		     struct nrfca_err *err)
{
	struct ca_crl_info ci;
	unsigned char md[32];
	char hex[65], *txt;
	json_t *d;
	int rc;

	ca_crl_info(ca, &ci);
	SHA256(der, len, md);
	nrfca_hex_encode(md, sizeof(md), hex);
	d = json_pack("{s:I, s:I, s:I, s:I, s:s}", "crl_number", (json_int_t)ci.number, "entries",
		      (json_int_t)ci.entries, "this_update", (json_int_t)ci.this_update,
		      "next_update", (json_int_t)ci.next_update, "sha256", hex);
	txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
	rc = txt ? ledger_audit(l, admin_actor(), "crl_publish", txt, err) :
		   nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	free(txt);
	json_decref(d);
	if (rc == 0)
		fprintf(stderr, "%s: signed and published CRL number %llu (%lld revoked); "
			"nrfca-server serves it at GET /v1/crl\n", "nrfca-admin crl", ci.number,
			ci.entries);
	return rc;
}

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
	if (audit_crl(ac.ca, ac.l, der, len, &e) != 0) {
		admin_fail(a, "the CRL is published but could not be audited: %s", e.msg);
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
	if ((l = admin_open_ledger(a)) == NULL)
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
