/*
 * bench_signer - signatures per second through nrfca's signer (EVP key ->
 * session pool -> C_Sign) with 1 and 2 threads, and in the same run the raw
 * C_SignInit+C_Sign rate of the same token and key, with the ratio.
 *
 * usage: bench_signer URI SECONDS   (run deploy/bench-signer.sh for a token)
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <p11-kit/pkcs11.h>

#include "p11pin.h"
#include "p11uri.h"
#include "signer.h"

static double seconds_arg;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct job {
	struct signer *s;
	/* raw */
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE sess;
	CK_OBJECT_HANDLE key;
	unsigned long n;
	int failed;
};

static void *via_signer(void *arg)
{
	struct job *j = arg;
	unsigned char msg[32] = "nrfca benchmark message........", sig[128];
	double end = now() + seconds_arg;

	while (now() < end) {
		int k;

		for (k = 0; k < 64; k++) {
			EVP_MD_CTX *mc = EVP_MD_CTX_new();
			size_t sl = sizeof(sig);
			int ok = mc != NULL &&
				 EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, signer_pkey(j->s)) == 1 &&
				 EVP_DigestSign(mc, sig, &sl, msg, sizeof(msg)) == 1;

			EVP_MD_CTX_free(mc);
			if (!ok) {
				ERR_print_errors_fp(stderr);
				j->failed = 1;
				return NULL;
			}
			j->n++;
		}
	}
	return NULL;
}

static void *raw(void *arg)
{
	struct job *j = arg;
	unsigned char dg[32] = { 1, 2, 3 }, sig[128];
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	double end = now() + seconds_arg;

	while (now() < end) {
		int k;

		for (k = 0; k < 64; k++) {
			CK_ULONG sl = sizeof(sig);

			if (j->f->C_SignInit(j->sess, &m, j->key) != CKR_OK ||
			    j->f->C_Sign(j->sess, dg, sizeof(dg), sig, &sl) != CKR_OK) {
				j->failed = 1;
				return NULL;
			}
			j->n++;
		}
	}
	return NULL;
}

static double run(void *(*fn)(void *), struct job *jobs, int threads)
{
	pthread_t t[8];
	unsigned long total = 0;
	double t0 = now(), el;
	int i;

	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, fn, &jobs[i]);
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (jobs[i].failed) {
			fprintf(stderr, "bench_signer: signing failed\n");
			exit(1);
		}
		total += jobs[i].n;
	}
	el = now() - t0;
	return (double)total / el;
}

/* Raw PKCS#11, the same token and key, without nrfca in between. */
static int raw_setup(const char *uristr, struct job *jobs, int n, CK_FUNCTION_LIST_PTR *fp)
{
	struct p11uri u;
	struct nrfca_err e = { 0 };
	struct p11pin pin;
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slots[64];
	CK_ULONG ns = 64, i, got;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_OBJECT_HANDLE key = 0;
	CK_SESSION_HANDLE login;
	void *dl;
	int k;

	if (p11uri_parse(uristr, &u, &e) != 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	dl = dlopen(u.module_path, RTLD_NOW);
	if (dl == NULL)
		return -1;
	*(void **)(&gfl) = dlsym(dl, "C_GetFunctionList");
	{
		CK_C_INITIALIZE_ARGS ia;

		memset(&ia, 0, sizeof(ia));
		ia.flags = CKF_OS_LOCKING_OK;
		if (gfl == NULL || gfl(&f) != CKR_OK || (f->C_Initialize(&ia) != CKR_OK &&
								     f->C_Initialize(&ia) != CKR_CRYPTOKI_ALREADY_INITIALIZED))
			return -1;
	}
	if (f->C_GetSlotList(CK_TRUE, slots, &ns) != CKR_OK)
		return -1;
	for (i = 0; i < ns; i++) {
		CK_TOKEN_INFO ti;
		size_t l = strlen(u.token);

		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, u.token, l) == 0 &&
		    (l == 32 || ti.label[l] == ' '))
			break;
	}
	if (i == ns || f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &login) != CKR_OK)
		return -1;
	if (p11pin_read(u.pin_source, NULL, "NRFCA_PIN", 1, &pin, &e) != 0)
		return -1;
	{
		CK_RV rv = f->C_Login(login, CKU_USER, (CK_UTF8CHAR_PTR)pin.buf, pin.len);

		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
			return -1;
	}
	p11pin_wipe(&pin);
	{
		CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) },
				      { CKA_LABEL, u.object, strlen(u.object) } };

		if (f->C_FindObjectsInit(login, t, 2) != CKR_OK ||
		    f->C_FindObjects(login, &key, 1, &got) != CKR_OK || got != 1)
			return -1;
		f->C_FindObjectsFinal(login);
	}
	for (k = 0; k < n; k++) {
		memset(&jobs[k], 0, sizeof(jobs[k]));
		jobs[k].f = f;
		jobs[k].key = key;
		if (f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &jobs[k].sess) != CKR_OK)
			return -1;
	}
	*fp = f;
	p11uri_clear(&u);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define ROUNDS 5

