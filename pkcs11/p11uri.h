/*
 * p11uri.h - RFC 7512 PKCS#11 URIs.
 *
 *   pkcs11:token=nrfca;object=ca-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/nrfca/pin
 *
 * Path attributes: token, serial, manufacturer, model, object, id, type.
 * Query attributes: module-path, module-name, pin-source, pin-value.
 * p11-kit's p11_kit_uri_parse() decodes; p11uri.c first checks what p11-kit
 * lets through (see there).  Values are percent-decoded; `id` keeps raw
 * bytes.  Unknown path attributes are refused (they would silently widen
 * the match), and so are unknown query attributes, slot-* and library-*
 * attributes (nrfca never selects by slot), an attribute given twice,
 * unencoded white space, an encoded NUL in a string and values longer
 * than PKCS#11 allows.  At most NRFCA_P11URI_MAX bytes.
 */
#ifndef NRFCA_P11URI_H
#define NRFCA_P11URI_H

#include <stddef.h>

#include "error.h"

#define NRFCA_P11URI_MAX 4096
#define NRFCA_P11URI_ID_MAX 128

struct p11uri {
	char *token;        /* CKA token label (<= 32 bytes) */
	char *serial;       /* token serial (<= 16 bytes) */
	char *manufacturer;
	char *model;
	char *object;       /* CKA_LABEL of the key */
	unsigned char id[NRFCA_P11URI_ID_MAX];
	size_t id_len;      /* 0: no id given */
	char *type;         /* "private", "public", "cert", ... */
	char *module_path;
	char *module_name;
	char *pin_source;   /* "file:/path" or a bare path */
	char *pin_value;    /* inline PIN: parsed so it can be refused clearly */
};

/* Parse `text` into `out` (which the caller then owns; release with
 * p11uri_clear).  On failure nothing is allocated and err says what. */
int p11uri_parse(const char *text, struct p11uri *out, struct nrfca_err *err);
void p11uri_clear(struct p11uri *u);

/* `text` formatted again by p11-kit without module-path, with pin-source
 * replaced by `pin_source` (NULL: none) and type=private when the URI names
 * no type.  Returns a new string, or NULL with err set. */
char *p11uri_engine_text(const char *text, const char *pin_source, struct nrfca_err *err);

#endif
