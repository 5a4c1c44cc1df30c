/* IPAddressPool decoding and validation (see pool.h).
 *
 * Parsing never stops at the first problem: an operator fixing a pool wants
 * the whole list at once. Every entry that parses is kept even when others
 * do not, because the allocator lets Services keep addresses inside the
 * parsed entries of an invalid pool.
 */
#include "pool.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/parse.h"
#include "service.h"

#define NAME_MAX_LEN 253
/* Longest entry text quoted in a message. */
#define QUOTE_MAX 128

/* Hidden bookkeeping kept next to the public struct. */
struct pool_priv {
	struct pool pub;
	size_t problems_dropped;
	size_t overlaps_dropped;
	bool bad_entries;  /* an address entry failed to parse */
	bool self_overlap; /* two entries of this pool overlap */
	bool oom;	   /* a problem could not be recorded */
	/* With self_overlap: the entries merged into disjoint ranges, so that
	 * containment stays a binary search. */
	size_t nmerged;
	struct ip_range *merged;
};

static struct pool_priv *priv(const struct pool *p)
{
	return (struct pool_priv *)(void *)p;
}

/* Appends a formatted line to a capped list. */
static void list_add(char ***list, size_t *n, size_t *dropped, bool *oom, const char *fmt,
		     va_list ap)
{
	char *line, **v;

	if (*n >= POOL_MAX_PROBLEMS) {
		(*dropped)++;
		return;
	}
	if (vasprintf(&line, fmt, ap) < 0) {
		*oom = true;
		return;
	}
	v = realloc(*list, (*n + 1) * sizeof(*v));
	if (!v) {
		free(line);
		*oom = true;
		return;
	}
	v[(*n)++] = line;
	*list = v;
}

static void problem(struct pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct pool *p, const char *fmt, ...)
{
	struct pool_priv *pp = priv(p);
	va_list ap;

	va_start(ap, fmt);
	list_add(&p->problems, &p->nproblems, &pp->problems_dropped, &pp->oom, fmt, ap);
	va_end(ap);
}

static void overlap(struct pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void overlap(struct pool *p, const char *fmt, ...)
{
	struct pool_priv *pp = priv(p);
	va_list ap;

	va_start(ap, fmt);
	list_add(&p->overlaps, &p->noverlaps, &pp->overlaps_dropped, &pp->oom, fmt, ap);
	va_end(ap);
}

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	free(p->name);
	for (size_t i = 0; i < p->nranges; i++)
		free(p->ranges[i].text);
	free(p->ranges);
	list_free(p->namespaces, p->nnamespaces);
	for (size_t i = 0; i < p->nns_selectors; i++)
		selector_free(p->ns_selectors[i]);
	free(p->ns_selectors);
	for (size_t i = 0; i < p->nsvc_selectors; i++)
		selector_free(p->svc_selectors[i]);
	free(p->svc_selectors);
	list_free(p->problems, p->nproblems);
	list_free(p->overlaps, p->noverlaps);
	free(priv(p)->merged);
	free(priv(p));
}

static json_t *member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key); /* borrowed */

	return json_is_null(v) ? NULL : v;
}

bool pool_ip_buggy(const struct ip_addr *a)
{
	return a->family == AF_INET && (a->bytes[3] == 0 || a->bytes[3] == 255);
}

static ip_u128 sat_add(ip_u128 a, ip_u128 b)
{
	return a + b < a ? ~(ip_u128)0 : a + b;
}

/* Number of x in [0, n] with x % 256 == r. */
static ip_u128 count_mod256(ip_u128 n, unsigned r)
{
	return n / 256 + ((unsigned)(n % 256) >= r ? 1 : 0);
}

/* Addresses of r a Service could get from a pool with avoidBuggyIPs = avoid. */
static ip_u128 range_usable(const struct ip_range *r, bool avoid)
{
	ip_u128 a = ip_to_u128(&r->first), b = ip_to_u128(&r->last);
	ip_u128 n = sat_add(b - a, 1);

	if (avoid && r->first.family == AF_INET) {
		for (unsigned rem = 0; rem <= 255; rem += 255)
			n -= count_mod256(b, rem) - (a > 0 ? count_mod256(a - 1, rem) : 0);
	}
	return n;
}

