/*
** src/win/sys_win.c: the platform seam on Windows. What sys_linux.c is
** on Linux (each ns_sys_* function), done on Winsock 2, and the POSIX
** calls src/win/posix.h renames (ns_win_*): each makes the Winsock call
** and leaves the reason of a failure in errno, so that the core, written
** against POSIX, reads errno as it does on Linux.
**
**   ns_win_seterrno   the one place that reads WSAGetLastError: mapped
**                     to the POSIX errno of the same meaning
**   ns_win_strerror   messages for the socket errno values (the C
**                     runtime has none), "not available on Windows" for
**                     ENOSYS (what every call this port lacks fails with)
**   ns_win_startup    WSAStartup, once per process (InitOnceExecuteOnce)
**   (the netdb lookups are netdb_win.c's)
**   ns_sys_socketpair a connected pair over loopback TCP (or UDP)
**   ns_sys_notifier   a UDP socket connected to itself: readable once a
**                     byte was sent to it
**   ns_sys_sendfile   ENOSYS: sendfile.c reads and sends
**   ns_sys_pipe, ns_sys_dupover, ns_sys_peercred   ENOSYS
**
** No Lua here.
*/
#define NS_WIN_IMPL
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>

#include "netsock.h"
#include <mstcpip.h>

#if !defined(SIO_UDP_CONNRESET)
#define SIO_UDP_CONNRESET  _WSAIOW(IOC_VENDOR, 12)
#endif
#include <sys/resource.h>

#undef strerror


/* {====== Errors ====== */

static const struct { int wsa, err; } wsaerrs[] = {
  {WSAEINTR, EINTR}, {WSAEBADF, EBADF}, {WSAEACCES, EACCES},
  {WSAEFAULT, EFAULT}, {WSAEINVAL, EINVAL}, {WSAEMFILE, EMFILE},
  {WSAEWOULDBLOCK, EAGAIN}, {WSAEINPROGRESS, EINPROGRESS},
  {WSAEALREADY, EALREADY}, {WSAENOTSOCK, ENOTSOCK},
  {WSAEDESTADDRREQ, EDESTADDRREQ}, {WSAEMSGSIZE, EMSGSIZE},
  {WSAEPROTOTYPE, EPROTOTYPE}, {WSAENOPROTOOPT, ENOPROTOOPT},
  {WSAEPROTONOSUPPORT, EPROTONOSUPPORT},
  {WSAESOCKTNOSUPPORT, EPROTONOSUPPORT}, {WSAEOPNOTSUPP, EOPNOTSUPP},
  {WSAEPFNOSUPPORT, EAFNOSUPPORT}, {WSAEAFNOSUPPORT, EAFNOSUPPORT},
  {WSAEADDRINUSE, EADDRINUSE}, {WSAEADDRNOTAVAIL, EADDRNOTAVAIL},
  {WSAENETDOWN, ENETDOWN}, {WSAENETUNREACH, ENETUNREACH},
  {WSAENETRESET, ENETRESET}, {WSAECONNABORTED, ECONNABORTED},
  {WSAECONNRESET, ECONNRESET}, {WSAENOBUFS, ENOBUFS},
  {WSAEISCONN, EISCONN}, {WSAENOTCONN, ENOTCONN},
  {WSAESHUTDOWN, EPIPE}, {WSAETIMEDOUT, ETIMEDOUT},
  {WSAECONNREFUSED, ECONNREFUSED}, {WSAELOOP, ELOOP},
  {WSAENAMETOOLONG, ENAMETOOLONG}, {WSAEHOSTDOWN, EHOSTUNREACH},
  {WSAEHOSTUNREACH, EHOSTUNREACH}, {WSAENOTEMPTY, ENOTEMPTY},
  {WSA_NOT_ENOUGH_MEMORY, ENOMEM}, {WSANOTINITIALISED, EINVAL},
  {WSAEDISCON, EPIPE}, {ERROR_NOT_ENOUGH_MEMORY, ENOMEM},
  {0, 0}
};


/* the POSIX errno for a Winsock error (an unknown one stays itself:
   errors.c names it E<number>, ns_win_strerror asks Windows) */
