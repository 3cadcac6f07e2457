/*
** socket.c: the socket object: lifetime, bind/listen/accept/connect,
** send/recv, timeouts, shutdown, tostring.
**
** Every descriptor is created non-blocking and close-on-exec. A call
** that cannot complete waits in ns_wait (poll.c) until its deadline;
** each blocking method is written as a continuation (lua_KFunction) so
** that inside a task the wait yields and the call resumes where the
** continuation starts: at the top, trying again. The state that must
** survive a wait (the deadline, bytes sent so far) lives on the Lua
** stack at fixed slots, never in C locals.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "netsock.h"

/* recv(2) into a buffer on the C stack up to this size */
#define STACKBUF  (64 * 1024)


/* {====== Lifetime ====== */

/*
** The socket metatable holds, at integer key 1, a light userdata with
** the address of 'mtkey', a value no other code can make: checking it
** takes an array read, where luaL_checkudata looks the metatable up in
** the registry by name (interning "netsock.socket", strcmp included) on
** every call, ~365 instructions, a fifth of a recv. The registry also
** keeps the metatable under &mtkey, for ns_newsocket.
*/
static char mtkey;


nsSocket *ns_checksocket (lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawgeti(L, -1, 1) == LUA_TLIGHTUSERDATA &&
               lua_touserdata(L, -1) == &mtkey;
    lua_pop(L, 2);
    if (same) return (nsSocket *)p;
  }
  return (nsSocket *)luaL_checkudata(L, idx, NS_SOCKET);  /* raises */
}


/*
** Waiting inside the kernel. A socket without a timeout, used outside
** any coroutine, is what a C program has as a blocking descriptor: recv
** sleeps in the kernel until data comes. With O_NONBLOCK the same wait
** costs a recv that fails with EAGAIN, then poll(2), then the recv
** again: three system calls where C makes one, ~10% of a loopback
** round trip (docs/performance.md, "Ping-pong"). So recv, send,
** sendall and accept (and sendto, recvfrom: ns_checkfast), called from
** the main thread with no timeout, clear O_NONBLOCK at their first
** EAGAIN (ns_kernelwait; kept while the socket is used that way) and
** retry: the system call then blocks; EINTR is retried as before.
** Every other use sets O_NONBLOCK back before its system call: any
** method through ns_checkopen (makefile, getsockname, settimeout, ...),
** and these four when called with a timeout or from a coroutine (a
** task must never block the loop). detach hands the descriptor out
** non-blocking.
*/
static void setfdblock (nsSocket *s, int block) {
  int flags = fcntl(s->fd, F_GETFL);
  if (flags < 0) return;
  flags = block ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (fcntl(s->fd, F_SETFL, flags) == 0)
    s->fdblock = block;
}


void ns_nonblock (nsSocket *s) {
  if (s->fdblock && s->fd >= 0)
    setfdblock(s, 0);
}


nsSocket *ns_checkopen (lua_State *L, int idx) {
  nsSocket *s = ns_checksocket(L, idx);
  if (s->fd < 0)
    luaL_error(L, "attempt to use a closed socket");
  if (s->fdblock)
    setfdblock(s, 0);
  return s;
}


/*
** recv, send, sendall, accept (and dgram.c's sendto, recvfrom): an open
** socket at 'idx', non-blocking again if the call must not wait in the
** kernel (a timeout, or a coroutine). The switch to blocking is lazy
** (ns_kernelwait, at the first EAGAIN): a call that never has to wait,
** as recv on a new connection whose bytes are there, costs no fcntl.
*/
nsSocket *ns_checkfast (lua_State *L, int idx) {
  nsSocket *s = ns_checksocket(L, idx);
  if (s->fd < 0)
    luaL_error(L, "attempt to use a closed socket");
  if (s->fdblock && (s->timeout >= 0 || lua_isyieldable(L)))
    setfdblock(s, 0);
  return s;
}


/*
** At EAGAIN in a call that took its socket with ns_checkfast: 1 when
** the call may wait inside the kernel (no timeout, outside coroutines)
** and the descriptor has just been made blocking, so the caller retries
** the system call, which now sleeps until it can go on; 0 when the
** caller waits in ns_wait as usual (or the descriptor was blocking
** already: SO_RCVTIMEO, MSG_DONTWAIT).
*/
int ns_kernelwait (lua_State *L, nsSocket *s) {
  if (s->fdblock || s->timeout >= 0 || lua_isyieldable(L))
    return 0;
  setfdblock(s, 1);
  return s->fdblock;
}