static int range_ref_cmp(const void *x, const void *y)
{
	const struct pool_range *a = x, *b = y;
	int c = ip_cmp(&a->range.first, &b->range.first);

	if (c)
		return c;
	c = ip_cmp(&a->range.last, &b->range.last);
	if (c)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* Sorts the parsed entries and reports those that overlap one another;
 * each overlapping entry is reported once, against the entry before it
 * that reaches furthest. */
static void check_self_overlaps(struct pool *p)
{
	size_t reach = 0; /* index of the earlier range with the greatest last */

	qsort(p->ranges, p->nranges, sizeof(p->ranges[0]), range_ref_cmp);
	for (size_t i = 1; i < p->nranges; i++) {
		struct pool_range *prev = &p->ranges[reach], *cur = &p->ranges[i];

		if (range_overlaps(&prev->range, &cur->range)) {
			const struct pool_range *later = prev->index > cur->index ? prev : cur;
			const struct pool_range *earlier = later == prev ? cur : prev;

			priv(p)->self_overlap = true;
			problem(p,
				"spec.addresses[%u]: \"%.*s\" overlaps spec.addresses[%u] \"%.*s\"",
				later->index, QUOTE_MAX, later->text, earlier->index, QUOTE_MAX,
				earlier->text);
		}
		if (prev->range.first.family != cur->range.first.family ||
		    ip_cmp(&cur->range.last, &prev->range.last) > 0)
			reach = i;
	}
}

static int parse_addresses(struct pool *p, const json_t *spec)
{
	json_t *addrs = member(spec, "addresses");
	size_t n;

	if (!addrs) {
		p->unparsed = true;
		problem(p, "spec.addresses: missing");
		return 0;
	}
	if (!json_is_array(addrs)) {
		p->unparsed = true;
		problem(p, "spec.addresses: not an array");
		return 0;
	}
	n = json_array_size(addrs);
	if (n == 0) {
		p->empty = true;
		problem(p, "spec.addresses: empty");
		return 0;
	}
	if (n > POOL_MAX_ENTRIES) {
		p->unparsed = true;
		priv(p)->bad_entries = true;
		problem(p, "spec.addresses: more than %d entries; the rest is ignored",
			POOL_MAX_ENTRIES);
		n = POOL_MAX_ENTRIES;
	}
	p->ranges = calloc(n, sizeof(p->ranges[0]));
	if (!p->ranges)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(addrs, i); /* borrowed */
		struct pool_range *r = &p->ranges[p->nranges];
		const char *why = NULL;

		if (!json_is_string(e)) {
			p->unparsed = true;
			priv(p)->bad_entries = true;
			problem(p, "spec.addresses[%zu]: not a string", i);
			continue;
		}
		if (range_parse(json_string_value(e), &r->range, &why) < 0) {
			p->unparsed = true;
			priv(p)->bad_entries = true;
			problem(p, "spec.addresses[%zu]: \"%.*s\": %s", i, QUOTE_MAX,
				json_string_value(e), why);
			continue;
		}
		r->index = (uint32_t)i;
		r->text = strdup(json_string_value(e));
		if (!r->text)
			return -ENOMEM;
		p->nranges++;
	}
	check_self_overlaps(p);
	if (priv(p)->self_overlap) {
		struct pool_priv *pp = priv(p);

		pp->merged = malloc(p->nranges * sizeof(pp->merged[0]));
		if (!pp->merged)
			return -ENOMEM;
		for (size_t i = 0; i < p->nranges; i++) {
			const struct ip_range *r = &p->ranges[i].range;

			if (pp->nmerged > 0 && range_overlaps(&pp->merged[pp->nmerged - 1], r)) {
				if (ip_cmp(&r->last, &pp->merged[pp->nmerged - 1].last) > 0)
					pp->merged[pp->nmerged - 1].last = r->last;
				continue;
			}
			pp->merged[pp->nmerged++] = *r;
		}
	}
	return 0;
}

/* Sizes depend on avoidBuggyIPs, which is parsed after the entries. */
static void compute_sizes(struct pool *p)
{
	p->size4 = p->size6 = 0;
	for (size_t i = 0; i < p->nranges; i++) {
		const struct ip_range *r = &p->ranges[i].range;

		if (r->first.family == AF_INET)
			p->size4 = sat_add(p->size4, range_usable(r, p->avoid_buggy_ips));
		else
			p->size6 = sat_add(p->size6, range_usable(r, false));
	}
}

