/*
 * http.c - routes, authentication, limits and encoding of the REST API.
 * Each handler decodes, calls one function of ca.h / ledger.h, encodes.
 */
#define _XOPEN_SOURCE 700
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "api_decode.h"
#include "auth.h"
#include "clientcert.h"
#include "cli.h"
#include "timefmt.h"
#include "conntrack.h"
#include "fileutil.h"
#include "log.h"
#include "metrics.h"
#include "openapi.h"
#include "page_json.h"
#include "policy.h"
#include "policy_status.h"
#include "policy_store.h"

#define TLS_FILE_MAX (256 * 1024)
#define QUERY_MAX 256
#define RAW_PATH_MAX 2048
#define LIB_LOG_PER_SECOND 5      /* libmicrohttpd messages logged per second, at most */

enum role_mask {
	ANYONE = 0,
	R_STATION = 1 << ROLE_STATION,
	R_OPERATOR = 1 << ROLE_OPERATOR,
	R_AUDITOR = 1 << ROLE_AUDITOR,
};

enum route_id {
	RT_HEALTH,
	RT_READY,
	RT_CA,
	RT_CA_PEM,
	RT_CA_DER,
	RT_ENROLL,
	RT_CERTS,
	RT_CERT,
	RT_CERT_REVOKE,
	RT_CRL,
	RT_PROFILES,
	RT_METRICS,
	RT_OPENAPI,
	RT_MAX
};

struct request;
typedef void (*handler_fn)(struct request *rq);

struct route {
	const char *method;
	const char *path;          /* "{serial}" matches one path segment */
	unsigned roles;            /* ANYONE or a mask of roles */
	int admin;                 /* 1: admin listener (or loopback clients) */
	const char *name;          /* metrics label */
};

/* The API document, as a table (DESIGN.md "HTTP API"). */
static const struct route routes[RT_MAX] = {
	[RT_HEALTH] = { "GET", "/v1/health", ANYONE, 0, "health" },
	[RT_READY] = { "GET", "/v1/ready", ANYONE, 0, "ready" },
	[RT_CA] = { "GET", "/v1/ca", ANYONE, 0, "ca" },
	[RT_CA_PEM] = { "GET", "/v1/ca.pem", ANYONE, 0, "ca_pem" },
	[RT_CA_DER] = { "GET", "/v1/ca.der", ANYONE, 0, "ca_der" },
	[RT_ENROLL] = { "POST", "/v1/enroll", R_STATION, 0, "enroll" },
	[RT_CERTS] = { "GET", "/v1/certificates", R_OPERATOR | R_AUDITOR, 0, "certificates" },
	[RT_CERT] = { "GET", "/v1/certificates/{serial}", R_OPERATOR | R_AUDITOR | R_STATION, 0,
		      "certificate" },
	[RT_CERT_REVOKE] = { "POST", "/v1/certificates/{serial}/revoke", R_OPERATOR, 0, "revoke" },
	[RT_CRL] = { "GET", "/v1/crl", ANYONE, 0, "crl" },
	[RT_PROFILES] = { "GET", "/v1/profiles", R_STATION | R_OPERATOR, 0, "profiles" },
	[RT_METRICS] = { "GET", "/metrics", ANYONE, 1, "metrics" },
	[RT_OPENAPI] = { "GET", "/v1/openapi.json", ANYONE, 0, "openapi" },
};

/* The query parameters each route takes (at most QUERY_KEYS_MAX); any other,
 * or one given twice, is refused with 400 naming it. */
#define QUERY_KEYS_MAX 8
static const char *const route_query[RT_MAX][QUERY_KEYS_MAX] = {
	[RT_ENROLL] = { "dry_run" },
	[RT_CERTS] = { "device_id", "status", "profile", "station", "issued_after", "limit",
		       "after", "kind" },
};

struct http_server {
	const struct nrfca_config *cfg;
	struct ca *ca;
	struct signer *signer;
	struct ledger *ledger;
	struct MHD_Daemon *d, *admin;
	int tls;                 /* the main listener serves HTTPS */
	struct clientcert_verifier *ccv; /* tls.client_ca (+ client_crl), or NULL */
	char *tls_cert, *tls_key, *tls_ca;   /* PEM text kept for MHD's lifetime */
	atomic_int in_flight;
	atomic_int stopping;     /* set by http_stop: answers close their connection */
	atomic_long requests;
	struct conntrack *ct;    /* receive deadlines of every connection */
	pthread_mutex_t log_mu;  /* libmicrohttpd's messages: bounded rate */
	time_t log_second;
	int log_count;
	long log_suppressed;
};

struct request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct ct_conn *ct;        /* the connection's deadline entry, or NULL */
	int started;               /* the access handler has seen the request */
	int is_admin_listener;
	char raw_path[RAW_PATH_MAX + 1]; /* the path as sent (before any %-decoding) */
	int raw_path_too_long;
	int route;                 /* -1: none */
	char serial[3 * LEDGER_SERIAL_MAX + 2]; /* as sent: colons allowed */
	char *body;
	size_t body_len, body_cap;
	int too_large;
	double t0;
	struct principal who;
	int authed;
	const char *bad_query;     /* a query parameter over QUERY_MAX */
	/* response */
	int status;
	struct MHD_Response *resp;
	int responded;
	/* what the request line of the log says (log_request) */
	struct {
		char method[16];
		char error[48], rule[48];
		char serial[LEDGER_SERIAL_MAX + 2], device_id[65];
	} log;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* responses */

/* Send r (NULL: nothing is sent) with the headers of every answer. */
static void respond_with(struct request *rq, int status, const char *ctype, struct MHD_Response *r)
{
	if (r == NULL)
		return;
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	rq->resp = r;
	rq->status = status;
	rq->responded = 1;
}

static void respond_buf(struct request *rq, int status, const char *ctype, const void *data,
			size_t len)
{
	if (rq->responded)
		return;
	respond_with(rq, status, ctype,
		     MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY));
}

/* As respond_buf, for a malloc'd body that the answer takes over (no copy). */
static void respond_owned(struct request *rq, int status, const char *ctype, char *data, size_t len)
{
	struct MHD_Response *r = NULL;

	if (!rq->responded)
		r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(data);
		return;
	}
	respond_with(rq, status, ctype, r);
}

static void respond_json(struct request *rq, int status, json_t *body)
{
	char *txt = json_dumps(body, JSON_COMPACT);

	if (txt == NULL) {
		respond_buf(rq, 500, "application/json",
			    "{\"error\":\"internal\",\"detail\":\"cannot encode the answer\"}", 57);
		return;
	}
	respond_buf(rq, status, "application/json", txt, strlen(txt));
	free(txt);
}

/* What a 5xx answer says: internal detail (paths, PKCS#11 and SQLite
 * messages) stays in the log. */
