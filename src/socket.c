/*
** socket.c: the socket object: lifetime, bind/listen/accept,
** send/recv over the stream transport (io.c), timeouts, shutdown,
** tostring. connect is connect.c's; the receive buffer buffer.c's.
**
** Every descriptor is created non-blocking and close-on-exec. A call
** that cannot complete asks wait.c how to wait (ns_callflags before
** each try, ns_block at EAGAIN) until its deadline;
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


/* {====== Lifetime ====== */

static double gettimeout_default (lua_State *L) {
  double t;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_DEFTMO);
  t = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1.0;
  lua_pop(L, 1);
  return t;
}


/*
** Push a new socket userdata, closed (fd -1), with 'timeout' (newsocket:
** the default timeout). The caller makes the descriptor afterwards: a
** memory error here leaves nothing to clean up.
*/
nsSocket *ns_newsocket (lua_State *L, int family, int type, int proto,
                        double timeout) {
  nsSocket *s = (nsSocket *)lua_newuserdatauv(L, sizeof(nsSocket), 0);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->family = family;
  s->type = type;
  s->protocol = proto;
  s->chunk = NS_BUFSIZE;
  s->gen = ns_forkgen();
  ns_pushsocketclass(L);
  lua_setmetatable(L, -2);
  s->timeout = timeout;
  return s;
}

static nsSocket *newsocket (lua_State *L, int family, int type, int proto) {
  return ns_newsocket(L, family, type, proto, gettimeout_default(L));
}


/*
** The descriptor leaves netsock's hands (close, detach): while its
** number still names it, the loop's epoll set and every poller let go
** of it, and the tasks waiting on it wake (they find the socket
** closed). __gc comes here too, without the wake (see sock_gc).
*/
static void forget (lua_State *L, nsSocket *s) {
  ns_wakeclosed(L, s);
  ns_poller_forget(L, s->fd);
}


/*
** Close the descriptor: fd becomes -1 first; close(2) is not retried
** on EINTR (Linux has released the descriptor already).
*/
int ns_close (lua_State *L, nsSocket *s) {
  int fd = s->fd;
  if (fd < 0) return 0;
  forget(L, s);
  /* TLS: close_notify, never waits; but not on a copy a fork gave us:
     the session is the parent's, and it goes on speaking on it */
  ns_io_release(L, s, !ns_inherited(s->gen));
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
  s = newsocket(L, family, type, (int)proto);
  s->fd = ns_sys_socket(family, type, (int)proto);
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
  a = newsocket(L, family, type, (int)proto);
  b = newsocket(L, family, type, (int)proto);
  if (ns_sys_socketpair(family, type, (int)proto, fds) < 0)
    return ns_fail(L, errno);
  a->fd = fds[0];
  b->fd = fds[1];
  return 2;
}


/*
** netsock.fromfd(fd, family, type [, proto]): a socket on a duplicate
** of fd. O_NONBLOCK is set on the shared open file description, as
** every netsock descriptor is non-blocking; since another holder may
** clear it again, calls on this socket never rely on it (wait.c).
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
  s = newsocket(L, family, type, (int)proto);
  s->fd = ns_sys_dupsocket((int)fd);
  if (s->fd < 0)
    return ns_fail(L, errno);
  s->shared = 1;  /* never made blocking: the other holders share flags */
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
  forget(L, s);    /* its waiters wake; the loop and pollers let go */
  ns_nonblock(s);  /* handed out as every netsock descriptor is */
  ns_io_release(L, s, 0);  /* TLS: the session goes, silently */
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




/* {====== Addresses and connections (connect: connect.c) ====== */

