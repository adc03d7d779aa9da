// C wrappers for what Swift's Glibc module does not import: epoll, signalfd,
// timerfd, eventfd, accept4, splice, pipe2 and the CMSG_* macros.
// _GNU_SOURCE is defined only in shims.c: in a header it would break Swift's
// view of accept's sockaddr argument and of environ.
#ifndef WEIR_CSHIMS_H
#define WEIR_CSHIMS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <signal.h>
/* crypt_r and struct crypt_data, for http_auth with hashed passwords (libxcrypt). */
#include <crypt.h>

int CShims_epoll_create1(int flags);
int CShims_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
int CShims_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);

int CShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
ssize_t CShims_splice_socket_to_pipe(int fd_in, int pipe_out, size_t len);
ssize_t CShims_splice_pipe_to_socket(int pipe_in, int fd_out, size_t len);
int CShims_pipe2(int fds[2], int flags);
int CShims_set_pipe_size(int fd, int size);

/// signalfd for the given signals; also blocks them for the calling thread.
int CShims_signalfd(const int *signals, int count, int flags);
/// Reads one signalfd_siginfo and returns its signal number, or -1 with errno.
int CShims_signalfd_read(int fd);
/// Blocks or unblocks the given signals for the calling thread (how: SIG_BLOCK/SIG_UNBLOCK).
int CShims_sigmask(int how, const int *signals, int count);

int CShims_eventfd(unsigned int initval, int flags);

/// Sends `len` bytes plus up to `nfds` file descriptors (SCM_RIGHTS).
ssize_t CShims_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// Receives bytes plus up to `maxfds` descriptors; `*nfds` receives the count.
ssize_t CShims_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);

/// memfd_create(name, MFD_CLOEXEC)
int CShims_memfd_create(const char *name);
/// prctl(PR_SET_PDEATHSIG, signal)
int CShims_set_parent_death_signal(int signal);
/// prctl(PR_SET_TIMERSLACK, nanoseconds)
int CShims_set_timer_slack(unsigned long nanoseconds);
/// prctl(PR_SET_DUMPABLE, dumpable)
int CShims_set_dumpable(int dumpable);
/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)
int CShims_seqpacket_pair(int fds[2]);

/// posix_spawn of `path` with `argv`/`envp`; the child gets `keep_fd` as fd
/// `child_fd` (when keep_fd >= 0), an empty signal mask and default signal
/// dispositions. Returns 0 or an errno value; the pid goes to `*pid`.
int CShims_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int keep_fd, int child_fd);

/// posix_spawn of a check program: stdin, stdout and stderr on /dev/null,
/// every other descriptor closed (posix_spawn_file_actions_addclosefrom_np),
/// its own process group, an empty signal mask and default dispositions.
/// Returns 0 or an errno value; the pid goes to `*pid`.
int CShims_spawn_isolated(pid_t *pid, const char *path, char *const argv[], char *const envp[]);

/// pidfd_open(pid, 0): a descriptor that becomes readable when `pid` ends
/// (the syscall has no glibc wrapper before 2.36's header, none in Swift).
int CShims_pidfd_open(pid_t pid);

/// sched_setaffinity with the CPUs listed (those past CPU_SETSIZE ignored);
/// sched.h hides it without _GNU_SOURCE.
int CShims_set_affinity(pid_t pid, const int *cpus, int count);

int CShims_errno(void);
void CShims_set_errno(int value);

/// Flags and constants that are macros or enums Swift sees awkwardly.
extern const int CShims_SOCK_STREAM;
extern const int CShims_SOCK_NONBLOCK;
extern const int CShims_SOCK_CLOEXEC;
extern const int CShims_EPOLL_CLOEXEC;
extern const uint32_t CShims_EPOLLIN;
extern const uint32_t CShims_EPOLLOUT;
extern const uint32_t CShims_EPOLLRDHUP;
extern const uint32_t CShims_EPOLLERR;
extern const uint32_t CShims_EPOLLHUP;
extern const uint32_t CShims_EPOLLET;
extern const int CShims_SO_REUSEPORT;
/// IP_BIND_ADDRESS_NO_PORT (linux/in.h, which glibc's headers leave out).
extern const int CShims_IP_BIND_ADDRESS_NO_PORT;
extern const int CShims_TCP_NODELAY;
extern const int CShims_TCP_KEEPCNT;
extern const int CShims_TCP_KEEPIDLE;
extern const int CShims_TCP_KEEPINTVL;
extern const int CShims_TCP_DEFER_ACCEPT;
extern const int CShims_TCP_FASTOPEN;
extern const int CShims_TCP_MAXSEG;
extern const int CShims_SFD_NONBLOCK;
extern const int CShims_SFD_CLOEXEC;
extern const int CShims_EFD_NONBLOCK;
extern const int CShims_EFD_CLOEXEC;
extern const int CShims_O_NONBLOCK;
extern const int CShims_O_CLOEXEC;
extern const int CShims_MSG_NOSIGNAL;
extern const int CShims_MSG_MORE;
extern const int CShims_MSG_PEEK;
extern const int CShims_SIGCHLD;