static int fromwsa (int wsa) {
  int i;
  for (i = 0; wsaerrs[i].wsa != 0; i++)
    if (wsaerrs[i].wsa == wsa) return wsaerrs[i].err;
  return wsa;
}


int ns_win_seterrno (void) {
  errno = fromwsa(WSAGetLastError());
  return errno;
}


/* the messages glibc gives, for the errno values the C runtime cannot
   name (its strerror stops at 42) */
static const struct { int err; const char *msg; } messages[] = {
  {EADDRINUSE, "Address already in use"},
  {EADDRNOTAVAIL, "Cannot assign requested address"},
  {EAFNOSUPPORT, "Address family not supported by protocol"},
  {EALREADY, "Operation already in progress"},
  {ECONNABORTED, "Software caused connection abort"},
  {ECONNREFUSED, "Connection refused"},
  {ECONNRESET, "Connection reset by peer"},
  {EDESTADDRREQ, "Destination address required"},
  {EHOSTUNREACH, "No route to host"},
  {EINPROGRESS, "Operation now in progress"},
  {EISCONN, "Transport endpoint is already connected"},
  {ELOOP, "Too many levels of symbolic links"},
  {EMSGSIZE, "Message too long"},
  {ENETDOWN, "Network is down"},
  {ENETRESET, "Network dropped connection on reset"},
  {ENETUNREACH, "Network is unreachable"},
  {ENOBUFS, "No buffer space available"},
  {ENOPROTOOPT, "Protocol not available"},
  {ENOTCONN, "Transport endpoint is not connected"},
  {ENOTSOCK, "Socket operation on non-socket"},
  {EOPNOTSUPP, "Operation not supported"},
  {EPROTONOSUPPORT, "Protocol not supported"},
  {EPROTOTYPE, "Protocol wrong type for socket"},
  {ETIMEDOUT, "Connection timed out"},
  {EAGAIN, "Resource temporarily unavailable"},
  {EPIPE, "Broken pipe"},
  {ENOSYS, "not available on Windows"},
  {0, NULL}
};

const char *ns_win_strerror (int err) {
  static char buf[256];   /* one caller at a time: the Lua state's */
  int i;
  for (i = 0; messages[i].msg != NULL; i++)
    if (messages[i].err == err) return messages[i].msg;
  if (err >= WSABASEERR) {
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
                             FORMAT_MESSAGE_IGNORE_INSERTS, NULL, (DWORD)err,
                             0, buf, sizeof buf, NULL);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == '.'))
      buf[--n] = '\0';
    if (n > 0) return buf;
  }
  return strerror(err);
}

/* }====== */


/* {====== Winsock, once per process ====== */

static INIT_ONCE startonce = INIT_ONCE_STATIC_INIT;
static int startfailed;

static BOOL CALLBACK startup (PINIT_ONCE once, PVOID arg, PVOID *ctx) {
  WSADATA wd;
  (void)once; (void)arg; (void)ctx;
  startfailed = WSAStartup(MAKEWORD(2, 2), &wd);
  return TRUE;
}


/* 0, or -1 with errno */
int ns_win_startup (void) {
  InitOnceExecuteOnce(&startonce, startup, NULL, NULL);
  if (startfailed) { errno = fromwsa(startfailed); return -1; }
  return 0;
}


/* a SOCKET as the core's descriptor (-1 for INVALID_SOCKET, errno set) */
static int tofd (SOCKET s) {
  if (s == INVALID_SOCKET) { ns_win_seterrno(); return -1; }
  if (s > (SOCKET)INT_MAX) {  /* cannot happen: handles fit in 32 bits */
    closesocket(s);
    errno = EMFILE;
    return -1;
  }
  return (int)s;
}

#define S(fd)  ((SOCKET)(unsigned)(fd))
/* a Winsock result: SOCKET_ERROR is -1 with errno set */
static int ok (int r) {
  if (r == SOCKET_ERROR) { ns_win_seterrno(); return -1; }
  return r;
}

/* }====== */


/* {====== The socket calls (posix.h renames them here) ====== */

int ns_win_socket (int family, int type, int proto) {
  if (ns_win_startup() < 0) return -1;
  return tofd(WSASocketW(family, type, proto, NULL, 0,
                         WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT));
}