static int sock_bind (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len;
  if (ns_getaddr(L, 2, s->family, s->type, 1, &ss, &len) < 0)
    return 3;
  if (bind(s->fd, (struct sockaddr *)&ss, len) < 0) {
    int err = errno;
    char what[sizeof(struct sockaddr_un) + 16] = "bind ";
    ns_addrtext((struct sockaddr *)&ss, len, what + 5, sizeof what - 5);
    return ns_failabout(L, err, what);
  }
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


/* stack: 1 socket, 2 deadline */
static int accept_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L), *c;
  struct sockaddr_storage ss;
  socklen_t len;
  nsResult r;
  int fd;
  (void)status;
  if (s == NULL) return ns_closed(L);
  for (;;) {
    lua_settop(L, 2);
    c = newsocket(L, s->family, s->type, s->protocol);
    len = sizeof ss;
    ns_callflags(L, s, NS_READ | NS_NOFLAGS, lua_tonumber(L, 2));
    fd = ns_sys_accept(s->fd, (struct sockaddr *)&ss, &len);
    if (fd >= 0) {
      c->fd = fd;
      return 1 + ns_pushaddr(L, (struct sockaddr *)&ss, len);
    }
    if (errno == ECONNABORTED || ns_retry(L))
      continue;  /* a client that left before we took it: next one */
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    lua_settop(L, 2);
    r = ns_block(L, s, NS_READ, lua_tonumber(L, 2), ctx, accept_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
}


static int sock_accept (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  if (s == NULL) return ns_closed(L);
  lua_settop(L, 1);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return accept_k(L, LUA_OK, 0);
}


/* getsockname and getpeername: host, port or path */
static int pushname (lua_State *L,
                     int (*get) (int, struct sockaddr *, socklen_t *)) {
  nsSocket *s = ns_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (get(s->fd, (struct sockaddr *)&ss, &len) < 0)
    return ns_fail(L, errno);
  return ns_pushaddr(L, (struct sockaddr *)&ss, len);
}


static int sock_getsockname (lua_State *L) {
  return pushname(L, getsockname);
}


static int sock_getpeername (lua_State *L) {
  return pushname(L, getpeername);
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
** sendto said EAGAIN on a Unix datagram socket that polls writable: the
** receiver's queue is full, which poll on the sender cannot see (Linux
** looks at the peer only for a connected socket). Waiting for
** "writable" would return at once, for ever: a busy loop for as long
** as the receiver does not read.
*/
int ns_receiverfull (nsSocket *s) {
  if (s->family != AF_UNIX || s->type != SOCK_DGRAM) return 0;
  return (ns_sys_pollnow(s->fd, NS_WRITE) & NS_WRITE) != 0;
}


/*
** How a send waits: on a stream it returns what fitted as soon as some
** bytes went, so with a timeout it never sleeps in a blocking send(2),
** which returns only once all of them went (wait.c); a datagram goes
** whole either way.
*/
#define sendevents(s)  ((s)->type == SOCK_STREAM ? NS_WRITE | NS_POLLTIMED \
                                                 : NS_WRITE)


