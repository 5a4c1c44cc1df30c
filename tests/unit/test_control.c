/* Unit tests for speaker/control.c: the control socket's file (mode 0600,
 * stale sockets replaced, other files and live sockets left alone, removed
 * on control_free) and its one-request-per-connection JSON protocol,
 * driven by loop_run_once() against a non-blocking client in the same
 * thread. Each test works in its own temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../speaker/control.h"
#include "ironlb/loop.h"

#define EXCHANGE_LIMIT_US 5000000

struct fixture {
	char dir[48];
	char path[96];
	struct loop *loop;
	struct control *ctl;
	int calls;
	char last_command[64];
};

static json_t *handler(const char *command, json_t *request, void *userdata)
{
	struct fixture *f = userdata;

	f->calls++;
	snprintf(f->last_command, sizeof(f->last_command), "%s", command);
	if (strcmp(command, "status") == 0)
		return json_pack("{s:b, s:s, s:O}", "ok", 1, "node", "node-1", "echo",
				 request); /* new */
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ironlb-test-control.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/speaker.sock", f->dir);
	f->loop = loop_new();
	if (!f->loop)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	control_free(f->ctl);
	loop_free(f->loop);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void start(struct fixture *f)
{
	int err = 0;

	f->ctl = control_new(f->loop, f->path, handler, f, &err);
	if (!f->ctl)
		fail_msg("control_new(%s) = %d", f->path, err);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fail_msg("connect(%s): %s", path, strerror(errno));
	return fd;
}

/* Sends len bytes of request (all of it, or as much as the server takes
 * before it answers), then reads until the server closes; runs the loop in
 * between. Returns the reply text, which the caller frees. */
static char *exchange_n(struct fixture *f, const char *request, size_t req_len, bool shut)
{
	uint64_t deadline = loop_now_us() + EXCHANGE_LIMIT_US;
	size_t sent = 0, len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	bool shut_done = false;
	int fd = connect_to(f->path);

	assert_non_null(buf);
	for (;;) {
		ssize_t n;

		if (loop_now_us() > deadline)
			fail_msg("no reply within %d us", EXCHANGE_LIMIT_US);
		if (sent < req_len) {
			n = send(fd, request + sent, req_len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN)
				sent = req_len; /* the server stopped listening */
		} else if (shut && !shut_done) {
			shutdown(fd, SHUT_WR);
			shut_done = true;
		}
		assert_true(loop_run_once(f->loop, 5) >= 0);
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EAGAIN)
				continue;
			/* A server that closes with our bytes unread resets the
			 * connection after what it sent; we have that already. */
			if (errno == ECONNRESET)
				break;
			fail_msg("recv: %s", strerror(errno));
		}
		len += (size_t)n;
		assert_true(len < cap - 1);
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static char *exchange(struct fixture *f, const char *request)
{
	return exchange_n(f, request, strlen(request), false);
}

/* Parses a one-line JSON reply; new reference. */
static json_t *parse_reply(const char *text)
{
	json_error_t err;
	size_t len = strlen(text);
	json_t *j;

	if (len == 0 || text[len - 1] != '\n' || strchr(text, '\n') != text + len - 1)
		fail_msg("reply is not one line: \"%s\"", text);
	j = json_loads(text, 0, &err); /* new */
	if (!j)
		fail_msg("reply is not JSON (%s): %s", err.text, text);
	return j;
}

static void assert_error_reply(const char *text, const char *want_error)
{
	json_t *j = parse_reply(text);
	const char *error = json_string_value(json_object_get(j, "error")); /* borrowed */

	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_non_null(error);
	if (want_error && !strstr(error, want_error))
		fail_msg("error \"%s\" does not mention \"%s\"", error, want_error);
	json_decref(j);
}

static void test_socket_file_has_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	mode_t old = umask(0);

	start(f);
	umask(old);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_status_request_gets_the_handler_reply(void **state)
{
	struct fixture *f = *state;
	char *text;
	json_t *j;

	start(f);
	text = exchange(f, "{\"command\":\"status\"}\n");
	j = parse_reply(text);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "node")), "node-1");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "echo"), "command")),
		"status");
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_command, "status");
	json_decref(j);
	free(text);
}

