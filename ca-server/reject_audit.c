/*
 * reject_audit.c - refused enrollments aggregated per (station, rule) and
 * interval before they reach the audit log (reject_audit.h).
 */
#include "reject_audit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define PROFILES_KEPT 4
#define NAME_MAX_LEN 64
#define DETAIL_MAX 320

struct key {
	char station[NAME_MAX_LEN + 1];
	char rule[NAME_MAX_LEN + 1];
	time_t first, last;          /* of the counted refusals */
	time_t window_end;
	unsigned long long counted;  /* refusals after the first, in this window */
	char profiles[PROFILES_KEPT][NAME_MAX_LEN + 1];
	int n_profiles;
	char last_detail[DETAIL_MAX];
	int used;
};

/* A summary taken out of the table, written after the lock is released. */
struct pending {
	struct key k;
	int overflow;
};

struct reject_audit {
	struct ledger *ledger;
	unsigned interval;
	pthread_mutex_t mu;
	struct key *keys;
	size_t n;
	struct key overflow;         /* station "*", rule "*" */
};

struct reject_audit *reject_audit_new(struct ledger *l, unsigned interval_s)
{
	struct reject_audit *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->keys = calloc(REJECT_AUDIT_KEYS, sizeof(*r->keys));
	if (r->keys == NULL) {
		free(r);
		return NULL;
	}
	r->ledger = l;
	r->interval = interval_s ? interval_s : REJECT_AUDIT_INTERVAL;
	pthread_mutex_init(&r->mu, NULL);
	snprintf(r->overflow.station, sizeof(r->overflow.station), "*");
	snprintf(r->overflow.rule, sizeof(r->overflow.rule), "*");
	return r;
}

static void iso(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void write_summary(struct reject_audit *r, const struct pending *p)
{
	char first[32], last[32], *txt;
	json_t *d, *profs = json_array();
	int i;

	iso(p->k.first, first);
	iso(p->k.last, last);
	for (i = 0; profs != NULL && i < p->k.n_profiles; i++)
		json_array_append_new(profs, json_string(p->k.profiles[i]));
	d = json_pack("{s:s, s:s, s:I, s:s, s:s, s:i, s:o, s:s}", "station", p->k.station, "rule",
		      p->k.rule, "count", (json_int_t)p->k.counted, "first", first, "last", last,
		      "interval_s", (int)r->interval, "profiles", profs ? profs : json_array(),
		      "last_detail", p->k.last_detail);
	if (d != NULL && p->overflow)
		json_object_set_new(d, "keys_over_limit", json_integer((json_int_t)REJECT_AUDIT_KEYS));
	txt = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
	if (txt != NULL)
		ledger_audit(r->ledger, p->overflow ? "nrfca-server" : p->k.station, "reject_summary",
			     txt, NULL);
	free(txt);
	json_decref(d);
}

static void write_first(struct reject_audit *r, const char *station, const char *rule,
			const char *profile, const char *detail)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:i}", "rule", rule, "detail", detail, "profile",
			      profile ? profile : "", "aggregated_for_s", (int)r->interval);
	char *txt = d ? json_dumps(d, JSON_COMPACT) : NULL;

	if (txt != NULL)
		ledger_audit(r->ledger, station, "reject", txt, NULL);
	free(txt);
	json_decref(d);
}

static void count(struct key *k, time_t now, const char *profile, const char *detail)
{
	int i;

	if (k->counted++ == 0)
		k->first = now;
	k->last = now;
	snprintf(k->last_detail, sizeof(k->last_detail), "%s", detail);
	if (profile == NULL)
		return;
	for (i = 0; i < k->n_profiles; i++)
		if (strcmp(k->profiles[i], profile) == 0)
			return;
	if (k->n_profiles < PROFILES_KEPT)
		snprintf(k->profiles[k->n_profiles++], NAME_MAX_LEN + 1, "%s", profile);
}

void reject_audit_note(struct reject_audit *r, const char *station, const char *rule,
		       const char *profile, const char *detail)
{
	struct pending p;
	struct key *k = NULL, *free_slot = NULL;
	time_t now = time(NULL);
	int have_pending = 0, first = 0;
	size_t i;

	if (r == NULL)
		return;
	if (station == NULL)
		station = "";
	if (rule == NULL)
		rule = "";
	if (detail == NULL)
		detail = "";
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < REJECT_AUDIT_KEYS; i++) {
		if (!r->keys[i].used) {
			if (free_slot == NULL)
				free_slot = &r->keys[i];
			continue;
		}
		if (strncmp(r->keys[i].station, station, NAME_MAX_LEN) == 0 &&
		    strncmp(r->keys[i].rule, rule, NAME_MAX_LEN) == 0) {
			k = &r->keys[i];
			break;
		}
	}
	if (k != NULL && now >= k->window_end) {
		/* the window ended before the tick saw it: summary, then a new window */
		if (k->counted > 0) {
			p.k = *k;
			p.overflow = 0;
			have_pending = 1;
		}
		k->used = 0;
		r->n--;
		free_slot = k;
		k = NULL;
	}
	if (k != NULL) {
		count(k, now, profile, detail);
	} else if (free_slot != NULL) {
		memset(free_slot, 0, sizeof(*free_slot));
		snprintf(free_slot->station, sizeof(free_slot->station), "%s", station);
		snprintf(free_slot->rule, sizeof(free_slot->rule), "%s", rule);
		free_slot->window_end = now + (time_t)r->interval;
		free_slot->used = 1;
		r->n++;
		first = 1;
	} else {
		if (r->overflow.counted == 0)
			r->overflow.window_end = now + (time_t)r->interval;
		count(&r->overflow, now, profile, detail);
	}
	pthread_mutex_unlock(&r->mu);
	if (have_pending)
		write_summary(r, &p);
	if (first)
		write_first(r, station, rule, profile, detail);
}

/* Take the summaries due (all with `all`) out of the table, then write them. */
static void drain(struct reject_audit *r, int all)
{
	struct pending *ps;
	time_t now = time(NULL);
	size_t i, n = 0;

	ps = malloc((REJECT_AUDIT_KEYS + 1) * sizeof(*ps));
	if (ps == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < REJECT_AUDIT_KEYS; i++) {
		struct key *k = &r->keys[i];

		if (!k->used || (!all && now < k->window_end))
			continue;
		if (k->counted > 0) {
			ps[n].k = *k;
			ps[n++].overflow = 0;
		}
		k->used = 0;
		r->n--;
	}
	if (r->overflow.counted > 0 && (all || now >= r->overflow.window_end)) {
		ps[n].k = r->overflow;
		ps[n++].overflow = 1;
		r->overflow.counted = 0;
		r->overflow.n_profiles = 0;
	}
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < n; i++)
		write_summary(r, &ps[i]);
	free(ps);
}

void reject_audit_tick(struct reject_audit *r)
{
	if (r != NULL)
		drain(r, 0);
}

void reject_audit_free(struct reject_audit *r)
{
	if (r == NULL)
		return;
	drain(r, 1);
	pthread_mutex_destroy(&r->mu);
	free(r->keys);
	free(r);
}
