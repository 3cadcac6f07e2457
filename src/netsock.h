/*
** netsock.h: the types, names, tunables and prototypes of the C core.
** Only luaopen_netsock_core is exported; everything declared here is
** internal (ns_ prefix, hidden visibility).
**
** The files, each one concern, lowest first; a file uses only those
** above it in this list (docs/design.md draws the same picture, and
** spec/layers_spec.lua checks it):
**   sys_linux.c   the platform seam: each Linux-only call behind one
**                 named function (ns_sys_*)
**   ready_epoll.c the readiness seam: a set of descriptors to wait on
**                 (ns_ready_*), on epoll
**   errors.c   nil, message, code; errno and EAI tables
**   aux.c      argument checks, the socket checks, the class builder,
**              the descriptor box
**   buffer.c   the receive buffer's primitives (ns_buf_*)
**   addr.c     sockaddr in and out, inet_* and byte order, hostents
**   signal_posix.c  the signal seam: catching a signal, the self-pipe
**              that wakes the loop, kill (ns_sig_*)
**   signal.c   onsignal's Lua half, the prompt's Ctrl-C (ns_retry)
**   process.c  fork, waitpid, the CPU count, peer credentials, ids,
**              umask, isatty
**   sched.c    the task loop's waits: waiters per descriptor, the
**              deadline heap (ns_sched_*)
**   wait.c     clock, deadlines, how a call waits (in a task: the
**              loop's registration and filed wait)
**   loop.c     the task loop's object: its readiness set's wait, its
**              methods for tasks.lua
**   pool.c     the lookup pool: resolver jobs on worker threads
**   resolve.c  every name lookup (inside tasks through pool.c)
**   select.c   select and the poller
**   tls.c      netsock.tls: contexts, sessions, the TLS record layer
**   io.c       the transport of a stream socket: plain or TLS, one
**              switch per operation; the only caller of tls.h
**   socket.c   socket lifetime, stream methods
**   connect.c  connect, connect_ex
**   file.c     file objects (makefile)
**   dgram.c, sendfile.c, options.c   their methods
**   luasocket.c  netsock.luasocket's receive and send (LuaSocket's
**              timeouts), over buffer.c and io.c
**   mmsg.c     recvmany, sendmany
**   core.c     luaopen_netsock_core, constants, setrlimit_nofile
*/
#ifndef netsock_h
#define netsock_h

#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <time.h>

/*
** What strict POSIX.1-2008 headers leave out and the core uses (the
** portable build compiles with -D_POSIX_C_SOURCE=200809L): the netdb
** codes of the gethostby* family and the sizes of getnameinfo's
** buffers, with glibc's values (the seam, which sets the codes, sees
** the system's own: glibc hides them only under strict POSIX), and
** NSIG.
*/
#if !defined(HOST_NOT_FOUND)
#define HOST_NOT_FOUND  1
#define TRY_AGAIN       2
#define NO_RECOVERY     3
#define NO_DATA         4
#endif
#if !defined(NETDB_INTERNAL)
#define NETDB_INTERNAL  -1
#endif
#if !defined(NI_MAXHOST)
#define NI_MAXHOST      1025
#define NI_MAXSERV      32
#endif
#if !defined(NSIG)
#define NSIG            65
#endif

#include "lua.h"
#include "lauxlib.h"

/* NS_API: shared between the core's files, never exported; NS_EXPORT:
   the one exported function (a DLL exports only what is so marked) */
#if defined(_WIN32)
#define NS_API extern
#define NS_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define NS_API __attribute__((visibility("hidden"))) extern
#define NS_EXPORT __attribute__((visibility("default")))
#else
#define NS_API extern
#define NS_EXPORT
#endif

/* metatable names */
#define NS_SOCKET   "netsock.socket"
#define NS_FILE     "netsock.file"
#define NS_POLLER   "netsock.poller"

/* registry keys */
#define NS_TASKS    "netsock.tasks"     /* weak set of task threads */
#define NS_ONCLOSE  "netsock.onclose"   /* function(fd) called before close */
#define NS_DEFTMO   "netsock.deftimeout"

/* size of one refill of the receive buffer */
#if !defined(NS_BUFSIZE)
#define NS_BUFSIZE  (64 * 1024)
#endif

/* receive buffers of NS_BUFSIZE kept free for the next fill, per
   thread (buffer.c) */
#if !defined(NS_BUFCACHE)
#define NS_BUFCACHE  4
#endif

/* storage per OS thread (each thread runs a Lua state of its own) */
#if !defined(NS_THREADLOCAL)
#define NS_THREADLOCAL __thread
#endif

/* default longest line a file object buffers */
#if !defined(NS_LINELIMIT)
#define NS_LINELIMIT  (1024 * 1024)
#endif

/* recv(2) and recvmsg(2) into a buffer on the C stack up to this size */
#if !defined(NS_STACKBUF)
#define NS_STACKBUF  (64 * 1024)
#endif

/* seconds between two tries of a call the kernel refuses while poll
   says ready (ns_pause) */
#if !defined(NS_PAUSE)
#define NS_PAUSE  0.01
#endif

/* events a blocked call waits for */
#define NS_READ   1
#define NS_WRITE  2
/* with NS_READ or NS_WRITE for ns_callflags: the call takes no MSG_*
   flags (accept, connect, sendfile) */
