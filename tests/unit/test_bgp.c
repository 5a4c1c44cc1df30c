/* Unit tests for speaker/bgp.c: the BIRD configuration goes through
 * `configure check` on a file next to the real one, then rename and
 * `configure`; a rejected text leaves the old file, is counted and not
 * retried until the input changes; an unchanged input sends nothing; BIRD
 * absent at start gets the file at once and the commands when it appears;
 * a BIRD restart re-applies; sessions come from `show protocols`. BIRD is
 * the scripted fake_bird.c on a unix socket in a temporary directory.
 *
 * The prefixes go to the real kernel: the binary moves itself into a new
 * network namespace first (tests run as root) and reads the tables back
 * with krt_dump.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../speaker/bgp.h"
#include "fake_bird.h"
#include "ironlb/log.h"
#include "ironlb/loop.h"
#include "ironlb/metrics.h"

#define WAIT_LIMIT_US (5 * 1000000ULL)
#define TABLE_BASE 74800
#define TABLE_COUNT 16

static bool in_netns;

struct fixture {
	char dir[48];
	char conf[96], sock[96], tmp[112];
	struct loop *loop;
	struct metrics *metrics;
	struct fake_bird *fb;
	struct bgp *bgp;
	/* script */
	bool check_fails;
	const char *protocols;
	/* what BIRD saw: the file content at each command */
	char *checked_text, *configured_text;
	char checked_path[128];
	/* inputs */
	struct bgp_peer peers[2];
	struct bird_peer bpeers[2];
	pid_t bird_pid; /* a real BIRD, 0 if none */
};

#define WAIT_UNTIL(f, cond)                                                                        \
	do {                                                                                       \
		uint64_t end_ = loop_now_us() + WAIT_LIMIT_US;                                     \
		while (!(cond) && loop_now_us() < end_)                                            \
			loop_run_once((f)->loop, 10);                                              \
		assert_true(cond);                                                                 \
	} while (0)

