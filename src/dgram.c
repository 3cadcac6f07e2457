/*
** dgram.c: datagrams: s:sendto and s:recvfrom (which stream sockets
** take too, as in Python).
**
** Both follow socket.c's continuation pattern: the first call checks
** its arguments, stores what must survive a wait at fixed stack slots
** and calls the continuation, which starts with lua_settop and tries
** the system call again after every wait (wait.c).
*/
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "netsock.h"


/* {====== sendto and recvfrom ====== */

/*
** s:sendto(data, host, port) or s:sendto(data, path): bytes sent.
** The whole datagram goes or nothing does (EMSGSIZE when too long).
*/
static int sendto_start (lua_State *L, nsSocket *s, double deadline) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (ns_getdest(L, s, 3, &ss, &len) < 0)
    return 3;
  lua_settop(L, 2);
  lua_pushnil(L);  /* i, j: the whole datagram */
  lua_pushnil(L);
  lua_pushnumber(L, deadline);
  lua_pushlstring(L, (const char *)&ss, len);
  return ns_send_k(L, LUA_OK, 0);
}


/*
** Inside a task a host name sendto has not cached is looked up on the
** resolver's pool while the task waits (resolve.c); the timeout bounds
** lookup and send together. stack: 1 socket, 2 data, 3 host, 4 port,
** 5 deadline, 6 the lookup.
*/
static int sendto_lookup_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s;
  double deadline;
  nsResult r = ns_destlookup(L, ctx, sendto_lookup_k, &s, &deadline);
  (void)status;
  if (r == NS_OK) return sendto_start(L, s, deadline);
  return r == NS_PUSHED ? 3 : ns_pushresult(L, r, errno);
}


static int dgram_sendto (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  double deadline;
  luaL_checkstring(L, 2);
  if (s == NULL) return ns_closed(L);
  deadline = ns_deadline(s->timeout);
  if (s->family != AF_UNIX && lua_gettop(L) >= 4) {
    lua_settop(L, 4);
    if (ns_lookupstart(L, s, 3)) {  /* pushed the lookup: now at 5 */
      lua_pushnumber(L, s->timeout > 0 ? deadline : -1.0);
      lua_insert(L, 5);
      return sendto_lookup_k(L, LUA_OK, 0);
    }
  }
  return sendto_start(L, s, deadline);
}


/* push the sender's address: host, port / path / nil; returns count */
static int pushfrom (lua_State *L, nsSocket *s, struct sockaddr_storage *ss,
                     socklen_t len) {
  if (len == 0 || ss->ss_family == AF_UNSPEC) {
    if (s->family != AF_UNIX) {  /* a stream socket: no sender given */
      lua_pushnil(L);
      lua_pushnil(L);
      return 2;
    }
    ss->ss_family = AF_UNIX;  /* an unnamed Unix sender: "" */
    len = 0;
  }
  return ns_pushaddr(L, (struct sockaddr *)ss, len);
}


/*
** The last sender's host, per Lua state: recvfrom's upvalue 1 (a
** LastHost) says whose address upvalue 2 (the text) is. A server's
** datagrams mostly come from few hosts, and a hit pushes the text
** as it is instead of writing the address out and interning it again;
** the port is an integer, cheap either way.
*/
typedef struct LastHost {
  int family;                 /* AF_INET, AF_INET6, or 0: none yet */
  unsigned scope;             /* AF_INET6's scope id */
  unsigned char addr[16];     /* 4 bytes for AF_INET */
} LastHost;

static int pushsender (lua_State *L, nsSocket *s, struct sockaddr_storage *ss,
                       socklen_t len) {
  LastHost *c = (LastHost *)lua_touserdata(L, lua_upvalueindex(1));
  const void *addr;
  size_t alen;
  unsigned scope = 0, port;
  int nret;
  if (ss->ss_family == AF_INET && (size_t)len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    addr = &sin->sin_addr;
    alen = 4;
    port = ntohs(sin->sin_port);
  }
  else if (ss->ss_family == AF_INET6 && (size_t)len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    addr = &sin6->sin6_addr;
    alen = 16;
    scope = sin6->sin6_scope_id;
    port = ntohs(sin6->sin6_port);
  }
  else
    return pushfrom(L, s, ss, len);
  if (c->family == ss->ss_family && c->scope == scope &&
      memcmp(c->addr, addr, alen) == 0) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushinteger(L, (lua_Integer)port);
    return 2;
  }
  nret = pushfrom(L, s, ss, len);
  lua_pushvalue(L, -2);  /* the host: the new last one */
  lua_replace(L, lua_upvalueindex(2));
  c->family = ss->ss_family;
  c->scope = scope;
  memcpy(c->addr, addr, alen);
  return nret;
}


