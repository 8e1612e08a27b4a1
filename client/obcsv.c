/* obcsv.c - onboarding CSV rows: reading, nRF Cloud's field rules, row text, results. */
#include "obcsv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "journal.h"

#define MAX_FIELDS 6
#define SUBTYPE_MAX 799u
#define LIST_MAX 1024u       /* tags, fwTypes */

static const char *const result_names[NRFCA_OB_RESULT_MAX] = {
	[NRFCA_OB_PENDING] = "PENDING", [NRFCA_OB_OK] = "OK", [NRFCA_OB_EXISTS] = "EXISTS",
	[NRFCA_OB_ERROR] = "ERROR", [NRFCA_OB_NOT_SENT] = "NOT_SENT",
	[NRFCA_OB_UNCONFIRMED] = "UNCONFIRMED",
};

const char *nrfca_ob_result_name(enum nrfca_ob_result r)
{
	return (unsigned)r < NRFCA_OB_RESULT_MAX ? result_names[r] : "UNKNOWN";
}

/* ---- field rules (nRF Cloud's validation patterns, OnboardDevices) ---- */

static int id_char(char c)
{
	return isalnum((unsigned char)c) || c == ':' || c == '_' || c == '-';
}

static int id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > NRFCLOUD_DEVICE_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!id_char(s[i]))
			return 0;
	return 1;
}

static int subtype_ok(const char *s)
{
	size_t i;

	if (strlen(s) > SUBTYPE_MAX)
		return 0;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.,@/:#-", s[i]))
			return 0;
	return 1;
}

/* A pipe-delimited list: each item of the allowed characters (tags) or one
 * of the names (fwTypes); empty is fine. */
static int list_ok(const char *s, const char *const *names)
{
	const char *p = s;

	if (*s == '\0')
		return 1;
	if (strlen(s) > LIST_MAX)
		return 0;
	for (;;) {
		const char *end = strchr(p, '|');
		size_t n = end ? (size_t)(end - p) : strlen(p), i;

		if (n == 0)
			return 0;
		if (names != NULL) {
			for (i = 0; names[i]; i++)
				if (strlen(names[i]) == n && strncmp(names[i], p, n) == 0)
					break;
			if (names[i] == NULL)
				return 0;
		} else {
			for (i = 0; i < n; i++)
				if (!isalnum((unsigned char)p[i]) && !strchr("_.@:#-", p[i]))
					return 0;
		}
		if (end == NULL)
			return 1;
		p = end + 1;
	}
}

static const char *const fw_names[] = { "APP", "MODEM", "BOOT", "SOFTDEVICE", "BOOTLOADER",
					"MDM_FULL", NULL };

/* ---- PEM fields ---- */

static int is_p256(EVP_PKEY *k)
{
	char g[32];
	size_t gl = 0;

	return k != NULL && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(k, "group", g, sizeof(g), &gl) == 1 &&
	       strcmp(g, "prime256v1") == 0;
}

static int only_space(BIO *b)
{
	char c;

	while (BIO_read(b, &c, 1) == 1)
		if (!isspace((unsigned char)c))
			return 0;
	return 1;
}

/* The PEM of field f, checked and encoded again (LF, 64 columns), into
 * *pem; for a certificate, *cn_differs says whether its CN is not id. */
