/* Interface choice for L2 announcements (pure). */
#include "iface.h"

#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>

enum iface_unusable iface_usable(const struct iface_link *l)
{
	if (l->flags & IFF_LOOPBACK)
		return IFACE_LOOPBACK;
	if (l->arptype != ARPHRD_ETHER)
		return IFACE_NOT_ETHERNET;
	if (l->master)
		return IFACE_ENSLAVED;
	if (l->flags & IFF_NOARP)
		return IFACE_NOARP;
	if (!(l->flags & IFF_UP))
		return IFACE_DOWN;
	if (!l->oper_up)
		return IFACE_NO_CARRIER;
	return IFACE_USABLE;
}

const char *iface_unusable_str(enum iface_unusable why)
{
	switch (why) {
	case IFACE_USABLE:
		return "usable";
	case IFACE_DOWN:
		return "link is down";
	case IFACE_NO_CARRIER:
		return "link has no carrier";
	case IFACE_NOARP:
		return "link has NOARP set";
	case IFACE_ENSLAVED:
		return "link is enslaved to a bond or bridge (the master announces)";
	case IFACE_NOT_ETHERNET:
		return "link is not Ethernet";
	case IFACE_LOOPBACK:
		return "link is loopback";
	}
	return "?";
}

static const struct iface_link *find_link(const struct iface_link *links, size_t n, int ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (links[i].ifindex == ifindex)
			return &links[i];
	return NULL;
}

static bool name_allowed(const char *name, const char *const *allowed, size_t n_allowed)
{
	for (size_t i = 0; i < n_allowed; i++)
		if (strcmp(name, allowed[i]) == 0)
			return true;
	return false;
}

size_t iface_choose(const struct iface_link *links, size_t n_links,
		    const struct iface_prefix *prefixes, size_t n_prefixes, const struct ip_addr *a,
		    const char *const *allowed, size_t n_allowed,
		    int ret_ifindexes[IFACE_MAX_CHOSEN], const char **ret_why)
{
	const struct iface_prefix *best = NULL;
	enum iface_unusable best_unusable = IFACE_USABLE;
	size_t n = 0;

	if (n_allowed) {
		bool any_named = false;
		int chosen[IFACE_MAX_CHOSEN];

		for (size_t i = 0; i < n_links; i++) {
			if (!name_allowed(links[i].name, allowed, n_allowed))
				continue;
			any_named = true;
			if (iface_usable(&links[i]) != IFACE_USABLE || n == IFACE_MAX_CHOSEN)
				continue;
			/* insertion sort by ifindex: deterministic order */
			size_t j = n++;

			while (j > 0 && chosen[j - 1] > links[i].ifindex) {
				chosen[j] = chosen[j - 1];
				j--;
			}
			chosen[j] = links[i].ifindex;
		}
		if (!n && ret_why)
			*ret_why = any_named ? "none of the L2Advertisement's interfaces is usable"
					     : "none of the L2Advertisement's interfaces exists";
		memcpy(ret_ifindexes, chosen, n * sizeof(int));
		return n;
	}

	for (size_t i = 0; i < n_prefixes; i++) {
		const struct iface_prefix *p = &prefixes[i];
		const struct iface_link *l;
		enum iface_unusable why;

		if (!prefix_contains(&p->prefix, a))
			continue;
		l = find_link(links, n_links, p->ifindex);
		if (!l)
			continue;
		why = iface_usable(l);
		if (why != IFACE_USABLE) {
			/* The reason names the first matching link that could
			 * announce were it not for its state; a loopback link
			 * (the address bound /32 on lo) only when nothing else
			 * matches, since it never announces anyway. */
			if (best_unusable == IFACE_USABLE ||
			    (best_unusable == IFACE_LOOPBACK && why != IFACE_LOOPBACK))
				best_unusable = why;
			continue;
		}
		if (!best || p->prefix.len > best->prefix.len ||
		    (p->prefix.len == best->prefix.len && p->ifindex < best->ifindex))
			best = p;
	}
	if (!best) {
		if (ret_why)
			*ret_why =
				best_unusable != IFACE_USABLE
					? iface_unusable_str(best_unusable)
					: "no interface has a connected subnet holding the address";
		return 0;
	}
	ret_ifindexes[0] = best->ifindex;
	return 1;
}
