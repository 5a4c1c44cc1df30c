/* Client configuration: kubeconfig files and the in-cluster service account.
 *
 * A kubeconfig is parsed with libyaml's document loader (JSON with jansson
 * when it starts with '{', since JSON indented with tabs is not YAML) and
 * converted into a jansson tree, so that fields are read the same way
 * whatever the syntax. The conversion is bounded (depth, node count, file
 * size) because YAML aliases can make a small file describe a huge or
 * cyclic tree. Field rules follow client-go: -data forms win over file
 * forms, a CA together with insecure-skip-tls-verify is an error, YAML
 * scalars are accepted for string fields whatever they look like (sigs.k8s.io/yaml
 * does the same when the target is a string).
 */
#include "ironlb/kube_config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "ironlb/kube_util.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000
#define PEM_MAX_SIZE ((size_t)1 << 20)
#define TOKEN_MAX_SIZE ((size_t)64 << 10)

struct cfg_ctx {
	const char *path;
	char dir[PATH_MAX];
	char *err;
	size_t errlen;
};

static int cfg_fail(struct cfg_ctx *c, int r, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int cfg_fail(struct cfg_ctx *c, int r, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return r;
	if (field)
		n = snprintf(c->err, c->errlen, "%s: %s: ", c->path, field);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->path);
	if (n < 0 || (size_t)n >= c->errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- files ---- */

/* Reads a whole regular file of at most max bytes; NUL-terminated. */
static int file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	/* st_size is 0 for /proc-like files; read up to max regardless. */
	buf = malloc(max + 2);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			free(buf);
			r = -EFBIG;
			goto out;
		}
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
out:
	close(fd);
	return r;
}

static bool token_char_ok(unsigned char ch)
{
	/* Visible ASCII only: anything else could break the header line. */
	return ch > 0x20 && ch < 0x7f;
}

static bool token_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!token_char_ok((unsigned char)*s))
			return false;
	return true;
}

int kube_token_read(const char *path, char **ret_token)
{
	char *buf, *s, *e, *tok;
	size_t len;
	int r = file_read(path, TOKEN_MAX_SIZE, &buf, &len);

	if (r < 0)
		return r;
	if (strlen(buf) != len) {
		free(buf);
		return -EINVAL;
	}
	for (s = buf; *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'; s++)
		;
	for (e = buf + len;
	     e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'); e--)
		;
	*e = '\0';
	if (!token_valid(s)) {
		free(buf);
		return -EINVAL;
	}
	tok = strdup(s);
	free(buf);
	if (!tok)
		return -ENOMEM;
	*ret_token = tok;
	return 0;
}

/* ---- base64 ---- */

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Standard base64 with padding; whitespace (line breaks) ignored. */
static int b64_decode(const char *s, char **ret, size_t *ret_len)
{
	size_t n = strlen(s), out = 0;
	unsigned acc = 0, bits = 0, pad = 0, chars = 0;
	char *buf = malloc(n / 4 * 3 + 4);

	if (!buf)
		return -ENOMEM;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int v;

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '=') {
			pad++;
			chars++;
			continue;
		}
		v = b64_value(ch);
		if (v < 0 || pad)
			goto bad;
		chars++;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[out++] = (char)(acc >> bits & 0xff);
		}
	}
	if (chars == 0 || chars % 4 != 0 || pad > 2)
		goto bad;
	buf[out] = '\0';
	*ret = buf;
	*ret_len = out;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

/* ---- YAML to JSON ---- */

struct yconv {
	yaml_document_t *doc;
	size_t budget;
	const char *why;
};

