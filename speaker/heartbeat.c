/* The heartbeat mesh's I/O: one UDP socket, one send timer, one liveness
 * timer armed to the earliest peer deadline. The datagram format, replay
 * rule and liveness rule are pure code in heartbeat_proto.c. */
#include "heartbeat.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ironlb/loop.h"

#define HB_RX_BUDGET 256

struct hb_peer {
	char *name;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct heartbeat_peer state;
};

struct heartbeat {
	struct loop *loop;
	int fd;
	struct loop_io *io;
	struct loop_timer *send_timer;
	struct loop_timer *dead_timer;
	char node[HEARTBEAT_NAME_MAX + 1];
	struct heartbeat_key key;
	uint64_t interval_us;
	struct heartbeat_params params;
	uint64_t incarnation;
	uint64_t seq;
	struct hb_peer *peers;
	size_t n_peers;
	struct ip_addr *owned;
	size_t n_owned;
	uint64_t owned_digest;
	heartbeat_change_fn fn;
	void *userdata;
	struct heartbeat_stats stats;
	int port;
};

static struct hb_peer *find_peer(const struct heartbeat *hb, const char *name)
{
	for (size_t i = 0; i < hb->n_peers; i++)
		if (strcmp(hb->peers[i].name, name) == 0)
			return &hb->peers[i];
	return NULL;
}

static void arm_dead_timer(struct heartbeat *hb)
{
	uint64_t earliest = UINT64_MAX;

	for (size_t i = 0; i < hb->n_peers; i++) {
		uint64_t d = heartbeat_peer_deadline(&hb->peers[i].state, &hb->params);

		if (d < earliest)
			earliest = d;
	}
	if (earliest == UINT64_MAX)
		loop_timer_disarm(hb->dead_timer);
	else
		loop_timer_arm_at(hb->dead_timer, earliest);
}

static void notify(struct heartbeat *hb, struct hb_peer *p, unsigned events)
{
	if (!hb->fn)
		return;
	if (events & HEARTBEAT_BECAME_ALIVE)
		hb->fn(hb->userdata, p->name, HEARTBEAT_PEER_ALIVE);
	if (events & HEARTBEAT_BECAME_DEAD)
		hb->fn(hb->userdata, p->name, HEARTBEAT_PEER_DEAD);
}

static int build(struct heartbeat *hb, uint8_t flags, uint8_t *buf, size_t size)
{
	struct heartbeat_msg m = { 0 };
	uint32_t offset;

	m.flags = flags;
	m.mac_len = HEARTBEAT_MAC_SHORT;
	snprintf(m.name, sizeof(m.name), "%s", hb->node);
	m.incarnation = hb->incarnation;
	m.seq = ++hb->seq;
	m.sent_us = loop_wall_us();
	m.interval_ms = (uint16_t)(hb->interval_us / 1000 ? hb->interval_us / 1000 : 1);
	m.owned_count = (uint32_t)hb->n_owned;
	m.owned_digest = hb->owned_digest;
	offset = heartbeat_list_page(m.owned_count, m.seq, &m.n_listed);
	m.listed_offset = offset;
	if (m.n_listed)
		memcpy(m.listed, hb->owned + offset, m.n_listed * sizeof(struct ip_addr));
	return heartbeat_encode(&m, &hb->key, buf, size);
}

static void send_all(struct heartbeat *hb, uint8_t flags)
{
	uint8_t buf[HEARTBEAT_MAX_LEN];
	int len = build(hb, flags, buf, sizeof(buf));

	if (len < 0) {
		hb->stats.send_errors++;
		return;
	}
	for (size_t i = 0; i < hb->n_peers; i++) {
		struct hb_peer *p = &hb->peers[i];

		if (sendto(hb->fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&p->addr,
			   p->addr_len) == -1)
			hb->stats.send_errors++;
		else
			hb->stats.sent++;
	}
}

