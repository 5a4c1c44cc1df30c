/* BGP kinds of ironlb.io/v1beta1 (BGPPeer, BGPAdvertisement, BFDProfile)
 * and the kubernetes.io/basic-auth Secrets a BGPPeer may take its password
 * from, decoded and validated into compact structs.
 *
 * Shared by the speaker (which uses valid objects and ignores invalid ones)
 * and the controller (which reports invalid ones in a status condition and
 * a Warning Event), so both judge an object by the same rules.
 *
 * Every decoder has the informer_decode_fn shape: 0 with a new item,
 * INFORMER_SKIP for an object not of interest (e.g. a Secret of another
 * type), or -EBADMSG with *ret_why naming the offending field and rule
 * ("spec.keepaliveTime: 120s is above holdTime 90s"). ctx is a
 * struct bgp_decode_ctx whose why[] holds reasons that need formatting.
 * Wrong JSON types never crash.
 */
#ifndef IRONLB_BGP_OBJECTS_H
#define IRONLB_BGP_OBJECTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"
#include "ironlb/selector.h"

#define BGP_DEFAULT_PORT 179
#define BGP_DEFAULT_HOLD_S 90
#define BGP_DEFAULT_BFD_INTERVAL_MS 300
#define BGP_DEFAULT_BFD_MULTIPLIER 3
#define BGP_DEFAULT_BFD_ECHO_MS 50
#define BGP_DEFAULT_BFD_MIN_TTL 254
/* Longest TCP-MD5 key Linux accepts (TCP_MD5SIG_MAXKEYLEN). */
#define BGP_PASSWORD_MAX 80

/* namespace: ironlb's own namespace, the only one it reads Secrets from;
 * a BGPPeer's spec.passwordSecret.namespace naming another is an error.
 * NULL: not checked. ctx itself may be NULL (no namespace check): reasons
 * then live in a per-thread buffer that the next decode overwrites. */
struct bgp_decode_ctx {
	const char *namespace;
	char why[200];
};

struct bgp_bfd_profile {
	char *name;
	uint32_t rx_ms, tx_ms; /* receiveInterval / transmitInterval, default 300 */
	uint32_t echo_ms;      /* echoInterval, default 50 */
	uint8_t multiplier;    /* detectMultiplier, default 3 */
	uint8_t min_ttl;       /* minimumTtl, default 254 */
	bool echo_mode, passive;
};

struct bgp_peer {
	char *name;
	uint32_t my_asn, peer_asn;
	struct ip_addr peer_addr;
	bool has_source;
	struct ip_addr source_addr;
	uint16_t peer_port;   /* default 179 */
	uint32_t hold_s;      /* default 90; 0 (no keepalives) or 3..65535 */
	uint32_t keepalive_s; /* default hold_s / 3; <= hold_s; 0 only if hold_s is */
	uint32_t connect_s;   /* connectTime <= 65535, 0 (absent or "0s"): BIRD's default */
	bool has_router_id;
	struct ip_addr router_id;   /* IPv4 */
	struct selector **node_sel; /* empty: every node */
	size_t n_node_sel;
	/* Inline spec.password (1..80 printable ASCII but '"', which BIRD
	 * cannot quote), or NULL. Empty strings count as unset, as in
	 * MetalLB; both set is an error. */
	char *password;
	char *password_secret; /* spec.passwordSecret.name, or NULL */
	char *bfd_profile;     /* or NULL */
	bool ebgp_multihop;    /* eBGP only: with myASN == peerASN an error */
	/* spec.vrf, non-empty: decoded (the object is valid) but the peer is
	 * unused: callers report VRFs as unsupported. NULL when unset or "". */
	char *vrf;
};

struct bgp_community {
	bool large;
	uint32_t a, b, c; /* standard: a:b (each <= 65535); large: a:b:c */
};

struct bgp_advert {
	char *name;
	char **pools; /* spec.ipAddressPools */
	size_t n_pools;
	struct selector **pool_sel; /* spec.ipAddressPoolSelectors */
	size_t n_pool_sel;
	struct selector **node_sel; /* spec.nodeSelectors; empty: every node */
	size_t n_node_sel;
	char **peers; /* spec.peers; empty: every peer */
	size_t n_peers;
	uint8_t agg_len;    /* aggregationLength, default 32 */
	uint8_t agg_len_v6; /* aggregationLengthV6, default 128 */
	bool has_local_pref;
	uint32_t local_pref;
	struct bgp_community *communities; /* sorted, distinct */
	size_t n_communities;
};

/* A Secret of type kubernetes.io/basic-auth with data.password (base64):
 * the decoded password, 1..80 bytes without '"' or control characters
 * (NUL, line breaks, DEL) so that BIRD's configuration can carry it. */
struct bgp_secret {
	char *name;
	char *password;
};

int bgp_peer_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int bgp_advert_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int bgp_bfd_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int bgp_secret_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);

void bgp_peer_free(void *item, void *ud);
void bgp_advert_free(void *item, void *ud);
void bgp_bfd_free(void *item, void *ud);
void bgp_secret_free(void *item, void *ud);

/* "65000:100" or "large:1:2:3". 0 or -EINVAL with *ret_why. */
int bgp_community_parse(const char *s, struct bgp_community *ret, const char **ret_why);
/* "65000:100" / "large:1:2:3" into buf (>= 40 bytes). */
void bgp_community_format(const struct bgp_community *c, char *buf, size_t len);
/* A Go duration as MetalLB writes them ("90s", "1m30s", "3m", "2000ms",
 * "1.5m", "0") that is a whole number of seconds: a sub-second remainder
 * ("1500ms"), a sign "-", a missing or unknown unit and anything above
 * UINT32_MAX seconds are rejected. 0 or -EINVAL with a static *ret_why. */
int bgp_duration_parse_s(const char *s, uint32_t *ret_s, const char **ret_why);
/* Strict standard base64 (RFC 4648 section 4, padding required, no
 * whitespace) into a new NUL-terminated buffer; *ret_len excludes the NUL.
 * 0, -EINVAL or -ENOMEM; *ret untouched on failure. */
int bgp_base64_decode(const char *s, char **ret, size_t *ret_len);
/* Order of bgp_advert.communities: standard before large, then a, b, c. */
int bgp_community_cmp(const struct bgp_community *x, const struct bgp_community *y);

/* Whether advert a selects the pool named pool with labels l (names or
 * selectors; neither given: every pool). */
bool bgp_advert_selects_pool(const struct bgp_advert *a, const char *pool, const struct labels *l);
/* Whether a selector list (empty: all) matches labels l. */
bool bgp_selectors_match(struct selector *const *sel, size_t n, const struct labels *l);
/* Whether advert a sends to the peer named peer (empty list: every peer). */
bool bgp_advert_has_peer(const struct bgp_advert *a, const char *peer);

#endif
