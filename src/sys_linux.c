/*
** sys_linux.c: every system call netsock makes that is Linux's own (or
** takes a Linux-only flag), each behind one named function, so that a
** port is this file done again and nothing else (the readiness backend,
** epoll, is ready_epoll.c's). No Lua here: each function returns what
** the system call returned, with errno set on failure, and the caller
** applies the one EINTR rule (ns_retry) where it waits.
**
**   ns_sys_socket, ns_sys_socketpair, ns_sys_accept  SOCK_NONBLOCK |
**              SOCK_CLOEXEC in one call (socket(2), accept4(2))
**   ns_sys_send, ns_sys_sendto, ns_sys_sendmsg   MSG_NOSIGNAL: a gone
**              peer is EPIPE, never SIGPIPE
**   ns_sys_recvmmsg, ns_sys_sendmmsg   datagrams in batches
**   ns_sys_sendfile   sendfile(2), its SIGPIPE blocked and taken back
**   ns_sys_pipe       pipe2(2) close-on-exec and non-blocking
**   ns_sys_notifier, ns_sys_notify, ns_sys_drain, ns_sys_dupover
**              a descriptor that becomes readable when signalled
**              (eventfd(2)), and dup3(2) close-on-exec
**   ns_sys_peercred   SO_PEERCRED
**   ns_sys_cpucount   sched_getaffinity(2)
**   ns_sys_balance    "reuseport": SO_REUSEPORT spreads connections
**   ns_sys_pollnow    poll(2) with timeout 0, POLLRDHUP included
**   ns_sys_connected  TCP_INFO's state: a connect under way, done?
**   ns_sys_gethostbyname, ns_sys_gethostbyaddr, ns_sys_getservbyname,
**   ns_sys_getservbyport, ns_sys_getprotobyname   glibc's *_r forms
**   ns_sys_dupsocket  F_DUPFD_CLOEXEC (fromfd; a port sets SO_NOSIGPIPE)
**   ns_sys_closenotifier   close(2) (a port's notifier may be a pipe)
**   ns_sys_pin        dladdr and RTLD_NODELETE
**   ns_sys_mcast4     struct ip_mreqn (an interface by index or address)
**   ns_sys_inet_aton, ns_sys_timegm   glibc's inet_aton, timegm
**
** src/sys_posix.c is the same functions in POSIX, for every other
** system and the portable build (make PORTABLE=1).
*/
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netsock.h"


/* {====== Descriptors made non-blocking and close-on-exec ====== */

int ns_sys_socket (int family, int type, int proto) {
  return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}


int ns_sys_socketpair (int family, int type, int proto, int fds[2]) {
  return socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto, fds);
}


int ns_sys_accept (int fd, struct sockaddr *sa, socklen_t *len) {
  return accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}


/*
** A non-blocking TCP connect under way: done? One getsockopt(TCP_INFO)
** of its first byte (tcpi_state) answers, where SO_ERROR and then
** getpeername make two system calls (connect.c), and leaves the socket
** as they do (a second connect(2) would answer too, but it moves the
** socket to "connected": a next connect would then say EISCONN where
** LuaSocket's, which reads SO_ERROR's way, says 0 once). 0 connected
** (the handshake is done, whatever came since), EINPROGRESS while it
** goes on, -1 failed or not TCP: ask SO_ERROR.
*/
int ns_sys_connected (int fd) {
  unsigned char st;
  socklen_t len = sizeof st;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &st, &len) < 0 || len != 1)
    return -1;
  if (st == TCP_SYN_SENT) return EINPROGRESS;
  return st == TCP_CLOSE || st == TCP_LISTEN ? -1 : 0;
}


/* a descriptor of the caller's (fromfd), duplicated close-on-exec */
int ns_sys_dupsocket (int fd) {
  return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}


int ns_sys_pipe (int p[2]) {
  return pipe2(p, O_CLOEXEC | O_NONBLOCK);
}

/* }====== */


/* {====== Sending without SIGPIPE ====== */

