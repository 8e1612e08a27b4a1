/*
 * metrics.h - counters and histograms in Prometheus text format.
 * Thread-safe.  Label values are bounded by the caller (routes, statuses,
 * profile and station names, rule names); at most METRICS_SERIES_MAX series
 * per family are kept, later ones are counted under label value "other".
 */
#ifndef NRFCA_METRICS_H
#define NRFCA_METRICS_H

#include <stdio.h>

enum metric {
	M_HTTP_REQUESTS,      /* counter {route, status} */
	M_CERTS_ISSUED,       /* counter {profile, station} */
	M_REJECTIONS,         /* counter {reason, station} */
	M_REPLAYS,            /* counter {profile} */
	M_REVOCATIONS,        /* counter {reason} */
	M_REQUEST_SECONDS,    /* histogram {route} */
	M_SIGN_SECONDS,       /* histogram {what} */
	M_HTTP_ERRORS,        /* counter {route, error}: error answers by code */
	M_SUPERSEDES,         /* counter {profile, station}: certificates superseded by an enrollment */
	M_HTTP_CLOSED,        /* counter {reason}: connections closed by the server's limits */
	M_IDENTITY_VERDICTS,  /* counter {verdict, source}: nRF Cloud Identity Service verdicts */
	M_IDENTITY_SECONDS,   /* histogram {what}: time to ask the Identity Service */
	M_MAX
};

#define METRICS_SERIES_MAX 512

void metrics_inc(enum metric m, const char *l1, const char *l2);
void metrics_observe(enum metric m, const char *l1, double seconds);
/* Write every family in Prometheus text format. */
void metrics_render(FILE *out);
/* One family with one unlabelled sample, for values read at scrape time
 * (type "gauge" or "counter"). */
void metrics_put(FILE *out, const char *name, const char *type, const char *help, double v);

#endif
