/* The status conditions ironlb-controller keeps on BGPPeers,
 * BGPAdvertisements and BFDProfiles, as pure functions: the verdict on an
 * object (its own spec, the objects it names, fields ironlb does not
 * support) and the status.conditions array that says it, compared with
 * what the object carries so that an unchanged object is never rewritten.
 * No I/O, no clock: the caller passes the time. See docs/controller.md,
 * "BGP objects".
 *
 * Conditions (type: True reason / False reason):
 *   Valid       every kind      Valid / InvalidSpec (the decoder's reason)
 *   References  BGPPeer, BGPAdvertisement
 *                               Resolved / MissingReference
 *   Supported   BGPPeer         Supported / VRFNotSupported
 * An object whose spec is invalid carries only Valid: what it refers to
 * is unknown.
 */
#ifndef IRONLB_CONTROLLER_BGP_STATUS_H
#define IRONLB_CONTROLLER_BGP_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bgp_kind { BGP_KIND_PEER, BGP_KIND_ADVERT, BGP_KIND_BFD, BGP_KIND_POOL };

/* "BGPPeer", "BGPAdvertisement", "BFDProfile", "IPAddressPool". */
const char *bgp_kind_name(enum bgp_kind k);

/* How a name an object refers to resolves. */
enum bgp_ref_state {
	BGP_REF_OK,
	BGP_REF_MISSING, /* no such object in ironlb's namespace */
	BGP_REF_INVALID, /* it exists, but its spec is invalid: the speakers ignore it */
};
typedef enum bgp_ref_state (*bgp_ref_lookup_fn)(enum bgp_kind kind, const char *name,
						void *userdata);

#define BGP_STATUS_MAX_CONDS 3

struct bgp_cond {
	const char *type;
	bool ok;		  /* status "True" or "False" */
	const char *reason;	  /* condition reason */
	const char *message;	  /* "" when ok */
	const char *event_reason; /* the Warning Event when it turns false */
};

struct bgp_verdict {
	struct bgp_cond conds[BGP_STATUS_MAX_CONDS];
	size_t n;
	char refs_msg[512]; /* storage for the References message */
};

/* The verdict on an object of kind k. item is the decoded object (struct
 * bgp_peer, bgp_advert or bgp_bfd_profile of ironlb/bgp_objects.h), or
 * NULL when the decoder rejected it with why. lookup resolves the names
 * it refers to (bfdProfile; peers and ipAddressPools). v->conds point
 * into why and v itself: use them while both live. */
void bgp_status_verdict(enum bgp_kind k, const void *item, const char *why,
			bgp_ref_lookup_fn lookup, void *userdata, struct bgp_verdict *v);

/* The status.conditions the object should carry (a new array), given the
 * ones it has (have: borrowed, NULL or not an array: none): the verdict's
 * conditions with observedGeneration generation, lastTransitionTime kept
 * from have while the condition's status is the same (else now, an
 * RFC 3339 time), then every condition of a type this module does not
 * manage, as it was. *ret_changed: whether it differs from have. NULL on
 * allocation failure. */
json_t *bgp_status_conditions(const struct bgp_verdict *v, json_t *have, int64_t generation,
			      const char *now, bool *ret_changed);

/* Whether two conditions arrays say the same, lastTransitionTime aside. */
bool bgp_status_conditions_equal(json_t *a, json_t *b);

/* Whether condition c, false, is news against have: it was not false
 * there, or said something else. Such a condition gets a Warning Event. */
bool bgp_status_is_new_problem(const struct bgp_cond *c, json_t *have);

#endif
