/*
** netsock.h: shared types, names and helpers of the netsock C core.
** Only luaopen_netsock_core is exported; everything declared here is
** internal (ns_ prefix, hidden visibility).
*/
#ifndef netsock_h
#define netsock_h

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "lua.h"
#include "lauxlib.h"

#if defined(__GNUC__)
#define NS_API __attribute__((visibility("hidden"))) extern
#else
#define NS_API extern
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

/* default longest line a file object buffers */
#if !defined(NS_LINELIMIT)
#define NS_LINELIMIT  (1024 * 1024)
#endif

/* how much read(n) or "a" asks of recv(2) at a time when unbuffered */
#if !defined(NS_CHUNK)
#define NS_CHUNK  (64 * 1024)
#endif

/* events a blocked call waits for */
#define NS_READ   1
#define NS_WRITE  2

/*
** A socket. 'fd' is -1 once closed. The receive buffer (rbuf) is
** allocated lazily and released whenever it runs empty before a wait,
** so listening and idle sockets carry none. Bytes rbuf[rhead..rtail)
** are received but not yet handed to Lua.
*/
typedef struct nsSocket {
  int fd;
  int family;           /* AF_INET, AF_INET6, AF_UNIX, ... */
  int type;             /* SOCK_STREAM, SOCK_DGRAM, ... */
  int protocol;
  double timeout;       /* seconds; < 0 blocks for ever, 0 never waits */
  int waiters;          /* tasks suspended on this socket right now */
  char *rbuf;           /* receive buffer, or NULL */
  size_t rcap;          /* its capacity */
  size_t rhead, rtail;  /* unread bytes are rbuf[rhead..rtail) */
  size_t chunk;         /* refill size (NS_BUFSIZE unless set) */
  int fdblock;          /* O_NONBLOCK is off now (socket.c: fast path) */
} nsSocket;

#define ns_pending(s)  ((s)->rtail - (s)->rhead)


/* {====== errors.c ====== */
/* push nil, message, code for errno 'err'; returns 3 */
NS_API int ns_fail (lua_State *L, int err);
NS_API int ns_timeout (lua_State *L);
NS_API int ns_closed (lua_State *L);
/* push nil, message, code for a getaddrinfo error (EAI_SYSTEM -> errno) */
NS_API int ns_gaifail (lua_State *L, int gai, int err);
/* push nil, message, code with a custom message and code */
NS_API int ns_failmsg (lua_State *L, const char *msg, const char *code);
/* the name of errno 'err' ("ECONNREFUSED"), or NULL */
NS_API const char *ns_errname (int err);
NS_API void ns_errors_open (lua_State *L);
/* }====== */


/* {====== poll.c: clock and waiting ====== */
NS_API double ns_monotime (void);
/*
** Wait until 's' is ready for 'events' or the deadline passes
** (deadline < 0: no deadline). Outside a task it blocks in poll(2)
** and returns 1 (ready), 0 (deadline passed) or -1 (errno set).
** Inside a task it suspends the task and, once resumed, calls
** 'k(L, LUA_YIELD, ctx)': it does not return. Returns 0 at once when
** the deadline has passed already.
*/
NS_API int ns_wait (lua_State *L, nsSocket *s, int events, double deadline,
                    lua_KContext ctx, lua_KFunction k);
/* wait on a bare descriptor (same contract, no socket to flag) */
NS_API int ns_waitfd (lua_State *L, int fd, int events, double deadline,
                      lua_KContext ctx, lua_KFunction k);
/* whether L is a task of the loop */
NS_API int ns_intask (lua_State *L);
/* deadline for a timeout (seconds, < 0 none) starting now */
NS_API double ns_deadline (double timeout);
NS_API void ns_poll_open (lua_State *L);
/* }====== */


/* {====== socket.c ====== */
NS_API nsSocket *ns_checksocket (lua_State *L, int idx);   /* open or closed */
NS_API nsSocket *ns_checkopen (lua_State *L, int idx);     /* open only */
/* make the descriptor non-blocking again if socket.c's fast path had
   cleared O_NONBLOCK (ns_checkopen does it for every other method) */
NS_API void ns_nonblock (nsSocket *s);
/* ns_checkopen for calls that may wait inside the kernel (recv, send,
   sendto, recvfrom, accept): blocking descriptor for no timeout outside
   coroutines (see socket.c, "Waiting inside the kernel") */
NS_API nsSocket *ns_checkfast (lua_State *L, int idx);
/* at EAGAIN after ns_checkfast: 1 = the descriptor is now blocking,
   retry the system call (it waits in the kernel); 0 = use ns_wait */
NS_API int ns_kernelwait (lua_State *L, nsSocket *s);
/* a new closed socket userdata on the stack */
NS_API nsSocket *ns_newsocket (lua_State *L, int family, int type, int proto);
NS_API double ns_gettimeout_default (lua_State *L);
/* optional timeout argument: nil -> -1; raises on negative or NaN */
NS_API double ns_opttimeout (lua_State *L, int idx);
NS_API int ns_close (lua_State *L, nsSocket *s);
NS_API void ns_socket_open (lua_State *L);
/* }====== */


/* {====== addr.c ====== */
/*
** Read an address for socket family 'family' from the arguments at
** 'idx' (host, port) or (path). On success fills 'sa'/'len' and
** returns the number of arguments used; on a resolver failure pushes
** nil, message, code and returns -1. 'passive' selects bind semantics
** ("" and "*" mean any address).
*/
NS_API int ns_getaddr (lua_State *L, int idx, int family, int type,
                       int passive, struct sockaddr_storage *sa,
                       socklen_t *len);
/* check a port argument: integer, numeric string or service name */
NS_API const char *ns_checkport (lua_State *L, int idx, char *buf);
/* push host, port (2 values) or path (1 value); returns the count */
NS_API int ns_pushaddr (lua_State *L, const struct sockaddr *sa,
                        socklen_t len);
/* text of an address for tostring ("127.0.0.1:80", "[::1]:80", path) */
NS_API void ns_addrtext (const struct sockaddr *sa, socklen_t len,
                         char *buf, size_t size);
NS_API int ns_family (lua_State *L, int idx, int def);
NS_API int ns_socktype (lua_State *L, int idx, int def);
NS_API const char *ns_familyname (int family);
NS_API const char *ns_typename (int type);
NS_API void ns_addr_open (lua_State *L);
/* }====== */


/* {====== buffer.c: receive buffer, file objects ====== */
/* make room for at least 'need' more bytes after rtail; 0 on ENOMEM */
NS_API int ns_buf_reserve (nsSocket *s, size_t need);
/* release the buffer if it holds no unread byte */
NS_API void ns_buf_trim (nsSocket *s);
NS_API void ns_buf_free (nsSocket *s);
NS_API void ns_buffer_open (lua_State *L);
/* }====== */


/* {====== options.c ====== */
NS_API void ns_options_open (lua_State *L);
/* }====== */

/* {====== dgram.c: datagrams, sendto/recvfrom, sendfile ====== */
NS_API void ns_dgram_open (lua_State *L);
/* }====== */


/* {====== resolve.c: names, services, inet_* and byte order ====== */
NS_API void ns_resolve_open (lua_State *L);
/* }====== */


/* helpers used across files */
#define ns_setfuncs(L,l)  luaL_setfuncs(L, l, 0)

#endif
