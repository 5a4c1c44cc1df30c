/* Which interfaces announce an address in L2 mode.
 *
 * The pure part: given the node's links and their connected prefixes, pick
 * the interface(s) for an address. The effectful part (iface_monitor) keeps
 * those links and prefixes current from rtnetlink through libnl and says
 * when a link comes up, so that the speaker re-announces.
 */
#ifndef IRONLB_SPEAKER_IFACE_H
#define IRONLB_SPEAKER_IFACE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

#define IFACE_MAX_CHOSEN 16

struct iface_link {
	int ifindex;
	char name[IF_NAMESIZE];
	uint8_t mac[6];
	unsigned flags;	  /* IFF_* from the kernel */
	unsigned arptype; /* ARPHRD_*; only ARPHRD_ETHER is usable */
	int master;	  /* ifindex of the bond or bridge it is enslaved to, or 0 */
	bool oper_up;	  /* IFF_UP and carrier (IFF_LOWER_UP or IF_OPER_UP) */
};

struct iface_prefix {
	int ifindex;
	struct ip_prefix prefix; /* the connected subnet (address masked to its length) */
};

enum iface_unusable {
	IFACE_USABLE = 0,
	IFACE_DOWN,	  /* administratively down (no IFF_UP) */
	IFACE_NO_CARRIER, /* up, but no carrier (cable pulled, peer down) */
	IFACE_NOARP,
	IFACE_ENSLAVED,
	IFACE_NOT_ETHERNET,
	IFACE_LOOPBACK,
};

/* Whether a link can carry announcements, and if not, why. */
enum iface_unusable iface_usable(const struct iface_link *l);
const char *iface_unusable_str(enum iface_unusable why);

/* Chooses where to announce address a.
 * Without allowed names: the usable link whose connected prefix holds a,
 * the longest prefix winning (ties: lowest ifindex) — one interface.
 * With allowed names (an L2Advertisement's spec.interfaces): every usable
 * link among them (in ifindex order). Returns the number of interfaces
 * written to ret_ifindexes (at most IFACE_MAX_CHOSEN), 0 if none; *ret_why
 * then says why (for ironlbctl and logs). */
size_t iface_choose(const struct iface_link *links, size_t n_links,
		    const struct iface_prefix *prefixes, size_t n_prefixes, const struct ip_addr *a,
		    const char *const *allowed, size_t n_allowed,
		    int ret_ifindexes[IFACE_MAX_CHOSEN], const char **ret_why);

/* ---- the live view (rtnetlink) ---- */

struct loop;
struct iface_monitor;

/* Called after the view changed. came_up lists the links that went from
 * unusable to usable (the speaker re-announces on them). */
typedef void (*iface_change_fn)(void *userdata, const int *came_up, size_t n_came_up);

/* Dumps links and addresses, then follows RTNLGRP_LINK and the IPv4/IPv6
 * address groups. Notifications are coalesced: one re-dump per loop
 * iteration however many arrive. NULL and *ret_err on failure. */
struct iface_monitor *iface_monitor_new(struct loop *l, iface_change_fn fn, void *userdata,
					int *ret_err);
void iface_monitor_free(struct iface_monitor *m);

/* The current view; pointers stay valid until the next change callback. */
size_t iface_monitor_links(const struct iface_monitor *m, const struct iface_link **ret);
size_t iface_monitor_prefixes(const struct iface_monitor *m, const struct iface_prefix **ret);
const struct iface_link *iface_monitor_link(const struct iface_monitor *m, int ifindex);
/* Re-dumps now (at start, and for tests). 0 or a negative errno. */
int iface_monitor_refresh(struct iface_monitor *m);

#endif