static void run_for(struct fixture *f, uint64_t us)
{
	uint64_t end = loop_now_us() + us;

	while (loop_now_us() < end)
		loop_run_once(f->loop, 5);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* The path inside configure ["check"] "PATH". */
static void quoted_path(const char *cmd, char *buf, size_t len)
{
	const char *a = strchr(cmd, '"'), *b = a ? strchr(a + 1, '"') : NULL;

	assert_non_null(b);
	snprintf(buf, len, "%.*s", (int)(b - a - 1), a + 1);
}

static const char *answer(const char *cmd, void *ud)
{
	static char reply[512];
	struct fixture *f = ud;
	char path[128];

	if (strncmp(cmd, "configure check \"", 17) == 0) {
		quoted_path(cmd, path, sizeof(path));
		snprintf(f->checked_path, sizeof(f->checked_path), "%s", path);
		free(f->checked_text);
		f->checked_text = slurp(path);
		if (f->check_fails)
			snprintf(reply, sizeof(reply),
				 "0002-Reading configuration from %s\n"
				 "8002 %s:3:5 syntax error, unexpected CF_SYM_UNDEFINED\n",
				 path, path);
		else
			snprintf(reply, sizeof(reply),
				 "0002-Reading configuration from %s\n0020 Configuration OK\n",
				 path);
		return reply;
	}
	if (strncmp(cmd, "configure \"", 11) == 0) {
		quoted_path(cmd, path, sizeof(path));
		assert_string_equal(path, f->conf);
		free(f->configured_text);
		f->configured_text = slurp(path);
		snprintf(reply, sizeof(reply),
			 "0002-Reading configuration from %s\n0003 Reconfigured\n", path);
		return reply;
	}
	if (strcmp(cmd, "show protocols") == 0)
		return f->protocols ? f->protocols : "0000 \n";
	return "9001 syntax error\n";
}

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static struct bird_conf_input input(struct fixture *f, size_t n_peers)
{
	struct bird_conf_input in = {
		.node_name = "node-1",
		.router_id = addr("192.0.2.1"),
		.kernel_scan_s = 30,
		.peers = n_peers ? f->bpeers : NULL,
		.n_peers = n_peers,
	};

	return in;
}

static char *render(const struct bird_conf_input *in)
{
	char *text = NULL, err[256];

	assert_int_equal(bird_conf_render(in, &text, err, sizeof(err)), 0);
	return text;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ironlb-test-bgp.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* a directory bgp_new has to create */
	snprintf(f->conf, sizeof(f->conf), "%s/bird/bird.conf", f->dir);
	snprintf(f->tmp, sizeof(f->tmp), "%s.check", f->conf);
	snprintf(f->sock, sizeof(f->sock), "%s/bird.ctl", f->dir);
	f->loop = loop_new();
	f->metrics = metrics_new();
	for (int i = 0; i < 2; i++) {
		f->peers[i] = (struct bgp_peer){
			.name = i ? "router-b" : "router-a",
			.my_asn = 64512,
			.peer_asn = 64513 + (uint32_t)i,
			.peer_addr = addr(i ? "192.0.2.3" : "192.0.2.2"),
			.peer_port = BGP_DEFAULT_PORT,
			.hold_s = BGP_DEFAULT_HOLD_S,
			.keepalive_s = BGP_DEFAULT_HOLD_S / 3,
		};
		f->bpeers[i] = (struct bird_peer){ .peer = &f->peers[i] };
	}
	*state = f;
	return f->loop && f->metrics ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	bgp_free(f->bgp);
	fake_bird_free(f->fb);
	if (f->bird_pid > 0) {
		kill(f->bird_pid, SIGKILL);
		waitpid(f->bird_pid, NULL, 0);
	}
	unlink(f->sock);
	loop_free(f->loop);
	metrics_free(f->metrics);
	free(f->checked_text);
	free(f->configured_text);
	unlink(f->conf);
	unlink(f->tmp);
	snprintf(path, sizeof(path), "%s/bird", f->dir);
	rmdir(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void start_bird(struct fixture *f)
{
	f->fb = fake_bird_new(f->loop, f->sock);
	assert_non_null(f->fb);
	f->fb->answer = answer;
	f->fb->userdata = f;
}

static void start_bgp(struct fixture *f, uint64_t poll_us)
{
	struct bird_conf_input in = input(f, 0);
	struct bgp_cfg cfg = {
		.bird_config = f->conf,
		.bird_socket = f->sock,
		.table_base = TABLE_BASE,
		.table_count = TABLE_COUNT,
		.poll_us = poll_us ? poll_us : 3600ULL * 1000000,
		.backoff_min_us = 5000,
		.backoff_max_us = 20000,
		.initial = &in,
	};

	f->bgp = bgp_new(f->loop, f->metrics, &cfg);
	assert_non_null(f->bgp);
}

static struct bgp_info info(struct fixture *f)
{
	struct bgp_info i;

	bgp_info(f->bgp, &i);
	return i;
}

/* Whether the rendered metrics hold this exact sample line. */
static bool has_sample(struct fixture *f, const char *line)
{
	char *text = NULL, want[256];
	size_t len;
	bool found;

	assert_int_equal(metrics_render(f->metrics, &text, &len), 0);
	snprintf(want, sizeof(want), "\n%s\n", line);
	found = strstr(text, want) != NULL;
	free(text);
	return found;
}

/* Index of the first recorded command starting with prefix. */
static size_t cmd_index(struct fixture *f, const char *prefix)
{
	for (size_t i = 0; i < f->fb->n_cmds; i++)
		if (strncmp(f->fb->cmds[i], prefix, strlen(prefix)) == 0)
			return i;
	fail_msg("no command %s", prefix);
	return 0;
}

static void wait_applied(struct fixture *f, uint64_t ok)
{
	WAIT_UNTIL(f, info(f).reconfigurations_ok == ok && info(f).apply == BGP_APPLY_OK);
}

static void
test_initial_config_is_written_before_bird_runs_and_applied_when_it_appears(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input in = input(f, 0);
	char *want = render(&in), *got;

	start_bgp(f, 0);
	got = slurp(f->conf);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	assert_false(info(f).bird_up);
	assert_int_equal(info(f).apply, BGP_APPLY_PENDING);
	assert_true(has_sample(f, "ironlb_speaker_bgp_bird_up 0"));
	run_for(f, 30000);
	start_bird(f);
	wait_applied(f, 1);
	assert_true(info(f).bird_up);
	assert_true(has_sample(f, "ironlb_speaker_bgp_bird_up 1"));
	/* (`show protocols` polls may come in between) */
	assert_int_equal(fake_bird_count(f->fb, "configure check \""), 1);
	assert_int_equal(fake_bird_count(f->fb, "configure \""), 1);
	assert_true(cmd_index(f, "configure check") < cmd_index(f, "configure \""));
	assert_string_equal(f->checked_path, f->tmp);
	assert_string_equal(f->checked_text, want);
	assert_string_equal(f->configured_text, want);
	assert_int_equal(access(f->tmp, F_OK), -1);
	free(want);
}

static void test_config_change_is_checked_then_configured(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input in = input(f, 1);
	char *want = render(&in), *old, *got;

	start_bird(f);
	start_bgp(f, 0);
	wait_applied(f, 1);
	old = slurp(f->conf);
	fake_bird_forget_cmds(f->fb);
	assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	/* nothing changes in place before BIRD checked it */
	got = slurp(f->conf);
	assert_string_equal(got, old);
	free(got);
	wait_applied(f, 2);
	assert_int_equal(fake_bird_count(f->fb, "configure check \""), 1);
	assert_int_equal(fake_bird_count(f->fb, "configure \""), 1);
	assert_true(cmd_index(f, "configure check") < cmd_index(f, "configure \""));
	assert_string_equal(f->checked_text, want);
	assert_string_equal(f->configured_text, want);
	got = slurp(f->conf);
	assert_string_equal(got, want);
	assert_true(has_sample(f, "ironlb_speaker_bird_reconfigurations_total{result=\"ok\"} 2"));
	assert_true(
		has_sample(f, "ironlb_speaker_bird_reconfigurations_total{result=\"failed\"} 0"));
	free(got);
	free(old);
	free(want);
}

static void test_unchanged_input_sends_no_command(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input in = input(f, 1);

	start_bird(f);
	start_bgp(f, 0);
	wait_applied(f, 1);
	assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	wait_applied(f, 2);
	fake_bird_forget_cmds(f->fb);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	run_for(f, 50000);
	assert_int_equal(fake_bird_count(f->fb, "configure"), 0);
	assert_int_equal(info(f).reconfigurations_ok, 2);
}

static void test_rejected_config_keeps_the_old_file_is_counted_and_not_retried(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input one = input(f, 1), two = input(f, 2);
	char *old, *got, detail[256];
	struct bgp_info i;

	start_bird(f);
	start_bgp(f, 0);
	wait_applied(f, 1);
	old = slurp(f->conf);
	fake_bird_forget_cmds(f->fb);
	f->check_fails = true;
	assert_int_equal(bgp_set_config(f->bgp, &one), 0);
	WAIT_UNTIL(f, info(f).apply == BGP_APPLY_FAILED);
	i = info(f);
	assert_int_equal(i.reconfigurations_failed, 1);
	assert_non_null(strstr(i.apply_message, ":3:5 syntax error"));
	assert_int_equal(fake_bird_count(f->fb, "configure"), 1);
	assert_int_equal(fake_bird_count(f->fb, "configure check"), 1);
	got = slurp(f->conf);
	assert_string_equal(got, old);
	free(got);
	assert_int_equal(access(f->tmp, F_OK), -1);
	assert_true(
		has_sample(f, "ironlb_speaker_bird_reconfigurations_total{result=\"failed\"} 1"));
	assert_false(bgp_healthy(f->bgp, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "rejected"));
	/* same input again: not retried */
	assert_int_equal(bgp_set_config(f->bgp, &one), 0);
	run_for(f, 50000);
	assert_int_equal(fake_bird_count(f->fb, "configure"), 1);
	/* a BIRD reconnect does not retry it either */
	fake_bird_drop_client(f->fb);
	WAIT_UNTIL(f, !info(f).bird_up);
	WAIT_UNTIL(f, info(f).bird_up);
	run_for(f, 50000);
	assert_int_equal(fake_bird_count(f->fb, "configure"), 1);
	/* a changed input is tried */
	f->check_fails = false;
	assert_int_equal(bgp_set_config(f->bgp, &two), 0);
	wait_applied(f, 2);
	assert_int_equal(fake_bird_count(f->fb, "configure check"), 2);
	free(old);
}

static void test_bird_restart_reapplies_and_reports_down_meanwhile(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input in = input(f, 1);
	char detail[256];

	start_bird(f);
	start_bgp(f, 0);
	wait_applied(f, 1);
	assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	wait_applied(f, 2);
	fake_bird_free(f->fb);
	f->fb = NULL;
	WAIT_UNTIL(f, !info(f).bird_up);
	assert_true(has_sample(f, "ironlb_speaker_bgp_bird_up 0"));
	assert_false(bgp_healthy(f->bgp, detail, sizeof(detail)));
	assert_non_null(strstr(detail, "not reachable"));
	/* a change while BIRD is away goes into the file directly */
	in = input(f, 2);
	assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	{
		char *want = render(&in), *got = slurp(f->conf);

		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	start_bird(f);
	wait_applied(f, 3);
	assert_int_equal(fake_bird_count(f->fb, "configure check"), 1);
	assert_int_equal(fake_bird_count(f->fb, "configure \""), 1);
}

static void test_sessions_come_from_show_protocols(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input in = input(f, 2);
	json_t *st = json_object(), *s; /* new */
	char detail[256];

	f->protocols = "2002-Name       Proto      Table      State  Since         Info\n"
		       "1002-device1    Device     ---        up     21:12:06.183  \n"
		       " ilb_peer_0 BGP        ---        up     21:12:06.183  Established   \n"
		       " ilb_peer_1 BGP        ---        start  21:12:06.183  Active        \n"
		       "0000 \n";
	start_bird(f);
	start_bgp(f, 20000);
	wait_applied(f, 1);
	assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	wait_applied(f, 2);
	WAIT_UNTIL(f, info(f).n_sessions_up == 1);
	assert_int_equal(info(f).n_sessions, 2);
	assert_true(has_sample(f, "ironlb_speaker_bgp_session_up{peer=\"router-a\"} 1"));
	assert_true(has_sample(f, "ironlb_speaker_bgp_session_up{peer=\"router-b\"} 0"));
	assert_false(bgp_healthy(f->bgp, detail, sizeof(detail)));
	assert_string_equal(detail, "BGP: 1 of 2 sessions not established");
	bgp_status(f->bgp, st);
	s = json_object_get(st, "bgp"); /* borrowed */
	assert_string_equal(json_string_value(json_object_get(s, "bird")), "up");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(s, "config"), "state")), "ok");
	s = json_object_get(s, "sessions");
	assert_int_equal(json_array_size(s), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(s, 0), "peer")),
			    "router-a");
	assert_string_equal(json_string_value(json_object_get(json_array_get(s, 0), "address")),
			    "192.0.2.2");
	assert_true(json_is_true(json_object_get(json_array_get(s, 0), "established")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(s, 1), "info")),
			    "Active");
	assert_string_equal(json_string_value(json_object_get(json_array_get(s, 1), "state")),
			    "start");
	json_decref(st);
	/* both up now */
	f->protocols = "1002-ilb_peer_0 BGP --- up 21:12:06.183 Established\n"
		       " ilb_peer_1 BGP --- up 21:13:00.000 Established\n0000 \n";
	WAIT_UNTIL(f, info(f).n_sessions_up == 2);
	assert_true(bgp_healthy(f->bgp, detail, sizeof(detail)));
}