#define NS_NOFLAGS    4
/* with NS_WRITE: with a timeout the call does not sleep in the kernel
   (s:send on a stream returns as soon as some bytes went, where a
   blocking send waits until all of them went: wait.c) */
#define NS_POLLTIMED  8
/* with NS_WRITE for ns_block: poll cannot see when the call can go on
   (a full Unix datagram receiver): where the call would wait in poll or
   the loop, it pauses instead (ns_pause); a kernel wait stays one */
#define NS_NOPOLL     16
/* with NS_READ, NS_WRITE for ns_ready_add and ns_ready_modify: report
   a change of state once (edge-triggered), not for as long as it lasts */
#define NS_EDGE       32
/* what ns_sys_pollnow reports beside NS_READ and NS_WRITE: the peer
   shut down or went (HANGUP), the descriptor is in error (FAULT) */
#define NS_HANGUP     64
#define NS_FAULT      128


/*
** What an internal step came to. The one place that turns a result
** into Lua values is ns_pushresult (errors.c).
*/
typedef enum nsResult {
  NS_OK = 0,     /* done */
  NS_AGAIN,      /* ready (or the descriptor now blocks): try again */
  NS_PENDING,    /* started, not finished: wait (a connect in progress) */
  NS_TIMEOUT,    /* the deadline passed */
  NS_CLOSED,     /* the socket was closed, by another task or the peer */
  NS_ERRNO,      /* failed: the errno passed along says why */
  NS_PUSHED      /* failed: nil, message, code are on the stack already */
} nsResult;


/*
** A socket. 'fd' is -1 once closed. The receive buffer (rbuf) is
** allocated lazily and released whenever it runs empty before a wait,
** so listening and idle sockets carry none. Bytes rbuf[rhead..rtail)
** are received but not yet handed to Lua.
*/
typedef struct nsTls nsTls;   /* tls.c: a socket's TLS state */

typedef struct nsSocket {
  int fd;
  int family;           /* AF_INET, AF_INET6, AF_UNIX, ... */
  int type;             /* SOCK_STREAM, SOCK_DGRAM, ... */
  int protocol;
  double timeout;       /* seconds; < 0 blocks for ever, 0 never waits */
  int waiters;          /* loop registration stamp (wait.c), 0: none */
  char *rbuf;           /* receive buffer, or NULL */
  size_t rcap;          /* its capacity */
  size_t rhead, rtail;  /* unread bytes are rbuf[rhead..rtail) */
  size_t chunk;         /* refill size (NS_BUFSIZE unless set) */
  int fdblock;          /* O_NONBLOCK is off now (wait.c: kernel waits) */
  int shared;           /* made by fromfd: another holder may flip flags */
  nsTls *tls;           /* after starttls: TLS state (tls.c), else NULL */
  double ktimeo[2];     /* the timeouts SO_RCVTIMEO [0] and SO_SNDTIMEO [1]
                           were set for (wait.c: timed kernel waits); 0:
                           not set by netsock, the kernel's value unknown */
  unsigned gen;         /* ns_forkgen() at birth: a fork's copy if changed */
  unsigned rdshort;     /* wait.c: the task loop's poll count when a short
                           read emptied the kernel's queue (0: unknown) */
  int rdguess;          /* wait.c: a read skipped its system call for it */
} nsSocket;

#define ns_pending(s)  ((s)->rtail - (s)->rhead)


/* {====== sys_linux.c or sys_posix.c: each platform call behind one name ====== */
/* socket(2), socketpair(2), accept4(2): non-blocking, close-on-exec */
NS_API int ns_sys_socket (int family, int type, int proto);
NS_API int ns_sys_socketpair (int family, int type, int proto, int fds[2]);
NS_API int ns_sys_accept (int fd, struct sockaddr *sa, socklen_t *len);
/* a non-blocking TCP connect under way, asked without waiting and
   without changing it: 0 connected, EINPROGRESS not yet, -1 failed or
   unknown here (ask SO_ERROR) */
NS_API int ns_sys_connected (int fd);
/* pipe2(2): both ends non-blocking, close-on-exec */
NS_API int ns_sys_pipe (int p[2]);
/* send(2), sendto(2) that never raise SIGPIPE (EPIPE instead) */
NS_API ssize_t ns_sys_send (int fd, const void *p, size_t n, int flags);
NS_API ssize_t ns_sys_sendto (int fd, const void *p, size_t n, int flags,
                              const struct sockaddr *to, socklen_t tolen);
/* one sendfile(2) from file 'in' to socket 'out', SIGPIPE taken back */
NS_API ssize_t ns_sys_sendfile (int out, int in, off_t *off, size_t count);
/* a notifier: a descriptor that turns readable when signalled (made
   signalled already or not), signalled, drained; dup3 close-on-exec */
NS_API int ns_sys_notifier (int signalled);
NS_API void ns_sys_notify (int fd);
NS_API void ns_sys_drain (int fd);
NS_API int ns_sys_dupover (int from, int to);
/* the peer's pid, uid, gid on a Unix stream socket: 0 or an errno */
NS_API int ns_sys_peercred (int fd, long *pid, long *uid, long *gid);
/* the CPUs this process may run on, at least 1 */
NS_API long ns_sys_cpucount (void);
/* the socket option (setoption's name) under which the kernel spreads
   the connections of one port over the listeners bound to it, or NULL
   where none does (serve's workers then share one listener) */
