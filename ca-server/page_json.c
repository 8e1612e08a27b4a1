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
#include "timefmt.h"
#include "csr.h"

#define PAGE_INITIAL (64u << 10)  /* a page of 1,000 is about 600 KB */

struct page_json {
	struct ca *ca;
	char *buf;
	size_t len, cap;
	int n;             /* records in the page */
};

static int grow(struct page_json *p, size_t more)
{
	size_t cap = p->cap;
	char *nb;

	if (p->len + more + 1 <= cap)
		return 0;
	while (p->len + more + 1 > cap)
		cap *= 2;
	nb = realloc(p->buf, cap);
	if (nb == NULL)
		return -1;
	p->buf = nb;
	p->cap = cap;
	return 0;
}

static int put(struct page_json *p, const char *s, size_t n)
{
	if (grow(p, n) != 0)
		return -1;
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	return 0;
}

static int put_s(struct page_json *p, const char *s)
{
	return put(p, s, strlen(s));
}

/* A JSON string of text that jansson writes as it is (printable ASCII but
 * '"' and '\\'), or with a line end written "\n" (PEM).  -1 for anything
 * else (the caller lets jansson write the record) or out of memory. */
static int put_str(struct page_json *p, const char *s)
{
	size_t i, n = strlen(s), extra = 0;
	char *o;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			extra++;
		else if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return -1;
	}
	if (grow(p, n + extra + 2) != 0)
		return -1;
	o = p->buf + p->len;
	*o++ = '"';
	if (extra == 0) {
		memcpy(o, s, n);
		o += n;
	} else {
		for (i = 0; i < n; i++) {
			if (s[i] == '\n') {
				*o++ = '\\';
				*o++ = 'n';
			} else {
				*o++ = s[i];
			}
		}
	}
	*o++ = '"';
	p->len = (size_t)(o - p->buf);
	return 0;
}

/* ,"key": then the value */
static int put_key(struct page_json *p, const char *key)
{
	return put_s(p, ",\"") || put_s(p, key) || put_s(p, "\":");
}

static int put_member(struct page_json *p, const char *key, const char *val)
{
	return put_key(p, key) || put_str(p, val);
}

/* a string member, or null when val is "" */
static int put_opt(struct page_json *p, const char *key, const char *val)
{
	return put_key(p, key) || (val[0] != '\0' ? put_str(p, val) : put_s(p, "null"));
}

static int put_time(struct page_json *p, const char *key, long long t)
{
	char iso[NRFCA_TIME_ISO_LEN];

	nrfca_time_iso(t, iso);
	return put_member(p, key, iso);
}

/* The members of ca_record_json in its order; -1 when the record is not one
 * this writer can write exactly as jansson would. */
static int put_record(struct page_json *p, const struct cert_record *r)
{
	const char *status = cert_status_name(r->status), *kind = cert_kind_name(r->kind);
	const char *reason;
	char sha[65], num[24];
	char *pem = NULL;
	int rc;

	if (status == NULL || kind == NULL)
		return -1;
	nrfca_hex_encode(r->csr_sha256, 32, sha);
	if (put_s(p, "{\"serial\":") || put_str(p, r->serial) ||
	    put_member(p, "device_id", r->device_id) || put_member(p, "profile", r->profile) ||
	    put_member(p, "station", r->station) || put_member(p, "subject", r->subject) ||
	    put_member(p, "status", status) || put_time(p, "not_before", r->not_before) ||
	    put_time(p, "not_after", r->not_after) || put_time(p, "issued_at", r->issued_at) ||
	    put_member(p, "csr_sha256", sha) || put_member(p, "uuid", r->uuid) ||
	    put_member(p, "imei", r->imei))
		return -1;
	if (r->sec_tag >= 0)
		snprintf(num, sizeof(num), "%lld", r->sec_tag);
	else
		snprintf(num, sizeof(num), "null");
	if (put_key(p, "sec_tag") || put_s(p, num) || put_opt(p, "request_id", r->request_id) ||
	    put_opt(p, "slot", r->slot))
		return -1;
	if (r->status == CERT_REVOKED) {
		reason = crl_reason_name(r->revocation_reason);
		if (put_time(p, "revoked_at", r->revoked_at) ||
		    put_member(p, "revocation_reason", reason != NULL ? reason : "unspecified"))
			return -1;
	}
	if (put_member(p, "kind", kind))
		return -1;
	/* a list leaves out a certificate's PEM, not a registration's key */
	if (r->kind == CERT_KIND_PUBLIC_KEY && r->der_len > 0 &&
	    nrfca_der_to_pem("PUBLIC KEY", r->der, r->der_len, &pem, NULL) == 0) {
		rc = put_member(p, "public_key", pem);
		free(pem);
		if (rc != 0)
			return -1;
	}
	return put_s(p, "}");
}

/* Any other record: jansson's tree and its encoding, as before. */
static int put_record_jansson(struct page_json *p, const struct cert_record *r)
{
	json_t *o = ca_record_json(p->ca, r);
	size_t n;
	int rc = -1;

	if (o == NULL)
		return -1;
	json_object_del(o, "certificate");
	n = json_dumpb(o, NULL, 0, JSON_COMPACT);
	if (n > 0 && grow(p, n) == 0 && json_dumpb(o, p->buf + p->len, n, JSON_COMPACT) == n) {
		p->len += n;
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
	p->cap = PAGE_INITIAL;
	p->buf = malloc(p->cap);
	if (p->buf == NULL) {
		free(p);
		return NULL;
	}
	memcpy(p->buf, "{\"certificates\":[", 17);
	p->len = 17;
	return p;
}

int page_json_add(struct page_json *p, const struct cert_record *r)
{
	size_t start = p->len;

	if (p->n > 0 && put_s(p, ",") != 0)
		return -1;
	if (put_record(p, r) != 0) {
		p->len = p->n > 0 ? start + 1 : start;
		if (put_record_jansson(p, r) != 0) {
			p->len = start;
			return -1;
		}
	}
	p->n++;
	return 0;
}

int page_json_finish(struct page_json *p, const char *next, char **body, size_t *len)
{
	int rc = -1;

	if (put_s(p, "],\"next\":") == 0 && (next != NULL ? put_str(p, next) : put_s(p, "null")) == 0 &&
	    put_s(p, "}") == 0) {
		p->buf[p->len] = '\0';
		*body = p->buf;
		*len = p->len;
		p->buf = NULL;
		rc = 0;
	}
	page_json_free(p);
	return rc;
}

void page_json_free(struct page_json *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	free(p);
}
