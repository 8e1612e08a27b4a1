/* caclient.c - the client to nrfca-server: JSON over httpc.h, answers decoded. */
#include "caclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"

struct nrfca_ca {
	char *url;
	char *auth;        /* "Authorization: Bearer <secret>" (wiped) */
	struct nrfca_http *http;
};

static const char *const outcome_names[NRFCA_CA_OUTCOME_MAX] = {
	[NRFCA_CA_OK] = "ok", [NRFCA_CA_REFUSED] = "refused",
	[NRFCA_CA_UNREACHABLE] = "unreachable", [NRFCA_CA_BAD_ANSWER] = "bad-answer",
};

const char *nrfca_ca_outcome_name(enum nrfca_ca_outcome o)
{
	return (unsigned)o < NRFCA_CA_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

long nrfca_ca_parse_retry_after(const char *v)
{
	return nrfca_http_parse_retry_after(v);
}

int nrfca_ca_token_check(const char *path, struct nrfca_err *e)
{
	char *auth = NULL;

	if (nrfca_http_read_bearer(path, "token file", 0, &auth, e) != 0)
		return -1;
	nrfca_http_secret_free(auth);
	return 0;
}

int nrfca_ca_create(const struct nrfca_ca_opts *o, struct nrfca_ca **out, struct nrfca_err *e)
{
	struct nrfca_http_opts ho = {
		.ca_bundle = o->ca_bundle, .client_cert = o->client_cert,
		.client_key = o->client_key, .connect_timeout_ms = o->connect_timeout_ms,
		.timeout_ms = o->timeout_ms, .attempts = o->attempts, .backoff_ms = o->backoff_ms,
		.max_wait_ms = o->max_wait_ms, .budget_ms = o->budget_ms, .notify = o->notify,
		.notify_ctx = o->notify_ctx,
	};
	struct nrfca_ca *ca;
	size_t ul;

	if (o->url == NULL || o->url[0] == '\0')
		return nrfca_err_set(e, NRFCA_E_CONFIG, "no CA server URL (--server or "
				     "server= in the station config)");
	if (strncmp(o->url, "https://", 8) != 0 && strncmp(o->url, "http://", 7) != 0)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "CA server URL '%.100s' must start with "
				     "https:// (or http:// for a server on this machine)", o->url);
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	ca->url = strdup(o->url);
	if (ca->url == NULL) {
		nrfca_ca_free(ca);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	ul = strlen(ca->url);
	while (ul > 0 && ca->url[ul - 1] == '/')
		ca->url[--ul] = '\0';
	if ((o->token_file != NULL &&
	     nrfca_http_read_bearer(o->token_file, "token file", 0, &ca->auth, e) != 0) ||
	    nrfca_http_create(&ho, &ca->http, e) != 0) {
		nrfca_ca_free(ca);
		return -1;
	}
	*out = ca;
	return 0;
}

void nrfca_ca_free(struct nrfca_ca *ca)
{
	if (ca == NULL)
		return;
	nrfca_http_secret_free(ca->auth);
	nrfca_http_free(ca->http);
	free(ca->url);
	free(ca);
}

void nrfca_ca_answer_clear(struct nrfca_ca_answer *a)
{
	json_decref(a->body);
	memset(a, 0, sizeof(*a));
	a->sec_tag = -1;
	a->error = a->detail = a->rule = "";
}

static const char *str_field(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One request (body NULL = GET) with retries, its answer decoded. */
static enum nrfca_ca_outcome request(struct nrfca_ca *ca, const char *path, const char *payload,
				     struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	struct nrfca_http_answer ha;
	struct nrfca_http_req rq = {
		.method = payload ? "POST" : "GET", .auth = ca->auth,
		.content_type = payload ? "application/json" : NULL,
		.accept = "application/json", .max_answer = NRFCA_CA_MAX_RESPONSE,
		.peer = "the CA",
	};
	enum nrfca_ca_outcome res;
	json_error_t je;
	char url[1024];
	long st;

	memset(&ha, 0, sizeof(ha));
	a->body = NULL;
	nrfca_ca_answer_clear(a);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", ca->url, path) >= sizeof(url)) {
		nrfca_err_set(e, NRFCA_E_CONFIG, "CA URL %.100s is too long", ca->url);
		return NRFCA_CA_UNREACHABLE;
	}
	rq.url = url;
	rq.body = payload;
	rq.body_len = payload ? strlen(payload) : 0;
	switch (nrfca_http_request(ca->http, &rq, &ha, e)) {
	case NRFCA_HTTP_ANSWERED:
		break;
	case NRFCA_HTTP_TOO_LARGE:
		res = NRFCA_CA_BAD_ANSWER;
		goto out;
	default:
		a->status = ha.status;
		a->attempts = ha.attempts;
		res = NRFCA_CA_UNREACHABLE;
		goto out;
	}
	st = a->status = ha.status;
	a->attempts = ha.attempts;
	a->body = ha.body != NULL ? json_loadb(ha.body, ha.len, 0, &je) : NULL;
	if (!json_is_object(a->body)) {
		nrfca_err_set(e, NRFCA_E_INPUT, "the CA answered HTTP %ld to %s without a "
			      "JSON object", st, path);
		res = NRFCA_CA_BAD_ANSWER;
		goto out;
	}
	if (st >= 200 && st < 300) {
		json_t *t = json_object_get(a->body, "sec_tag");

		a->serial = str_field(a->body, "serial");
		a->device_id = str_field(a->body, "device_id");
		a->profile = str_field(a->body, "profile");
		a->certificate = str_field(a->body, "certificate");
		a->chain = str_field(a->body, "chain");
		a->trust_bundle = str_field(a->body, "trust_bundle");
		a->not_before = str_field(a->body, "not_before");
		a->not_after = str_field(a->body, "not_after");
		a->sec_tag = json_is_integer(t) ? json_integer_value(t) : -1;
		res = NRFCA_CA_OK;
		goto out;
	}
	a->error = str_field(a->body, "error") ? str_field(a->body, "error") : "";
	a->detail = str_field(a->body, "detail") ? str_field(a->body, "detail") : "";
	a->rule = str_field(a->body, "rule") ? str_field(a->body, "rule") : "";
	a->credential = st == 401 || (st == 403 && strcmp(a->error, "forbidden") == 0);
	if (a->credential)
		nrfca_err_set(e, NRFCA_E_CONFIG, "the CA refused this station's credential "
			      "(HTTP %ld %.40s): %.200s; check the token file", st,
			      a->error[0] ? a->error : "error",
			      a->detail[0] ? a->detail : "no detail given");
	else
		nrfca_err_set(e, st == 403 || st == 409 ? NRFCA_E_POLICY : NRFCA_E_INPUT,
			      "CA refused (HTTP %ld %.40s): %.200s%s%.60s%s", st,
			      a->error[0] ? a->error : "error",
			      a->detail[0] ? a->detail : "no detail given",
			      a->rule[0] ? " [rule " : "", a->rule, a->rule[0] ? "]" : "");
	res = NRFCA_CA_REFUSED;
out:
	nrfca_http_answer_clear(&ha);
	return res;
}

enum nrfca_ca_outcome nrfca_ca_post(struct nrfca_ca *ca, const char *path, json_t *body,
				    struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	char *payload = json_dumps(body, JSON_COMPACT);
	enum nrfca_ca_outcome r;

	if (payload == NULL) {
		a->body = NULL;
		nrfca_ca_answer_clear(a);
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
		return NRFCA_CA_BAD_ANSWER;
	}
	r = request(ca, path, payload, a, e);
	free(payload);
	return r;
}

enum nrfca_ca_outcome nrfca_ca_get(struct nrfca_ca *ca, const char *path,
				   struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	return request(ca, path, NULL, a, e);
}

enum nrfca_ca_outcome nrfca_ca_enroll(struct nrfca_ca *ca, json_t *body,
				      struct nrfca_ca_answer *a, struct nrfca_err *e)
{
	enum nrfca_ca_outcome r = nrfca_ca_post(ca, "/v1/enroll", body, a, e);

	if (r != NRFCA_CA_OK)
		return r;
	if (a->serial == NULL || a->device_id == NULL || a->certificate == NULL ||
	    a->chain == NULL) {
		nrfca_err_set(e, NRFCA_E_INPUT, "the CA's enrollment answer (HTTP %ld) lacks "
			      "serial, device_id, certificate or chain", a->status);
		return NRFCA_CA_BAD_ANSWER;
	}
	return NRFCA_CA_OK;
}
