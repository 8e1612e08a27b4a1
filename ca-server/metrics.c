#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 14
static const double buckets[NBUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

struct series {
	char l1[72], l2[72];
	double value;                   /* counters: count; histograms: sum */
	unsigned long long count;
	unsigned long long bucket[NBUCKETS];
	struct series *next;
};

struct family {
	const char *name, *help;
	int histogram;
	const char *label1, *label2;
	struct series *head;
	int n;
};

static struct family families[M_MAX] = {
	[M_HTTP_REQUESTS] = { "nrfca_http_requests_total", "HTTP requests by route and status", 0,
			      "route", "status", NULL, 0 },
	[M_CERTS_ISSUED] = { "nrfca_certificates_issued_total",
			     "Certificates issued by profile and station", 0, "profile", "station",
			     NULL, 0 },
	[M_REJECTIONS] = { "nrfca_enroll_rejections_total", "Refused enrollments by rule and station",
			   0, "reason", "station", NULL, 0 },
	[M_REPLAYS] = { "nrfca_enroll_replays_total",
			"Enrollments answered with an already issued certificate", 0, "profile",
			NULL, NULL, 0 },
	[M_REVOCATIONS] = { "nrfca_revocations_total", "Certificates revoked by reason", 0,
			    "reason", NULL, NULL, 0 },
	[M_REQUEST_SECONDS] = { "nrfca_request_duration_seconds", "Request latency by route", 1,
				"route", NULL, NULL, 0 },
	[M_SIGN_SECONDS] = { "nrfca_sign_duration_seconds",
			     "Time to sign in the token (certificate or CRL)", 1, "what", NULL,
			     NULL, 0 },
	[M_HTTP_ERRORS] = { "nrfca_http_errors_total",
			    "Error answers by route and error code (e.g. database_unavailable)", 0,
			    "route", "error", NULL, 0 },
	[M_SUPERSEDES] = { "nrfca_certificates_superseded_total",
			   "Active certificates revoked as superseded by a new enrollment, by profile "
			   "and the station that enrolled", 0, "profile", "station", NULL, 0 },
	[M_HTTP_CLOSED] = { "nrfca_http_connections_closed_total",
			    "Connections the server closed or refused by its limits, by reason", 0,
			    "reason", NULL, NULL, 0 },
	[M_IDENTITY_VERDICTS] = { "nrfca_identity_verdicts_total",
				  "Verdicts of nRF Cloud's Identity Service about attestations "
				  "(genuine, forged, unknown_device, unavailable), from the service "
				  "or the cache", 0, "verdict", "source", NULL, 0 },
	[M_IDENTITY_SECONDS] = { "nrfca_identity_request_duration_seconds",
				 "Time to ask nRF Cloud's Identity Service", 1, "what", NULL, NULL,
				 0 },
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct series *find(struct family *f, const char *l1, const char *l2)
{
	struct series *s;

	if (l1 == NULL)
		l1 = "";
	if (l2 == NULL)
		l2 = "";
	for (s = f->head; s; s = s->next)
		if (strcmp(s->l1, l1) == 0 && strcmp(s->l2, l2) == 0)
			return s;
	if (f->n >= METRICS_SERIES_MAX) {
		if (strcmp(l1, "other") != 0 || strcmp(l2, "other") != 0)
			return find(f, "other", f->label2 ? "other" : "");
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	snprintf(s->l1, sizeof(s->l1), "%s", l1);
	snprintf(s->l2, sizeof(s->l2), "%s", l2);
	s->next = f->head;
	f->head = s;
	f->n++;
	return s;
}

void metrics_inc(enum metric m, const char *l1, const char *l2)
{
	struct series *s;

	if ((unsigned)m >= M_MAX)
		return;
	pthread_mutex_lock(&mu);
	s = find(&families[m], l1, l2);
	if (s)
		s->value += 1;
	pthread_mutex_unlock(&mu);
}

void metrics_observe(enum metric m, const char *l1, double seconds)
{
	struct series *s;
	int i;

	if ((unsigned)m >= M_MAX)
		return;
	pthread_mutex_lock(&mu);
	s = find(&families[m], l1, NULL);
	if (s) {
		s->value += seconds;
		s->count++;
		for (i = 0; i < NBUCKETS; i++)
			if (seconds <= buckets[i])
				s->bucket[i]++;
	}
	pthread_mutex_unlock(&mu);
}

static void put_label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		if (*v == '\n') {
			fputs("\\n", out);
			continue;
		}
		fputc(*v, out);
	}
}

static void labels(FILE *out, const struct family *f, const struct series *s, const char *le)
{
	fprintf(out, "{%s=\"", f->label1);
	put_label_value(out, s->l1);
	fputc('"', out);
	if (f->label2) {
		fprintf(out, ",%s=\"", f->label2);
		put_label_value(out, s->l2);
		fputc('"', out);
	}
	if (le)
		fprintf(out, ",le=\"%s\"", le);
	fputc('}', out);
}

void metrics_render(FILE *out)
{
	int m, i;

	pthread_mutex_lock(&mu);
	for (m = 0; m < M_MAX; m++) {
		struct family *f = &families[m];
		struct series *s;

		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
			f->histogram ? "histogram" : "counter");
		for (s = f->head; s; s = s->next) {
			if (!f->histogram) {
				fputs(f->name, out);
				labels(out, f, s, NULL);
				fprintf(out, " %.0f\n", s->value);
				continue;
			}
			for (i = 0; i < NBUCKETS; i++) {
				char le[32];

				snprintf(le, sizeof(le), "%g", buckets[i]);
				fprintf(out, "%s_bucket", f->name);
				labels(out, f, s, le);
				fprintf(out, " %llu\n", s->bucket[i]);
			}
			fprintf(out, "%s_bucket", f->name);
			labels(out, f, s, "+Inf");
			fprintf(out, " %llu\n%s_sum", s->count, f->name);
			labels(out, f, s, NULL);
			fprintf(out, " %.6f\n%s_count", s->value, f->name);
			labels(out, f, s, NULL);
			fprintf(out, " %llu\n", s->count);
		}
	}
	pthread_mutex_unlock(&mu);
}

void metrics_put(FILE *out, const char *name, const char *type, const char *help, double v)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, v);
}