NS_API const char *ns_sys_balance (void);
/* poll(2) without waiting: NS_READ, NS_WRITE, NS_HANGUP, NS_FAULT */
NS_API int ns_sys_pollnow (int fd, int events);
/* fromfd's duplicate of a caller's descriptor, close-on-exec */
NS_API int ns_sys_dupsocket (int fd);
/* a notifier goes (both ends, where it is a pipe) */
NS_API void ns_sys_closenotifier (int fd);
/* keep the library that holds 'addr' mapped until the process ends */
NS_API void ns_sys_pin (void *addr);
/* IPv4 multicast: join/leave 'group' (opt IP_ADD_MEMBERSHIP...) or,
   group NULL, IP_MULTICAST_IF; the interface by address or index */
NS_API int ns_sys_mcast4 (int fd, int opt, const struct in_addr *group,
                          struct in_addr ifaddr, unsigned ifindex);
/* inet_aton(3)'s forms ("127.1"); 1 if valid */
NS_API int ns_sys_inet_aton (const char *text, struct in_addr *out);
/* a broken-down UTC time to seconds since the epoch */
NS_API time_t ns_sys_timegm (struct tm *t);
/* a batch of datagrams: one message header and the length it moved
   each (the layout of Linux's struct mmsghdr) */
typedef struct nsMmsg {
  struct msghdr msg_hdr;
  unsigned int msg_len;
} nsMmsg;
/* recvmmsg(2) (MSG_WAITFORONE: only the first may wait) and sendmmsg(2)
   (no SIGPIPE): the count, or -1 with errno; ENOSYS where the system
   has no batch calls (mmsg.c then loops over recvmsg, sendmsg) */
NS_API int ns_sys_recvmmsg (int fd, nsMmsg *m, unsigned n, int flags);
NS_API int ns_sys_sendmmsg (int fd, nsMmsg *m, unsigned n, int flags);
/* sendmsg(2) that never raises SIGPIPE */
NS_API ssize_t ns_sys_sendmsg (int fd, const struct msghdr *m, int flags);
/* the netdb lookups in their reentrant forms (as glibc's *_r) */
NS_API int ns_sys_gethostbyname (const char *name, struct hostent *he,
                                 char *buf, size_t size, struct hostent **res,
                                 int *herr);
NS_API int ns_sys_gethostbyaddr (const void *addr, socklen_t len, int family,
                                 struct hostent *he, char *buf, size_t size,
                                 struct hostent **res, int *herr);
NS_API int ns_sys_getservbyname (const char *name, const char *proto,
                                 struct servent *se, char *buf, size_t size,
                                 struct servent **res);
NS_API int ns_sys_getservbyport (int port, const char *proto,
                                 struct servent *se, char *buf, size_t size,
                                 struct servent **res);
NS_API int ns_sys_getprotobyname (const char *name, struct protoent *pe,
                                  char *buf, size_t size,
                                  struct protoent **res);
/* }====== */


/* {====== ready_epoll.c or ready_poll.c: the readiness backend ====== */
/*
** A set of descriptors to wait on (the loop's, a poller's, select's in
** a task): a descriptor itself, readable when a member is ready,
** closed with ns_ready_close (or close(2)). -1 with errno on failure; errno EEXIST (add:
** there already), ENOENT (not there), EPERM (cannot be watched: a
** regular file, always ready) mean the same on every backend.
*/
typedef struct nsReadyEvent {
  int fd;
  int events;      /* NS_READ | NS_WRITE; both on an error or hang-up,
                      with NS_HANGUP where the backend tells it */
} nsReadyEvent;
NS_API int ns_ready_open (void);
/* 'events': NS_READ, NS_WRITE, and NS_EDGE for edge-triggered */
NS_API int ns_ready_add (int set, int fd, int events);
NS_API int ns_ready_modify (int set, int fd, int events);
NS_API int ns_ready_remove (int set, int fd);
/*
** An NS_EDGE member reports a direction at least once after each
** ns_ready_rearm for it (the caller's system call said EAGAIN and it is
** about to wait): epoll reports every change of state and arming costs
** it nothing; poll reports an armed direction while it is ready, then
** disarms it. Registration (add, modify) arms nothing by itself.
*/
NS_API int ns_ready_rearm (int set, int fd, int events);
/* up to 'max' ready members into 'evs'; ms < 0 waits with no limit */
NS_API int ns_ready_wait (int set, nsReadyEvent *evs, int max, int ms);
NS_API const char *ns_ready_name (void);
/* close a set (close(2) works too, but a backend may keep its record
   of a set closed so until the number is reused) */
NS_API void ns_ready_close (int set);
/* what the caller asked for of the events reported (an error reported
   on a descriptor asked for one direction only: that direction) */
#define ns_readywithin(got, asked) \
  (((got) & (asked)) ? ((got) & (asked)) : (asked))
/* }====== */


/* {====== errors.c ====== */
/* errno-like codes of TLS failures, beyond every system errno; ns_fail
   turns them into nil, message, "tls" / "tls_verify" / "tls_eof" with
   the message the failing code left in ns_reason */
#define NS_ETLS        (1 << 20)
#define NS_ETLSVERIFY  (NS_ETLS + 1)
#define NS_ETLSEOF     (NS_ETLS + 2)
#define ns_istlserr(e) ((e) >= NS_ETLS && (e) <= NS_ETLSEOF)
/* the message of the failure about to be returned as NS_ETLS*, written
   by the failing code (tls.c); one buffer: Lua runs one call at a
   time, ns_fail reads it first */
