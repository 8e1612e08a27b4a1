/* provision.c - the provisioning flow as a table of timed steps. */
#include "provision.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "csr.h"
#include "exitcodes.h"
#include "journal.h"
#include "modem_out.h"
#include "preflight.h"

#define CERT_PEM_MAX 16384u
#define CHAIN_MAX_CERTS 16

enum step_id {
	S_OPEN, S_FIRMWARE, S_OFFLINE, S_IDENTITY, S_EXISTING, S_KEYGEN, S_ENROLL, S_CHECK,
	S_WRITE, S_READBACK, S_FINISH, S_MAX
};

struct prov {
	const struct nrfca_prov_opts *o;
	struct nrfca_prov_result *r;
	struct nrfca_err *e;
	struct nrf91 *m;
	struct nrf91_fw fw;
	int have_uuid;
	/* credentials found at the sec_tag */
	int had[NRF91_CRED_MAX];
	/* journal */
	struct nrfca_journal_entry je;
	int journal_found, resume;
	/* request */
	char *keygen;             /* %KEYGEN payload (modem key) */
	struct nrfca_modem_out *mo;
	struct nrfca_csr *csr;
	char *csr_pem;            /* host-key path */
	EVP_PKEY *host_key;       /* host-key path; freed as soon as written */
	char request_id[65];
	const char *profile;
	/* the profile as the CA described it (preflight) */
	struct nrfca_station_profile sp;
	int have_sp;
	char *profiles;           /* the CA's GET /v1/profiles answer, for a re-pick */
	/* answer */
	struct nrfca_ca *ca;
	struct nrfca_ca_answer ans;
	int have_ans;
	int key_generated;        /* this run made a key in the modem */
	int refusal;              /* enum refusal, when the CA refused */
	int cert_written;
	double step_s[S_MAX];
	int step_done[S_MAX];
	int failed_step;
};

struct step {
	const char *name;
	const char *what;
	int (*run)(struct prov *p);
};

static void note(struct prov *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct prov *p, const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nrfca_progress_note(p->o->progress, "%s", buf);
}

static int modem_exit(struct prov *p)
{
	return nrf91_failure_exit(p->m);
}

/* ---- steps ---- */

static void ca_notify(void *ctx, const char *msg)
{
	struct prov *p = ctx;

	nrfca_progress_note(p->o->progress, "%s", msg);
}

/* The exit status for a CA outcome that is not OK. */
static int ca_exit(struct prov *p, enum nrfca_ca_outcome oc, const struct nrfca_ca_answer *a)
{
	switch (oc) {
	case NRFCA_CA_REFUSED:
		return a->credential ? NRFCA_EXIT_CREDENTIAL : NRFCA_EXIT_CA_REFUSED;
	case NRFCA_CA_UNREACHABLE:
		return p->e->code == NRFCA_E_CONFIG ? NRFCA_EXIT_USAGE : NRFCA_EXIT_CA_UNREACHABLE;
	default:
		return NRFCA_EXIT_CA_UNREACHABLE;
	}
}

/* Pick the profile a run uses from the CA's list. */
static int pick_profile(struct prov *p, const char *name)
{
	if (p->have_sp)
		nrfca_station_profile_clear(&p->sp);
	p->have_sp = 0;
	if (nrfca_preflight_pick(p->profiles, strlen(p->profiles), name, &p->sp, p->e) != 0)
		return p->e->code == NRFCA_E_NOTFOUND ? NRFCA_EXIT_CA_REFUSED :
		       NRFCA_EXIT_CA_UNREACHABLE;
	p->have_sp = 1;
	return 0;
}

/* Before the modem is touched: the station's credential, the profile and
 * what the profile accepts, with the CA (GET /v1/profiles). */
static int preflight(struct prov *p)
{
	struct nrfca_ca_opts co = p->o->ca;
	struct nrfca_ca_answer a;
	enum nrfca_ca_outcome oc;
	const char *want = p->o->profile ? p->o->profile : p->o->host_key ? "host-key" : NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	if (co.token_file != NULL && nrfca_ca_token_check(co.token_file, p->e) != 0) {
		nrfca_err_prefix(p->e, "the station's credential");
		return NRFCA_EXIT_CREDENTIAL;
	}
	co.notify = ca_notify;
	co.notify_ctx = p;
	if (nrfca_ca_create(&co, &p->ca, p->e) != 0)
		return p->e->code == NRFCA_E_IO ? NRFCA_EXIT_LOCAL_IO : NRFCA_EXIT_USAGE;
	oc = nrfca_ca_get(p->ca, "/v1/profiles", &a, p->e);
	if (oc != NRFCA_CA_OK) {
		rc = ca_exit(p, oc, &a);
		nrfca_ca_answer_clear(&a);
		return rc;
	}
	p->profiles = json_dumps(a.body, JSON_COMPACT);
	nrfca_ca_answer_clear(&a);
	if (p->profiles == NULL)
		return nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory"), NRFCA_EXIT_FAILURE;
	rc = pick_profile(p, want);
	if (rc != 0)
		return rc;
	if (nrfca_preflight_request(&p->sp, p->o->host_key, p->o->sec_tag, p->o->id, p->e) != 0)
		return NRFCA_EXIT_CA_REFUSED;
	note(p, "the CA accepts this station; profile %s%s%s", p->sp.name,
	     p->sp.cn_source[0] ? ", CN rule " : "", p->sp.cn_source);
	return 0;
}

static int st_open(struct prov *p)
{
	int rc = preflight(p);

	if (rc != 0)
		return rc;
	if (nrf91_open(&p->o->modem, &p->m, p->e) != 0)
		return p->e->code == NRFCA_E_CONFIG ? NRFCA_EXIT_USAGE : NRFCA_EXIT_MODEM_SILENT;
	note(p, "talking %s AT on %s", nrfca_at_prefix_mode(nrf91_engine(p->m)) ==
	     NRFCA_AT_PREFIX_SHELL ? "Zephyr shell" : "plain", p->o->modem.port.path);
	/* through a shell, the profile's trust bundle must fit one command line */
	if (p->sp.trust_bundle != NULL &&
	    nrf91_cmng_fits(p->m, p->o->sec_tag, NRF91_CRED_CA_CERT, p->sp.trust_bundle,
			    strlen(p->sp.trust_bundle), p->o->eol, p->e) != 0)
		return modem_exit(p);
	return 0;
}

