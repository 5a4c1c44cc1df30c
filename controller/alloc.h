/* The address allocator: which Service gets which address from which
 * IPAddressPool, and which externalIPs ironlb may announce.
 *
 * Pure: no I/O, no clock, no globals. The I/O layer feeds it decoded
 * objects (struct pool, struct service, Namespace labels) and applies the
 * decisions it returns (status writes, Events). The rules are in
 * docs/allocation.md; in short:
 *
 *  - Start-up is two steps: alloc_restore() rebuilds the table from the
 *    addresses already in the Services' status (oldest Service first where
 *    two claim one address), then every Service is assigned, so nothing
 *    already handed out moves because of a restart.
 *  - A Service keeps an address while it is still inside some pool (valid
 *    or not), still matches what the Service asks for, and is still
 *    compatible with the other Services on it. Pool edits that still
 *    contain it, priority or selector changes, autoAssign: false, and event
 *    order never move it.
 *  - New addresses come only from valid pools, tried by priority then
 *    name, lowest free address first; O(log n) per allocation and release
 *    in the number of addresses in use, whatever the pool size.
 *
 * Usage by the I/O layer:
 *
 *	struct alloc *a = alloc_new(&(struct alloc_config){ "ironlb.io/lb", true });
 *	// initial lists: pools and namespaces first, then all Services at once
 *	alloc_pool_set(a, pool);			// for each IPAddressPool
 *	alloc_namespace_set(a, "default", labels);	// for each Namespace
 *	alloc_restore(a, services, n);		// adopts status addresses
 *	// then, and after every watch event below, drain:
 *	while (alloc_next_dirty(a, &d) > 0) { apply(d); alloc_decision_free(d); }
 *	// watch events:
 *	alloc_assign(a, svc, &d);  apply(d); alloc_decision_free(d);	// added/modified
 *	alloc_release(a, ns, name);					// deleted
 *	alloc_pool_set(a, pool); alloc_pool_delete(a, name);
 *	alloc_namespace_set(...); alloc_namespace_delete(...);
 *	alloc_set_skipped(a, addrs, n);	// addresses speakers found taken
 *	// pool status: alloc_pool_status_json(a, name), after each drain
 *
 * apply(d): if d->handled, write status.loadBalancer from d->addrs unless
 * service_ingress_equal() says it is already there, and the
 * ironlb.io/ip-allocated-from-pool annotation from d->pool_annotation; if
 * d->clear_status, remove d->released from the status; a Warning Event
 * AllocationFailed with d->reason when set; Normal Events for d->notes;
 * ExternalIPRejected Warnings for rejected d->ext. d->changed says whether
 * any of that differs from the previous decision for the Service, so that
 * Events are not repeated on every resync.
 */
#ifndef IRONLB_CONTROLLER_ALLOC_H
#define IRONLB_CONTROLLER_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ironlb/addr.h"
#include "ironlb/selector.h"
#include "pool.h"
#include "service.h"

struct alloc;

struct alloc_config {
	const char *lb_class; /* spec.loadBalancerClass handled (copied) */
	bool default_class;   /* also handle Services without a class */
};

/* Why a handled Service did not get (all) the addresses it needs. */
enum alloc_error {
	ALLOC_OK = 0,
	ALLOC_ERR_BAD_REQUEST,		 /* malformed or contradictory request */
	ALLOC_ERR_WRONG_FAMILY,		 /* requested family not in spec.ipFamilies */
	ALLOC_ERR_NOT_IN_POOL,		 /* requested address in no IPAddressPool */
	ALLOC_ERR_NOT_IN_REQUESTED_POOL, /* requested address outside the requested pool */
	ALLOC_ERR_POOL_MISSING,		 /* requested pool does not exist */
	ALLOC_ERR_POOL_INVALID,		 /* the pool to use is invalid */
	ALLOC_ERR_POOL_DENIED,		 /* the pool does not serve this Service */
	ALLOC_ERR_IN_USE,		 /* requested address held by an incompatible Service */
	ALLOC_ERR_NO_POOL,		 /* no pool may auto-assign to this Service */
	ALLOC_ERR_EXHAUSTED,		 /* every pool that may is full */
	ALLOC_ERR_NO_MEMORY,
};

enum alloc_ext_state {
	ALLOC_EXT_IGNORED,  /* in no pool: not ironlb's business */
	ALLOC_EXT_ACCEPTED, /* reserved for this Service; announce it */
	ALLOC_EXT_REJECTED, /* reason says why; do not announce */
};

struct alloc_assigned {
	struct ip_addr addr;
	char *pool;  /* owning pool, NULL for an address kept outside every pool */
	bool shared; /* other Services use it too */
};

struct alloc_ext_result {
	struct ip_addr addr; /* family 0 if the entry is not an address */
	uint8_t state;	     /* enum alloc_ext_state */
	char *reason;	     /* ALLOC_EXT_REJECTED: for an ExternalIPRejected Event */
};

struct alloc_decision {
	char *namespace;
	char *name;
	/* A LoadBalancer Service of our class: its status.loadBalancer is ours
	 * to write. */
	bool handled;
	/* Not (or no longer) ours, but we had put addresses into its status:
	 * remove released[] from status.loadBalancer.ingress (a Service that
	 * is no longer of type LoadBalancer: clear status.loadBalancer). */
	bool clear_status;
	size_t nreleased;
	struct ip_addr released[2];
	/* Desired status.loadBalancer.ingress, primary family first. */
	size_t naddrs;
	struct alloc_assigned addrs[2];
	char *pool_annotation; /* ironlb.io/ip-allocated-from-pool, NULL if none */
	enum alloc_error error;
	char *reason; /* AllocationFailed message, NULL when none */
	size_t nnotes;
	char **notes; /* for Normal Events */
	size_t next;
	struct alloc_ext_result *ext; /* one per spec.externalIPs entry */
	bool changed;		      /* differs from the previous decision for this Service */
};