#define NS_REASONSIZE  512
NS_API char ns_reason[NS_REASONSIZE];
/* push nil, message, code for errno 'err'; returns 3 */
NS_API int ns_fail (lua_State *L, int err);
NS_API int ns_closed (lua_State *L);
/* push nil, message, code for a getaddrinfo error (EAI_SYSTEM -> errno);
   the message names the host (or address) asked about, or the service
   when that was the trouble; either may be NULL */
NS_API int ns_gaifail (lua_State *L, int gai, int err, const char *host,
                       const char *serv);
/* ns_fail with the message "WHAT: strerror", e.g. "bind 127.0.0.1:80: ..." */
NS_API int ns_failabout (lua_State *L, int err, const char *what);
/* push nil, message, code with a custom message and code */
NS_API int ns_failmsg (lua_State *L, const char *msg, const char *code);
/* the failure values of 'r' (NS_TIMEOUT, NS_CLOSED, NS_ERRNO with
   'err', NS_PUSHED: already there); returns 3 */
NS_API int ns_pushresult (lua_State *L, nsResult r, int err);
NS_API void ns_errors_open (lua_State *L);
/* }====== */


/* {====== aux.c: argument checks, classes, descriptor box ====== */
/* optional timeout argument: nil -> -1; raises on negative or NaN */
NS_API double ns_opttimeout (lua_State *L, int idx);
/* data[i..j] of the string at idx, string.sub's rules for i and j */
NS_API const char *ns_checkrange (lua_State *L, int idx, size_t *len);
/* recv's and recvfrom's bufsize (idx) and flags (idx + 1) */
NS_API void ns_checkrecvargs (lua_State *L, int idx, size_t *size, int *flags);
/* a string without zero bytes ('what' names it in the error) */
NS_API const char *ns_checkname (lua_State *L, int idx, const char *what);
/* check a port argument: integer, numeric string or service name;
   the text getaddrinfo takes (numbers in 'buf', 8 bytes) */
NS_API const char *ns_checkport (lua_State *L, int idx, char *buf);
NS_API int ns_family (lua_State *L, int idx, int def);
NS_API int ns_socktype (lua_State *L, int idx, int def);
NS_API const char *ns_familyname (int family);
NS_API const char *ns_typename (int type);
/*
** A class: the metatable 'name' in the registry with 'meta', an
** __index table of 'methods' and a __metatable field (getmetatable
** gives the name: no script can reach or change the metatable). With
** 'upmeta' every function gets the metatable as upvalue 1. Leaves the
** metatable on the stack.
*/
NS_API void ns_newweak (lua_State *L);
NS_API void ns_atclose (lua_State *L, const char *key, lua_CFunction fn);
NS_API void ns_newclass (lua_State *L, const char *name, const luaL_Reg *meta,
                         const luaL_Reg *methods, int upmeta);
/* raise "bad argument #arg to 'fname' (formatted message)" */
NS_API int ns_argerror (lua_State *L, int arg, const char *fname,
                        const char *fmt, ...);
/* the socket class: mark the metatable on the stack as the sockets' */
NS_API void ns_marksocketclass (lua_State *L);
NS_API void ns_pushsocketclass (lua_State *L);
/* add methods to the socket class (module table at -1, socket.c open) */
NS_API void ns_addmethods (lua_State *L, const luaL_Reg *l);
/* the socket at idx (open or closed), or NULL / a raised type error */
NS_API nsSocket *ns_tosocket (lua_State *L, int idx);
NS_API nsSocket *ns_checksocket (lua_State *L, int idx);
/* an open socket for a configuration method; raises when closed */
NS_API nsSocket *ns_checkopen (lua_State *L, int idx);
/* the socket for a data-path method (recv, send, ...): NULL when
   closed (the method returns ns_closed after checking its arguments) */
NS_API nsSocket *ns_checkio (lua_State *L, int idx);
/* in a continuation (socket at 1): NULL when closed meanwhile (inline:
   every continuation of the data path starts with it) */
static inline nsSocket *ns_checkresumed (lua_State *L) {
  nsSocket *s = (nsSocket *)lua_touserdata(L, 1);
  return s->fd < 0 ? NULL : s;
}
/*
** A descriptor box: a userdata that owns one descriptor and closes it
** when collected, so a descriptor held across a wait or an error is
** never leaked. ns_newfdbox pushes it (fd -1); ns_fdbox_close is
** idempotent.
*/
NS_API int *ns_newfdbox (lua_State *L);
NS_API void ns_fdbox_close (int *box);
NS_API void ns_aux_open (lua_State *L);
/* the fork generation: 0 in the process that loaded netsock, one more in
   each child of a fork (pthread_atfork). An object that records it at
   birth (a socket, a poller) and finds it changed is a copy a
   fork gave this process, whose original the parent goes on using: it
   may close its own descriptor, and must not speak on the connection
   (close_notify), drain it, flush a buffer into it, or change an epoll
   set both processes share (docs/design.md, "After a fork") */
NS_API unsigned ns_forkgen (void);
#define ns_inherited(gen)  ((gen) != ns_forkgen())
/* }====== */