static void parse_flag(struct pool *p, const json_t *o, const char *key, const char *path,
		       bool *ret)
{
	json_t *v = member(o, key);

	if (!v)
		return;
	if (!json_is_boolean(v)) {
		problem(p, "%s: not a boolean", path);
		return;
	}
	*ret = json_is_true(v);
}

static int parse_selectors(struct pool *p, const json_t *sa, const char *key,
			   struct selector ***ret, size_t *ret_n)
{
	json_t *arr = member(sa, key);
	size_t n;

	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		problem(p, "spec.serviceAllocation.%s: not an array", key);
		return 0;
	}
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	*ret = calloc(n, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char path[96], err[SELECTOR_ERR_MAX];
		struct selector *s;
		int r;

		snprintf(path, sizeof(path), "spec.serviceAllocation.%s[%zu]", key, i);
		r = selector_parse(json_array_get(arr, i), path, &s, err, sizeof(err));
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			problem(p, "%s", err);
			continue;
		}
		(*ret)[(*ret_n)++] = s;
	}
	return 0;
}

static int parse_allocation(struct pool *p, const json_t *spec)
{
	json_t *sa = member(spec, "serviceAllocation"), *prio, *nss;
	int r;

	if (!sa)
		return 0;
	if (!json_is_object(sa)) {
		problem(p, "spec.serviceAllocation: not an object");
		return 0;
	}
	prio = member(sa, "priority");
	if (prio) {
		if (!json_is_integer(prio)) {
			problem(p, "spec.serviceAllocation.priority: not an integer");
		} else {
			p->has_priority = true;
			p->priority = json_integer_value(prio);
		}
	}
	nss = member(sa, "namespaces");
	if (nss && !json_is_array(nss)) {
		problem(p, "spec.serviceAllocation.namespaces: not an array");
	} else if (nss && json_array_size(nss) > 0) {
		size_t n = json_array_size(nss);

		p->namespaces = calloc(n, sizeof(char *));
		if (!p->namespaces)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			json_t *v = json_array_get(nss, i); /* borrowed */

			if (!json_is_string(v)) {
				problem(p, "spec.serviceAllocation.namespaces[%zu]: not a string",
					i);
				continue;
			}
			if (!dns1123_label_valid(json_string_value(v))) {
				problem(p,
					"spec.serviceAllocation.namespaces[%zu]: \"%.*s\" is not a "
					"valid namespace name",
					i, QUOTE_MAX, json_string_value(v));
				continue;
			}
			p->namespaces[p->nnamespaces] = strdup(json_string_value(v));
			if (!p->namespaces[p->nnamespaces])
				return -ENOMEM;
			p->nnamespaces++;
		}
	}
	r = parse_selectors(p, sa, "namespaceSelectors", &p->ns_selectors, &p->nns_selectors);
	if (r == 0)
		r = parse_selectors(p, sa, "serviceSelectors", &p->svc_selectors,
				    &p->nsvc_selectors);
	return r;
}

static int parse_meta(struct pool *p, const json_t *meta, char *err, size_t errlen)
{
	json_t *name = member(meta, "name"), *ts = member(meta, "creationTimestamp");
	json_t *gen = member(meta, "generation");

	if (!json_is_string(name) || json_string_length(name) == 0) {
		snprintf(err, errlen, "metadata.name: %s", name ? "not a string" : "missing");
		return -EINVAL;
	}
	if (json_string_length(name) > NAME_MAX_LEN ||
	    strlen(json_string_value(name)) != json_string_length(name)) {
		snprintf(err, errlen, "metadata.name: not a valid name");
		return -EINVAL;
	}
	p->name = strdup(json_string_value(name));
	if (!p->name)
		return -ENOMEM;
	p->created = SERVICE_TIME_UNKNOWN;
	if (ts &&
	    (!json_is_string(ts) || service_parse_time(json_string_value(ts), &p->created) < 0))
		problem(p, "metadata.creationTimestamp: not an RFC 3339 time");
	if (gen && json_is_integer(gen))
		p->generation = json_integer_value(gen);
	return 0;
}

