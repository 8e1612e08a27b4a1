/*
 * bench_enroll - enrollment load generator for nrfca-server.
 *
 * Pre-generates a pool of distinct EC P-256 CSRs (CN = a random lower-case
 * UUID, so every request is a new device), then for each client count N runs
 * N threads, each with one keep-alive CURL handle, POSTing
 * {"csr": PEM, "profile": P} to /v1/enroll.  Prints certificates/s and p50/p99
 * latency per N; with --raw-sign-rate R (the token's raw C_Sign/s measured by
 * bench_signer in the same run) also the ratio.  The server's policy must
 * enable a profile with "input": "csr" (e.g. host-key) and allow the load.
 *
 * Also used by the integration tests as a load source: --seconds S runs until
 * S seconds passed (or the pool is used up), tolerating refused connections
 * and errors (a request not answered or answered 503/429, or 502/504 from a
 * load balancer whose instance died, is retried after 50 ms with the same CSR,
 * so an issued one comes back as a 200 replay; at the end a CSR being retried
 * gets up to 20 s more to be answered, else it counts as "unfinished"), and --save DIR writes the body of every 201 answer to
 * DIR/c<thread>-<n>.json and every other answer's status to DIR/status.log
 * ("c<thread>-<n> <status> <body>", or "... 0 curl=<CURLcode> http=<status of a
 * response that began, else 0>" when no complete answer arrived).
 *
 * Ready-made bodies (the peer benchmark, tests/bench/run-bench-peer.sh):
 * --bodies FILE takes one JSON body per line instead of generating CSRs,
 * starting at line --offset K; --path sets the route (default /v1/enroll),
 * --ok-status the status that counts as a certificate (default 201); without
 * --token no Authorization header is sent.
 *
 * usage: bench_enroll --url URL [--token FILE] [--clients 1,8,32] [--count N]
 *                     [--seconds S] [--pool N] [--profile NAME] [--save DIR]
 *                     [--raw-sign-rate R] [--bodies FILE [--offset K]]
 *                     [--path PATH] [--ok-status CODE]
 * exit: 0 all requests answered --ok-status (count mode) or the run finished
 *       (seconds mode), 1 failures in count mode, 2 usage or setup errors.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define MAX_CLIENTS 256
#define MAX_RUNS 8
#define MAX_BODY (64 * 1024)
#define FINISH_S 20.0 /* seconds mode: time to finish the CSR being retried */

struct pool {
	char **body;
	size_t n;
	atomic_size_t next;
};

struct client {
	pthread_t th;
	int id;
	struct pool *pool;
	const char *url;
	const char *auth;
	const char *save;
	long ok_status;
	double deadline; /* 0: count mode */
	size_t count;
	double *lat;     /* count entries (count mode) or grown (seconds mode) */
	size_t nlat, caplat;
	unsigned long ok, replays, http_err, conn_err, unfinished;
	char resp[MAX_BODY];
	size_t resp_len;
	int resp_over;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_enroll: %s\n", what);
	exit(2);
}

/* One CSR as the JSON body of an enroll request. */
static char *make_body(const char *profile)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char r[16];
	char cn[40], *pem = NULL, *out = NULL;
	long pl;
	size_t i, o = 0, cap;

	if (k == NULL || req == NULL || name == NULL || b == NULL || RAND_bytes(r, sizeof(r)) != 1)
		die("cannot generate a key");
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(cn, sizeof(cn),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0 || PEM_write_bio_X509_REQ(b, req) != 1)
		die("cannot make a CSR");
	pl = BIO_get_mem_data(b, &pem);
	cap = (size_t)pl * 2 + 128;
	out = malloc(cap);
	if (out == NULL)
		die("out of memory");
	o = (size_t)snprintf(out, cap, "{\"profile\": \"%s\", \"csr\": \"", profile);
	for (i = 0; i < (size_t)pl; i++) {
		if (pem[i] == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = pem[i];
		}
	}
	o += (size_t)snprintf(out + o, cap - o, "\"}");
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct client *c = arg;
	size_t len = sz * n;

	if (c->resp_len + len >= sizeof(c->resp)) {
		c->resp_over = 1;
		return len;
	}
	memcpy(c->resp + c->resp_len, p, len);
	c->resp_len += len;
	return len;
}

