/* arpflood: sends ARP requests for one IPv4 address from an AF_PACKET
 * socket and counts the replies, for the L2 benchmarks and lab tests
 * (tests/bench/l2_arp_flood.sh, tests/integration/l2_linkdown.sh).
 *
 *   arpflood IFACE TARGET [--count N] [--rate PPS] [--timeout SECS]
 *            [--linger MS] [--sender-ip IP]
 *
 * Sends N broadcast requests (default 1000) asking for TARGET, as fast as
 * the socket takes them or at PPS per second, never for longer than SECS
 * (default 10), then waits MS milliseconds (default 500) for late replies.
 * The sender IP defaults to IFACE's first IPv4 address. Replies are the ARP
 * replies with sender IP TARGET addressed to IFACE's MAC, received on a
 * second socket whose BPF filter passes nothing else, so the flood of our
 * own requests never fills its queue. Prints one line:
 *
 *   sent=N replies=N send_s=S requests_per_s=R replies_per_s=R
 *   reply_window_s=S macs=MAC/COUNT,...
 *
 * replies_per_s counts replies over the time from the first request sent
 * to the last reply received. Exit status: 0 done (whatever was answered),
 * 1 on a socket error, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ARP_FRAME_LEN 42
#define MAX_MACS 16
#define SEND_BATCH 64
#define RECV_BATCH 256

struct mac_count {
	uint8_t mac[6];
	uint64_t n;
};

struct flood {
	int send_fd, recv_fd;
	int ifindex;
	uint8_t mac[6];
	struct in_addr sender, target;
	uint64_t count, rate, sent, replies;
	double timeout_s, linger_s;
	double t_first_send, t_last_send, t_last_reply;
	struct mac_count macs[MAX_MACS];
	size_t n_macs;
	uint64_t other_macs; /* replies from more MACs than the table holds */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: arpflood IFACE TARGET [--count N] [--rate PPS] [--timeout SECS] "
			"[--linger MS] [--sender-ip IP]\n");
	exit(2);
}

static uint64_t parse_u64(const char *flag, const char *v, uint64_t max)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || x > max) {
		fprintf(stderr, "arpflood: %s: not an integer in 0..%llu: '%s'\n", flag,
			(unsigned long long)max, v);
		exit(2);
	}
	return x;
}

static int iface_ipv4(const char *ifname, struct in_addr *ret)
{
	struct ifaddrs *ifa, *i;
	int r = -EADDRNOTAVAIL;

	if (getifaddrs(&ifa) == -1)
		return -errno;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    strcmp(i->ifa_name, ifname) == 0) {
			*ret = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			r = 0;
			break;
		}
	freeifaddrs(ifa);
	return r;
}

/* Passes ARP replies (opcode 2) whose sender IP is target; drops the rest. */
static int attach_reply_filter(int fd, struct in_addr target)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_ARP, 0, 5),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 28),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(target.s_addr), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == -1 ? -errno : 0;
}