/* {====== buffer.c: the receive buffer ====== */
/* make room for at least 'need' more bytes after rtail; 0 on ENOMEM */
NS_API int ns_buf_reserve (nsSocket *s, size_t need);
/* release the buffer (its unread bytes too) */
NS_API void ns_buf_free (nsSocket *s);
/* release the buffer if it holds no unread byte */
#define ns_buf_trim(s)  \
  ((void)((s)->rbuf != NULL && (s)->rhead == (s)->rtail && (ns_buf_free(s), 1)))
/* drop 'n' unread bytes (an emptied buffer is released) */
NS_API void ns_buf_consume (nsSocket *s, size_t n);
/* push up to 'size' buffered bytes (consumed unless 'peek') */
NS_API void ns_buf_take (lua_State *L, nsSocket *s, size_t size, int peek);
/* the free buffers' cache goes with the state (lua_close) */
NS_API void ns_buf_open (lua_State *L);
/* }====== */


/* {====== addr.c: sockaddr in and out ====== */
/* a numeric host for 'family' (inet, inet6) without a lookup; 1 if so */
NS_API int ns_numericaddr (const char *host, int family, int port,
                           struct sockaddr_storage *ss, socklen_t *len);
/* whether 'host' is an IPv4 or IPv6 literal (no lookup needed) */
NS_API int ns_isnumerichost (const char *host);
/* the Unix-domain path at idx ("\0name": abstract); raises if bad */
NS_API void ns_unixaddr (lua_State *L, int idx, struct sockaddr_storage *ss,
                         socklen_t *len);
/* push host, port (2 values) or path (1 value); returns the count */
NS_API int ns_pushaddr (lua_State *L, const struct sockaddr *sa,
                        socklen_t len);
/* text of an address for tostring ("127.0.0.1:80", "[::1]:80", path) */
NS_API void ns_addrtext (const struct sockaddr *sa, socklen_t len,
                         char *buf, size_t size);
/* push the array of tables netsock.getaddrinfo returns for 'res' */
struct addrinfo;
NS_API void ns_pushaddrinfo (lua_State *L, const struct addrinfo *res);
/* push hostname, aliases, addresses of a hostent; returns 3 */
NS_API int ns_pushhostent (lua_State *L, const struct hostent *he);
/* netsock.inet_*, htons and friends (module table at -1) */
NS_API void ns_addr_open (lua_State *L);
/* }====== */


/* {====== The signal seam: signal_posix.c, src/win/signal_win.c ======
** What onsignal needs that differs between systems; no Lua. A caught
** signal calls the function given to ns_sig_install (in a signal handler
** or on another thread: only async-signal-safe work) and then wakes the
** descriptor of ns_sig_wakefd, which the task loop watches.
*/
#if !defined(NS_NSIG)
#define NS_NSIG  65   /* signal numbers are below this */
#endif
typedef struct nsSigName { const char *name; int num; } nsSigName;
typedef void (*nsSigArrived) (int sig);
/* the signals onsignal takes (0), or those a process may die of that it
   does not (1); a negative number: a signal of other systems, not this
   one (ns_sig_missing says so, after the name) */
NS_API const nsSigName *ns_sig_names (int fatal);
NS_API const char *ns_sig_missing (void);
/* the descriptor the loop watches, made if needed (again in a forked
   child), or -1 with errno; ns_sig_drain reads it empty */
NS_API int ns_sig_wakefd (void);
NS_API void ns_sig_drain (void);
/* our handler for 'sig', calling 'fn' (the previous disposition kept);
   whether ours is in place; the previous one back if ours is still in
   place: 0, -1 with errno */
NS_API int ns_sig_install (int sig, nsSigArrived fn);
NS_API int ns_sig_caught (int sig);
NS_API int ns_sig_restore (int sig);
/* kill(2): 0 or -1 with errno; getpid(2) */
NS_API int ns_sig_kill (long pid, int sig);
NS_API long ns_sig_getpid (void);
/* whether SIGINT has the system's default action (the lua5.4 prompt's
   Ctrl-C pending: ns_interrupted); 0 where no call returns EINTR */
NS_API int ns_sig_intdefault (void);
/* }====== */


/* {====== signal.c: signals for the loop, the prompt's Ctrl-C ====== */
/*
** Whether a call that got EINTR should return to Lua rather than retry:
** the lua5.4 prompt's Ctrl-C is pending (its hook raises "interrupted!"
** as soon as the call returns). Every other EINTR is retried, as is
** every one of a call made without a Lua state (L NULL).
*/
NS_API int ns_interrupted (lua_State *L);
#define ns_retry(L)  (errno == EINTR && !ns_interrupted(L))
NS_API void ns_signal_open (lua_State *L);
/* }====== */


/* {====== sched.c: the task loop's bookkeeping of waits ====== */
typedef struct nsSlot {  /* one task's wait (sched.c) */
  int fd;                /* descriptor waited on, -1: none */
  int events;            /* NS_READ, NS_WRITE: the lists it is in */
  int rn, rp, wn, wp;    /* next, previous in fd's reader/writer list */
  int pos;               /* index in the heap, 0: no entry */
  int nextfree;          /* free list */
  int inuse;
  int waited;            /* it filed a wait since its last passed deadline
                            (wait.c: such a wait yields once) */
  double dl;             /* deadline of the current wait, < 0: none */
  double hd;             /* the heap entry's deadline (a lower bound) */
  long long ord, hord;   /* set order of dl and of the entry */
  long long waitno;      /* number of its current wait on a descriptor */
} nsSlot;
typedef struct nsSched {
  nsSlot *slot;          /* slot[1 .. nslot-1] */
  int nslot, cap, freelist;
  int *fdw;              /* per fd: reader head, tail, writer head, tail */
  int fdcap;
  int *heap;             /* heap[1 .. hn]: slot ids on (hd, hord) */
  int hn, hcap;
  long long order, nwaits, heapops;
  int ntimers;           /* slots with a deadline now */
  int stop, scoped;      /* netsock.stop was called; timeout scopes exist */
} nsSched;