static void add_lat(struct client *c, double v)
{
	if (c->nlat == c->caplat) {
		size_t nc = c->caplat ? c->caplat * 2 : 1024;
		double *nl = realloc(c->lat, nc * sizeof(*nl));

		if (nl == NULL)
			die("out of memory");
		c->lat = nl;
		c->caplat = nc;
	}
	c->lat[c->nlat++] = v;
}

/* code 0: no complete answer; rc is curl's error, got the status of a
 * response that began (0 if none) */
static void save_answer(const struct client *c, long code, unsigned long n, int rc, long got)
{
	char path[4096];
	FILE *f;

	if (code == c->ok_status && !c->resp_over) {
		snprintf(path, sizeof(path), "%s/c%d-%lu.json", c->save, c->id, n);
		f = fopen(path, "w");
		if (f == NULL)
			die("cannot write to the --save directory");
		fwrite(c->resp, 1, c->resp_len, f);
		fclose(f);
		return;
	}
	snprintf(path, sizeof(path), "%s/status.log", c->save);
	f = fopen(path, "a");
	if (f == NULL)
		die("cannot write to the --save directory");
	if (code == 0)
		fprintf(f, "c%d-%lu 0 curl=%d http=%ld\n", c->id, n, rc, got);
	else
		fprintf(f, "c%d-%lu %ld %.*s\n", c->id, n, code,
			(int)(c->resp_len > 200 ? 200 : c->resp_len), c->resp);
	fclose(f);
}

