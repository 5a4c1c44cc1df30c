/* BIRD 2 configuration for this node, generated from the BGP objects:
 * pure and deterministic (same input, byte-identical text), so the speaker
 * can compare texts and reconfigure BIRD only when peers or policies
 * change.
 *
 * Shape of the generated configuration (docs/bgp.md explains it; the
 * golden files in tests/unit/golden/bird/ show it whole):
 *  - router id, and `protocol device` (direct sessions and next hops need
 *    the interfaces); the control socket is BIRD's own business (-s flag);
 *  - per policy i (one BGPAdvertisement, kernel table policies[i].table):
 *    BIRD tables ilb_p<i>_v4 / ilb_p<i>_v6, a filter ilb_p<i>_import that
 *    accepts only routes of rtm_protocol KRT_PROTO (`krt_source`) and sets
 *    the policy's local preference, communities and large communities, and
 *    two kernel protocols (one per family) that `learn` that kernel table
 *    through the filter (export none: BIRD never writes to the kernel);
 *  - per peer j: BIRD tables ilb_peer_<j>_v4/_v6 fed by pipes from the
 *    policy tables whose advertisement sends to that peer (empty peers
 *    list: every peer), and a `bgp` protocol ilb_peer_<j> (router id if
 *    the peer has one, local [source] as, neighbor/port/as, hold, keepalive
 *    and connect retry times, TCP-MD5 password, multihop, channels with
 *    import none, export all and next hop self: the routes are blackholes).
 *    A direct eBGP session carries both families (BIRD takes the next hop
 *    of the other family from the interface's addresses); a multihop one
 *    (iBGP, or ebgpMultiHop) only its peer address's family;
 *  - with a BFD profile, the bgp protocol gets a `bfd { min rx interval;
 *    min tx interval; multiplier; passive }` block: BIRD applies these per
 *    session, over the options of the one `protocol bfd ilb_bfd`, which is
 *    present when any peer uses BFD. BIRD has no echo mode and no minimum
 *    TTL setting: those profile fields are not expressed.
 * Aggregation is not expressed: the speaker writes aggregated prefixes into
 * the kernel tables itself.
 * Names in the text are derived from indexes only; object names appear in
 * comments, reduced to [A-Za-z0-9._-]. BIRD 2 strings have no escapes, so a
 * password is written between quotes byte for byte (a backslash stays one
 * backslash) and one that contains '"' or a control character, is empty or
 * longer than BGP_PASSWORD_MAX is rejected.
 */
#ifndef IRONLB_SPEAKER_BIRD_CONF_H
#define IRONLB_SPEAKER_BIRD_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"
#include "ironlb/bgp_objects.h"

/* One advertisement policy: the BGPAdvertisement and its kernel table. */
struct bird_policy {
	const struct bgp_advert *adv;
	uint32_t table;
};

struct bird_peer {
	const struct bgp_peer *peer;
	const char *password;		   /* resolved (inline or Secret), or NULL */
	const struct bgp_bfd_profile *bfd; /* resolved, or NULL */
};

struct bird_conf_input {
	const char *node_name;	  /* only in a comment */
	struct ip_addr router_id; /* IPv4: peer routerID, else the node's IPv4 */
	/* The peers whose nodeSelectors select this node, valid, sorted by name. */
	const struct bird_peer *peers;
	size_t n_peers;
	/* Valid advertisements whose nodeSelectors select this node, sorted by name. */
	const struct bird_policy *policies;
	size_t n_policies;
	/* scan time of the kernel protocols in seconds (BIRD also follows
	 * netlink notifications, this is the periodic full resync). */
	unsigned kernel_scan_s;
};

/* Renders the configuration into *ret (malloc'd, NUL-terminated; *ret is
 * untouched on failure). No peers and no policies is valid: a BIRD that
 * idles. in->router_id must be a non-zero IPv4 address. A kernel_scan_s of
 * 0 leaves BIRD's default scan time. 0, -ENOMEM, or -EINVAL with err (may
 * be NULL) naming the object and field that cannot be expressed: missing
 * router id, a kernel table that is 0, 253..255 or used twice, a standard
 * community part above 65535, a peer without ASNs or address, a port of 0,
 * hold time 1..2 or above 65535, keepalive above hold, a non-IPv4 peer
 * router id, a source address of the other family, a password BIRD cannot
 * quote, BFD intervals outside 1..4294000 ms or a multiplier of 0. */
int bird_conf_render(const struct bird_conf_input *in, char **ret, char *err, size_t errlen);
/* Writes text to path atomically (temporary file in the same directory,
 * fsync, rename, fsync of the directory), mode 0640, creating missing
 * parent directories with mode 0750. A reader sees the old file or the new
 * one, never a part; on failure path is unchanged and no temporary file is
 * left. 0 or -errno (-EINVAL for an empty path or one ending in '/'). */
int bird_conf_write(const char *path, const char *text);

#endif
