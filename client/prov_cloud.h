/*
 * prov_cloud.h - nRF Cloud right after provisioning (`nrfca provision
 * --onboard` and `nrfca line --onboard`).
 *
 * Before any modem is touched: the API key file is read (mode 0600), the
 * endpoint checked, and the key tried once (GET /v1/account): a refused key
 * stops the station before it provisions devices nRF Cloud will not take;
 * nRF Cloud being unreachable does not (the queue is there for that).
 *
 * After each device: its row (the certificate, or for a public-key profile
 * the attested public key) is added to the station's onboarding queue
 * (onboard.h) by nrfca_prov_cloud_done, the provisioning flow's completion
 * hook; then nrfca_prov_cloud_send drains the queue: everything waiting,
 * from this process or any other of the station, goes in one upload
 * (devices that finish close together are batched).  A cloud failure never
 * undoes the provisioning: the rows stay queued and the next drain (or
 * `nrfca onboard --queue FILE`) sends them.
 *
 * `nrfca line` provisions boards on several threads: the hook may be called
 * from any of them, and a sender thread (nrfca_prov_cloud_sender_start)
 * drains the queue whenever devices were queued; what finishes while it
 * talks to nRF Cloud goes in its next upload.
 *
 * Ownership: the handle owns its nRF Cloud handle, copies of the options'
 * strings and the sender thread.  The hook is thread-safe; send is called
 * by one thread at a time (the sender's, or the caller's without one).
 */
#ifndef NRFCA_CLIENT_PROV_CLOUD_H
#define NRFCA_CLIENT_PROV_CLOUD_H

#include <stdio.h>

#include "error.h"
#include "progress.h"
#include "provision.h"

struct nrfca_prov_cloud_opts {
	const char *api_key_file;   /* required */
	const char *endpoint;       /* NULL = the default API */
	const char *ca_bundle;      /* for nRF Cloud's TLS; NULL = system store */
	const char *queue;          /* the queue file (required) */
	const char *sub_type, *tags, *fw_types;   /* onboarding row fields (NULL = defaults) */
	unsigned long wait_ms;      /* follow one upload at most this long; 0 = 120000 */
	unsigned attempts;          /* per request; 0 = 4 */
};

struct nrfca_prov_cloud;

/* Preflight (see above).  Returns an exit status (exitcodes.h): 0, usage
 * (bad options or key file), local-io, or cloud-refused (the key was
 * refused); e says why.  *warning (may be NULL) gets a line to show when
 * nRF Cloud could not be asked now. */
int nrfca_prov_cloud_create(const struct nrfca_prov_cloud_opts *o,
			    struct nrfca_prov_cloud **out, char *warning, size_t cap,
			    struct nrfca_err *e);
void nrfca_prov_cloud_free(struct nrfca_prov_cloud *pc);

/* The provisioning flow's completion hook (nrfca_prov_opts.on_done): queue
 * the device.  Records its own failure (see nrfca_prov_cloud_send). */
void nrfca_prov_cloud_done(void *ctx, const struct nrfca_prov_result *r, const char *cert_pem,
			   const char *pubkey_pem);

/* Send what the queue holds; report to f what became of the devices this
 * handle queued.  Returns 0, or local-io when a device could not even be
 * queued (it is provisioned but not waiting for nRF Cloud: the message says
 * how to send it). */
int nrfca_prov_cloud_send(struct nrfca_prov_cloud *pc, struct nrfca_progress *progress,
			  FILE *f);

/* nrfca line: start the sender thread (reports to f, progress may be NULL);
 * stop makes it send what is left, joins it and returns the first non-zero
 * status of its sends (0 if none).  -1 with e if the thread cannot start. */
int nrfca_prov_cloud_sender_start(struct nrfca_prov_cloud *pc, struct nrfca_progress *progress,
				  FILE *f, struct nrfca_err *e);
int nrfca_prov_cloud_sender_stop(struct nrfca_prov_cloud *pc);

#endif