double ns_gettimeout_default (lua_State *L) {
  double t;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_DEFTMO);
  t = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1.0;
  lua_pop(L, 1);
  return t;
}


/* a timeout argument: nil (or none) means for ever, math.huge too */
double ns_opttimeout (lua_State *L, int idx) {
  double t;
  if (lua_isnoneornil(L, idx)) return -1.0;
  t = luaL_checknumber(L, idx);
  luaL_argcheck(L, !isnan(t), idx, "timeout is NaN");
  luaL_argcheck(L, t >= 0, idx, "negative timeout");
  return isinf(t) ? -1.0 : t;
}


/*
** Push a new socket userdata, closed (fd -1), with the default timeout.
** The caller makes the descriptor afterwards: a memory error here
** leaves nothing to clean up.
*/
nsSocket *ns_newsocket (lua_State *L, int family, int type, int proto) {
  nsSocket *s = (nsSocket *)lua_newuserdatauv(L, sizeof(nsSocket), 0);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->family = family;
  s->type = type;
  s->protocol = proto;
  s->chunk = NS_BUFSIZE;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &mtkey);
  lua_setmetatable(L, -2);
  s->timeout = ns_gettimeout_default(L);
  return s;
}


/*
** Close the descriptor: fd becomes -1 first; close(2) is not retried
** on EINTR (Linux has released the descriptor already). A task waiting
** on it is woken by the loop's hook and finds the socket closed.
*/
int ns_close (lua_State *L, nsSocket *s) {
  int fd = s->fd;
  if (fd < 0) return 0;
  if (s->waiters) {
    s->waiters = 0;
    if (lua_getfield(L, LUA_REGISTRYINDEX, NS_ONCLOSE) == LUA_TFUNCTION) {
      lua_pushinteger(L, fd);
      lua_call(L, 1, 0);
    }
    else lua_pop(L, 1);
  }
  s->fd = -1;
  s->fdblock = 0;
  ns_buf_free(s);
  return close(fd);
}


static int sock_close (lua_State *L) {
  nsSocket *s = ns_checksocket(L, 1);
  ns_close(L, s);
  lua_pushboolean(L, 1);
  return 1;
}


/* __gc: no Lua call may run here, so no hook; the loop holds a
   reference to any socket a task waits on, so none is collected then */
static int sock_gc (lua_State *L) {
  nsSocket *s = ns_checksocket(L, 1);
  s->waiters = 0;
  ns_close(L, s);
  return 0;
}


/* __close: as close, and a task waiting on the socket is woken */
static int sock_closemeta (lua_State *L) {
  ns_close(L, ns_checksocket(L, 1));
  return 0;
}


/* netsock.socket([family [, type [, proto]]]) */
static int sock_new (lua_State *L) {
  int family = ns_family(L, 1, AF_INET);
  int type = ns_socktype(L, 2, SOCK_STREAM);
  lua_Integer proto = luaL_optinteger(L, 3, 0);
  nsSocket *s;
  luaL_argcheck(L, 0 <= proto && proto <= INT_MAX, 3, "protocol out of range");
  s = ns_newsocket(L, family, type, (int)proto);
  s->fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)proto);
  if (s->fd < 0)
    return ns_fail(L, errno);
  return 1;
}


/* netsock.socketpair([family [, type [, proto]]]): two connected sockets */
static int sock_pair (lua_State *L) {
  int family = ns_family(L, 1, AF_UNIX);
  int type = ns_socktype(L, 2, SOCK_STREAM);
  lua_Integer proto = luaL_optinteger(L, 3, 0);
  nsSocket *a, *b;
  int fds[2];
  luaL_argcheck(L, 0 <= proto && proto <= INT_MAX, 3, "protocol out of range");
  a = ns_newsocket(L, family, type, (int)proto);
  b = ns_newsocket(L, family, type, (int)proto);
  if (socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)proto,
                 fds) < 0)
    return ns_fail(L, errno);
  a->fd = fds[0];
  b->fd = fds[1];
  return 2;
}