static int st_firmware(struct prov *p)
{
	if (nrf91_read_fw(p->m, &p->fw, p->e) != 0)
		return modem_exit(p);
	snprintf(p->r->firmware, sizeof(p->r->firmware), "%s", p->fw.raw);
	if (!nrf91_fw_supports_keygen(&p->fw)) {
		nrfca_err_set(p->e, NRFCA_E_INPUT, "modem firmware %s (%s %u.%u.%u) is too old: "
			      "%%KEYGEN needs %s or later; update the modem firmware", p->fw.raw,
			      nrf91_family_name(p->fw.family), p->fw.major, p->fw.minor,
			      p->fw.patch, p->fw.family == NRF91_FAMILY_9160 ? "1.3.0" : "2.0.0");
		return NRFCA_EXIT_FW_TOO_OLD;
	}
	note(p, "firmware %s", p->fw.raw);
	return 0;
}

static int st_offline(struct prov *p)
{
	int mode = -1;

	if (nrf91_cfun_set(p->m, 4, p->e) != 0 || nrf91_cfun_get(p->m, &mode, p->e) != 0)
		return modem_exit(p);
	if (mode != 4 && mode != 0) {
		nrfca_err_set(p->e, NRFCA_E_INPUT, "modem reports functional mode %d after "
			      "AT+CFUN=4, not offline; credentials cannot be written", mode);
		return NRFCA_EXIT_MODEM_REFUSED;
	}
	return 0;
}

static int check_device_cn(struct prov *p);

static int st_identity(struct prov *p)
{
	if (nrf91_read_imei(p->m, p->r->imei, p->e) != 0)
		return modem_exit(p);
	if (nrf91_read_uuid(p->m, p->r->uuid, p->e) == 0) {
		p->have_uuid = 1;
	} else if (nrf91_last_failure(p->m) == NRF91_FAIL_REFUSED) {
		p->r->uuid[0] = '\0';
		note(p, "modem does not support AT%%DEVICEUUID; the UUID comes from %%KEYGEN");
	} else {
		return modem_exit(p);
	}
	note(p, "IMEI %s%s%s", p->r->imei, p->have_uuid ? ", device UUID " : "",
	     p->have_uuid ? p->r->uuid : "");
	return check_device_cn(p);
}

static int delete_present(struct prov *p)
{
	static const int order[] = { NRF91_CRED_CLIENT_CERT, NRF91_CRED_CLIENT_KEY,
				     NRF91_CRED_CA_CERT };
	size_t i;
	int code = 0;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!p->had[order[i]])
			continue;
		if (nrf91_cmng_delete(p->m, p->o->sec_tag, order[i], p->e) != 0) {
			if (nrf91_last_final(p->m, &code) == NRFCA_AT_FINAL_CME && code == 513)
				continue;
			return modem_exit(p);
		}
		note(p, "--replace: deleted type %d (%s) at sec_tag %u", order[i],
		     nrf91_cred_type_name(order[i]), (unsigned)p->o->sec_tag);
		p->had[order[i]] = 0;
	}
	return 0;
}

static int st_existing(struct prov *p)
{
	struct nrf91_cred *v = NULL;
	size_t n = 0, i;
	int any = 0, rc = 0;
	char types[64] = "";

	if (nrf91_cmng_list(p->m, &v, &n, p->e) != 0)
		return modem_exit(p);
	memset(p->had, 0, sizeof(p->had));
	for (i = 0; i < n; i++) {
		if (v[i].sec_tag != p->o->sec_tag)
			continue;
		any = 1;
		if (v[i].type >= 0 && v[i].type < NRF91_CRED_MAX)
			p->had[v[i].type] = 1;
		snprintf(types + strlen(types), sizeof(types) - strlen(types), "%s%d",
			 types[0] ? ", " : "", v[i].type);
	}
	free(v);
	if (!p->o->host_key) {
		if (nrfca_journal_load(p->o->journal_dir, p->r->imei, p->o->sec_tag, &p->je,
				       &p->journal_found, p->e) != 0)
			return NRFCA_EXIT_LOCAL_IO;
		if (p->journal_found && p->had[NRF91_CRED_CLIENT_KEY]) {
			/* A journal entry exists only until a run has verified what it
			 * wrote: a certificate found now was not verified (the run was
			 * cut during the write or the read-back) and is written again. */
			p->resume = 1;
			note(p, "resuming: the journal holds the %%KEYGEN output of an earlier run "
			     "and the modem still has that key%s; the same CSR is sent again",
			     p->had[NRF91_CRED_CLIENT_CERT] ? " and an unverified certificate" :
			     " without a certificate");
			return 0;
		}
		if (p->journal_found) {
			note(p, "journal entry of an earlier run dropped: the modem %s",
			     p->had[NRF91_CRED_CLIENT_CERT] ? "already holds a client certificate" :
			     "no longer holds its key");
			if (nrfca_journal_remove(p->o->journal_dir, p->r->imei, p->o->sec_tag,
						 p->e) != 0)
				return NRFCA_EXIT_LOCAL_IO;
			nrfca_journal_entry_clear(&p->je);
			p->journal_found = 0;
		}
	}
	if (!any)
		return 0;
	if (!p->o->replace) {
		nrfca_err_set(p->e, NRFCA_E_EXISTS, "sec_tag %u already holds credentials (types "
			      "%s); nothing was changed; use --replace to delete them and "
			      "provision again, or another --sec-tag", (unsigned)p->o->sec_tag,
			      types);
		return NRFCA_EXIT_DUPLICATE;
	}
	rc = delete_present(p);
	return rc;
}

