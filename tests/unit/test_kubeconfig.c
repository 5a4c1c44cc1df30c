/* Unit tests for lib/kube_config.c: kubeconfig files in their YAML and
 * JSON forms, every credential field and its -data variant, precedence
 * rules, relative paths, clear errors naming the file and field, hostile
 * files (alias bombs, recursion, deep nesting, binary, huge), the token
 * file reader and the in-cluster configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ironlb/kube_config.h"

#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n"
/* base64 of CA_PEM */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClEwRT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define KEY_PEM "-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n"
#define KEY_B64                                                                                    \
	"LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tClMwVloKLS0tLS1FTkQgRUMgUFJJVkFURSBLRVktLS0tLQo="

static char dir[PATH_MAX];

static void write_file(const char *name, const char *content)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_kubeconfig.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	write_file("ca.crt", CA_PEM);
	write_file("client.crt", CA_PEM);
	write_file("client.key", KEY_PEM);
	write_file("token", "  file-token\n");
	write_file("empty", "");
	write_file("notpem", "hello\n");
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = { "ca.crt", "client.crt", "client.key", "token",
					     "empty",  "notpem",     "namespace",  "config" };
	char path[PATH_MAX + 64];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

/* Parses text as if it were the file DIR/config. */
static int parse(const char *text, struct kube_config **ret, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/config", dir);
	return kube_config_parse(text, strlen(text), path, NULL, ret, err, errlen);
}

static struct kube_config *parse_ok(const char *text)
{
	struct kube_config *c = NULL;
	char err[512];
	int r = parse(text, &c, err, sizeof(err));

	if (r != 0)
		fail_msg("parse failed (%d): %s", r, err);
	return c;
}

