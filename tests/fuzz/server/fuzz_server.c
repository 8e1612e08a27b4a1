/* libFuzzer target: raw HTTP requests (request lines, headers, bodies, several
 * pipelined on one connection) through the whole of nrfca-server: routing on
 * the raw path, query rules, bearer authentication, body limits, JSON
 * decoding and the issuance path (intake, facts, decide, build, sign,
 * record, answer) with a software CA key and an in-memory ledger, fresh for
 * every input (server_harness.h).  A crash, a leak, a sanitizer report, a
 * hang, a 500 answer or internal detail in an answer is a finding.
 * FUZZ_SERVER_SHOW=1 prints each input's status codes (2: the answers). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "server_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	harness_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_answer a;
	const char *bad;

	if (size > 65536)
		return 0;
	if (harness_run(data, size, &a) != 0) {
		fprintf(stderr, "fuzz_server: the server did not close the connection\n");
		abort();
	}
	bad = harness_check(&a, data, size);
	if (bad != NULL) {
		fprintf(stderr, "fuzz_server: %s; the answer was:\n%.4000s\n", bad, a.data);
		abort();
	}
	if (getenv("FUZZ_SERVER_SHOW") != NULL) {   /* what the seeds reach */
		int i;

		fprintf(stderr, "fuzz_server: answers");
		for (i = 0; i < a.n_status; i++)
			fprintf(stderr, " %d", a.statuses[i]);
		fprintf(stderr, "\n");
		if (getenv("FUZZ_SERVER_SHOW")[0] == '2')
			fprintf(stderr, "%s\n", a.data);
	}
	harness_answer_free(&a);
	return 0;
}
