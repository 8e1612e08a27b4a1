/* prov_cloud.c - queue each provisioned device for nRF Cloud and send the queue. */
#include "prov_cloud.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "nrfcloud.h"
#include "onboard.h"

#define MAX_OWN 64       /* devices one handle reports on (a line: one per slot and more) */

struct nrfca_prov_cloud {
	struct nrfcloud *cloud;
	char *queue, *sub_type, *tags, *fw_types;
	unsigned long wait_ms;
	/* under mu: devices queued by this handle, and the first failure to
	 * queue one (nrfca line's boards finish on their own threads) */
	pthread_mutex_t mu;
	char *own[MAX_OWN];
	unsigned long own_seq[MAX_OWN];   /* when each was queued (seq) */
	unsigned long seq;
	size_t n_own;
	int queue_failed;
	struct nrfca_err queue_err;
	char failed_id[NRFCLOUD_DEVICE_ID_MAX + 1];
	/* the sender thread (nrfca line): woken by every queued device */
	pthread_cond_t cv;
	pthread_t sender;
	int sender_on, stopping, sender_rc;
	struct nrfca_progress *progress;
	FILE *f;
};

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int nrfca_prov_cloud_create(const struct nrfca_prov_cloud_opts *o,
			    struct nrfca_prov_cloud **out, char *warning, size_t cap,
			    struct nrfca_err *e)
{
	struct nrfcloud_opts co = {
		.endpoint = o->endpoint, .api_key_file = o->api_key_file, .ca_bundle = o->ca_bundle,
		.attempts = o->attempts ? o->attempts : 4,
	};
	struct nrfca_prov_cloud *pc;
	enum nrfcloud_outcome oc;
	struct nrfca_err pe = { 0 };

	if (warning != NULL && cap > 0)
		warning[0] = '\0';
	if (o->queue == NULL)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "no onboarding queue file"), NRFCA_EXIT_USAGE;
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory"), NRFCA_EXIT_FAILURE;
	pthread_mutex_init(&pc->mu, NULL);
	pthread_cond_init(&pc->cv, NULL);
	pc->queue = strdup(o->queue);
	pc->sub_type = dup_or_null(o->sub_type);
	pc->tags = dup_or_null(o->tags);
	pc->fw_types = dup_or_null(o->fw_types);
	pc->wait_ms = o->wait_ms ? o->wait_ms : 120000;
	if (pc->queue == NULL || (o->sub_type && !pc->sub_type) || (o->tags && !pc->tags) ||
	    (o->fw_types && !pc->fw_types)) {
		nrfca_prov_cloud_free(pc);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory"), NRFCA_EXIT_FAILURE;
	}
	if (nrfcloud_create(&co, &pc->cloud, e) != 0) {
		nrfca_prov_cloud_free(pc);
		return e->code == NRFCA_E_IO ? NRFCA_EXIT_LOCAL_IO : NRFCA_EXIT_USAGE;
	}
	oc = nrfcloud_check_key(pc->cloud, &pe);
	if (oc == NRFCLOUD_AUTH) {
		*e = pe;
		nrfca_prov_cloud_free(pc);
		return NRFCA_EXIT_CLOUD_REFUSED;
	}
	if (oc != NRFCLOUD_OK && warning != NULL)
		snprintf(warning, cap, "nRF Cloud could not check the API key now (%s); devices "
			 "are provisioned and queued in %s until it answers", pe.msg, pc->queue);
	*out = pc;
	return 0;
}

void nrfca_prov_cloud_free(struct nrfca_prov_cloud *pc)
{
	size_t i;

	if (pc == NULL)
		return;
	if (pc->sender_on)
		nrfca_prov_cloud_sender_stop(pc);
	pthread_mutex_destroy(&pc->mu);
	pthread_cond_destroy(&pc->cv);
	nrfcloud_free(pc->cloud);
	for (i = 0; i < pc->n_own; i++)
		free(pc->own[i]);
	free(pc->queue);
	free(pc->sub_type);
	free(pc->tags);
	free(pc->fw_types);
	free(pc);
}