/*
** stack: 1 socket, 2 bufsize, 3 flags, 4 deadline. As recv_k (socket.c):
** a datagram larger than the C stack buffer goes into the socket's own
** receive buffer, never into a luaL_Buffer kept across a wait.
*/
static int recvfrom_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  size_t size = (size_t)lua_tointeger(L, 2);
  int flags = (int)lua_tointeger(L, 3);
  char stackbuf[NS_STACKBUF];
  struct sockaddr_storage ss;
  struct msghdr msg;
  struct iovec iov;
  ssize_t n;
  nsResult r;
  int nret;
  (void)status;
  lua_settop(L, 4);
  if (s == NULL) return ns_closed(L);
  if (ns_pending(s) > 0) {  /* a file's read-ahead comes first */
    /* the sender as recvmsg names it: none on a stream (this said the
       peer's address, the kernel path nil: one call, two answers);
       a connected datagram socket's peer otherwise */
    socklen_t len = sizeof ss;
    ns_buf_take(L, s, size, flags & MSG_PEEK);
    memset(&ss, 0, sizeof ss);
    if (s->type == SOCK_STREAM ||
        getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0)
      len = 0;
    return 1 + pushfrom(L, s, &ss, len);
  }
  iov.iov_base = stackbuf;
  iov.iov_len = size;
  for (;;) {
    if (size > NS_STACKBUF) {
      if (!ns_buf_reserve(s, size)) return ns_fail(L, ENOMEM);
      iov.iov_base = s->rbuf + s->rtail;
    }
    memset(&msg, 0, sizeof msg);
    memset(&ss, 0, sizeof ss);
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof ss;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    n = recvmsg(s->fd, &msg,
                flags | ns_callflags(L, s, NS_READ, lua_tonumber(L, 4)));
    if (n > 0 || (n == 0 && !ns_atend(s, size)))
      break;
    if (n < 0 && ns_retry(L)) continue;
    ns_buf_trim(s);  /* a waiting socket keeps no buffer */
    if (n == 0) return ns_closed(L);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    r = ns_block(L, s, NS_READ, lua_tonumber(L, 4), ctx, recvfrom_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
  if ((size_t)n > size)  /* MSG_TRUNC among the flags: the real length */
    n = (ssize_t)size;
  lua_pushlstring(L, (const char *)iov.iov_base, (size_t)n);
  ns_buf_trim(s);
  nret = 1 + pushsender(L, s, &ss, msg.msg_namelen);
  if (msg.msg_flags & MSG_TRUNC) {  /* cut: true as the fourth value */
    for (; nret < 3; nret++) lua_pushnil(L);
    lua_pushboolean(L, 1);
    nret++;
  }
  return nret;
}


/*
** s:recvfrom(bufsize [, flags]): data, host, port (or data, path). A
** datagram longer than bufsize is cut to bufsize and a fourth value
** true follows (for a Unix socket: data, path, nil, true).
*/
static int dgram_recvfrom (lua_State *L) {
  return ns_recvstart(L, recvfrom_k);
}

/* }====== */


/*
** s:disconnect(): a datagram socket forgets its peer: connect(2) with
** an address of family AF_UNSPEC, the way POSIX gives to dissolve the
** association (Linux does it for inet, inet6 and unix datagram sockets,
** connected or not). It then sends only with sendto and receives from
** anyone. Returns true; a stream socket raises.
*/
static int dgram_disconnect (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  struct sockaddr_storage ss;
  int r;
  luaL_argcheck(L, s->type == SOCK_DGRAM, 1, "datagram socket expected");
  memset(&ss, 0, sizeof ss);
  ss.ss_family = AF_UNSPEC;
  do r = connect(s->fd, (struct sockaddr *)&ss, sizeof ss);
  while (r < 0 && errno == EINTR);
  if (r < 0) return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


static const luaL_Reg dgram_methods[] = {
  {"sendto", dgram_sendto},
  {"disconnect", dgram_disconnect},
  {NULL, NULL}
};


void ns_dgram_open (lua_State *L) {
  LastHost *c;
  ns_addmethods(L, dgram_methods);
  lua_getfield(L, -1, "_socketmethods");
  c = (LastHost *)lua_newuserdatauv(L, sizeof(LastHost), 0);
  memset(c, 0, sizeof *c);
  lua_pushliteral(L, "");
  lua_pushcclosure(L, dgram_recvfrom, 2);  /* its last sender's host */
  lua_setfield(L, -2, "recvfrom");
  lua_pop(L, 1);
}