static bool plain_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return len == 0 || (len == 1 && v[0] == '~') ||
	       (len == 4 && (!strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL")));
}

static json_t *yaml_convert(struct yconv *yc, yaml_node_t *n, unsigned depth)
{
	json_t *j = NULL;

	if (!n) {
		yc->why = "dangling alias";
		return NULL;
	}
	if (depth > YAML_MAX_DEPTH) {
		yc->why = "nesting too deep (recursive alias?)";
		return NULL;
	}
	if (yc->budget == 0) {
		yc->why = "too many nodes (alias expansion?)";
		return NULL;
	}
	yc->budget--;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (plain_null(n))
			return json_null();
		if (memchr(n->data.scalar.value, '\0', n->data.scalar.length)) {
			yc->why = "NUL character in a value";
			return NULL;
		}
		j = json_stringn((const char *)n->data.scalar.value,
				 n->data.scalar.length); /* new */
		if (!j)
			yc->why = "invalid UTF-8 or out of memory";
		return j;
	case YAML_SEQUENCE_NODE:
		j = json_array(); /* new */
		if (!j)
			break;
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			json_t *v =
				yaml_convert(yc, yaml_document_get_node(yc->doc, *it), depth + 1);

			if (!v || json_array_append_new(j, v) < 0) { /* steals v */
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case YAML_MAPPING_NODE:
		j = json_object(); /* new */
		if (!j)
			break;
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(yc->doc, p->key);
			json_t *v;

			if (!k || k->type != YAML_SCALAR_NODE ||
			    memchr(k->data.scalar.value, '\0', k->data.scalar.length)) {
				yc->why = "a mapping key is not a plain string";
				json_decref(j);
				return NULL;
			}
			v = yaml_convert(yc, yaml_document_get_node(yc->doc, p->value), depth + 1);
			if (!v ||
			    json_object_set_new(j, (const char *)k->data.scalar.value, v) < 0) {
				if (!yc->why)
					yc->why = "invalid key";
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		yc->why = "empty node";
		return NULL;
	}
	yc->why = "out of memory";
	return NULL;
}

static int yaml_to_json(struct cfg_ctx *c, const char *data, size_t len, json_t **ret)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct yconv yc = { .doc = &doc, .budget = YAML_MAX_NODES };
	yaml_node_t *root;
	json_t *j;

	if (!yaml_parser_initialize(&parser))
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		int r = cfg_fail(c, -EINVAL, NULL, "invalid YAML at line %zu column %zu: %s",
				 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				 parser.problem ? parser.problem : "syntax error");

		yaml_parser_delete(&parser);
		return r;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		yaml_document_delete(&doc);
		yaml_parser_delete(&parser);
		return cfg_fail(c, -EINVAL, NULL, "empty file");
	}
	j = yaml_convert(&yc, root, 0);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!j)
		return cfg_fail(c, -EINVAL, NULL, "invalid YAML: %s", yc.why ? yc.why : "?");
	*ret = j;
	return 0;
}

static int text_to_json(struct cfg_ctx *c, const char *data, size_t len, json_t **ret)
{
	size_t i = 0;

	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		i = 3; /* a UTF-8 byte order mark */
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < len && data[i] == '{') {
		json_error_t je;
		json_t *j = json_loadb(data + i, len - i, 0, &je); /* new */

		if (!j)
			return cfg_fail(c, -EINVAL, NULL, "invalid JSON at line %d column %d: %s",
					je.line, je.column, je.text);
		*ret = j;
		return 0;
	}
	return yaml_to_json(c, data, len, ret);
}

/* ---- field access ---- */

/* dst = a + "." + b, cut to fit: field names for messages only. */
static void field_join(char *dst, size_t n, const char *a, const char *b)
{
	size_t la = strnlen(a, n - 1), lb;

	memcpy(dst, a, la);
	if (la + 1 < n)
		dst[la++] = '.';
	lb = strnlen(b, n - 1 - la);
	memcpy(dst + la, b, lb);
	dst[la + lb] = '\0';
}

/* A string field: absent or null gives NULL. Scalars of any YAML type are
 * strings already; JSON numbers and booleans are refused like kubectl. */
static int get_str(struct cfg_ctx *c, json_t *obj, const char *key, const char *field,
		   const char **ret)
{
	json_t *v = json_object_get(obj, key); /* borrowed */

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return cfg_fail(c, -EINVAL, field, "must be a string");
	*ret = json_string_value(v);
	if (!(*ret)[0])
		*ret = NULL;
	return 0;
}

static int get_bool(struct cfg_ctx *c, json_t *obj, const char *key, const char *field, bool *ret)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
					   "YES",  "on",   "On",   "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
					  "NO",	   "off",   "Off",   "OFF" };
	json_t *v = json_object_get(obj, key); /* borrowed */

	if (!v || json_is_null(v)) {
		*ret = false;
		return 0;
	}
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (json_is_string(v)) {
		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (!strcmp(json_string_value(v), yes[i])) {
				*ret = true;
				return 0;
			}
			if (!strcmp(json_string_value(v), no[i])) {
				*ret = false;
				return 0;
			}
		}
	}
	return cfg_fail(c, -EINVAL, field, "must be true or false");
}

