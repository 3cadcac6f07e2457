/*
** sys_posix.c: the platform seam (every ns_sys_* of sys_linux.c) for
** any POSIX.1-2008 system: macOS, the BSDs, and Linux itself in the
** portable build (make PORTABLE=1, which CI runs). Each function does
** in plain POSIX what Linux does in one call, and takes a better call
** where the system has one: a macro the system's headers define (the
** compile-time feature test: SOCK_CLOEXEC, MSG_NOSIGNAL, SO_NOSIGPIPE,
** LOCAL_PEERCRED, POLLRDHUP, RTLD_NODELETE), or NS_HAVE_* for a
** function, which the Makefile's probes define when a small program
** using it compiles and links (tools/probe/). NS_GENERIC (the portable
** build) turns every such choice off, so that the generic code runs,
** except the two POSIX has no call for: the peer credentials and
** pinning the library in memory.
**
** Each function says below what it does instead of Linux's call;
** docs/design.md ("The seams") has the two side by side. Where the
** generic form is weaker: fcntl after socket(2) is not atomic (a fork
** and exec in another thread in between may inherit the descriptor),
** a pid of the peer's credentials only where the system gives one, no
** affinity in the CPU count, a peer's shutdown seen only as the end of
** the stream (POLLRDHUP is Linux's), hostents without aliases.
*/
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE  /* glibc: the whole interface (dladdr, struct ucred);
                        other systems show it by default */
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <dlfcn.h>
#if defined(LOCAL_PEERCRED)
#include <sys/ucred.h>
#endif

#include "netsock.h"

/* the calls taken where the headers say the system has them */
#if !defined(NS_GENERIC) && defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
#define SOCKFLAGS  (SOCK_CLOEXEC | SOCK_NONBLOCK)
#else
#define SOCKFLAGS  0
#endif
#if !defined(NS_GENERIC) && defined(MSG_NOSIGNAL)
#define NOSIGNAL   MSG_NOSIGNAL
#define SIGMASKED  0
#elif !defined(NS_GENERIC) && defined(SO_NOSIGPIPE)
#define NOSIGNAL   0
#define SIGMASKED  0
#else
#define NOSIGNAL   0
#define SIGMASKED  1   /* SIGPIPE blocked around each send */
#endif
#if !defined(NS_GENERIC) && defined(POLLRDHUP)
#define RDHUP      POLLRDHUP
#else
#define RDHUP      0
#endif


/* {====== Descriptors made non-blocking and close-on-exec ====== */

/* SO_NOSIGPIPE where the system has it (sendfile too then never
   raises SIGPIPE); nothing elsewhere */
static void nosigpipe (int fd) {
#if defined(SO_NOSIGPIPE)
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
  (void)fd;
#endif
}


/*
** FD_CLOEXEC and O_NONBLOCK on a descriptor just made: fd, or -1 (fd
** closed). A new descriptor has no other status flag to keep (F_SETFL
** ignores the access mode), so O_NONBLOCK is set without F_GETFL.
*/
static int adopt (int fd) {
  if (fd < 0) return -1;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}


int ns_sys_socket (int family, int type, int proto) {
  int fd = socket(family, type | SOCKFLAGS, proto);
  if (SOCKFLAGS == 0) fd = adopt(fd);
  if (fd >= 0 && (family == AF_INET || family == AF_INET6 || family == AF_UNIX))
    nosigpipe(fd);
  return fd;
}


int ns_sys_socketpair (int family, int type, int proto, int fds[2]) {
  if (socketpair(family, type | SOCKFLAGS, proto, fds) < 0) return -1;
  if (SOCKFLAGS == 0) {
    if (adopt(fds[0]) < 0) { close(fds[1]); return -1; }
    if (adopt(fds[1]) < 0) { close(fds[0]); return -1; }
  }
  nosigpipe(fds[0]);
  nosigpipe(fds[1]);
  return 0;
}


int ns_sys_connected (int fd) { (void)fd; return -1; }  /* SO_ERROR's way */

int ns_sys_accept (int fd, struct sockaddr *sa, socklen_t *len) {
  int c;
#if !defined(NS_GENERIC) && defined(NS_HAVE_ACCEPT4)
  c = accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
  c = adopt(accept(fd, sa, len));
#endif
  if (c >= 0) nosigpipe(c);
  return c;
}


/* a descriptor of the caller's (fromfd), duplicated close-on-exec */
int ns_sys_dupsocket (int fd) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d >= 0) nosigpipe(d);
  return d;
}


