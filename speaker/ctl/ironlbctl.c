/* ironlbctl: the debug CLI. Talks to a speaker's control socket and prints
 * that node's view: every address, who owns it and why, and every peer. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ironlb/daemon.h"
#include "ironlb/parse.h"

#define PROG "ironlbctl"
#define DEFAULT_SOCKET "/run/ironlb/speaker.sock"
#define REPLY_MAX (16u << 20)

static void usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " [--socket PATH] [--timeout DUR] COMMAND [--json]\n"
		   "\n"
		   "Commands:\n"
		   "  status                 this node's view: addresses, owners, roles, peers,\n"
		   "                         datapath rules\n"
		   "\n"
		   "Flags:\n"
		   "  --socket PATH          the speaker's control socket\n"
		   "                         (default " DEFAULT_SOCKET ")\n"
		   "  --timeout DUR          how long to wait for the speaker (default 5s)\n"
		   "  --json                 print the speaker's answer as JSON\n"
		   "  --help                 show this help and exit\n"
		   "  --version              show the version and exit\n");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends request and reads the one-line reply; returns a new JSON reference
 * or NULL after printing why. */
static json_t *call(const char *path, const char *request, uint64_t timeout_us)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + (int64_t)(timeout_us / 1000);
	size_t len = 0, cap = 0;
	char *buf = NULL;
	json_error_t jerr;
	json_t *reply;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, PROG ": --socket: path too long\n");
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* connect() and send() block while a wedged speaker's backlog is
	 * full; the send timeout bounds both (Linux, AF_UNIX). */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO,
			   &(struct timeval){ .tv_sec = (time_t)(timeout_us / 1000000),
					      .tv_usec = (suseconds_t)(timeout_us % 1000000) },
			   sizeof(struct timeval));
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, PROG ": cannot reach the speaker at %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) == -1) {
		fprintf(stderr, PROG ": sending to %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			fprintf(stderr, PROG ": no answer from %s within the timeout\n", path);
			goto fail;
		}
		if (len + 4096 + 1 > cap) {
			char *b;

			cap = cap ? cap * 2 : 8192;
			if (cap > REPLY_MAX) {
				fprintf(stderr, PROG ": answer from %s is too large\n", path);
				goto fail;
			}
			b = realloc(buf, cap);
			if (!b)
				goto fail;
			buf = b;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == -1) {
			fprintf(stderr, PROG ": reading from %s: %s\n", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	reply = json_loadb(buf ? buf : "", len, 0, &jerr); /* new */
	free(buf);
	if (!reply)
		fprintf(stderr, PROG ": the speaker's answer is not valid JSON: %s\n", jerr.text);
	return reply;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key)); /* borrowed */

	return s ? s : dflt;
}

static void print_age_ms(json_t *v)
{
	char buf[32];

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		printf("%-10s", format_duration_us((uint64_t)json_integer_value(v) * 1000, buf,
						   sizeof(buf)));
	else
		printf("%-10s", "-");
}

/* "    datapath: tcp 192.0.2.200:80 -> NodePort 30080" per rule. */
static void print_rules(json_t *rules)
{
	json_t *r;
	size_t i;

	json_array_foreach (rules, i, r)
		printf("    datapath: %s\n", json_string_value(r) ? json_string_value(r) : "?");
}

/* The datapath section: mode, and per address its rules and counts. */
static void print_datapath(json_t *dp)
{
	json_t *addrs = json_object_get(dp, "addresses"); /* borrowed */
	json_t *v;
	size_t i;

	if (!dp)
		return;
	printf("\nDATAPATH  %s", str_or(dp, "mode", "?"));
	if (strcmp(str_or(dp, "mode", ""), "nodeport") == 0)
		printf("  (nftables table %s, %s, %lld rules, %lld repairs, %lld conflicts)",
		       str_or(dp, "table", "?"),
		       json_is_true(json_object_get(dp, "applied")) ? "applied" : "NOT APPLIED",
		       (long long)json_integer_value(json_object_get(dp, "rules")),
		       (long long)json_integer_value(json_object_get(dp, "repairs")),
		       (long long)json_integer_value(json_object_get(dp, "conflicts")));
	else
		printf("  (kube-proxy serves the announced addresses itself)");
	printf("\n");
	if (strcmp(str_or(dp, "mode", ""), "nodeport") == 0 && !json_array_size(addrs))
		printf("  (no address steered)\n");
	json_array_foreach (addrs, i, v) {
		printf("  %s  (%lld packets, %lld bytes steered)\n", str_or(v, "address", "?"),
		       (long long)json_integer_value(json_object_get(v, "packets")),
		       (long long)json_integer_value(json_object_get(v, "bytes")));
		print_rules(json_object_get(v, "rules"));
	}
}