/* Finds the entry of list key ("clusters") whose name is name, and returns
 * its inner object (entry.cluster). *ret_field gets "clusters[N].cluster". */
static int find_named(struct cfg_ctx *c, json_t *root, const char *list, const char *inner,
		      const char *what, const char *name, json_t **ret, char *field, size_t flen)
{
	json_t *arr = json_object_get(root, list); /* borrowed */
	size_t i;
	json_t *e;

	if (arr && !json_is_null(arr) && !json_is_array(arr))
		return cfg_fail(c, -EINVAL, list, "must be a list");
	json_array_foreach (arr, i, e) {
		json_t *n, *in;

		snprintf(field, flen, "%s[%zu]", list, i);
		if (!json_is_object(e))
			return cfg_fail(c, -EINVAL, field, "must be a mapping");
		n = json_object_get(e, "name"); /* borrowed */
		if (!json_is_string(n))
			return cfg_fail(c, -EINVAL, field, "name is missing or not a string");
		if (strcmp(json_string_value(n), name) != 0)
			continue;
		snprintf(field, flen, "%s[%zu].%s", list, i, inner);
		in = json_object_get(e, inner); /* borrowed */
		if (!json_is_object(in))
			return cfg_fail(c, -EINVAL, field, "is missing or not a mapping");
		*ret = in;
		return 0;
	}
	return cfg_fail(c, -ENOENT, NULL, "%s \"%s\" not found", what, name);
}

/* Path relative to the kubeconfig's directory unless absolute. */
static int resolve_path(struct cfg_ctx *c, const char *p, char *buf, size_t len)
{
	int n;

	if (p[0] == '/' || !c->dir[0])
		n = snprintf(buf, len, "%s", p);
	else
		n = snprintf(buf, len, "%s/%s", c->dir, p);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool pem_has(const char *pem, size_t len, const char *marker)
{
	return memmem(pem, len, marker, strlen(marker)) != NULL;
}

enum pem_kind { PEM_CERT, PEM_KEY };

static int pem_check(struct cfg_ctx *c, const char *field, const char *pem, size_t len,
		     enum pem_kind kind)
{
	if (kind == PEM_CERT && !pem_has(pem, len, "-----BEGIN CERTIFICATE-----"))
		return cfg_fail(c, -EINVAL, field, "no PEM certificate in it");
	if (kind == PEM_KEY &&
	    !(pem_has(pem, len, "-----BEGIN ") && pem_has(pem, len, "PRIVATE KEY-----")))
		return cfg_fail(c, -EINVAL, field, "no PEM private key in it");
	return 0;
}

/* Loads a PEM from "<file>" or "<file>-data" fields; -data wins. */
static int load_pem(struct cfg_ctx *c, json_t *obj, const char *obj_field, const char *file_key,
		    enum pem_kind kind, char **ret, size_t *ret_len)
{
	char field[256], data_key[64], path[PATH_MAX];
	const char *file, *data;
	char *buf;
	size_t len;
	int r;

	snprintf(data_key, sizeof(data_key), "%s-data", file_key);
	field_join(field, sizeof(field), obj_field, data_key);
	r = get_str(c, obj, data_key, field, &data);
	if (r < 0)
		return r;
	if (data) {
		r = b64_decode(data, &buf, &len);
		if (r == -ENOMEM)
			return cfg_fail(c, r, field, "out of memory");
		if (r < 0)
			return cfg_fail(c, r, field, "invalid base64");
		r = pem_check(c, field, buf, len, kind);
		if (r < 0) {
			free(buf);
			return r;
		}
		*ret = buf;
		*ret_len = len;
		return 0;
	}
	field_join(field, sizeof(field), obj_field, file_key);
	r = get_str(c, obj, file_key, field, &file);
	if (r < 0 || !file)
		return r;
	if (resolve_path(c, file, path, sizeof(path)) < 0)
		return cfg_fail(c, -ENAMETOOLONG, field, "path too long");
	r = file_read(path, PEM_MAX_SIZE, &buf, &len);
	if (r < 0)
		return cfg_fail(c, r, field, "cannot read %s: %s", path,
				r == -EFBIG ? "file too large" : strerror(-r));
	r = pem_check(c, field, buf, len, kind);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int check_server(struct cfg_ctx *c, const char *field, const char *s)
{
	const char *host;

	if (!strncasecmp(s, "https://", 8))
		host = s + 8;
	else if (!strncasecmp(s, "http://", 7))
		host = s + 7;
	else
		return cfg_fail(c, -EINVAL, field, "must start with https:// or http://");
	if (!*host || *host == '/')
		return cfg_fail(c, -EINVAL, field, "has no host");
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return cfg_fail(c, -EINVAL, field, "contains a space or control character");
	return 0;
}

static int set_str(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static const char *const unsupported_user[] = { "exec", "auth-provider", "username", "password",
						"as",	"as-groups" };
static const char *const unsupported_cluster[] = { "tls-server-name", "proxy-url" };

static int parse_cluster(struct cfg_ctx *c, json_t *cl, const char *cf, struct kube_config *k)
{
	char field[256];
	const char *server;
	int r;

	for (size_t i = 0; i < sizeof(unsupported_cluster) / sizeof(unsupported_cluster[0]); i++) {
		json_t *v = json_object_get(cl, unsupported_cluster[i]); /* borrowed */

		if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v))) {
			field_join(field, sizeof(field), cf, unsupported_cluster[i]);
			return cfg_fail(c, -EOPNOTSUPP, field, "not supported by ironlb");
		}
	}
	field_join(field, sizeof(field), cf, "server");
	r = get_str(c, cl, "server", field, &server);
	if (r < 0)
		return r;
	if (!server)
		return cfg_fail(c, -EINVAL, field, "is missing");
	r = check_server(c, field, server);
	if (r < 0)
		return r;
	if (set_str(&k->server, server) < 0)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	for (size_t n = strlen(k->server); n > 0 && k->server[n - 1] == '/'; n--)
		k->server[n - 1] = '\0';
	field_join(field, sizeof(field), cf, "insecure-skip-tls-verify");
	r = get_bool(c, cl, "insecure-skip-tls-verify", field, &k->insecure_skip_tls_verify);
	if (r < 0)
		return r;
	r = load_pem(c, cl, cf, "certificate-authority", PEM_CERT, &k->ca_pem, &k->ca_pem_len);
	if (r < 0)
		return r;
	if (k->ca_pem && k->insecure_skip_tls_verify)
		return cfg_fail(c, -EINVAL, field,
				"cannot be true together with a certificate authority");
	return 0;
}