int ns_sys_pipe (int p[2]) {
  if (pipe(p) < 0) return -1;
  if (adopt(p[0]) < 0) { close(p[1]); return -1; }
  if (adopt(p[1]) < 0) { close(p[0]); return -1; }
  return 0;
}

/* }====== */


/* {====== Sending without SIGPIPE ====== */

/*
** SIGPIPE blocked for a call (this thread only), and a SIGPIPE the call
** raised (pending now, not before) taken back before the mask returns:
** sigwait returns at once, the signal being pending.
*/
typedef struct { sigset_t pipe, old; int had; } Masked;

static void maskpipe (Masked *m) {
  sigset_t pend;
  sigemptyset(&m->pipe);
  sigaddset(&m->pipe, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  m->had = sigismember(&pend, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &m->pipe, &m->old);
}


static void unmaskpipe (Masked *m) {
  sigset_t pend;
  int err = errno, sig;
  sigemptyset(&pend);
  sigpending(&pend);
  if (!m->had && sigismember(&pend, SIGPIPE))
    sigwait(&m->pipe, &sig);
  pthread_sigmask(SIG_SETMASK, &m->old, NULL);
  errno = err;
}


ssize_t ns_sys_send (int fd, const void *p, size_t n, int flags) {
  Masked m;
  ssize_t r;
  if (!SIGMASKED) return send(fd, p, n, flags | NOSIGNAL);
  maskpipe(&m);
  r = send(fd, p, n, flags);
  unmaskpipe(&m);
  return r;
}


ssize_t ns_sys_sendto (int fd, const void *p, size_t n, int flags,
                       const struct sockaddr *to, socklen_t tolen) {
  Masked m;
  ssize_t r;
  if (!SIGMASKED) return sendto(fd, p, n, flags | NOSIGNAL, to, tolen);
  maskpipe(&m);
  r = sendto(fd, p, n, flags, to, tolen);
  unmaskpipe(&m);
  return r;
}


ssize_t ns_sys_sendmsg (int fd, const struct msghdr *msg, int flags) {
  Masked m;
  ssize_t r;
  if (!SIGMASKED) return sendmsg(fd, msg, flags | NOSIGNAL);
  maskpipe(&m);
  r = sendmsg(fd, msg, flags);
  unmaskpipe(&m);
  return r;
}


/* datagrams in batches: Linux's (and FreeBSD's) recvmmsg, sendmmsg are
   not POSIX; mmsg.c loops over recvmsg and sendmsg on ENOSYS */
int ns_sys_recvmmsg (int fd, nsMmsg *msgs, unsigned n, int flags) {
  (void)fd; (void)msgs; (void)n; (void)flags;
  errno = ENOSYS;
  return -1;
}


int ns_sys_sendmmsg (int fd, nsMmsg *msgs, unsigned n, int flags) {
  (void)fd; (void)msgs; (void)n; (void)flags;
  errno = ENOSYS;
  return -1;
}


/*
** The BSDs' sendfile(2) (file first, socket second, the count sent
** through a pointer, also when it fails with EAGAIN or EINTR after
** sending some), under the SIGPIPE mask; ENOSYS where the probe found
** none, and sendfile.c reads and sends.
*/
ssize_t ns_sys_sendfile (int out, int in, off_t *off, size_t count) {
#if !defined(NS_GENERIC) && (defined(NS_HAVE_SENDFILE_FREEBSD) || defined(NS_HAVE_SENDFILE_DARWIN))
  Masked m;
  int r;
#if defined(NS_HAVE_SENDFILE_FREEBSD)
  off_t sent = 0;
  maskpipe(&m);
  r = sendfile(in, out, *off, count, NULL, &sent, 0);
#else
  off_t sent = (off_t)count;
  maskpipe(&m);
  r = sendfile(in, out, *off, &sent, NULL, 0);
#endif
  unmaskpipe(&m);
  if (sent > 0) { *off += sent; return (ssize_t)sent; }
  return r < 0 ? -1 : 0;
#else
  (void)out; (void)in; (void)off; (void)count;
  errno = ENOSYS;
  return -1;
#endif
}

/* }====== */


/* {====== Notifiers (a pipe) ====== */

static pthread_mutex_t notelock = PTHREAD_MUTEX_INITIALIZER;
static int *writer;   /* writer[rfd]: the write end + 1, 0 for none */
static int nwriter;

/* writer[fd] = w + 1 (w -1: none); 0 without memory (lock held) */
static int setwriter (int fd, int w) {
  if (fd >= nwriter) {
    int cap = nwriter ? nwriter : 64, *p;
    if (w < 0) return 1;
    while (cap <= fd) cap *= 2;
    p = (int *)realloc(writer, (size_t)cap * sizeof *p);
    if (p == NULL) return 0;
    memset(p + nwriter, 0, (size_t)(cap - nwriter) * sizeof *p);
    writer = p;
    nwriter = cap;
  }
  writer[fd] = w + 1;
  return 1;
}


static int getwriter (int fd) {
  return fd >= 0 && fd < nwriter ? writer[fd] - 1 : -1;
}


/* a descriptor readable once signalled ('signalled': already, for
   ever: its writer is closed, so it reads the end), or -1 */
int ns_sys_notifier (int signalled) {
  int p[2], ok;
  if (ns_sys_pipe(p) < 0) return -1;
  if (signalled) {
    close(p[1]);
    return p[0];
  }
  pthread_mutex_lock(&notelock);
  ok = setwriter(p[0], p[1]);
  pthread_mutex_unlock(&notelock);
  if (!ok) {
    close(p[0]);
    close(p[1]);
    errno = ENOMEM;
    return -1;
  }
  return p[0];
}


/* make the notifier readable (a full pipe is readable already) */
void ns_sys_notify (int fd) {
  int w;
  pthread_mutex_lock(&notelock);
  w = getwriter(fd);
  if (w >= 0 && write(w, "", 1) < 0) { /* full: signalled already */ }
  pthread_mutex_unlock(&notelock);
}


/* take back every signal so far */
void ns_sys_drain (int fd) {
  char buf[64];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {}
}


/* 'to' names what 'from' names, close-on-exec; 'to's writer goes */
int ns_sys_dupover (int from, int to) {
  int old, r;
  do r = dup2(from, to);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  fcntl(to, F_SETFD, FD_CLOEXEC);
  pthread_mutex_lock(&notelock);
  old = getwriter(to);
  setwriter(to, getwriter(from));
  setwriter(from, -1);
  pthread_mutex_unlock(&notelock);
  if (old >= 0) close(old);
  return r;
}


void ns_sys_closenotifier (int fd) {
  int w;
  pthread_mutex_lock(&notelock);
  w = getwriter(fd);
  setwriter(fd, -1);
  pthread_mutex_unlock(&notelock);
  if (w >= 0) close(w);
  close(fd);
}

/* }====== */


/* {====== The process ====== */

/*
** The credentials of the peer of a Unix stream socket: 0, or an errno.
** A pid the system does not give is -1.
*/
int ns_sys_peercred (int fd, long *pid, long *uid, long *gid) {
#if defined(NS_HAVE_SO_PEERCRED)
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
    return errno;
  if (len < sizeof uc || (uc.pid == 0 && uc.uid == (uid_t)-1))
    return ENOTCONN;
  *pid = (long)uc.pid;
  *uid = (long)uc.uid;
  *gid = (long)uc.gid;
  return 0;
#elif defined(LOCAL_PEERCRED)
  struct xucred xu;
  socklen_t len = sizeof xu;
  if (getsockopt(fd, 0, LOCAL_PEERCRED, &xu, &len) < 0)
    return errno;
  if (xu.cr_version != XUCRED_VERSION) return EOPNOTSUPP;
  *pid = -1;
#if defined(cr_pid)
  *pid = (long)xu.cr_pid;
#endif
  *uid = (long)xu.cr_uid;
  *gid = xu.cr_ngroups > 0 ? (long)xu.cr_groups[0] : -1;
  return 0;
#elif defined(NS_HAVE_GETPEEREID)
  uid_t u;
  gid_t g;
  if (getpeereid(fd, &u, &g) < 0) return errno;
  *pid = -1;
  *uid = (long)u;
  *gid = (long)g;
  return 0;
#else
  (void)fd; (void)pid; (void)uid; (void)gid;
  return EOPNOTSUPP;
#endif
}


/*
** The option under which the kernel spreads one port's connections over
** its listeners: FreeBSD's SO_REUSEPORT_LB (12.0). The BSDs' and macOS's
** SO_REUSEPORT lets several sockets bind a port but hands each
** connection to one of them without balancing, and the portable build
** takes none: serve's workers then share one listener.
*/
const char *ns_sys_balance (void) {
#if !defined(NS_GENERIC) && defined(SO_REUSEPORT_LB)
  return "reuseport_lb";
#else
  return NULL;
#endif
}


/* the CPUs online, at least 1 (POSIX has no affinity) */
long ns_sys_cpucount (void) {
  long n = -1;
#if defined(_SC_NPROCESSORS_ONLN)
  n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
  return n > 0 ? n : 1;
}


/*
** Keep this library mapped for the life of the process (the lookup
** pool's threads run its code after lua_close): dladdr names its file,
** dlopen with RTLD_NODELETE pins it. Nothing where the system has
** neither (not POSIX, but on every system netsock targets; the
** portable build keeps it: without it the process may crash at exit).
*/
void ns_sys_pin (void *addr) {
#if defined(RTLD_NODELETE) && defined(RTLD_NOLOAD)
  Dl_info info;
  if (dladdr(addr, &info) && info.dli_fname != NULL)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
#else
  (void)addr;
#endif
}

/* }====== */


/* what 'fd' is ready for now, without waiting (NS_READ, NS_WRITE of
   those asked, NS_HANGUP, NS_FAULT); EINTR retried */
int ns_sys_pollnow (int fd, int events) {
  struct pollfd pfd;
  int r = 0;
  pfd.fd = fd;
  pfd.events = (short)(((events & NS_READ) ? POLLIN | RDHUP : 0) |
                       ((events & NS_WRITE) ? POLLOUT : 0));
  pfd.revents = 0;
  while (poll(&pfd, 1, 0) < 0 && errno == EINTR) {}
  if (pfd.revents & POLLIN) r |= NS_READ;
  if (pfd.revents & POLLOUT) r |= NS_WRITE;
  if (pfd.revents & (RDHUP | POLLHUP)) r |= NS_HANGUP;
  if (pfd.revents & (POLLERR | POLLNVAL)) r |= NS_FAULT;
  return r;
}


/* {====== Multicast, inet_aton, timegm ====== */

/*
** IPv4 multicast: join or leave 'group' (opt IP_ADD_MEMBERSHIP,
** IP_DROP_MEMBERSHIP) or, group NULL, choose the sending interface
** (IP_MULTICAST_IF). struct ip_mreq and IP_MULTICAST_IF name the
** interface by its address; one named by index (or name) alone takes
** RFC 3678's MCAST_JOIN_GROUP, MCAST_LEAVE_GROUP (Linux, the BSDs,
** macOS) or macOS's IP_MULTICAST_IFINDEX, and is EOPNOTSUPP where the
** system has neither.
*/
static int mcastindex (int fd, int opt, const struct in_addr *group,
                       unsigned ifindex) {
#if defined(MCAST_JOIN_GROUP) && defined(MCAST_LEAVE_GROUP)
  if (group != NULL) {
    struct group_req gr;
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&gr.gr_group;
    memset(&gr, 0, sizeof gr);
    gr.gr_interface = ifindex;
    sin->sin_family = AF_INET;
    sin->sin_addr = *group;
    return setsockopt(fd, IPPROTO_IP, opt == IP_ADD_MEMBERSHIP ?
                      MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &gr, sizeof gr);
  }
#endif
#if defined(IP_MULTICAST_IFINDEX)
  if (group == NULL) {
    (void)opt;
    return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IFINDEX, &ifindex,
                      sizeof ifindex);
  }
#endif
  (void)fd; (void)opt; (void)group; (void)ifindex;
  errno = EOPNOTSUPP;
  return -1;
}


