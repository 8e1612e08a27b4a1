/*
 * page_json.c - a page of ledger records as JSON, written straight into one
 * buffer (see page_json.h).
 */
#include "page_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64url.h"
#include "jw.h"
#include "timefmt.h"
#include "csr.h"

#define PAGE_INITIAL (64u << 10)  /* a page of 1,000 is about 600 KB */

struct page_json {
	struct ca *ca;
	struct jw w;
	int n;             /* records in the page */
};

/* The members of ca_record_json in its order; -1 when the record is not one
 * this writer can write exactly as jansson would. */
static int put_record(struct page_json *p, const struct cert_record *r)
{
	const char *status = cert_status_name(r->status), *kind = cert_kind_name(r->kind);
	const char *reason;
	char sha[65];

	if (status == NULL || kind == NULL)
		return -1;
	nrfca_hex_encode(r->csr_sha256, 32, sha);
	if (jw_raws(&p->w, "{\"serial\":") || jw_str(&p->w, r->serial) ||
	    jw_member(&p->w, "device_id", r->device_id) || jw_member(&p->w, "profile", r->profile) ||
	    jw_member(&p->w, "station", r->station) || jw_member(&p->w, "subject", r->subject) ||
	    jw_member(&p->w, "status", status) || jw_time(&p->w, "not_before", r->not_before) ||
	    jw_time(&p->w, "not_after", r->not_after) || jw_time(&p->w, "issued_at", r->issued_at) ||
	    jw_member(&p->w, "csr_sha256", sha) || jw_member(&p->w, "uuid", r->uuid) ||
	    jw_member(&p->w, "imei", r->imei))
		return -1;
	if (jw_key(&p->w, "sec_tag") ||
	    (r->sec_tag >= 0 ? jw_llong(&p->w, r->sec_tag) : jw_raws(&p->w, "null")) ||
	    jw_opt(&p->w, "request_id", r->request_id) || jw_opt(&p->w, "slot", r->slot))
		return -1;
	if (r->status == CERT_REVOKED) {
		reason = crl_reason_name(r->revocation_reason);
		if (jw_time(&p->w, "revoked_at", r->revoked_at) ||
		    jw_member(&p->w, "revocation_reason", reason != NULL ? reason : "unspecified"))
			return -1;
	}
	if (jw_member(&p->w, "kind", kind))
		return -1;
	/* a list leaves out a certificate's PEM, not a registration's key */
	if (r->kind == CERT_KIND_PUBLIC_KEY && r->der_len > 0 && r->der_len <= NRFCA_DER_PEM_MAX &&
	    (jw_key(&p->w, "public_key") || jw_pem(&p->w, "PUBLIC KEY", r->der, r->der_len)))
		return -1;
	return jw_raws(&p->w, "}");
}

/* Any other record: jansson's tree and its encoding, as before. */
static int put_record_jansson(struct page_json *p, const struct cert_record *r)
{
	json_t *o = ca_record_json(p->ca, r);
	size_t n;
	char *at;
	int rc = -1;

	if (o == NULL)
		return -1;
	json_object_del(o, "certificate");
	n = json_dumpb(o, NULL, 0, JSON_COMPACT);
	if (n > 0 && (at = jw_reserve(&p->w, n)) != NULL && json_dumpb(o, at, n, JSON_COMPACT) == n) {
		p->w.len += n;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

struct page_json *page_json_new(struct ca *ca)
{
	struct page_json *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->ca = ca;
	if (jw_init(&p->w, PAGE_INITIAL) != 0) {
		free(p);
		return NULL;
	}
	jw_raws(&p->w, "{\"certificates\":[");
	return p;
}

int page_json_add(struct page_json *p, const struct cert_record *r)
{
	size_t start = p->w.len;

	if (p->n > 0 && jw_raws(&p->w, ",") != 0)
		return -1;
	if (put_record(p, r) != 0) {
		jw_rewind(&p->w, p->n > 0 ? start + 1 : start);
		if (put_record_jansson(p, r) != 0) {
			jw_rewind(&p->w, start);
			return -1;
		}
	}
	p->n++;
	return 0;
}

int page_json_finish(struct page_json *p, const char *next, char **body, size_t *len)
{
	int rc = -1;

	if (jw_raws(&p->w, "],\"next\":") == 0 &&
	    (next != NULL ? jw_str(&p->w, next) : jw_raws(&p->w, "null")) == 0 &&
	    jw_raws(&p->w, "}") == 0) {
		*body = jw_take(&p->w, len);
		rc = 0;
	}
	page_json_free(p);
	return rc;
}

void page_json_free(struct page_json *p)
{
	if (p == NULL)
		return;
	jw_free(&p->w);
	free(p);
}
