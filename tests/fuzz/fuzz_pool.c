/* libFuzzer target for IPAddressPool decoding and validation
 * (controller/pool.c), and for the allocator fed with whatever pool comes
 * out of it (controller/alloc.c).
 *
 * Each input is parsed as JSON; if it is an IPAddressPool object, every
 * accepted pool is checked against the invariants the allocator relies on:
 * parsed entries sorted and each one's text parsing back to it, every
 * problem a non-empty line, sizes never exceeding the entries, containment
 * agreeing with the entries and avoidBuggyIPs. The pool then joins a fixed
 * valid pool in an allocator that assigns a few Services (automatic, an
 * explicit address taken from the fuzzed pool, an externalIP), and
 * alloc_check() must hold throughout. Any violation abort()s so the fuzzer
 * keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../controller/alloc.h"
#include "../../controller/pool.h"
#include "../../controller/service.h"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pool: %s\n", what);
		abort();
	}
}

static void check_pool(const struct pool *p)
{
	ip_u128 size4 = 0, size6 = 0;
	char *msg;

	check(p->name && p->name[0], "pool without a name");
	for (size_t i = 0; i < p->nranges; i++) {
		const struct pool_range *r = &p->ranges[i];
		struct ip_range again;

		check(range_parse(r->text, &again, NULL) == 0, "entry text does not parse");
		check(memcmp(&again, &r->range, sizeof(again)) == 0, "entry text differs");
		if (i > 0)
			check(ip_cmp(&p->ranges[i - 1].range.first, &r->range.first) <= 0,
			      "entries not sorted");
		check(pool_contains(p, &r->range.first) ||
			      (p->avoid_buggy_ips && pool_ip_buggy(&r->range.first)),
		      "first address of an entry not contained");
		check(pool_contains(p, &r->range.last) ||
			      (p->avoid_buggy_ips && pool_ip_buggy(&r->range.last)),
		      "last address of an entry not contained");
		if (r->range.first.family == AF_INET)
			size4 += range_span(&r->range) + 1;
		else if (range_span(&r->range) < ~(ip_u128)0 && size6 != ~(ip_u128)0)
			size6 = size6 + range_span(&r->range) + 1 < size6
					? ~(ip_u128)0
					: size6 + range_span(&r->range) + 1;
		else
			size6 = ~(ip_u128)0;
	}
	check(p->size4 <= size4, "IPv4 size larger than the entries");
	check(p->size6 <= size6, "IPv6 size larger than the entries");
	for (size_t i = 0; i < p->nproblems; i++)
		check(p->problems[i] && p->problems[i][0], "empty problem line");
	check(pool_valid(p) == (p->nproblems == 0 && p->noverlaps == 0), "validity inconsistent");
	check(pool_condition_reason(p) != NULL, "no condition reason");
	msg = pool_condition_message(p);
	check(msg != NULL, "no condition message");
	check(pool_valid(p) == (msg[0] == '\0'), "message does not match validity");
	free(msg);
}

static struct service *service(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	struct service *s = NULL;

	check(v != NULL, "fixed service JSON");
	check(service_from_json(v, &s, NULL, 0) == 0, "fixed service rejected");
	json_decref(v);
	return s;
}

static void run_allocator(const json_t *obj)
{
	static const char base_pool[] =
		"{\"metadata\":{\"name\":\"base\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
		"\"spec\":{\"addresses\":[\"192.0.2.0/28\",\"2001:db8:ffff::/126\"],"
		"\"allowExternalIPs\":true}}";
	struct alloc *a = alloc_new(&(struct alloc_config){ "ironlb.io/lb", true });
	struct alloc_decision *d;
	struct pool *p = NULL, *base = NULL;
	char svc[1024], ipb[IP_STRLEN], err[512];
	const char *first = "192.0.2.1";
	json_t *bj = json_loads(base_pool, 0, NULL);
	json_t *st;

	check(a && bj, "setup");
	check(pool_from_json(bj, &base, NULL, 0) == 0, "base pool rejected");
	json_decref(bj);
	if (alloc_pool_set(a, base) < 0)
		goto out;
	if (pool_from_json(obj, &p, NULL, 0) < 0)
		goto out;
	if (p->nranges > 0)
		first = ip_format(&p->ranges[0].range.first, ipb, sizeof(ipb));
	if (alloc_pool_set(a, p) < 0)
		goto out;
	check(alloc_check(a, err, sizeof(err)) == 0, "allocator inconsistent after pool set");

	if (alloc_assign(a,
			 service("{\"metadata\":{\"namespace\":\"n\",\"name\":\"auto\"},"
				 "\"spec\":{\"type\":\"LoadBalancer\",\"ipFamilies\":[\"IPv4\","
				 "\"IPv6\"],\"ipFamilyPolicy\":\"PreferDualStack\"}}"),
			 &d) == 0)
		alloc_decision_free(d);
	snprintf(svc, sizeof(svc),
		 "{\"metadata\":{\"namespace\":\"n\",\"name\":\"req\"},\"spec\":{\"type\":"
		 "\"LoadBalancer\",\"loadBalancerIP\":\"%s\",\"ipFamilies\":[\"%s\"]}}",
		 first, strchr(first, ':') ? "IPv6" : "IPv4");
	if (alloc_assign(a, service(svc), &d) == 0)
		alloc_decision_free(d);
	snprintf(svc, sizeof(svc),
		 "{\"metadata\":{\"namespace\":\"n\",\"name\":\"ext\"},\"spec\":{\"type\":"
		 "\"ClusterIP\",\"externalIPs\":[\"%s\",\"192.0.2.9\"]}}",
		 first);
	if (alloc_assign(a, service(svc), &d) == 0)
		alloc_decision_free(d);
	while (alloc_next_dirty(a, &d) > 0)
		alloc_decision_free(d);
	check(alloc_check(a, err, sizeof(err)) == 0, "allocator inconsistent after assign");
	st = alloc_pool_status_json(a, "base");
	check(st != NULL, "no status for the base pool");
	json_decref(st);
	/* Taking the fuzzed pool away again leaves a consistent table. */
	if (alloc_pool_count(a) == 2) {
		const char *name = alloc_pool_at(a, 0)->name;

		if (strcmp(name, "base") == 0)
			name = alloc_pool_at(a, 1)->name;
		if (alloc_pool_delete(a, name) == 0) {
			while (alloc_next_dirty(a, &d) > 0)
				alloc_decision_free(d);
			check(alloc_check(a, err, sizeof(err)) == 0,
			      "allocator inconsistent after pool delete");
		}
	}
out:
	alloc_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	struct pool *p = NULL, *q = NULL;
	char err[POOL_ERR_MAX];
	int r;

	if (!obj)
		return 0;
	memset(err, 0, sizeof(err));
	r = pool_from_json(obj, &p, err, sizeof(err));
	if (r < 0) {
		check(r == -EINVAL || r == -ENOMEM, "unexpected error code");
		check(r == -ENOMEM || err[0] != '\0', "rejected without a reason");
		json_decref(obj);
		return 0;
	}
	check_pool(p);
	/* The same pool twice overlaps itself wherever it has addresses. */
	check(pool_from_json(obj, &q, NULL, 0) == 0, "second decode failed");
	{
		struct pool *both[2] = { p, q };

		if (pool_check_overlaps(both, 2) == 0 && p->nranges > 0)
			check(!pool_valid(p) || !pool_valid(q), "a pool does not overlap its copy");
		check_pool(p);
		check_pool(q);
	}
	pool_free(p);
	pool_free(q);
	run_allocator(obj);
	json_decref(obj);
	return 0;
}
