/* libFuzzer target for speaker Lease decoding (controller/speakers.c) and
 * for the allocator fed with the addresses it yields (controller/alloc.c).
 *
 * An input that parses as a JSON object with "metadata" is decoded as a
 * Lease; any other input is used as the text of the ironlb.io/speaker
 * annotation of a fixed, fresh speaker Lease, so that the report parser
 * sees raw bytes. A decoded Lease must hold at most SPEAKERS_IN_USE_MAX
 * addresses that format and parse back to themselves; the set in use must
 * be sorted and distinct; the allocator, given it as the skipped set with
 * a small pool and a few Services, must keep alloc_check() and never hand
 * a skipped address out automatically. Any violation abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../controller/alloc.h"
#include "../../controller/speakers.h"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_speakers: %s\n", what);
		abort();
	}
}

/* A fresh speaker Lease whose annotation is text (len bytes). */
static json_t *lease_with_report(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1);
	json_t *o;

	if (!text)
		return NULL;
	memcpy(text, data, len);
	text[len] = '\0';
	o = json_pack("{s:{s:s, s:{s:s}, s:{s:s%}}, s:{s:s, s:i, s:s}}", "metadata", "name",
		      "speaker-n1", "labels", "app.kubernetes.io/component", "speaker",
		      "annotations", SPEAKERS_ANNOTATION, text, len, "spec", "holderIdentity", "n1",
		      "leaseDurationSeconds", 15, "renewTime", "2026-11-28T13:20:00Z");
	free(text);
	return o;
}

static void exercise_alloc(const struct speakers_addr *set, size_t n)
{
	struct alloc *a = alloc_new(NULL);
	struct ip_addr *addrs = calloc(n ? n : 1, sizeof(*addrs));
	json_t *pj = json_loads("{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":"
				"\"2024-01-01T00:00:00Z\"},\"spec\":{\"addresses\":"
				"[\"192.0.2.0/29\",\"2001:db8::/126\"]}}",
				0, NULL);
	struct pool *p = NULL;
	char err[256];

	if (!a || !addrs || !pj || pool_from_json(pj, &p, err, sizeof(err)) < 0 ||
	    alloc_pool_set(a, p) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		addrs[i] = set[i].addr;
	if (alloc_set_skipped(a, addrs, n) < 0)
		goto out;
	for (int i = 0; i < 6; i++) {
		char buf[512];
		struct service *s = NULL;
		struct alloc_decision *d = NULL;
		const struct ip_addr *sk;
		size_t nsk = alloc_skipped(a, &sk);
		json_t *sj;

		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"namespace\":\"d\",\"name\":\"s%d\",\"uid\":\"u%d\","
			 "\"creationTimestamp\":\"2024-02-01T00:00:0%dZ\"},\"spec\":{\"type\":"
			 "\"LoadBalancer\",\"ipFamilies\":[\"%s\"],\"ports\":[{\"port\":80}]}}",
			 i, i, i, i % 2 ? "IPv6" : "IPv4");
		sj = json_loads(buf, 0, NULL);
		if (!sj || service_from_json(sj, &s, err, sizeof(err)) < 0) {
			json_decref(sj);
			break;
		}
		json_decref(sj);
		if (alloc_assign(a, s, &d) < 0)
			break;
		for (size_t k = 0; k < d->naddrs; k++)
			for (size_t j = 0; j < nsk; j++)
				check(!ip_equal(&d->addrs[k].addr, &sk[j]),
				      "a skipped address handed out automatically");
		alloc_decision_free(d);
		check(alloc_check(a, err, sizeof(err)) == 0, err);
	}
	json_decref(alloc_pool_status_json(a, "p"));
out:
	json_decref(pj);
	free(addrs);
	alloc_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	json_t *in = json_loadb((const char *)data, len, 0, NULL);
	json_t *lease =
		json_object_get(in, "metadata") ? json_incref(in) : lease_with_report(data, len);
	struct speakers_lease *l = NULL;
	struct speakers_addr *set = NULL;
	const char *why = NULL;
	uint64_t next;
	int n;

	json_decref(in);
	if (!lease)
		return 0;
	if (speakers_lease_decode(lease, &l, &why) != 0) {
		json_decref(lease);
		return 0;
	}
	json_decref(lease);
	check(l->nin_use <= SPEAKERS_IN_USE_MAX, "more than SPEAKERS_IN_USE_MAX addresses");
	check(!l->problem || l->problem[0], "an empty problem");
	for (size_t i = 0; i < l->nin_use; i++) {
		char buf[IP_STRLEN];
		struct ip_addr back;

		check(ip_parse(ip_format(&l->in_use[i], buf, sizeof(buf)), &back, NULL) == 0 &&
			      ip_equal(&back, &l->in_use[i]),
		      "an address that does not format back");
	}
	n = speakers_in_use((const struct speakers_lease *const *)&l, 1,
			    l->expiry_wall_us ? l->expiry_wall_us - 1 : 0, &set, &next);
	if (n >= 0) {
		check((size_t)n <= l->nin_use, "more addresses in use than reported");
		for (int i = 1; i < n; i++)
			check(ip_cmp(&set[i - 1].addr, &set[i].addr) < 0,
			      "set not sorted, distinct");
		exercise_alloc(set, (size_t)n);
		free(set);
	}
	speakers_lease_free(l);
	return 0;
}
