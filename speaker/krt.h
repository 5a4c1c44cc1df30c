/* Routes in the kernel's routing tables that ironlb owns: every route it
 * writes carries protocol KRT_PROTO ("ironlb"), so a dump can tell them
 * apart from everyone else's and a restart can remove the stale ones.
 *
 * Two users:
 *  - BGP: one table per advertisement policy (ids from --bgp-table-base),
 *    holding RTN_BLACKHOLE routes for the prefixes to advertise. No ip rule
 *    points at these tables, so they never affect the node's forwarding;
 *    BIRD's kernel protocol imports them (`learn`) and exports them to peers.
 *  - Datapath: RTN_LOCAL routes in table local (255) so that this node
 *    accepts traffic for an address it announces (datapath.h).
 *
 * Synchronous rtnetlink requests (the kernel answers at once); a batch of
 * 10,000 changes costs milliseconds.
 */
#ifndef IRONLB_SPEAKER_KRT_H
#define IRONLB_SPEAKER_KRT_H

#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

/* rtm_protocol of ironlb's routes (see /etc/iproute2/rt_protos: unused). */
#define KRT_PROTO 74
#define KRT_TABLE_LOCAL 255

struct krt;

struct krt_route {
	struct ip_prefix dst;
	uint32_t table;
	uint8_t type; /* RTN_BLACKHOLE, or RTN_LOCAL (dev lo, scope host) */
};

/* Opens a NETLINK_ROUTE socket. 0 or -errno. */
int krt_open(struct krt **ret);
void krt_close(struct krt *k);
/* Adds or replaces r. 0 or -errno. */
int krt_add(struct krt *k, const struct krt_route *r);
/* Removes r (of protocol KRT_PROTO); absent already: 0. 0 or -errno. */
int krt_del(struct krt *k, const struct krt_route *r);
/* All routes of protocol KRT_PROTO in tables [table_min, table_max], both
 * families, sorted by (table, family, address, length). *ret is malloc'd
 * (free()); 0 or -errno. */
int krt_dump(struct krt *k, uint32_t table_min, uint32_t table_max, struct krt_route **ret,
	     size_t *ret_n);

struct krt_sync_stats {
	size_t added, removed, failed;
};
/* Makes the KRT_PROTO routes in [table_min, table_max] exactly want[0..n)
 * (every want[i].table must be inside the range): dumps, removes what is
 * not wanted, adds what is missing. 0, or the first -errno (the rest is
 * still attempted; stats say how much). */
int krt_sync(struct krt *k, uint32_t table_min, uint32_t table_max, const struct krt_route *want,
	     size_t n, struct krt_sync_stats *stats);
/* Order of krt_dump: by table, family, address bytes, prefix length. */
int krt_route_cmp(const struct krt_route *a, const struct krt_route *b);

#endif