struct alloc_pool_counts {
	uint64_t assigned4; /* addresses in use (LoadBalancer or reserved externalIP) */
	uint64_t assigned6;
	ip_u128 available4; /* free addresses a Service could get; 0 if invalid */
	ip_u128 available6;
};

struct alloc *alloc_new(const struct alloc_config *cfg);
void alloc_free(struct alloc *a);
void alloc_decision_free(struct alloc_decision *d);

/* Adds or replaces (by name) a pool; takes ownership of p, also on
 * failure. Re-validates overlaps across pools, moves the accounting of
 * addresses in use to the pools that now hold them, and marks every Service
 * for re-assignment (alloc_next_dirty). Never takes an address away by
 * itself. Returns 0 or -ENOMEM. */
int alloc_pool_set(struct alloc *a, struct pool *p);
/* Returns 0 or -ENOENT. */
int alloc_pool_delete(struct alloc *a, const char *name);
/* NULL if there is no such pool; valid until the next pool change. */
const struct pool *alloc_pool_get(const struct alloc *a, const char *name);
/* Pools by name: index 0..alloc_pool_count()-1, for status and metrics. */
size_t alloc_pool_count(const struct alloc *a);
const struct pool *alloc_pool_at(const struct alloc *a, size_t i);
int alloc_pool_counts(const struct alloc *a, const char *name, struct alloc_pool_counts *ret);
/* The pool's desired status: {"assignedIPv4": n, "assignedIPv6": n,
 * "availableIPv4": "n", "availableIPv6": "n", "conditions": [{"type":
 * "Valid", "status": "True"|"False", "reason", "message",
 * "observedGeneration"}]}, with "nextIPv4"/"nextIPv6" (the address
 * automatic assignment takes next, if any) and "skippedIPs" (see
 * alloc_set_skipped, if any); lastTransitionTime is the writer's to add. New
 * reference; NULL if there is no such pool or on ENOMEM. */
json_t *alloc_pool_status_json(const struct alloc *a, const char *name);

/* Entries of a pool's status "skippedIPs" at most. */
#define ALLOC_SKIPPED_STATUS_MAX 64

/* The addresses automatic assignment passes over, because a speaker found
 * a host outside ironlb answering for them: it takes the next free address
 * of the pool instead, and nextIPv4/nextIPv6 and skippedIPs in pool status
 * say so. Explicit requests and Services already holding one of them are
 * not affected. Replaces the whole set with a sorted, distinct copy of
 * addrs (entries of another family than AF_INET/AF_INET6 are dropped).
 * When the set changed, Services that failed to get an address try again
 * at the next alloc_next_dirty(). Returns 1 if the set changed, 0 if not,
 * or -ENOMEM (the previous set stays). */
int alloc_set_skipped(struct alloc *a, const struct ip_addr *addrs, size_t n);
/* The current set (sorted, borrowed until the next alloc_set_skipped):
 * its size, with *ret pointing at it. */
size_t alloc_skipped(const struct alloc *a, const struct ip_addr **ret);

/* A Namespace's labels, for namespaceSelectors; takes ownership of labels
 * (also on failure). Marks the namespace's Services for re-assignment when
 * the labels changed. 0 or -ENOMEM. */
int alloc_namespace_set(struct alloc *a, const char *name, struct labels *labels);
int alloc_namespace_delete(struct alloc *a, const char *name);

/* Start-up: takes every Service known at start (ownership of svcs[i],
 * also on failure; the array itself stays the caller's) and adopts the
 * addresses in their status that are still valid for them, oldest Service
 * first, then reserves externalIPs oldest first. Allocates nothing new:
 * every Service is marked for assignment, which alloc_next_dirty() does.
 * Only on an allocator that knows no Service yet (-EBUSY otherwise). */
int alloc_restore(struct alloc *a, struct service **svcs, size_t n);

/* A Service was added or modified: records it (ownership of svc, also on
 * failure) and decides its addresses and externalIPs. Other Services whose
 * decision this changes are marked for alloc_next_dirty(). Returns 0 with
 * *ret set, or -ENOMEM. */
int alloc_assign(struct alloc *a, struct service *svc, struct alloc_decision **ret);
/* A Service was deleted: releases everything it held. 0 or -ENOENT. */
int alloc_release(struct alloc *a, const char *ns, const char *name);
/* Re-decides the next Service marked for it (after a pool, namespace or
 * other Service change, or at start-up). Returns 1 with *ret set, 0 when
 * nothing is pending, or -ENOMEM. */
int alloc_next_dirty(struct alloc *a, struct alloc_decision **ret);

/* The addresses the Service holds now (desired status ingress, primary
 * family first): 0 with *ret_n in 0..2, or -ENOENT for an unknown Service. */
int alloc_service_addrs(const struct alloc *a, const char *ns, const char *name,
			struct ip_addr ret[2], size_t *ret_n);
/* The recorded Service (borrowed), or NULL. */
const struct service *alloc_service_get(const struct alloc *a, const char *ns, const char *name);
size_t alloc_service_count(const struct alloc *a);

/* Checks every internal invariant (trees, per-pool runs and counts,
 * holders, sharing compatibility). 0, or -EINVAL with a description in
 * err. For tests. */
int alloc_check(const struct alloc *a, char *err, size_t errlen);

#endif