static int pem_field(const char *f, enum nrfcloud_upload_kind kind, const char *id, char **pem,
		     int *cn_differs, char *why, size_t cap)
{
	const char *want = kind == NRFCLOUD_ONBOARD_DEVICES ? "-----BEGIN CERTIFICATE-----" :
			   "-----BEGIN PUBLIC KEY-----";
	BIO *in = NULL, *out = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	BUF_MEM *bm;
	int rc = -1;

	*pem = NULL;
	*cn_differs = 0;
	while (isspace((unsigned char)*f))
		f++;
	if (strncmp(f, want, strlen(want)) != 0) {
		snprintf(why, cap, "the last field is not a PEM %s (it must start with %s)",
			 kind == NRFCLOUD_ONBOARD_DEVICES ? "certificate" : "public key", want);
		return -1;
	}
	in = BIO_new_mem_buf(f, -1);
	out = BIO_new(BIO_s_mem());
	if (in == NULL || out == NULL) {
		snprintf(why, cap, "out of memory");
		goto out;
	}
	if (kind == NRFCLOUD_ONBOARD_DEVICES) {
		x = PEM_read_bio_X509(in, NULL, NULL, NULL);
		k = x ? X509_get_pubkey(x) : NULL;
	} else {
		k = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
	}
	ERR_clear_error();
	if (k == NULL) {
		snprintf(why, cap, "the %s does not decode", kind == NRFCLOUD_ONBOARD_DEVICES ?
			 "certificate" : "public key");
		goto out;
	}
	if (!only_space(in)) {
		snprintf(why, cap, "the PEM field holds more than one PEM block or other text");
		goto out;
	}
	if (!is_p256(k)) {
		snprintf(why, cap, "the key is not EC P-256 (nRF Cloud takes ES256 keys only)");
		goto out;
	}
	if (x != NULL) {
		char cn[NRFCLOUD_DEVICE_ID_MAX + 2] = "";
		int l = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
						  sizeof(cn));

		*cn_differs = l < 0 || strcmp(cn, id) != 0;
	}
	if ((x != NULL ? PEM_write_bio_X509(out, x) : PEM_write_bio_PUBKEY(out, k)) != 1) {
		snprintf(why, cap, "cannot encode the PEM again");
		goto out;
	}
	BIO_get_mem_ptr(out, &bm);
	*pem = malloc(bm->length + 1);
	if (*pem == NULL) {
		snprintf(why, cap, "out of memory");
		goto out;
	}
	memcpy(*pem, bm->data, bm->length);
	(*pem)[bm->length] = '\0';
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(in);
	BIO_free(out);
	return rc;
}

/* ---- row text ---- */

char *nrfca_ob_format(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static char *row_text(enum nrfcloud_upload_kind kind, const char *id, const char *sub_type,
		      const char *tags, const char *fw_types, const char *pem)
{
	if (kind == NRFCLOUD_REGISTER_PUBLIC_KEYS)
		return nrfca_ob_format("%s,\"%s\"\n", id, pem);
	/* a subType may hold ',' (nRF Cloud's pattern allows it): quote it then */
	return nrfca_ob_format("%s,%s%s%s,%s,%s,\"%s\"\n", id, strchr(sub_type, ',') ? "\"" : "",
		       sub_type, strchr(sub_type, ',') ? "\"" : "", tags, fw_types, pem);
}

/* Check the fields of one device and make its row. */
static int make_row(enum nrfcloud_upload_kind kind, const char *id, const char *sub_type,
		    const char *tags, const char *fw_types, const char *pem_in, char **row,
		    int *cn_differs, char *why, size_t cap)
{
	char *pem = NULL;

	*row = NULL;
	if (!id_ok(id)) {
		snprintf(why, cap, "device id '%.64s' is not 1..128 of A-Z a-z 0-9 : _ -", id);
		return -1;
	}
	if (kind == NRFCLOUD_ONBOARD_DEVICES) {
		if (!subtype_ok(sub_type)) {
			snprintf(why, cap, "subType '%.40s' is over %u characters or holds others "
				 "than A-Z a-z 0-9 _ . , @ / : # -", sub_type, SUBTYPE_MAX);
			return -1;
		}
		if (!list_ok(tags, NULL)) {
			snprintf(why, cap, "tags '%.40s' are not a |-separated list of A-Z a-z 0-9 "
				 "_ . @ : # -", tags);
			return -1;
		}
		if (!list_ok(fw_types, fw_names)) {
			snprintf(why, cap, "fwTypes '%.40s' are not a |-separated list of APP, "
				 "MODEM, BOOT, SOFTDEVICE, BOOTLOADER, MDM_FULL", fw_types);
			return -1;
		}
	}
	if (strlen(pem_in) > NRFCA_OB_PEM_MAX) {
		snprintf(why, cap, "the PEM field is over %u bytes", NRFCA_OB_PEM_MAX);
		return -1;
	}
	if (pem_field(pem_in, kind, id, &pem, cn_differs, why, cap) != 0)
		return -1;
	*row = row_text(kind, id, sub_type, tags, fw_types, pem);
	free(pem);
	if (*row == NULL) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	return 0;
}

int nrfca_ob_cert_row(const char *device_id, const char *sub_type, const char *tags,
		      const char *fw_types, const char *cert_pem, char **row,
		      struct nrfca_err *e)
{
	char why[200];
	int cn;

	if (make_row(NRFCLOUD_ONBOARD_DEVICES, device_id, sub_type ? sub_type : "",
		     tags ? tags : "", fw_types ? fw_types : "APP|MODEM", cert_pem, row, &cn, why,
		     sizeof(why)) != 0)
		return nrfca_err_set(e, NRFCA_E_INPUT, "device %.64s: %s", device_id, why);
	return 0;
}

int nrfca_ob_pubkey_row(const char *device_id, const char *pubkey_pem, char **row,
			struct nrfca_err *e)
{
	char why[200];
	int cn;

	if (make_row(NRFCLOUD_REGISTER_PUBLIC_KEYS, device_id, "", "", "", pubkey_pem, row, &cn,
		     why, sizeof(why)) != 0)
		return nrfca_err_set(e, NRFCA_E_INPUT, "device %.64s: %s", device_id, why);
	return 0;
}

/* ---- CSV reading ---- */

struct rec {
	char *f[MAX_FIELDS];
	size_t nf;
};

static void rec_clear(struct rec *r)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		free(r->f[i]);
	r->nf = 0;
}