/*
** The task loop's object (loop.c makes it, wait.c files waits in it):
** one readiness set per state (core._newloop), kept in the registry at
** NS_LOOPREF. A socket is registered once: its first wait stamps it
** with a serial number (s->waiters) that reg[fd] remembers; hup[fd]:
** the loop saw fd hang up or fail (ns_readskip).
*/
#define NS_LOOP     "netsock.loop"      /* metatable */
#define NS_LOOPREF  "netsock.loopobj"   /* registry: the loop of this state */
#define NS_LOOPMAGIC  0x6c6f6f70

typedef struct nsLoop {
  int epfd;
  int serial;    /* last stamp handed out */
  int cap;       /* size of reg and hup */
  int *reg;      /* reg[fd]: stamp of the socket registered, 0 if none */
  unsigned char *hup;  /* hup[fd]: the loop saw fd hang up (or fail) */
  nsSched sched; /* the tasks' waits (sched.c); its map: user value 1 */
  int running;   /* the loop runs its tasks (l:running): waits are filed */
  int magic;     /* NS_LOOPMAGIC: ns_toloop's check, cheaper than the metatable's */
} nsLoop;
NS_API void ns_sched_init (nsSched *S);
NS_API void ns_sched_close (nsSched *S);
NS_API int ns_sched_file (nsSched *S, int id, int fd, int events,
                          double deadline);
NS_API void ns_sched_unwait (nsSched *S, int id);
NS_API double ns_sched_next (const nsSched *S);
NS_API int ns_sched_id (lua_State *L, nsSched *S, int map, int th, int make);
NS_API void ns_sched_drop (lua_State *L, nsSched *S, int map, int th);
NS_API int ns_sched_query (lua_State *L, nsSched *S, int map, int arg, int what);
NS_API lua_Integer ns_sched_wakefd (lua_State *L, nsSched *S, int map, int q,
                                    lua_Integer qtail, int fd, int events);
NS_API int ns_sched_resume (lua_State *L, lua_State *co);
NS_API int ns_sched_runq (lua_State *L, nsSched *S, int q, lua_Integer qhead,
                          lua_Integer last, int tasks, const void *filed);
NS_API lua_Integer ns_sched_fire (lua_State *L, nsSched *S, int map, int q,
                                  lua_Integer qtail, int parked, double now);
/* }====== */


/* {====== wait.c: clock, deadlines, how a call waits ====== */
NS_API double ns_monotime (void);
/* deadline for a timeout (seconds, < 0 none) starting now */
NS_API double ns_deadline (double timeout);
/* milliseconds until 'deadline' for poll(2), rounded up; -1 for none */
NS_API int ns_msuntil (double deadline);
/* whether L is a task of the loop */
NS_API int ns_intask (lua_State *L);
/*
** How a call on 's' makes its system call. Every continuation asks
** this before each try, with the direction it waits in ('events':
** NS_READ or NS_WRITE) and the call's deadline: it returns the flags
** to add to a call that takes MSG_* flags (MSG_DONTWAIT whenever the
** call must not sleep in the kernel, so that whatever O_NONBLOCK says
** on a shared descriptor the call cannot block a task; 0 when it
** sleeps in the kernel, with SO_RCVTIMEO/SO_SNDTIMEO bounding a timed
** call), and for calls that take no flags (accept, connect, sendfile:
** NS_NOFLAGS in 'events') it makes sure the descriptor is non-blocking
** when the call must not sleep.
*/
NS_API int ns_callflags_ (lua_State *L, nsSocket *s, int events,
                         double deadline);
/* the common case inline: a non-blocking descriptor of our own (the
   deadline is not even read then) */
#define ns_callflags(L,s,events,deadline) \
  (((s)->fdblock || (((events) & NS_NOFLAGS) && (s)->shared)) \
     ? ns_callflags_(L, s, events, deadline) : MSG_DONTWAIT)
/*
** The system call said EAGAIN. Returns NS_AGAIN when the call is to
** try again: the descriptor is ready, or it was just made blocking so
** that the retry sleeps in the kernel (outside any coroutine, no
** timeout or a timed call at its first wait: docs/design.md, "Kernel
** waits" and "Timed waits in the kernel"). Otherwise as ns_wait.
*/
NS_API nsResult ns_block (lua_State *L, nsSocket *s, int events,
                          double deadline, lua_KContext ctx, lua_KFunction k);