/*
** netsock.fromfd(fd, family, type [, proto]): a socket on a duplicate
** of fd. O_NONBLOCK is set on the shared open file description, as
** every netsock descriptor is non-blocking.
*/
static int sock_fromfd (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  int family = ns_family(L, 2, AF_INET);
  int type = ns_socktype(L, 3, SOCK_STREAM);
  lua_Integer proto = luaL_optinteger(L, 4, 0);
  nsSocket *s;
  int flags;
  luaL_argcheck(L, 0 <= fd && fd <= INT_MAX, 1, "descriptor out of range");
  luaL_argcheck(L, 0 <= proto && proto <= INT_MAX, 4, "protocol out of range");
  s = ns_newsocket(L, family, type, (int)proto);
  s->fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (s->fd < 0)
    return ns_fail(L, errno);
  flags = fcntl(s->fd, F_GETFL);
  if (flags < 0 || fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int err = errno;
    ns_close(L, s);
    return ns_fail(L, err);
  }
  return 1;
}


static int sock_fileno (lua_State *L) {
  lua_pushinteger(L, ns_checksocket(L, 1)->fd);
  return 1;
}


/* the descriptor, which the socket no longer owns (buffered bytes go) */
static int sock_detach (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  lua_pushinteger(L, s->fd);
  s->fd = -1;
  ns_buf_free(s);
  return 1;
}


static int sock_tostring (lua_State *L) {
  nsSocket *s = ns_checksocket(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char local[128], peer[128];
  if (s->fd < 0) {
    lua_pushliteral(L, "netsock.socket (closed)");
    return 1;
  }
  if (getsockname(s->fd, (struct sockaddr *)&ss, &len) == 0)
    ns_addrtext((struct sockaddr *)&ss, len, local, sizeof local);
  else
    strcpy(local, "?");
  len = sizeof ss;
  if (getpeername(s->fd, (struct sockaddr *)&ss, &len) == 0)
    ns_addrtext((struct sockaddr *)&ss, len, peer, sizeof peer);
  else
    peer[0] = '\0';
  lua_pushfstring(L, "netsock.socket (fd %d, %s %s, %s%s%s)", s->fd,
                  ns_familyname(s->family), ns_typename(s->type), local,
                  peer[0] ? " -> " : "", peer);
  return 1;
}

/* }====== */


/* {====== Addresses and connections ====== */

static int sock_bind (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len;
  if (ns_getaddr(L, 2, s->family, s->type, 1, &ss, &len) < 0)
    return 3;
  if (bind(s->fd, (struct sockaddr *)&ss, len) < 0)
    return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


static int sock_listen (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  lua_Integer backlog = luaL_optinteger(L, 2, SOMAXCONN);
  luaL_argcheck(L, 0 <= backlog, 2, "negative backlog");
  if (backlog > INT_MAX) backlog = INT_MAX;  /* the kernel caps it anyway */
  if (listen(s->fd, (int)backlog) < 0)
    return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


/*
** In a continuation, a socket that another task closed while this one
** waited ends the call with nil, "closed", "closed"; on a first call
** it is misuse and raises.
*/
nsSocket *ns_checkresumed (lua_State *L, int status) {
  /* slot 1 was checked by the method that started the call */
  nsSocket *s = (nsSocket *)lua_touserdata(L, 1);
  if (s->fd < 0 && status == LUA_OK)
    luaL_error(L, "attempt to use a closed socket");
  return s->fd < 0 ? NULL : s;
}


/* common end of a wait: 0 timeout, -1 error; 1 means try again */
int ns_waitresult (lua_State *L, int r) {
  if (r == 0) return ns_timeout(L);
  return ns_fail(L, errno);
}


/* stack: 1 socket, 2 deadline */
static int accept_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L, status), *c;
  struct sockaddr_storage ss;
  socklen_t len;
  int fd, r;
  if (s == NULL) return ns_closed(L);
  for (;;) {
    lua_settop(L, 2);
    c = ns_newsocket(L, s->family, s->type, s->protocol);
    len = sizeof ss;
    fd = accept4(s->fd, (struct sockaddr *)&ss, &len,
                 SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      c->fd = fd;
      return 1 + ns_pushaddr(L, (struct sockaddr *)&ss, len);
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;  /* a client that left before we took it: next one */
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    lua_settop(L, 2);
    if (ns_kernelwait(L, s)) continue;  /* retry, blocking */
    r = ns_wait(L, s, NS_READ, lua_tonumber(L, 2), ctx, accept_k);
    if (r <= 0) return ns_waitresult(L, r);
  }
}


static int sock_accept (lua_State *L) {
  nsSocket *s = ns_checkfast(L, 1);
  lua_settop(L, 1);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return accept_k(L, LUA_OK, 0);
}


/*
** The end of a non-blocking connect: wait until writable, then read
** the outcome with SO_ERROR. Returns 0 connected, an errno, or -1 for
** a timeout, -2 for a socket closed meanwhile.
** stack: 1 socket, ..., 'slot' deadline
*/
static int connect_wait (lua_State *L, int status, lua_KContext ctx,
                         lua_KFunction k) {
  nsSocket *s = ns_checkresumed(L, status);
  int err = 0, r;
  socklen_t len = sizeof err;
  if (s == NULL) return -2;
  for (;;) {
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
      return errno;
    if (err != 0) return err;
    /* writable and no error means connected; check without waiting */
    {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) == 0)
        return 0;
      if (errno != ENOTCONN) return errno;
    }
    r = ns_wait(L, s, NS_WRITE, lua_tonumber(L, (int)ctx), ctx, k);
    if (r == 0) return -1;
    if (r < 0) return errno;
  }
}