/* The error must name the file (config) and contain want. */
static void parse_fails(const char *text, int want_r, const char *want)
{
	struct kube_config *c = (struct kube_config *)0x1;
	char err[512];
	int r = parse(text, &c, err, sizeof(err));

	if (r == 0)
		fail_msg("parse succeeded, want failure with \"%s\"", want);
	if (want_r && r != want_r)
		fail_msg("parse = %d, want %d (%s)", r, want_r, err);
	assert_ptr_equal(c, (struct kube_config *)0x1);
	if (!strstr(err, "/config"))
		fail_msg("error does not name the file: %s", err);
	if (want && !strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

#define HEAD                                                                                       \
	"apiVersion: v1\n"                                                                         \
	"kind: Config\n"                                                                           \
	"current-context: ctx\n"                                                                   \
	"contexts:\n"                                                                              \
	"- name: other\n"                                                                          \
	"  context: {cluster: nope, user: nope}\n"                                                 \
	"- name: ctx\n"                                                                            \
	"  context:\n"                                                                             \
	"    cluster: c1\n"                                                                        \
	"    user: u1\n"                                                                           \
	"    namespace: team-a\n"

static void test_yaml_token_and_ca_data(void **state)
{
	struct kube_config *c;

	(void)state;
	c = parse_ok(HEAD "clusters:\n"
			  "- name: c1\n"
			  "  cluster:\n"
			  "    server: https://192.0.2.10:6443/\n"
			  "    certificate-authority-data: " CA_B64 "\n"
			  "users:\n"
			  "- name: u1\n"
			  "  user:\n"
			  "    token: abc.def\n");
	assert_string_equal(c->server, "https://192.0.2.10:6443");
	assert_int_equal(c->ca_pem_len, strlen(CA_PEM));
	assert_memory_equal(c->ca_pem, CA_PEM, c->ca_pem_len);
	assert_string_equal(c->token, "abc.def");
	assert_null(c->token_file);
	assert_string_equal(c->namespace, "team-a");
	assert_false(c->insecure_skip_tls_verify);
	assert_null(c->cert_pem);
	assert_non_null(strstr(c->source, "/config"));
	kube_config_free(c);
}

static void test_relative_file_paths_are_relative_to_the_kubeconfig(void **state)
{
	struct kube_config *c;
	char want[PATH_MAX + 16];

	(void)state;
	c = parse_ok(HEAD "clusters:\n"
			  "- name: c1\n"
			  "  cluster:\n"
			  "    server: https://kube.example:6443\n"
			  "    certificate-authority: ca.crt\n"
			  "users:\n"
			  "- name: u1\n"
			  "  user:\n"
			  "    client-certificate: ./client.crt\n"
			  "    client-key: client.key\n"
			  "    tokenFile: token\n");
	assert_memory_equal(c->ca_pem, CA_PEM, strlen(CA_PEM));
	assert_memory_equal(c->cert_pem, CA_PEM, strlen(CA_PEM));
	assert_memory_equal(c->key_pem, KEY_PEM, strlen(KEY_PEM));
	snprintf(want, sizeof(want), "%s/token", dir);
	assert_string_equal(c->token_file, want);
	/* Read at load, trimmed. */
	assert_string_equal(c->token, "file-token");
	kube_config_free(c);
}

static void test_client_cert_data_forms_win_over_files(void **state)
{
	struct kube_config *c;

	(void)state;
	c = parse_ok(HEAD "clusters:\n"
			  "- name: c1\n"
			  "  cluster:\n"
			  "    server: https://kube.example\n"
			  "    certificate-authority: does-not-exist.crt\n"
			  "    certificate-authority-data: " CA_B64 "\n"
			  "users:\n"
			  "- name: u1\n"
			  "  user:\n"
			  "    client-certificate-data: " CA_B64 "\n"
			  "    client-key-data: " KEY_B64 "\n"
			  "    client-key: does-not-exist.key\n");
	assert_memory_equal(c->key_pem, KEY_PEM, strlen(KEY_PEM));
	assert_memory_equal(c->cert_pem, CA_PEM, strlen(CA_PEM));
	assert_null(c->token);
	kube_config_free(c);
}

static void test_inline_token_wins_over_token_file_at_first(void **state)
{
	struct kube_config *c;

	(void)state;
	c = parse_ok(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			  "users:\n- name: u1\n  user:\n    token: inline\n    tokenFile: token\n");
	assert_string_equal(c->token, "inline");
	assert_non_null(c->token_file);
	kube_config_free(c);
}

static void test_json_kubeconfig_with_tabs(void **state)
{
	struct kube_config *c;

	(void)state;
	c = parse_ok("{\n\t\"apiVersion\": \"v1\",\n\t\"current-context\": \"ctx\",\n"
		     "\t\"contexts\": [{\"name\": \"ctx\", \"context\": {\"cluster\": \"c1\", "
		     "\"user\": \"u1\"}}],\n"
		     "\t\"clusters\": [{\"name\": \"c1\", \"cluster\": {\"server\": "
		     "\"https://[2001:db8::1]:6443\", \"insecure-skip-tls-verify\": true}}],\n"
		     "\t\"users\": [{\"name\": \"u1\", \"user\": {\"token\": \"t\"}}]\n}\n");
	assert_string_equal(c->server, "https://[2001:db8::1]:6443");
	assert_true(c->insecure_skip_tls_verify);
	assert_null(c->namespace);
	kube_config_free(c);
}

static void test_yaml_flow_style_and_anchors(void **state)
{
	struct kube_config *c;

	(void)state;
	c = parse_ok("current-context: ctx\n"
		     "contexts: [{name: ctx, context: {cluster: c1, user: u1}}]\n"
		     "clusters: [{name: c1, cluster: &cl {server: 'http://127.0.0.1:8080'}}]\n"
		     "users: [{name: u1, user: {token: 12345}}, {name: u2, user: *cl}]\n");
	assert_string_equal(c->server, "http://127.0.0.1:8080");
	/* A plain scalar that looks like a number is still a string field. */
	assert_string_equal(c->token, "12345");
	kube_config_free(c);
}

static void test_yaml_insecure_forms(void **state)
{
	static const char *const yes[] = { "true", "True", "yes", "on", "\"true\"" };
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct kube_config *c;

		snprintf(text, sizeof(text),
			 HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			      "    insecure-skip-tls-verify: %s\nusers:\n- name: u1\n  user: {}\n",
			 yes[i]);
		c = parse_ok(text);
		assert_true(c->insecure_skip_tls_verify);
		kube_config_free(c);
	}
	snprintf(text, sizeof(text),
		 HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
		      "    insecure-skip-tls-verify: maybe\nusers:\n- name: u1\n  user: {}\n");
	parse_fails(text, -EINVAL,
		    "clusters[0].cluster.insecure-skip-tls-verify: must be true or false");
}

static void test_context_override_and_missing_user(void **state)
{
	struct kube_config *c = NULL;
	char path[PATH_MAX + 64], err[256];
	const char *text = HEAD "- name: nouser\n  context: {cluster: c1}\n"
				"clusters:\n- name: c1\n  cluster: {server: https://h}\n"
				"users:\n- name: u1\n  user: {token: t}\n";

	(void)state;
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(
		kube_config_parse(text, strlen(text), path, "nouser", &c, err, sizeof(err)), 0);
	assert_null(c->token);
	kube_config_free(c);
}

static void test_errors_name_file_and_field(void **state)
{
	(void)state;
	parse_fails("", -EINVAL, "empty");
	parse_fails("- a\n- b\n", -EINVAL, "not a kubeconfig");
	parse_fails("apiVersion: v1\n", -EINVAL, "current-context: is not set");
	parse_fails("current-context: nope\ncontexts: []\n", -ENOENT, "context \"nope\" not found");
	parse_fails("current-context: ctx\ncontexts: {}\n", -EINVAL, "contexts: must be a list");
	parse_fails("current-context: ctx\ncontexts:\n- context: {}\n", -EINVAL,
		    "contexts[0]: name is missing");
	parse_fails("current-context: ctx\ncontexts:\n- name: ctx\n", -EINVAL,
		    "contexts[0].context: is missing");
	parse_fails("current-context: ctx\ncontexts:\n- name: ctx\n  context: {user: u}\n", -EINVAL,
		    "contexts[0].context.cluster: is missing");
	parse_fails(HEAD "clusters: []\n", -ENOENT, "cluster \"c1\" not found");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {}\n", -EINVAL,
		    "clusters[0].cluster.server: is missing");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: [1]}\n", -EINVAL,
		    "clusters[0].cluster.server: must be a string");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: ftp://h}\n", -EINVAL,
		    "clusters[0].cluster.server: must start with https:// or http://");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://'}\n", -EINVAL,
		    "has no host");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: \"https://h\\r\\nX: y\"}\n",
		    -EINVAL, "control character");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\nusers: []\n",
		    -ENOENT, "user \"u1\" not found");
}