/*
** Wait until 's' is ready for 'events' or the deadline passes
** (deadline < 0: no deadline). Outside a task it blocks in poll(2)
** and returns NS_AGAIN (ready), NS_TIMEOUT or NS_ERRNO (errno set).
** Inside a task it suspends the task and, once resumed, calls
** 'k(L, LUA_YIELD, ctx)': it does not return.
*/
/*
** A read in a task that came back short (0 < got < asked, a stream, no
** flags) emptied the kernel's queue: until the loop's next poll, every
** byte or hang-up that comes is an edge still queued for it, so the
** next read may wait at once instead of making the recv(2) that would
** say EAGAIN (ns_readskip: -1 with errno EAGAIN then). wait.c.
*/
NS_API void ns_readshort_ (lua_State *L, nsSocket *s);
#define ns_readshort(L,s,got,asked) \
  ((void)((got) > 0 && (size_t)(got) < (size_t)(asked) && \
          (s)->type == SOCK_STREAM && (ns_readshort_(L, s), 1)))
NS_API int ns_readskip_ (lua_State *L, nsSocket *s, double deadline);
#define ns_readskip(L,s,deadline) \
  ((s)->rdshort != 0 && ns_readskip_(L, s, deadline))
NS_API nsResult ns_wait (lua_State *L, nsSocket *s, int events, double deadline,
                         lua_KContext ctx, lua_KFunction k);
/* wait on a bare descriptor (same contract; fd -1: a pure timer; a
   passed deadline yields once in a task, as ns_waitpassed with poll 0) */
NS_API nsResult ns_waitfd (lua_State *L, int fd, int events, double deadline,
                           lua_KContext ctx, lua_KFunction k);
/* as ns_waitfd; inside a task the close of any descriptor in the array
   at stack index 'watch' (> 0) wakes the task too (select) */
NS_API nsResult ns_waitfdwatch (lua_State *L, int fd, int events,
                                double deadline, int watch,
                                lua_KContext ctx, lua_KFunction k);
/* the kernel says EAGAIN though poll says ready: pause NS_PAUSE (or
   until the deadline), then NS_AGAIN; NS_TIMEOUT at the deadline ('poll':
   the call's own timeout is 0, as ns_waitpassed) */
NS_API nsResult ns_pause (lua_State *L, int poll, double deadline,
                          lua_KContext ctx, lua_KFunction k);
/* a call whose deadline had passed before it waited: in a task, yields
   once (resuming in k) unless 'poll' (its own timeout is 0) or it has
   waited since its last such call; else NS_TIMEOUT */
NS_API nsResult ns_waitpassed (lua_State *L, int poll, double deadline,
                               lua_KContext ctx, lua_KFunction k);
/* 's' is about to lose its descriptor: the loop forgets it, and the
   tasks waiting on it wake */
NS_API void ns_wakeclosed (lua_State *L, nsSocket *s);
/* wake the tasks waiting on 'fd' ('gone': the descriptor leaves netsock;
   else an object over it, a file, went) */
NS_API void ns_wakefd (lua_State *L, int fd, int gone);
/* the descriptor's blocking flag back to non-blocking (detach) */
NS_API void ns_nonblock (nsSocket *s);
NS_API void ns_wait_open (lua_State *L);
/* for loop.c: the loop object at idx or NULL; the token a task yields
   when its wait is filed; a poll of the loop (short reads before it
   make no guess: ns_readskip) */
NS_API nsLoop *ns_toloop (lua_State *L, int idx);
NS_API const void *ns_filedtoken (void);
NS_API void ns_polled (void);
/* }====== */


/* {====== loop.c: the task loop's object ====== */
/* core._newloop and the loop's methods (poll, runq, suspend, ...) */
NS_API void ns_loop_open (lua_State *L);
/* }====== */


/* {====== resolve.c: names ====== */
/*
** Read an address for socket family 'family' from the arguments at
** 'idx' (host, port) or (path). On success fills 'ss'/'len' and
** returns the number of arguments used; on a resolver failure pushes
** nil, message, code and returns -1. 'passive' selects bind semantics
** ("" and "*" mean any address).
*/
NS_API int ns_getaddr (lua_State *L, int idx, int family, int type,
                       int passive, struct sockaddr_storage *ss,
                       socklen_t *len);
/* as ns_getaddr for a destination of 's', through a small name cache */
NS_API int ns_getdest (lua_State *L, nsSocket *s, int idx,
                       struct sockaddr_storage *ss, socklen_t *len);
/*
** Name lookups that never block the loop, for connect and sendto.
** ns_lookupstart: inside a task, when the host at 'idx' is a name (and
** not in sendto's cache), start looking it up on the resolver's thread
** pool, push the job and return 1; otherwise push nothing and return
** 0: resolve at once as usual. Arguments are checked first.
** ns_lookupwait: wait for that job (at 'slot') until 'deadline'; NS_OK
** replaces the host and port at 'idx' by the numeric address and port
** found ('cache': remembered as ns_getdest remembers names), else
** NS_TIMEOUT, or NS_PUSHED with the resolver's failure pushed. Inside a
** task the wait yields and the loop resumes 'k'.
*/
NS_API int ns_lookupstart (lua_State *L, nsSocket *s, int idx);
NS_API nsResult ns_lookupwait (lua_State *L, nsSocket *s, int slot, int idx,
                               double deadline, int cache, lua_KContext ctx,
                               lua_KFunction k);
/* a datagram send's lookup step (sendto, sendmany: stack 1 socket,
   2 data, 3 host, 4 port, 5 deadline, 6 the lookup) */
NS_API nsResult ns_destlookup (lua_State *L, lua_KContext ctx,
                               lua_KFunction k, nsSocket **ps,
                               double *deadline);
NS_API void ns_resolve_open (lua_State *L);
/* }====== */