/* connect to the address at stack 2..; ctx is the deadline's slot */
static int do_connect (lua_State *L, nsSocket *s, int *slot) {
  struct sockaddr_storage ss;
  socklen_t len;
  int n = ns_getaddr(L, 2, s->family, s->type, 0, &ss, &len), r;
  if (n < 0) return -3;  /* resolver failure pushed */
  *slot = 2 + n;
  lua_settop(L, 1 + n);
  lua_pushnumber(L, ns_deadline(s->timeout));
  /* EINTR: try again, as libuv does; a connect the signal interrupted
     goes on in the kernel and the retry says EALREADY (in progress).
     Waiting without the retry could wait on a connect never started:
     an unconnected socket polls writable at once, with no error. */
  do r = connect(s->fd, (struct sockaddr *)&ss, len);
  while (r < 0 && errno == EINTR);
  if (r == 0) return 0;
  if (errno != EINPROGRESS && errno != EALREADY)
    return errno;
  if (s->timeout == 0) return EINPROGRESS;
  return 1;  /* in progress: wait */
}


static int connect_k (lua_State *L, int status, lua_KContext ctx) {
  int r = connect_wait(L, status, ctx, connect_k);
  if (r == 0) { lua_pushboolean(L, 1); return 1; }
  if (r == -1) return ns_timeout(L);
  if (r == -2) return ns_closed(L);
  return ns_fail(L, r);
}


static int sock_connect (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  int slot = 0, r = do_connect(L, s, &slot);
  if (r == -3) return 3;
  if (r == 1) return connect_k(L, LUA_OK, slot);
  if (r == 0) { lua_pushboolean(L, 1); return 1; }
  return ns_fail(L, r);
}


/* connect_ex: 0, or the errno number (EAGAIN when the timeout ran out) */
static int connect_ex_k (lua_State *L, int status, lua_KContext ctx) {
  int r = connect_wait(L, status, ctx, connect_ex_k);
  if (r == -1) r = EAGAIN;
  else if (r == -2) r = EBADF;
  lua_pushinteger(L, r);
  return 1;
}


static int sock_connect_ex (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  int slot = 0, r = do_connect(L, s, &slot);
  if (r == -3) return 3;
  if (r == 1) return connect_ex_k(L, LUA_OK, slot);
  lua_pushinteger(L, r);
  return 1;
}


static int sock_getsockname (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
    return ns_fail(L, errno);
  return ns_pushaddr(L, (struct sockaddr *)&ss, len);
}


static int sock_getpeername (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0)
    return ns_fail(L, errno);
  return ns_pushaddr(L, (struct sockaddr *)&ss, len);
}


static int sock_shutdown (lua_State *L) {
  static const char *const hows[] = {"r", "w", "rw", NULL};
  static const int howv[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
  nsSocket *s = ns_checkopen(L, 1);
  int how;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer h = luaL_checkinteger(L, 2);
    luaL_argcheck(L, h == SHUT_RD || h == SHUT_WR || h == SHUT_RDWR, 2,
                  "invalid shutdown mode");
    how = (int)h;
  }
  else how = howv[luaL_checkoption(L, 2, "rw", hows)];
  if (shutdown(s->fd, how) < 0)
    return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* }====== */


/* {====== Sending ====== */

