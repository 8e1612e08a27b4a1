/*
 * fill_ledger URL N - fills a ledger through ledger.h for the migration and
 * backup tests: N certificates (pairs for one device: the second supersedes
 * the first, or sits beside it without the one-active mark), every tenth
 * revoked (keyCompromise), three credentials (groups, a client-certificate
 * binding, an expiry), 100 expected devices, three CRL numbers.  8 threads,
 * so the writer group-commits.  Prints "filled N".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ledger.h"

struct job {
	struct ledger *l;
	int first, n, failures;
	char msg[NRFCA_ERR_MSG_MAX + 32];
};

static void record(struct cert_record *r, int i)
{
	unsigned int len;
	static unsigned char der[300];

	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%08x%08x", 0x5eed0000u, (unsigned)i);
	snprintf(r->device_id, sizeof(r->device_id), "nrf-%015d", i / 2);
	snprintf(r->profile, sizeof(r->profile), "host-key");
	snprintf(r->station, sizeof(r->station), "station-%d", i % 3);
	snprintf(r->subject, sizeof(r->subject), "CN=%s", r->device_id);
	r->sec_tag = 16842753;
	EVP_Digest(r->serial, strlen(r->serial), r->csr_sha256, &len, EVP_sha256(), NULL);
	EVP_Digest(r->device_id, strlen(r->device_id), r->pubkey_sha256, &len, EVP_sha256(), NULL);
	r->not_before = 1700000000;
	r->not_after = 1800000000;
	r->status = CERT_ACTIVE;
	r->revocation_reason = -1;
	r->one_active = i % 4 != 3;
	memset(der, 0x30, sizeof(der));
	r->der = der;
	r->der_len = sizeof(der);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct nrfca_err err = { 0 };
	struct cert_record r, prev;
	int i;

	for (i = j->first; i < j->first + j->n; i++) {
		record(&r, i);
		record(&prev, i - 1);
		if (ledger_record_issuance(j->l, &r, r.station, i % 4 == 1 ? prev.serial : NULL, &err) != 0 ||
		    (i % 10 == 5 && ledger_revoke(j->l, r.serial, CRL_REASON_KEY_COMPROMISE, "op", NULL, &err) != 0)) {
			j->failures++;
			snprintf(j->msg, sizeof(j->msg), "record %d: %s", i, err.msg);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const groups[] = { "line-1", "factory-a" };
	struct ledger_cred_opts opts = { .expires_at = 4000000000LL };
	const char *devices[100];
	char names[100][32];
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;
	struct job jobs[8];
	pthread_t th[8];
	unsigned char h[3][32], fp[32];
	unsigned long long crl;
	unsigned int len;
	int n, t, i, per;

	if (argc != 3 || (n = atoi(argv[2])) <= 0 || n % 16 != 0) {
		fprintf(stderr, "usage: fill_ledger URL N (N a multiple of 16)\n");
		return 2;
	}
	if (ledger_open(argv[1], &l, &err) != 0) {
		fprintf(stderr, "fill_ledger: %s\n", err.msg);
		return 1;
	}
	per = n / 8; /* even: a pair never spans two threads */
	for (t = 0; t < 8; t++) {
		jobs[t] = (struct job){ .l = l, .first = t * per, .n = per };
		pthread_create(&th[t], NULL, worker, &jobs[t]);
	}
	for (t = 0; t < 8; t++) {
		pthread_join(th[t], NULL);
		if (jobs[t].failures) {
			fprintf(stderr, "fill_ledger: %d failures, last: %s\n", jobs[t].failures, jobs[t].msg);
			return 1;
		}
	}
	for (i = 0; i < 3; i++)
		EVP_Digest(&i, sizeof(i), h[i], &len, EVP_sha256(), NULL);
	EVP_Digest("client-cert", 11, fp, &len, EVP_sha256(), NULL);
	for (i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "nrf-9%014d", i);
		devices[i] = names[i];
	}
	if (ledger_cred_add(l, "station-0", ROLE_STATION, h[0], "op", &err) ||
	    ledger_cred_add_opts(l, "station-1", ROLE_STATION, h[1], &opts, "op", &err) ||
	    ledger_cred_add(l, "ops", ROLE_OPERATOR, h[2], "op", &err) ||
	    ledger_cred_set_groups(l, "station-0", groups, 2, "op", &err) ||
	    ledger_cred_bind_cert(l, "station-1", fp, "CN=station-1,O=Factory", "op", &err) ||
	    ledger_expected_import(l, LEDGER_SCOPE_GROUP, "line-1", "PO-4711", devices, 100, "op", NULL, &err) ||
	    ledger_next_crl_number(l, &crl, &err) || ledger_next_crl_number(l, &crl, &err) ||
	    ledger_next_crl_number(l, &crl, &err)) {
		fprintf(stderr, "fill_ledger: %s\n", err.msg);
		return 1;
	}
	ledger_close(l);
	printf("filled %d\n", n);
	return 0;
}