static void test_request_ended_by_eof_instead_of_newline(void **state)
{
	struct fixture *f = *state;
	const char *req = "{\"command\": \"status\", \"verbose\": true}";
	char *text;
	json_t *j;

	start(f);
	text = exchange_n(f, req, strlen(req), true);
	j = parse_reply(text);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_true(json_is_true(json_object_get(json_object_get(j, "echo"), "verbose")));
	json_decref(j);
	free(text);
}

static void test_invalid_json_gets_an_error(void **state)
{
	struct fixture *f = *state;
	char *text;

	start(f);
	text = exchange(f, "{\"command\":\n");
	assert_error_reply(text, "JSON");
	free(text);
	text = exchange(f, "not json at all\n");
	assert_error_reply(text, "JSON");
	free(text);
	text = exchange_n(f, "", 0, true);
	assert_error_reply(text, NULL);
	free(text);
	assert_int_equal(f->calls, 0);
}

static void test_missing_or_non_string_command_gets_an_error(void **state)
{
	static const char *const reqs[] = {
		"{}\n",
		"{\"cmd\":\"status\"}\n",
		"{\"command\":1}\n",
		"{\"command\":null}\n",
		"[\"status\"]\n",
		"\"status\"\n",
	};
	struct fixture *f = *state;

	start(f);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char *text = exchange(f, reqs[i]);

		assert_error_reply(text, "command");
		free(text);
	}
	assert_int_equal(f->calls, 0);
}

static void test_unknown_command_gets_an_error(void **state)
{
	struct fixture *f = *state;
	char *text;

	start(f);
	text = exchange(f, "{\"command\":\"reboot\"}\n");
	assert_error_reply(text, "unknown command");
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->last_command, "reboot");
	free(text);
}

static void test_over_long_request_gets_an_error(void **state)
{
	struct fixture *f = *state;
	size_t n = CONTROL_MAX_REQUEST + 10000;
	char *big = malloc(n), *text;

	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"command\":\"status\",\"pad\":\"", 28);
	big[n - 3] = '"';
	big[n - 2] = '}';
	big[n - 1] = '\n';
	start(f);
	text = exchange_n(f, big, n, false);
	assert_error_reply(text, "too long");
	assert_int_equal(f->calls, 0);
	free(text);
	free(big);
}

static void test_request_of_exactly_the_limit_is_accepted(void **state)
{
	struct fixture *f = *state;
	size_t n = CONTROL_MAX_REQUEST;
	char *big = malloc(n + 1), *text;
	json_t *j;

	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"command\":\"status\"}", 20);
	big[n] = '\n';
	start(f);
	text = exchange_n(f, big, n + 1, false);
	j = parse_reply(text);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	free(text);
	free(big);
}

static void test_many_connections_in_a_row(void **state)
{
	struct fixture *f = *state;

	start(f);
	for (int i = 0; i < 40; i++) {
		char *text = exchange(f, "{\"command\":\"status\"}\n");
		json_t *j = parse_reply(text);

		assert_true(json_is_true(json_object_get(j, "ok")));
		json_decref(j);
		free(text);
	}
	assert_int_equal(f->calls, 40);
}

static void test_stale_socket_file_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct stat st;
	char *text;

	/* A socket bound and closed: the file stays, nobody answers. */
	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	start(f);
	text = exchange(f, "{\"command\":\"status\"}\n");
	assert_non_null(strstr(text, "node-1"));
	free(text);
}

static void test_non_socket_file_at_the_path_is_refused(void **state)
{
	struct fixture *f = *state;
	char buf[16] = "";
	int fd, err = 0;

	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_null(control_new(f->loop, f->path, handler, f, &err));
	assert_int_equal(err, -EEXIST);
	/* Untouched. */
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_string_equal(buf, "precious");

	/* A directory neither. */
	unlink(f->path);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_null(control_new(f->loop, f->path, handler, f, &err));
	assert_int_equal(err, -EEXIST);
	assert_int_equal(rmdir(f->path), 0);
}

