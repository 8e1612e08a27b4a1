/*
 * server_harness.h - the whole of nrfca-server in one process without a
 * token or a database file, for the fuzz target fuzz_server and the unit
 * test server_harness: http.c's server (libmicrohttpd, the production
 * threading, no listening socket), the CA with a software EC key behind the
 * signer interface (pkcs11/signer_soft.h), the shipped policy with the
 * host-key profile enabled, and a fresh in-memory SQLite ledger per run
 * (ledger_config.memory) holding the credentials below.
 *
 * harness_run() hands the bytes to the server as client connections on
 * socket pairs (what a client sends on the socket: request lines, headers,
 * bodies).  HARNESS_SEPARATOR splits the bytes into connections, made one
 * after the other (at most HARNESS_CONNECTIONS_MAX): for each, the harness
 * sends the bytes, closes its sending half and reads everything the server
 * answers until it closes the connection.  (Requests pipelined on one
 * connection are answered only in part once the client has closed its half:
 * libmicrohttpd stops at the end of the stream; separate connections keep a
 * run deterministic.)  Then the server, the CA and the ledger are torn
 * down, so every run starts from the same state.
 */
#ifndef NRFCA_SERVER_HARNESS_H
#define NRFCA_SERVER_HARNESS_H

#include <stddef.h>

/* The bearer tokens the ledger of every run knows. */
#define HARNESS_STATION_TOKEN "fuzz-station-a-token"    /* station "station-a" */
#define HARNESS_STATION_B_TOKEN "fuzz-station-b-token"  /* station "station-b" */
#define HARNESS_OPERATOR_TOKEN "fuzz-operator-token"    /* operator "operator" */
#define HARNESS_AUDITOR_TOKEN "fuzz-auditor-token"      /* auditor "auditor" */
#define HARNESS_DISABLED_TOKEN "fuzz-disabled-token"    /* station "station-off", disabled */

#define HARNESS_SEPARATOR "\r\n=next-connection=\r\n"
#define HARNESS_CONNECTIONS_MAX 8

/* Once per process (exits with a message when the set-up fails).  Logs go to
 * /dev/null unless NRFCA_HARNESS_LOG=1. */
void harness_init(void);

struct harness_answer {
	char *data;        /* everything the server sent, NUL-terminated (malloc'd) */
	size_t len, cap;
	int statuses[16];  /* the status codes of the first answers, in order */
	int n_status;
};

/* Run one connection.  0, or -1 when the server did not close the
 * connection within 20 s (a hang).  Free the answer with harness_answer_free. */
int harness_run(const unsigned char *data, size_t size, struct harness_answer *out);
void harness_answer_free(struct harness_answer *a);

/* What must never be in an answer to `req`: NULL when the answer is
 * acceptable, else what is wrong (a 500 answer, internal detail such as the
 * harness's folder or the ledger's database name that the request did not
 * contain itself, a malformed status line). */
const char *harness_check(const struct harness_answer *a, const unsigned char *req,
			  size_t req_len);

#endif
