/*
** src/win/posix.h: the one place where the Windows build chooses its
** headers. The core is written against POSIX sockets; on Windows every
** POSIX header it includes (<sys/socket.h>, <netdb.h>, <poll.h>, ...)
** is a one-line file under src/win/include/ that includes this one, so
** no source file of the core changes its includes or grows an #ifdef.
**
** It includes Winsock 2 (winsock2.h, ws2tcpip.h, afunix.h) and the C
** runtime's headers, then gives the POSIX names the core uses:
**
** - each socket call the core makes (socket, accept, connect, recv,
**   send, getsockopt, ...) is redirected to an ns_win_* function of
**   src/win/sys_win.c that makes the Winsock call and leaves the reason
**   of a failure in errno, WSAGetLastError mapped to the POSIX errno
**   value of the same meaning (WSAEWOULDBLOCK is EAGAIN, WSAECONNREFUSED
**   ECONNREFUSED, ...: ns_win_seterrno, the one place that reads
**   WSAGetLastError). So errors.c, unchanged, gives programs the same
**   codes on Windows ("ECONNREFUSED", "timeout", "closed");
** - a descriptor is a SOCKET handle in an int: 64-bit Windows keeps
**   handle values within 32 bits so that 32- and 64-bit processes can
**   share them (Microsoft's "Interprocess Communication Between 32-bit
**   and 64-bit Applications"), and a kernel handle is a multiple of 4.
**   The numbers that are not sockets are told apart by their low bits
**   (ns_win_close, ready_win.c): a readiness set is 1 mod 4, a file
**   the core opens (ns_win_open) is never 0 mod 4;
** - poll is WSAPoll (with the readiness sets of ready_win.c inside), a
**   socket stays non-blocking for its whole life (fcntl can clear
**   O_NONBLOCK on nothing: every wait polls, there are no kernel waits
**   on Windows), MSG_DONTWAIT and MSG_NOSIGNAL are flags Winsock never
**   sees.
*/
#ifndef netsock_win_posix_h
#define netsock_win_posix_h

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0600   /* Vista: WSAPoll, inet_pton, inet_ntop */
#endif

/* the C runtime's headers first, so that the names below rename
   nothing they declare */
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>
#include <windows.h>
#include <iphlpapi.h>   /* if_nametoindex */

#if !defined(_POSIX)
typedef _sigset_t sigset_t;
#endif

/* winpthreads has these as macros that drop their arguments */
#undef pthread_sigmask
#undef pthread_atfork
static inline int pthread_sigmask (int how, const sigset_t *set,
                                   sigset_t *old) {
  (void)how; (void)set; (void)old;
  return 0;
}
/* no fork on Windows: nothing to prepare for */
static inline int pthread_atfork (void (*prepare)(void), void (*parent)(void),
                                  void (*child)(void)) {
  (void)prepare; (void)parent; (void)child;
  return 0;
}

/* {====== Types and constants POSIX has and Winsock lacks ====== */
typedef unsigned long nfds_t;
typedef long suseconds_t;

#define SHUT_RD    SD_RECEIVE
#define SHUT_WR    SD_SEND
#define SHUT_RDWR  SD_BOTH

/* flags of our own that never reach Winsock (every socket is
   non-blocking; Windows has no SIGPIPE) */
#define MSG_DONTWAIT  0x40000000
#define MSG_NOSIGNAL  0
#define NS_WIN_OURFLAGS  (MSG_DONTWAIT)

#if !defined(MSG_TRUNC)
#define MSG_TRUNC  0x0100   /* Winsock's value; recvmsg reports it */
#endif
#if !defined(EAI_SYSTEM)
#define EAI_SYSTEM  (-11)   /* never returned by Winsock's getaddrinfo */
#endif
#if !defined(HOST_NAME_MAX)
#define HOST_NAME_MAX  256   /* what gethostname may give */
#endif
#if !defined(NETDB_INTERNAL)
#define NETDB_INTERNAL  (-1)
#endif
#if !defined(POLLRDHUP)
#define POLLRDHUP  0
#endif

#if !defined(O_NONBLOCK)
#define O_NONBLOCK  0x4000
#endif
/* a file the core opens is binary (no CR/LF translation) and not
   inherited by child processes */