/* OpenSSL's function-like macros and SSL_OP_* constants (tls.c). The types
   are declared opaque here, so this header does not include OpenSSL's. */
struct ssl_st;
struct ssl_ctx_st;
struct x509_st;
/// Weir's defaults on a server context: no compression, no renegotiation,
/// server cipher preference, an unexpected EOF read as end-of-file, partial
/// writes and a write buffer that may move between retries.
void CShims_SSL_CTX_set_server_defaults(struct ssl_ctx_st *ctx);
int CShims_SSL_CTX_set_min_proto_version(struct ssl_ctx_st *ctx, int version);
int CShims_SSL_CTX_set_max_proto_version(struct ssl_ctx_st *ctx, int version);
/// Whether the connection may issue RFC 5077 tickets (SSL_OP_NO_TICKET unset).
int CShims_SSL_tickets_enabled(const struct ssl_st *ssl);
/// SSL_CTX_set_session_cache_mode: server side, external cache only (the
/// callbacks' shared cache), or no cache at all.
void CShims_SSL_CTX_set_external_session_cache(struct ssl_ctx_st *ctx, int enabled);
struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;
/// What a ticket key callback sets up for one ticket: AES-CBC (128 or 256
/// bits, after `key_length` 16 or 32) with `aes`, HMAC-SHA-256 with `hmac`
/// (`key_length` bytes). When encrypting, a random IV is written to `iv`
/// first. Returns 1, or -1 on an OpenSSL failure.
int CShims_ticket_cipher_init(const unsigned char *aes, const unsigned char *hmac, int key_length, unsigned char *iv,
    struct evp_cipher_ctx_st *cipher, struct evp_mac_ctx_st *mac, int encrypt);
/// SSL_CTX_set_tlsext_servername_callback and SSL_CTX_set_tlsext_servername_arg.
void CShims_SSL_CTX_set_tlsext_servername_callback(struct ssl_ctx_st *ctx,
    int (*callback)(struct ssl_st *ssl, int *alert, void *arg), void *arg);
/// The DNS names of a certificate's subjectAltName, else its subject CN,
/// written to `out` separated by '\n'; returns the length written (truncated at `capacity`).
int CShims_X509_dns_names(struct x509_st *cert, char *out, int capacity);
/// Weir's defaults on a context that connects to servers: no compression,
/// no renegotiation, an unexpected EOF read as end-of-file, partial writes,
/// a write buffer that may move between retries, and a client session cache
/// kept outside OpenSSL (the new-session callback receives each session).
/// Without `tickets` (a server's `no-tls-tickets`), SSL_OP_NO_TICKET: no
/// ClientHello carries the session ticket extension.
void CShims_SSL_CTX_set_client_defaults(struct ssl_ctx_st *ctx, int tickets);
/// SSL_set_tlsext_host_name: the SNI a client connection sends.
int CShims_SSL_set_tlsext_host_name(struct ssl_st *ssl, const char *name);
/// The ALPN protocol SSL_select_next_proto picks from the client's list, in
/// `server` order; returns 1 with `out`/`outlen` set, 0 when none matches.
int CShims_SSL_select_alpn(const unsigned char **out, unsigned char *outlen,
    const unsigned char *server, unsigned int serverlen, const unsigned char *client, unsigned int clientlen);

/* Client certificates (tls_client_certs.c). */
/// What the verify callback recorded on a connection (CShims_SSL_client_verify_state):
/// flags in the low bits, then the first error of the client's certificate
/// (bits 16-31, ssl_c_err), the first error above it (bits 32-47,
/// ssl_c_ca_err) and that error's depth (bits 48-62).
enum {
    /// The callback ran: the client presented a certificate (ssl_fc_has_crt).
    CShims_TLS_VERIFY_DONE = 1,
    /// An error above the client's certificate no ignore list named.
    CShims_TLS_VERIFY_CA_FAILED = 2,
    /// An error of the client's certificate no ignore list named.
    CShims_TLS_VERIFY_CRT_FAILED = 4,
};
/// SSL_CTX_set_verify with Weir's callback: mode 0 none, 1 optional, 2
/// required; the ignore lists are two 64-bit words each (bit n: X509 error
/// n passes), or `all`. Sets a session id context when verifying. 0 when out of memory.
int CShims_SSL_CTX_set_client_verify(struct ssl_ctx_st *ctx, int mode, const uint64_t *ca_ignore, int ca_all,
    const uint64_t *crt_ignore, int crt_all);
