/* AF_PACKET sockets for the L2 announcer. */
#include "packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ironlb/loop.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct packet_sock {
	struct loop_io *io;
	int fd;
	int ifindex;
	uint16_t ethertype;
	packet_rx_fn rx;
	void *userdata;
	struct packet_stats stats;
};

static void on_readable(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct packet_sock *ps = userdata;
	uint8_t frame[PACKET_FRAME_MAX];

	(void)io;
	(void)events;
	for (int i = 0; i < PACKET_RX_BUDGET; i++) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		/* MSG_TRUNC makes recvfrom return the real length. */
		ssize_t n = recvfrom(fd, frame, sizeof(frame), MSG_TRUNC | MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);

		if (n == -1)
			return; /* EAGAIN, or an error the next wakeup sees again */
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue; /* kernels without PACKET_IGNORE_OUTGOING */
		ps->stats.received++;
		if ((size_t)n > sizeof(frame)) {
			ps->stats.truncated++;
			ps->rx(ps->userdata, ps->ifindex, frame, sizeof(frame), true);
		} else {
			ps->rx(ps->userdata, ps->ifindex, frame, (size_t)n, false);
		}
	}
}

static int attach_filter(int fd, const struct sock_filter *filter, size_t len)
{
	struct sock_fprog prog = { .len = (unsigned short)len,
				   .filter = (struct sock_filter *)filter };

	if (len > 0xffff)
		return -EINVAL;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == -1)
		return -errno;
	return 0;
}

/* Frames that arrived between socket() and the filter taking effect were
 * not filtered: read and discard them. */
static void drain(int fd)
{
	uint8_t buf[64];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) >= 0)
		;
}

struct packet_sock *packet_sock_new(struct loop *l, int ifindex, uint16_t ethertype,
				    const struct sock_filter *filter, size_t filter_len,
				    packet_rx_fn rx, void *userdata, int *ret_err)
{
	static const struct sock_filter drop_all[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ethertype),
				   .sll_ifindex = ifindex };
	struct packet_sock *ps = calloc(1, sizeof(*ps));
	int one = 1, r;

	if (!ps) {
		r = -ENOMEM;
		goto fail;
	}
	ps->fd = -1;
	ps->ifindex = ifindex;
	ps->ethertype = ethertype;
	ps->rx = rx;
	ps->userdata = userdata;
	/* Protocol 0 at first: nothing is queued before bind and the filter. */
	ps->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ps->fd == -1) {
		r = -errno;
		goto fail;
	}
	if (rx)
		r = filter ? attach_filter(ps->fd, filter, filter_len) : 0;
	else
		r = attach_filter(ps->fd, drop_all, 1);
	if (r < 0)
		goto fail;
	/* Best effort: older kernels lack it, and on_readable checks anyway. */
	setsockopt(ps->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (bind(ps->fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		r = -errno;
		goto fail;
	}
	drain(ps->fd);
	if (rx) {
		r = loop_io_add(l, ps->fd, EPOLLIN, on_readable, ps, &ps->io);
		if (r < 0)
			goto fail;
	}
	return ps;
fail:
	packet_sock_free(ps);
	if (ret_err)
		*ret_err = r;
	return NULL;
}

void packet_sock_free(struct packet_sock *ps)
{
	if (!ps)
		return;
	loop_io_free(ps->io);
	if (ps->fd >= 0)
		close(ps->fd);
	free(ps);
}

int packet_sock_send(struct packet_sock *ps, const uint8_t *frame, size_t len)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ps->ethertype),
				  .sll_ifindex = ps->ifindex,
				  .sll_halen = ETH_ALEN };

	if (len < ETH_HLEN)
		return -EINVAL;
	memcpy(to.sll_addr, frame, ETH_ALEN);
	if (sendto(ps->fd, frame, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) == -1) {
		ps->stats.send_errors++;
		return -errno;
	}
	ps->stats.sent++;
	return 0;
}

int packet_sock_mcast(struct packet_sock *ps, const uint8_t mac[6], bool join)
{
	struct packet_mreq mr = { .mr_ifindex = ps->ifindex,
				  .mr_type = PACKET_MR_MULTICAST,
				  .mr_alen = ETH_ALEN };

	memcpy(mr.mr_address, mac, ETH_ALEN);
	if (setsockopt(ps->fd, SOL_PACKET, join ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP,
		       &mr, sizeof(mr)) == -1)
		return -errno;
	return 0;
}

int packet_sock_ifindex(const struct packet_sock *ps)
{
	return ps->ifindex;
}

void packet_sock_stats(struct packet_sock *ps, struct packet_stats *ret)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	/* The kernel resets its counters on every read: accumulate. */
	if (getsockopt(ps->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		ps->stats.kernel_drops += st.tp_drops;
	*ret = ps->stats;
}
