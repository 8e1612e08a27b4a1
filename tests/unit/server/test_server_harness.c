/* The whole server on raw HTTP bytes (tests/fuzz/server/server_harness.h):
 * every seed of fuzz_server answers without a 500 or internal detail, the
 * seeds that must reach the issuance path do (201), and each input the
 * fuzzer found stays fixed. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server_harness.h"

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void run(const unsigned char *data, size_t len, struct harness_answer *a)
{
	const char *bad;

	assert_int_equal(harness_run(data, len, a), 0);
	bad = harness_check(a, data, len);
	if (bad != NULL)
		fail_msg("%s; the answer:\n%.2000s", bad, a->data);
}

static void run_text(const char *text, struct harness_answer *a)
{
	run((const unsigned char *)text, strlen(text), a);
}

static void expect_statuses(const char *seed, const int *want, int n)
{
	char path[1024];
	struct harness_answer a;
	unsigned char *data;
	size_t len;
	int i;

	snprintf(path, sizeof(path), "%s/%s", getenv("NRFCA_FUZZ_SERVER_CORPUS"), seed);
	data = read_all(path, &len);
	run(data, len, &a);
	if (a.n_status != n)
		fail_msg("%s: %d answers, expected %d:\n%.2000s", seed, a.n_status, n, a.data);
	for (i = 0; i < n; i++)
		if (a.statuses[i] != want[i])
			fail_msg("%s: answer %d is %d, expected %d:\n%.2000s", seed, i + 1,
				 a.statuses[i], want[i], a.data);
	harness_answer_free(&a);
	free(data);
}

/* Every seed: no 500, no internal detail, no hang. */
static void every_seed_answers(void **state)
{
	const char *dir = getenv("NRFCA_FUZZ_SERVER_CORPUS");
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)state;
	assert_non_null(dir);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[1024];
		struct harness_answer a;
		unsigned char *data;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		data = read_all(path, &len);
		run(data, len, &a);
		if (a.n_status == 0)
			fail_msg("seed %s: no answer", de->d_name);
		harness_answer_free(&a);
		free(data);
		n++;
	}
	closedir(d);
	assert_true(n >= 30);
}

/* The fuzz target reaches the issuance path through its seeds: %KEYGEN and
 * PEM CSR enrollments are signed and recorded (201), replays answered (200),
 * a second key for a device supersedes (201), another station may neither
 * replay nor supersede (409), reject mode refuses (409), limits hold (413). */
static void seeds_reach_issuance(void **state)
{
	static const int one201[] = { 201 };
	static const int replay[] = { 201, 200, 409 };   /* another station: scope */
	static const int supersede[] = { 201, 201, 409 }; /* then station-b replays the revoked */
	static const int other[] = { 201, 409 };          /* supersede_scope */
	static const int reject[] = { 201, 409 };
	static const int early413[] = { 413 };
	static const int cont[] = { 100, 201 };

	(void)state;
	expect_statuses("enroll-keygen17", one201, 1);
	expect_statuses("enroll-keygen52-line", one201, 1);
	expect_statuses("enroll-chunked", one201, 1);
	expect_statuses("enroll-csr-host-key", one201, 1);
	expect_statuses("enroll-csr-vector-pem", one201, 1);
	expect_statuses("enroll-expect-100", cont, 2);
	expect_statuses("enroll-replay-then-other-station", replay, 3);
	expect_statuses("enroll-csr-reject-existing", reject, 2);
	expect_statuses("enroll-supersede", supersede, 3);
	expect_statuses("enroll-supersede-other-station", other, 2);
	expect_statuses("enroll-too-large", early413, 1);
}

/* Found by fuzz_server: a method or path that is not UTF-8 made the 404/405
 * answer's JSON fail to encode, and the client got a 500. */
static void non_utf8_method_and_path(void **state)
{
	struct harness_answer a;

	(void)state;
	run_text("G\xc0\xab /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	assert_int_equal(a.n_status, 1);
	assert_int_equal(a.statuses[0], 405);
	assert_non_null(strstr(a.data, "\"error\":\"method_not_allowed\""));
	harness_answer_free(&a);
	run_text("GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	assert_int_equal(a.n_status, 1);
	assert_int_equal(a.statuses[0], 404);
	assert_non_null(strstr(a.data, "\"error\":\"not_found\""));
	harness_answer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_seed_answers),
		cmocka_unit_test(seeds_reach_issuance),
		cmocka_unit_test(non_utf8_method_and_path),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
