/* Raw Ethernet frames in and out of one interface: an AF_PACKET socket
 * bound to the interface and an ethertype, with a classic BPF filter so the
 * kernel hands us only what we asked for, a receive buffer large enough to
 * ride out a flood while the loop is busy elsewhere, and a bounded number
 * of frames read per wakeup (one recvmmsg call) so a flood never stalls the
 * event loop. */
#ifndef IRONLB_SPEAKER_PACKET_H
#define IRONLB_SPEAKER_PACKET_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames read per wakeup, in one recvmmsg call; the rest wait for the next
 * loop iteration. */
#define PACKET_RX_BUDGET 64
/* Receive buffer asked for on receiving sockets (SO_RCVBUFFORCE when
 * allowed, else SO_RCVBUF, which net.core.rmem_max caps). The kernel
 * doubles the figure and charges each queued frame its whole buffer (about
 * 830 bytes for a 60-byte frame), so a full queue holds about 10,000
 * frames (a quarter of a second of a 40,000/s flood; the default 208 KiB
 * held 250) and costs up to 8 MiB of kernel memory; an empty one costs
 * nothing. */
#define PACKET_RCVBUF (4 << 20)
/* Largest frame we read whole; longer frames are reported truncated. */
#define PACKET_FRAME_MAX 2048

struct loop;
struct packet_sock;

/* frame is the whole Ethernet frame (destination MAC first), valid for the
 * call only. truncated: the frame was longer than PACKET_FRAME_MAX. */
typedef void (*packet_rx_fn)(void *userdata, int ifindex, const uint8_t *frame, size_t len,
			     bool truncated);

/* Opens a socket on ifindex for ethertype (host order, e.g. ETH_P_ARP),
 * with filter (NULL: accept everything of that ethertype) and rx (NULL: a
 * send-only socket, which gets a drop-all filter so nothing queues). Frames
 * this host sends are never delivered back. rx may free the socket (or
 * others): the batch being delivered stops there. */
struct packet_sock *packet_sock_new(struct loop *l, int ifindex, uint16_t ethertype,
				    const struct sock_filter *filter, size_t filter_len,
				    packet_rx_fn rx, void *userdata, int *ret_err);
void packet_sock_free(struct packet_sock *ps);

/* Replaces a receiving socket's filter (NULL: accept everything of the
 * ethertype); frames already queued stay. If the kernel refuses filter
 * (e.g. net.core.optmem_max is too small for it), fallback is attached
 * instead (NULL: none), and the error is returned. 0 or -errno. */
int packet_sock_set_filter(struct packet_sock *ps, const struct sock_filter *filter,
			   size_t filter_len, const struct sock_filter *fallback,
			   size_t fallback_len);

/* Sends one frame (destination MAC taken from the frame). 0 or -errno. */
int packet_sock_send(struct packet_sock *ps, const uint8_t *frame, size_t len);

/* Adds or drops a link-layer multicast address (e.g. the solicited-node
 * group 33:33:ff:xx:xx:xx) on the interface for as long as the socket is
 * open. 0 or -errno. */
int packet_sock_mcast(struct packet_sock *ps, const uint8_t mac[6], bool join);

int packet_sock_ifindex(const struct packet_sock *ps);

/* Frames seen, dropped by the kernel for lack of buffer (PACKET_STATISTICS),
 * and read truncated; the receive buffer the kernel granted (bytes, as
 * SO_RCVBUF reads: twice what was asked for). */
struct packet_stats {
	uint64_t received;
	uint64_t rcvbuf;
	uint64_t truncated;
	uint64_t kernel_drops;
	uint64_t sent;
	uint64_t send_errors;
};
void packet_sock_stats(struct packet_sock *ps, struct packet_stats *ret);

#endif