static const struct {
	const char *code, *sentence;
} public_5xx[] = {
	{ "not_ready", "the server is not ready; retry later" },
	{ "token_unavailable", "the signing token is not available; retry later" },
	{ "database_unavailable", "the ledger database is not available; retry later" },
	{ "crl_unavailable", "no CRL can be made now; retry later" },
	{ "no_policy", "no issuance policy is loaded" },
	{ "identity_unavailable", "the profile needs nRF Cloud's Identity Service to verify the "
				  "attestation and it cannot answer now; retry later" },
};

static const char *public_sentence(const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(public_5xx) / sizeof(public_5xx[0]); i++)
		if (strcmp(code, public_5xx[i].code) == 0)
			return public_5xx[i].sentence;
	return "the server cannot answer now; its log has the detail";
}

static void respond_error_text(struct request *rq, int status, const char *code,
			       const char *rule, unsigned retry_after, const char *detail)
{
	/* the detail may quote the request's method or path, which need not be UTF-8 */
	json_t *o = json_pack("{s:s, s:o}", "error", code, "detail", nlog_json_str(detail));

	if (!rq->responded) {   /* the code of the answer sent, not of a later attempt */
		snprintf(rq->log.error, sizeof(rq->log.error), "%s", code);
		snprintf(rq->log.rule, sizeof(rq->log.rule), "%s", rule ? rule : "");
	}
	if (o && rule)
		json_object_set_new(o, "rule", json_string(rule));
	respond_json(rq, status, o);
	json_decref(o);
	if (rq->resp && retry_after) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(rq->resp, "Retry-After", ra);
	}
	if (rq->resp && status == 401)
		MHD_add_response_header(rq->resp, "WWW-Authenticate", "Bearer realm=\"nrfca\"");
}

/* A 5xx answer: `shown` to the client (with the policy rule, if any),
 * `internal` to the log only. */
static void respond_unavailable_rule(struct request *rq, int status, const char *code,
				     const char *rule, unsigned retry_after, const char *shown,
				     const char *internal)
{
	nlog(NLOG_WARN, "error_detail", "route", rq->route >= 0 ? routes[rq->route].name : "unknown",
	     "error", code, "detail", internal, NULL);
	respond_error_text(rq, status, code, rule, retry_after, shown);
}

static void respond_unavailable(struct request *rq, int status, const char *code,
				unsigned retry_after, const char *shown, const char *internal)
{
	respond_unavailable_rule(rq, status, code, NULL, retry_after, shown, internal);
}