int ns_win_accept (int fd, struct sockaddr *sa, socklen_t *len) {
  return tofd(accept(S(fd), sa, len));
}


int ns_win_bind (int fd, const struct sockaddr *sa, socklen_t len) {
  return ok(bind(S(fd), sa, len));
}


/* a non-blocking connect under way is EINPROGRESS, as on POSIX (Winsock
   says WSAEWOULDBLOCK; a second try while it goes on, WSAEALREADY or,
   on old systems, WSAEINVAL) */
int ns_win_connect (int fd, const struct sockaddr *sa, socklen_t len) {
  if (connect(S(fd), sa, len) == 0) return 0;
  switch (WSAGetLastError()) {
    case WSAEWOULDBLOCK: errno = EINPROGRESS; break;
    case WSAEINVAL: errno = EALREADY; break;
    default: ns_win_seterrno();
  }
  return -1;
}


int ns_win_listen (int fd, int backlog) {
  return ok(listen(S(fd), backlog));
}


int ns_win_shutdown (int fd, int how) {
  return ok(shutdown(S(fd), how));
}


int ns_win_getsockname (int fd, struct sockaddr *sa, socklen_t *len) {
  return ok(getsockname(S(fd), sa, len));
}


int ns_win_getpeername (int fd, struct sockaddr *sa, socklen_t *len) {
  return ok(getpeername(S(fd), sa, len));
}


static int istimeo (int level, int opt) {
  return level == SOL_SOCKET && (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO);
}


/* SO_ERROR reads as a POSIX errno; the timeouts are struct timeval as on
   POSIX (Winsock keeps milliseconds in a DWORD) */
int ns_win_getsockopt (int fd, int level, int opt, void *val, socklen_t *len) {
  if (istimeo(level, opt) && *len >= (socklen_t)sizeof(struct timeval)) {
    DWORD ms = 0;
    int n = (int)sizeof ms;
    struct timeval *tv = (struct timeval *)val;
    if (getsockopt(S(fd), level, opt, (char *)&ms, &n) == SOCKET_ERROR)
      return ns_win_seterrno(), -1;
    tv->tv_sec = (long)(ms / 1000);
    tv->tv_usec = (long)(ms % 1000) * 1000;
    *len = (socklen_t)sizeof *tv;
    return 0;
  }
  if (getsockopt(S(fd), level, opt, (char *)val, len) == SOCKET_ERROR)
    return ns_win_seterrno(), -1;
  if (level == SOL_SOCKET && opt == SO_ERROR && *len >= (socklen_t)sizeof(int)
      && *(int *)val != 0)
    *(int *)val = fromwsa(*(int *)val);
  return 0;
}


/*
** SO_REUSEADDR is POSIX's "rebind a port whose old connections linger",
** which Windows does without asking; Winsock's SO_REUSEADDR means "bind
** a port another socket is using", a different and unsafe thing. So it
** is accepted and not passed on (fail closed: no port can be taken over
** through netsock); reading it back says false.
*/
int ns_win_setsockopt (int fd, int level, int opt, const void *val,
                       socklen_t len) {
  if (level == SOL_SOCKET && opt == SO_REUSEADDR) return 0;
  if (istimeo(level, opt) && len >= (socklen_t)sizeof(struct timeval)) {
    const struct timeval *tv = (const struct timeval *)val;
    double ms = (double)tv->tv_sec * 1000.0 + (double)tv->tv_usec / 1000.0;
    DWORD d = ms >= 4294967295.0 ? 0xFFFFFFFFu : (DWORD)ms;
    if (d == 0 && ms > 0) d = 1;  /* 0 would mean no timeout */
    return ok(setsockopt(S(fd), level, opt, (const char *)&d, sizeof d));
  }
  return ok(setsockopt(S(fd), level, opt, (const char *)val, len));
}


static int clampn (size_t n) {
  return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}


/* a receive on a socket whose reading side was shut down reads the end,
   as on POSIX (Winsock: WSAESHUTDOWN) */
