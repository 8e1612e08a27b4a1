/*
 * The process-wide store: reload keeps the old policy on a bad file,
 * requests in flight keep the policy they started with, and concurrent
 * acquire/decide/release during reloads is safe (run under ASan/TSan).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pol_helpers.h"
#include "policy.h"
#include "policy_store.h"

#define UUID "50363953-3234-4723-80b9-1503d88271bf"

static char policy_path[4096];

static int setup(void **state)
{
	(void)state;
	scratch_new();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	policy_store_shutdown();
	scratch_free();
	return 0;
}

/* Write the policy file: validity max `days`, deny-list with `denied` (or none). */
static void write_policy(int days, const char *denied)
{
	char validity[128];
	char *json;

	snprintf(validity, sizeof(validity), "{\"default_days\": %d, \"max_days\": %d}", days, days);
	scratch_write("deny.txt", denied != NULL ? denied : "# nobody\n");
	json = profile_policy((const char *const[]){ "validity", validity, "devices",
						    "{\"deny_list\": \"deny.txt\"}", NULL });
	snprintf(policy_path, sizeof(policy_path), "%s", scratch_write("store.json", json));
	free(json);
}

static void write_bad_policy(void)
{
	char *json = profile_policy((const char *const[]){
		"cn", "{\"source\": \"pattern\", \"pattern\": \"^(unclosed$\"}", NULL });

	scratch_write("store.json", json);
	free(json);
}

static void facts(struct nrfca_policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->station = "line-1";
	f->input = NRFCA_INPUT_KEYGEN;
	f->cn = UUID;
	f->attested_uuid = UUID;
	f->key_type = EVP_PKEY_EC;
	f->curve_nid = NID_X9_62_prime256v1;
	f->key_bits = 256;
	f->has_attestation = 1;
	f->binding_ok = 1;
	f->payload_id = 9;
	f->existing = NRFCA_EXISTING_NONE;
}

static int days_of(struct nrfca_policy *p)
{
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;

	facts(&f);
	if (nrfca_policy_decide(p, &f, &d, NULL) != 0)
		return -1;
	return d.validity_days;
}