/* One record from text[*pos]; *pos moves past its line end.  -1 with why
 * on malformed CSV (the rest cannot be split reliably). */
static int read_rec(const char *t, size_t len, size_t *pos, struct rec *r, char *why, size_t cap)
{
	size_t p = *pos;

	r->nf = 0;
	for (;;) {
		size_t start, n = 0, lim = NRFCA_OB_PEM_MAX + 64;
		char *f;

		if (r->nf == MAX_FIELDS) {
			snprintf(why, cap, "more than %d fields", MAX_FIELDS - 1);
			return -1;
		}
		f = malloc(lim + 1);
		if (f == NULL) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
		r->f[r->nf++] = f;
		if (p < len && t[p] == '"') {
			for (p++;; p++) {
				if (p >= len) {
					snprintf(why, cap, "the file ends inside a quoted field");
					return -1;
				}
				if (t[p] == '"' && p + 1 < len && t[p + 1] == '"')
					p++;
				else if (t[p] == '"')
					break;
				if (t[p] == '\0') {
					snprintf(why, cap, "a NUL byte");
					return -1;
				}
				if (n == lim) {
					snprintf(why, cap, "a field over %zu bytes", lim);
					return -1;
				}
				if (t[p] != '\r')
					f[n++] = t[p];
			}
			p++;
			if (p < len && t[p] != ',' && t[p] != '\n' &&
			    !(t[p] == '\r' && p + 1 < len && t[p + 1] == '\n')) {
				snprintf(why, cap, "text after a closing quote");
				return -1;
			}
		} else {
			for (start = p; p < len && t[p] != ',' && t[p] != '\n'; p++) {
				if (t[p] == '"' || t[p] == '\0') {
					snprintf(why, cap, "%s inside an unquoted field", t[p] ? "a quote" :
						 "a NUL byte");
					return -1;
				}
				if (p - start == lim) {
					snprintf(why, cap, "a field over %zu bytes", lim);
					return -1;
				}
			}
			n = p - start;
			if (n > 0 && t[start + n - 1] == '\r' && (p == len || t[p] == '\n'))
				n--;
			memcpy(f, t + start, n);
		}
		f[n] = '\0';
		if (p < len && t[p] == ',') {
			p++;
			continue;
		}
		if (p < len && t[p] == '\r')
			p++;
		if (p < len && t[p] == '\n')
			p++;
		*pos = p;
		return 0;
	}
}