static void on_send_timer(struct loop_timer *t, void *userdata)
{
	struct heartbeat *hb = userdata;

	/* Re-arm first, from the deadline rather than from now, so the
	 * interval does not drift with the time spent sending. */
	loop_timer_arm_at(t, loop_timer_deadline(t) ? loop_timer_deadline(t) + hb->interval_us
						    : loop_now_us() + hb->interval_us);
	send_all(hb, 0);
}

static void on_dead_timer(struct loop_timer *t, void *userdata)
{
	struct heartbeat *hb = userdata;
	uint64_t now = loop_now_us();

	(void)t;
	for (size_t i = 0; i < hb->n_peers; i++)
		notify(hb, &hb->peers[i],
		       heartbeat_peer_tick(&hb->peers[i].state, now, &hb->params));
	arm_dead_timer(hb);
}

static void on_readable(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct heartbeat *hb = userdata;
	uint8_t buf[HEARTBEAT_MAX_LEN + 1];

	(void)io;
	(void)events;
	for (int i = 0; i < HB_RX_BUDGET; i++) {
		struct heartbeat_msg m;
		enum heartbeat_result r;
		struct hb_peer *p;
		unsigned ev = 0;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == -1)
			break;
		r = heartbeat_decode(buf, (size_t)n, &hb->key, &m);
		if (r != HEARTBEAT_OK) {
			heartbeat_counters_add(&hb->stats.rejected, r);
			continue;
		}
		p = find_peer(hb, m.name);
		if (!p) {
			/* Our own datagrams (a peer list that names us) land
			 * here too, and are no one's heartbeat. */
			hb->stats.unknown_peer++;
			continue;
		}
		r = heartbeat_peer_receive(&p->state, &m, loop_now_us(), &hb->params, &ev);
		if (r != HEARTBEAT_OK) {
			heartbeat_counters_add(&hb->stats.rejected, r);
			continue;
		}
		hb->stats.received++;
		notify(hb, p, ev);
	}
	arm_dead_timer(hb);
}

struct heartbeat *heartbeat_new(struct loop *l, const struct heartbeat_cfg *cfg,
				heartbeat_change_fn fn, void *userdata, int *ret_err)
{
	struct heartbeat *hb;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int r = -ENOMEM, zero = 0;

	if (!cfg->interval_us || !cfg->misses || strlen(cfg->node) > HEARTBEAT_NAME_MAX ||
	    cfg->key->len < HEARTBEAT_KEY_MIN) {
		r = -EINVAL;
		goto fail_early;
	}
	hb = calloc(1, sizeof(*hb));
	if (!hb)
		goto fail_early;
	hb->loop = l;
	hb->fd = -1;
	hb->fn = fn;
	hb->userdata = userdata;
	hb->interval_us = cfg->interval_us;
	hb->params = (struct heartbeat_params)HEARTBEAT_PARAMS_DEFAULT;
	hb->params.misses = cfg->misses;
	snprintf(hb->node, sizeof(hb->node), "%s", cfg->node);
	hb->key = *cfg->key;
	/* A random incarnation per process start: a restarted speaker is a
	 * new life to its peers, and its old datagrams can never replay. */
	do {
		if (getrandom(&hb->incarnation, sizeof(hb->incarnation), 0) !=
		    (ssize_t)sizeof(hb->incarnation)) {
			r = -EIO;
			goto fail;
		}
	} while (!hb->incarnation);
	hb->fd = socket(cfg->listen.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (hb->fd == -1)
		goto fail_errno;
	if (cfg->listen.ss_family == AF_INET6)
		setsockopt(hb->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(hb->fd, (const struct sockaddr *)&cfg->listen, cfg->listen_len) == -1)
		goto fail_errno;
	if (getsockname(hb->fd, (struct sockaddr *)&ss, &sslen) == 0)
		hb->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							  : ((struct sockaddr_in *)&ss)->sin_port);
	hb->send_timer = loop_timer_new(l, on_send_timer, hb);
	hb->dead_timer = loop_timer_new(l, on_dead_timer, hb);
	if (!hb->send_timer || !hb->dead_timer)
		goto fail;
	r = loop_io_add(l, hb->fd, EPOLLIN, on_readable, hb, &hb->io);
	if (r < 0)
		goto fail;
	loop_timer_arm(hb->send_timer, 0);
	return hb;
fail_errno:
	r = -errno;
fail:
	heartbeat_free(hb, false);
fail_early:
	if (ret_err)
		*ret_err = r;
	return NULL;
}