static int parse_user(struct cfg_ctx *c, json_t *u, const char *uf, struct kube_config *k)
{
	char field[256], path[PATH_MAX];
	const char *token, *token_file;
	int r;

	for (size_t i = 0; i < sizeof(unsupported_user) / sizeof(unsupported_user[0]); i++) {
		json_t *v = json_object_get(u, unsupported_user[i]); /* borrowed */

		if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v))) {
			field_join(field, sizeof(field), uf, unsupported_user[i]);
			return cfg_fail(
				c, -EOPNOTSUPP, field,
				"not supported by ironlb (use a token or a client certificate)");
		}
	}
	r = load_pem(c, u, uf, "client-certificate", PEM_CERT, &k->cert_pem, &k->cert_pem_len);
	if (r < 0)
		return r;
	r = load_pem(c, u, uf, "client-key", PEM_KEY, &k->key_pem, &k->key_pem_len);
	if (r < 0)
		return r;
	if (!k->cert_pem != !k->key_pem) {
		field_join(field, sizeof(field), uf,
			   k->cert_pem ? "client-key" : "client-certificate");
		return cfg_fail(c, -EINVAL, field,
				"is missing (client-certificate and client-key go together)");
	}
	field_join(field, sizeof(field), uf, "token");
	r = get_str(c, u, "token", field, &token);
	if (r < 0)
		return r;
	if (token && !token_valid(token))
		return cfg_fail(c, -EINVAL, field, "contains spaces or control characters");
	field_join(field, sizeof(field), uf, "tokenFile");
	r = get_str(c, u, "tokenFile", field, &token_file);
	if (r < 0)
		return r;
	if (token_file) {
		char *t = NULL;

		if (resolve_path(c, token_file, path, sizeof(path)) < 0)
			return cfg_fail(c, -ENAMETOOLONG, field, "path too long");
		/* Read now so that a wrong path is reported at start-up. */
		r = kube_token_read(path, &t);
		if (r < 0)
			return cfg_fail(c, r, field, "cannot read %s: %s", path,
					r == -EINVAL ? "empty or not a token" : strerror(-r));
		if (set_str(&k->token_file, path) < 0) {
			free(t);
			return cfg_fail(c, -ENOMEM, NULL, "out of memory");
		}
		/* client-go: an inline token is used first, the file after. */
		if (token)
			free(t);
		else
			k->token = t;
	}
	if (token && set_str(&k->token, token) < 0)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	return 0;
}

