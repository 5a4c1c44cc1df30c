/* Speaker Leases as the controller reads them, and the addresses they say
 * are answered by hosts outside ironlb (see speakers.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/informer.h"
#include "ironlb/kube_resource.h"
#include "ironlb/kube_util.h"
#include "speakers.h"

/* Longer than any Lease a speaker renews, short enough that renewTime +
 * duration cannot overflow: a year. */
#define DURATION_MAX_S (366u * 24 * 3600)
#define PROBLEM_MAX 160

void speakers_lease_free(struct speakers_lease *l)
{
	if (!l)
		return;
	free(l->name);
	free(l->holder);
	free(l->problem);
	free(l->in_use);
	free(l);
}

/* Records the first problem only: one warning line names the Lease, and
 * later problems usually follow from the first. 0 or -ENOMEM. */
static int problem(struct speakers_lease *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int problem(struct speakers_lease *l, const char *fmt, ...)
{
	char buf[PROBLEM_MAX];
	va_list ap;

	if (l->problem)
		return 0;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	l->problem = strdup(buf);
	return l->problem ? 0 : -ENOMEM;
}

/* Reads "inUse" of the annotation text (a JSON object string). 0 or
 * -ENOMEM; everything else is a problem, not an error. */
static int decode_report(struct speakers_lease *l, const char *text)
{
	json_t *ann = json_loads(text, 0, NULL); /* new reference */
	json_t *in_use, *e;
	size_t i, n;
	int r = 0;

	if (!json_is_object(ann)) {
		json_decref(ann);
		return problem(l, "metadata.annotations[%s]: not a JSON object",
			       SPEAKERS_ANNOTATION);
	}
	in_use = json_object_get(ann, "inUse"); /* borrowed */
	if (!in_use || json_is_null(in_use))
		goto out;
	if (!json_is_array(in_use)) {
		r = problem(l, "metadata.annotations[%s].inUse: not an array", SPEAKERS_ANNOTATION);
		goto out;
	}
	n = json_array_size(in_use);
	if (n > SPEAKERS_IN_USE_MAX) {
		r = problem(l,
			    "metadata.annotations[%s].inUse: %zu entries, only the first %d read",
			    SPEAKERS_ANNOTATION, n, SPEAKERS_IN_USE_MAX);
		if (r < 0)
			goto out;
		n = SPEAKERS_IN_USE_MAX;
	}
	if (n > 0 && !(l->in_use = calloc(n, sizeof(*l->in_use)))) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach (in_use, i, e) {
		if (i == n)
			break;
		if (!json_is_string(e) ||
		    ip_parse(json_string_value(e), &l->in_use[l->nin_use], NULL) < 0) {
			r = problem(l, "metadata.annotations[%s].inUse[%zu]: not an IP address",
				    SPEAKERS_ANNOTATION, i);
			if (r < 0)
				goto out;
			continue;
		}
		l->nin_use++;
	}
	if (l->nin_use == 0) {
		free(l->in_use);
		l->in_use = NULL;
	}
out:
	json_decref(ann);
	return r;
}

/* renewTime + leaseDurationSeconds, or 0 (never fresh) with a problem. */
static int decode_expiry(struct speakers_lease *l, json_t *spec)
{
	json_t *renew = json_object_get(spec, "renewTime");	     /* borrowed */
	json_t *dur = json_object_get(spec, "leaseDurationSeconds"); /* borrowed */
	uint64_t renew_us, dur_s = SPEAKERS_DEFAULT_DURATION_S;

	if (!json_is_string(renew) || kube_time_parse(json_string_value(renew), &renew_us) < 0)
		return problem(l, "spec.renewTime: %s",
			       renew ? "not an RFC 3339 time" : "missing, the Lease never counts");
	if (dur && !json_is_null(dur)) {
		if (!json_is_integer(dur) || json_integer_value(dur) <= 0) {
			int r = problem(l,
					"spec.leaseDurationSeconds: not a positive integer, "
					"%d assumed",
					SPEAKERS_DEFAULT_DURATION_S);

			if (r < 0)
				return r;
		} else {
			dur_s = (uint64_t)json_integer_value(dur);
			if (dur_s > DURATION_MAX_S)
				dur_s = DURATION_MAX_S;
		}
	}
	l->expiry_wall_us = renew_us + dur_s * 1000000;
	return 0;
}

int speakers_lease_decode(json_t *obj, struct speakers_lease **ret, const char **ret_why)
{
	struct speakers_lease *l;
	struct kube_meta m;
	json_t *spec, *holder, *comp, *annv;
	int r;

	if (kube_meta_get(obj, true, false, &m, ret_why) < 0)
		return -EBADMSG;
	comp = json_object_get(m.labels, "app.kubernetes.io/component"); /* borrowed */
	if (!json_is_string(comp) || strcmp(json_string_value(comp), "speaker") != 0)
		return INFORMER_SKIP;
	spec = json_object_get(obj, "spec");		  /* borrowed */
	holder = json_object_get(spec, "holderIdentity"); /* borrowed */
	if (!json_is_string(holder) || !json_string_value(holder)[0])
		return INFORMER_SKIP; /* released, or never held */
	l = calloc(1, sizeof(*l));
	if (!l || !(l->name = strdup(m.name)) || !(l->holder = strdup(json_string_value(holder))))
		goto nomem;
	if (decode_expiry(l, spec) < 0)
		goto nomem;
	annv = json_object_get(m.annotations, SPEAKERS_ANNOTATION); /* borrowed */
	if (annv && !json_is_string(annv))
		r = problem(l, "metadata.annotations[%s]: not a string", SPEAKERS_ANNOTATION);
	else
		r = annv ? decode_report(l, json_string_value(annv)) : 0;
	if (r < 0)
		goto nomem;
	*ret = l;
	return 0;
nomem:
	speakers_lease_free(l);
	return -ENOMEM;
}

static int addr_cmp(const void *x, const void *y)
{
	const struct speakers_addr *a = x, *b = y;
	int c = ip_cmp(&a->addr, &b->addr);

	return c ? c : strcmp(a->holder, b->holder);
}

int speakers_in_use(const struct speakers_lease *const *leases, size_t n, uint64_t now_wall_us,
		    struct speakers_addr **ret, uint64_t *ret_next_expiry)
{
	struct speakers_addr *set = NULL;
	uint64_t next = 0;
	size_t total = 0, k = 0, w = 0;

	for (size_t i = 0; i < n; i++)
		if (leases[i]->expiry_wall_us > now_wall_us)
			total += leases[i]->nin_use;
	if (total > 0 && !(set = malloc(total * sizeof(*set))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct speakers_lease *l = leases[i];

		if (l->expiry_wall_us <= now_wall_us || l->nin_use == 0)
			continue;
		if (next == 0 || l->expiry_wall_us < next)
			next = l->expiry_wall_us;
		for (size_t j = 0; j < l->nin_use; j++)
			set[k++] = (struct speakers_addr){ l->in_use[j], l->holder };
	}
	/* By address, then holder: the first of each address names the
	 * lowest holder, whatever order the Leases came in. */
	if (k > 0)
		qsort(set, k, sizeof(*set), addr_cmp);
	for (size_t i = 0; i < k; i++)
		if (w == 0 || !ip_equal(&set[i].addr, &set[w - 1].addr))
			set[w++] = set[i];
	*ret = set;
	*ret_next_expiry = next;
	return (int)w;
}