static void respond_error(struct request *rq, int status, const char *code, const char *rule,
			  unsigned retry_after, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void respond_error(struct request *rq, int status, const char *code, const char *rule,
			  unsigned retry_after, const char *fmt, ...)
{
	char detail[NRFCA_ERR_MSG_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (status >= 500)
		respond_unavailable_rule(rq, status, code, rule, retry_after, public_sentence(code),
					 detail);
	else
		respond_error_text(rq, status, code, rule, retry_after, detail);
}

static void respond_result(struct request *rq, struct ca_result *res)
{
	const char *v;

	if (res->raw != NULL && res->status < 400) {
		snprintf(rq->log.serial, sizeof(rq->log.serial), "%s", res->serial);
		snprintf(rq->log.device_id, sizeof(rq->log.device_id), "%s", res->device_id);
		respond_owned(rq, res->status, "application/json", res->raw, res->raw_len);
		res->raw = NULL;
	} else if (res->body != NULL && res->status < 400) {
		if ((v = json_string_value(json_object_get(res->body, "serial"))) != NULL)
			snprintf(rq->log.serial, sizeof(rq->log.serial), "%s", v);
		if ((v = json_string_value(json_object_get(res->body, "device_id"))) != NULL)
			snprintf(rq->log.device_id, sizeof(rq->log.device_id), "%s", v);
		respond_json(rq, res->status, res->body);
	} else
		respond_error(rq, res->status ? res->status : 500, res->error ? res->error : "internal",
			      res->rule, res->retry_after, "%s", res->detail);
}

/* ------------------------------------------------------------------ */
/* routing */

static int match_path(const char *pattern, const char *url, char *serial, size_t slen)
{
	const char *p = pattern, *u = url;

	while (*p && *u) {
		if (strncmp(p, "{serial}", 8) == 0) {
			size_t n = strcspn(u, "/");

			if (n == 0 || n >= slen)
				return 0;
			memcpy(serial, u, n);
			serial[n] = '\0';
			u += n;
			p += 8;
			continue;
		}
		if (*p != *u)
			return 0;
		p++;
		u++;
	}
	return *p == '\0' && *u == '\0';
}

/* Returns the route, or -1; *path_known says whether another method would match. */
static int find_route(const char *method, const char *url, char *serial, size_t slen,
		      int *path_known, char *allow, size_t alen)
{
	int i, found = -1;

	*path_known = 0;
	allow[0] = '\0';
	for (i = 0; i < RT_MAX; i++) {
		if (!match_path(routes[i].path, url, serial, slen))
			continue;
		*path_known = 1;
		snprintf(allow + strlen(allow), alen - strlen(allow), "%s%s", allow[0] ? ", " : "",
			 routes[i].method);
		if (strcmp(method, routes[i].method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
			found = i;
	}
	return found;
}

static int peer_is_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa;

	if (ci == NULL || ci->client_addr == NULL)
		return 0;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* mTLS: libmicrohttpd only requests the client certificate; it is verified
 * here against tls.client_ca and tls.client_crl.  0: none presented; 1:
 * verified, *id names it; -1: presented and refused, `why` says why. */
static int peer_certificate(struct request *rq, struct clientcert_id *id, char *why, size_t wl)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *certs;
	unsigned int n = 0;

	if (rq->srv->ccv == NULL || rq->is_admin_listener)
		return 0;
	ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return 0;
	certs = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (certs == NULL || n == 0)
		return 0;
	return clientcert_verify(rq->srv->ccv, certs, n, id, why, wl) == 0 ? 1 : -1;
}

static void refuse_credential(struct request *rq, const struct nrfca_err *e)
{
	if (e->code == NRFCA_E_DB)
		respond_error(rq, 503, "database_unavailable", NULL, 2, "%s", e->msg);
	else
		respond_error(rq, 401, "unauthorized", NULL, 0, "%s", e->msg);
}

/* Who is calling: a bearer token, a client certificate bound to a
 * credential, or both naming the same credential.  A certificate bound to
 * nothing identifies nobody, so bearer and certificate identities share
 * one namespace: the credentials'. */
static int authenticate(struct request *rq)
{
	const struct route *r = &routes[rq->route];
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
	struct nrfca_err e = { 0 };
	struct clientcert_id id;
	struct principal by_cert;
	char why[256];
	int cc = peer_certificate(rq, &id, why, sizeof(why));

	if (cc < 0) {
		respond_error(rq, 401, "unauthorized", NULL, 0, "%s", why);
		return 0;
	}
	if (cc == 0 && rq->srv->cfg->tls_require_client_cert && !rq->is_admin_listener) {
		respond_error(rq, 401, "unauthorized", NULL, 0,
			      "this server requires a client certificate (tls.require_client_cert)");
		return 0;
	}
	if (r->roles == ANYONE)
		return 1;
	if (cc == 1 && auth_client_cert(rq->srv->ledger, id.sha256, id.subject, &by_cert, &e) != 0) {
		refuse_credential(rq, &e);
		return 0;
	}
	if (h != NULL) {
		if (auth_bearer(rq->srv->ledger, h, &rq->who, &e) != 0) {
			refuse_credential(rq, &e);
			return 0;
		}
		if (cc == 1 && strcmp(by_cert.name, rq->who.name) != 0) {
			respond_error(rq, 401, "unauthorized", NULL, 0,
				      "the bearer token is the credential '%s' but the client "
				      "certificate is bound to '%s': send one identity",
				      rq->who.name, by_cert.name);
			return 0;
		}
	} else if (cc == 1) {
		rq->who = by_cert;
	} else {
		respond_error(rq, 401, "unauthorized", NULL, 0,
			      "no credential: send 'Authorization: Bearer <token>'%s",
			      rq->srv->ccv ? " or a client certificate bound to a credential" : "");
		return 0;
	}
	rq->authed = 1;
	/* last use, for `token list` (the ledger writes it at most once a minute) */
	if (ledger_cred_touch(rq->srv->ledger, rq->who.name, &e) != 0)
		nlog(NLOG_WARN, "credential_touch_failed", "credential", rq->who.name, "detail",
		     e.msg, NULL);
	if ((r->roles & (1u << rq->who.role)) == 0) {
		respond_error(rq, 403, "forbidden", NULL, 0,
			      "the %s credential '%s' may not use %s %s", cred_role_name(rq->who.role),
			      rq->who.name, r->method, r->path);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* handlers */

static void h_health(struct request *rq)
{
	respond_buf(rq, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

/* What /v1/ready adds beyond yes/no: the version, the policy in force and
 * the outcome of the last reload, the CRL being served. */
static json_t *ready_body(struct request *rq)
{
	struct policy_status ps;
	struct ca_crl_info ci;
	char t1[NRFCA_TIME_ISO_LEN], t2[NRFCA_TIME_ISO_LEN];
	json_t *o, *crl;

	policy_status_get(&ps);
	ca_crl_info(rq->srv->ca, &ci);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "status", "ready", "token", "ok",
		      "database", "ok", "policy", ps.last_failed ? "reload_failed" : "ok",
		      "policy_sha256", ps.sha256, "version", nrfca_version_string());
	if (o == NULL)
		return NULL;
	if (ps.last_failed) {
		nrfca_time_iso(ps.last_attempt, t1);
		json_object_set_new(o, "policy_reload", json_pack("{s:s, s:s, s:s?, s:s}", "failed_at",
			t1, "error", ps.error, "failed_sha256", ps.failed_sha256[0] ?
			ps.failed_sha256 : NULL, "in_force", "the previous policy stays in force"));
	}
	if (ci.this_update > 0) {
		nrfca_time_iso(ci.this_update, t1);
		nrfca_time_iso(ci.next_update, t2);
		crl = json_pack("{s:s, s:s, s:I, s:I}", "this_update", t1, "next_update", t2,
				"age_seconds", (json_int_t)(time(NULL) - ci.this_update), "entries",
				(json_int_t)ci.entries);
		json_object_set_new(o, "crl", crl);
	}
	return o;
}

static void h_ready(struct request *rq)
{
	struct nrfca_err e = { 0 };
	char why[NRFCA_ERR_MSG_MAX];
	struct nrfca_policy *p;
	json_t *o;

	if (!signer_ready(rq->srv->signer, why, sizeof(why))) {
		respond_unavailable(rq, 503, "not_ready", 2, "the signing token is not ready", why);
		return;
	}
	if (ledger_ping(rq->srv->ledger, &e) != 0) {
		respond_unavailable(rq, 503, "not_ready", 2, "the ledger database is not ready",
				    e.msg);
		return;
	}
	p = policy_acquire();
	if (p == NULL) {
		respond_error(rq, 503, "not_ready", NULL, 5, "no policy is loaded");
		return;
	}
	policy_release(p);
	o = ready_body(rq);
	respond_json(rq, 200, o);
	json_decref(o);
}

static void h_ca(struct request *rq)
{
	json_t *o = ca_chain_json(rq->srv->ca);

	respond_json(rq, 200, o);
	json_decref(o);
}

static void h_ca_pem(struct request *rq)
{
	const char *pem = ca_chain_pem(rq->srv->ca);

	respond_buf(rq, 200, "application/pem-certificate-chain", pem, strlen(pem));
}

static void h_openapi(struct request *rq)
{
	respond_buf(rq, 200, "application/json", nrfca_openapi_json, nrfca_openapi_json_len);
}

static void h_ca_der(struct request *rq)
{
	size_t len;
	const unsigned char *der = ca_cert_der(rq->srv->ca, &len);

	respond_buf(rq, 200, "application/pkix-cert", der, len);
}

/* Decode the JSON body: 415 wrong type, 400 empty / not JSON / too deep / not an object. */
static json_t *body_json(struct request *rq)
{
	const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Type");
	char why[NRFCA_ERR_MSG_MAX];
	enum api_status st;
	json_t *j = NULL;

	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		respond_error(rq, 415, "unsupported_media_type", NULL, 0,
			      "send the body as Content-Type: application/json (got '%.60s')",
			      ct ? ct : "none");
		return NULL;
	}
	st = api_parse_object(rq->body, rq->body_len, rq->srv->cfg->max_json_depth, &j, why,
			      sizeof(why));
	if (st != API_OK) {
		respond_error(rq, 400, api_status_code(st), NULL, 0, "%s", why);
		return NULL;
	}
	return j;
}

static const char *query(struct request *rq, const char *key)
{
	const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);

	if (v != NULL && strlen(v) > QUERY_MAX) {
		rq->bad_query = key;
		return NULL;
	}
	return v;
}

struct query_check {
	const char *const *allowed;
	unsigned count[QUERY_KEYS_MAX];
	char unknown[160];
	int n_unknown;
};

static enum MHD_Result query_key(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_check *qc = cls;
	size_t i, used;

	(void)kind;
	(void)value;
	for (i = 0; i < QUERY_KEYS_MAX && qc->allowed[i] != NULL; i++)
		if (strcmp(key, qc->allowed[i]) == 0) {
			qc->count[i]++;
			return MHD_YES;
		}
	used = strlen(qc->unknown);
	if (qc->n_unknown++ < 4)
		snprintf(qc->unknown + used, sizeof(qc->unknown) - used, "%s'%.30s'",
			 used ? ", " : "", key);
	return MHD_YES;
}

/* Unknown or repeated query parameters: 0, or -1 after answering 400. */
static int query_ok(struct request *rq)
{
	struct query_check qc;
	char takes[160] = "";
	size_t i;

	memset(&qc, 0, sizeof(qc));
	qc.allowed = route_query[rq->route];
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_key, &qc);
	for (i = 0; i < QUERY_KEYS_MAX && qc.allowed[i] != NULL; i++) {
		snprintf(takes + strlen(takes), sizeof(takes) - strlen(takes), "%s%s",
			 i ? ", " : "", qc.allowed[i]);
		if (qc.count[i] > 1) {
			respond_error(rq, 400, "invalid_request", NULL, 0,
				      "the query parameter '%s' is given %u times; give it once",
				      qc.allowed[i], qc.count[i]);
			return -1;
		}
	}
	if (qc.n_unknown == 0)
		return 0;
	respond_error(rq, 400, "invalid_request", NULL, 0,
		      "unknown query parameter%s %s%s (%s %s takes %s)", qc.n_unknown > 1 ? "s" : "",
		      qc.unknown, qc.n_unknown > 4 ? ", ..." : "", routes[rq->route].method,
		      routes[rq->route].path, takes[0] ? takes : "none");
	return -1;
}

static void h_enroll(struct request *rq)
{
	char why[NRFCA_ERR_MSG_MAX];
	struct enroll_req er;
	struct ca_result res;
	enum api_status st;
	json_t *j = body_json(rq);
	const char *dry;

	if (j == NULL)
		return;
	st = api_decode_enroll(j, &er, why, sizeof(why));
	if (st != API_OK) {
		respond_error(rq, 400, api_status_code(st), NULL, 0, "%s", why);
		json_decref(j);
		return;
	}
	dry = query(rq, "dry_run");
	er.dry_run = dry != NULL && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
	ca_enroll(rq->srv->ca, &rq->who, &er, &res);
	respond_result(rq, &res);
	ca_result_clear(&res);
	json_decref(j);
}

struct list_ctx {
	struct page_json *page;
	char last[LEDGER_SERIAL_MAX + 1];
	int n;
};

static int list_cb(const struct cert_record *r, void *arg)
{
	struct list_ctx *lc = arg;

	if (page_json_add(lc->page, r) != 0)
		return 1;
	snprintf(lc->last, sizeof(lc->last), "%s", r->serial);
	lc->n++;
	return 0;
}

/* The {serial} of the path, in the ledger's form (either case and colons
 * accepted).  0, or -1 after answering 400. */
static int path_serial(struct request *rq)
{
	char norm[LEDGER_SERIAL_MAX + 1], why[200];

	if (api_serial(rq->serial, norm, why, sizeof(why)) != API_OK) {
		respond_error(rq, 400, "invalid_request", NULL, 0, "%s", why);
		return -1;
	}
	snprintf(rq->serial, sizeof(rq->serial), "%s", norm);
	return 0;
}

static void h_certs(struct request *rq)
{
	struct ledger_filter f;
	struct list_ctx lc;
	struct nrfca_err e = { 0 };
	const char *v, *limit_s, *after_s, *after;
	char after_norm[LEDGER_SERIAL_MAX + 1], why[200];
	char *body;
	size_t len;
	char *end;

	memset(&f, 0, sizeof(f));
	f.device_id = query(rq, "device_id");
	f.status = query(rq, "status");
	f.profile = query(rq, "profile");
	f.station = query(rq, "station");
	f.kind = query(rq, "kind");
	after = query(rq, "after");
	limit_s = query(rq, "limit");
	after_s = query(rq, "issued_after");
	f.limit = 100;
	if (rq->bad_query != NULL) {
		respond_error(rq, 400, "invalid_request", NULL, 0,
			      "the query parameter '%s' is longer than %d characters", rq->bad_query,
			      QUERY_MAX);
		return;
	}
	if (f.status && cert_status_from_name(f.status) < 0) {
		respond_error(rq, 400, "invalid_request", NULL, 0,
			      "status must be 'active' or 'revoked'");
		return;
	}
	if (f.kind && cert_kind_from_name(f.kind) < 0) {
		respond_error(rq, 400, "invalid_request", NULL, 0,
			      "kind must be 'certificate' or 'public_key'");
		return;
	}
	if (after != NULL) {
		if (api_serial(after, after_norm, why, sizeof(why)) != API_OK) {
			respond_error(rq, 400, "invalid_request", NULL, 0, "after: %s", why);
			return;
		}
		f.after_serial = after_norm;
	}
	if ((v = limit_s) != NULL) {
		long l = strtol(v, &end, 10);

		if (*end != '\0' || l < 1 || l > 1000) {
			respond_error(rq, 400, "invalid_request", NULL, 0,
				      "limit must be an integer from 1 to 1000");
			return;
		}
		f.limit = (int)l;
	}
	if (after_s != NULL && api_time(after_s, &f.issued_after, why, sizeof(why)) != API_OK) {
		respond_error(rq, 400, "invalid_request", NULL, 0, "issued_after: %s", why);
		return;
	}
	memset(&lc, 0, sizeof(lc));
	lc.page = page_json_new(rq->srv->ca);
	if (lc.page == NULL) {
		respond_error(rq, 500, "internal", NULL, 0, "out of memory");
		return;
	}
	if (ledger_list(rq->srv->ledger, &f, list_cb, &lc, &e) != 0) {
		page_json_free(lc.page);
		respond_error(rq, 503, "database_unavailable", NULL, 2, "%s", e.msg);
		return;
	}
	/* the page is written as it is read (page_json.h), and handed to
	 * libmicrohttpd without a copy */
	if (page_json_finish(lc.page, lc.n == f.limit ? lc.last : NULL, &body, &len) != 0) {
		respond_error(rq, 500, "internal", NULL, 0, "out of memory");
		return;
	}
	respond_owned(rq, 200, "application/json", body, len);
}

static void h_cert(struct request *rq)
{
	struct cert_record r;
	struct nrfca_err e = { 0 };
	const char *accept = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Accept");
	int rc;

	if (path_serial(rq) != 0)
		return;
	memset(&r, 0, sizeof(r));
	rc = ledger_get(rq->srv->ledger, rq->serial, &r, &e);
	if (rc < 0) {
		respond_error(rq, 503, "database_unavailable", NULL, 2, "%s", e.msg);
		return;
	}
	/* a station sees only the certificates in its scope (the replay rule) */
	if (rc == 1 || !ca_station_may_see(rq->srv->ca, &rq->who, &r)) {
		cert_record_clear(&r);
		respond_error(rq, 404, "not_found", NULL, 0, "no certificate with serial %s",
			      rq->serial);
		return;
	}
	{
		json_t *o = ca_record_json(rq->srv->ca, &r);

		if (accept && strstr(accept, "application/pem-certificate-chain") &&
		    r.kind == CERT_KIND_PUBLIC_KEY) {
			respond_error(rq, 406, "not_a_certificate", NULL, 0, "serial %s is a "
				      "public-key registration, not a certificate: ask for "
				      "application/json (its \"public_key\")", rq->serial);
		} else if (accept && strstr(accept, "application/pem-certificate-chain") && o &&
			   json_is_string(json_object_get(o, "certificate"))) {
			const char *c = json_string_value(json_object_get(o, "certificate"));
			const char *ch = ca_chain_pem(rq->srv->ca);
			size_t cl = strlen(c), hl = strlen(ch);
			char *both = malloc(cl + hl + 1);

			if (both) {
				memcpy(both, c, cl);
				memcpy(both + cl, ch, hl + 1);
				respond_buf(rq, 200, "application/pem-certificate-chain", both, cl + hl);
				free(both);
			}
		} else {
			respond_json(rq, 200, o);
		}
		json_decref(o);
	}
	cert_record_clear(&r);
}

static void h_revoke(struct request *rq)
{
	char why[NRFCA_ERR_MSG_MAX];
	struct ca_result res;
	const char *reason;
	enum api_status st;
	json_t *j;

	if (path_serial(rq) != 0)
		return;
	j = body_json(rq);
	if (j == NULL)
		return;
	st = api_decode_revoke(j, &reason, why, sizeof(why));
	if (st != API_OK) {
		respond_error(rq, 400, api_status_code(st), NULL, 0, "%s", why);
		json_decref(j);
		return;
	}
	ca_revoke(rq->srv->ca, &rq->who, rq->serial, reason, &res);
	respond_result(rq, &res);
	ca_result_clear(&res);
	json_decref(j);
}

static void h_crl(struct request *rq)
{
	struct nrfca_err e = { 0 };
	unsigned char *der = NULL;
	size_t len = 0;

	if (ca_crl_der(rq->srv->ca, &der, &len, &e) != 0) {
		respond_error(rq, 503, "crl_unavailable", NULL, 5, "%s", e.msg);
		return;
	}
	respond_buf(rq, 200, "application/pkix-crl", der, len);
	free(der);
}

/* What a station checks before it asks: the CN rule, sec_tags, inputs
 * (names as in the policy file; "sec_tags" absent = any sec_tag). */
static void profile_rules(const struct nrfca_profile *pr, json_t *o)
{
	json_t *cn = json_pack("{s:s, s:i}", "source", nrfca_profile_cn_source(pr),
			       "max_length", nrfca_profile_cn_max(pr));
	json_t *in = json_array(), *tags, *forms;
	uint64_t lo = 0, hi = 0;
	size_t i, n;

	if (strcmp(nrfca_profile_cn_source(pr), "imei") == 0) {
		forms = json_array();
		if (nrfca_profile_imei_form(pr, "nrf-imei"))
			json_array_append_new(forms, json_string("nrf-imei"));
		if (nrfca_profile_imei_form(pr, "imei"))
			json_array_append_new(forms, json_string("imei"));
		json_object_set_new(cn, "imei_forms", forms);
	}
	if (nrfca_profile_cn_pattern(pr) != NULL)
		json_object_set_new(cn, "pattern", json_string(nrfca_profile_cn_pattern(pr)));
	json_object_set_new(o, "cn", cn);
	n = nrfca_profile_sec_tag_range(pr, 0, &lo, &hi);
	if (n > 0) {
		tags = json_array();
		for (i = 0; i < n; i++) {
			char r[48];

			nrfca_profile_sec_tag_range(pr, i, &lo, &hi);
			if (lo == hi) {
				json_array_append_new(tags, json_integer((json_int_t)lo));
			} else {
				snprintf(r, sizeof(r), "%llu-%llu", (unsigned long long)lo,
					 (unsigned long long)hi);
				json_array_append_new(tags, json_string(r));
			}
		}
		json_object_set_new(o, "sec_tags", tags);
	}
	if (nrfca_profile_accepts(pr, NRFCA_INPUT_KEYGEN))
		json_array_append_new(in, json_string("keygen"));
	if (nrfca_profile_accepts(pr, NRFCA_INPUT_CSR))
		json_array_append_new(in, json_string("csr"));
	/* keygen profiles take a bare key only to refuse it with their payload
	 * rule: "public-key" names the profiles that register keys */
	if (strcmp(nrfca_profile_input_name(pr), "public-key") == 0)
		json_array_append_new(in, json_string("public-key"));
	json_object_set_new(o, "input", in);
}

static void h_profiles(struct request *rq)
{
	struct nrfca_policy *p = policy_acquire();
	json_t *arr, *o;
	size_t i, n;

	if (p == NULL) {
		respond_error(rq, 503, "no_policy", NULL, 5, "no issuance policy is loaded");
		return;
	}
	arr = json_array();
	n = nrfca_policy_profile_count(p);
	for (i = 0; i < n; i++) {
		const struct nrfca_profile *pr = nrfca_policy_profile_at(p, i);
		const struct nrfca_profile *def = nrfca_policy_default_profile(p);
		size_t tl = 0;
		const char *tb = nrfca_profile_trust_bundle(pr, &tl);

		if (rq->who.role == ROLE_STATION &&
		    (!nrfca_profile_enabled(pr) || !nrfca_profile_station_allowed(pr, rq->who.name)))
			continue;
		o = json_pack("{s:s, s:s, s:b, s:b}", "name", nrfca_profile_name(pr),
			      "description",
			      nrfca_profile_description(pr) ? nrfca_profile_description(pr) : "",
			      "enabled", nrfca_profile_enabled(pr), "default", pr == def);
		json_object_set_new(o, "trust_bundle", tb ? json_stringn(tb, tl) : json_null());
		profile_rules(pr, o);
		json_array_append_new(arr, o);
	}
	policy_release(p);
	o = json_pack("{s:o}", "profiles", arr);
	respond_json(rq, 200, o);
	json_decref(o);
}

static void h_metrics(struct request *rq)
{
	struct signer_stats ss;
	struct ledger_stats ls;
	struct policy_status ps;
	struct ca_crl_info ci;
	struct nrfca_err e = { 0 };
	long long certs = -1, revoked = -1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		respond_error(rq, 500, "internal", NULL, 0, "out of memory");
		return;
	}
	metrics_render(f);
	signer_get_stats(rq->srv->signer, &ss);
	ledger_get_stats(rq->srv->ledger, &ls);
	ledger_count(rq->srv->ledger, &certs, &revoked, NULL);
	policy_status_get(&ps);
	ca_crl_info(rq->srv->ca, &ci);
	fprintf(f, "# HELP nrfca_build_info The running nrfca-server's version (value 1)\n"
		   "# TYPE nrfca_build_info gauge\nnrfca_build_info{version=\"%s\"} 1\n",
		nrfca_version_string());
	metrics_put(f, "nrfca_token_ready", "gauge", "1 when the PKCS#11 token answers",
		    signer_ready(rq->srv->signer, NULL, 0));
	metrics_put(f, "nrfca_token_signatures_total", "counter", "Signatures made in the token",
		    (double)ss.signs);
	metrics_put(f, "nrfca_token_sign_failures_total", "counter", "Failed signing operations",
		    (double)ss.sign_failures);
	metrics_put(f, "nrfca_token_recoveries_total", "counter",
		    "Times the token was re-initialised", (double)ss.recoveries);
	metrics_put(f, "nrfca_token_session_copy", "gauge",
		    "1 when signing uses a session copy of the key made in the token "
		    "(token.session_copy)", ss.session_copy);
	metrics_put(f, "nrfca_token_sessions", "gauge",
		    "Sessions in the token's pool (0 while the token is down)", ss.pool_size);
	metrics_put(f, "nrfca_token_sessions_in_use", "gauge", "Sessions signing right now",
		    ss.in_use);
	metrics_put(f, "nrfca_token_session_waits_total", "counter",
		    "Signing calls that found every session busy and waited", (double)ss.waits);
	metrics_put(f, "nrfca_token_session_wait_seconds_total", "counter",
		    "Time signing calls spent waiting for a free session", ss.wait_seconds);
	metrics_put(f, "nrfca_database_ready", "gauge", "1 when the ledger answers a read",
		    ledger_ping(rq->srv->ledger, &e) == 0);
	metrics_put(f, "nrfca_ledger_certificates", "gauge", "Certificates in the ledger",
		    (double)certs);
	metrics_put(f, "nrfca_ledger_revoked", "gauge", "Revoked certificates in the ledger",
		    (double)revoked);
	metrics_put(f, "nrfca_ledger_commits_total", "counter", "Group-committed transactions",
		    (double)ls.commits);
	metrics_put(f, "nrfca_ledger_changes_total", "counter",
		    "Changes carried by those transactions", (double)ls.changes);
	fprintf(f, "# HELP nrfca_ledger_checkpoint_pages_total WAL pages copied into the SQLite "
		   "database, by the background checkpointer or by the writer thread (callers "
		   "wait meanwhile)\n# TYPE nrfca_ledger_checkpoint_pages_total counter\n"
		   "nrfca_ledger_checkpoint_pages_total{by=\"background\"} %lld\n"
		   "nrfca_ledger_checkpoint_pages_total{by=\"writer\"} %lld\n",
		ls.checkpoint_pages_background, ls.checkpoint_pages_writer);
	metrics_put(f, "nrfca_policy_generation", "gauge",
		    "Successful policy loads and reloads (a generation number)",
		    (double)policy_store_generation());
	metrics_put(f, "nrfca_policy_reload_failures_total", "counter",
		    "Policy reloads (SIGHUP) refused since start", (double)ps.failures);
	metrics_put(f, "nrfca_policy_reload_failed", "gauge",
		    "1 while the last policy reload failed (the previous policy is in force)",
		    ps.last_failed);
	metrics_put(f, "nrfca_policy_loaded_timestamp_seconds", "gauge",
		    "When the policy in force was loaded (unix time)", (double)ps.loaded_at);
	if (ci.this_update > 0) {
		metrics_put(f, "nrfca_crl_last_update_timestamp_seconds", "gauge",
			    "thisUpdate of the CRL being served (unix time)", (double)ci.this_update);
		metrics_put(f, "nrfca_crl_next_update_timestamp_seconds", "gauge",
			    "nextUpdate of the CRL being served (unix time)", (double)ci.next_update);
		metrics_put(f, "nrfca_crl_number", "gauge", "CRL number of the CRL being served",
			    (double)ci.number);
		metrics_put(f, "nrfca_crl_entries", "gauge",
			    "Revoked certificates listed in the CRL being served", (double)ci.entries);
	}
	fclose(f);
	respond_buf(rq, 200, "text/plain; version=0.0.4", buf, len);
	free(buf);
}

static const handler_fn handlers[RT_MAX] = {
	[RT_HEALTH] = h_health,   [RT_READY] = h_ready,        [RT_CA] = h_ca,
	[RT_CA_PEM] = h_ca_pem,   [RT_CA_DER] = h_ca_der,      [RT_ENROLL] = h_enroll,      [RT_CERTS] = h_certs,
	[RT_CERT] = h_cert,       [RT_CERT_REVOKE] = h_revoke, [RT_CRL] = h_crl,
	[RT_PROFILES] = h_profiles, [RT_METRICS] = h_metrics,   [RT_OPENAPI] = h_openapi,
};

/* ------------------------------------------------------------------ */
/* libmicrohttpd glue */

static enum MHD_Result finish(struct request *rq)
{
	enum MHD_Result r;

	if (!rq->responded)
		respond_error(rq, 500, "internal", NULL, 0, "no answer was produced");
	if (rq->resp == NULL)
		return MHD_NO;
	/* stopping: a keep-alive client must not keep the server serving past the grace */
	if (atomic_load(&rq->srv->stopping))
		MHD_add_response_header(rq->resp, "Connection", "close");
	r = MHD_queue_response(rq->conn, (unsigned)rq->status, rq->resp);
	MHD_destroy_response(rq->resp);
	rq->resp = NULL;
	return r;
}

/* The request line arrived (libmicrohttpd's URI log callback, before it
 * decodes anything): the request's state starts here, with the raw path. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *rq = calloc(1, sizeof(*rq));
	size_t n;

	if (rq == NULL)
		return NULL;
	rq->srv = cls;
	rq->conn = conn;
	rq->route = -1;
	n = strcspn(uri, "?");
	if (n > RAW_PATH_MAX)
		rq->raw_path_too_long = 1;
	else
		memcpy(rq->raw_path, uri, n);
	return rq;
}

/* Route on the path as sent: %2F is not a separator and never becomes one. */
static int encoded_separator(const char *path)
{
	const char *p;

	for (p = strchr(path, '%'); p != NULL; p = strchr(p + 1, '%'))
		if ((p[1] == '2' && (p[2] == 'f' || p[2] == 'F')) ||
		    (p[1] == '5' && (p[2] == 'c' || p[2] == 'C')))
			return 1;
	return 0;
}

/* The first call for a request (its headers are in): route, listener and
 * declared length.  Returns 1 when an answer was decided already. */
static int request_begin(struct request *rq, const char *method)
{
	struct http_server *srv = rq->srv;
	const char *cl;
	char allow[64];
	int known;

	if (rq->raw_path_too_long) {
		respond_error(rq, 414, "uri_too_long", NULL, 0, "the path is longer than %d bytes",
			      RAW_PATH_MAX);
		return 1;
	}
	if (encoded_separator(rq->raw_path)) {
		respond_error(rq, 400, "invalid_request", NULL, 0,
			      "the path holds an encoded slash or backslash (%%2F, %%5C); paths are "
			      "routed as sent and such encodings are refused");
		return 1;
	}
	rq->route = find_route(method, rq->raw_path, rq->serial, sizeof(rq->serial), &known, allow,
			       sizeof(allow));
	if (rq->route < 0) {
		if (known) {
			respond_error(rq, 405, "method_not_allowed", NULL, 0,
				      "%s is not allowed on %s (allowed: %s)", method, rq->raw_path,
				      allow);
			if (rq->resp)
				MHD_add_response_header(rq->resp, "Allow", allow);
		} else {
			respond_error(rq, 404, "not_found", NULL, 0, "no route %s %.100s", method,
				      rq->raw_path);
		}
		return 1;
	}
	if (rq->is_admin_listener && !routes[rq->route].admin && rq->route != RT_HEALTH &&
	    rq->route != RT_READY) {
		respond_error(rq, 404, "not_found", NULL, 0,
			      "the admin listener serves /metrics, /v1/health and /v1/ready");
		return 1;
	}
	if (!rq->is_admin_listener && routes[rq->route].admin &&
	    (srv->admin != NULL || !peer_is_loopback(rq->conn))) {
		respond_error(rq, 404, "not_found", NULL, 0,
			      "/metrics is served on the admin listener only");
		return 1;
	}
	/* over the limit: answer now, before reading the body or authenticating */
	cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Length");
	if (cl != NULL) {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(cl, &end, 10);
		if (errno != 0 || end == cl || n > srv->cfg->max_body) {
			respond_error(rq, 413, "too_large", NULL, 0,
				      "the body is %.20s bytes; at most %ld are accepted", cl,
				      srv->cfg->max_body);
			return 1;
		}
	}
	return 0;
}

/* Keep the body, up to limits.max_body; beyond it, only remember that. */
static int request_body(struct request *rq, const char *upload, size_t n)
{
	size_t max = (size_t)rq->srv->cfg->max_body;

	if (rq->too_large)
		return 0;
	if (rq->body_len + n > max) {
		rq->too_large = 1;
		free(rq->body);
		rq->body = NULL;
		rq->body_len = 0;
		return 0;
	}
	if (rq->body_len + n + 1 > rq->body_cap) {
		size_t cap = (rq->body_len + n + 1) * 2;
		char *nb;

		if (cap > max + 1)
			cap = max + 1;
		nb = realloc(rq->body, cap);
		if (nb == NULL)
			return -1;
		rq->body = nb;
		rq->body_cap = cap;
	}
	memcpy(rq->body + rq->body_len, upload, n);
	rq->body_len += n;
	rq->body[rq->body_len] = '\0';
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls, int is_admin)
{
	struct http_server *srv = cls;
	struct request *rq = *con_cls;

	(void)version;
	(void)url; /* decoded by libmicrohttpd: routing uses rq->raw_path */
	if (rq == NULL)
		return MHD_NO; /* on_uri could not allocate */
	if (!rq->started) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		rq->started = 1;
		snprintf(rq->log.method, sizeof(rq->log.method), "%s", method);
		atomic_fetch_add(&srv->in_flight, 1);
		rq->srv = srv;
		rq->t0 = mono_now();
		rq->is_admin_listener = is_admin;
		rq->ct = ci ? ci->socket_context : NULL;
		conntrack_headers_done(srv->ct, rq->ct);
		if (request_begin(rq, method)) {
			/* queued before the body: libmicrohttpd reads no body and closes */
			conntrack_handling(srv->ct, rq->ct);
			if (rq->resp)
				MHD_add_response_header(rq->resp, "Connection", "close");
			return finish(rq);
		}
		return MHD_YES;
	}
	if (*upload_size != 0) {
		if (request_body(rq, upload, *upload_size) != 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	conntrack_handling(srv->ct, rq->ct);
	if (rq->too_large) {
		respond_error(rq, 413, "too_large", NULL, 0,
			      "the body is larger than %ld bytes", srv->cfg->max_body);
		return finish(rq);
	}
	if (authenticate(rq) && query_ok(rq) == 0)
		handlers[rq->route](rq);
	return finish(rq);
}

static enum MHD_Result on_main(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	return on_request(cls, conn, url, method, version, upload, upload_size, con_cls, 0);
}

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	return on_request(cls, conn, url, method, version, upload, upload_size, con_cls, 1);
}

static const char *nonempty(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

/* The request's one log line (typed: numbers are numbers, absent is null).
 * Never a secret: no header, no body, only what the answer already said. */
static void log_request(struct request *rq, struct MHD_Connection *conn, const char *route,
			double seconds, int completed)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN] = "";
	const char *serial = nonempty(rq->log.serial) ? rq->log.serial :
			     rq->route >= 0 ? nonempty(rq->serial) : NULL;

	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
	}
	{
		struct nlog_field f[] = {
			NLOG_STR("method", rq->log.method),
			NLOG_STR("route", route),
			NLOG_INT("status", rq->status),
			NLOG_STR("error", nonempty(rq->log.error)),
			NLOG_STR("rule", nonempty(rq->log.rule)),
			NLOG_STR("serial", serial),
			NLOG_STR("device_id", nonempty(rq->log.device_id)),
			NLOG_STR("station", rq->authed && rq->who.role == ROLE_STATION ?
					    rq->who.name : NULL),
			NLOG_STR("caller", rq->authed ? rq->who.name : NULL),
			NLOG_STR("client", nonempty(addr)),
			NLOG_REAL("ms", seconds * 1000.0),
			NLOG_BOOL("completed", completed),
		};

		nlog_fields(rq->status >= 500 ? NLOG_WARN : NLOG_INFO, "request", f,
			    sizeof(f) / sizeof(f[0]));
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct request *rq = *con_cls;
	const char *route;
	const union MHD_ConnectionInfo *ci;
	char st[8];
	double el;

	if (rq == NULL)
		return;
	*con_cls = NULL;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	conntrack_answered(srv->ct, ci ? ci->socket_context : NULL);
	if (!rq->started) {
		/* libmicrohttpd answered or dropped it before the handler saw it */
		free(rq);
		return;
	}
	el = mono_now() - rq->t0;
	route = rq->route >= 0 ? routes[rq->route].name : "unknown";
	snprintf(st, sizeof(st), "%d", rq->status);
	metrics_inc(M_HTTP_REQUESTS, route, st);
	metrics_observe(M_REQUEST_SECONDS, route, el);
	if (rq->log.error[0] != '\0')
		metrics_inc(M_HTTP_ERRORS, route, rq->log.error);
	if (rq->route != RT_METRICS && rq->route != RT_HEALTH)
		log_request(rq, conn, route, el, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (rq->resp)
		MHD_destroy_response(rq->resp);
	free(rq->body);
	free(rq);
	atomic_fetch_sub(&srv->in_flight, 1);
	atomic_fetch_add(&srv->requests, 1);
}

static void on_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's messages.  A flood of refused connections must not
 * flood the log: at most LIB_LOG_PER_SECOND lines a second, the rest are
 * counted and the count logged with the next line that passes. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *h = cls;
	char buf[512];
	time_t now = time(NULL);
	long suppressed = 0;
	int pass;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	if (strstr(buf, "connection limit") != NULL)
		metrics_inc(M_HTTP_CLOSED, "connection_limit", NULL);
	pthread_mutex_lock(&h->log_mu);
	if (now != h->log_second) {
		h->log_second = now;
		h->log_count = 0;
	}
	pass = h->log_count++ < LIB_LOG_PER_SECOND;
	if (pass) {
		suppressed = h->log_suppressed;
		h->log_suppressed = 0;
	} else {
		h->log_suppressed++;
	}
	pthread_mutex_unlock(&h->log_mu);
	if (!pass)
		return;
	if (suppressed)
		nlog_num(NLOG_WARN, "http_server", "suppressed_before", suppressed, "detail", buf,
			 NULL);
	else
		nlog(NLOG_WARN, "http_server", "detail", buf, NULL);
}

/* Connections start and end: the receive deadline's bookkeeping. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *h = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		*socket_context = fd ? conntrack_open(h->ct, fd->connect_fd,
						      addr ? addr->client_addr : NULL)
				     : NULL;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		conntrack_close(h->ct, *socket_context);
		*socket_context = NULL;
	}
}

static char *read_small_file(const char *path, struct nrfca_err *err)
{
	char *buf = NULL;
	size_t len;

	if (nrfca_read_file(path, TLS_FILE_MAX, &buf, &len, err) != 0 && err != NULL)
		err->code = NRFCA_E_CONFIG;
	return buf;
}

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len,
		      int *loopback, struct nrfca_err *err)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		return 0;
	}
	return nrfca_err_set(err, NRFCA_E_CONFIG,
			     "listen address '%s' is not an IPv4 or IPv6 address", addr);
}

/* listen 0: no listening socket; connections come from http_add_connection. */
static struct MHD_Daemon *start_daemon(struct http_server *h, const char *addr, int port,
				       int listen, int use_tls, int ask_client_cert,
				       MHD_AccessHandlerCallback cb, struct nrfca_err *err)
{
	const struct nrfca_config *c = h->cfg;
	struct sockaddr_storage ss;
	socklen_t sl;
	/* poll(), not select(): select cannot watch a socket numbered 1024 or
	 * more (FD_SETSIZE), and limits.max_connections goes far above that */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	struct MHD_OptionItem o[16];
	struct MHD_Daemon *d;
	int loopback = 0, n = 0;

	if (parse_addr(addr, port, &ss, &sl, &loopback, err) != 0)
		return NULL;
	if (!use_tls && !loopback && !c->allow_plain_http) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "refusing plain HTTP on %s, which is not a loopback address: configure "
			      "tls.certificate and tls.key, or set listen.allow_plain_http", addr);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!listen)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	/* two-argument options pass the function as the value (MHD_OPTION_ARRAY) */
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_log, h };
	if (listen)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection,
					  h };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
					  (intptr_t)c->max_connections, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
					  (intptr_t)c->max_connections_per_ip, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
					  (intptr_t)c->request_timeout, NULL };
	if (use_tls) {
		flags |= MHD_USE_TLS;
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert };
		if (ask_client_cert)
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, h->tls_ca };
	}
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	d = MHD_start_daemon(flags, 0, NULL, NULL, cb, h, MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	if (d == NULL)
		nrfca_err_set(err, NRFCA_E_CONFIG, "cannot listen on %s port %d: %s", addr, port,
			      errno ? strerror(errno) : "libmicrohttpd refused the settings");
	return d;
}

