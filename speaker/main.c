/* ironlb-speaker: runs on every node and announces the addresses this node
 * should answer for. This file is the process's start-up: flags, logging,
 * signals, the probes endpoint, the control socket and the event loop. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgp.h"
#include "control.h"
#include "objects.h"
#include "speaker.h"
#include "ironlb/daemon.h"
#include "ironlb/httpd.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"
#include "ironlb/parse.h"

#define PROG "ironlb-speaker"
#define SPEAKER_DEFAULT_HEALTH_ADDR ":7481"

enum {
	OPT_NODE_NAME = DAEMON_OPT_FIRST_PRIVATE,
	OPT_CONTROL_SOCKET,
	OPT_HB_KEY_FILE,
	OPT_HB_INTERVAL,
	OPT_HB_MISSES,
	OPT_HB_ADDR,
	OPT_ON_CONFLICT,
	OPT_GARP_REFRESH,
	OPT_ANNOUNCE_COUNT,
	OPT_ANNOUNCE_INTERVAL,
	OPT_PROBE_COUNT,
	OPT_PROBE_INTERVAL,
	OPT_PROBE_AHEAD_INTERVAL,
	OPT_IGNORE_EXCLUDE_LB,
	OPT_LB_CLASS,
	OPT_DATAPATH,
	OPT_BIRD_CONFIG,
	OPT_BIRD_SOCKET,
	OPT_BGP_TABLE_BASE,
	OPT_BGP_TABLE_COUNT,
};

static const struct option long_options[] = {
	DAEMON_COMMON_OPTIONS,
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
	{ "heartbeat-key-file", required_argument, NULL, OPT_HB_KEY_FILE },
	{ "heartbeat-interval", required_argument, NULL, OPT_HB_INTERVAL },
	{ "heartbeat-misses", required_argument, NULL, OPT_HB_MISSES },
	{ "heartbeat-addr", required_argument, NULL, OPT_HB_ADDR },
	{ "on-conflict", required_argument, NULL, OPT_ON_CONFLICT },
	{ "garp-refresh", required_argument, NULL, OPT_GARP_REFRESH },
	{ "announce-count", required_argument, NULL, OPT_ANNOUNCE_COUNT },
	{ "announce-interval", required_argument, NULL, OPT_ANNOUNCE_INTERVAL },
	{ "probe-count", required_argument, NULL, OPT_PROBE_COUNT },
	{ "probe-interval", required_argument, NULL, OPT_PROBE_INTERVAL },
	{ "probe-ahead-interval", required_argument, NULL, OPT_PROBE_AHEAD_INTERVAL },
	{ "ignore-exclude-lb", no_argument, NULL, OPT_IGNORE_EXCLUDE_LB },
	{ "lb-class", required_argument, NULL, OPT_LB_CLASS },
	{ "datapath", required_argument, NULL, OPT_DATAPATH },
	{ "bird-config", required_argument, NULL, OPT_BIRD_CONFIG },
	{ "bird-socket", required_argument, NULL, OPT_BIRD_SOCKET },
	{ "bgp-table-base", required_argument, NULL, OPT_BGP_TABLE_BASE },
	{ "bgp-table-count", required_argument, NULL, OPT_BGP_TABLE_COUNT },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [FLAGS]\n"
		"\n"
		"Announces the LoadBalancer and external addresses this node answers for.\n"
		"\n"
		"Flags:\n" DAEMON_COMMON_HELP
		"  --health-addr ADDR     listen address for /healthz, /readyz and /metrics\n"
		"                         (default " SPEAKER_DEFAULT_HEALTH_ADDR ")\n"
		"  --node-name NAME       this node's name (default: env NODE_NAME)\n"
		"  --control-socket PATH  ironlbctl's socket (default " CONTROL_DEFAULT_SOCKET ")\n"
		"  --heartbeat-key-file FILE\n"
		"                         the heartbeats' shared HMAC key (required)\n"
		"  --heartbeat-interval DUR\n"
		"                         time between heartbeats (default 100ms)\n"
		"  --heartbeat-misses N   intervals without a heartbeat before a peer is dead\n"
		"                         (default 3)\n"
		"  --heartbeat-addr IP[:PORT]\n"
		"                         where peers send heartbeats (default: the Node's\n"
		"                         InternalIP, else the default route's interface\n"
		"                         address; port 7482)\n"
		"  --on-conflict POLICY   withdraw|announce: what to do when another host\n"
		"                         holds a claimed address (default withdraw)\n"
		"  --garp-refresh DUR     re-announce owned addresses this often (default 0: off)\n"
		"  --announce-count N     gratuitous ARPs / unsolicited NAs per burst (default 3)\n"
		"  --announce-interval DUR\n"
		"                         time between them (default 250ms)\n"
		"  --probe-count N        ARP probes / DAD solicitations before first claiming\n"
		"                         an address nobody announced (default 3; 0: no\n"
		"                         probing, so no conflict check before the claim)\n"
		"  --probe-interval DUR   time between probes, and the wait after the last\n"
		"                         (default 100ms)\n"
		"  --probe-ahead-interval DUR\n"
		"                         probe each pool's next address (its status.nextIPv4/\n"
		"                         nextIPv6) this often before a Service gets it, so\n"
		"                         that the Service is announced at once (default 10s;\n"
		"                         0: no probing ahead)\n"
		"  --ignore-exclude-lb    announce from nodes labelled\n"
		"                         node.kubernetes.io/exclude-from-external-load-balancers\n"
		"                         (must be the same on every speaker)\n"
		"  --lb-class CLASS       the spec.loadBalancerClass handled (default\n"
		"                         ironlb.io/lb; Services without a class too)\n"
		"  --datapath MODE        off|nodeport: off (default) leaves the announced\n"
		"                         addresses to kube-proxy; nodeport steers\n"
		"                         address:port to this node's NodePort (else the\n"
		"                         ClusterIP) in nftables table inet ironlb\n"
		"  --bird-config FILE     BIRD configuration the speaker writes (default\n"
		"                         " BGP_DEFAULT_BIRD_CONFIG ")\n"
		"  --bird-socket PATH     BIRD's control socket (default\n"
		"                         " BGP_DEFAULT_BIRD_SOCKET ")\n"
		"  --bgp-table-base N     first kernel routing table of the BGP policies\n"
		"                         (default %u; never used for forwarding)\n"
		"  --bgp-table-count N    kernel tables, i.e. BGPAdvertisements at most\n"
		"                         (default %u)\n",
		(unsigned)BGP_DEFAULT_TABLE_BASE, (unsigned)BGP_DEFAULT_TABLE_COUNT);
}

/* Returns 0 to run, 1 to exit 0 (help, version), 2 on a bad flag. */
static int parse_args(int argc, char **argv, struct speaker_opts *o)
{
	uint64_t v;
	int opt;

	daemon_opts_init(&o->common, PROG, SPEAKER_DEFAULT_HEALTH_ADDR);
	o->control_socket = CONTROL_DEFAULT_SOCKET;
	o->hb_interval_us = 100000;
	o->hb_misses = 3;
	o->announce = (struct announce_cfg)ANNOUNCE_CFG_DEFAULT;
	o->lb_class = "ironlb.io/lb";
	while ((opt = daemon_getopt(argc, argv, long_options)) != -1) {
		int r = daemon_opts_parse(&o->common, opt, optarg);

		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_NODE_NAME:
			if (!dns1123_subdomain_valid(optarg)) {
				daemon_flag_error(PROG, "--node-name",
						  "\"%s\" is not a valid node name", optarg);
				return 2;
			}
			o->node_name = optarg;
			break;
		case OPT_CONTROL_SOCKET:
			if (!*optarg || strlen(optarg) >= 108) {
				daemon_flag_error(PROG, "--control-socket",
						  "path empty or longer than 107 bytes");
				return 2;
			}
			o->control_socket = optarg;
			break;
		case OPT_HB_KEY_FILE:
			o->hb_key_file = optarg;
			break;
		case OPT_HB_INTERVAL:
			if (parse_duration_us(optarg, &v) < 0 || v < 10000 || v > 10000000) {
				daemon_flag_error(PROG, "--heartbeat-interval",
						  "\"%s\" is not a duration between 10ms and 10s",
						  optarg);
				return 2;
			}
			o->hb_interval_us = v;
			break;
		case OPT_HB_MISSES:
			if (parse_uint(optarg, 1, 100, &v) < 0) {
				daemon_flag_error(PROG, "--heartbeat-misses",
						  "\"%s\" is not a number from 1 to 100", optarg);
				return 2;
			}
			o->hb_misses = (unsigned)v;
			break;
		case OPT_HB_ADDR: {
			struct sockaddr_storage ss;
			socklen_t sl;

			if (obj_parse_hostport(optarg, 7482, &ss, &sl) < 0) {
				daemon_flag_error(PROG, "--heartbeat-addr",
						  "\"%s\" is not IP, IP:PORT or [IPv6]:PORT",
						  optarg);
				return 2;
			}
			o->hb_addr = optarg;
			break;
		}
		case OPT_ON_CONFLICT:
			if (strcmp(optarg, "withdraw") == 0)
				o->announce.on_conflict = ANNOUNCE_ON_CONFLICT_WITHDRAW;
			else if (strcmp(optarg, "announce") == 0)
				o->announce.on_conflict = ANNOUNCE_ON_CONFLICT_ANNOUNCE;
			else {
				daemon_flag_error(PROG, "--on-conflict",
						  "\"%s\" is not withdraw or announce", optarg);
				return 2;
			}
			break;
		case OPT_GARP_REFRESH:
			if (parse_duration_us(optarg, &v) < 0 || (v && v < 1000000)) {
				daemon_flag_error(PROG, "--garp-refresh",
						  "\"%s\" is not 0 or a duration of at least 1s",
						  optarg);
				return 2;
			}
			o->announce.refresh_us = v;
			break;
		case OPT_ANNOUNCE_COUNT:
			if (parse_uint(optarg, 1, 100, &v) < 0) {
				daemon_flag_error(PROG, "--announce-count",
						  "\"%s\" is not a number from 1 to 100", optarg);
				return 2;
			}
			o->announce.announce_count = (unsigned)v;
			break;
		case OPT_ANNOUNCE_INTERVAL:
			if (parse_duration_us(optarg, &v) < 0 || v < 1000 || v > 60000000) {
				daemon_flag_error(PROG, "--announce-interval",
						  "\"%s\" is not a duration between 1ms and 60s",
						  optarg);
				return 2;
			}
			o->announce.announce_interval_us = v;
			break;
		case OPT_PROBE_COUNT:
			if (parse_uint(optarg, 0, 15, &v) < 0) {
				daemon_flag_error(PROG, "--probe-count",
						  "\"%s\" is not a number from 0 to 15", optarg);
				return 2;
			}
			o->announce.probe_count = (unsigned)v;
			break;
		case OPT_PROBE_INTERVAL:
			if (parse_duration_us(optarg, &v) < 0 || v < 10000 || v > 10000000) {
				daemon_flag_error(PROG, "--probe-interval",
						  "\"%s\" is not a duration between 10ms and 10s",
						  optarg);
				return 2;
			}
			o->announce.probe_interval_us = v;
			break;
		case OPT_PROBE_AHEAD_INTERVAL:
			if (parse_duration_us(optarg, &v) < 0 ||
			    (v && (v < 1000000 || v > 3600000000ULL))) {
				daemon_flag_error(PROG, "--probe-ahead-interval",
						  "\"%s\" is not 0 or a duration between 1s and 1h",
						  optarg);
				return 2;
			}
			o->announce.ahead_interval_us = v;
			break;
		case OPT_IGNORE_EXCLUDE_LB:
			o->ignore_exclude_lb = true;
			break;
		case OPT_LB_CLASS:
			if (!*optarg) {
				daemon_flag_error(PROG, "--lb-class", "empty");
				return 2;
			}
			o->lb_class = optarg;
			break;
		case OPT_DATAPATH:
			if (strcmp(optarg, "off") == 0)
				o->datapath = DATAPATH_OFF;
			else if (strcmp(optarg, "nodeport") == 0)
				o->datapath = DATAPATH_NODEPORT;
			else {
				daemon_flag_error(PROG, "--datapath",
						  "\"%s\" is not off or nodeport", optarg);
				return 2;
			}
			break;
		case OPT_BIRD_CONFIG:
		case OPT_BIRD_SOCKET:
			if (!*optarg || (opt == OPT_BIRD_SOCKET && strlen(optarg) >= 108)) {
				daemon_flag_error(
					PROG,
					opt == OPT_BIRD_CONFIG ? "--bird-config" : "--bird-socket",
					"path empty%s",
					opt == OPT_BIRD_SOCKET ? " or longer than 107 bytes" : "");
				return 2;
			}
			if (opt == OPT_BIRD_CONFIG)
				o->bird_config = optarg;
			else
				o->bird_socket = optarg;
			break;
		case OPT_BGP_TABLE_BASE:
		case OPT_BGP_TABLE_COUNT: {
			char *end;
			unsigned long long t;

			errno = 0;
			t = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    (opt == OPT_BGP_TABLE_BASE && (t < 256 || t > 0xffff0000ULL)) ||
			    (opt == OPT_BGP_TABLE_COUNT && (t < 1 || t > 4096))) {
				daemon_flag_error(PROG,
						  opt == OPT_BGP_TABLE_BASE ? "--bgp-table-base"
									    : "--bgp-table-count",
						  "\"%s\" is not a number in %s", optarg,
						  opt == OPT_BGP_TABLE_BASE ? "256..4294901760"
									    : "1..4096");
				return 2;
			}
			if (opt == OPT_BGP_TABLE_BASE)
				o->bgp_table_base = (uint32_t)t;
			else
				o->bgp_table_count = (uint32_t)t;
			break;
		}
		default:
			daemon_bad_flag(PROG, optopt, argv, optind);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return 2;
	}
	if (o->common.help) {
		usage(stdout);
		return 1;
	}
	if (o->common.version) {
		printf(PROG " %s\n", ironlb_version);
		return 1;
	}
	if (!o->node_name) {
		const char *env = getenv("NODE_NAME");

		if (!env || !*env) {
			daemon_flag_error(PROG, "--node-name", "required (or set NODE_NAME)");
			return 2;
		}
		if (!dns1123_subdomain_valid(env)) {
			daemon_flag_error(PROG, "--node-name",
					  "NODE_NAME=\"%s\" is not a valid node name", env);
			return 2;
		}
		o->node_name = env;
	}
	if (daemon_opts_finish(&o->common) < 0)
		return 2;
	if (!o->hb_key_file) {
		daemon_flag_error(PROG, "--heartbeat-key-file", "required");
		return 2;
	}
	return 0;
}