int ns_sys_mcast4 (int fd, int opt, const struct in_addr *group,
                   struct in_addr ifaddr, unsigned ifindex) {
  if (ifindex != 0 && ifaddr.s_addr == htonl(INADDR_ANY))
    return mcastindex(fd, opt, group, ifindex);
  if (group == NULL)
    return setsockopt(fd, IPPROTO_IP, opt, &ifaddr, sizeof ifaddr);
  else {
    struct ip_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.imr_multiaddr = *group;
    mr.imr_interface = ifaddr;
    return setsockopt(fd, IPPROTO_IP, opt, &mr, sizeof mr);
  }
}


/*
** The numbers-and-dots forms inet_aton(3) reads: a, a.b, a.b.c,
** a.b.c.d, each part decimal, octal (0...) or hex (0x...), the last
** part filling what is left of the 32 bits. Text after the address
** must start with a space, as glibc's. 1 if valid.
*/
int ns_sys_inet_aton (const char *text, struct in_addr *out) {
  unsigned long part[4], v;
  const char *p = text;
  int n = 0;
  for (;;) {
    char *end;
    if (!isdigit((unsigned char)*p)) return 0;
    errno = 0;
    v = strtoul(p, &end, 0);
    if (errno == ERANGE || v > 0xffffffffUL) return 0;
    part[n++] = v;
    p = end;
    if (*p != '.') break;
    if (n == 4) return 0;
    p++;
  }
  if (*p != '\0' && !isspace((unsigned char)*p)) return 0;
  if (n == 1) v = part[0];
  else {
    int i;
    unsigned long lastmax = 0xffffffffUL >> (8 * (n - 1));
    if (part[n - 1] > lastmax) return 0;
    v = part[n - 1];
    for (i = 0; i < n - 1; i++) {
      if (part[i] > 0xff) return 0;
      v |= part[i] << (24 - 8 * i);
    }
  }
  out->s_addr = htonl((uint32_t)v);
  return 1;
}