static void test_credential_errors(void **state)
{
	(void)state;
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			 "    certificate-authority: missing.crt\n",
		    -ENOENT, "clusters[0].cluster.certificate-authority: cannot read");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			 "    certificate-authority: notpem\n",
		    -EINVAL, "clusters[0].cluster.certificate-authority: no PEM certificate");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			 "    certificate-authority-data: '%%%'\n",
		    -EINVAL, "clusters[0].cluster.certificate-authority-data: invalid base64");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			 "    certificate-authority-data: aGVsbG8=\n",
		    -EINVAL, "certificate-authority-data: no PEM certificate");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h\n"
			 "    certificate-authority: ca.crt\n    insecure-skip-tls-verify: true\n",
		    -EINVAL, "insecure-skip-tls-verify: cannot be true together with");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {client-certificate: client.crt}\n",
		    -EINVAL, "users[0].user.client-key: is missing");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {client-key-data: " KEY_B64 "}\n",
		    -EINVAL, "users[0].user.client-certificate: is missing");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {client-certificate: client.crt, "
			 "client-key: ca.crt}\n",
		    -EINVAL, "users[0].user.client-key: no PEM private key");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {tokenFile: missing}\n",
		    -ENOENT, "users[0].user.tokenFile: cannot read");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {tokenFile: empty}\n",
		    -EINVAL, "users[0].user.tokenFile: cannot read");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {token: \"a b\"}\n",
		    -EINVAL, "users[0].user.token: contains spaces");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {token: \"a\\r\\nHost: evil\"}\n",
		    -EINVAL, "users[0].user.token");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user:\n    exec: {command: aws}\n",
		    -EOPNOTSUPP, "users[0].user.exec: not supported");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
			 "users:\n- name: u1\n  user: {username: a, password: b}\n",
		    -EOPNOTSUPP, "users[0].user.username: not supported");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h, "
			 "proxy-url: 'http://p'}\n",
		    -EOPNOTSUPP, "clusters[0].cluster.proxy-url: not supported");
}

