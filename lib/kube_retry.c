/* Read, modify, write with optimistic concurrency: the retry-on-conflict
 * helper (client-go's RetryOnConflict around Get+Update).
 *
 * The PUT carries the resourceVersion the object was read at, so the API
 * server refuses it with 409 Conflict when someone else wrote in between;
 * the helper then reads the object again and lets the caller re-apply its
 * change to the fresh copy. Attempts are bounded: two writers fighting
 * forever must surface as an error, not a busy loop.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube.h"

#define RETRY_DEFAULT_ATTEMPTS 5

struct kube_retry {
	struct kube_client *c;
	const struct kube_resource *res;
	char *ns;
	char *name;
	char *sub;
	unsigned max_attempts;
	unsigned puts;
	kube_mutate_fn mutate;
	kube_done_fn done;
	void *userdata;
	struct kube_request *req;
	bool in_mutate;
	bool cancelled;
};

static void retry_free(struct kube_retry *op)
{
	free(op->ns);
	free(op->name);
	free(op->sub);
	free(op);
}

/* Completes the operation with res (err overridden when err != 1). */
static void retry_finish(struct kube_retry *op, const struct kube_result *res, int err)
{
	struct kube_result r = *res;

	if (err != 1)
		r.err = err;
	r.attempts = op->puts;
	op->done(&r, op->userdata);
	retry_free(op);
}

static int retry_get(struct kube_retry *op);

static void on_put(const struct kube_result *res, void *userdata)
{
	struct kube_retry *op = userdata;
	int r;

	op->req = NULL;
	if (res->code == 409 && res->err == -ESTALE && op->puts < op->max_attempts) {
		r = retry_get(op);
		if (r == 0)
			return;
		retry_finish(op, res, r);
		return;
	}
	retry_finish(op, res, 1);
}

static void on_get(const struct kube_result *res, void *userdata)
{
	struct kube_retry *op = userdata;
	json_t *obj = res->body; /* borrowed from the request */
	int r;

	op->req = NULL;
	if (res->err < 0) {
		retry_finish(op, res, 1);
		return;
	}
	/* The body is ours to change until this callback returns; the PUT
	 * serialises it before that. */
	op->in_mutate = true;
	r = op->mutate(obj, op->userdata);
	op->in_mutate = false;
	if (op->cancelled) {
		retry_free(op);
		return;
	}
	if (r == KUBE_NO_CHANGE) {
		retry_finish(op, res, 0);
		return;
	}
	if (r < 0) {
		retry_finish(op, res, r);
		return;
	}
	op->puts++;
	r = kube_update(op->c, op->res, obj, op->sub, on_put, op, &op->req);
	if (r < 0)
		retry_finish(op, res, r);
}

static int retry_get(struct kube_retry *op)
{
	return kube_get(op->c, op->res, op->ns, op->name, on_get, op, &op->req);
}

int kube_update_retry(struct kube_client *c, const struct kube_resource *res, const char *ns,
		      const char *name, const char *subresource, unsigned max_attempts,
		      kube_mutate_fn mutate, kube_done_fn done, void *userdata,
		      struct kube_retry **ret_op)
{
	struct kube_retry *op;
	int r;

	if (!name || !name[0] || !mutate || !done)
		return -EINVAL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->c = c;
	op->res = res;
	op->ns = ns ? strdup(ns) : NULL;
	op->name = strdup(name);
	op->sub = subresource ? strdup(subresource) : NULL;
	op->max_attempts = max_attempts ? max_attempts : RETRY_DEFAULT_ATTEMPTS;
	op->mutate = mutate;
	op->done = done;
	op->userdata = userdata;
	if ((ns && !op->ns) || !op->name || (subresource && !op->sub)) {
		retry_free(op);
		return -ENOMEM;
	}
	r = retry_get(op);
	if (r < 0) {
		retry_free(op);
		return r;
	}
	if (ret_op)
		*ret_op = op;
	return 0;
}

void kube_retry_cancel(struct kube_retry *op)
{
	if (!op)
		return;
	if (op->in_mutate) {
		op->cancelled = true;
		return;
	}
	kube_request_cancel(op->req);
	retry_free(op);
}