void nrfca_prov_cloud_done(void *ctx, const struct nrfca_prov_result *r, const char *cert_pem,
			   const char *pubkey_pem)
{
	struct nrfca_prov_cloud *pc = ctx;
	struct nrfca_err e = { 0 };
	char *row = NULL;
	int rc;

	if (cert_pem != NULL)
		rc = nrfca_ob_cert_row(r->device_id, pc->sub_type, pc->tags, pc->fw_types, cert_pem,
				       &row, &e);
	else if (pubkey_pem != NULL)
		rc = nrfca_ob_pubkey_row(r->device_id, pubkey_pem, &row, &e);
	else
		rc = nrfca_err_set(&e, NRFCA_E_INTERNAL, "neither a certificate nor a public key");
	if (rc == 0)
		rc = nrfca_ob_queue_add(pc->queue, row, &e);
	free(row);
	pthread_mutex_lock(&pc->mu);
	if (rc != 0) {
		if (!pc->queue_failed) {
			pc->queue_err = e;
			snprintf(pc->failed_id, sizeof(pc->failed_id), "%s", r->device_id);
		}
		pc->queue_failed = 1;
	} else if (pc->n_own < MAX_OWN && (pc->own[pc->n_own] = strdup(r->device_id)) != NULL) {
		pc->own_seq[pc->n_own++] = ++pc->seq;
	}
	pthread_cond_signal(&pc->cv);
	pthread_mutex_unlock(&pc->mu);
}

/* What became of device id in this drain: a row of the handled set, or NULL. */
static const struct nrfca_ob_row *find(const struct nrfca_ob_set *s, const char *id)
{
	size_t i;

	for (i = s->n; i-- > 0;)
		if (strcmp(s->rows[i].id, id) == 0)
			return &s->rows[i];
	return NULL;
}