uint64_t CShims_SSL_client_verify_state(const struct ssl_st *ssl);
/// The client's certificate (`peer` 1, also from a resumed session) or the
/// one this side presented (0); NULL when none. Not reference-counted.
struct x509_st *CShims_SSL_certificate(struct ssl_st *ssl, int peer);
/// The certificate fields below write at most `capacity` bytes to `out` and
/// return the length: -1 when the field is absent, -2 when it does not fit.
/// The subject (or issuer) DN as HAProxy writes it ("/C=FR/O=Org/CN=name"),
/// in RFC 2253 form, or the `occurrence`-th value (negative: from the end)
/// of the entry named `entry` ("CN", case-insensitive).
long CShims_X509_dn(struct x509_st *cert, int issuer, const char *entry, int occurrence, int rfc2253,
    char *out, long capacity);
/// notBefore or notAfter as YYMMDDhhmmss[Z].
long CShims_X509_time(struct x509_st *cert, int not_after, char *out, long capacity);
/// The serial number's bytes, big-endian.
long CShims_X509_serial(struct x509_st *cert, unsigned char *out, long capacity);
/// The SHA-1 of the DER form (20 bytes).
long CShims_X509_sha1(struct x509_st *cert, unsigned char *out, long capacity);
long CShims_X509_der(struct x509_st *cert, unsigned char *out, long capacity);
/// 1, 2 or 3.
long CShims_X509_version(struct x509_st *cert);
/// OpenSSL's short names: "RSA-SHA256", "ecdsa-with-SHA256"; "rsaEncryption", "id-ecPublicKey".
const char *CShims_X509_signature_algorithm(struct x509_st *cert);
const char *CShims_X509_key_algorithm(struct x509_st *cert);
/* Certificate options of `bind … ssl` (tls_certs.c). */
struct evp_pkey_st;
/// SSL_CTX_set1_groups_list (`curves`); 1 on success.
int CShims_SSL_CTX_set1_groups_list(struct ssl_ctx_st *ctx, const char *list);
/// SSL_CTX_set1_sigalgs_list (`sigalgs`); 1 on success.
int CShims_SSL_CTX_set1_sigalgs_list(struct ssl_ctx_st *ctx, const char *list);
/// `no-tls-tickets` sets SSL_OP_NO_TICKET; `prefer-client-ciphers` clears SSL_OP_CIPHER_SERVER_PREFERENCE.
void CShims_SSL_CTX_set_bind_flags(struct ssl_ctx_st *ctx, int no_tickets, int prefer_client_ciphers);
/// SSL_CTX_set_dh_auto(ctx, 1): DH parameters sized to the certificate's key.
int CShims_SSL_CTX_set_dh_auto(struct ssl_ctx_st *ctx);
/// PEM DH parameters from `path` (OpenSSL 3 EVP_PKEY), or NULL with the reason in `error`.
struct evp_pkey_st *CShims_load_dh_params(const char *path, char *error, int capacity);
/// SSL_CTX_set0_tmp_dh_pkey with a new reference to `params`; 1 on success, else OpenSSL's error is queued.
int CShims_SSL_CTX_set_dh_params(struct ssl_ctx_st *ctx, struct evp_pkey_st *params);
/// SSL_CTX_set_tlsext_status_cb and SSL_CTX_set_tlsext_status_arg.
void CShims_SSL_CTX_set_tlsext_status_cb(struct ssl_ctx_st *ctx, int (*callback)(struct ssl_st *ssl, void *arg), void *arg);
/// SSL_set_tlsext_status_ocsp_resp with an OPENSSL_malloc'd copy of `response`; 1 on success.
int CShims_SSL_set_tlsext_status_ocsp_resp(struct ssl_st *ssl, const unsigned char *response, long length);
/// Checks a DER OCSP response against `cert` (NULL: the context's current
/// certificate; else `cert` becomes the current one, with SSL_CTX_select_current_cert)
/// and its issuer (from the chain, else `issuer_file`, which may be NULL): 0 when
/// it can be stapled (`*next_update` set, seconds since the epoch); 1 when it
/// cannot (what is wrong in `message`); 2 when the issuer is not found; 3 when
/// the response is about another certificate or issuer.
int CShims_OCSP_check_response(struct ssl_ctx_st *ctx, struct x509_st *cert, const char *issuer_file,
    const unsigned char *der, long length, long long *next_update, char *message, int capacity);
/// The host name of the server_name extension of the ClientHello being
/// processed (in a client hello callback); 1 with `name`/`length` set, 0 when none.
int CShims_SSL_client_hello_server_name(struct ssl_st *ssl, const unsigned char **name, size_t *length);
/// The protocol versions (0: no bound), ciphers, TLS 1.3 suites and groups
/// (NULL: unchanged) of one connection, from a client hello callback; 1 on success.
int CShims_SSL_set_handshake_settings(struct ssl_st *ssl, int min_version, int max_version, const char *ciphers,
    const char *ciphersuites, const char *groups);

#endif
