/*
 * identity_standin - a local stand-in of nRF Cloud's Identity Service for
 * the tests (loopback only).  It plays Nordic's part: it holds the identity
 * public keys of some devices (the simulators' keys) and judges %KEYGEN
 * tokens the way ca-server/identity.h expects the service to answer:
 *
 *   POST /  Authorization: Bearer <key>   {"token": "<part1>.<part2>"}
 *   200 {"verified": true|false, "uuid": "..."}   the device is known
 *   404 {"reason": "unknown device"}               no key for the UUID
 *   400 {"reason": "..."}                          not a token
 *   401 {"reason": "..."}                          wrong or missing API key
 *
 * Faults are switched at run time through --mode-file (read per request):
 *   ok | delay MS | status CODE | garbage | big
 * Every request appends one line "<uuid or -> <status>" to --log.
 *
 *   identity_standin --port-file F --api-key-file K --device UUID=PEM ...
 *                    [--mode-file M] [--log L]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/pem.h>

#include "modem_out.h"

#define MAX_DEVICES 64
#define BODY_MAX (64u << 10)

struct device {
	char uuid[37];
	EVP_PKEY *pub;
};

static struct device devices[MAX_DEVICES];
static size_t n_devices;
static char api_key[600];
static const char *mode_file, *log_file;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

struct conn {
	char *buf;
	size_t len;
	int over;
};

static void log_line(const char *uuid, unsigned status)
{
	FILE *f;

	if (log_file == NULL)
		return;
	pthread_mutex_lock(&log_mu);
	f = fopen(log_file, "a");
	if (f != NULL) {
		fprintf(f, "%s %u\n", uuid, status);
		fclose(f);
	}
	pthread_mutex_unlock(&log_mu);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 503 || status == 429)
		MHD_add_response_header(r, "Retry-After", "2");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The fault to play for this request, from the mode file. */