static int has_pem(const struct rec *r)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		if (strstr(r->f[i], "-----BEGIN") != NULL)
			return 1;
	return 0;
}

void nrfca_ob_set_clear(struct nrfca_ob_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->rows[i].id);
		free(s->rows[i].text);
		free(s->rows[i].message);
	}
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

static int cmp_id(const void *a, const void *b)
{
	const struct nrfca_ob_row *const *x = a, *const *y = b;
	int c = strcmp((*x)->id, (*y)->id);

	return c ? c : ((*x)->row > (*y)->row) - ((*x)->row < (*y)->row);
}

/* Refuse a set in which a device appears twice. */
static int no_twins(const char *name, struct nrfca_ob_set *s, struct nrfca_err *e)
{
	const struct nrfca_ob_row **v;
	size_t i;
	int rc = 0;

	if (s->n < 2)
		return 0;
	v = malloc(s->n * sizeof(*v));
	if (v == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	for (i = 0; i < s->n; i++)
		v[i] = &s->rows[i];
	qsort(v, s->n, sizeof(*v), cmp_id);
	for (i = 1; i < s->n; i++)
		if (strcmp(v[i]->id, v[i - 1]->id) == 0) {
			rc = nrfca_err_set(e, NRFCA_E_INPUT, "%s: device %.64s is in rows %zu and "
					   "%zu; keep one row per device; nothing was sent", name,
					   v[i]->id, v[i - 1]->row, v[i]->row);
			break;
		}
	free(v);
	return rc;
}

int nrfca_ob_parse(const char *name, const char *text, size_t len, int kind,
		   struct nrfca_ob_set *s, struct nrfca_err *e)
{
	struct rec r = { { NULL }, 0 };
	size_t pos = 0, rowno = 0, bad = 0, cap = 0;
	char why[240], first[400] = "";
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (len > NRFCA_OB_FILE_MAX)
		return nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s is over %u bytes", name,
				     NRFCA_OB_FILE_MAX);
	while (pos < len) {
		enum nrfcloud_upload_kind k;
		struct nrfca_ob_row *row;
		char *rt = NULL;
		int cn = 0;

		if (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n')) {
			pos += text[pos] == '\n' ? 1 : 2;
			continue;   /* blank lines are not sent (nRF Cloud refuses them) */
		}
		rowno++;
		if (read_rec(text, len, &pos, &r, why, sizeof(why)) != 0) {
			nrfca_err_set(e, NRFCA_E_INPUT, "%s: row %zu: %s; nothing was sent", name,
				      rowno, why);
			goto out;
		}
		if (rowno == 1 && !has_pem(&r)) {
			s->header = 1;      /* "Do not use a header": skipped, still row 1 */
			rec_clear(&r);
			continue;
		}
		if (r.nf == 5 || r.nf == 2)
			k = r.nf == 5 ? NRFCLOUD_ONBOARD_DEVICES : NRFCLOUD_REGISTER_PUBLIC_KEYS;
		else
			k = NRFCLOUD_UPLOAD_KIND_MAX;
		if (k == NRFCLOUD_UPLOAD_KIND_MAX) {
			snprintf(why, sizeof(why), "%zu fields; an onboarding row has 5 (id,subType,"
				 "tags,fwTypes,\"PEM\"), a public-key row 2 (id,\"PEM\")", r.nf);
		} else if (kind >= 0 && (int)k != kind) {
			snprintf(why, sizeof(why), "%s", kind == NRFCLOUD_ONBOARD_DEVICES ?
				 "a public-key row (id,\"PEM\") in an onboarding file: use "
				 "--public-keys for public-key files" :
				 "an onboarding row (5 fields) in a public-key file: leave out "
				 "--public-keys");
			k = NRFCLOUD_UPLOAD_KIND_MAX;
		} else if (make_row(k, r.f[0], k == NRFCLOUD_ONBOARD_DEVICES ? r.f[1] : "",
				    k == NRFCLOUD_ONBOARD_DEVICES ? r.f[2] : "",
				    k == NRFCLOUD_ONBOARD_DEVICES ? r.f[3] : "", r.f[r.nf - 1], &rt,
				    &cn, why, sizeof(why)) != 0) {
			k = NRFCLOUD_UPLOAD_KIND_MAX;
		}
		if (k == NRFCLOUD_UPLOAD_KIND_MAX) {
			if (bad++ == 0)
				snprintf(first, sizeof(first), "row %zu%s%.64s%s: %s", rowno,
					 r.nf > 0 && id_ok(r.f[0]) ? " (device " : "",
					 r.nf > 0 && id_ok(r.f[0]) ? r.f[0] : "",
					 r.nf > 0 && id_ok(r.f[0]) ? ")" : "", why);
			rec_clear(&r);
			continue;
		}
		if (s->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct nrfca_ob_row *nv = realloc(s->rows, nc * sizeof(*nv));

			if (nv == NULL) {
				free(rt);
				nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
				goto out;
			}
			s->rows = nv;
			cap = nc;
		}
		row = &s->rows[s->n];
		memset(row, 0, sizeof(*row));
		row->kind = k;
		row->row = rowno;
		row->text = rt;
		row->text_len = strlen(rt);
		row->id = strdup(r.f[0]);
		s->n++;
		if (row->id == NULL) {
			nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
			goto out;
		}
		if (cn && s->cn_mismatch++ == 0)
			s->cn_example = rowno;
		rec_clear(&r);
	}
	if (bad > 0) {
		nrfca_err_set(e, NRFCA_E_INPUT, "%s: %s%s; nothing was sent", name, first,
			      bad > 1 ? " (and more rows with problems)" : "");
		goto out;
	}
	rc = no_twins(name, s, e);
out:
	rec_clear(&r);
	if (rc != 0)
		nrfca_ob_set_clear(s);
	return rc;
}