static int parse_root(struct cfg_ctx *c, json_t *root, const char *context, struct kube_config *k)
{
	char cfield[256], clfield[256], ufield[256], field[300];
	const char *cluster, *user, *ns;
	json_t *ctx, *cl, *u;
	int r;

	if (!json_is_object(root))
		return cfg_fail(c, -EINVAL, NULL, "not a kubeconfig (top level is not a mapping)");
	if (!context) {
		r = get_str(c, root, "current-context", "current-context", &context);
		if (r < 0)
			return r;
		if (!context)
			return cfg_fail(c, -EINVAL, "current-context", "is not set");
	}
	r = find_named(c, root, "contexts", "context", "context", context, &ctx, cfield,
		       sizeof(cfield));
	if (r < 0)
		return r;
	field_join(field, sizeof(field), cfield, "cluster");
	r = get_str(c, ctx, "cluster", field, &cluster);
	if (r < 0)
		return r;
	if (!cluster)
		return cfg_fail(c, -EINVAL, field, "is missing");
	field_join(field, sizeof(field), cfield, "user");
	r = get_str(c, ctx, "user", field, &user);
	if (r < 0)
		return r;
	field_join(field, sizeof(field), cfield, "namespace");
	r = get_str(c, ctx, "namespace", field, &ns);
	if (r < 0)
		return r;
	if (set_str(&k->namespace, ns) < 0)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	r = find_named(c, root, "clusters", "cluster", "cluster", cluster, &cl, clfield,
		       sizeof(clfield));
	if (r < 0)
		return r;
	r = parse_cluster(c, cl, clfield, k);
	if (r < 0)
		return r;
	if (user) {
		r = find_named(c, root, "users", "user", "user", user, &u, ufield, sizeof(ufield));
		if (r < 0)
			return r;
		r = parse_user(c, u, ufield, k);
		if (r < 0)
			return r;
	}
	return 0;
}