/* days since 1970-01-01 of a proleptic Gregorian date (m 1-12) */
static long daysfromcivil (long y, long m, long d) {
  long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}


/* a broken-down UTC time (fields in range, as OpenSSL gives them) */
time_t ns_sys_timegm (struct tm *t) {
  long days = daysfromcivil((long)t->tm_year + 1900, (long)t->tm_mon + 1,
                            (long)t->tm_mday);
  return (time_t)(days * 86400L + t->tm_hour * 3600L + t->tm_min * 60L +
                  t->tm_sec);
}

/* }====== */


/* {====== The netdb lookups ====== */

/* room for n bytes aligned for a pointer in buf[*used..size), or NULL */
static char *take (char *buf, size_t size, size_t *used, size_t n) {
  size_t at = (*used + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
  if (at > size || size - at < n) return NULL;
  *used = at + n;
  return buf + at;
}


/* a copy of string s in buf, or NULL */
static char *takestr (char *buf, size_t size, size_t *used, const char *s) {
  size_t n = strlen(s) + 1;
  char *p;
  if (*used > size || size - *used < n) return NULL;
  p = buf + *used;
  memcpy(p, s, n);
  *used += n;
  return p;
}


/* getaddrinfo's failure as gethostbyname_r's: the errno returned */
static int herrof (int gai, int *herr) {
  switch (gai) {
    case EAI_AGAIN: *herr = TRY_AGAIN; return EAGAIN;
    case EAI_FAIL: *herr = NO_RECOVERY; return 0;
    case EAI_MEMORY: *herr = NETDB_INTERNAL; return ENOMEM;
    case EAI_SYSTEM: *herr = NETDB_INTERNAL; return errno ? errno : EIO;
    default: *herr = HOST_NOT_FOUND; return ENOENT;
  }
}


/* lay out a hostent: 'name', no aliases, the 'count' addresses of 'len'
   bytes at addrs; ERANGE when buf is too small */
static int layout (struct hostent *he, char *buf, size_t size,
                   const char *name, int family, int len,
                   const unsigned char *addrs, int count) {
  size_t used = 0;
  char **list, **alias;
  int i;
  alias = (char **)take(buf, size, &used, sizeof(char *));
  list = (char **)take(buf, size, &used, (size_t)(count + 1) * sizeof(char *));
  if (alias == NULL || list == NULL) return ERANGE;
  alias[0] = NULL;
  for (i = 0; i < count; i++) {
    list[i] = take(buf, size, &used, (size_t)len);
    if (list[i] == NULL) return ERANGE;
    memcpy(list[i], addrs + (size_t)i * (size_t)len, (size_t)len);
  }
  list[count] = NULL;
  he->h_name = takestr(buf, size, &used, name);
  if (he->h_name == NULL) return ERANGE;
  he->h_aliases = alias;
  he->h_addrtype = family;
  he->h_length = len;
  he->h_addr_list = list;
  return 0;
}


#define MAXADDRS  64   /* addresses a hostent here holds at most */

int ns_sys_gethostbyname (const char *name, struct hostent *he, char *buf,
                          size_t size, struct hostent **res, int *herr) {
  struct addrinfo hints, *ai, *p;
  unsigned char addrs[MAXADDRS * 4];
  int gai, count = 0, r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  *res = NULL;
  errno = 0;
  gai = getaddrinfo(name, NULL, &hints, &ai);
  if (gai != 0) return herrof(gai, herr);
  for (p = ai; p != NULL && count < MAXADDRS; p = p->ai_next) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)p->ai_addr;
    int i, dup = 0;
    for (i = 0; i < count; i++)
      dup |= memcmp(addrs + 4 * i, &sin->sin_addr, 4) == 0;
    if (!dup) memcpy(addrs + 4 * count++, &sin->sin_addr, 4);
  }
  r = layout(he, buf, size, ai->ai_canonname ? ai->ai_canonname : name,
             AF_INET, 4, addrs, count);
  freeaddrinfo(ai);
  if (r != 0) { *herr = NETDB_INTERNAL; return r; }
  *res = he;
  return 0;
}