static void test_live_socket_of_another_server_is_refused(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), err = 0, c;
	struct stat st;

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_null(control_new(f->loop, f->path, handler, f, &err));
	assert_int_equal(err, -EADDRINUSE);
	/* The other server's socket is still there and still answers. */
	assert_int_equal(lstat(f->path, &st), 0);
	c = connect_to(f->path);
	close(c);
	close(fd);
}

/* A server too busy to accept (its backlog full) is still alive: refused
 * at once, not waited for. */
static void test_live_socket_with_full_backlog_is_refused_without_blocking(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), err = 0, clients[16], n = 0;
	uint64_t start;

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 0), 0);
	while (n < 16) {
		clients[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(clients[n] >= 0);
		if (connect(clients[n], (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			assert_int_equal(errno, EAGAIN);
			close(clients[n]);
			break;
		}
		n++;
	}
	assert_true(n < 16);
	start = loop_now_us();
	assert_null(control_new(f->loop, f->path, handler, f, &err));
	assert_int_equal(err, -EADDRINUSE);
	assert_true(loop_now_us() - start < 1000000);
	for (int i = 0; i < n; i++)
		close(clients[i]);
	close(fd);
}

static void test_second_control_on_a_live_path_is_refused(void **state)
{
	struct fixture *f = *state;
	int err = 0;
	char *text;

	start(f);
	assert_null(control_new(f->loop, f->path, handler, f, &err));
	assert_int_equal(err, -EADDRINUSE);
	/* The first one still serves. */
	text = exchange(f, "{\"command\":\"status\"}\n");
	assert_non_null(strstr(text, "node-1"));
	free(text);
}

static void test_socket_is_removed_on_free(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	start(f);
	assert_int_equal(lstat(f->path, &st), 0);
	control_free(f->ctl);
	f->ctl = NULL;
	assert_int_equal(lstat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	control_free(NULL);
}

static void test_free_with_connections_open_releases_them(void **state)
{
	struct fixture *f = *state;
	int fds[3];

	start(f);
	for (int i = 0; i < 3; i++)
		fds[i] = connect_to(f->path);
	assert_int_equal(send(fds[0], "{\"comm", 6, MSG_NOSIGNAL), 6);
	for (int i = 0; i < 10; i++)
		assert_true(loop_run_once(f->loop, 5) >= 0);
	control_free(f->ctl);
	f->ctl = NULL;
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

static void test_missing_parent_directory_is_created(void **state)
{
	struct fixture *f = *state;
	char sub[160];
	struct stat st;
	int err = 0;
	struct control *c;

	snprintf(sub, sizeof(sub), "%s/run/s.sock", f->dir);
	c = control_new(f->loop, sub, handler, f, &err);
	assert_non_null(c);
	assert_int_equal(lstat(sub, &st), 0);
	control_free(c);
	snprintf(sub, sizeof(sub), "%s/run", f->dir);
	assert_int_equal(rmdir(sub), 0);
}

static void test_path_too_long_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[200];
	int err = 0;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_null(control_new(f->loop, path, handler, f, &err));
	assert_int_equal(err, -ENAMETOOLONG);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest control_tests[] = {
		T(test_socket_file_has_mode_0600),
		T(test_status_request_gets_the_handler_reply),
		T(test_request_ended_by_eof_instead_of_newline),
		T(test_invalid_json_gets_an_error),
		T(test_missing_or_non_string_command_gets_an_error),
		T(test_unknown_command_gets_an_error),
		T(test_over_long_request_gets_an_error),
		T(test_request_of_exactly_the_limit_is_accepted),
		T(test_many_connections_in_a_row),
		T(test_stale_socket_file_is_replaced),
		T(test_non_socket_file_at_the_path_is_refused),
		T(test_live_socket_of_another_server_is_refused),
		T(test_live_socket_with_full_backlog_is_refused_without_blocking),
		T(test_second_control_on_a_live_path_is_refused),
		T(test_socket_is_removed_on_free),
		T(test_free_with_connections_open_releases_them),
		T(test_missing_parent_directory_is_created),
		T(test_path_too_long_is_refused),
	};
#undef T

	return cmocka_run_group_tests(control_tests, NULL, NULL);
}