static void test_input_that_cannot_be_rendered_is_counted_once_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input bad = input(f, 1);
	char *old, *got;

	start_bird(f);
	start_bgp(f, 0);
	wait_applied(f, 1);
	old = slurp(f->conf);
	fake_bird_forget_cmds(f->fb);
	bad.router_id = (struct ip_addr){ 0 };
	assert_int_equal(bgp_set_config(f->bgp, &bad), -EINVAL);
	assert_int_equal(bgp_set_config(f->bgp, &bad), -EINVAL);
	assert_int_equal(info(f).apply, BGP_APPLY_FAILED);
	assert_int_equal(info(f).reconfigurations_failed, 1);
	run_for(f, 30000);
	assert_int_equal(fake_bird_count(f->fb, "configure"), 0);
	got = slurp(f->conf);
	assert_string_equal(got, old);
	free(got);
	free(old);
}

static void test_table_range_holding_the_kernels_own_tables_is_refused(void **state)
{
	struct fixture *f = *state;
	struct bird_conf_input in = input(f, 0);
	struct bgp_cfg cfg = {
		.bird_config = f->conf,
		.bird_socket = f->sock,
		.table_base = 200,
		.table_count = 100,
		.initial = &in,
	};

	assert_null(bgp_new(f->loop, f->metrics, &cfg));
	cfg.table_base = 255;
	cfg.table_count = 1;
	assert_null(bgp_new(f->loop, f->metrics, &cfg));
	cfg.table_base = UINT32_MAX - 1;
	cfg.table_count = 4;
	assert_null(bgp_new(f->loop, f->metrics, &cfg));
	/* nothing written */
	assert_int_equal(access(f->conf, F_OK), -1);
	cfg.table_base = 100;
	cfg.table_count = 153; /* 100..252 */
	f->bgp = bgp_new(f->loop, f->metrics, &cfg);
	assert_non_null(f->bgp);
}