static int start(const struct nrfca_config *cfg, struct ca *ca, struct signer *s,
		 struct ledger *l, int listen, struct http_server **out, struct nrfca_err *err)
{
	struct http_server *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	h->cfg = cfg;
	h->ca = ca;
	h->signer = s;
	h->ledger = l;
	pthread_mutex_init(&h->log_mu, NULL);
	if (conntrack_start(cfg->receive_timeout, &h->ct, err) != 0)
		goto fail;
	if (cfg->tls_cert && listen) {
		h->tls = 1;
		if ((h->tls_cert = read_small_file(cfg->tls_cert, err)) == NULL ||
		    (h->tls_key = read_small_file(cfg->tls_key, err)) == NULL)
			goto fail;
		if (cfg->tls_client_ca) {
			if ((h->tls_ca = read_small_file(cfg->tls_client_ca, err)) == NULL ||
			    clientcert_verifier_open(cfg->tls_client_ca, cfg->tls_client_crl,
						     &h->ccv, err) != 0)
				goto fail;
		}
	}
	h->d = start_daemon(h, listen ? cfg->listen_address : "127.0.0.1", cfg->listen_port, listen,
			    h->tls, h->ccv != NULL, on_main, err);
	if (h->d == NULL)
		goto fail;
	if (listen && (cfg->admin_address || cfg->admin_port)) {
		h->admin = start_daemon(h, cfg->admin_address ? cfg->admin_address : "127.0.0.1",
					cfg->admin_port, 1, h->tls && cfg->tls_admin, 0, on_admin, err);
		if (h->admin == NULL) {
			nrfca_err_prefix(err, "admin listener");
			goto fail;
		}
	}
	*out = h;
	return 0;
fail:
	http_stop(h, 0);
	return -1;
}

