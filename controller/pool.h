/* IPAddressPool (ironlb.io/v1beta1, MetalLB's field names): decoding,
 * validation, and the questions the allocator asks of a pool.
 *
 * pool_from_json() turns an IPAddressPool object into a struct pool and
 * records every problem it finds, each naming the field:
 *   spec.addresses[2]: "198.51.100.5/24": host bits set
 *   spec.addresses[1]: "198.51.100.0/25" overlaps spec.addresses[0] "198.51.100.0/24"
 *   spec.serviceAllocation.namespaces[0]: "Bad_NS" is not a valid namespace name
 * A pool with problems is invalid: it hands out no new address, but the
 * entries that did parse still count as containing their addresses, so
 * Services already using them keep them (see docs/allocation.md).
 * pool_check_overlaps() adds the problems that involve two pools: of two
 * overlapping pools the older one (creationTimestamp, then name) stays
 * valid, the other is invalid and its problem names both.
 *
 * The JSON is borrowed. Nothing here logs, allocates addresses or keeps
 * global state.
 */
#ifndef IRONLB_CONTROLLER_POOL_H
#define IRONLB_CONTROLLER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ironlb/addr.h"
#include "ironlb/selector.h"

/* Problems kept per pool (each kind), the rest summarized in one more line. */
#define POOL_MAX_PROBLEMS 16
/* spec.addresses entries beyond this are a problem, not parsed: keeps a
 * hostile pool from costing quadratic time in the overlap checks. */
#define POOL_MAX_ENTRIES 4096
/* Enough for a decimal ip_u128. */
#define POOL_COUNT_STRLEN 40
#define POOL_ERR_MAX 512

/* One parsed spec.addresses entry. */
struct pool_range {
	struct ip_range range;
	uint32_t index; /* position in spec.addresses */
	char *text;	/* the entry as written, for messages */
};

struct pool {
	char *name;
	int64_t created;    /* seconds since the epoch, SERVICE_TIME_UNKNOWN if absent */
	int64_t generation; /* metadata.generation, for status.conditions */
	/* Entries that parsed, sorted by address (IPv4 first). */
	size_t nranges;
	struct pool_range *ranges;
	/* Some entry could not be read (or spec.addresses itself): the pool
	 * may mean addresses we cannot see, see alloc.h. */
	bool unparsed;
	bool auto_assign;
	bool avoid_buggy_ips;
	bool allow_external_ips;
	bool has_priority;
	int64_t priority;
	size_t nnamespaces;
	char **namespaces;
	size_t nns_selectors;
	struct selector **ns_selectors;
	size_t nsvc_selectors;
	struct selector **svc_selectors;
	/* Problems of the pool on its own, and with other pools. */
	size_t nproblems;
	char **problems;
	size_t noverlaps;
	char **overlaps;
	bool empty; /* spec.addresses is an empty list */
	/* Number of addresses per family a Service could get (saturating). */
	ip_u128 size4;
	ip_u128 size6;
};

/* Decodes an IPAddressPool. Fails (-EINVAL, message in err) only when the
 * object cannot be told apart from others: not an object, or no valid
 * metadata.name; and with -ENOMEM. Any other problem is recorded in the
 * returned pool, which is then invalid. */
int pool_from_json(const json_t *obj, struct pool **ret, char *err, size_t errlen);
void pool_free(struct pool *p);

bool pool_valid(const struct pool *p);
/* a is inside one of the parsed entries, and is not an IPv4 address ending
 * in .0 or .255 when avoidBuggyIPs is set. */
bool pool_contains(const struct pool *p, const struct ip_addr *a);
/* An IPv4 address ending in .0 or .255 (avoidBuggyIPs skips those). */
bool pool_ip_buggy(const struct ip_addr *a);
bool pool_has_family(const struct pool *p, int family);
ip_u128 pool_size(const struct pool *p, int family);

/* Whether spec.serviceAllocation lets a Service in namespace ns (with the
 * Namespace's labels ns_labels, NULL if unknown) and labels svc_labels use
 * this pool. No serviceAllocation: everyone. */
bool pool_serves(const struct pool *p, const char *ns, const struct labels *ns_labels,
		 const struct labels *svc_labels);

/* Order for overlaps: older first (creationTimestamp), then by name. */
int pool_cmp_age(const struct pool *a, const struct pool *b);
/* Order in which pools are tried: serviceAllocation.priority ascending,
 * pools without one last, then by name. */
int pool_cmp_priority(const struct pool *a, const struct pool *b);

/* Recomputes the overlap problems of every pool in pools[0..n) against the
 * others: an entry overlapping an entry of an older pool makes its own pool
 * invalid. Returns 0 or -ENOMEM (problems then incomplete, but every pool
 * that overlaps is still marked by at least one line when memory allows). */
int pool_check_overlaps(struct pool **pools, size_t n);

/* The Valid condition: reason ("Valid", "InvalidAddresses", "Overlap",
 * "Empty", "InvalidSpec") and a message joining the problems with "; "
 * (malloc'd; NULL on ENOMEM). */
const char *pool_condition_reason(const struct pool *p);
char *pool_condition_message(const struct pool *p);

/* Formats v in decimal into buf (POOL_COUNT_STRLEN bytes); returns buf. */
char *pool_format_count(ip_u128 v, char *buf);

#endif
