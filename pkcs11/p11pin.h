/*
 * p11pin.h - where the token PIN comes from.  Internal to pkcs11/: no other
 * folder sees a PIN.
 *
 * Sources, in order: the URI's pin-source (file:PATH or a bare path; a
 * relative one resolves against base_dir, the configuration's folder, and
 * is refused when base_dir is NULL), else the environment variable the
 * configuration names.  A PIN
 * file must be a regular file, at most NRFCA_PIN_MAX bytes, and not
 * readable or writable by group or others unless the operator explicitly
 * allows it.  One trailing LF or CRLF is removed.  The caller wipes the
 * result with p11pin_wipe() as soon as C_Login returned.
 */
#ifndef NRFCA_P11PIN_H
#define NRFCA_P11PIN_H

#include <stddef.h>

#include "error.h"

#define NRFCA_PIN_MAX 256

struct p11pin {
	char buf[NRFCA_PIN_MAX + 1];
	size_t len;
};

int p11pin_read(const char *pin_source, const char *base_dir, const char *pin_env,
		int allow_insecure_file, struct p11pin *out, struct nrfca_err *err);
void p11pin_wipe(struct p11pin *pin);

#endif