ssize_t ns_sys_send (int fd, const void *p, size_t n, int flags) {
  return send(fd, p, n, flags | MSG_NOSIGNAL);
}


ssize_t ns_sys_sendto (int fd, const void *p, size_t n, int flags,
                       const struct sockaddr *to, socklen_t tolen) {
  return sendto(fd, p, n, flags | MSG_NOSIGNAL, to, tolen);
}


/*
** sendfile(2) to a socket may raise SIGPIPE (it takes no MSG_NOSIGNAL):
** block it for the call and take back a SIGPIPE the call itself made,
** the way a library must without touching the process's handlers.
** One try: the caller retries EINTR by its rule.
*/
ssize_t ns_sys_sendfile (int out, int in, off_t *off, size_t count) {
  sigset_t pipeset, old, pend;
  ssize_t n;
  int err, had;
  sigemptyset(&pipeset);
  sigaddset(&pipeset, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  had = sigismember(&pend, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeset, &old);
  n = sendfile(out, in, off, count);
  err = errno;
  /* not only when it failed: sendfile(2) that moved some bytes and then
     met the peer gone returns the count, its SIGPIPE raised all the
     same (the task-loop fuzzer found this: the process died) */
  sigemptyset(&pend);
  sigpending(&pend);
  if (!had && sigismember(&pend, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return n;
}

ssize_t ns_sys_sendmsg (int fd, const struct msghdr *m, int flags) {
  return sendmsg(fd, m, flags | MSG_NOSIGNAL);
}

/* }====== */


/* {====== Datagrams in batches ====== */

/* nsMmsg is struct mmsghdr's layout, so a batch goes to the kernel as
   it is */
typedef char mmsg_samesize[sizeof(nsMmsg) == sizeof(struct mmsghdr) ? 1 : -1];
typedef char mmsg_samelen[offsetof(nsMmsg, msg_len) ==
                          offsetof(struct mmsghdr, msg_len) ? 1 : -1];

int ns_sys_recvmmsg (int fd, nsMmsg *m, unsigned n, int flags) {
  return recvmmsg(fd, (struct mmsghdr *)(void *)m, n, flags | MSG_WAITFORONE,
                  NULL);
}


int ns_sys_sendmmsg (int fd, nsMmsg *m, unsigned n, int flags) {
  return sendmmsg(fd, (struct mmsghdr *)(void *)m, n, flags | MSG_NOSIGNAL);
}

/* }====== */


/* {====== Notifiers (eventfd) ====== */

/* a descriptor readable once signalled ('signalled': already), or -1 */
int ns_sys_notifier (int signalled) {
  return eventfd(signalled ? 1 : 0, EFD_CLOEXEC | EFD_NONBLOCK);
}


/* make the notifier readable; it cannot fail (a counter) */
void ns_sys_notify (int fd) {
  uint64_t one = 1;
  if (write(fd, &one, sizeof one) < 0) { /* cannot fail: a counter */ }
}


/* take back every signal so far (nothing signalled: nothing to do) */
void ns_sys_drain (int fd) {
  uint64_t count;
  while (read(fd, &count, sizeof count) < 0 && errno == EINTR) { }
}


/* 'to' names what 'from' names, close-on-exec (dup3); -1 on failure */
int ns_sys_dupover (int from, int to) {
  return dup3(from, to, O_CLOEXEC);
}

void ns_sys_closenotifier (int fd) {
  close(fd);
}

/* }====== */


/* {====== The process ====== */

/*
** The credentials the kernel recorded for the peer of a Unix stream
** socket at connect time: 0, or an errno (ENOTCONN where there are
** none).
*/
int ns_sys_peercred (int fd, long *pid, long *uid, long *gid) {
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
    return errno;
  if (len < sizeof uc || (uc.pid == 0 && uc.uid == (uid_t)-1))
    return ENOTCONN;  /* not a connected Unix socket */
  *pid = (long)uc.pid;
  *uid = (long)uc.uid;
  *gid = (long)uc.gid;
  return 0;
}


/*
** Keep this library mapped for the life of the process (the lookup
** pool's threads run its code after lua_close): dladdr names its file,
** dlopen with RTLD_NODELETE pins it.
*/
void ns_sys_pin (void *addr) {
  Dl_info info;
  if (dladdr(addr, &info) && info.dli_fname != NULL)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}


/* SO_REUSEPORT balances a port's connections over its listeners (3.9) */
const char *ns_sys_balance (void) {
  return "reuseport";
}


/* the CPUs this process may run on (affinity), at least 1 */
long ns_sys_cpucount (void) {
  long n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

/* }====== */


/*
** What 'fd' is ready for now, without waiting: NS_READ, NS_WRITE (of
** those asked in 'events'), NS_HANGUP (the peer shut down or went:
** POLLRDHUP, POLLHUP) and NS_FAULT (POLLERR, POLLNVAL). EINTR is
** retried: a zero timeout cannot wait.
*/
int ns_sys_pollnow (int fd, int events) {
  struct pollfd pfd;
  int r = 0;
  pfd.fd = fd;
  pfd.events = (short)(((events & NS_READ) ? POLLIN | POLLRDHUP : 0) |
                       ((events & NS_WRITE) ? POLLOUT : 0));
  pfd.revents = 0;
  while (poll(&pfd, 1, 0) < 0 && errno == EINTR) {}
  if (pfd.revents & POLLIN) r |= NS_READ;
  if (pfd.revents & POLLOUT) r |= NS_WRITE;
  if (pfd.revents & (POLLRDHUP | POLLHUP)) r |= NS_HANGUP;
  if (pfd.revents & (POLLERR | POLLNVAL)) r |= NS_FAULT;
  return r;
}


/* {====== Multicast, inet_aton, timegm ====== */

/*
** IPv4 multicast: join or leave 'group' (opt IP_ADD_MEMBERSHIP,
** IP_DROP_MEMBERSHIP) or, group NULL, choose the sending interface
** (IP_MULTICAST_IF); the interface by index or by address.
*/
int ns_sys_mcast4 (int fd, int opt, const struct in_addr *group,
                   struct in_addr ifaddr, unsigned ifindex) {
  struct ip_mreqn mr;
  memset(&mr, 0, sizeof mr);
  if (group != NULL) mr.imr_multiaddr = *group;
  mr.imr_address = ifaddr;
  mr.imr_ifindex = (int)ifindex;
  return setsockopt(fd, IPPROTO_IP, opt, &mr, sizeof mr);
}


int ns_sys_inet_aton (const char *text, struct in_addr *out) {
  return inet_aton(text, out);
}


time_t ns_sys_timegm (struct tm *t) {
  return timegm(t);
}

/* }====== */


/* {====== The netdb lookups (glibc's reentrant forms) ====== */

int ns_sys_gethostbyname (const char *name, struct hostent *he, char *buf,
                          size_t size, struct hostent **res, int *herr) {
  return gethostbyname_r(name, he, buf, size, res, herr);
}


int ns_sys_gethostbyaddr (const void *addr, socklen_t len, int family,
                          struct hostent *he, char *buf, size_t size,
                          struct hostent **res, int *herr) {
  return gethostbyaddr_r(addr, len, family, he, buf, size, res, herr);
}


int ns_sys_getservbyname (const char *name, const char *proto,
                          struct servent *se, char *buf, size_t size,
                          struct servent **res) {
  return getservbyname_r(name, proto, se, buf, size, res);
}


/* 'port' in network byte order, as getservbyport takes it */
int ns_sys_getservbyport (int port, const char *proto, struct servent *se,
                          char *buf, size_t size, struct servent **res) {
  return getservbyport_r(port, proto, se, buf, size, res);
}


int ns_sys_getprotobyname (const char *name, struct protoent *pe, char *buf,
                           size_t size, struct protoent **res) {
  return getprotobyname_r(name, pe, buf, size, res);
}

/* }====== */