ssize_t ns_win_recv (int fd, void *buf, size_t n, int flags) {
  int r = recv(S(fd), (char *)buf, clampn(n), flags & ~NS_WIN_OURFLAGS);
  if (r != SOCKET_ERROR) return r;
  if (WSAGetLastError() == WSAESHUTDOWN) return 0;
  return ns_win_seterrno(), -1;
}


ssize_t ns_win_recvfrom (int fd, void *buf, size_t n, int flags,
                         struct sockaddr *sa, socklen_t *len) {
  int r = recvfrom(S(fd), (char *)buf, clampn(n), flags & ~NS_WIN_OURFLAGS,
                   sa, len);
  return ok(r);
}


/*
** recvmsg of one buffer: recvfrom. A datagram longer than the buffer
** fills it and fails with WSAEMSGSIZE: the count is the buffer's, with
** MSG_TRUNC in msg_flags (Winsock does not give the full length that
** Linux's MSG_TRUNC flag asks for).
*/
ssize_t ns_win_recvmsg (int fd, struct msghdr *msg, int flags) {
  struct iovec *iov = msg->msg_iov;
  socklen_t len = msg->msg_namelen;
  int r;
  msg->msg_flags = 0;
  if (msg->msg_iovlen != 1) { errno = EINVAL; return -1; }
  r = recvfrom(S(fd), (char *)iov->iov_base, clampn(iov->iov_len),
               flags & ~(NS_WIN_OURFLAGS | MSG_TRUNC),
               (struct sockaddr *)msg->msg_name, &len);
  if (r == SOCKET_ERROR) {
    if (WSAGetLastError() != WSAEMSGSIZE) return ns_win_seterrno(), -1;
    r = clampn(iov->iov_len);
    msg->msg_flags = MSG_TRUNC;
  }
  msg->msg_namelen = len;
  return r;
}


ssize_t ns_win_send (int fd, const void *buf, size_t n, int flags) {
  return ok(send(S(fd), (const char *)buf, clampn(n),
                 flags & ~NS_WIN_OURFLAGS));
}


ssize_t ns_win_sendto (int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *to, socklen_t len) {
  return ok(sendto(S(fd), (const char *)buf, clampn(n),
                   flags & ~NS_WIN_OURFLAGS, to, len));
}

/* }====== */


/* {====== Descriptors that are not sockets ====== */

/*
** fcntl for the core's uses: F_GETFL says a socket is non-blocking (it
** always is on Windows); F_SETFL can set O_NONBLOCK but not clear it, so
** that no call ever sleeps in Winsock (wait.c then polls: no kernel
** waits on Windows); F_DUPFD_CLOEXEC (fromfd) is not available.
*/
int ns_win_fcntl (int fd, int cmd, ...) {
  va_list ap;
  switch (cmd) {
    case F_GETFL: return O_NONBLOCK;
    case F_SETFL: {
      u_long on = 1;
      int arg;
      va_start(ap, cmd);
      arg = va_arg(ap, int);
      va_end(ap);
      if (!(arg & O_NONBLOCK)) { errno = ENOSYS; return -1; }
      return ok(ioctlsocket(S(fd), FIONBIO, &on));
    }
    default: errno = ENOSYS; return -1;
  }
}


/* open(2) for sendfile's path: binary, not inherited, and a number that
   is not a multiple of 4 (never a socket handle's: ns_win_close) */
int ns_win_open (const char *path, int flags, ...) {
  int fd, tries[4], n = 0, i;
  fd = _open(path, flags | _O_BINARY | _O_NOINHERIT);
  while (fd >= 0 && (fd & 3) == 0 && n < 4) {
    tries[n++] = fd;
    fd = _dup(fd);
  }
  for (i = 0; i < n; i++) _close(tries[i]);
  if (fd >= 0 && (fd & 3) == 0) { _close(fd); errno = EMFILE; return -1; }
  return fd;
}


/* pread(2): the file's position is put back */
ssize_t ns_win_pread (int fd, void *buf, size_t n, off_t off) {
  __int64 at = _lseeki64(fd, 0, SEEK_CUR);
  int r, err;
  if (at < 0 || _lseeki64(fd, (__int64)off, SEEK_SET) < 0) return -1;
  r = _read(fd, buf, n > (size_t)INT_MAX ? INT_MAX : (unsigned)n);
  err = errno;
  _lseeki64(fd, at, SEEK_SET);
  errno = err;
  return r;
}