static void test_reload_keeps_old_on_error(void **state)
{
	struct nrfca_policy *p1, *p2, *p3;
	struct nrfca_err err = { 0 };
	unsigned long g;

	(void)state;
	assert_null(policy_acquire());
	assert_int_equal(policy_store_reload(&err), -1);  /* nothing loaded yet */

	write_policy(100, NULL);
	if (policy_store_load(policy_path, &err) != 0)
		fail_msg("%s", err.msg);
	g = policy_store_generation();
	p1 = policy_acquire();
	assert_non_null(p1);
	assert_int_equal(days_of(p1), 100);

	/* a bad file: the error names the place; the old policy stays */
	write_bad_policy();
	assert_int_equal(policy_store_reload(&err), -1);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
	assert_non_null(strstr(err.msg, "previous policy stays in force"));
	assert_non_null(strstr(err.msg, "$.profiles[\"p\"].cn.pattern: invalid regular expression"));
	assert_int_equal(policy_store_generation(), g);
	p2 = policy_acquire();
	assert_ptr_equal(p2, p1);
	policy_release(p2);

	/* a good file: new policy for new requests, the old one for those in flight */
	write_policy(200, UUID "\n");
	if (policy_store_reload(&err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(policy_store_generation(), g + 1);
	p3 = policy_acquire();
	assert_ptr_not_equal(p3, p1);
	assert_int_equal(days_of(p1), 100);
	assert_int_equal(days_of(p3), -1);  /* the list file was reloaded too: UUID denied */
	policy_release(p1);                 /* the last holder frees the old policy */
	policy_release(p3);

	write_policy(300, NULL);
	assert_int_equal(policy_store_reload(&err), 0);
	p3 = policy_acquire();
	assert_int_equal(days_of(p3), 300);
	policy_release(p3);
}

static atomic_int stop;
static atomic_long decisions;

static void *worker(void *arg)
{
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_policy *p;
	long n = 0;

	(void)arg;
	facts(&f);
	while (!atomic_load(&stop)) {
		p = policy_acquire();
		if (p == NULL)
			continue;
		nrfca_policy_decide(p, &f, &d, NULL);
		/* use what the decision points into while holding the policy */
		if (d.allow && (d.trust_bundle == NULL || d.validity_days <= 0 ||
				strlen(d.profile_name) == 0))
			abort();
		policy_release(p);
		n++;
	}
	atomic_fetch_add(&decisions, n);
	return NULL;
}

/* A shared counter store (the cluster's ledger): decisions ask it with the
 * profile's limits; a refusal is the rate_limit rule with its Retry-After; a
 * failure of the store is no verdict (rule none, the store's error); set back
 * to NULL the in-memory buckets count again. */
struct fake_store {
	int calls, answer;
	unsigned per_station, per_profile;
	char station[64];
};

static int fake_take(void *ctx, const char *profile, const char *station,
		     const struct nrfca_rate_req *req, size_t n, unsigned *retry_after,
		     size_t *refused_by, struct nrfca_err *err)
{
	struct fake_store *fs = ctx;
	size_t i;

	(void)profile;
	fs->calls++;
	for (i = 0; i < n; i++) {
		if (req[i].scope == NRFCA_RATE_PER_STATION && req[i].period_s == 60)
			fs->per_station = req[i].limit;
		if (req[i].scope == NRFCA_RATE_PER_PROFILE && req[i].period_s == 60)
			fs->per_profile = req[i].limit;
	}
	snprintf(fs->station, sizeof(fs->station), "%s", station);
	if (fs->answer == 0) {
		*retry_after = 17;
		*refused_by = 0;
	}
	if (fs->answer < 0)
		nrfca_err_set(err, NRFCA_E_DB, "the ledger is down");
	return fs->answer;
}

static void test_shared_rate_limits(void **state)
{
	struct fake_store fs = { 0 };
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
	struct nrfca_policy *p;
	char *json;

	(void)state;
	json = profile_policy((const char *const[]){ "rate_limit",
		"{\"per_station_per_minute\": 2, \"per_profile_per_minute\": 5}", NULL });
	snprintf(policy_path, sizeof(policy_path), "%s", scratch_write("rate.json", json));
	free(json);
	assert_int_equal(policy_store_share_rate_limits(fake_take, &fs, &err), 0);
	if (policy_store_load(policy_path, &err) != 0)
		fail_msg("%s", err.msg);
	p = policy_acquire();
	facts(&f);
	fs.answer = 1;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(fs.calls, 1);
	assert_int_equal(fs.per_station, 2);
	assert_int_equal(fs.per_profile, 5);
	assert_string_equal(fs.station, "line-1");
	fs.answer = 0;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "rate_limit");
	assert_int_equal(d.retry_after, 17);
	fs.answer = -1;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_int_equal(d.rule, NRFCA_RULE_NONE);
	assert_int_equal(err.code, NRFCA_E_DB);
	assert_non_null(strstr(d.detail, "the ledger is down"));
	/* nothing is charged for a replay or a dry run */
	f.no_charge = 1;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(fs.calls, 3);
	/* back to the in-memory buckets: 2 per minute for this station */
	f.no_charge = 0;
	assert_int_equal(policy_store_share_rate_limits(NULL, NULL, &err), 0);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), 0);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &err), -1);
	assert_string_equal(d.rule_name, "rate_limit");
	assert_int_equal(fs.calls, 3);
	policy_release(p);
}

static void test_concurrent_reload(void **state)
{
	struct nrfca_err err = { 0 };
	pthread_t th[4];
	int i, ok = 0, bad = 0;

	(void)state;
	write_policy(10, NULL);
	assert_int_equal(policy_store_load(policy_path, &err), 0);
	atomic_store(&stop, 0);
	atomic_store(&decisions, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, NULL), 0);
	for (i = 0; i < 60; i++) {
		if (i % 3 == 2)
			write_bad_policy();
		else
			write_policy(10 + i, NULL);
		if (policy_store_reload(&err) == 0)
			ok++;
		else
			bad++;
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ok, 40);
	assert_int_equal(bad, 20);
	assert_true(atomic_load(&decisions) > 0);
	fprintf(stderr, "# %ld decisions by 4 threads during 60 reloads\n",
		(long)atomic_load(&decisions));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_keeps_old_on_error),
		cmocka_unit_test(test_concurrent_reload),
		cmocka_unit_test(test_shared_rate_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