/*
** The bytes data[i..j] of the string at 'idx' with Lua's string.sub
** rules for i and j (negative counts from the end).
*/
static const char *checkrange (lua_State *L, int idx, size_t *len) {
  size_t l;
  const char *data = luaL_checklstring(L, idx, &l);
  lua_Integer i = luaL_optinteger(L, idx + 1, 1);
  lua_Integer j = luaL_optinteger(L, idx + 2, -1);
  if (i < 0) i = ((lua_Integer)l + i < 0) ? 1 : (lua_Integer)l + i + 1;
  else if (i == 0) i = 1;
  if (j < 0) j = (lua_Integer)l + j + 1;
  else if (j > (lua_Integer)l) j = (lua_Integer)l;
  if (i > j) { *len = 0; return data; }
  *len = (size_t)(j - i + 1);
  return data + i - 1;
}


/* stack: 1 socket, 2 data, 3 i, 4 j, 5 deadline */
static int send_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L, status);
  size_t len;
  const char *data;
  ssize_t n;
  int r;
  lua_settop(L, 5);
  if (s == NULL) return ns_closed(L);
  data = checkrange(L, 2, &len);
  for (;;) {
    n = send(s->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
      lua_pushinteger(L, n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    if (ns_kernelwait(L, s)) continue;  /* retry, blocking */
    r = ns_wait(L, s, NS_WRITE, lua_tonumber(L, 5), ctx, send_k);
    if (r <= 0) return ns_waitresult(L, r);
  }
}


static int sock_send (lua_State *L) {
  nsSocket *s = ns_checkfast(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 4);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return send_k(L, LUA_OK, 0);
}


/* stack: 1 socket, 2 data, 3 i, 4 j, 5 deadline, 6 bytes sent so far */
static int sendall_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L, status);
  size_t len, sent = (size_t)lua_tointeger(L, 6);
  const char *data = checkrange(L, 2, &len);
  ssize_t n;
  int r, nret;
  lua_settop(L, 6);
  if (s == NULL) { nret = ns_closed(L); goto fail; }
  while (sent < len) {
    n = send(s->fd, data + sent, len - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += (size_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      nret = ns_fail(L, errno);
      goto fail;
    }
    if (ns_kernelwait(L, s)) continue;  /* retry, blocking */
    lua_pushinteger(L, (lua_Integer)sent);
    lua_replace(L, 6);
    r = ns_wait(L, s, NS_WRITE, lua_tonumber(L, 5), ctx, sendall_k);
    if (r <= 0) { nret = ns_waitresult(L, r); goto fail; }
  }
  lua_pushboolean(L, 1);
  return 1;
fail:
  lua_pushinteger(L, (lua_Integer)sent);
  return nret + 1;
}


static int sock_sendall (lua_State *L) {
  nsSocket *s = ns_checkfast(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 4);
  lua_pushnumber(L, ns_deadline(s->timeout));
  lua_pushinteger(L, 0);
  return sendall_k(L, LUA_OK, 0);
}

/* }====== */


/* {====== Receiving ====== */

/*
** recv(2) at most 'size' bytes into 'p'. Returns the count (0 at end of
** a stream), or -1 with errno set (never EINTR).
*/
static ssize_t recv_some (nsSocket *s, char *p, size_t size, int flags) {
  ssize_t n;
  do n = recv(s->fd, p, size, flags); while (n < 0 && errno == EINTR);
  return n;
}


/* stack: 1 socket, 2 bufsize, 3 flags, 4 deadline */
static int recv_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L, status);
  size_t size = (size_t)lua_tointeger(L, 2);
  int flags = (int)lua_tointeger(L, 3);
  char stackbuf[STACKBUF];
  char *p;
  luaL_Buffer b;
  ssize_t n;
  int r;
  lua_settop(L, 4);
  if (s == NULL) return ns_closed(L);
  if (ns_pending(s) > 0) {  /* bytes a file object read ahead come first */
    size_t m = ns_pending(s) < size ? ns_pending(s) : size;
    lua_pushlstring(L, s->rbuf + s->rhead, m);
    if (!(flags & MSG_PEEK)) {
      s->rhead += m;
      if (s->rhead == s->rtail) s->rhead = s->rtail = 0;
    }
    return 1;
  }
  if (size <= STACKBUF) p = stackbuf;
  else p = luaL_buffinitsize(L, &b, size);
  for (;;) {
    n = recv_some(s, p, size, flags);
    if ((size_t)n > size && n > 0)
      n = (ssize_t)size;  /* MSG_TRUNC reports the datagram's full length */
    if (n > 0 || (n == 0 && (s->type != SOCK_STREAM || size == 0))) {
      if (p == stackbuf) lua_pushlstring(L, p, (size_t)n);
      else luaL_pushresultsize(&b, (size_t)n);
      return 1;
    }
    if (n == 0) return ns_closed(L);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    if (ns_kernelwait(L, s)) continue;  /* retry, blocking */
    r = ns_wait(L, s, NS_READ, lua_tonumber(L, 4), ctx, recv_k);
    if (r <= 0) return ns_waitresult(L, r);
  }
}