struct speaker_main {
	struct speaker_opts opts;
	struct speaker *speaker;
	struct loop *loop;
	struct metrics *metrics;
	struct httpd *httpd;
	struct control *control;
	uint64_t started_us;
};

static void on_signal(struct loop *l, int signo, void *userdata)
{
	(void)userdata;
	log_info("main", "shutting down", LF_STR("signal", sigabbrev_np(signo)));
	loop_quit(l, 0);
}

static bool main_ready(void *userdata, char *detail, size_t len)
{
	struct speaker_main *s = userdata;

	return speaker_ready(s->speaker, detail, len);
}

static json_t *on_control(const char *command, json_t *request, void *userdata)
{
	struct speaker_main *s = userdata;

	(void)request;
	if (strcmp(command, "status") != 0)
		return NULL;
	{
		char detail[128];
		json_t *reply = json_pack(
			"{s:b, s:s, s:s, s:s, s:I, s:b}", "ok", 1, "node", s->opts.node_name,
			"version", ironlb_version, "namespace", s->opts.common.namespace,
			"uptime_ms", (json_int_t)((loop_now_us() - s->started_us) / 1000), "ready",
			speaker_ready(s->speaker, detail, sizeof(detail))); /* new */

		if (reply)
			speaker_status(s->speaker, reply);
		return reply;
	}
}