int pool_from_json(const json_t *obj, struct pool **ret, char *err, size_t errlen)
{
	char dummy[1];
	struct pool_priv *pp;
	struct pool *p;
	json_t *meta, *spec;
	int r;

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "not an object");
		return -EINVAL;
	}
	meta = member(obj, "metadata");
	if (!json_is_object(meta)) {
		snprintf(err, errlen, "metadata: %s", meta ? "not an object" : "missing");
		return -EINVAL;
	}
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	p = &pp->pub;
	p->auto_assign = true;
	r = parse_meta(p, meta, err, errlen);
	if (r < 0)
		goto fail;
	spec = member(obj, "spec");
	if (!spec) {
		p->unparsed = true;
		problem(p, "spec: missing");
	} else if (!json_is_object(spec)) {
		p->unparsed = true;
		problem(p, "spec: not an object");
	} else {
		r = parse_addresses(p, spec);
		if (r == 0) {
			parse_flag(p, spec, "autoAssign", "spec.autoAssign", &p->auto_assign);
			parse_flag(p, spec, "avoidBuggyIPs", "spec.avoidBuggyIPs",
				   &p->avoid_buggy_ips);
			parse_flag(p, spec, "allowExternalIPs", "spec.allowExternalIPs",
				   &p->allow_external_ips);
			r = parse_allocation(p, spec);
		}
		if (r < 0)
			goto fail;
		compute_sizes(p);
	}
	if (pp->oom) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = p;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	pool_free(p);
	return r;
}

bool pool_valid(const struct pool *p)
{
	/* A pool whose overlap check ran out of memory is not trusted. */
	return p->nproblems == 0 && p->noverlaps == 0 && priv(p)->problems_dropped == 0 &&
	       priv(p)->overlaps_dropped == 0 && !priv(p)->oom;
}

_Static_assert(offsetof(struct pool_range, range) == 0,
	       "sorted_contains reads pool_range as ip_range");

/* Binary search in n disjoint ranges sorted by address, read at stride
 * bytes apart (struct pool_range or struct ip_range). */
static bool sorted_contains(const void *base, size_t n, size_t stride, const struct ip_addr *a)
{
	size_t lo = 0, hi = n;

	/* Only the last range starting at or before a can hold it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ip_range *r = (const void *)((const char *)base + mid * stride);

		if (ip_cmp(&r->first, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && range_contains((const void *)((const char *)base + (lo - 1) * stride), a);
}

bool pool_contains(const struct pool *p, const struct ip_addr *a)
{
	const struct pool_priv *pp = priv(p);

	if (p->avoid_buggy_ips && pool_ip_buggy(a))
		return false;
	if (pp->self_overlap)
		return sorted_contains(pp->merged, pp->nmerged, sizeof(pp->merged[0]), a);
	return sorted_contains(p->ranges, p->nranges, sizeof(p->ranges[0]), a);
}

bool pool_has_family(const struct pool *p, int family)
{
	return pool_size(p, family) > 0;
}

ip_u128 pool_size(const struct pool *p, int family)
{
	return family == AF_INET ? p->size4 : family == AF_INET6 ? p->size6 : 0;
}

bool pool_serves(const struct pool *p, const char *ns, const struct labels *ns_labels,
		 const struct labels *svc_labels)
{
	if (p->nnamespaces > 0 || p->nns_selectors > 0) {
		bool ok = false;

		for (size_t i = 0; i < p->nnamespaces && !ok; i++)
			ok = strcmp(p->namespaces[i], ns) == 0;
		for (size_t i = 0; i < p->nns_selectors && !ok; i++)
			ok = selector_matches(p->ns_selectors[i], ns_labels);
		if (!ok)
			return false;
	}
	if (p->nsvc_selectors > 0) {
		for (size_t i = 0; i < p->nsvc_selectors; i++)
			if (selector_matches(p->svc_selectors[i], svc_labels))
				return true;
		return false;
	}
	return true;
}

int pool_cmp_age(const struct pool *a, const struct pool *b)
{
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return strcmp(a->name, b->name);
}

int pool_cmp_priority(const struct pool *a, const struct pool *b)
{
	if (a->has_priority != b->has_priority)
		return a->has_priority ? -1 : 1;
	if (a->has_priority && a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* One pool's entries merged where they overlap one another (only an
 * invalid pool has such), named by the entry that starts the group. */
struct range_ref {
	struct pool *pool;
	const struct pool_range *rep;
	struct ip_range r;
};

static int range_ref_sort(const void *x, const void *y)
{
	const struct range_ref *a = x, *b = y;
	int c = ip_cmp(&a->r.first, &b->r.first);

	if (c)
		return c;
	c = pool_cmp_age(a->pool, b->pool);
	if (c)
		return c;
	return a->rep->index < b->rep->index ? -1 : a->rep->index > b->rep->index;
}

/* Appends pool p's merged entries to refs; returns how many. p->ranges is
 * sorted by first address. */
static size_t merge_entries(struct pool *p, struct range_ref *refs)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nranges; i++) {
		const struct pool_range *e = &p->ranges[i];

		if (n > 0 && range_overlaps(&refs[n - 1].r, &e->range)) {
			if (ip_cmp(&e->range.last, &refs[n - 1].r.last) > 0)
				refs[n - 1].r.last = e->range.last;
			continue;
		}
		refs[n++] = (struct range_ref){ p, e, e->range };
	}
	return n;
}