int http_start(const struct nrfca_config *cfg, struct ca *ca, struct signer *s,
	       struct ledger *l, struct http_server **out, struct nrfca_err *err)
{
	return start(cfg, ca, s, l, 1, out, err);
}

int http_start_unlistened(const struct nrfca_config *cfg, struct ca *ca, struct signer *s,
			  struct ledger *l, struct http_server **out, struct nrfca_err *err)
{
	return start(cfg, ca, s, l, 0, out, err);
}

int http_add_connection(struct http_server *h, int fd, const struct sockaddr *peer,
			socklen_t peer_len, struct nrfca_err *err)
{
	if (MHD_add_connection(h->d, fd, peer, peer_len) != MHD_YES)
		return nrfca_err_set(err, NRFCA_E_IO, "libmicrohttpd refused the connection: %s",
				     errno ? strerror(errno) : "no reason given");
	return 0;
}

static int daemon_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *i;

	if (d == NULL)
		return 0;
	i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

int http_port(const struct http_server *h)
{
	return daemon_port(h->d);
}

int http_admin_port(const struct http_server *h)
{
	return daemon_port(h->admin);
}

int http_reload(struct http_server *h, struct nrfca_err *err)
{
	if (h->ccv == NULL)
		return 0;
	return clientcert_verifier_reload(h->ccv, err);
}

void http_stop(struct http_server *h, int grace_seconds)
{
	int i;

	if (h == NULL)
		return;
	atomic_store(&h->stopping, 1);
	if (h->d)
		MHD_quiesce_daemon(h->d);
	for (i = 0; i < grace_seconds * 20 && atomic_load(&h->in_flight) > 0; i++)
		usleep(50000);
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->admin)
		MHD_stop_daemon(h->admin);
	conntrack_stop(h->ct);
	clientcert_verifier_free(h->ccv);
	pthread_mutex_destroy(&h->log_mu);
	free(h->tls_cert);
	if (h->tls_key) {
		OPENSSL_cleanse(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h->tls_ca);
	free(h);
}