int kube_config_parse(const char *data, size_t len, const char *path, const char *context,
		      struct kube_config **ret, char *err, size_t errlen)
{
	struct cfg_ctx c = { .path = path ? path : "kubeconfig", .err = err, .errlen = errlen };
	struct kube_config *k;
	const char *slash;
	json_t *root = NULL;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (path && (slash = strrchr(path, '/'))) {
		size_t n = (size_t)(slash - path);

		if (n == 0)
			n = 1; /* "/config" lives in "/" */
		if (n >= sizeof(c.dir))
			return cfg_fail(&c, -ENAMETOOLONG, NULL, "path too long");
		memcpy(c.dir, path, n);
		c.dir[n] = '\0';
	}
	if (len > KUBE_CONFIG_MAX_SIZE)
		return cfg_fail(&c, -EFBIG, NULL, "larger than %zu bytes", KUBE_CONFIG_MAX_SIZE);
	r = text_to_json(&c, data, len, &root);
	if (r < 0)
		return r;
	k = calloc(1, sizeof(*k));
	if (!k) {
		json_decref(root);
		return cfg_fail(&c, -ENOMEM, NULL, "out of memory");
	}
	r = parse_root(&c, root, context, k);
	json_decref(root);
	if (r == 0 && set_str(&k->source, c.path) < 0)
		r = cfg_fail(&c, -ENOMEM, NULL, "out of memory");
	if (r < 0) {
		kube_config_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

int kube_config_load_file(const char *path, const char *context, struct kube_config **ret,
			  char *err, size_t errlen)
{
	struct cfg_ctx c = { .path = path, .err = err, .errlen = errlen };
	char *data;
	size_t len;
	int r = file_read(path, KUBE_CONFIG_MAX_SIZE, &data, &len);

	if (r < 0)
		return cfg_fail(&c, r, NULL, "cannot read: %s",
				r == -EFBIG ? "file too large" : strerror(-r));
	r = kube_config_parse(data, len, path, context, ret, err, errlen);
	free(data);
	return r;
}

int kube_config_load_cluster(const char *sa_dir, struct kube_config **ret, char *err, size_t errlen)
{
	struct cfg_ctx c = { .path = "in-cluster config", .err = err, .errlen = errlen };
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[PATH_MAX], *ns = NULL;
	struct kube_config *k;
	struct kube_buf b = { 0 };
	int r;

	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	if (err && errlen)
		err[0] = '\0';
	if (!host || !*host || !port || !*port)
		return cfg_fail(&c, -ENOENT, NULL,
				"KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
				"(not running in a cluster? use --kubeconfig)");
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return cfg_fail(&c, -EINVAL, "KUBERNETES_SERVICE_PORT",
					"is not a port number");
	for (const char *p = host; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == '/' || *p == '[' || *p == ']')
			return cfg_fail(&c, -EINVAL, "KUBERNETES_SERVICE_HOST",
					"is not a host name or address");
	k = calloc(1, sizeof(*k));
	if (!k)
		return cfg_fail(&c, -ENOMEM, NULL, "out of memory");
	if (strchr(host, ':'))
		kube_buf_printf(&b, "https://[%s]:%s", host, port);
	else
		kube_buf_printf(&b, "https://%s:%s", host, port);
	k->server = kube_buf_steal(&b);
	k->source = strdup("in-cluster");
	if (!k->server || !k->source) {
		r = cfg_fail(&c, -ENOMEM, NULL, "out of memory");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	r = kube_token_read(path, &k->token);
	if (r < 0) {
		r = cfg_fail(&c, r, path, "cannot read the service account token: %s",
			     r == -EINVAL ? "empty or not a token" : strerror(-r));
		goto fail;
	}
	k->token_file = strdup(path);
	if (!k->token_file) {
		r = cfg_fail(&c, -ENOMEM, NULL, "out of memory");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	r = file_read(path, PEM_MAX_SIZE, &k->ca_pem, &k->ca_pem_len);
	if (r < 0) {
		r = cfg_fail(&c, r, path, "cannot read the cluster CA: %s", strerror(-r));
		goto fail;
	}
	c.path = path;
	r = pem_check(&c, NULL, k->ca_pem, k->ca_pem_len, PEM_CERT);
	if (r < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	if (kube_token_read(path, &ns) == 0)
		k->namespace = ns; /* optional: only a default */
	*ret = k;
	return 0;
fail:
	kube_config_free(k);
	return r;
}

int kube_config_load(const char *kubeconfig, struct kube_config **ret, char *err, size_t errlen)
{
	if (kubeconfig)
		return kube_config_load_file(kubeconfig, NULL, ret, err, errlen);
	return kube_config_load_cluster(NULL, ret, err, errlen);
}

static int dup_mem(char **dst, const char *src, size_t len)
{
	if (!src)
		return 0;
	*dst = malloc(len + 1);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, len);
	(*dst)[len] = '\0';
	return 0;
}

struct kube_config *kube_config_dup(const struct kube_config *c)
{
	struct kube_config *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ca_pem_len = c->ca_pem_len;
	k->cert_pem_len = c->cert_pem_len;
	k->key_pem_len = c->key_pem_len;
	k->insecure_skip_tls_verify = c->insecure_skip_tls_verify;
	if (set_str(&k->server, c->server) < 0 || set_str(&k->token, c->token) < 0 ||
	    set_str(&k->token_file, c->token_file) < 0 ||
	    set_str(&k->namespace, c->namespace) < 0 || set_str(&k->source, c->source) < 0 ||
	    dup_mem(&k->ca_pem, c->ca_pem, c->ca_pem_len) < 0 ||
	    dup_mem(&k->cert_pem, c->cert_pem, c->cert_pem_len) < 0 ||
	    dup_mem(&k->key_pem, c->key_pem, c->key_pem_len) < 0) {
		kube_config_free(k);
		return NULL;
	}
	return k;
}

static void free_secret(char *s, size_t len)
{
	if (!s)
		return;
	explicit_bzero(s, len);
	free(s);
}

void kube_config_free(struct kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_pem);
	free(c->cert_pem);
	free_secret(c->key_pem, c->key_pem_len);
	free_secret(c->token, c->token ? strlen(c->token) : 0);
	free(c->token_file);
	free(c->namespace);
	free(c->source);
	free(c);
}