static int read_mode(char *mode, size_t len, long *arg)
{
	FILE *f;
	char line[64] = "";

	*arg = 0;
	snprintf(mode, len, "ok");
	if (mode_file == NULL || (f = fopen(mode_file, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL) {
		char m[32] = "";

		if (sscanf(line, "%31s %ld", m, arg) >= 1)
			snprintf(mode, len, "%s", m);
	}
	fclose(f);
	return 0;
}

static enum MHD_Result judge(struct MHD_Connection *c, const char *body, size_t len)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err e = { 0 };
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je), *t;
	char out[256];
	size_t i;
	int ok;

	t = json_is_object(j) ? json_object_get(j, "token") : NULL;
	if (!json_is_string(t) ||
	    nrfca_modem_out_parse(json_string_value(t), json_string_length(t), &m, &e) != 0) {
		json_decref(j);
		log_line("-", 400);
		return reply(c, 400, "{\"reason\": \"not a %KEYGEN token\"}");
	}
	json_decref(j);
	for (i = 0; i < n_devices; i++)
		if (strcmp(devices[i].uuid, m->device_uuid_str) == 0)
			break;
	if (i == n_devices) {
		log_line(m->device_uuid_str, 404);
		nrfca_modem_out_free(m);
		return reply(c, 404, "{\"reason\": \"unknown device\"}");
	}
	ok = nrfca_modem_out_verify_signature(m, devices[i].pub, NULL) == 0;
	snprintf(out, sizeof(out), "{\"verified\": %s, \"uuid\": \"%s\"%s}", ok ? "true" : "false",
		 m->device_uuid_str, ok ? "" : ", \"reason\": \"signature does not verify\"");
	log_line(m->device_uuid_str, 200);
	nrfca_modem_out_free(m);
	return reply(c, 200, out);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct conn *st = *con_cls;
	const char *auth;
	char mode[32], want[640];
	long arg;

	(void)cls;
	(void)url;
	(void)version;
	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_len > 0) {
		if (st->len + *upload_len > BODY_MAX) {
			st->over = 1;
		} else {
			char *nb = realloc(st->buf, st->len + *upload_len);

			if (nb == NULL)
				return MHD_NO;
			st->buf = nb;
			memcpy(st->buf + st->len, upload, *upload_len);
			st->len += *upload_len;
		}
		*upload_len = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return reply(c, 405, "{\"reason\": \"POST only\"}");
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	snprintf(want, sizeof(want), "Bearer %s", api_key);
	if (auth == NULL || strcmp(auth, want) != 0) {
		log_line("-", 401);
		return reply(c, 401, "{\"reason\": \"invalid API key\"}");
	}
	if (st->over)
		return reply(c, 413, "{\"reason\": \"too large\"}");
	read_mode(mode, sizeof(mode), &arg);
	if (strcmp(mode, "delay") == 0) {
		struct timespec ts = { arg / 1000, (arg % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	} else if (strcmp(mode, "status") == 0) {
		log_line("-", (unsigned)arg);
		return reply(c, (unsigned)arg, "{\"reason\": \"injected\"}");
	} else if (strcmp(mode, "garbage") == 0) {
		log_line("-", 200);
		return reply(c, 200, "<html>not json</html>");
	} else if (strcmp(mode, "big") == 0) {
		static char big[20001];

		memset(big, ' ', sizeof(big) - 1);
		big[0] = '{';
		big[sizeof(big) - 2] = '}';
		log_line("-", 200);
		return reply(c, 200, big);
	}
	return judge(c, st->buf != NULL ? st->buf : "", st->len);
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	struct conn *st = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (st != NULL) {
		free(st->buf);
		free(st);
	}
	*con_cls = NULL;
}

static int add_device(const char *spec)
{
	const char *eq = strchr(spec, '=');
	FILE *f;

	if (eq == NULL || eq - spec != 36 || n_devices == MAX_DEVICES)
		return -1;
	memcpy(devices[n_devices].uuid, spec, 36);
	devices[n_devices].uuid[36] = '\0';
	f = fopen(eq + 1, "r");
	if (f == NULL)
		return -1;
	devices[n_devices].pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (devices[n_devices].pub == NULL)
		return -1;
	n_devices++;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port-file", required_argument, NULL, 'p' },
		{ "api-key-file", required_argument, NULL, 'k' },
		{ "device", required_argument, NULL, 'd' },
		{ "mode-file", required_argument, NULL, 'm' },
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *port_file = NULL, *key_file = NULL;
	char tmp[4096];
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	FILE *f;
	int o, sig;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port_file = optarg; break;
		case 'k': key_file = optarg; break;
		case 'm': mode_file = optarg; break;
		case 'l': log_file = optarg; break;
		case 'd':
			if (add_device(optarg) != 0) {
				fprintf(stderr, "identity_standin: bad --device %s (UUID=PEM file)\n",
					optarg);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (port_file == NULL || key_file == NULL) {
		fprintf(stderr, "usage: identity_standin --port-file F --api-key-file K "
			"[--device UUID=PEM]... [--mode-file M] [--log L]\n");
		return 2;
	}
	f = fopen(key_file, "r");
	if (f == NULL || fgets(api_key, sizeof(api_key), f) == NULL) {
		fprintf(stderr, "identity_standin: cannot read %s\n", key_file);
		return 2;
	}
	fclose(f);
	api_key[strcspn(api_key, "\r\n")] = '\0';

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "identity_standin: cannot listen on 127.0.0.1\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
	f = fopen(tmp, "w");
	if (info == NULL || f == NULL || fprintf(f, "%u\n", (unsigned)info->port) < 0 ||
	    fclose(f) != 0 || rename(tmp, port_file) != 0) {
		fprintf(stderr, "identity_standin: cannot write %s: %s\n", port_file, strerror(errno));
		MHD_stop_daemon(d);
		return 1;
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	while (n_devices > 0)
		EVP_PKEY_free(devices[--n_devices].pub);
	return 0;
}