static int open_sockets(struct flood *f, const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr = { 0 };
	int one = 1, rcvbuf = 8 << 20;

	f->ifindex = (int)if_nametoindex(ifname);
	if (!f->ifindex) {
		fprintf(stderr, "arpflood: no interface '%s'\n", ifname);
		return -1;
	}
	/* Protocol 0: the send socket receives nothing. */
	f->send_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	f->recv_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->send_fd == -1 || f->recv_fd == -1) {
		perror("arpflood: socket(AF_PACKET)");
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(f->send_fd, SIOCGIFHWADDR, &ifr) == -1) {
		perror("arpflood: SIOCGIFHWADDR");
		return -1;
	}
	memcpy(f->mac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_ifindex = f->ifindex;
	if (bind(f->send_fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		perror("arpflood: bind (send)");
		return -1;
	}
	/* The filter goes on before the bind that starts the queueing. */
	if (attach_reply_filter(f->recv_fd, f->target) < 0) {
		perror("arpflood: SO_ATTACH_FILTER");
		return -1;
	}
	if (setsockopt(f->recv_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == -1)
		setsockopt(f->recv_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(f->recv_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	sll.sll_protocol = htons(ETH_P_ARP);
	if (bind(f->recv_fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		perror("arpflood: bind (receive)");
		return -1;
	}
	return 0;
}

static void build_request(const struct flood *f, uint8_t frame[ARP_FRAME_LEN])
{
	uint8_t *p = frame;

	memset(p, 0xff, 6);
	memcpy(p + 6, f->mac, 6);
	p[12] = 0x08;
	p[13] = 0x06;
	p += 14;
	p[0] = 0; /* hardware type Ethernet */
	p[1] = 1;
	p[2] = 0x08; /* protocol IPv4 */
	p[3] = 0x00;
	p[4] = 6;
	p[5] = 4;
	p[6] = 0; /* opcode request */
	p[7] = 1;
	memcpy(p + 8, f->mac, 6);
	memcpy(p + 14, &f->sender, 4);
	memset(p + 18, 0, 6);
	memcpy(p + 24, &f->target, 4);
}

static void count_mac(struct flood *f, const uint8_t mac[6])
{
	for (size_t i = 0; i < f->n_macs; i++)
		if (memcmp(f->macs[i].mac, mac, 6) == 0) {
			f->macs[i].n++;
			return;
		}
	if (f->n_macs == MAX_MACS) {
		f->other_macs++;
		return;
	}
	memcpy(f->macs[f->n_macs].mac, mac, 6);
	f->macs[f->n_macs++].n = 1;
}

/* Reads every queued reply; a frame the kernel let through the filter is
 * still checked in full (addressed to us, sender IP the target). */
static void drain(struct flood *f)
{
	uint8_t buf[256];

	for (int i = 0; i < RECV_BATCH; i++) {
		ssize_t n = recv(f->recv_fd, buf, sizeof(buf), 0);
		struct in_addr spa;

		if (n == -1)
			return;
		if (n < ARP_FRAME_LEN || buf[12] != 0x08 || buf[13] != 0x06 || buf[20] != 0 ||
		    buf[21] != 2 || memcmp(buf + 32, f->mac, 6) != 0)
			continue;
		memcpy(&spa, buf + 28, 4);
		if (spa.s_addr != f->target.s_addr)
			continue;
		f->replies++;
		f->t_last_reply = now_s();
		count_mac(f, buf + 22);
	}
}

static int flood_run(struct flood *f)
{
	uint8_t frame[ARP_FRAME_LEN];
	double start = now_s(), deadline = start + f->timeout_s, t;
	struct pollfd pfd = { .fd = f->recv_fd, .events = POLLIN };

	build_request(f, frame);
	f->t_first_send = start;
	while (f->sent < f->count && (t = now_s()) < deadline) {
		uint64_t allowed = f->count, batch;

		if (f->rate) {
			allowed = (uint64_t)((t - start) * (double)f->rate) + 1;
			if (allowed > f->count)
				allowed = f->count;
		}
		batch = allowed > f->sent ? allowed - f->sent : 0;
		if (batch > SEND_BATCH)
			batch = SEND_BATCH;
		for (uint64_t i = 0; i < batch; i++) {
			if (send(f->send_fd, frame, sizeof(frame), 0) == -1) {
				if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
					break;
				perror("arpflood: send");
				return -1;
			}
			f->sent++;
			f->t_last_send = now_s();
		}
		drain(f);
		if (f->rate && f->sent < f->count) {
			double next = start + (double)f->sent / (double)f->rate;
			int ms = (int)((next - now_s()) * 1000);

			if (ms > 0)
				poll(&pfd, 1, ms);
		} else if (!batch) {
			poll(&pfd, 1, 1);
		}
	}
	t = now_s() + f->linger_s;
	while (now_s() < t) {
		int ms = (int)((t - now_s()) * 1000) + 1;

		if (poll(&pfd, 1, ms) > 0)
			drain(f);
	}
	return 0;
}

static void report(const struct flood *f)
{
	double send_s = f->sent ? f->t_last_send - f->t_first_send : 0;
	double win = f->replies ? f->t_last_reply - f->t_first_send : 0;

	printf("sent=%llu replies=%llu send_s=%.3f requests_per_s=%.0f replies_per_s=%.0f "
	       "reply_window_s=%.3f macs=",
	       (unsigned long long)f->sent, (unsigned long long)f->replies, send_s,
	       send_s > 0 ? (double)f->sent / send_s : 0, win > 0 ? (double)f->replies / win : 0,
	       win);
	for (size_t i = 0; i < f->n_macs; i++) {
		const uint8_t *m = f->macs[i].mac;

		printf("%s%02x:%02x:%02x:%02x:%02x:%02x/%llu", i ? "," : "", m[0], m[1], m[2], m[3],
		       m[4], m[5], (unsigned long long)f->macs[i].n);
	}
	if (f->other_macs)
		printf("%sothers/%llu", f->n_macs ? "," : "", (unsigned long long)f->other_macs);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct flood f = {
		.send_fd = -1, .recv_fd = -1, .count = 1000, .timeout_s = 10, .linger_s = 0.5
	};
	const char *ifname, *sender = NULL;
	int i, r;

	if (argc < 3)
		usage();
	ifname = argv[1];
	if (inet_pton(AF_INET, argv[2], &f.target) != 1) {
		fprintf(stderr, "arpflood: TARGET: not an IPv4 address: '%s'\n", argv[2]);
		return 2;
	}
	for (i = 3; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(k, "--count") == 0)
			f.count = parse_u64(k, v, 100000000);
		else if (strcmp(k, "--rate") == 0)
			f.rate = parse_u64(k, v, 100000000);
		else if (strcmp(k, "--timeout") == 0)
			f.timeout_s = (double)parse_u64(k, v, 3600);
		else if (strcmp(k, "--linger") == 0)
			f.linger_s = (double)parse_u64(k, v, 60000) / 1000;
		else if (strcmp(k, "--sender-ip") == 0)
			sender = v;
		else
			usage();
	}
	if (sender) {
		if (inet_pton(AF_INET, sender, &f.sender) != 1) {
			fprintf(stderr, "arpflood: --sender-ip: not an IPv4 address: '%s'\n",
				sender);
			return 2;
		}
	} else if ((r = iface_ipv4(ifname, &f.sender)) < 0) {
		fprintf(stderr, "arpflood: %s has no IPv4 address: set --sender-ip\n", ifname);
		return 2;
	}
	r = open_sockets(&f, ifname) < 0 || flood_run(&f) < 0;
	if (!r)
		report(&f);
	if (f.send_fd != -1)
		close(f.send_fd);
	if (f.recv_fd != -1)
		close(f.recv_fd);
	return r;
}