/*
** One send(2), or sendto(2) to the address whose bytes are at slot 6
** (nil for send): bytes sent. s:send and dgram.c's s:sendto.
** stack: 1 socket, 2 data, 3 i, 4 j, 5 deadline, 6 address or nil
*/
int ns_send_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  size_t len, alen = 0;
  const char *data, *addr;
  ssize_t n;
  nsResult r;
  (void)status;
  lua_settop(L, 6);
  if (s == NULL) return ns_closed(L);
  data = ns_checkrange(L, 2, &len);
  addr = lua_tolstring(L, 6, &alen);
  for (;;) {
    if (alen == 0 || !ns_io_plain(s))  /* TLS ignores a sendto address */
      n = ns_io_send(L, s, data, len, sendevents(s), lua_tonumber(L, 5));
    else
      n = ns_sys_sendto(s->fd, data, len,
                        ns_callflags(L, s, sendevents(s), lua_tonumber(L, 5)),
                        (const struct sockaddr *)addr, (socklen_t)alen);
    if (n >= 0) {
      lua_pushinteger(L, n);
      return 1;
    }
    if (ns_retry(L)) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    r = ns_block(L, s, ns_io_events(s, sendevents(s)) |
                   (alen > 0 && ns_receiverfull(s) ? NS_NOPOLL : 0),
                 lua_tonumber(L, 5), ctx, ns_send_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
}


static int sock_send (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  luaL_checkstring(L, 2);
  if (s == NULL) return ns_closed(L);
  lua_settop(L, 4);
  lua_pushnumber(L, ns_deadline(s->timeout));
  lua_pushnil(L);
  return ns_send_k(L, LUA_OK, 0);
}


/* stack: 1 socket, 2 data, 3 i, 4 j, 5 deadline, 6 bytes sent so far */
static int sendall_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  size_t len, sent = (size_t)lua_tointeger(L, 6);
  const char *data = ns_checkrange(L, 2, &len);
  ssize_t n;
  nsResult r;
  int nret;
  (void)status;
  lua_settop(L, 6);
  if (s == NULL) { nret = ns_closed(L); goto fail; }
  for (;;) {
    /* every byte taken, then what the transport holds (TLS's records) */
    n = sent < len ? ns_io_send(L, s, data + sent, len - sent, NS_WRITE,
                                lua_tonumber(L, 5))
                   : ns_io_flush(L, s);
    if (n == 0 && sent == len) break;
    if (n >= 0) {
      sent += (size_t)n;
      continue;
    }
    if (ns_retry(L)) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      nret = ns_fail(L, errno);
      goto fail;
    }
    lua_pushinteger(L, (lua_Integer)sent);
    lua_replace(L, 6);
    r = ns_block(L, s, ns_io_events(s, NS_WRITE), lua_tonumber(L, 5), ctx,
                 sendall_k);
    if (r != NS_AGAIN) { nret = ns_pushresult(L, r, errno); goto fail; }
  }
  lua_pushboolean(L, 1);
  return 1;
fail:
  lua_pushinteger(L, (lua_Integer)sent);
  return nret + 1;
}


static int sock_sendall (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  size_t len;
  const char *data = ns_checkrange(L, 2, &len);
  double deadline;
  ssize_t n = 0;
  if (s == NULL) return ns_closed(L);
  deadline = ns_deadline(s->timeout);
  /* the common case first: a plain socket whose kernel takes every byte
     at once (one send, nothing set up for a wait); anything else goes
     on in sendall_k, which sends the rest and reads errno itself */
  if (len > 0 && ns_io_plain(s)) {
    n = ns_sys_send(s->fd, data, len, ns_callflags(L, s, NS_WRITE, deadline));
    if (n == (ssize_t)len) {
      lua_pushboolean(L, 1);
      return 1;
    }
    if (n < 0) n = 0;
  }
  lua_settop(L, 4);
  lua_pushnumber(L, deadline);
  lua_pushinteger(L, (lua_Integer)n);
  return sendall_k(L, LUA_OK, 0);
}

/* }====== */


/* {====== Receiving ====== */

/*
** Whether a receive of 'size' bytes that got 0 means the end of the
** stream. On a stream socket it does (unless nothing was asked for); on
** a datagram socket it is an empty datagram. A seqpacket socket has
** both: an empty message, or the peer gone; poll tells them apart (the
** peer's shutdown shows as POLLRDHUP/POLLHUP). An empty message the
** peer sent right before it closed reads as the end.
*/
int ns_atend (nsSocket *s, size_t size) {
  if (size == 0) return 0;
  if (s->type == SOCK_STREAM) return 1;
  if (s->type != SOCK_SEQPACKET) return 0;
  return (ns_sys_pollnow(s->fd, NS_READ) & NS_HANGUP) != 0;
}

