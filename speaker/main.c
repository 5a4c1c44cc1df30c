/* ironlb-speaker: runs on every node and announces the addresses this node
 * should answer for. This file is the process's start-up: flags, logging,
 * signals, the probes endpoint, the control socket and the event loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "ironlb/daemon.h"
#include "ironlb/httpd.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"
#include "ironlb/parse.h"

#define PROG "ironlb-speaker"
#define SPEAKER_DEFAULT_HEALTH_ADDR ":7481"

struct speaker_opts {
	struct daemon_opts common;
	const char *node_name;
	const char *control_socket;
};

enum {
	OPT_NODE_NAME = DAEMON_OPT_FIRST_PRIVATE,
	OPT_CONTROL_SOCKET,
};

static const struct option long_options[] = {
	DAEMON_COMMON_OPTIONS,
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " [FLAGS]\n"
		   "\n"
		   "Announces the LoadBalancer and external addresses this node answers for.\n"
		   "\n"
		   "Flags:\n" DAEMON_COMMON_HELP
		   "  --health-addr ADDR     listen address for /healthz, /readyz and /metrics\n"
		   "                         (default " SPEAKER_DEFAULT_HEALTH_ADDR ")\n"
		   "  --node-name NAME       this node's name (default: env NODE_NAME)\n"
		   "  --control-socket PATH  ironlbctl's socket (default " CONTROL_DEFAULT_SOCKET
		   ")\n");
}

/* Returns 0 to run, 1 to exit 0 (help, version), 2 on a bad flag. */
static int parse_args(int argc, char **argv, struct speaker_opts *o)
{
	int opt;

	daemon_opts_init(&o->common, PROG, SPEAKER_DEFAULT_HEALTH_ADDR);
	o->control_socket = CONTROL_DEFAULT_SOCKET;
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
	return 0;
}

struct speaker {
	struct speaker_opts opts;
	struct loop *loop;
	struct metrics *metrics;
	struct httpd *httpd;
	struct control *control;
	uint64_t started_us;
	bool synced;
};

static void on_signal(struct loop *l, int signo, void *userdata)
{
	(void)userdata;
	log_info("main", "shutting down", LF_STR("signal", sigabbrev_np(signo)));
	loop_quit(l, 0);
}

static bool speaker_ready(void *userdata, char *detail, size_t len)
{
	struct speaker *s = userdata;

	if (!s->synced)
		snprintf(detail, len, "not synced with the API server yet");
	return s->synced;
}

static json_t *on_control(const char *command, json_t *request, void *userdata)
{
	struct speaker *s = userdata;

	(void)request;
	if (strcmp(command, "status") != 0)
		return NULL;
	return json_pack("{s:b, s:s, s:s, s:s, s:I, s:b, s:[], s:[]}", "ok", 1, "node",
			 s->opts.node_name, "version", ironlb_version, "namespace",
			 s->opts.common.namespace, "uptime_ms",
			 (json_int_t)((loop_now_us() - s->started_us) / 1000), "ready", s->synced,
			 "addresses", "peers");
}

int main(int argc, char **argv)
{
	struct speaker s = { 0 };
	int r, exit_code = 1;

	r = parse_args(argc, argv, &s.opts);
	if (r)
		return r == 1 ? 0 : 2;
	log_setup(s.opts.common.log_level, s.opts.common.log_format);
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
	httpd_set_ready(s.httpd, speaker_ready, &s);
	s.control = control_new(s.loop, s.opts.control_socket, on_control, &s, &r);
	if (!s.control) {
		log_error("main", "cannot open the control socket",
			  LF_STR("path", s.opts.control_socket), LF_ERR(r));
		goto out;
	}
	log_info("main", "started", LF_STR("version", ironlb_version),
		 LF_STR("node", s.opts.node_name), LF_STR("namespace", s.opts.common.namespace),
		 LF_STR("health_addr", s.opts.common.health_addr),
		 LF_STR("control_socket", s.opts.control_socket));
	r = loop_run(s.loop);
	exit_code = r < 0 ? 1 : r;
	log_info("main", "stopped");
out:
	control_free(s.control);
	httpd_free(s.httpd);
	metrics_free(s.metrics);
	loop_free(s.loop);
	return exit_code;
}
