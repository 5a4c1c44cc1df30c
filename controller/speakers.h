/* What the controller reads from the speakers' Leases: the addresses each
 * speaker found answered by a host outside ironlb in its latest probing
 * round ("inUse" in the ironlb.io/speaker annotation), and from all of
 * them, the set automatic assignment skips (alloc_set_skipped).
 *
 * Pure: decoding takes a Lease object, the decision takes the decoded
 * Leases and the wall-clock time; no I/O, no clock, no globals. A Lease
 * counts while it is fresh (renewTime + leaseDurationSeconds later than
 * now), so a dead speaker's report stops counting when its Lease expires.
 *
 * Leases are hostile input: an annotation that is not a JSON object, an
 * "inUse" that is not an array, entries that are not IP addresses, more
 * than SPEAKERS_IN_USE_MAX entries, or a renewTime that does not parse are
 * not errors. The bad part is ignored (a Lease without a readable
 * renewTime never counts) and problem says what and where, for one
 * warning per change.
 */
#ifndef IRONLB_CONTROLLER_SPEAKERS_H
#define IRONLB_CONTROLLER_SPEAKERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ironlb/addr.h"

/* The label every speaker Lease carries, as an informer selector. */
#define SPEAKERS_LEASE_SELECTOR "app.kubernetes.io/component=speaker"
/* The annotation holding the speaker's report (a JSON object string). */
#define SPEAKERS_ANNOTATION "ironlb.io/speaker"
/* Entries of "inUse" read per Lease at most; the rest are ignored. */
#define SPEAKERS_IN_USE_MAX 64
/* leaseDurationSeconds when absent, as the speaker's own default. */
#define SPEAKERS_DEFAULT_DURATION_S 15

struct speakers_lease {
	char *name;		 /* Lease name */
	char *holder;		 /* spec.holderIdentity: the node */
	uint64_t expiry_wall_us; /* renewTime + leaseDurationSeconds; 0: never fresh */
	char *problem;		 /* what was ignored, or NULL */
	size_t nin_use;
	struct ip_addr *in_use; /* NULL when nin_use is 0 */
};

/* An address of the set, with the speaker that reported it (the lowest
 * holder name when several did; borrowed from the Lease). */
struct speakers_addr {
	struct ip_addr addr;
	const char *holder;
};

/* Decodes a Lease (borrowed). 0 with *ret set; 1 (INFORMER_SKIP) for a
 * Lease that is not a speaker's (no component=speaker label) or that was
 * released (empty holderIdentity); -EBADMSG with *ret_why for an object
 * without metadata.name; -ENOMEM. *ret untouched on failure. */
int speakers_lease_decode(json_t *obj, struct speakers_lease **ret, const char **ret_why);
void speakers_lease_free(struct speakers_lease *l);

/* The addresses in use: the union of in_use over the leases fresh at
 * now_wall_us, sorted by ip_cmp and distinct, as a new array in *ret (NULL
 * when empty; the caller frees it). *ret_next_expiry: the earliest expiry
 * of a fresh Lease that reports addresses (when the set may next change
 * without an event), 0 if none. Returns the number of addresses, or
 * -ENOMEM with the outputs untouched. leases[i] may not be NULL. */
int speakers_in_use(const struct speakers_lease *const *leases, size_t n, uint64_t now_wall_us,
		    struct speakers_addr **ret, uint64_t *ret_next_expiry);

#endif