static int sock_recv (lua_State *L) {
  nsSocket *s = ns_checkfast(L, 1);
  lua_Integer size = luaL_checkinteger(L, 2);
  lua_Integer flags = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, size >= 0, 2, "negative buffer size");
  luaL_argcheck(L, size <= INT_MAX, 2, "buffer size too large");
  luaL_argcheck(L, 0 <= flags && flags <= INT_MAX, 3, "invalid flags");
  lua_settop(L, 3);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return recv_k(L, LUA_OK, 0);
}


/* s:pending(): bytes received and buffered but not yet read */
static int sock_pending (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  lua_pushinteger(L, (lua_Integer)ns_pending(s));
  return 1;
}

/* }====== */


/* {====== Timeouts ====== */

static int sock_settimeout (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  s->timeout = ns_opttimeout(L, 2);
  lua_pushboolean(L, 1);
  return 1;
}


static int sock_gettimeout (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  if (s->timeout < 0) lua_pushnil(L);
  else lua_pushnumber(L, s->timeout);
  return 1;
}


/* as in Python: setblocking(false) is settimeout(0), true is settimeout(nil) */
static int sock_setblocking (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  luaL_checkany(L, 2);
  s->timeout = lua_toboolean(L, 2) ? -1.0 : 0.0;
  lua_pushboolean(L, 1);
  return 1;
}


static int sock_getblocking (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  lua_pushboolean(L, s->timeout != 0);
  return 1;
}


static int sock_setdefaulttimeout (lua_State *L) {
  double t = ns_opttimeout(L, 1);
  if (t < 0) lua_pushnil(L);
  else lua_pushnumber(L, t);
  lua_setfield(L, LUA_REGISTRYINDEX, NS_DEFTMO);
  lua_pushboolean(L, 1);
  return 1;
}


static int sock_getdefaulttimeout (lua_State *L) {
  double t = ns_gettimeout_default(L);
  if (t < 0) lua_pushnil(L);
  else lua_pushnumber(L, t);
  return 1;
}

/* }====== */


static const luaL_Reg methods[] = {
  {"bind", sock_bind},
  {"listen", sock_listen},
  {"accept", sock_accept},
  {"connect", sock_connect},
  {"connect_ex", sock_connect_ex},
  {"send", sock_send},
  {"sendall", sock_sendall},
  {"recv", sock_recv},
  {"pending", sock_pending},
  {"shutdown", sock_shutdown},
  {"close", sock_close},
  {"fileno", sock_fileno},
  {"detach", sock_detach},
  {"getsockname", sock_getsockname},
  {"getpeername", sock_getpeername},
  {"settimeout", sock_settimeout},
  {"gettimeout", sock_gettimeout},
  {"setblocking", sock_setblocking},
  {"getblocking", sock_getblocking},
  {NULL, NULL}
};


static const luaL_Reg metamethods[] = {
  {"__index", NULL},  /* placeholder */
  {"__gc", sock_gc},
  {"__close", sock_closemeta},
  {"__tostring", sock_tostring},
  {NULL, NULL}
};


static const luaL_Reg funcs[] = {
  {"socket", sock_new},
  {"socketpair", sock_pair},
  {"fromfd", sock_fromfd},
  {"setdefaulttimeout", sock_setdefaulttimeout},
  {"getdefaulttimeout", sock_getdefaulttimeout},
  {NULL, NULL}
};


/*
** The metatable NS_SOCKET, its method table as __index, and the
** method table also as netsock.core._socketmethods so that other C
** files and the Lua facade can add methods.
*/
void ns_socket_open (lua_State *L) {
  luaL_newmetatable(L, NS_SOCKET);
  lua_pushlightuserdata(L, &mtkey);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &mtkey);
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlibtable(L, methods);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_setfield(L, -3, "_socketmethods");  /* on the module table */
  lua_pop(L, 1);
  ns_setfuncs(L, funcs);
}