/*
** stack: 1 socket, 2 bufsize, 3 flags, 4 deadline
** Up to NS_STACKBUF bytes are received on the C stack; a larger recv
** goes into the socket's own receive buffer, which outlives a task's
** wait (nothing of the call's lives on the Lua stack across a yield
** but plain values: a luaL_Buffer's box there is what Lua 5.4.4's
** lua_settop mishandles when the continuation drops it).
*/
static int recv_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  size_t size = (size_t)lua_tointeger(L, 2);
  int flags = (int)lua_tointeger(L, 3);
  char stackbuf[NS_STACKBUF];
  char *p = stackbuf;
  ssize_t n;
  nsResult r;
  (void)status;
  lua_settop(L, 4);
  if (s == NULL) return ns_closed(L);
  if (ns_pending(s) > 0) {  /* bytes a file object read ahead come first */
    ns_buf_take(L, s, size, flags & MSG_PEEK);
    return 1;
  }
  while (!ns_io_plain(s)) {  /* TLS: decrypted into the shared buffer */
    n = size == 0 ? 0 : ns_io_fill(L, s, 0, lua_tonumber(L, 4));
    if (n > 0) {
      ns_buf_take(L, s, size, flags & MSG_PEEK);
      return 1;
    }
    ns_buf_trim(s);
    if (n == 0) {
      if (size == 0) { lua_pushliteral(L, ""); return 1; }
      return ns_closed(L);
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ns_fail(L, errno);
    r = ns_block(L, s, ns_io_events(s, NS_READ), lua_tonumber(L, 4), ctx,
                 recv_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
  for (;;) {
    if (size > NS_STACKBUF) {
      if (!ns_buf_reserve(s, size)) return ns_fail(L, ENOMEM);
      p = s->rbuf + s->rtail;
    }
    if (flags == 0 && ns_readskip(L, s, lua_tonumber(L, 4)))
      n = -1;  /* a short read emptied the queue: wait (EAGAIN) */
    else {
      do n = recv(s->fd, p, size,
                  flags | ns_callflags(L, s, NS_READ, lua_tonumber(L, 4)));
      while (n < 0 && ns_retry(L));
      if (flags == 0) ns_readshort(L, s, n, size);
    }
    if ((size_t)n > size && n > 0)
      n = (ssize_t)size;  /* MSG_TRUNC reports the datagram's full length */
    if (n > 0 || (n == 0 && !ns_atend(s, size))) {
      lua_pushlstring(L, p, (size_t)n);
      ns_buf_trim(s);
      return 1;
    }
    ns_buf_trim(s);  /* a waiting socket keeps no buffer */
    if (n == 0) return ns_closed(L);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    r = ns_block(L, s, NS_READ, lua_tonumber(L, 4), ctx, recv_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
}


/*
** The start of s:recv and s:recvfrom (bufsize [, flags]): the arguments
** checked, the deadline at 4, then the call's continuation 'k'.
*/
int ns_recvstart (lua_State *L, lua_KFunction k) {
  nsSocket *s = ns_checkio(L, 1);
  size_t size;
  int flags;
  ns_checkrecvargs(L, 2, &size, &flags);
  if (s == NULL) return ns_closed(L);
  lua_settop(L, 3);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return k(L, LUA_OK, 0);
}


static int sock_recv (lua_State *L) {
  return ns_recvstart(L, recv_k);
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
  double t = gettimeout_default(L);
  if (t < 0) lua_pushnil(L);
  else lua_pushnumber(L, t);
  return 1;
}

/* }====== */


static const luaL_Reg methods[] = {
  {"bind", sock_bind},
  {"listen", sock_listen},
  {"accept", sock_accept},
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
** The socket class, its method table also as netsock.core._socketmethods
** so that the other files (ns_addmethods) and the Lua facade can add
** methods.
*/
void ns_socket_open (lua_State *L) {
  ns_newclass(L, NS_SOCKET, metamethods, methods, 0);
  ns_marksocketclass(L);
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "_socketmethods");  /* on the module table */
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