static void test_hostile_yaml(void **state)
{
	char *big;

	(void)state;
	/* Syntax errors give a line number. */
	parse_fails("a: [\n", -EINVAL, "invalid YAML at line");
	parse_fails("a: b\n\tc: d\n", -EINVAL, "invalid YAML");
	parse_fails("{\"a\": }", -EINVAL, "invalid JSON at line 1");
	/* Billion laughs: aliases are not expanded without bound. */
	parse_fails("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		    "current-context: ctx\n",
		    -EINVAL, "too many nodes");
	/* A recursive alias. */
	parse_fails("a: &a [*a]\ncurrent-context: ctx\n", -EINVAL, NULL);
	parse_fails("a: &a {b: *a}\ncurrent-context: ctx\n", -EINVAL, NULL);
	/* Deep nesting. */
	big = malloc(20000);
	assert_non_null(big);
	memset(big, '[', 10000);
	big[10000] = '\0';
	parse_fails(big, -EINVAL, NULL);
	/* Deep but well-formed: refused by depth, not by a crash. */
	memset(big, '[', 5000);
	memset(big + 5000, ']', 5000);
	big[10000] = '\0';
	parse_fails(big, -EINVAL, "nesting too deep");
	big[0] = '{';
	memcpy(big, "{\"a\":", 5);
	memset(big + 5, '[', 4000);
	memset(big + 4005, ']', 4000);
	big[8005] = '}';
	big[8006] = '\0';
	parse_fails(big, -EINVAL, NULL);
	/* Binary garbage and NUL bytes. */
	{
		static const char bin[] = "current-context: \"a\\0b\"\n";
		struct kube_config *c = NULL;
		char err[256];

		parse_fails(bin, -EINVAL, NULL);
		assert_true(kube_config_parse("\xff\xfe\x00\x01", 4, "/x/config", NULL, &c, err,
					      sizeof(err)) < 0);
	}
	/* Non-scalar keys. */
	parse_fails("? [a]\n: b\n", -EINVAL, "key");
	/* Too large. */
	free(big);
	big = malloc(KUBE_CONFIG_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, ' ', KUBE_CONFIG_MAX_SIZE + 1);
	big[KUBE_CONFIG_MAX_SIZE + 1] = '\0';
	{
		struct kube_config *c = NULL;
		char err[256];

		assert_int_equal(kube_config_parse(big, KUBE_CONFIG_MAX_SIZE + 1, "/x/config", NULL,
						   &c, err, sizeof(err)),
				 -EFBIG);
		assert_non_null(strstr(err, "/x/config"));
	}
	free(big);
}

static void test_wrong_types_everywhere(void **state)
{
	(void)state;
	parse_fails("current-context: [a]\n", -EINVAL, "current-context: must be a string");
	parse_fails("current-context: ctx\ncontexts:\n- name: ctx\n  context: [1]\n", -EINVAL,
		    "contexts[0].context");
	parse_fails("current-context: ctx\ncontexts:\n- 5\n", -EINVAL,
		    "contexts[0]: must be a mapping");
	parse_fails(HEAD "clusters:\n- name: c1\n  cluster: {server: https://h, "
			 "certificate-authority-data: {a: b}}\n",
		    -EINVAL, "certificate-authority-data: must be a string");
	parse_fails("{\"current-context\": 5}", -EINVAL, "current-context: must be a string");
	parse_fails(
		"{\"current-context\": \"ctx\", \"contexts\": [{\"name\": \"ctx\", \"context\": "
		"{\"cluster\": \"c\"}}], \"clusters\": [{\"name\": \"c\", \"cluster\": "
		"{\"server\": "
		"\"https://h\", \"insecure-skip-tls-verify\": 1}}]}",
		-EINVAL, "insecure-skip-tls-verify: must be true or false");
}