int ns_sys_gethostbyaddr (const void *addr, socklen_t len, int family,
                          struct hostent *he, char *buf, size_t size,
                          struct hostent **res, int *herr) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  char host[NI_MAXHOST];
  int gai, r;
  memset(&ss, 0, sizeof ss);
  *res = NULL;
  if (family == AF_INET && len == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, addr, 4);
    sslen = sizeof *sin;
  }
  else if (family == AF_INET6 && len == 16) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, addr, 16);
    sslen = sizeof *sin6;
  }
  else { *herr = NETDB_INTERNAL; return EAFNOSUPPORT; }
  errno = 0;
  gai = getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof host,
                    NULL, 0, NI_NAMEREQD);
  if (gai != 0) return herrof(gai, herr);
  r = layout(he, buf, size, host, family, (int)len,
             (const unsigned char *)addr, 1);
  if (r != 0) { *herr = NETDB_INTERNAL; return r; }
  *res = he;
  return 0;
}


/* the plain netdb calls share static storage: one at a time */
static pthread_mutex_t netdblock = PTHREAD_MUTEX_INITIALIZER;

/* a copy of a NULL-ended list of strings in buf, or NULL */
static char **copylist (char **list, char *buf, size_t size, size_t *used) {
  int n = 0, i;
  char **out;
  while (list != NULL && list[n] != NULL) n++;
  out = (char **)take(buf, size, used, (size_t)(n + 1) * sizeof(char *));
  if (out == NULL) return NULL;
  for (i = 0; i < n; i++)
    if ((out[i] = takestr(buf, size, used, list[i])) == NULL) return NULL;
  out[n] = NULL;
  return out;
}


