/* Raw Ethernet frames in and out of one interface: an AF_PACKET socket
 * bound to the interface and an ethertype, with a classic BPF filter so the
 * kernel hands us only what we asked for, and a bounded number of frames
 * read per wakeup so a flood never stalls the event loop. */
#ifndef IRONLB_SPEAKER_PACKET_H
#define IRONLB_SPEAKER_PACKET_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames read per wakeup; the rest wait for the next loop iteration. */
#define PACKET_RX_BUDGET 64
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
 * this host sends are never delivered back. */
struct packet_sock *packet_sock_new(struct loop *l, int ifindex, uint16_t ethertype,
				    const struct sock_filter *filter, size_t filter_len,
				    packet_rx_fn rx, void *userdata, int *ret_err);
void packet_sock_free(struct packet_sock *ps);

/* Sends one frame (destination MAC taken from the frame). 0 or -errno. */
int packet_sock_send(struct packet_sock *ps, const uint8_t *frame, size_t len);

/* Adds or drops a link-layer multicast address (e.g. the solicited-node
 * group 33:33:ff:xx:xx:xx) on the interface for as long as the socket is
 * open. 0 or -errno. */
int packet_sock_mcast(struct packet_sock *ps, const uint8_t mac[6], bool join);

int packet_sock_ifindex(const struct packet_sock *ps);

/* Frames seen, dropped by the kernel for lack of buffer (PACKET_STATISTICS),
 * and read truncated. */
struct packet_stats {
	uint64_t received;
	uint64_t truncated;
	uint64_t kernel_drops;
	uint64_t sent;
	uint64_t send_errors;
};
void packet_sock_stats(struct packet_sock *ps, struct packet_stats *ret);

#endif