int main(int argc, char **argv)
{
	struct speaker_main s = { 0 };
	int r, exit_code = 1;

	r = parse_args(argc, argv, &s.opts);
	if (r)
		return r == 1 ? 0 : 2;
	log_setup(s.opts.common.log_level, s.opts.common.log_format);
	/* One thread, many short-lived per-pass arrays next to long-lived
	 * cache items: keep big arrays out of the heap (mmapped, returned on
	 * free) and give freed heap back early, or the heap fragments and
	 * holds on to memory (docs/l2.md, Figures). */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 << 10);
	mallopt(M_TRIM_THRESHOLD, 128 << 10);
	signal(SIGPIPE, SIG_IGN);
	s.started_us = loop_now_us();

	s.loop = loop_new();
	s.metrics = daemon_metrics_new("speaker");
	if (!s.loop || !s.metrics) {
		log_error("main", "out of memory at start-up");
		goto out;
	}
	if (loop_signal_add(s.loop, SIGTERM, on_signal, &s) < 0 ||
	    loop_signal_add(s.loop, SIGINT, on_signal, &s) < 0) {
		log_error("main", "cannot set up signal handling");
		goto out;
	}
	s.httpd = httpd_new(s.loop, s.opts.common.health_addr, s.metrics, &r);
	if (!s.httpd) {
		log_error("main", "cannot serve probes and metrics",
			  LF_STR("addr", s.opts.common.health_addr), LF_ERR(r));
		goto out;
	}
	httpd_set_ready(s.httpd, main_ready, &s);
	s.control = control_new(s.loop, s.opts.control_socket, on_control, &s, &r);
	if (!s.control) {
		log_error("main", "cannot open the control socket",
			  LF_STR("path", s.opts.control_socket), LF_ERR(r));
		goto out;
	}
	s.speaker = speaker_new(s.loop, s.metrics, &s.opts);
	if (!s.speaker)
		goto out;
	log_info("main", "started", LF_STR("version", ironlb_version),
		 LF_STR("node", s.opts.node_name), LF_STR("namespace", s.opts.common.namespace),
		 LF_STR("health_addr", s.opts.common.health_addr),
		 LF_STR("control_socket", s.opts.control_socket));
	r = loop_run(s.loop);
	exit_code = r < 0 ? 1 : r;
	log_info("main", "stopped");
out:
	speaker_free(s.speaker);
	control_free(s.control);
	httpd_free(s.httpd);
	metrics_free(s.metrics);
	loop_free(s.loop);
	return exit_code;
}
