/* The live view of the node's links and connected prefixes, from
 * rtnetlink through libnl. A notification socket subscribed to link and
 * address changes only marks the view dirty; a zero-delay timer then
 * re-dumps everything once, so a burst of changes costs one dump, and the
 * view is always a consistent snapshot rather than a patchwork of deltas. */
#include "iface.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/loop.h"

/* From linux/if.h, which cannot be included next to glibc's net/if.h. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif
enum { OPER_UNKNOWN = 0, OPER_LOWERLAYERDOWN = 3, OPER_DOWN = 2, OPER_UP = 6 };

struct iface_monitor {
	struct loop *loop;
	struct nl_sock *events; /* notifications */
	struct nl_sock *dumps;	/* request/response */
	struct loop_io *io;
	struct loop_timer *refresh;
	iface_change_fn fn;
	void *userdata;
	struct iface_link *links;
	size_t n_links;
	struct iface_prefix *prefixes;
	size_t n_prefixes, cap_prefixes;
};

static int nl_to_errno(int nlerr)
{
	/* libnl has its own error space; the daemon only needs "failed". */
	return nlerr == -NLE_NOMEM ? -ENOMEM : -EIO;
}

struct dump_ctx {
	struct iface_link *links;
	size_t n, cap;
	struct iface_prefix *prefixes;
	size_t n_prefixes, cap_prefixes;
	bool oom;
};

static void collect_link(struct nl_object *obj, void *arg)
{
	struct dump_ctx *d = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	struct nl_addr *hw = rtnl_link_get_addr(link);
	struct iface_link *l;
	uint8_t oper;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct iface_link *p = realloc(d->links, cap * sizeof(*p));

		if (!p) {
			d->oom = true;
			return;
		}
		d->links = p;
		d->cap = cap;
	}
	l = &d->links[d->n++];
	memset(l, 0, sizeof(*l));
	l->ifindex = rtnl_link_get_ifindex(link);
	snprintf(l->name, sizeof(l->name), "%s", rtnl_link_get_name(link) ?: "");
	l->flags = rtnl_link_get_flags(link);
	l->arptype = rtnl_link_get_arptype(link);
	l->master = rtnl_link_get_master(link);
	if (hw && nl_addr_get_len(hw) == 6)
		memcpy(l->mac, nl_addr_get_binary_addr(hw), 6);
	oper = rtnl_link_get_operstate(link);
	/* Virtual links without carrier reporting say UNKNOWN while working. */
	l->oper_up = (l->flags & IFF_UP) &&
		     ((l->flags & IFF_LOWER_UP) || oper == OPER_UP || oper == OPER_UNKNOWN);
	if (oper == OPER_DOWN || oper == OPER_LOWERLAYERDOWN)
		l->oper_up = false;
}

static void collect_addr(struct nl_object *obj, void *arg)
{
	struct dump_ctx *d = arg;
	struct rtnl_addr *ra = (struct rtnl_addr *)obj;
	struct nl_addr *local = rtnl_addr_get_local(ra);
	struct ip_addr a;
	struct iface_prefix *p;

	if (!local || ip_from_bytes(nl_addr_get_family(local), nl_addr_get_binary_addr(local),
				    nl_addr_get_len(local), &a) < 0)
		return;
	if (d->n_prefixes == d->cap_prefixes) {
		size_t cap = d->cap_prefixes ? d->cap_prefixes * 2 : 16;
		struct iface_prefix *np = realloc(d->prefixes, cap * sizeof(*np));

		if (!np) {
			d->oom = true;
			return;
		}
		d->prefixes = np;
		d->cap_prefixes = cap;
	}
	p = &d->prefixes[d->n_prefixes];
	p->ifindex = rtnl_addr_get_ifindex(ra);
	if (prefix_from_addr(&a, (unsigned)rtnl_addr_get_prefixlen(ra), &p->prefix) == 0)
		d->n_prefixes++;
}

static bool link_usable(const struct iface_link *links, size_t n, int ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (links[i].ifindex == ifindex)
			return iface_usable(&links[i]) == IFACE_USABLE;
	return false;
}