/* ---- kernel routes (in the test's own network namespace) ---- */

static struct krt_route rt(const char *prefix, uint32_t table)
{
	struct krt_route r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(prefix_parse(prefix, &r.dst, NULL), 0);
	r.table = table;
	r.type = RTN_BLACKHOLE;
	return r;
}

static size_t kernel_routes(struct krt_route **ret)
{
	struct krt *k;
	size_t n = 0;

	assert_int_equal(krt_open(&k), 0);
	assert_int_equal(krt_dump(k, TABLE_BASE, TABLE_BASE + TABLE_COUNT - 1, ret, &n), 0);
	krt_close(k);
	return n;
}

static bool kernel_has(const struct krt_route *all, size_t n, const struct krt_route *r)
{
	for (size_t i = 0; i < n; i++)
		if (krt_route_cmp(&all[i], r) == 0)
			return true;
	return false;
}

static void test_routes_replace_stale_ones_then_change_by_difference_and_go_on_free(void **state)
{
	struct fixture *f = *state;
	struct krt *k;
	struct krt_route stale = rt("203.0.113.99/32", TABLE_BASE + 1), *got = NULL;
	struct krt_route want1[] = {
		rt("198.51.100.7/32", TABLE_BASE), rt("2001:db8::7/128", TABLE_BASE),
		rt("198.51.100.8/32", TABLE_BASE + 2),
		rt("198.51.100.7/32", TABLE_BASE), /* duplicate */
	};
	struct krt_route want2[] = {
		rt("198.51.100.8/32", TABLE_BASE + 2),
		rt("198.51.100.9/32", TABLE_BASE + 2),
		rt("2001:db8::7/128", TABLE_BASE),
	};
	struct krt_route outside = rt("198.51.100.1/32", TABLE_BASE + TABLE_COUNT);
	size_t n;

	if (!in_netns)
		skip();
	/* left over by an earlier run */
	assert_int_equal(krt_open(&k), 0);
	assert_int_equal(krt_add(k, &stale), 0);
	krt_close(k);
	start_bgp(f, 0);
	assert_int_equal(bgp_set_routes(f->bgp, want1, 4), 0);
	n = kernel_routes(&got);
	assert_int_equal(n, 3);
	assert_false(kernel_has(got, n, &stale));
	for (int i = 0; i < 3; i++)
		assert_true(kernel_has(got, n, &want1[i]));
	free(got);
	assert_true(has_sample(f, "ironlb_speaker_bgp_prefixes_advertised 3"));
	assert_true(has_sample(f, "ironlb_speaker_bgp_route_changes_total{op=\"add\"} 3"));
	assert_true(has_sample(f, "ironlb_speaker_bgp_route_changes_total{op=\"del\"} 1"));
	/* difference only: one added, one removed */
	assert_int_equal(bgp_set_routes(f->bgp, want2, 3), 0);
	n = kernel_routes(&got);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++)
		assert_true(kernel_has(got, n, &want2[i]));
	free(got);
	assert_true(has_sample(f, "ironlb_speaker_bgp_route_changes_total{op=\"add\"} 4"));
	assert_true(has_sample(f, "ironlb_speaker_bgp_route_changes_total{op=\"del\"} 2"));
	/* the same set again changes nothing */
	assert_int_equal(bgp_set_routes(f->bgp, want2, 3), 0);
	assert_true(has_sample(f, "ironlb_speaker_bgp_route_changes_total{op=\"add\"} 4"));
	/* outside the range: refused, nothing done */
	assert_int_equal(bgp_set_routes(f->bgp, &outside, 1), -EINVAL);
	assert_int_equal(info(f).n_routes, 3);
	{
		json_t *st = json_object(), *tables; /* new */

		bgp_status(f->bgp, st);
		tables = json_object_get(json_object_get(st, "bgp"), "tables"); /* borrowed */
		assert_int_equal(json_array_size(tables), 2);
		assert_int_equal(
			json_integer_value(json_object_get(json_array_get(tables, 1), "routes")),
			2);
		json_decref(st);
	}
	/* routes never touch BIRD's configuration */
	assert_int_equal(info(f).reconfigurations_ok, 0);
	/* clean shutdown withdraws */
	bgp_free(f->bgp);
	f->bgp = NULL;
	assert_int_equal(kernel_routes(&got), 0);
	free(got);
}

