/*
 * bench_ledger - issuance inserts per second into the durable ledger with 1,
 * 8 and 32 concurrent callers, group-committed, and for comparison with one
 * transaction per insert.
 *
 *   bench_ledger [DIR | DATABASE-URL] [TOTAL]
 *
 * DIR (default "."): a scratch SQLite database (WAL, synchronous=FULL) that
 * is removed afterwards.  DATABASE-URL: a PostgreSQL ledger
 * ("postgresql://..." or libpq keywords), e.g. a private cluster started by
 * run-bench-ledger-pg.sh; the records stay.  TOTAL (default 8000) inserts per
 * group-commit run.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ledger.h"

struct job {
	struct ledger *l;
	unsigned run, thread;
	int count;
	int failures;
	char msg[NRFCA_ERR_MSG_MAX];
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct nrfca_err err = { 0 };
	struct cert_record r;
	unsigned char der[600];
	unsigned int n;
	int i;

	memset(der, 0x30, sizeof(der));
	for (i = 0; i < j->count; i++) {
		memset(&r, 0, sizeof(r));
		snprintf(r.serial, sizeof(r.serial), "%08x%08x%016x", j->run, j->thread, (unsigned)i);
		snprintf(r.device_id, sizeof(r.device_id), "dev-%u-%u-%d", j->run, j->thread, i);
		snprintf(r.uuid, sizeof(r.uuid), "50503041-3633-4261-803d-1e2b8f70111a");
		snprintf(r.profile, sizeof(r.profile), "default");
		snprintf(r.station, sizeof(r.station), "station-%u", j->thread);
		r.sec_tag = 16842753;
		EVP_Digest(r.serial, strlen(r.serial), r.csr_sha256, &n, EVP_sha256(), NULL);
		EVP_Digest(r.device_id, strlen(r.device_id), r.pubkey_sha256, &n, EVP_sha256(), NULL);
		snprintf(r.subject, sizeof(r.subject), "CN=%s", r.device_id);
		r.not_before = 1700000000;
		r.not_after = 1800000000;
		r.status = CERT_ACTIVE;
		r.revocation_reason = -1;
		r.der = der;
		r.der_len = sizeof(der);
		if (ledger_record_issuance(j->l, &r, r.station, NULL, &err) != 0) {
			j->failures++;
			snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
		}
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(struct ledger *l, unsigned run_id, int threads, int total, const char *label)
{
	pthread_t th[64];
	struct job jobs[64];
	struct ledger_stats s0, s1;
	double t0, dt;
	int i, fails = 0;

	memset(jobs, 0, sizeof(jobs));
	ledger_get_stats(l, &s0);
	t0 = now_s();
	for (i = 0; i < threads; i++) {
		jobs[i].l = l;
		jobs[i].run = run_id;
		jobs[i].thread = (unsigned)i;
		jobs[i].count = total / threads;
		if (pthread_create(&th[i], NULL, worker, &jobs[i]) != 0) {
			fprintf(stderr, "cannot start thread\n");
			return -1;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		fails += jobs[i].failures;
		if (jobs[i].failures)
			fprintf(stderr, "thread %d: %s\n", i, jobs[i].msg);
	}
	dt = now_s() - t0;
	ledger_get_stats(l, &s1);
	printf("%-28s threads %2d  inserts %6d  %8.0f inserts/s  commits %6lld  avg batch %6.1f%s\n", label,
	       threads, (total / threads) * threads, (double)((total / threads) * threads) / dt,
	       s1.commits - s0.commits,
	       s1.commits > s0.commits ? (double)(s1.changes - s0.changes) / (double)(s1.commits - s0.commits) : 0.0,
	       fails ? "  FAILURES" : "");
	return fails ? -1 : 0;
}

static void remove_db(const char *path)
{
	char p[1100];

	if (path[0] == '\0')
		return;
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

int main(int argc, char **argv)
{
	static const int thread_counts[] = { 1, 8, 32 };
	const char *dir = argc > 1 ? argv[1] : ".";
	int is_url = strchr(dir, '=') != NULL || strncmp(dir, "postgres", 8) == 0;
	int total = argc > 2 ? atoi(argv[2]) : 8000;
	struct ledger_config cfg = { 0 };
	struct nrfca_err err = { 0 };
	struct ledger *l = NULL;
	char path[1024], url[1100];
	unsigned run_id = ((unsigned)getpid() & 0xffffff) << 4; /* new serials in a kept database */
	size_t i;
	int ret = 0;

	if (total <= 0 || total > 10000000) {
		fprintf(stderr, "usage: bench_ledger [DIR | DATABASE-URL] [TOTAL]\n");
		return 2;
	}
	if (is_url) {
		path[0] = '\0';
		snprintf(url, sizeof(url), "%s", dir);
		printf("ledger benchmark: PostgreSQL %s (synchronous commit)\n", url);
	} else {
		snprintf(path, sizeof(path), "%s/bench-ledger-%ld.db", dir, (long)getpid());
		snprintf(url, sizeof(url), "sqlite:%s", path);
		remove_db(path);
		printf("ledger benchmark: %s (WAL, synchronous=FULL)\n", path);
	}

	if (ledger_open_cfg(url, &cfg, &l, &err) != 0) {
		fprintf(stderr, "bench_ledger: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < sizeof(thread_counts) / sizeof(thread_counts[0]); i++) {
		int n = thread_counts[i] == 1 ? total / 4 : total;
		if (run(l, run_id++, thread_counts[i], n, "group commit") != 0)
			ret = 1;
	}
	ledger_close(l);

	/* one transaction (one fsync) per insert */
	cfg.max_batch = 1;
	if (ledger_open_cfg(url, &cfg, &l, &err) != 0) {
		fprintf(stderr, "bench_ledger: %s\n", err.msg);
		remove_db(path);
		return 1;
	}
	for (i = 0; i < sizeof(thread_counts) / sizeof(thread_counts[0]); i++) {
		if (run(l, run_id++, thread_counts[i], total / 8, "one transaction per insert") != 0)
			ret = 1;
	}
	ledger_close(l);
	remove_db(path);
	return ret;
}