/* inet_aton(3): Winsock's inet_addr reads the same forms ("127.1",
   "0x7f.0.0.1"), with INADDR_NONE both for a failure and for
   255.255.255.255 */
int ns_sys_inet_aton (const char *text, struct in_addr *a) {
  unsigned long v = inet_addr(text);
  if (v == INADDR_NONE) {
    struct in_addr b;
    if (inet_pton(AF_INET, text, &b) != 1 || b.s_addr != INADDR_NONE)
      return 0;
  }
  a->s_addr = v;
  return 1;
}


/* Windows raises no SIGPIPE: ignoring it is already so */
int ns_win_sigaction (int sig, const struct sigaction *sa,
                      struct sigaction *old) {
  (void)sa;
  if (old != NULL) {
    memset(old, 0, sizeof *old);
    old->sa_handler = SIG_DFL;
  }
  if (sig != SIGPIPE) { errno = ENOSYS; return -1; }
  return 0;
}


/* no limit of open sockets to raise on Windows */
int ns_win_getrlimit (int what, struct rlimit *rl) {
  (void)what;
  rl->rlim_cur = rl->rlim_max = RLIM_INFINITY;
  return 0;
}

int ns_win_setrlimit (int what, const struct rlimit *rl) {
  (void)what; (void)rl;
  return 0;
}


/* the DLL that holds 'addr' stays loaded until the process ends (the
   lookup pool's threads run its code) */
void ns_sys_pin (void *addr) {
  HMODULE h;
  GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                     GET_MODULE_HANDLE_EX_FLAG_PIN, (LPCSTR)addr, &h);
}

/* }====== */


/* {====== The seam: ns_sys_* (netsock.h) ====== */

static int nonblocking (int fd) {
  u_long on = 1;
  if (ioctlsocket(S(fd), FIONBIO, &on) == SOCKET_ERROR) {
    int err = ns_win_seterrno();
    closesocket(S(fd));
    errno = err;
    return -1;
  }
  SetHandleInformation((HANDLE)S(fd), HANDLE_FLAG_INHERIT, 0);
  return fd;
}


int ns_sys_socket (int family, int type, int proto) {
  int fd = ns_win_socket(family, type, proto);
  if (fd < 0) return -1;
  if (type == SOCK_DGRAM) {
    /* a datagram answered by ICMP "port unreachable" would otherwise
       fail the next receive with WSAECONNRESET, which POSIX does not do
       on an unconnected socket */
    BOOL off = FALSE;
    DWORD got;
    WSAIoctl(S(fd), SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &got,
             NULL, NULL);
  }
  return nonblocking(fd);
}


/* a non-blocking connect under way: connect.c asks SO_ERROR (as
   sys_posix.c) */
int ns_sys_connected (int fd) {
  (void)fd;
  return -1;
}


int ns_sys_accept (int fd, struct sockaddr *sa, socklen_t *len) {
  int c = ns_win_accept(fd, sa, len);
  return c < 0 ? -1 : nonblocking(c);
}


static int sameaddr (const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}


/* a connected pair of TCP sockets over 127.0.0.1: 0 or -1 + errno. The
   accepted end is checked to be our own connection (another program
   could connect to the listener in between) */
