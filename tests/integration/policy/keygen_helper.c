/*
 * keygen_helper - %KEYGEN output from a modem (nrf91-sim) for the policy
 * integration test.
 *
 *   keygen_helper PORT SEC_TAG ATTRIBUTES COUNT [public-key]
 *
 * Takes the modem offline (CFUN=4), then COUNT times deletes the key in
 * SEC_TAG (if any) and runs AT%KEYGEN=SEC_TAG,2,0[,"ATTRIBUTES"] (with
 * `public-key`: AT%KEYGEN=SEC_TAG,2,1, the public key form), printing
 * the payload (what is inside the quotes) on one line each.  An empty
 * ATTRIBUTES keeps the modem's default subject (CN=<device UUID>).
 * Exit 0 on success, 1 with a sentence on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrf91.h"

#define MAX_COUNT 10000

int main(int argc, char **argv)
{
	struct nrf91_opts o;
	struct nrf91 *m = NULL;
	struct nrfca_err e = { 0 };
	struct nrf91_keygen_req rq;
	char *end = NULL, *payload = NULL;
	unsigned long tag, count, i;
	int rc = 1;

	if ((argc != 5 && argc != 6) || (argc == 6 && strcmp(argv[5], "public-key") != 0)) {
		fprintf(stderr, "usage: keygen_helper PORT SEC_TAG ATTRIBUTES COUNT [public-key]\n");
		return 2;
	}
	tag = strtoul(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || tag > NRF91_SEC_TAG_MAX) {
		fprintf(stderr, "keygen_helper: sec_tag '%s' is not 0..%u\n", argv[2],
			NRF91_SEC_TAG_MAX);
		return 2;
	}
	count = strtoul(argv[4], &end, 10);
	if (*argv[4] == '\0' || *end != '\0' || count < 1 || count > MAX_COUNT) {
		fprintf(stderr, "keygen_helper: count '%s' is not 1..%d\n", argv[4], MAX_COUNT);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.port.path = argv[1];
	o.at.prefix = NRFCA_AT_PREFIX_NONE;
	if (nrf91_open(&o, &m, &e) != 0)
		goto out;
	if (nrf91_cfun_set(m, 4, &e) != 0)
		goto out;
	memset(&rq, 0, sizeof(rq));
	rq.sec_tag = (uint32_t)tag;
	rq.content = argc == 6 ? 1 : 0;
	rq.attributes = argv[3][0] != '\0' ? argv[3] : NULL;
	for (i = 0; i < count; i++) {
		/* the modem refuses %KEYGEN over an existing key (519); 513 = none there */
		if (nrf91_cmng_delete(m, (uint32_t)tag, NRF91_CRED_CLIENT_KEY, &e) != 0) {
			int code = 0;

			if (nrf91_last_final(m, &code) != NRFCA_AT_FINAL_CME || code != 513)
				goto out;
		}
		if (nrf91_keygen(m, &rq, &payload, &e) != 0)
			goto out;
		printf("%s\n", payload);
		free(payload);
		payload = NULL;
	}
	if (fflush(stdout) != 0) {
		nrfca_err_set(&e, NRFCA_E_IO, "cannot write to stdout");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "keygen_helper: %s\n", e.msg);
	free(payload);
	nrf91_close(m);
	return rc;
}