/*
 * The signer and a raw PKCS#11 client share the module in one process (the
 * raw side reuses the initialised module and the login), and the two are
 * measured alternately, ROUNDS times each; the medians are compared, since
 * SoftHSM2's two-thread rate varies a lot from one run to the next.
 */
int main(int argc, char **argv)
{
	struct signer_config sc = { 0 };
	struct nrfca_err e = { 0 };
	struct signer *s = NULL;
	struct job jobs[2], rjobs[2];
	CK_FUNCTION_LIST_PTR f;
	double ours[3][ROUNDS], rawr[3][ROUNDS];
	int t, r;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_signer URI SECONDS   (each of %d rounds per figure)\n",
			ROUNDS);
		return 2;
	}
	seconds_arg = atof(argv[2]);
	if (seconds_arg <= 0 || seconds_arg > 60) {
		fprintf(stderr, "bench_signer: SECONDS must be >0 and at most 60\n");
		return 2;
	}
	sc.uri = argv[1];
	sc.pool_size = 2;
	if (signer_open(&sc, &s, &e) != 0) {
		fprintf(stderr, "bench_signer: %s\n", e.msg);
		return 1;
	}
	if (raw_setup(argv[1], rjobs, 2, &f) != 0) {
		fprintf(stderr, "bench_signer: cannot set up the raw PKCS#11 measurement\n");
		return 1;
	}
	printf("key: %s; %d alternating rounds of %.1f s per figure, medians\n",
	       signer_key_desc(s), ROUNDS, seconds_arg);
	for (r = 0; r < ROUNDS; r++) {
		for (t = 1; t <= 2; t++) {
			memset(jobs, 0, sizeof(jobs));
			jobs[0].s = jobs[1].s = s;
			ours[t][r] = run(via_signer, jobs, t);
			rjobs[0].n = rjobs[1].n = 0;
			rawr[t][r] = run(raw, rjobs, t);
		}
	}
	signer_free(s);   /* finalises the module for both */
	printf("%-8s %16s %16s %8s   %s\n", "threads", "nrfca signer/s", "raw C_Sign/s", "ratio",
	       "(rounds: signer/raw)");
	for (t = 1; t <= 2; t++) {
		double o[ROUNDS], w[ROUNDS];

		memcpy(o, ours[t], sizeof(o));
		memcpy(w, rawr[t], sizeof(w));
		qsort(o, ROUNDS, sizeof(double), cmp_double);
		qsort(w, ROUNDS, sizeof(double), cmp_double);
		printf("%-8d %16.0f %16.0f %7.0f%%  ", t, o[ROUNDS / 2], w[ROUNDS / 2],
		       100.0 * o[ROUNDS / 2] / w[ROUNDS / 2]);
		for (r = 0; r < ROUNDS; r++)
			printf(" %.0f/%.0f", ours[t][r], rawr[t][r]);
		printf("\n");
	}
	(void)f;
	return 0;
}