/* copy a servent into se/buf (the lock held): 0, or ERANGE */
static int copyserv (const struct servent *s, struct servent *se, char *buf,
                     size_t size, struct servent **res) {
  size_t used = 0;
  if (s == NULL) return 0;  /* not found: *res stays NULL */
  se->s_port = s->s_port;
  if ((se->s_aliases = copylist(s->s_aliases, buf, size, &used)) == NULL ||
      (se->s_name = takestr(buf, size, &used, s->s_name)) == NULL ||
      (se->s_proto = takestr(buf, size, &used, s->s_proto)) == NULL)
    return ERANGE;
  *res = se;
  return 0;
}


int ns_sys_getservbyname (const char *name, const char *proto,
                          struct servent *se, char *buf, size_t size,
                          struct servent **res) {
  int r;
  *res = NULL;
  pthread_mutex_lock(&netdblock);
  r = copyserv(getservbyname(name, proto), se, buf, size, res);
  pthread_mutex_unlock(&netdblock);
  return r;
}


/* 'port' in network byte order, as getservbyport takes it */
int ns_sys_getservbyport (int port, const char *proto, struct servent *se,
                          char *buf, size_t size, struct servent **res) {
  int r;
  *res = NULL;
  pthread_mutex_lock(&netdblock);
  r = copyserv(getservbyport(port, proto), se, buf, size, res);
  pthread_mutex_unlock(&netdblock);
  return r;
}


int ns_sys_getprotobyname (const char *name, struct protoent *pe, char *buf,
                           size_t size, struct protoent **res) {
  const struct protoent *p;
  size_t used = 0;
  int r = 0;
  *res = NULL;
  pthread_mutex_lock(&netdblock);
  p = getprotobyname(name);
  if (p != NULL) {
    pe->p_proto = p->p_proto;
    if ((pe->p_aliases = copylist(p->p_aliases, buf, size, &used)) == NULL ||
        (pe->p_name = takestr(buf, size, &used, p->p_name)) == NULL)
      r = ERANGE;
    else *res = pe;
  }
  pthread_mutex_unlock(&netdblock);
  return r;
}

/* }====== */