int pool_check_overlaps(struct pool **pools, size_t n)
{
	struct range_ref *refs;
	size_t total = 0, k = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		list_free(pools[i]->overlaps, pools[i]->noverlaps);
		pools[i]->overlaps = NULL;
		pools[i]->noverlaps = 0;
		priv(pools[i])->overlaps_dropped = 0;
		priv(pools[i])->oom = false;
		total += pools[i]->nranges;
	}
	if (total == 0)
		return 0;
	refs = malloc(total * sizeof(*refs));
	if (!refs) {
		for (size_t i = 0; i < n; i++)
			priv(pools[i])->oom = true;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		k += merge_entries(pools[i], refs + k);
	qsort(refs, k, sizeof(*refs), range_ref_sort);
	/* Every overlapping pair (i < j in this order) has first_j <= last_i,
	 * so the inner loop visits exactly the overlapping pairs. Entries of
	 * one pool are disjoint after merging, so there are at most
	 * O(pools x entries) such pairs whatever the input. */
	for (size_t i = 0; i < k; i++) {
		for (size_t j = i + 1; j < k && range_overlaps(&refs[i].r, &refs[j].r); j++) {
			const struct range_ref *older = &refs[i], *younger = &refs[j];

			if (refs[i].pool == refs[j].pool)
				continue;
			if (pool_cmp_age(older->pool, younger->pool) > 0) {
				older = &refs[j];
				younger = &refs[i];
			}
			overlap(younger->pool,
				"spec.addresses[%u]: \"%.*s\" overlaps \"%.*s\" "
				"(spec.addresses[%u]) "
				"of the older IPAddressPool \"%s\"",
				younger->rep->index, QUOTE_MAX, younger->rep->text, QUOTE_MAX,
				older->rep->text, older->rep->index, older->pool->name);
		}
	}
	free(refs);
	for (size_t i = 0; i < n; i++)
		if (priv(pools[i])->oom)
			r = -ENOMEM;
	return r;
}

const char *pool_condition_reason(const struct pool *p)
{
	if (pool_valid(p))
		return "Valid";
	if (priv(p)->bad_entries)
		return "InvalidAddresses";
	if (priv(p)->self_overlap || p->noverlaps > 0)
		return "Overlap";
	if (p->empty)
		return "Empty";
	return "InvalidSpec";
}

char *pool_condition_message(const struct pool *p)
{
	size_t len = 1;
	size_t more = priv(p)->problems_dropped + priv(p)->overlaps_dropped;
	char *msg, *q;

	for (size_t i = 0; i < p->nproblems; i++)
		len += strlen(p->problems[i]) + 2;
	for (size_t i = 0; i < p->noverlaps; i++)
		len += strlen(p->overlaps[i]) + 2;
	len += 48;
	msg = malloc(len);
	if (!msg)
		return NULL;
	q = msg;
	*q = '\0';
	for (size_t i = 0; i < p->nproblems + p->noverlaps; i++) {
		const char *line =
			i < p->nproblems ? p->problems[i] : p->overlaps[i - p->nproblems];

		q += sprintf(q, "%s%s", q == msg ? "" : "; ", line);
	}
	if (more)
		sprintf(q, "; and %zu more", more);
	return msg;
}

char *pool_format_count(ip_u128 v, char *buf)
{
	char tmp[POOL_COUNT_STRLEN];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (unsigned)(v % 10));
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}