static int random_hex(char *out, size_t bytes, struct nrfca_err *e)
{
	unsigned char b[32];
	size_t i;

	if (bytes > sizeof(b) || RAND_bytes(b, (int)bytes) != 1)
		return nrfca_err_ssl(e, NRFCA_E_CRYPTO, "no random bytes for the request id");
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* The CN asked for by --id, or NULL for the modem's default (device UUID). */
static int id_cn(struct prov *p, char *cn, size_t cap)
{
	const char *id = p->o->id;

	if (id == NULL || strcmp(id, "uuid") == 0) {
		if (!p->o->host_key)
			return 0;
		if (p->have_uuid)
			snprintf(cn, cap, "%s", p->r->uuid);
		else
			snprintf(cn, cap, "nrf-%s", p->r->imei);
		return 1;
	}
	if (strcmp(id, "imei") == 0)
		snprintf(cn, cap, "%s", p->r->imei);
	else if (strcmp(id, "nrf-imei") == 0)
		snprintf(cn, cap, "nrf-%s", p->r->imei);
	else
		snprintf(cn, cap, "%s", id);
	return 1;
}

/* Before the key is made: the CN this run asks for passes the profile's rule. */
static int check_device_cn(struct prov *p)
{
	char cn[80];
	int fixed;

	if (!p->have_sp)
		return 0;
	fixed = id_cn(p, cn, sizeof(cn));
	if (nrfca_preflight_cn(&p->sp, fixed ? cn : NULL, p->r->imei,
			       p->have_uuid ? p->r->uuid : "", p->e) != 0)
		return NRFCA_EXIT_CA_REFUSED;
	return 0;
}

/* Local pre-flight of the output files, once the device id is known. */
static int check_csv(struct prov *p, const char *path, const char *device_id, int limit)
{
	char *text = NULL;
	size_t len = 0, rows = 0;
	int found = 0, has = 0, rc = 0;

	if (path == NULL)
		return 0;
	if (nrfca_read_small(path, NRFCA_CSV_MAX, &text, &len, &found, p->e) != 0)
		return NRFCA_EXIT_LOCAL_IO;
	if (!found)
		return 0;
	if (nrfca_csv_scan(text, len, device_id, &rows, &has, p->e) != 0) {
		nrfca_err_prefix(p->e, "%s", path);
		rc = NRFCA_EXIT_LOCAL_IO;
	} else if (has && !p->o->replace) {
		nrfca_err_set(p->e, NRFCA_E_EXISTS, "%s already has a row for device %s; use "
			      "--replace to provision it again", path, device_id);
		rc = NRFCA_EXIT_DUPLICATE;
	} else if (limit && rows - (has ? 1 : 0) >= NRFCA_ONBOARD_MAX_ROWS) {
		nrfca_err_set(p->e, NRFCA_E_TOO_LARGE, "%s already holds %zu rows, nRF Cloud's "
			      "limit per onboarding file; start a new file with --csv", path,
			      rows);
		rc = NRFCA_EXIT_LOCAL_IO;
	}
	free(text);
	return rc;
}

static int host_key_csr(struct prov *p, const char *cn)
{
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	BIO *b = NULL;
	BUF_MEM *bm;
	int rc = NRFCA_EXIT_FAILURE;

	p->host_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (p->host_key == NULL) {
		nrfca_err_ssl(p->e, NRFCA_E_CRYPTO, "cannot generate a P-256 key on the station");
		goto out;
	}
	req = X509_REQ_new();
	name = X509_NAME_new();
	if (req == NULL || name == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
				       -1, -1, 0) != 1 ||
	    X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, p->host_key) != 1 ||
	    X509_REQ_sign(req, p->host_key, EVP_sha256()) <= 0) {
		nrfca_err_ssl(p->e, NRFCA_E_CRYPTO, "cannot build the CSR for CN=%s", cn);
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_X509_REQ(b, req) != 1) {
		nrfca_err_ssl(p->e, NRFCA_E_CRYPTO, "cannot encode the CSR");
		goto out;
	}
	BIO_get_mem_ptr(b, &bm);
	p->csr_pem = malloc(bm->length + 1);   /* BIO memory is not NUL-terminated */
	if (p->csr_pem != NULL) {
		memcpy(p->csr_pem, bm->data, bm->length);
		p->csr_pem[bm->length] = '\0';
	}
	if (p->csr_pem == NULL ||
	    nrfca_csr_from_pem(p->csr_pem, strlen(p->csr_pem), &p->csr, p->e) != 0)
		goto out;
	rc = 0;
out:
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return rc;
}