int nrfca_prov_cloud_send(struct nrfca_prov_cloud *pc, struct nrfca_progress *progress,
			  FILE *f)
{
	struct nrfca_ob_opts oo = { pc->cloud, 1, progress, 0, pc->wait_ms, NULL };
	struct nrfca_ob_set handled = { 0 };
	struct nrfca_ob_summary sum;
	struct nrfca_err e = { 0 };
	char *own[MAX_OWN];
	unsigned long seq0;
	size_t i, n_own;
	int busy = 0, rc = NRFCA_EXIT_OK, failed;

	pthread_mutex_lock(&pc->mu);
	if (pc->queue_failed) {
		fprintf(f, "nRF Cloud: device %s is provisioned but NOT queued for nRF Cloud: %s; "
			"send its row with `nrfca onboard --csv`\n", pc->failed_id, pc->queue_err.msg);
		pc->queue_failed = 0;
		rc = NRFCA_EXIT_LOCAL_IO;
	}
	n_own = pc->n_own;
	seq0 = pc->seq;   /* queued up to here: in the file before the drain reads it */
	pthread_mutex_unlock(&pc->mu);
	if (n_own == 0)
		return rc;
	failed = nrfca_ob_queue_drain(pc->queue, &oo, &sum, &busy, &handled, &e) != 0;
	/* report the devices this drain handled, also those queued while it ran
	 * (it looks at the queue again before it lets go); one queued too late
	 * for it stays for the next drain */
	pthread_mutex_lock(&pc->mu);
	n_own = 0;
	{
		size_t keep = 0;

		for (i = 0; i < pc->n_own; i++) {
			if (!failed && !busy && pc->own_seq[i] > seq0 &&
			    find(&handled, pc->own[i]) == NULL) {
				pc->own[keep] = pc->own[i];
				pc->own_seq[keep++] = pc->own_seq[i];
			} else {
				own[n_own++] = pc->own[i];
			}
		}
		pc->n_own = keep;
	}
	pthread_mutex_unlock(&pc->mu);
	if (failed) {
		fprintf(f, "nRF Cloud: the queue %s could not be sent: %s; the devices stay "
			"queued\n", pc->queue, e.msg);
		nrfca_ob_set_clear(&handled);
		for (i = 0; i < n_own; i++)
			free(own[i]);
		return rc;
	}
	for (i = 0; i < n_own; i++) {
		const struct nrfca_ob_row *row = find(&handled, own[i]);

		if (busy || row == NULL)
			fprintf(f, "nRF Cloud: %s is queued in %s; another nrfca of this station is "
				"sending the queue now\n", own[i], pc->queue);
		else if (row->result == NRFCA_OB_OK)
			fprintf(f, "nRF Cloud: %s %s (bulk operation %s)\n", own[i],
				row->kind == NRFCLOUD_ONBOARD_DEVICES ? "onboarded" :
				"public key registered", row->request);
		else if (row->result == NRFCA_OB_EXISTS)
			fprintf(f, "nRF Cloud: %s was already onboarded\n", own[i]);
		else if (row->result == NRFCA_OB_ERROR)
			fprintf(f, "nRF Cloud: %s REFUSED: %s; its row is in %s.refused (fix, then "
				"`nrfca onboard --csv`)\n", own[i], row->message, pc->queue);
		else
			fprintf(f, "nRF Cloud: %s not onboarded yet (%s); it stays queued in %s: "
				"`nrfca onboard --queue %s --api-key-file ...` sends it later\n",
				own[i], row->message ? row->message : "no answer", pc->queue,
				pc->queue);
		free(own[i]);
	}
	if (sum.count[NRFCA_OB_OK] + sum.count[NRFCA_OB_EXISTS] > 0 && handled.n > 1)
		fprintf(f, "nRF Cloud: %zu devices of the queue sent together (%zu upload%s)\n",
			handled.n, sum.uploads, sum.uploads == 1 ? "" : "s");
	fflush(f);
	nrfca_ob_set_clear(&handled);
	return rc;
}

/* The sender: drains whenever devices were queued since its last drain
 * (those that finish while it talks to nRF Cloud go together next time),
 * and once more when stopped. */
static void *sender_main(void *arg)
{
	struct nrfca_prov_cloud *pc = arg;
	int stop, rc;

	for (;;) {
		pthread_mutex_lock(&pc->mu);
		while (pc->n_own == 0 && !pc->queue_failed && !pc->stopping)
			pthread_cond_wait(&pc->cv, &pc->mu);
		stop = pc->stopping;
		pthread_mutex_unlock(&pc->mu);
		rc = nrfca_prov_cloud_send(pc, pc->progress, pc->f);
		if (rc != 0 && pc->sender_rc == 0)
			pc->sender_rc = rc;
		if (stop)
			return NULL;
	}
}

int nrfca_prov_cloud_sender_start(struct nrfca_prov_cloud *pc, struct nrfca_progress *progress,
				  FILE *f, struct nrfca_err *e)
{
	pc->progress = progress;
	pc->f = f;
	pc->stopping = 0;
	pc->sender_rc = 0;
	if (pthread_create(&pc->sender, NULL, sender_main, pc) != 0)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "cannot start the nRF Cloud sender thread");
	pc->sender_on = 1;
	return 0;
}

int nrfca_prov_cloud_sender_stop(struct nrfca_prov_cloud *pc)
{
	if (!pc->sender_on)
		return NRFCA_EXIT_OK;
	pthread_mutex_lock(&pc->mu);
	pc->stopping = 1;
	pthread_cond_signal(&pc->cv);
	pthread_mutex_unlock(&pc->mu);
	pthread_join(pc->sender, NULL);
	pc->sender_on = 0;
	return pc->sender_rc;
}