static void test_empty_route_set_clears_the_tables(void **state)
{
	struct fixture *f = *state;
	struct krt_route one = rt("192.0.2.77/32", TABLE_BASE + 3), *got = NULL;

	if (!in_netns)
		skip();
	start_bgp(f, 0);
	assert_int_equal(bgp_set_routes(f->bgp, &one, 1), 0);
	assert_int_equal(kernel_routes(&got), 1);
	free(got);
	got = NULL;
	assert_int_equal(bgp_set_routes(f->bgp, NULL, 0), 0);
	assert_int_equal(kernel_routes(&got), 0);
	free(got);
}

/* ---- against the real BIRD (skipped where it is not installed) ---- */

#define BIRD_BIN "/usr/sbin/bird"
#define BIRDC_BIN "/usr/sbin/birdc"

static pid_t spawn_bird(struct fixture *f)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(BIRD_BIN, "bird", "-f", "-c", f->conf, "-s", f->sock, (char *)NULL);
		_exit(127);
	}
	f->bird_pid = pid;
	return pid;
}

static void stop_bird(struct fixture *f, int sig)
{
	kill(f->bird_pid, sig);
	waitpid(f->bird_pid, NULL, 0);
	f->bird_pid = 0;
}

/* Whether `birdc show route table TABLE` lists prefix. */
static bool bird_has_route(struct fixture *f, const char *table, const char *prefix)
{
	char cmd[512], line[512];
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s -s %s show route table %s 2>/dev/null", BIRDC_BIN, f->sock,
		 table);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			found = true;
	pclose(p);
	return found;
}