static void test_load_file_errors_name_the_file(void **state)
{
	struct kube_config *c = NULL;
	char err[256], path[PATH_MAX + 64];

	(void)state;
	assert_int_equal(
		kube_config_load_file("/nonexistent/kubeconfig", NULL, &c, err, sizeof(err)),
		-ENOENT);
	assert_non_null(strstr(err, "/nonexistent/kubeconfig: cannot read"));
	assert_int_equal(kube_config_load_file(dir, NULL, &c, err, sizeof(err)), -EISDIR);
	snprintf(path, sizeof(path), "%s/config", dir);
	write_file("config", HEAD "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
				  "users:\n- name: u1\n  user: {token: t}\n");
	assert_int_equal(kube_config_load_file(path, NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->source, path);
	{
		struct kube_config *d = kube_config_dup(c);

		assert_non_null(d);
		assert_string_equal(d->server, c->server);
		assert_string_equal(d->token, "t");
		kube_config_free(d);
	}
	kube_config_free(c);
	kube_config_free(NULL);
}

static void test_token_read(void **state)
{
	char path[PATH_MAX + 64], *t = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_int_equal(kube_token_read(path, &t), 0);
	assert_string_equal(t, "file-token");
	free(t);
	snprintf(path, sizeof(path), "%s/empty", dir);
	assert_int_equal(kube_token_read(path, &t), -EINVAL);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(kube_token_read(path, &t), -ENOENT);
}

static void test_in_cluster(void **state)
{
	struct kube_config *c = NULL;
	char err[256];

	(void)state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_config_load_cluster(dir, &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "2001:db8::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443x", 1);
	assert_int_equal(kube_config_load_cluster(dir, &c, err, sizeof(err)), -EINVAL);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	write_file("namespace", "ironlb-system\n");
	assert_int_equal(kube_config_load_cluster(dir, &c, err, sizeof(err)), 0);
	assert_string_equal(c->server, "https://[2001:db8::1]:443");
	assert_string_equal(c->token, "file-token");
	assert_non_null(strstr(c->token_file, "/token"));
	assert_memory_equal(c->ca_pem, CA_PEM, strlen(CA_PEM));
	assert_string_equal(c->namespace, "ironlb-system");
	assert_string_equal(c->source, "in-cluster");
	kube_config_free(c);
	setenv("KUBERNETES_SERVICE_HOST", "192.0.2.1", 1);
	assert_int_equal(kube_config_load_cluster("/nonexistent", &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/token"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_token_and_ca_data),
		cmocka_unit_test(test_relative_file_paths_are_relative_to_the_kubeconfig),
		cmocka_unit_test(test_client_cert_data_forms_win_over_files),
		cmocka_unit_test(test_inline_token_wins_over_token_file_at_first),
		cmocka_unit_test(test_json_kubeconfig_with_tabs),
		cmocka_unit_test(test_yaml_flow_style_and_anchors),
		cmocka_unit_test(test_yaml_insecure_forms),
		cmocka_unit_test(test_context_override_and_missing_user),
		cmocka_unit_test(test_errors_name_file_and_field),
		cmocka_unit_test(test_credential_errors),
		cmocka_unit_test(test_hostile_yaml),
		cmocka_unit_test(test_wrong_types_everywhere),
		cmocka_unit_test(test_load_file_errors_name_the_file),
		cmocka_unit_test(test_token_read),
		cmocka_unit_test(test_in_cluster),
	};

	return cmocka_run_group_tests_name("kubeconfig", tests, setup, teardown);
}