static void backoff(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	unsigned long n = 0;
	size_t i = (size_t)-1;

	if (h == NULL)
		die("curl_easy_init failed");
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (c->auth != NULL)
		hdr = curl_slist_append(hdr, c->auth);
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	for (;;) {
		double t0;
		long code = 0;
		CURLcode rc;

		if (c->deadline > 0 ? now() >= c->deadline : n >= c->count) {
			/* seconds mode: a CSR being retried is finished first (up to
			 * FINISH_S more), so every CSR sent got its final answer */
			if (c->deadline > 0 && i != (size_t)-1 && now() < c->deadline + FINISH_S) {
				/* retry below */
			} else {
				if (i != (size_t)-1)
					c->unfinished++;
				break;
			}
		}
		/* seconds mode: a request that was not answered, or answered 503/429
		 * (or 502/504 from a load balancer), is sent again after 50 ms with the same CSR (a replay if it was issued) */
		if (i == (size_t)-1)
			i = atomic_fetch_add(&c->pool->next, 1);
		if (i >= c->pool->n)
			break;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->pool->body[i]);
		c->resp_len = 0;
		c->resp_over = 0;
		t0 = now();
		rc = curl_easy_perform(h);
		n++;
		if (rc != CURLE_OK) {
			c->conn_err++;
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
			if (c->save)
				save_answer(c, 0, n, (int)rc, code);
			if (c->deadline > 0)
				backoff();
			else
				i = (size_t)-1;
			continue;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		add_lat(c, now() - t0);
		if (code == c->ok_status)
			c->ok++;
		else if (code == 200)
			c->replays++;
		else
			c->http_err++;
		if (c->save)
			save_answer(c, code, n, 0, code);
		if (c->deadline > 0 && (code == 503 || code == 429 || code == 502 || code == 504))
			backoff();
		else
			i = (size_t)-1;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* pool->n bodies from FILE, one per line, starting at line `offset` (0-based). */
static void read_bodies(const char *path, size_t offset, struct pool *pool)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, k = 0, at = 0;
	ssize_t n;

	if (f == NULL)
		die("cannot read the --bodies file");
	while (k < pool->n && (n = getline(&line, &cap, f)) > 0) {
		if (at++ < offset)
			continue;
		if (n > MAX_BODY)
			die("a line of the --bodies file is longer than 64 KiB");
		line[strcspn(line, "\n")] = '\0';
		pool->body[k] = strdup(line);
		if (pool->body[k++] == NULL)
			die("out of memory");
	}
	free(line);
	fclose(f);
	if (k < pool->n)
		die("the --bodies file has fewer lines than the run needs");
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_enroll --url URL [--token FILE] [--clients 1,8,32] [--count N]\n"
			"                    [--seconds S] [--pool N] [--profile NAME] [--save DIR]\n"
			"                    [--raw-sign-rate R] [--bodies FILE [--offset K]]\n"
			"                    [--path PATH] [--ok-status CODE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *url = NULL, *tokfile = NULL, *save = NULL, *profile = "host-key";
	const char *clients_arg = "1,8,32", *bodies = NULL, *path = "/v1/enroll";
	size_t count = 250, pool_n = 0, offset = 0;
	long ok_status = 201;
	double seconds = 0, raw = 0;
	int runs[MAX_RUNS], nruns = 0, i, failed = 0;
	char tok[256], auth[300], enroll_url[1024];
	FILE *f;
	struct pool pool;
	double tgen;

	for (i = 1; i < argc; i += 2) {   /* every option takes a value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(a, "--url") == 0)
			url = v;
		else if (strcmp(a, "--token") == 0)
			tokfile = v;
		else if (strcmp(a, "--clients") == 0)
			clients_arg = v;
		else if (strcmp(a, "--count") == 0)
			count = strtoul(v, NULL, 10);
		else if (strcmp(a, "--seconds") == 0)
			seconds = strtod(v, NULL);
		else if (strcmp(a, "--pool") == 0)
			pool_n = strtoul(v, NULL, 10);
		else if (strcmp(a, "--profile") == 0)
			profile = v;
		else if (strcmp(a, "--save") == 0)
			save = v;
		else if (strcmp(a, "--raw-sign-rate") == 0)
			raw = strtod(v, NULL);
		else if (strcmp(a, "--bodies") == 0)
			bodies = v;
		else if (strcmp(a, "--offset") == 0)
			offset = strtoul(v, NULL, 10);
		else if (strcmp(a, "--path") == 0)
			path = v;
		else if (strcmp(a, "--ok-status") == 0)
			ok_status = strtol(v, NULL, 10);
		else
			usage();
	}
	if (url == NULL || count == 0 || ok_status < 200 || ok_status > 299 || strlen(path) > 256 || count > 1000000 || strlen(profile) > 64)
		usage();
	{
		char buf[64], *save_ptr = NULL, *t;

		snprintf(buf, sizeof(buf), "%s", clients_arg);
		for (t = strtok_r(buf, ",", &save_ptr); t != NULL && nruns < MAX_RUNS;
		     t = strtok_r(NULL, ",", &save_ptr)) {
			runs[nruns] = atoi(t);
			if (runs[nruns] < 1 || runs[nruns] > MAX_CLIENTS)
				usage();
			nruns++;
		}
		if (nruns == 0)
			usage();
	}
	if (tokfile != NULL) {
		f = fopen(tokfile, "r");
		if (f == NULL || fgets(tok, sizeof(tok), f) == NULL)
			die("cannot read the token file");
		fclose(f);
		tok[strcspn(tok, "\r\n")] = '\0';
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
		OPENSSL_cleanse(tok, sizeof(tok));
	}
	snprintf(enroll_url, sizeof(enroll_url), "%s%s", url, path);

	if (pool_n == 0) {
		if (seconds > 0)
			die("--seconds needs --pool N (how many CSRs to prepare)");
		for (i = 0; i < nruns; i++)
			pool_n += (size_t)runs[i] * count;
	}
	pool.n = pool_n;
	atomic_init(&pool.next, 0);
	pool.body = calloc(pool_n, sizeof(*pool.body));
	if (pool.body == NULL)
		die("out of memory");
	tgen = now();
	if (bodies != NULL) {
		read_bodies(bodies, offset, &pool);
	} else {
		for (size_t k = 0; k < pool_n; k++)
			pool.body[k] = make_body(profile);
		fprintf(stderr, "bench_enroll: %zu CSRs (EC P-256, profile %s) prepared in %.2f s\n",
			pool_n, profile, now() - tgen);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (seconds <= 0) {
		printf("%-8s %10s %12s %10s %10s %8s", "clients", "certs", "certs/s", "p50 ms", "p99 ms",
		       "errors");
		if (raw > 0)
			printf(" %12s %7s", "raw sign/s", "ratio");
		printf("\n");
	}
	for (i = 0; i < nruns; i++) {
		int nc = runs[i], k;
		struct client *cl = calloc((size_t)nc, sizeof(*cl));
		double t0, el, *all;
		size_t nall = 0;
		unsigned long ok = 0, rep = 0, herr = 0, cerr = 0, unf = 0;

		if (cl == NULL)
			die("out of memory");
		t0 = now();
		for (k = 0; k < nc; k++) {
			cl[k].id = i * MAX_CLIENTS + k;
			cl[k].pool = &pool;
			cl[k].url = enroll_url;
			cl[k].auth = tokfile != NULL ? auth : NULL;
			cl[k].ok_status = ok_status;
			cl[k].save = save;
			cl[k].count = count;
			cl[k].deadline = seconds > 0 ? t0 + seconds : 0;
			if (pthread_create(&cl[k].th, NULL, client_main, &cl[k]) != 0)
				die("pthread_create failed");
		}
		for (k = 0; k < nc; k++)
			pthread_join(cl[k].th, NULL);
		el = now() - t0;
		for (k = 0; k < nc; k++)
			nall += cl[k].nlat;
		all = malloc((nall + 1) * sizeof(*all));
		if (all == NULL)
			die("out of memory");
		nall = 0;
		for (k = 0; k < nc; k++) {
			memcpy(all + nall, cl[k].lat, cl[k].nlat * sizeof(*all));
			nall += cl[k].nlat;
			ok += cl[k].ok;
			rep += cl[k].replays;
			herr += cl[k].http_err;
			cerr += cl[k].conn_err;
			unf += cl[k].unfinished;
			free(cl[k].lat);
		}
		qsort(all, nall, sizeof(*all), cmp_d);
		{
			double p50 = nall ? all[nall / 2] * 1e3 : 0;
			double p99 = nall ? all[(nall * 99) / 100 < nall ? (nall * 99) / 100 : nall - 1] * 1e3 : 0;
			double rate = (double)ok / el;

			if (seconds > 0) {
				printf("clients %d: %.1f s, %lu certificates (%.0f/s), %lu replays, %lu HTTP errors, "
				       "%lu connection errors, %lu unfinished, p50 %.1f ms, p99 %.1f ms\n",
				       nc, el, ok, rate, rep, herr, cerr, unf, p50, p99);
			} else {
				printf("%-8d %10lu %12.0f %10.2f %10.2f %8lu", nc, ok, rate, p50, p99,
				       rep + herr + cerr);
				if (raw > 0)
					printf(" %12.0f %6.1f%%", raw, 100.0 * rate / raw);
				printf("\n");
				if (rep + herr + cerr > 0)
					failed = 1;
			}
		}
		fflush(stdout);
		free(all);
		free(cl);
	}
	for (size_t k = 0; k < pool_n; k++)
		free(pool.body[k]);
	free(pool.body);
	OPENSSL_cleanse(auth, sizeof(auth));
	curl_global_cleanup();
	return failed;
}