/* Whether `show protocols` has told us about session j. */
static bool session_known(struct fixture *f, size_t j)
{
	json_t *st = json_object(), *s; /* new */
	const char *state;
	bool known;

	bgp_status(f->bgp, st);
	s = json_array_get(json_object_get(json_object_get(st, "bgp"), "sessions"),
			   j); /* borrowed */
	state = json_string_value(json_object_get(s, "state"));
	known = state && strcmp(state, "unknown") != 0 && strcmp(state, "absent") != 0;
	json_decref(st);
	return known;
}

static void test_real_bird_loads_the_config_learns_the_routes_and_survives_a_restart(void **state)
{
	struct fixture *f = *state;
	struct bgp_advert adv = { .name = "default", .agg_len = 32, .agg_len_v6 = 128 };
	struct bird_policy pol = { .adv = &adv, .table = TABLE_BASE };
	struct bird_conf_input in = input(f, 1);
	struct krt_route r = rt("198.51.100.7/32", TABLE_BASE);
	uint64_t end;

	if (!in_netns || access(BIRD_BIN, X_OK) != 0 || access(BIRDC_BIN, X_OK) != 0)
		skip();
	in.policies = &pol;
	in.n_policies = 1;
	in.kernel_scan_s = 1;
	start_bgp(f, 50000);
	/* BIRD starts after the speaker, from the file the speaker wrote */
	spawn_bird(f);
	WAIT_UNTIL(f, info(f).bird_up);
	wait_applied(f, 1);
	assert_int_equal(bgp_set_config(f->bgp, &in), 0);
	wait_applied(f, 2);
	assert_int_equal(bgp_set_routes(f->bgp, &r, 1), 0);
	end = loop_now_us() + 10 * 1000000ULL;
	while (!bird_has_route(f, "ilb_p0_v4", "198.51.100.7/32") && loop_now_us() < end)
		run_for(f, 100000);
	assert_true(bird_has_route(f, "ilb_p0_v4", "198.51.100.7/32"));
	assert_true(bird_has_route(f, "ilb_peer_0_v4", "198.51.100.7/32"));
	/* the session exists in BIRD (nobody answers at 192.0.2.2) */
	WAIT_UNTIL(f, session_known(f, 0));
	assert_int_equal(info(f).n_sessions_up, 0);
	/* BIRD killed: down; started again: up, configuration applied again */
	stop_bird(f, SIGKILL);
	WAIT_UNTIL(f, !info(f).bird_up);
	spawn_bird(f);
	WAIT_UNTIL(f, info(f).bird_up);
	wait_applied(f, 3);
	end = loop_now_us() + 10 * 1000000ULL;
	while (!bird_has_route(f, "ilb_p0_v4", "198.51.100.7/32") && loop_now_us() < end)
		run_for(f, 100000);
	assert_true(bird_has_route(f, "ilb_p0_v4", "198.51.100.7/32"));
	/* withdrawn on free: BIRD loses the route */
	bgp_free(f->bgp);
	f->bgp = NULL;
	end = loop_now_us() + 10 * 1000000ULL;
	while (bird_has_route(f, "ilb_p0_v4", "198.51.100.7/32") && loop_now_us() < end)
		run_for(f, 100000);
	assert_false(bird_has_route(f, "ilb_p0_v4", "198.51.100.7/32"));
	stop_bird(f, SIGTERM);
}

static int group_setup(void **state)
{
	struct ifreq ifr;
	int fd;

	(void)state;
	log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
	if (unshare(CLONE_NEWNET) == -1) {
		printf("# SKIP route tests: unshare(CLONE_NEWNET): %s (needs root)\n",
		       strerror(errno));
		return 0;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == -1)) {
		close(fd);
		return -1;
	}
	close(fd);
	in_netns = true;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_initial_config_is_written_before_bird_runs_and_applied_when_it_appears,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_change_is_checked_then_configured,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_input_sends_no_command, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_rejected_config_keeps_the_old_file_is_counted_and_not_retried, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_bird_restart_reapplies_and_reports_down_meanwhile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions_come_from_show_protocols, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_table_range_holding_the_kernels_own_tables_is_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_input_that_cannot_be_rendered_is_counted_once_and_changes_nothing,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_routes_replace_stale_ones_then_change_by_difference_and_go_on_free,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_route_set_clears_the_tables, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_real_bird_loads_the_config_learns_the_routes_and_survives_a_restart,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
