/*
 * server_harness.c - nrfca-server in one process for fuzzing and tests
 * (see server_harness.h).
 */
#define _GNU_SOURCE
#include "server_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* before OpenSSL's x509v3.h, whose CRL_REASON_* macros ledger.h's enum uses */
#include "auth.h"
#include "ca.h"
#include "config.h"
#include "datadir.h"
#include "http.h"
#include "ledger.h"
#include "log.h"
#include "policy_status.h"
#include "signer_soft.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define RUN_SECONDS 20
#define HARNESS_THREAD_STACK (1024 * 1024)
#define ANSWER_MAX (8 * 1024 * 1024)

static struct {
	char dir[256];
	char chain[300], policy[300], config[300];
	struct nrfca_config *cfg;
	struct signer *signer;
} g;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "server harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(2);
}

static void cleanup(void)
{
	unlink(g.chain);
	unlink(g.policy);
	unlink(g.config);
	rmdir(g.dir);
}

/* A self-signed CA certificate for the software key. */
static void write_ca(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509_NAME *n = X509_NAME_new();
	static const char *const exts[][2] = {
		{ "basicConstraints", "critical,CA:TRUE" },
		{ "keyUsage", "critical,keyCertSign,cRLSign" },
		{ "subjectKeyIdentifier", "hash" },
	};
	FILE *f;
	size_t i;

	if (x == NULL || n == NULL ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				       (const unsigned char *)"nrfca fuzz CA", -1, -1, 0) != 1 ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_set_subject_name(x, n) != 1 || X509_set_issuer_name(x, n) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		die("cannot build the CA certificate", NULL);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
		if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
			die("cannot add a CA extension", exts[i][0]);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		die("cannot sign the CA certificate", NULL);
	f = fopen(g.chain, "w");
	if (f == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0)
		die("cannot write", g.chain);
	X509_NAME_free(n);
	X509_free(x);
}

/* The shipped policy with the host-key (plain CSR) profile enabled, so both
 * inputs reach the issuance path. */
static void write_policy(void)
{
	char src[512];
	json_error_t je;
	json_t *p, *hk;

	snprintf(src, sizeof(src), "%s/policies/default.json", nrfca_data_dir());
	p = json_load_file(src, 0, &je);
	if (p == NULL)
		die("cannot read the shipped policy", src);
	hk = json_object_get(json_object_get(p, "profiles"), "host-key");
	if (hk != NULL)
		json_object_set_new(hk, "enabled", json_true());
	if (json_dump_file(p, g.policy, JSON_INDENT(2)) != 0)
		die("cannot write", g.policy);
	json_decref(p);
}

static void write_config(void)
{
	FILE *f = fopen(g.config, "w");

	if (f == NULL ||
	    fprintf(f, "{\n"
		       "  \"listen\": { \"address\": \"127.0.0.1\", \"port\": 0 },\n"
		       "  \"token\": { \"uri\": \"pkcs11:token=none;object=none\" },\n"
		       "  \"ca\": { \"chain\": \"%s\" },\n"
		       "  \"database\": \"sqlite:unused.db\",\n"
		       "  \"policy\": \"%s\"\n"
		       "}\n", g.chain, g.policy) < 0 || fclose(f) != 0)
		die("cannot write", g.config);
}

