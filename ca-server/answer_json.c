/*
 * answer_json.c - the enrollment answer as JSON (see answer_json.h).
 */
#include "answer_json.h"

#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "jw.h"
#include "timefmt.h"

static const char *pem_label(const struct cert_record *r)
{
	return r->kind == CERT_KIND_PUBLIC_KEY ? "PUBLIC KEY" : "CERTIFICATE";
}

json_t *answer_json_tree(const char *chain, const char *tb, size_t tbl,
			 const struct cert_record *r)
{
	char nb[NRFCA_TIME_ISO_LEN], na[NRFCA_TIME_ISO_LEN], *pem = NULL;
	json_t *o;

	if (r->der_len == 0 || nrfca_der_to_pem(pem_label(r), r->der, r->der_len, &pem, NULL) != 0)
		return NULL;
	nrfca_time_iso(r->not_before, nb);
	nrfca_time_iso(r->not_after, na);
	if (r->kind == CERT_KIND_PUBLIC_KEY)
		/* a registration: no certificate, no chain; the device gets the trust
		 * bundle and the station the key nrfca recorded */
		o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "registration", 1,
			      "kind", "public_key", "serial", r->serial, "device_id",
			      r->device_id, "profile", r->profile, "public_key", pem,
			      "not_before", nb, "not_after", na);
	else
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "serial", r->serial,
			      "device_id", r->device_id, "profile", r->profile, "certificate",
			      pem, "chain", chain, "not_before", nb, "not_after", na);
	if (o != NULL) {
		json_object_set_new(o, "sec_tag",
				    r->sec_tag >= 0 ? json_integer(r->sec_tag) : json_null());
		json_object_set_new(o, "trust_bundle", tb ? json_stringn(tb, tbl) : json_null());
	}
	free(pem);
	return o;
}

/* The members of answer_json_tree in its order; -1 for text jw_str does
 * not take, or out of memory. */
static int put_answer(struct jw *w, const char *chain, const char *tb, size_t tbl,
		      const struct cert_record *r)
{
	if (r->der_len == 0 || r->der_len > NRFCA_DER_PEM_MAX)
		return -1;
	if (r->kind == CERT_KIND_PUBLIC_KEY) {
		if (jw_raws(w, "{\"registration\":true,\"kind\":\"public_key\"") ||
		    jw_member(w, "serial", r->serial))
			return -1;
	} else if (jw_raws(w, "{\"serial\":") || jw_str(w, r->serial)) {
		return -1;
	}
	if (jw_member(w, "device_id", r->device_id) || jw_member(w, "profile", r->profile) ||
	    jw_key(w, r->kind == CERT_KIND_PUBLIC_KEY ? "public_key" : "certificate") ||
	    jw_pem(w, pem_label(r), r->der, r->der_len))
		return -1;
	if (r->kind != CERT_KIND_PUBLIC_KEY &&
	    (chain == NULL || jw_key(w, "chain") || jw_str(w, chain)))
		return -1;
	if (jw_time(w, "not_before", r->not_before) || jw_time(w, "not_after", r->not_after) ||
	    jw_key(w, "sec_tag") ||
	    (r->sec_tag >= 0 ? jw_llong(w, r->sec_tag) : jw_raws(w, "null")) ||
	    jw_key(w, "trust_bundle") || (tb != NULL ? jw_strn(w, tb, tbl) : jw_raws(w, "null")))
		return -1;
	return jw_raws(w, "}");
}

int answer_json_write(const char *chain, const char *tb, size_t tbl,
		      const struct cert_record *r, char **body, size_t *len)
{
	struct jw w;
	json_t *o;
	char *txt;

	if (jw_init(&w, 4096 + 2 * r->der_len + (chain ? strlen(chain) : 0) + tbl + tbl / 8) != 0)
		return -1;
	if (put_answer(&w, chain, tb, tbl, r) == 0) {
		*body = jw_take(&w, len);
		return 0;
	}
	jw_free(&w);
	/* text only jansson writes exactly: its tree */
	o = answer_json_tree(chain, tb, tbl, r);
	txt = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (txt == NULL)
		return -1;
	*body = txt;
	*len = strlen(txt);
	return 1;
}