int iface_monitor_refresh(struct iface_monitor *m)
{
	struct nl_cache *links = NULL, *addrs = NULL;
	struct dump_ctx d = { 0 };
	int came_up[64];
	size_t n_up = 0;
	int r;

	r = rtnl_link_alloc_cache(m->dumps, AF_UNSPEC, &links);
	if (r < 0)
		return nl_to_errno(r);
	r = rtnl_addr_alloc_cache(m->dumps, &addrs);
	if (r < 0) {
		nl_cache_free(links);
		return nl_to_errno(r);
	}
	nl_cache_foreach(links, collect_link, &d);
	nl_cache_foreach(addrs, collect_addr, &d);
	nl_cache_free(links);
	nl_cache_free(addrs);
	if (d.oom) {
		free(d.links);
		free(d.prefixes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d.n && n_up < sizeof(came_up) / sizeof(came_up[0]); i++)
		if (iface_usable(&d.links[i]) == IFACE_USABLE &&
		    !link_usable(m->links, m->n_links, d.links[i].ifindex))
			came_up[n_up++] = d.links[i].ifindex;
	free(m->links);
	free(m->prefixes);
	m->links = d.links;
	m->n_links = d.n;
	m->prefixes = d.prefixes;
	m->n_prefixes = d.n_prefixes;
	if (m->fn)
		m->fn(m->userdata, came_up, n_up);
	return 0;
}

static void on_refresh(struct loop_timer *t, void *userdata)
{
	struct iface_monitor *m = userdata;

	/* A failed dump (ENOBUFS, out of memory) is retried shortly: the view
	 * must never stay stale. */
	if (iface_monitor_refresh(m) < 0)
		loop_timer_arm(t, 200000);
}

static int on_notification(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

static void on_events(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct iface_monitor *m = userdata;

	(void)io;
	(void)fd;
	(void)events;
	/* Drain; any message (or an overrun, -NLE_NOMEM) means "look again". */
	for (int i = 0; i < 64; i++) {
		int r = nl_recvmsgs_default(m->events);

		if (r == -NLE_AGAIN)
			break;
		if (r < 0 && r != -NLE_NOMEM && r != -NLE_DUMP_INTR)
			break;
	}
	if (!loop_timer_armed(m->refresh))
		loop_timer_arm(m->refresh, 0);
}

struct iface_monitor *iface_monitor_new(struct loop *l, iface_change_fn fn, void *userdata,
					int *ret_err)
{
	struct iface_monitor *m = calloc(1, sizeof(*m));
	int r = -ENOMEM;

	if (!m)
		goto fail;
	m->loop = l;
	m->fn = fn;
	m->userdata = userdata;
	m->events = nl_socket_alloc();
	m->dumps = nl_socket_alloc();
	m->refresh = loop_timer_new(l, on_refresh, m);
	if (!m->events || !m->dumps || !m->refresh)
		goto fail;
	nl_socket_disable_seq_check(m->events);
	nl_socket_modify_cb(m->events, NL_CB_VALID, NL_CB_CUSTOM, on_notification, m);
	r = nl_connect(m->events, NETLINK_ROUTE);
	if (r == 0)
		r = nl_connect(m->dumps, NETLINK_ROUTE);
	if (r == 0)
		r = nl_socket_add_memberships(m->events, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
					      RTNLGRP_IPV6_IFADDR, 0);
	if (r == 0)
		r = nl_socket_set_nonblocking(m->events);
	if (r < 0) {
		r = nl_to_errno(r);
		goto fail;
	}
	r = loop_io_add(l, nl_socket_get_fd(m->events), EPOLLIN, on_events, m, &m->io);
	if (r < 0)
		goto fail;
	r = iface_monitor_refresh(m);
	if (r < 0)
		goto fail;
	return m;
fail:
	iface_monitor_free(m);
	if (ret_err)
		*ret_err = r;
	return NULL;
}

void iface_monitor_free(struct iface_monitor *m)
{
	if (!m)
		return;
	loop_io_free(m->io);
	loop_timer_free(m->refresh);
	nl_socket_free(m->events);
	nl_socket_free(m->dumps);
	free(m->links);
	free(m->prefixes);
	free(m);
}

size_t iface_monitor_links(const struct iface_monitor *m, const struct iface_link **ret)
{
	*ret = m->links;
	return m->n_links;
}

size_t iface_monitor_prefixes(const struct iface_monitor *m, const struct iface_prefix **ret)
{
	*ret = m->prefixes;
	return m->n_prefixes;
}

const struct iface_link *iface_monitor_link(const struct iface_monitor *m, int ifindex)
{
	for (size_t i = 0; i < m->n_links; i++)
		if (m->links[i].ifindex == ifindex)
			return &m->links[i];
	return NULL;
}
