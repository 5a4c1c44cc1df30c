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

/* One wakeup's worth of frames, read by a single recvmmsg call. */
struct packet_rx_batch {
	struct mmsghdr msgs[PACKET_RX_BUDGET];
	struct iovec iov[PACKET_RX_BUDGET];
	struct sockaddr_ll from[PACKET_RX_BUDGET];
	uint8_t frames[PACKET_RX_BUDGET][PACKET_FRAME_MAX];
};

struct packet_sock {
	struct loop_io *io;
	int fd;
	int ifindex;
	uint16_t ethertype;
	packet_rx_fn rx;
	void *userdata;
	struct packet_rx_batch *batch; /* receiving sockets only */
	bool delivering;	       /* inside on_readable's calls to rx */
	bool freed;		       /* packet_sock_free was called meanwhile */
	struct packet_stats stats;
};

static void destroy(struct packet_sock *ps)
{
	free(ps->batch);
	free(ps);
}

static struct packet_rx_batch *batch_new(void)
{
	struct packet_rx_batch *b = malloc(sizeof(*b));

	if (!b)
		return NULL;
	for (int i = 0; i < PACKET_RX_BUDGET; i++) {
		b->iov[i] = (struct iovec){ .iov_base = b->frames[i], .iov_len = PACKET_FRAME_MAX };
		b->msgs[i].msg_hdr = (struct msghdr){ .msg_name = &b->from[i],
						      .msg_namelen = sizeof(b->from[i]),
						      .msg_iov = &b->iov[i],
						      .msg_iovlen = 1 };
	}
	return b;
}

static void on_readable(struct loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct packet_sock *ps = userdata;
	struct packet_rx_batch *b = ps->batch;
	int n;

	(void)io;
	(void)events;
	/* MSG_TRUNC makes each msg_len the frame's real length. */
	n = recvmmsg(fd, b->msgs, PACKET_RX_BUDGET, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (n <= 0)
		return;		    /* EAGAIN, or an error the next wakeup sees again */
	for (int i = 0; i < n; i++) /* the one field the kernel changed */
		b->msgs[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
	ps->delivering = true;
	for (int i = 0; i < n && !ps->freed; i++) {
		size_t len = b->msgs[i].msg_len;

		if (b->from[i].sll_pkttype == PACKET_OUTGOING)
			continue; /* kernels without PACKET_IGNORE_OUTGOING */
		ps->stats.received++;
		if (len > PACKET_FRAME_MAX || (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			ps->stats.truncated++;
			ps->rx(ps->userdata, ps->ifindex, b->frames[i], PACKET_FRAME_MAX, true);
		} else {
			ps->rx(ps->userdata, ps->ifindex, b->frames[i], len, false);
		}
	}
	ps->delivering = false;
	if (ps->freed)
		destroy(ps);
}

/* The largest receive buffer we may have: SO_RCVBUFFORCE needs
 * CAP_NET_ADMIN, SO_RCVBUF is capped by net.core.rmem_max. Best effort: the
 * default buffer works, it only holds fewer frames. */
static void grow_rcvbuf(struct packet_sock *ps)
{
	int size = PACKET_RCVBUF;
	socklen_t len = sizeof(size);

	if (setsockopt(ps->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) == -1)
		setsockopt(ps->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (getsockopt(ps->fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0 && size > 0)
		ps->stats.rcvbuf = (uint64_t)size;
}

static int attach_filter(int fd, const struct sock_filter *filter, size_t len)
{
	struct sock_fprog prog = { .len = (unsigned short)len,
				   .filter = (struct sock_filter *)filter };

	if (len > 0xffff)
		return -EINVAL;
	if (!filter) {
		int zero = 0;

		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof(zero)) == -1 &&
		    errno != ENOENT)
			return -errno;
		return 0;
	}
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
	if (rx) {
		r = filter ? attach_filter(ps->fd, filter, filter_len) : 0;
		ps->batch = batch_new();
		if (!ps->batch)
			r = -ENOMEM;
		grow_rcvbuf(ps);
	} else {
		r = attach_filter(ps->fd, drop_all, 1);
	}
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
	ps->io = NULL;
	if (ps->fd >= 0)
		close(ps->fd);
	ps->fd = -1;
	if (ps->delivering)
		ps->freed = true; /* on_readable frees it when rx returns */
	else
		destroy(ps);
}

int packet_sock_set_filter(struct packet_sock *ps, const struct sock_filter *filter,
			   size_t filter_len, const struct sock_filter *fallback,
			   size_t fallback_len)
{
	int r, r2;

	if (!ps->rx)
		return -EINVAL;
	r = attach_filter(ps->fd, filter, filter_len);
	if (r == 0)
		return 0;
	/* The kernel charges the new program to the socket's option memory
	 * before it releases the old one: with the (small) fallback in place
	 * there may be room for the new program. */
	r2 = attach_filter(ps->fd, fallback, fallback_len);
	if (r2 == 0 && filter && attach_filter(ps->fd, filter, filter_len) == 0)
		return 0;
	if (r2 < 0)
		attach_filter(ps->fd, NULL, 0); /* then everything of the ethertype */
	return r;
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
