/* Where the API server is and how to authenticate to it: from a kubeconfig
 * file (--kubeconfig; YAML or JSON) or from the in-cluster service account.
 *
 * Files named by the kubeconfig (certificate-authority, client-certificate,
 * client-key) are read at load time, so a missing or unreadable file is
 * reported then, naming the field; only a token file is kept as a path,
 * because it rotates and the client re-reads it.
 *
 * Errors: functions return a negative errno and write one line naming the
 * file and the field into err (if not NULL), e.g.
 *   "/etc/kube/config: users[0].user.client-key: cannot read key.pem: No such file or directory"
 */
#ifndef IRONLB_KUBE_CONFIG_H
#define IRONLB_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* A kubeconfig larger than this is refused: real ones are a few KiB. */
#define KUBE_CONFIG_MAX_SIZE ((size_t)4 << 20)

struct kube_config {
	char *server; /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_pem; /* PEM bundle, or NULL: the system trust store */
	size_t ca_pem_len;
	char *cert_pem; /* client certificate and key (PEM), or NULL */
	size_t cert_pem_len;
	char *key_pem;
	size_t key_pem_len;
	char *token;	  /* bearer token, or NULL */
	char *token_file; /* re-read periodically and after a 401, or NULL */
	bool insecure_skip_tls_verify;
	char *namespace; /* the context's namespace / the service account's; or NULL */
	char *source;	 /* "FILE" or "in-cluster": for messages */
};

/* Loads a kubeconfig. context NULL means current-context. Relative paths
 * in it are relative to the file's directory. */
int kube_config_load_file(const char *path, const char *context, struct kube_config **ret,
			  char *err, size_t errlen);

/* Parses a kubeconfig held in memory; path names it in messages and its
 * directory anchors relative paths. For tests and the fuzzer. */
int kube_config_parse(const char *data, size_t len, const char *path, const char *context,
		      struct kube_config **ret, char *err, size_t errlen);

/* In-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, and the
 * service account's token, ca.crt and namespace in sa_dir (NULL:
 * KUBE_SA_DIR). */
int kube_config_load_cluster(const char *sa_dir, struct kube_config **ret, char *err,
			     size_t errlen);

/* --kubeconfig FILE if given, else in-cluster. */
int kube_config_load(const char *kubeconfig, struct kube_config **ret, char *err, size_t errlen);

struct kube_config *kube_config_dup(const struct kube_config *c);
void kube_config_free(struct kube_config *c);

/* Reads a token file: the contents without surrounding whitespace. 0 with a
 * new string, -ENOENT etc., -EINVAL if empty, -EFBIG if over 64 KiB. */
int kube_token_read(const char *path, char **ret_token);

#endif