/* {====== select.c ====== */
/* descriptor 'fd' is about to be closed or detached: every poller that
   holds it lets go of it now (the count follows) */
NS_API void ns_poller_forget (lua_State *L, int fd);
NS_API void ns_select_open (lua_State *L);
/* }====== */


/* {====== io.c: the transport of a stream socket (plain or TLS) ====== */
/* whether the socket's bytes are the descriptor's own (no TLS) */
#define ns_io_plain(s)  ((s)->tls == NULL)
/* receive into s->rbuf (room for 'want' made first): bytes added, 0 at
   the end, -1 + errno */
NS_API ssize_t ns_io_fill (lua_State *L, nsSocket *s, size_t want,
                           double deadline);
/* send as much of data[0..len) as the transport takes now: the count,
   or -1 + errno (EAGAIN: wait for ns_io_events) */
NS_API ssize_t ns_io_send_ (lua_State *L, nsSocket *s, const char *data,
                            size_t len, int events, double deadline);
/* send what the transport holds: 0 once none is left, -1 + errno */
NS_API int ns_io_flush_ (lua_State *L, nsSocket *s);
NS_API int ns_io_unsent_ (nsSocket *s);
/* what a call of direction 'ev' that got EAGAIN waits for */
NS_API int ns_io_events_ (nsSocket *s, int ev);
/* the plain case inline, as ns_callflags's: one call less on every
   send of a round trip ('s' and 'L' are evaluated more than once) */
#define ns_io_send(L,s,data,len,events,deadline) \
  (ns_io_plain(s) \
     ? ns_sys_send((s)->fd, data, len, ns_callflags(L, s, events, deadline)) \
     : ns_io_send_(L, s, data, len, events, deadline))
#define ns_io_flush(L,s)  (ns_io_plain(s) ? 0 : ns_io_flush_(L, s))
#define ns_io_unsent(s)  (!ns_io_plain(s) && ns_io_unsent_(s))
#define ns_io_events(s,ev)  (ns_io_plain(s) ? (ev) : ns_io_events_(s, ev))
/* a send that never waits and calls no Lua (a __gc) */
NS_API ssize_t ns_io_sendnow (nsSocket *s, const char *data, size_t len);
/* the transport's state goes ('notify': close, else detach) */
NS_API void ns_io_release (lua_State *L, nsSocket *s, int notify);
/* s:connect(host, port) at 1..3 is about to start */
NS_API void ns_io_connecting (lua_State *L);
/* }====== */


/* {====== socket.c: lifetime, stream methods ====== */
NS_API int ns_close (lua_State *L, nsSocket *s);
/* push a new socket userdata, closed (fd -1, the caller makes the
   descriptor afterwards), with 'timeout' (the socket's own: the layer
   sets it from its object's) */
NS_API nsSocket *ns_newsocket (lua_State *L, int family, int type, int proto,
                               double timeout);
/* a receive of 'size' bytes got 0: whether that is the end of stream
   (stream, seqpacket whose peer is gone) rather than an empty datagram */
NS_API int ns_atend (nsSocket *s, size_t size);
/* s:recv's and s:recvfrom's start: arguments, deadline, then 'k' */
NS_API int ns_recvstart (lua_State *L, lua_KFunction k);
/* the continuation of s:send, and of s:sendto with an address */
NS_API int ns_send_k (lua_State *L, int status, lua_KContext ctx);
/* a Unix datagram socket whose receiver is full though poll says
   writable: a send to it waits with NS_NOPOLL (s:sendto, s:sendmany) */
NS_API int ns_receiverfull (nsSocket *s);
NS_API void ns_socket_open (lua_State *L);
/* }====== */


/* {====== tls.c: netsock.tls (tls.h has the data-path side) ====== */
/* core._tls and the TLS socket methods (module table at -1) */
NS_API void ns_tls_open (lua_State *L);
/* }====== */


/* {====== connect.c, file.c, dgram.c, sendfile.c, options.c ====== */
/* s:connect(host, port) without remembering the host for starttls
   (src/luasocket.c's objects have no starttls) */
NS_API int ns_connect_nohost (lua_State *L);
NS_API void ns_connect_open (lua_State *L);
NS_API void ns_file_open (lua_State *L);
NS_API void ns_dgram_open (lua_State *L);
NS_API void ns_mmsg_open (lua_State *L);
NS_API void ns_sendfile_open (lua_State *L);
NS_API void ns_options_open (lua_State *L);
/* }====== */


/* {====== lsutil.c: netsock.luasocket's functions that need no object ====== */
/* core._lsservice, _lsnumeric, _lsnumaddr, _lsnofile, _lsskip,
   _lsnewtry, _lsprotect (module table at -1; luasocket.c opens it) */
NS_API void ns_lsutil_open (lua_State *L);
/* the port of a numeric host and a port of digits, its family in
   *family (AF_INET, AF_INET6); -1 when either needs getaddrinfo */
NS_API int ns_lsnumaddr (const char *host, size_t hlen, const char *port,
                         size_t plen, int *family);
/* }====== */


/* {====== luasocket.c: netsock.luasocket's objects and their data path ====== */
NS_API void ns_luasocket_open (lua_State *L);
/* }====== */


/* {====== process.c: fork, waitpid, the CPU count; credentials,
   ids, umask, isatty ====== */
NS_API void ns_process_open (lua_State *L);
/* }====== */

#endif
