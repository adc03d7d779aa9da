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
/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)
int CShims_seqpacket_pair(int fds[2]);

/// posix_spawn of `path` with `argv`/`envp`; the child gets `keep_fd` as fd
/// `child_fd` (when keep_fd >= 0), an empty signal mask and default signal
/// dispositions. Returns 0 or an errno value; the pid goes to `*pid`.
int CShims_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int keep_fd, int child_fd);

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
extern const int CShims_TCP_NODELAY;
extern const int CShims_SFD_NONBLOCK;
extern const int CShims_SFD_CLOEXEC;
extern const int CShims_EFD_NONBLOCK;
extern const int CShims_EFD_CLOEXEC;
extern const int CShims_O_NONBLOCK;
extern const int CShims_O_CLOEXEC;
extern const int CShims_MSG_NOSIGNAL;
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
void CShims_SSL_CTX_set_client_defaults(struct ssl_ctx_st *ctx);
/// SSL_set_tlsext_host_name: the SNI a client connection sends.
int CShims_SSL_set_tlsext_host_name(struct ssl_st *ssl, const char *name);
/// The ALPN protocol SSL_select_next_proto picks from the client's list, in
/// `server` order; returns 1 with `out`/`outlen` set, 0 when none matches.
int CShims_SSL_select_alpn(const unsigned char **out, unsigned char *outlen,
    const unsigned char *server, unsigned int serverlen, const unsigned char *client, unsigned int clientlen);

#endif