int nrfca_ob_load(const char *path, int kind, struct nrfca_ob_set *s, struct nrfca_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	if (nrfca_read_small(path, NRFCA_OB_FILE_MAX, &text, &len, NULL, e) != 0)
		return -1;
	rc = nrfca_ob_parse(path, text, len, kind, s, e);
	free(text);
	return rc;
}

/* ---- results ---- */

void nrfca_ob_set_result(struct nrfca_ob_row *r, enum nrfca_ob_result res, const char *msg)
{
	char *m = msg ? strdup(msg) : NULL;

	if (res == NRFCA_OB_ERROR && r->result == NRFCA_OB_ERROR && r->message && m) {
		/* several errors for one row */
		char *both = nrfca_ob_format("%s; %s", r->message, m);

		if (both != NULL) {
			free(m);
			m = both;
		}
	}
	free(r->message);
	r->message = m;
	r->result = res;
}

int nrfca_ob_write_results(const char *path, const struct nrfca_ob_set *s,
			   struct nrfca_err *e)
{
	size_t cap = 256, len = 0, i;
	char *buf = malloc(cap), *nb;
	int rc;

	if (buf == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	len = (size_t)snprintf(buf, cap, "device_id,result,row,bulk_ops_request_id,message\n");
	for (i = 0; i < s->n; i++) {
		const struct nrfca_ob_row *r = &s->rows[i];
		const char *m = r->message ? r->message : "";
		size_t need = strlen(r->id) + strlen(m) * 2 + 160, j;

		if (len + need > cap) {
			while (len + need > cap)
				cap *= 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
			}
			buf = nb;
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s,%s,%zu,%s,\"", r->id,
					nrfca_ob_result_name(r->result), r->row, r->request);
		for (j = 0; m[j]; j++) {
			if (m[j] == '"')
				buf[len++] = '"';
			buf[len++] = m[j];
		}
		buf[len++] = '"';
		buf[len++] = '\n';
	}
	rc = nrfca_write_atomic(path, buf, len, 0644, e);
	free(buf);
	return rc;
}