static void free_peers(struct hb_peer *peers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(peers[i].name);
	free(peers);
}

void heartbeat_free(struct heartbeat *hb, bool leaving)
{
	if (!hb)
		return;
	if (leaving && hb->fd >= 0)
		send_all(hb, HEARTBEAT_FLAG_LEAVING);
	loop_io_free(hb->io);
	loop_timer_free(hb->send_timer);
	loop_timer_free(hb->dead_timer);
	if (hb->fd >= 0)
		close(hb->fd);
	free_peers(hb->peers, hb->n_peers);
	free(hb->owned);
	heartbeat_key_clear(&hb->key);
	free(hb);
}

int heartbeat_set_peers(struct heartbeat *hb, const struct heartbeat_peer_addr *peers, size_t n)
{
	struct hb_peer *np = calloc(n ? n : 1, sizeof(*np));
	size_t k = 0;

	if (!np)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct hb_peer *old;
		bool dup = false;

		if (strcmp(peers[i].name, hb->node) == 0)
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= strcmp(np[j].name, peers[i].name) == 0;
		if (dup)
			continue;
		np[k].name = strdup(peers[i].name);
		if (!np[k].name) {
			free_peers(np, k);
			return -ENOMEM;
		}
		np[k].addr = peers[i].addr;
		np[k].addr_len = peers[i].addr_len;
		old = find_peer(hb, peers[i].name);
		if (old)
			np[k].state = old->state;
		else
			heartbeat_peer_init(&np[k].state);
		k++;
	}
	free_peers(hb->peers, hb->n_peers);
	hb->peers = np;
	hb->n_peers = k;
	arm_dead_timer(hb);
	return 0;
}

int heartbeat_set_owned(struct heartbeat *hb, const struct ip_addr *sorted, size_t n)
{
	struct ip_addr *o = malloc((n ? n : 1) * sizeof(*o));

	if (!o)
		return -ENOMEM;
	memcpy(o, sorted, n * sizeof(*o));
	free(hb->owned);
	hb->owned = o;
	hb->n_owned = n;
	hb->owned_digest = heartbeat_owned_digest(sorted, n);
	return 0;
}

enum heartbeat_liveness heartbeat_liveness(const struct heartbeat *hb, const char *peer)
{
	const struct hb_peer *p = find_peer(hb, peer);

	return p ? p->state.liveness : HEARTBEAT_PEER_UNKNOWN;
}

size_t heartbeat_forget_liveness(struct heartbeat *hb)
{
	size_t n = 0;

	for (size_t i = 0; i < hb->n_peers; i++) {
		if (hb->peers[i].state.liveness != HEARTBEAT_PEER_UNKNOWN)
			n++;
		hb->peers[i].state.liveness = HEARTBEAT_PEER_UNKNOWN;
	}
	arm_dead_timer(hb); /* no ALIVE peer left: nothing to time out */
	return n;
}

size_t heartbeat_peer_count(const struct heartbeat *hb)
{
	return hb->n_peers;
}

const char *heartbeat_peer_name(const struct heartbeat *hb, size_t i,
				const struct heartbeat_peer **ret_state,
				const struct sockaddr_storage **ret_addr)
{
	if (i >= hb->n_peers)
		return NULL;
	if (ret_state)
		*ret_state = &hb->peers[i].state;
	if (ret_addr)
		*ret_addr = &hb->peers[i].addr;
	return hb->peers[i].name;
}

const struct heartbeat_stats *heartbeat_stats(const struct heartbeat *hb)
{
	return &hb->stats;
}

int heartbeat_port(const struct heartbeat *hb)
{
	return hb->port;
}