#undef O_CLOEXEC
#define O_CLOEXEC  (_O_NOINHERIT | _O_BINARY)
#define F_GETFL          3
#define F_SETFL          4
#define F_DUPFD_CLOEXEC  1030

struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
  void *msg_name;
  socklen_t msg_namelen;
  struct iovec *msg_iov;
  int msg_iovlen;
  void *msg_control;
  socklen_t msg_controllen;
  int msg_flags;
};

/* signals: Windows has SIGINT, SIGTERM and a few; the rest are numbers
   nothing raises (sigaction only records) */
#ifndef SIGHUP
#define SIGHUP   1
#endif
#ifndef SIGQUIT
#define SIGQUIT  3
#endif
#ifndef SIGPIPE
#define SIGPIPE  13
#endif
#ifndef SIGALRM
#define SIGALRM  14
#endif
struct sigaction { void (*sa_handler)(int); sigset_t sa_mask; int sa_flags; };
#define SA_SIGINFO  4
#define SA_RESTART  0x10000000
static inline int sigemptyset (sigset_t *s) { *s = 0; return 0; }
static inline int sigfillset (sigset_t *s) { *s = ~(sigset_t)0; return 0; }
static inline int sigaddset (sigset_t *s, int n) {
  *s |= (sigset_t)1 << n;
  return 0;
}
/* }====== */


/* {====== sys_win.c: the POSIX calls on Winsock ====== */
/* errno from WSAGetLastError, mapped; returns the errno */
int ns_win_seterrno (void);
/* WSAStartup once per process: 0, or -1 with errno */
int ns_win_startup (void);
int ns_win_socket (int family, int type, int proto);
int ns_win_accept (int fd, struct sockaddr *sa, socklen_t *len);
int ns_win_bind (int fd, const struct sockaddr *sa, socklen_t len);
int ns_win_connect (int fd, const struct sockaddr *sa, socklen_t len);
int ns_win_listen (int fd, int backlog);
int ns_win_shutdown (int fd, int how);
int ns_win_getsockname (int fd, struct sockaddr *sa, socklen_t *len);
int ns_win_getpeername (int fd, struct sockaddr *sa, socklen_t *len);
int ns_win_getsockopt (int fd, int level, int opt, void *val, socklen_t *len);
int ns_win_setsockopt (int fd, int level, int opt, const void *val,
                       socklen_t len);
ssize_t ns_win_recv (int fd, void *buf, size_t n, int flags);
ssize_t ns_win_recvfrom (int fd, void *buf, size_t n, int flags,
                         struct sockaddr *sa, socklen_t *len);
ssize_t ns_win_recvmsg (int fd, struct msghdr *msg, int flags);
ssize_t ns_win_send (int fd, const void *buf, size_t n, int flags);
ssize_t ns_win_sendto (int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *to, socklen_t len);
int ns_win_fcntl (int fd, int cmd, ...);
int ns_win_open (const char *path, int flags, ...);
ssize_t ns_win_pread (int fd, void *buf, size_t n, off_t off);
const char *ns_win_strerror (int err);
int ns_win_sigaction (int sig, const struct sigaction *sa,
                      struct sigaction *old);
/* ready_win.c: poll(2) over WSAPoll, readiness sets inside; close(2)
   of a socket, a set or a file */
int ns_win_poll (struct pollfd *fds, nfds_t n, int ms);
int ns_win_close (int fd);

#if !defined(NS_WIN_IMPL)  /* sys_win.c and ready_win.c call Winsock itself */
#define socket                 ns_win_socket
#define accept                 ns_win_accept
#define bind                   ns_win_bind
#define connect                ns_win_connect
#define listen                 ns_win_listen
#define shutdown               ns_win_shutdown
#define getsockname            ns_win_getsockname
#define getpeername            ns_win_getpeername
#define getsockopt             ns_win_getsockopt
#define setsockopt             ns_win_setsockopt
#define recv                   ns_win_recv
#define recvfrom               ns_win_recvfrom
#define recvmsg                ns_win_recvmsg
#define send                   ns_win_send
#define sendto                 ns_win_sendto
#define close                  ns_win_close
#define fcntl                  ns_win_fcntl
#define open                   ns_win_open
#define pread                  ns_win_pread
#define poll                   ns_win_poll
#define strerror               ns_win_strerror
#define sigaction(s,a,o)       ns_win_sigaction(s, a, o)  /* not the struct */
#endif
/* }====== */

#endif