static int tcppair (int fds[2]) {
  struct sockaddr_in a, b, c;
  socklen_t la = sizeof a, lb = sizeof b, lc = sizeof c;
  int l = -1, x = -1, y = -1, tries;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((l = ns_win_socket(AF_INET, SOCK_STREAM, 0)) < 0) return -1;
  if (ns_win_bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
      ns_win_getsockname(l, (struct sockaddr *)&a, &la) < 0 ||
      ns_win_listen(l, 4) < 0 ||
      (x = ns_win_socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
      ns_win_connect(x, (struct sockaddr *)&a, sizeof a) < 0 ||
      ns_win_getsockname(x, (struct sockaddr *)&b, &lb) < 0)
    goto fail;
  for (tries = 0; tries < 8; tries++) {
    lc = sizeof c;
    if ((y = ns_win_accept(l, (struct sockaddr *)&c, &lc)) < 0) goto fail;
    if (sameaddr(&b, &c)) break;
    closesocket(S(y));
    y = -1;
  }
  if (y < 0) { errno = ECONNREFUSED; goto fail; }
  closesocket(S(l));
  fds[0] = x;
  fds[1] = y;
  return 0;
fail: {
    int err = errno;
    if (l >= 0) closesocket(S(l));
    if (x >= 0) closesocket(S(x));
    errno = err;
    return -1;
  }
}


/* two UDP sockets on 127.0.0.1, each connected to the other */
static int udppair (int fds[2]) {
  struct sockaddr_in a[2];
  socklen_t len;
  int i, fd[2] = {-1, -1};
  for (i = 0; i < 2; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].sin_family = AF_INET;
    a[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof a[i];
    if ((fd[i] = ns_win_socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
        ns_win_bind(fd[i], (struct sockaddr *)&a[i], sizeof a[i]) < 0 ||
        ns_win_getsockname(fd[i], (struct sockaddr *)&a[i], &len) < 0)
      goto fail;
  }
  if (ns_win_connect(fd[0], (struct sockaddr *)&a[1], sizeof a[1]) < 0 ||
      ns_win_connect(fd[1], (struct sockaddr *)&a[0], sizeof a[0]) < 0)
    goto fail;
  fds[0] = fd[0];
  fds[1] = fd[1];
  return 0;
fail: {
    int err = errno;
    for (i = 0; i < 2; i++) if (fd[i] >= 0) closesocket(S(fd[i]));
    errno = err;
    return -1;
  }
}


/*
** socketpair(2) emulated over loopback: a stream pair is a TCP
** connection on 127.0.0.1, a datagram pair two connected UDP sockets
** (whatever the family asked: Windows has no AF_UNIX pair). Both ends
** non-blocking and not inherited.
*/
int ns_sys_socketpair (int family, int type, int proto, int fds[2]) {
  int r;
  (void)family; (void)proto;
  if (ns_win_startup() < 0) return -1;
  if (type == SOCK_STREAM) r = tcppair(fds);
  else if (type == SOCK_DGRAM) r = udppair(fds);
  else { errno = EPROTONOSUPPORT; return -1; }
  if (r < 0) return -1;
  if (nonblocking(fds[0]) < 0) { closesocket(S(fds[1])); return -1; }
  if (nonblocking(fds[1]) < 0) { closesocket(S(fds[0])); return -1; }
  return 0;
}


int ns_sys_pipe (int p[2]) {
  (void)p;
  errno = ENOSYS;
  return -1;
}


ssize_t ns_sys_send (int fd, const void *p, size_t n, int flags) {
  return ns_win_send(fd, p, n, flags);
}


ssize_t ns_sys_sendto (int fd, const void *p, size_t n, int flags,
                       const struct sockaddr *to, socklen_t tolen) {
  return ns_win_sendto(fd, p, n, flags, to, tolen);
}


/* sendmsg(2): its buffers through WSASendTo (no control data) */
ssize_t ns_sys_sendmsg (int fd, const struct msghdr *m, int flags) {
  WSABUF bufs[16];
  DWORD sent = 0;
  int i;
  if (m->msg_iovlen < 0 || m->msg_iovlen > 16 || m->msg_controllen != 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  for (i = 0; i < m->msg_iovlen; i++) {
    if (m->msg_iov[i].iov_len > 0xFFFFFFFFu) { errno = EMSGSIZE; return -1; }
    bufs[i].buf = (char *)m->msg_iov[i].iov_base;
    bufs[i].len = (ULONG)m->msg_iov[i].iov_len;
  }
  if (WSASendTo(S(fd), bufs, (DWORD)m->msg_iovlen, &sent,
                (DWORD)(flags & ~NS_WIN_OURFLAGS),
                (const struct sockaddr *)m->msg_name,
                m->msg_name != NULL ? (int)m->msg_namelen : 0, NULL,
                NULL) == SOCKET_ERROR)
    return ns_win_seterrno(), -1;
  return (ssize_t)sent;
}


/* no batch calls on Windows: mmsg.c loops over recvmsg and sendmsg */
int ns_sys_recvmmsg (int fd, nsMmsg *m, unsigned n, int flags) {
  (void)fd; (void)m; (void)n; (void)flags;
  errno = ENOSYS;
  return -1;
}


int ns_sys_sendmmsg (int fd, nsMmsg *m, unsigned n, int flags) {
  (void)fd; (void)m; (void)n; (void)flags;
  errno = ENOSYS;
  return -1;
}


/* no sendfile(2): sendfile.c reads and sends */
ssize_t ns_sys_sendfile (int out, int in, off_t *off, size_t count) {
  (void)out; (void)in; (void)off; (void)count;
  errno = ENOSYS;
  return -1;
}


/* a notifier: a UDP socket on 127.0.0.1 connected to itself, readable
   once a byte was sent to it */
int ns_sys_notifier (int signalled) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = ns_sys_socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ns_win_bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      ns_win_getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
      ns_win_connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    int err = errno;
    closesocket(S(fd));
    errno = err;
    return -1;
  }
  if (signalled) ns_sys_notify(fd);
  return fd;
}


void ns_sys_notify (int fd) {
  char one = 1;
  send(S(fd), &one, 1, 0);
}


void ns_sys_drain (int fd) {
  char buf[64];
  while (recv(S(fd), buf, sizeof buf, 0) > 0) {}
}


/* fromfd: not available on Windows (process_win.c raises first) */
int ns_sys_dupsocket (int fd) {
  (void)fd;
  errno = ENOSYS;
  return -1;
}


void ns_sys_closenotifier (int fd) {
  closesocket(S(fd));
}


/* no option spreads a port's connections over listeners: Winsock's
   SO_REUSEADDR lets a second socket take the port, it balances nothing */
const char *ns_sys_balance (void) {
  return NULL;
}


/*
** IPv4 multicast membership and IP_MULTICAST_IF. An interface given by
** index goes as an address in 0.0.0.0/8 (0.0.0.index), which Winsock
** reads as an index for these options.
*/
int ns_sys_mcast4 (int fd, int opt, const struct in_addr *group,
                   struct in_addr ifaddr, unsigned ifindex) {
  if (ifindex != 0 && ifaddr.s_addr == htonl(INADDR_ANY))
    ifaddr.s_addr = htonl(ifindex & 0xFFFFFFu);
  if (group == NULL)
    return ns_win_setsockopt(fd, IPPROTO_IP, opt, &ifaddr, sizeof ifaddr);
  else {
    struct ip_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.imr_multiaddr = *group;
    mr.imr_interface = ifaddr;
    return ns_win_setsockopt(fd, IPPROTO_IP, opt, &mr, sizeof mr);
  }
}


/* timegm(3): _mkgmtime */
time_t ns_sys_timegm (struct tm *t) {
  return _mkgmtime(t);
}


int ns_sys_dupover (int from, int to) {
  (void)from; (void)to;
  errno = ENOSYS;
  return -1;
}


int ns_sys_peercred (int fd, long *pid, long *uid, long *gid) {
  (void)fd; (void)pid; (void)uid; (void)gid;
  return ENOSYS;
}


long ns_sys_cpucount (void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors > 0 ? (long)si.dwNumberOfProcessors : 1;
}


int ns_sys_pollnow (int fd, int events) {
  WSAPOLLFD p;
  int r = 0;
  p.fd = S(fd);
  p.events = (short)(((events & NS_READ) ? POLLRDNORM : 0) |
                     ((events & NS_WRITE) ? POLLWRNORM : 0));
  p.revents = 0;
  if (WSAPoll(&p, 1, 0) < 0) return NS_FAULT;
  if (p.revents & (POLLRDNORM | POLLRDBAND)) r |= NS_READ;
  if (p.revents & POLLWRNORM) r |= NS_WRITE;
  if (p.revents & POLLHUP) r |= NS_HANGUP;
  if (p.revents & (POLLERR | POLLNVAL)) r |= NS_FAULT;
  return r;
}

/* }====== */
