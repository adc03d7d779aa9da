#define _GNU_SOURCE
#include "CShims.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/syscall.h>

int CShims_epoll_create1(int flags) { return epoll_create1(flags); }

int CShims_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev);
}

int CShims_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    return epoll_wait(epfd, events, maxevents, timeout);
}

int CShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

ssize_t CShims_splice_socket_to_pipe(int fd_in, int pipe_out, size_t len) {
    return splice(fd_in, NULL, pipe_out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

ssize_t CShims_splice_pipe_to_socket(int pipe_in, int fd_out, size_t len) {
    return splice(pipe_in, NULL, fd_out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

int CShims_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int CShims_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int CShims_sigmask(int how, const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(how, &set, NULL);
}

int CShims_signalfd(const int *signals, int count, int flags) {
    sigset_t set;
    fill_set(&set, signals, count);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, flags);
}

int CShims_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n != (ssize_t)sizeof info) return -1;
    return (int)info.ssi_signo;
}

int CShims_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

ssize_t CShims_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 253)];
    if (nfds > 0) {
        if (nfds > 253) { errno = EINVAL; return -1; }
        memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t CShims_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 253)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    *nfds = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *received = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*nfds < maxfds) fds[(*nfds)++] = received[i];
            else close(received[i]);
        }
    }
    return n;
}

int CShims_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int CShims_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0); }
int CShims_set_timer_slack(unsigned long nanoseconds) { return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0); }
int CShims_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0); }

int CShims_seqpacket_pair(int fds[2]) { return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds); }

int CShims_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int keep_fd, int child_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    if (keep_fd >= 0) {
        if (keep_fd == child_fd) {
            /* dup2 onto itself would keep close-on-exec: clear it by bouncing. */
            int flags = fcntl(keep_fd, F_GETFD);
            if (flags >= 0) fcntl(keep_fd, F_SETFD, flags & ~FD_CLOEXEC);
        } else {
            posix_spawn_file_actions_adddup2(&actions, keep_fd, child_fd);
        }
    }
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &empty);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return rc;
}

int CShims_spawn_isolated(pid_t *pid, const char *path, char *const argv[], char *const envp[]) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    for (int fd = 0; fd <= 2; fd++) {
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    }
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &empty);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return rc;
}

int CShims_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int CShims_errno(void) { return errno; }
void CShims_set_errno(int value) { errno = value; }

const int CShims_SOCK_STREAM = SOCK_STREAM;
const int CShims_SOCK_NONBLOCK = SOCK_NONBLOCK;
const int CShims_SOCK_CLOEXEC = SOCK_CLOEXEC;
const int CShims_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
const uint32_t CShims_EPOLLIN = EPOLLIN;
const uint32_t CShims_EPOLLOUT = EPOLLOUT;
const uint32_t CShims_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CShims_EPOLLERR = EPOLLERR;
const uint32_t CShims_EPOLLHUP = EPOLLHUP;
const uint32_t CShims_EPOLLET = EPOLLET;
const int CShims_SO_REUSEPORT = SO_REUSEPORT;
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
const int CShims_IP_BIND_ADDRESS_NO_PORT = IP_BIND_ADDRESS_NO_PORT;
const int CShims_TCP_NODELAY = TCP_NODELAY;
const int CShims_TCP_KEEPCNT = TCP_KEEPCNT;
const int CShims_TCP_KEEPIDLE = TCP_KEEPIDLE;
const int CShims_TCP_KEEPINTVL = TCP_KEEPINTVL;
const int CShims_TCP_DEFER_ACCEPT = TCP_DEFER_ACCEPT;
const int CShims_TCP_FASTOPEN = TCP_FASTOPEN;
const int CShims_TCP_MAXSEG = TCP_MAXSEG;
const int CShims_SFD_NONBLOCK = SFD_NONBLOCK;
const int CShims_SFD_CLOEXEC = SFD_CLOEXEC;
const int CShims_EFD_NONBLOCK = EFD_NONBLOCK;
const int CShims_EFD_CLOEXEC = EFD_CLOEXEC;
const int CShims_O_NONBLOCK = O_NONBLOCK;
const int CShims_O_CLOEXEC = O_CLOEXEC;
const int CShims_MSG_NOSIGNAL = MSG_NOSIGNAL;
const int CShims_MSG_MORE = MSG_MORE;
const int CShims_MSG_PEEK = MSG_PEEK;
const int CShims_SIGCHLD = SIGCHLD;

int CShims_set_affinity(pid_t pid, const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(pid, sizeof set, &set);
}