static int st_keygen(struct prov *p)
{
	struct nrf91_keygen_req kr = { 0 };
	char cn[80], attrs[96];
	int rc;

	p->profile = p->o->profile;
	if (p->o->host_key) {
		if (p->profile == NULL)
			p->profile = "host-key";
		id_cn(p, cn, sizeof(cn));
		nrfca_progress_warn(p->o->progress, "WARNING: --host-key: the private key is "
				    "generated on this station, not inside the modem; it leaves "
				    "the modem's protection and nothing proves it exists only in "
				    "this device. No copy is kept on disk; it is wiped from memory "
				    "after it is written.");
		rc = host_key_csr(p, cn);
		if (rc != 0)
			return rc;
	} else if (p->resume) {
		p->keygen = strdup(p->je.keygen);
		snprintf(p->request_id, sizeof(p->request_id), "%s", p->je.request_id);
		if (p->keygen == NULL)
			return nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory"),
			       NRFCA_EXIT_FAILURE;
		if (p->profile == NULL && p->je.profile[0]) {
			p->profile = p->je.profile;
			if (p->have_sp && strcmp(p->sp.name, p->profile) != 0 &&
			    (rc = pick_profile(p, p->profile)) != 0)
				return rc;
		}
		note(p, "%%KEYGEN skipped: re-using the journal entry (request %s)",
		     p->request_id);
	} else {
		kr.sec_tag = p->o->sec_tag;
		kr.content = 0;
		if (id_cn(p, cn, sizeof(cn))) {
			snprintf(attrs, sizeof(attrs), "CN=%s", cn);
			kr.attributes = attrs;
		}
		if (nrf91_keygen(p->m, &kr, &p->keygen, p->e) != 0)
			return modem_exit(p);
		p->key_generated = 1;
	}
	if (!p->o->host_key) {
		if (nrfca_modem_out_parse(p->keygen, strlen(p->keygen), &p->mo, p->e) != 0) {
			nrfca_err_prefix(p->e, "the %%KEYGEN output does not check out "
					 "(truncated or altered?)");
			return NRFCA_EXIT_VERIFY_FAILED;
		}
		if (p->mo->kind != NRFCA_MODEM_CSR) {
			nrfca_err_set(p->e, NRFCA_E_BINDING, "%%KEYGEN gave %s, not a CSR",
				      nrfca_modem_kind_name(p->mo->kind));
			return NRFCA_EXIT_VERIFY_FAILED;
		}
		if (p->mo->has_sec_tag && p->mo->sec_tag != p->o->sec_tag) {
			nrfca_err_set(p->e, NRFCA_E_BINDING, "%%KEYGEN attests sec_tag %lu, not %u",
				      p->mo->sec_tag, (unsigned)p->o->sec_tag);
			return NRFCA_EXIT_VERIFY_FAILED;
		}
		if (p->have_uuid && strcasecmp(p->mo->device_uuid_str, p->r->uuid) != 0) {
			nrfca_err_set(p->e, NRFCA_E_BINDING, "%%KEYGEN attests device %s, but "
				      "AT%%DEVICEUUID said %s", p->mo->device_uuid_str, p->r->uuid);
			return NRFCA_EXIT_VERIFY_FAILED;
		}
		if (!p->have_uuid)
			snprintf(p->r->uuid, sizeof(p->r->uuid), "%s", p->mo->device_uuid_str);
		if (nrfca_csr_from_der(p->mo->part1, p->mo->part1_len, &p->csr, p->e) != 0) {
			nrfca_err_prefix(p->e, "the CSR in the %%KEYGEN output");
			return NRFCA_EXIT_VERIFY_FAILED;
		}
		if (!p->resume) {
			if (random_hex(p->request_id, 16, p->e) != 0)
				return NRFCA_EXIT_FAILURE;
			memset(&p->je, 0, sizeof(p->je));
			snprintf(p->je.imei, sizeof(p->je.imei), "%s", p->r->imei);
			p->je.sec_tag = p->o->sec_tag;
			p->je.keygen = strdup(p->keygen);
			snprintf(p->je.request_id, sizeof(p->je.request_id), "%s", p->request_id);
			snprintf(p->je.profile, sizeof(p->je.profile), "%s",
				 p->profile ? p->profile : "");
			p->je.created = (long long)time(NULL);
			if (p->je.keygen == NULL)
				return nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory"),
				       NRFCA_EXIT_FAILURE;
			if (nrfca_journal_save(p->o->journal_dir, &p->je, p->e) != 0)
				return NRFCA_EXIT_LOCAL_IO;
			p->journal_found = 1;
		}
		note(p, "binding checked: the attestation covers the CSR (CN=%s, %s)",
		     nrfca_csr_cn(p->csr) ? nrfca_csr_cn(p->csr) : "(none)",
		     nrfca_csr_key_desc(p->csr));
	} else if (random_hex(p->request_id, 16, p->e) != 0) {
		return NRFCA_EXIT_FAILURE;
	}
	/* Local files refuse early, before the CA issues anything. */
	if (nrfca_csr_cn(p->csr) != NULL) {
		rc = check_csv(p, p->o->csv, nrfca_csr_cn(p->csr), 1);
		if (rc == 0)
			rc = check_csv(p, p->o->devinfo, nrfca_csr_cn(p->csr), 0);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Whose the refusal is, which decides what a rerun can do. */
enum refusal {
	REFUSAL_STATION,  /* credential, profile choice, rate: fix and rerun, same CSR */
	REFUSAL_CSR,      /* the CSR itself (its CN, key, encoding): only a new key helps */
	REFUSAL_DEVICE,   /* this device (lists, identity, active certificate): not the key */
};

static enum refusal refusal_of(const struct nrfca_ca_answer *a)
{
	static const char *const csr_errors[] = { "invalid_keygen", "keygen_binding",
						  "invalid_csr", "csr_signature" };
	static const char *const csr_rules[] = {
		"input", "payload_id", "key_type", "key_curve", "key_size", "subject_attribute",
		"cn_missing", "cn_length", "cn_uuid", "cn_imei_form", "luhn", "imei_mismatch",
		"cn_pattern", "sec_tag", "attestation_binding",
	};
	static const char *const device_rules[] = {
		"deny_list", "allow_list", "attestation_required", "attestation_signature",
		"on_existing",
	};
	size_t i;

	if (a->credential)
		return REFUSAL_STATION;
	if (a->status == 409)
		return REFUSAL_DEVICE;
	if (a->status == 400) {
		for (i = 0; i < sizeof(csr_errors) / sizeof(csr_errors[0]); i++)
			if (strcmp(a->error, csr_errors[i]) == 0)
				return REFUSAL_CSR;
		return REFUSAL_STATION;
	}
	if (a->status == 403 && strcmp(a->error, "policy_denied") == 0) {
		for (i = 0; i < sizeof(csr_rules) / sizeof(csr_rules[0]); i++)
			if (strcmp(a->rule, csr_rules[i]) == 0)
				return REFUSAL_CSR;
		for (i = 0; i < sizeof(device_rules) / sizeof(device_rules[0]); i++)
			if (strcmp(a->rule, device_rules[i]) == 0)
				return REFUSAL_DEVICE;
	}
	return REFUSAL_STATION;
}

static int st_enroll(struct prov *p)
{
	enum nrfca_ca_outcome oc;
	json_t *body;

	body = json_object();
	if (body == NULL)
		return nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory"), NRFCA_EXIT_FAILURE;
	if (p->o->host_key)
		json_object_set_new(body, "csr", json_string(p->csr_pem));
	else
		json_object_set_new(body, "keygen", json_string(p->keygen));
	if (p->profile != NULL)
		json_object_set_new(body, "profile", json_string(p->profile));
	json_object_set_new(body, "imei", json_string(p->r->imei));
	if (p->o->slot != NULL)
		json_object_set_new(body, "slot", json_string(p->o->slot));
	json_object_set_new(body, "request_id", json_string(p->request_id));
	oc = nrfca_ca_enroll(p->ca, body, &p->ans, p->e);
	json_decref(body);
	p->have_ans = 1;
	switch (oc) {
	case NRFCA_CA_OK:
		break;
	case NRFCA_CA_REFUSED:
		/* A refused CSR is not worth re-sending: a rerun makes a new key.
		 * Any other refusal leaves the CSR good: the journal keeps it. */
		p->refusal = refusal_of(&p->ans);
		if (p->refusal == REFUSAL_CSR && p->journal_found &&
		    nrfca_journal_remove(p->o->journal_dir, p->r->imei, p->o->sec_tag, NULL) == 0)
			p->journal_found = 0;
		return ca_exit(p, oc, &p->ans);
	default:
		/* unreachable, 5xx, bad answer: the journal keeps the CSR */
		return ca_exit(p, oc, &p->ans);
	}
	p->r->replay = p->ans.status == 200;
	snprintf(p->r->serial, sizeof(p->r->serial), "%s", p->ans.serial);
	snprintf(p->r->device_id, sizeof(p->r->device_id), "%s", p->ans.device_id);
	snprintf(p->r->profile, sizeof(p->r->profile), "%s",
		 p->ans.profile ? p->ans.profile : (p->profile ? p->profile : ""));
	note(p, "certificate %s for %s (profile %s)%s", p->r->serial, p->r->device_id,
	     p->r->profile, p->r->replay ? ", the CA's replay of an earlier issue" : "");
	return 0;
}

static X509 *cert_from_pem(const char *pem, struct nrfca_err *e)
{
	BIO *b;
	X509 *x;

	if (strlen(pem) > CERT_PEM_MAX) {
		nrfca_err_set(e, NRFCA_E_TOO_LARGE, "the certificate is over %u bytes",
			      CERT_PEM_MAX);
		return NULL;
	}
	b = BIO_new_mem_buf(pem, -1);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (x == NULL)
		nrfca_err_ssl(e, NRFCA_E_INPUT, "the CA's certificate is not a PEM certificate");
	return x;
}

static int st_check(struct prov *p)
{
	X509 *cert = NULL, *c;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	EVP_PKEY *cpub;
	BIO *b = NULL;
	int rc = NRFCA_EXIT_VERIFY_FAILED, n = 0;

	cert = cert_from_pem(p->ans.certificate, p->e);
	if (cert == NULL)
		goto out;
	cpub = X509_get0_pubkey(cert);
	if (cpub == NULL || EVP_PKEY_eq(cpub, nrfca_csr_pubkey(p->csr)) != 1) {
		nrfca_err_set(p->e, NRFCA_E_BINDING, "the CA's certificate %s does not carry the "
			      "public key of the CSR; it is not written", p->r->serial);
		goto out;
	}
	store = X509_STORE_new();
	b = BIO_new_mem_buf(p->ans.chain, -1);
	if (store == NULL || b == NULL) {
		nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory");
		rc = NRFCA_EXIT_FAILURE;
		goto out;
	}
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(store, c);

		X509_free(c);
		if (ok != 1 || ++n > CHAIN_MAX_CERTS) {
			nrfca_err_set(p->e, NRFCA_E_INPUT, "the CA's chain holds more than %d "
				      "certificates or a bad one", CHAIN_MAX_CERTS);
			goto out;
		}
	}
	ERR_clear_error();
	if (n == 0) {
		nrfca_err_set(p->e, NRFCA_E_INPUT, "the CA's answer has an empty chain");
		goto out;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory");
		rc = NRFCA_EXIT_FAILURE;
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		nrfca_err_set(p->e, NRFCA_E_BINDING, "the CA's certificate %s does not verify "
			      "against the chain it sent: %s; it is not written", p->r->serial,
			      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	note(p, "certificate checked: same public key as the CSR, chains to the CA (%d "
	     "certificate%s)", n, n == 1 ? "" : "s");
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	BIO_free(b);
	X509_free(cert);
	return rc;
}

static int write_one(struct prov *p, int type, const char *content, char hash[65])
{
	/* nrf91_cmng_write explains 527 (line ending) and a plain ERROR (length). */
	if (nrf91_cmng_write(p->m, p->o->sec_tag, type, content, strlen(content), p->o->eol,
			     hash, p->e) == 0)
		return 0;
	return modem_exit(p);
}

static int st_write(struct prov *p)
{
	int rc;

	/* nothing is written unless every write fits (a Zephyr shell's buffer) */
	if ((p->ans.trust_bundle != NULL && p->ans.trust_bundle[0] &&
	     nrf91_cmng_fits(p->m, p->o->sec_tag, NRF91_CRED_CA_CERT, p->ans.trust_bundle,
			     strlen(p->ans.trust_bundle), p->o->eol, p->e) != 0) ||
	    nrf91_cmng_fits(p->m, p->o->sec_tag, NRF91_CRED_CLIENT_CERT, p->ans.certificate,
			    strlen(p->ans.certificate), p->o->eol, p->e) != 0) {
		nrfca_err_prefix(p->e, "nothing was written");
		return modem_exit(p);
	}
	if (p->resume) {
		/* what an interrupted run left is replaced, not written over */
		static const int stale[] = { NRF91_CRED_CLIENT_CERT, NRF91_CRED_CA_CERT };
		size_t i;
		int code = 0;

		for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++)
			if (p->had[stale[i]] &&
			    nrf91_cmng_delete(p->m, p->o->sec_tag, stale[i], p->e) != 0 &&
			    !(nrf91_last_final(p->m, &code) == NRFCA_AT_FINAL_CME && code == 513))
				return modem_exit(p);
	}
	if (p->ans.trust_bundle != NULL && p->ans.trust_bundle[0]) {
		rc = write_one(p, NRF91_CRED_CA_CERT, p->ans.trust_bundle, p->r->ca_hash);
		if (rc != 0)
			return rc;
	} else {
		note(p, "profile %s has no trust bundle: type 0 not written", p->r->profile);
	}
	rc = write_one(p, NRF91_CRED_CLIENT_CERT, p->ans.certificate, p->r->cert_hash);
	if (rc != 0)
		return rc;
	p->cert_written = 1;
	if (p->o->host_key) {
		BIO *b = BIO_new(BIO_s_mem());
		BUF_MEM *bm = NULL;
		char *pem = NULL, hash[65];

		if (b == NULL || PEM_write_bio_PrivateKey(b, p->host_key, NULL, NULL, 0, NULL,
							  NULL) != 1) {
			BIO_free(b);
			return nrfca_err_ssl(p->e, NRFCA_E_CRYPTO, "cannot encode the station key"),
			       NRFCA_EXIT_FAILURE;
		}
		BIO_get_mem_ptr(b, &bm);
		pem = calloc(1, bm->length + 1);
		if (pem != NULL)
			memcpy(pem, bm->data, bm->length);
		OPENSSL_cleanse(bm->data, bm->length);
		BIO_free(b);
		EVP_PKEY_free(p->host_key);
		p->host_key = NULL;
		if (pem == NULL)
			return nrfca_err_set(p->e, NRFCA_E_NOMEM, "out of memory"), NRFCA_EXIT_FAILURE;
		rc = write_one(p, NRF91_CRED_CLIENT_KEY, pem, hash);
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
		OPENSSL_cleanse(hash, sizeof(hash));
		if (rc != 0)
			return rc;
		note(p, "station key written to the modem (type 2) and wiped from memory");
	}
	return 0;
}

static int st_readback(struct prov *p)
{
	struct nrf91_cred *v = NULL;
	size_t n = 0, i;
	int seen[NRF91_CRED_MAX] = { 0 }, rc = NRFCA_EXIT_VERIFY_FAILED;
	int hashes = nrf91_fw_shows_hashes(&p->fw), need_ca = p->r->ca_hash[0] != '\0';

	if (nrf91_cmng_list(p->m, &v, &n, p->e) != 0)
		return modem_exit(p);
	for (i = 0; i < n; i++) {
		const char *want = NULL;

		if (v[i].sec_tag != p->o->sec_tag || v[i].type < 0 || v[i].type >= NRF91_CRED_MAX)
			continue;
		seen[v[i].type] = 1;
		if (v[i].type == NRF91_CRED_CA_CERT && need_ca)
			want = p->r->ca_hash;
		else if (v[i].type == NRF91_CRED_CLIENT_CERT)
			want = p->r->cert_hash;
		if (want != NULL && hashes && v[i].has_hash && strcasecmp(v[i].sha256, want) != 0) {
			nrfca_err_set(p->e, NRFCA_E_BINDING, "modem lists SHA-256 %s for sec_tag %u "
				      "type %d, not the %s of the bytes written", v[i].sha256,
				      (unsigned)p->o->sec_tag, v[i].type, want);
			goto out;
		}
	}
	if (!seen[NRF91_CRED_CLIENT_CERT] || !seen[NRF91_CRED_CLIENT_KEY] ||
	    (need_ca && !seen[NRF91_CRED_CA_CERT])) {
		nrfca_err_set(p->e, NRFCA_E_BINDING, "after writing, the modem does not list "
			      "%s at sec_tag %u", !seen[NRF91_CRED_CLIENT_KEY] ? "the key (type 2)" :
			      !seen[NRF91_CRED_CLIENT_CERT] ? "the certificate (type 1)" :
			      "the trust bundle (type 0)", (unsigned)p->o->sec_tag);
		goto out;
	}
	note(p, hashes ? "modem lists the key, the certificate%s with the SHA-256 written" :
	     "modem lists the key and the certificate%s (firmware shows no hashes)",
	     need_ca ? " and the trust bundle" : "");
	rc = 0;
out:
	free(v);
	return rc;
}

static int append_row(struct prov *p, const char *path, const char *row, int limit)
{
	char *text = NULL, *out = NULL, *w;
	size_t len = 0, rows = 0, rl = strlen(row);
	int found = 0, has = 0, rc = NRFCA_EXIT_LOCAL_IO, lock = -1;
	const char *s, *end;

	/* other slots of a line (or other stations' processes) append too: the
	 * check for the device's row and the write happen under one lock */
	if (nrfca_file_lock(path, &lock, p->e) != 0)
		return NRFCA_EXIT_LOCAL_IO;
	if (nrfca_read_small(path, NRFCA_CSV_MAX, &text, &len, &found, p->e) != 0) {
		nrfca_file_unlock(lock);
		return NRFCA_EXIT_LOCAL_IO;
	}
	if (!found) {
		text = strdup("");
		len = 0;
		if (text == NULL) {
			nrfca_file_unlock(lock);
			return NRFCA_EXIT_FAILURE;
		}
	}
	if (nrfca_csv_scan(text, len, p->r->device_id, &rows, &has, p->e) != 0) {
		nrfca_err_prefix(p->e, "%s", path);
		goto done;
	}
	if (has && !p->o->replace) {
		nrfca_err_set(p->e, NRFCA_E_EXISTS, "%s already has a row for device %s; use "
			      "--replace", path, p->r->device_id);
		rc = NRFCA_EXIT_DUPLICATE;
		goto done;
	}
	if (limit && rows - (has ? 1 : 0) >= NRFCA_ONBOARD_MAX_ROWS) {
		nrfca_err_set(p->e, NRFCA_E_TOO_LARGE, "%s already holds %zu rows, nRF Cloud's "
			      "limit per onboarding file; start a new file with --csv", path, rows);
		goto done;
	}
	out = malloc(len + rl + 2);
	if (out == NULL)
		goto done;
	w = out;
	/* Copy every record but the replaced device's. */
	for (s = text; s < text + len; s = end) {
		int inq = 0;
		size_t kl = strlen(p->r->device_id);

		for (end = s; end < text + len; end++) {
			if (*end == '"')
				inq = !inq;
			else if (*end == '\n' && !inq) {
				end++;
				break;
			}
		}
		if (has && (size_t)(end - s) > kl && strncmp(s, p->r->device_id, kl) == 0 &&
		    s[kl] == ',')
			continue;
		memcpy(w, s, (size_t)(end - s));
		w += end - s;
	}
	if (w > out && w[-1] != '\n')
		*w++ = '\n';
	memcpy(w, row, rl);
	w += rl;
	if (nrfca_write_atomic(path, out, (size_t)(w - out), 0644, p->e) != 0)
		goto done;
	rc = 0;
done:
	nrfca_file_unlock(lock);
	free(out);
	free(text);
	return rc;
}

static int st_finish(struct prov *p)
{
	char *row = NULL;
	int rc;

	if (p->o->online) {
		if (nrf91_cfun_set(p->m, 1, p->e) != 0)
			return modem_exit(p);
		p->r->online = 1;
	}
	if (p->journal_found) {
		if (nrfca_journal_remove(p->o->journal_dir, p->r->imei, p->o->sec_tag, p->e) != 0)
			return NRFCA_EXIT_LOCAL_IO;
		p->journal_found = 0;
	}
	if (p->o->csv != NULL) {
		if (nrfca_onboard_row(p->r->device_id, p->o->sub_type, p->o->tags,
				      p->o->fw_types, p->ans.certificate, &row, p->e) != 0)
			return NRFCA_EXIT_USAGE;
		rc = append_row(p, p->o->csv, row, 1);
		free(row);
		if (rc != 0)
			return rc;
	}
	if (p->o->devinfo != NULL) {
		size_t n = strlen(p->r->device_id) + strlen(p->fw.raw) + 40;

		row = malloc(n);
		if (row == NULL)
			return NRFCA_EXIT_FAILURE;
		snprintf(row, n, "%s,%s,%s\n", p->r->device_id, p->fw.raw, p->r->imei);
		rc = append_row(p, p->o->devinfo, row, 0);
		free(row);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static const struct step steps[S_MAX] = {
	[S_OPEN] = { "open", "open the modem port, numeric errors on (AT+CMEE=1)", st_open },
	[S_FIRMWARE] = { "firmware", "read the modem firmware (AT+CGMR)", st_firmware },
	[S_OFFLINE] = { "offline", "switch the modem offline (AT+CFUN=4)", st_offline },
	[S_IDENTITY] = { "identity", "read IMEI and device UUID (AT+CGSN, AT%DEVICEUUID)",
			 st_identity },
	[S_EXISTING] = { "existing", "look for credentials at the sec_tag (AT%CMNG=1)",
			 st_existing },
	[S_KEYGEN] = { "keygen", "generate the key in the modem (AT%KEYGEN), check the "
		       "attestation", st_keygen },
	[S_ENROLL] = { "enroll", "ask the CA for the certificate (POST /v1/enroll)", st_enroll },
	[S_CHECK] = { "check", "check the certificate: the CSR's key, chains to the CA",
		      st_check },
	[S_WRITE] = { "write", "write trust bundle and certificate (AT%CMNG=0)", st_write },
	[S_READBACK] = { "readback", "read the credentials back (AT%CMNG=1)", st_readback },
	[S_FINISH] = { "finish", "finish: functional mode, onboarding files", st_finish },
};

static const char *modem_state(struct prov *p, char *buf, size_t cap)
{
	if (p->failed_step < S_EXISTING)
		snprintf(buf, cap, "no credentials were changed%s",
			 p->failed_step >= S_OFFLINE ? "; the modem may be offline (AT+CFUN=4)" : "");
	else if (p->o->host_key && !p->cert_written)
		snprintf(buf, cap, "no key or certificate was written at sec_tag %u",
			 (unsigned)p->o->sec_tag);
	else if (p->failed_step <= S_EXISTING)
		snprintf(buf, cap, "nothing was written at sec_tag %u", (unsigned)p->o->sec_tag);
	else if (!p->cert_written)
		snprintf(buf, cap, "the modem holds %s key at sec_tag %u (type 2) and no client "
			 "certificate%s", p->key_generated ? "the newly generated" :
			 p->resume ? "the journalled" : "its", (unsigned)p->o->sec_tag,
			 p->failed_step == S_ENROLL && p->refusal == REFUSAL_CSR ?
			 "; the CA refused that key's CSR: rerun with --replace to generate a new "
			 "key" :
			 p->failed_step == S_ENROLL && p->refusal == REFUSAL_DEVICE ?
			 "; the CA refuses this device, not its key (a new key would not help)" :
			 p->journal_found ? "; rerun to resume with the same CSR (journal kept)" : "");
	else
		snprintf(buf, cap, "the certificate was written at sec_tag %u but not verified",
			 (unsigned)p->o->sec_tag);
	return buf;
}

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One line at the end of a shared file, under its lock. */
static int append_line(const char *path, const char *line, struct nrfca_err *e)
{
	size_t n = strlen(line), done = 0;
	int lock = -1, fd, rc = -1;

	if (nrfca_file_lock(path, &lock, e) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while (done < n + 1) {
		/* the line, then its line feed */
		const char *buf = done < n ? line + done : "\n";
		ssize_t w = write(fd, buf, done < n ? n - done : 1);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			nrfca_err_set(e, NRFCA_E_IO, "cannot write %s: %s", path, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot sync %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	nrfca_file_unlock(lock);
	return rc;
}

static void write_report(struct prov *p, int rc)
{
	json_t *doc, *arr, *h;
	char *text;
	int i;
	struct nrfca_err e2 = { 0 };
	char state[300];

	if (p->o->report == NULL)
		return;
	arr = json_array();
	for (i = 0; i < S_MAX; i++) {
		if (!p->step_done[i] && i != p->failed_step)
			continue;
		json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:f, s:s}", "n", i + 1,
						     "name", steps[i].name, "what", steps[i].what,
						     "seconds", p->step_s[i], "status",
						     p->step_done[i] ? "ok" : "failed"));
	}
	h = json_object();
	if (p->r->ca_hash[0])
		json_object_set_new(h, "ca_cert", json_string(p->r->ca_hash));
	if (p->r->cert_hash[0])
		json_object_set_new(h, "client_cert", json_string(p->r->cert_hash));
	doc = json_pack("{s:s, s:i, s:s, s:s?, s:s?, s:s?, s:I, s:s?, s:s?, s:o, s:f, s:b, "
			"s:b, s:b, s:b, s:o}",
			"result", rc == 0 ? "ok" : nrfca_exit_info((enum nrfca_exit)rc).name,
			"exit_code", rc, "imei", p->r->imei,
			"device_id", p->r->device_id[0] ? p->r->device_id : NULL,
			"uuid", p->r->uuid[0] ? p->r->uuid : NULL,
			"serial", p->r->serial[0] ? p->r->serial : NULL,
			"sec_tag", (json_int_t)p->o->sec_tag,
			"firmware", p->r->firmware[0] ? p->r->firmware : NULL,
			"profile", p->r->profile[0] ? p->r->profile : NULL,
			"hashes", h, "seconds", p->r->seconds, "online", p->r->online,
			"resumed", p->r->resumed, "replay", p->r->replay,
			"host_key", p->o->host_key, "steps", arr);
	if (doc == NULL)
		return;
	if (rc != 0)
		json_object_set_new(doc, "error", json_string(p->e->msg));
	if (rc != 0 && p->failed_step >= S_OFFLINE)
		json_object_set_new(doc, "modem_state", json_string(modem_state(p, state,
										 sizeof(state))));
	if (p->o->slot != NULL)
		json_object_set_new(doc, "slot", json_string(p->o->slot));
	text = json_dumps(doc, p->o->report_append ? JSON_COMPACT : JSON_INDENT(2));
	if (text != NULL && p->o->report_append) {
		if (append_line(p->o->report, text, &e2) != 0)
			nrfca_progress_warn(p->o->progress, "report not written: %s", e2.msg);
	} else if (text != NULL &&
		   nrfca_write_atomic(p->o->report, text, strlen(text), 0644, &e2) != 0) {
		nrfca_progress_warn(p->o->progress, "report not written: %s", e2.msg);
	}
	free(text);
	json_decref(doc);
}

int nrfca_provision(const struct nrfca_prov_opts *o, struct nrfca_prov_result *r,
		    struct nrfca_err *e)
{
	struct prov p;
	double t0 = mono(), ts;
	int i, rc = 0;
	char state[300];

	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(*r));
	p.o = o;
	p.r = r;
	p.e = e;
	p.failed_step = -1;
	p.ans.sec_tag = -1;
	for (i = 0; i < S_MAX; i++) {
		if (o->on_step != NULL)
			o->on_step(o->on_step_ctx, (unsigned)i + 1, r);
		nrfca_progress_step(o->progress, (unsigned)i + 1, steps[i].what);
		ts = mono();
		rc = steps[i].run(&p);
		p.step_s[i] = mono() - ts;
		if (rc != 0) {
			p.failed_step = i;
			break;
		}
		p.step_done[i] = 1;
	}
	r->resumed = p.resume;
	r->seconds = mono() - t0;
	if (rc == 0 && o->on_done != NULL)
		o->on_done(o->on_done_ctx, r, p.ans.certificate, NULL);
	if (rc != 0) {
		nrfca_err_prefix(e, "step %d (%s)", p.failed_step + 1, steps[p.failed_step].name);
		snprintf(r->modem_state, sizeof(r->modem_state), "%s",
			 p.failed_step >= S_OFFLINE ? modem_state(&p, state, sizeof(state)) :
			 p.m == NULL ? "untouched (the port was not opened)" : "unchanged");
	}
	write_report(&p, rc);
	if (p.host_key != NULL)
		EVP_PKEY_free(p.host_key);
	nrfca_ca_answer_clear(&p.ans);
	nrfca_ca_free(p.ca);
	nrfca_csr_free(p.csr);
	nrfca_modem_out_free(p.mo);
	free(p.keygen);
	free(p.csr_pem);
	nrfca_journal_entry_clear(&p.je);
	if (p.have_sp)
		nrfca_station_profile_clear(&p.sp);
	free(p.profiles);
	nrf91_close(p.m);
	return rc;
}

int nrfca_provision_check(const struct nrfca_prov_opts *o, char *profile, size_t cap,
			  struct nrfca_err *e)
{
	struct nrfca_prov_result r;
	struct prov p;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.o = o;
	p.r = &r;
	p.e = e;
	rc = preflight(&p);
	if (rc == 0 && profile != NULL)
		snprintf(profile, cap, "%s", p.sp.name);
	if (p.have_sp)
		nrfca_station_profile_clear(&p.sp);
	free(p.profiles);
	nrfca_ca_free(p.ca);
	return rc;
}

const char *nrfca_provision_step_name(unsigned n)
{
	return n >= 1 && n <= S_MAX ? steps[n - 1].name : "?";
}

const char *nrfca_provision_state_at(unsigned n)
{
	if (n <= S_FIRMWARE + 1)
		return "nothing was changed";
	if (n <= S_EXISTING + 1)
		return "nothing was written; the modem may be offline (AT+CFUN=4)";
	if (n == S_KEYGEN + 1)
		return "the modem may hold a new key; once %KEYGEN answered the journal has its "
		       "CSR and a rerun resumes with it";
	if (n <= S_CHECK + 1)
		return "the modem holds its key without a certificate; a rerun resumes with the "
		       "same CSR (journal)";
	return "the certificate may be written but not verified; a rerun resumes with the "
	       "same CSR and writes it again (journal)";
}

/* ---- CSV ---- */

static int field_ok(const char *s)
{
	for (; *s; s++)
		if (*s == ',' || *s == '"' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int nrfca_onboard_row(const char *device_id, const char *sub_type, const char *tags,
		      const char *fw_types, const char *cert_pem, char **row,
		      struct nrfca_err *e)
{
	size_t n, i;
	char *w;

	sub_type = sub_type ? sub_type : "";
	tags = tags ? tags : "";
	fw_types = fw_types ? fw_types : "APP|MODEM";
	if (device_id[0] == '\0' || !field_ok(device_id) || !field_ok(sub_type) ||
	    !field_ok(tags) || !field_ok(fw_types))
		return nrfca_err_set(e, NRFCA_E_INPUT, "onboarding CSV fields (device id, "
				     "subType, tags, fwTypes) must not hold ',', '\"' or control "
				     "characters");
	if (strchr(cert_pem, '"') != NULL)
		return nrfca_err_set(e, NRFCA_E_INPUT, "certificate PEM holds a '\"'");
	n = strlen(device_id) + strlen(sub_type) + strlen(tags) + strlen(fw_types) +
	    strlen(cert_pem) + 16;
	*row = malloc(n);
	if (*row == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	w = *row + snprintf(*row, n, "%s,%s,%s,%s,\"", device_id, sub_type, tags, fw_types);
	for (i = 0; cert_pem[i]; i++)
		if (cert_pem[i] != '\r')
			*w++ = cert_pem[i];
	if (w[-1] != '\n')
		*w++ = '\n';
	*w++ = '"';
	*w++ = '\n';
	*w = '\0';
	return 0;
}

int nrfca_csv_scan(const char *text, size_t len, const char *key, size_t *rows,
		   int *has_key, struct nrfca_err *e)
{
	size_t i = 0, kl = key ? strlen(key) : 0;

	*rows = 0;
	*has_key = 0;
	while (i < len) {
		size_t start = i;
		int inq = 0;

		for (; i < len; i++) {
			if (text[i] == '\0')
				return nrfca_err_set(e, NRFCA_E_INPUT, "CSV holds a NUL byte");
			if (text[i] == '"')
				inq = !inq;
			else if (text[i] == '\n' && !inq) {
				i++;
				break;
			}
		}
		if (inq)
			return nrfca_err_set(e, NRFCA_E_INPUT, "CSV ends inside a quoted field");
		if (i - start <= 1 || (i - start == 2 && text[start] == '\r'))
			continue;  /* blank line */
		(*rows)++;
		if (key && i - start > kl && strncmp(text + start, key, kl) == 0 &&
		    text[start + kl] == ',')
			*has_key = 1;
	}
	return 0;
}