/* BGP: BIRD, its configuration, sessions, peers this node does not use
 * and why, and what this node advertises (or why not). */
static void print_bgp(json_t *bgp)
{
	json_t *cfg = json_object_get(bgp, "config"), *v;
	json_t *sessions = json_object_get(bgp, "sessions");
	json_t *peers = json_object_get(bgp, "peers");
	json_t *pols = json_object_get(bgp, "policies");
	json_t *addrs = json_object_get(bgp, "addresses");
	size_t i;

	if (!bgp)
		return;
	if (!json_array_size(peers) && !json_array_size(pols)) {
		printf("\nBGP  no BGPPeer or BGPAdvertisement applies to this node (BIRD %s)\n",
		       str_or(bgp, "bird", "?"));
		return;
	}
	printf("\nBGP  BIRD %s at %s", str_or(bgp, "bird", "?"), str_or(bgp, "bird_socket", "?"));
	printf(", configuration %s", str_or(cfg, "state", "?"));
	if (*str_or(cfg, "message", ""))
		printf(" (%s)", str_or(cfg, "message", ""));
	printf(", %lld prefixes\n", (long long)json_integer_value(json_object_get(bgp, "routes")));
	if (json_array_size(sessions))
		printf("  %-24s %-40s %-8s %s\n", "SESSION", "PEER ADDRESS", "STATE", "INFO");
	json_array_foreach (sessions, i, v)
		printf("  %-24s %-40s %-8s %s (since %s)\n", str_or(v, "peer", "?"),
		       str_or(v, "address", "-"), str_or(v, "state", "?"), str_or(v, "info", ""),
		       str_or(v, "since", "-"));
	json_array_foreach (peers, i, v)
		if (strcmp(str_or(v, "state", ""), "used") != 0)
			printf("  peer %s (%s) not used on this node: %s\n", str_or(v, "name", "?"),
			       str_or(v, "address", "-"), str_or(v, "why", "?"));
	json_array_foreach (pols, i, v)
		printf("  policy: BGPAdvertisement %s -> kernel table %lld\n",
		       str_or(v, "advertisement", "?"),
		       (long long)json_integer_value(json_object_get(v, "table")));
	if (json_array_size(addrs))
		printf("  %-40s %-30s %s\n", "ADDRESS", "SERVICE", "ADVERTISED");
	json_array_foreach (addrs, i, v) {
		if (json_is_true(json_object_get(v, "advertised")))
			printf("  %-40s %-30s yes, by %s\n", str_or(v, "address", "?"),
			       str_or(v, "service", "-"), str_or(v, "advertisement", "?"));
		else
			printf("  %-40s %-30s no: %s\n", str_or(v, "address", "?"),
			       str_or(v, "service", "-"), str_or(v, "why", "?"));
	}
}