void harness_init(void)
{
	struct nrfca_err e = { 0 };
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *key;

	if (g.cfg != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	/* Each run starts and ends the server's threads (ledger writer, watchdog,
	 * libmicrohttpd's); AddressSanitizer clears the shadow of a thread's whole
	 * stack when it ends, so 8 MiB stacks cost more than the request. */
	{
		pthread_attr_t a;

		if (pthread_attr_init(&a) == 0) {
			if (pthread_attr_setstacksize(&a, HARNESS_THREAD_STACK) == 0)
				pthread_setattr_default_np(&a);
			pthread_attr_destroy(&a);
		}
	}
	if (getenv("NRFCA_HARNESS_LOG") == NULL || strcmp(getenv("NRFCA_HARNESS_LOG"), "1") != 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd >= 0)
			nlog_set_fd(fd);
	}
	snprintf(g.dir, sizeof(g.dir), "%s/nrfca-harness-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(g.dir) == NULL)
		die("cannot create a folder", g.dir);
	snprintf(g.chain, sizeof(g.chain), "%s/ca-chain.pem", g.dir);
	snprintf(g.policy, sizeof(g.policy), "%s/policy.json", g.dir);
	snprintf(g.config, sizeof(g.config), "%s/nrfca.json", g.dir);
	atexit(cleanup);
	key = EVP_EC_gen("P-256");
	if (key == NULL)
		die("cannot make the CA key", NULL);
	write_ca(key);
	write_policy();
	write_config();
	if (signer_open_software(key, 4, &g.signer, &e) != 0)
		die("software signer", e.msg);
	EVP_PKEY_free(key);
	if (policy_status_load(g.policy, &e) != 0)
		die("policy", e.msg);
	if (nrfca_config_load(g.config, &g.cfg, &e) != 0)
		die("configuration", e.msg);
}

static const struct {
	const char *name, *token;
	enum cred_role role;
	int disabled;
} creds[] = {
	{ "station-a", HARNESS_STATION_TOKEN, ROLE_STATION, 0 },
	{ "station-b", HARNESS_STATION_B_TOKEN, ROLE_STATION, 0 },
	{ "operator", HARNESS_OPERATOR_TOKEN, ROLE_OPERATOR, 0 },
	{ "auditor", HARNESS_AUDITOR_TOKEN, ROLE_AUDITOR, 0 },
	{ "station-off", HARNESS_DISABLED_TOKEN, ROLE_STATION, 1 },
};

static struct ledger *fresh_ledger(void)
{
	struct ledger_config lc = { .memory = 1, .readers = 2, .program = "fuzz_server" };
	struct nrfca_err e = { 0 };
	struct ledger *l = NULL;
	unsigned char h[32];
	size_t i;

	if (ledger_open_cfg("sqlite:harness", &lc, &l, &e) != 0)
		die("in-memory ledger", e.msg);
	for (i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		auth_hash(creds[i].token, strlen(creds[i].token), h);
		if (ledger_cred_add(l, creds[i].name, creds[i].role, h, "harness", &e) != 0 ||
		    (creds[i].disabled && ledger_cred_disable(l, creds[i].name, "harness", &e) != 0))
			die("credential", e.msg);
	}
	return l;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The status codes of the answers of one connection (from `from`):
 * "HTTP/1.x NNN " where the connection's answers start or after a line end. */
static void find_statuses(struct harness_answer *a, size_t from)
{
	size_t i;

	for (i = from; i + 13 <= a->len && a->n_status < 16; i++) {
		const char *p = a->data + i;

		if ((i == from || p[-1] == '\n') && strncmp(p, "HTTP/1.", 7) == 0 &&
		    (p[7] == '0' || p[7] == '1') && p[8] == ' ' && p[9] >= '1' && p[9] <= '5' &&
		    p[10] >= '0' && p[10] <= '9' && p[11] >= '0' && p[11] <= '9' && p[12] == ' ')
			a->statuses[a->n_status++] = (p[9] - '0') * 100 + (p[10] - '0') * 10 + p[11] - '0';
	}
}

/* Write the request, read the answers until the server closes. */
static int converse(int fd, const unsigned char *data, size_t size, struct harness_answer *a)
{
	size_t sent = 0, cap = a->cap;
	double end = now() + RUN_SECONDS;
	int wr_open = 1;

	if (size == 0) {
		shutdown(fd, SHUT_WR);
		wr_open = 0;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN | (wr_open ? POLLOUT : 0), 0 };
		int left = (int)((end - now()) * 1000);
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -1;
		if (wr_open && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == size) {
				shutdown(fd, SHUT_WR);
				wr_open = 0;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (a->len + 4097 > cap) {
				char *nd;

				if (cap >= ANSWER_MAX)
					return -1;
				cap = cap ? cap * 2 : 65536;
				if ((nd = realloc(a->data, cap)) == NULL)
					die("out of memory", NULL);
				a->data = nd;
				a->cap = cap;
			}
			n = recv(fd, a->data + a->len, 4096, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return 0;   /* closed (or reset) by the server */
			if (n > 0)
				a->len += (size_t)n;
		}
	}
}

int harness_run(const unsigned char *data, size_t size, struct harness_answer *out)
{
	struct nrfca_err e = { 0 };
	struct ca_options co = { .chain_path = g.cfg->ca_chain, .crl_next_update_hours = 24 };
	struct sockaddr_in peer;
	struct http_server *h = NULL;
	struct ledger *l;
	struct ca *ca = NULL;
	size_t sl = strlen(HARNESS_SEPARATOR), from;
	int sv[2], rc, i;

	memset(out, 0, sizeof(*out));
	harness_init();
	l = fresh_ledger();
	if (ca_open(&co, g.signer, l, &ca, &e) != 0)
		die("CA", e.msg);
	if (http_start_unlistened(g.cfg, ca, g.signer, l, &h, &e) != 0)
		die("server", e.msg);
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = 0;
	for (i = 0; rc == 0 && i < HARNESS_CONNECTIONS_MAX; i++) {
		const unsigned char *sep = memmem(data, size, HARNESS_SEPARATOR, sl);
		size_t n = sep ? (size_t)(sep - data) : size;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
			die("socketpair", strerror(errno));
		if (http_add_connection(h, sv[1], (const struct sockaddr *)&peer, sizeof(peer),
					&e) != 0)
			die("connection", e.msg);
		from = out->len;
		rc = converse(sv[0], data, n, out);
		close(sv[0]);
		if (out->data != NULL) {
			out->data[out->len] = '\0';
			find_statuses(out, from);
		}
		if (sep == NULL)
			break;
		data = sep + sl;
		size -= n + sl;
	}
	http_stop(h, 0);
	ca_free(ca);
	ledger_close(l);
	if (out->data == NULL && (out->data = malloc(1)) == NULL)
		die("out of memory", NULL);
	out->data[out->len] = '\0';
	return rc;
}

void harness_answer_free(struct harness_answer *a)
{
	free(a->data);
	memset(a, 0, sizeof(*a));
}

/* `what` is in the answer and was not in the request (an echo is fine). */
static int leaks(const struct harness_answer *a, const unsigned char *req, size_t req_len,
		 const char *what)
{
	size_t n = strlen(what);

	return memmem(a->data, a->len, what, n) != NULL && memmem(req, req_len, what, n) == NULL;
}

const char *harness_check(const struct harness_answer *a, const unsigned char *req,
			  size_t req_len)
{
	int i;

	if (a->len > 0 && strncmp(a->data, "HTTP/1.", 7) != 0)
		return "the answer does not start with a status line";
	for (i = 0; i < a->n_status; i++)
		if (a->statuses[i] == 500)
			return "a 500 answer (internal error)";
	if (leaks(a, req, req_len, g.dir))
		return "an answer names a file of the server (internal detail)";
	if (leaks(a, req, req_len, "memdb") || leaks(a, req, req_len, "nrfca-memory"))
		return "an answer names the ledger's database (internal detail)";
	return NULL;
}