static void print_status(json_t *st)
{
	json_t *addrs = json_object_get(st, "addresses"); /* borrowed */
	json_t *peers = json_object_get(st, "peers");	  /* borrowed */
	json_t *ahead, *v;
	size_t i;

	printf("node %s  (speaker %s, namespace %s, up ", str_or(st, "node", "?"),
	       str_or(st, "version", "?"), str_or(st, "namespace", "?"));
	print_age_ms(json_object_get(st, "uptime_ms"));
	printf(")\nready: %s\n\n", json_is_true(json_object_get(st, "ready")) ? "yes" : "no");

	printf("ADDRESSES\n");
	if (!json_array_size(addrs))
		printf("  (none)\n");
	else
		printf("  %-40s %-30s %-16s %-10s %-12s %s\n", "ADDRESS", "SERVICE", "OWNER",
		       "ROLE", "INTERFACE", "WHY");
	json_array_foreach (addrs, i, v) {
		printf("  %-40s %-30s %-16s %-10s %-12s %s\n", str_or(v, "address", "?"),
		       str_or(v, "service", "-"), str_or(v, "owner", "-"), str_or(v, "role", "-"),
		       str_or(v, "interface", "-"), str_or(v, "reason", ""));
		if (json_object_get(v, "conflict"))
			printf("    CONFLICT: %s\n", str_or(v, "conflict", "yes"));
		print_rules(json_object_get(v, "datapath"));
	}
	ahead = json_object_get(st, "probe_ahead");
	if (json_array_size(ahead)) {
		printf("\nPROBED AHEAD (pools' next addresses, no Service yet)\n");
		printf("  %-40s %-20s %-10s %-12s %s\n", "ADDRESS", "POOL", "STATE", "INTERFACE",
		       "LAST CLEAR ROUND (AGO)");
	}
	json_array_foreach (ahead, i, v) {
		printf("  %-40s %-20s %-10s %-12s ", str_or(v, "address", "?"),
		       str_or(v, "pool", "-"), str_or(v, "state", "-"),
		       str_or(v, "interface", "-"));
		print_age_ms(json_object_get(v, "last_clear_ms"));
		if (json_object_get(v, "conflict"))
			printf("  CONFLICT: held by %s", str_or(v, "conflict", "?"));
		if (json_is_true(json_object_get(v, "in_use")))
			printf("  (in use: the Lease asks the controller to skip it)");
		printf("\n");
	}
	printf("\nPEERS\n");
	if (!json_array_size(peers))
		printf("  (none)\n");
	else
		printf("  %-24s %-40s %-8s %s\n", "NODE", "HEARTBEAT ADDRESS", "ALIVE",
		       "LAST HEARTBEAT");
	json_array_foreach (peers, i, v) {
		printf("  %-24s %-40s %-8s ", str_or(v, "node", "?"), str_or(v, "address", "-"),
		       json_is_true(json_object_get(v, "alive")) ? "yes" : "no");
		print_age_ms(json_object_get(v, "last_heartbeat_ms"));
		printf("\n");
	}
	print_datapath(json_object_get(st, "datapath"));
	print_bgp(json_object_get(st, "bgp"));
}

int main(int argc, char **argv)
{
	/* Ids from 0x100, as daemon_bad_flag() expects of long flags. */
	enum { OPT_SOCKET = 0x100, OPT_TIMEOUT, OPT_JSON, OPT_HELP, OPT_VERSION };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	const char *socket_path = DEFAULT_SOCKET, *command;
	uint64_t timeout_us = 5000000;
	bool as_json = false;
	json_t *reply;
	int opt, rc;

	while ((opt = daemon_getopt(argc, argv, opts)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			if (!*optarg ||
			    strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
				fprintf(stderr,
					PROG ": --socket: path empty or longer than 107 bytes\n");
				return 2;
			}
			socket_path = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_duration_us(optarg, &timeout_us) < 0 || !timeout_us) {
				fprintf(stderr, PROG ": --timeout: invalid duration \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case OPT_JSON:
			as_json = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf(PROG " %s\n", ironlb_version);
			return 0;
		default:
			daemon_bad_flag(PROG, optopt, argv, optind);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": missing command (see --help)\n");
		return 2;
	}
	command = argv[optind++];
	if (strcmp(command, "status") != 0) {
		fprintf(stderr, PROG ": unknown command \"%s\" (see --help)\n", command);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return 2;
	}
	reply = call(socket_path, "{\"command\":\"status\"}\n", timeout_us);
	if (!reply)
		return 1;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, PROG ": the speaker refused: %s\n", str_or(reply, "error", "?"));
		json_decref(reply);
		return 1;
	}
	rc = 0;
	if (as_json) {
		json_object_del(reply, "ok");
		if (json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) < 0)
			rc = 1;
		printf("\n");
	} else {
		print_status(reply);
	}
	json_decref(reply);
	return rc;
}
