/*
** mmsg.c: datagrams in batches: s:recvmany(n [, bufsize]) and
** s:sendmany(datagrams [, host, port]), on recvmmsg(2) and sendmmsg(2):
** one system call for up to n datagrams where C's loop (and recvfrom,
** sendto) makes one each.
**
** mmsg_recv and mmsg_send take the batch calls through the platform
** seam (ns_sys_recvmmsg, ns_sys_sendmmsg: sys_linux.c); where the
** system has none (ENOSYS) they are a loop of recvmsg/sendmsg behind
** the same contract, which core._mmsgloop(true) also selects so that
** the specs run both.
**
** Both methods follow socket.c's continuation pattern (see dgram.c):
** the first call checks its arguments and stores what must survive a
** wait at fixed stack slots; the continuation starts with lua_settop
** and tries the system call again after every wait (wait.c), so they
** honour the timeout and work inside tasks exactly as recvfrom and
** sendto do.
*/
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "netsock.h"


/* most datagrams one call takes (sendmmsg's own limit is UIO_MAXIOV) */
#if !defined(NS_MMSG_MAX)
#define NS_MMSG_MAX  1024
#endif

/* recvmany's bufsize when none is given: a datagram of an Ethernet
   frame fits; a longer one is cut and reported so */
#if !defined(NS_MMSG_BUFSIZE)
#define NS_MMSG_BUFSIZE  2048
#endif

/* headers for up to this many datagrams live on the C stack */
#define MMSG_STACK  64


/* {====== Batches (sys_linux.c), or one datagram at a time ====== */

static int useloop = 0;  /* the system lacks the batch calls (ENOSYS) */


/*
** Receive up to 'n' datagrams into 'm': the count (>= 1), or -1 with
** errno. 'flags' may let the first receive wait in the kernel; the
** others never wait (MSG_WAITFORONE).
*/
static int mmsg_recv (int fd, nsMmsg *m, unsigned n, int flags) {
  unsigned i;
  if (!useloop) {
    int r = ns_sys_recvmmsg(fd, m, n, flags);
    if (r >= 0 || errno != ENOSYS) return r;
    useloop = 1;
  }
  for (i = 0; i < n; i++) {
    ssize_t r = recvmsg(fd, &m[i].msg_hdr, i == 0 ? flags : flags | MSG_DONTWAIT);
    if (r < 0) {
      if (i > 0) break;  /* what came so far; the next call sees a
                            lasting error */
      return -1;
    }
    m[i].msg_len = (unsigned)r;
  }
  return (int)i;
}


/*
** Send the 'n' datagrams of 'm': how many went (>= 1), or -1 with
** errno when the first did not go.
*/
static int mmsg_send (int fd, nsMmsg *m, unsigned n, int flags) {
  unsigned i;
  if (!useloop) {
    int r = ns_sys_sendmmsg(fd, m, n, flags);
    if (r >= 0 || errno != ENOSYS) return r;
    useloop = 1;
  }
  for (i = 0; i < n; i++) {
    ssize_t r = ns_sys_sendmsg(fd, &m[i].msg_hdr,
                               i == 0 ? flags : flags | MSG_DONTWAIT);
    if (r < 0) {
      if (i > 0) break;  /* the rest in the next call, which reports why */
      return -1;
    }
    m[i].msg_len = (unsigned)r;
  }
  return (int)i;
}


/* core._mmsgloop([on]): whether the one-at-a-time loop is in use; 'on'
   true selects it, false the batch calls where the system has them
   (specs run both) */
static int mmsg_loop (lua_State *L) {
  if (!lua_isnoneornil(L, 1))
    useloop = lua_toboolean(L, 1);
  lua_pushboolean(L, useloop);
  return 1;
}

/* }====== */


/* the headers of a batch of 'n': on the C stack ('stack', MMSG_STACK
   entries) or in a userdata pushed for this try */
typedef struct Batch {
  nsMmsg m[MMSG_STACK];
  struct iovec iov[MMSG_STACK];
  struct sockaddr_storage from[MMSG_STACK];
} Batch;

static void batchparts (lua_State *L, Batch *stack, unsigned n, nsMmsg **m,
                        struct iovec **iov, struct sockaddr_storage **from) {
  if (n <= MMSG_STACK) {
    *m = stack->m;
    *iov = stack->iov;
    *from = stack->from;
  }
  else {
    char *p = (char *)lua_newuserdatauv(L, n * (sizeof **m + sizeof **iov +
                                                sizeof **from), 0);
    *from = (struct sockaddr_storage *)p;  /* the most aligned first */
    *m = (nsMmsg *)(p + n * sizeof **from);
    *iov = (struct iovec *)(p + n * (sizeof **from + sizeof **m));
  }
  memset(*m, 0, n * sizeof **m);
}


/* {====== recvmany ====== */

/* push the sender in 'ss': host, port (2), path (1), or nothing (0:
   none given, on a socket that is not a Unix one) */
static int pushfrom (lua_State *L, nsSocket *s, struct sockaddr_storage *ss,
                     socklen_t len) {
  if (len == 0 || ss->ss_family == AF_UNSPEC) {
    if (s->family != AF_UNIX) return 0;  /* no sender given: nil */
    ss->ss_family = AF_UNIX;  /* an unnamed Unix sender: "" */
    len = 0;
  }
  return ns_pushaddr(L, (struct sockaddr *)ss, len);
}


/*
** Consecutive datagrams mostly come from one sender: then datagram i
** takes the host and port (or path) datagram i - 1 got, kept on the
** stack, instead of writing the address out and interning its text
** again. The kernel writes the whole name (sockaddr_in's padding
** zeroed), so equal bytes are the same sender.
*/
static int samefrom (const nsMmsg *a, const nsMmsg *b) {
  socklen_t n = a->msg_hdr.msg_namelen;
  return n == b->msg_hdr.msg_namelen &&
         memcmp(a->msg_hdr.msg_name, b->msg_hdr.msg_name, n) == 0;
}


/*
** A file's read-ahead on the socket comes first, as for recvfrom: a
** batch of one, from the connected peer if there is one.
*/
static int pendingone (lua_State *L, nsSocket *s, size_t size) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int k;
  lua_settop(L, 4);
  lua_createtable(L, 1, 0);
  lua_createtable(L, 1, 0);
  lua_createtable(L, 1, 0);
  ns_buf_take(L, s, size, 0);
  lua_rawseti(L, 5, 1);
  memset(&ss, 0, sizeof ss);
  if (getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0) len = 0;
  k = pushfrom(L, s, &ss, len);
  if (k == 2) lua_rawseti(L, 7, 1);  /* the port */
  if (k >= 1) lua_rawseti(L, 6, 1);
  if (s->family == AF_UNIX) { lua_pop(L, 1); return 2; }
  return 3;
}


/*
** The results of a batch of 'got' datagrams received into 'm', 'iov',
** 'from': datagrams, hosts, ports[, cut] (datagrams, paths[, nil, cut]).
*/
static int pushbatch (lua_State *L, nsSocket *s, const nsMmsg *m,
                      const struct iovec *iov, struct sockaddr_storage *from,
                      unsigned got, size_t size) {
  unsigned i;
  int top, cut = 0, nfrom = 0;
  lua_Integer port = 0;
  top = lua_gettop(L);  /* 4, or 5: the headers' userdata stays anchored */
  lua_createtable(L, (int)got, 0);  /* top + 1: the datagrams */
  lua_createtable(L, (int)got, 0);  /* top + 2: hosts (or paths) */
  lua_createtable(L, s->family == AF_UNIX ? 0 : (int)got, 0);  /* top + 3: ports */
  lua_pushnil(L);  /* top + 4: the sender's host (or path) */
  for (i = 0; i < got; i++) {
    size_t len = m[i].msg_len;
    lua_Integer k = (lua_Integer)i + 1;
    if (len > size) len = size;
    lua_pushlstring(L, (const char *)iov[i].iov_base, len);
    lua_rawseti(L, top + 1, k);
    if (i == 0 || !samefrom(&m[i - 1], &m[i])) {  /* another sender */
      nfrom = pushfrom(L, s, &from[i], m[i].msg_hdr.msg_namelen);
      if (nfrom == 2) {
        port = lua_tointeger(L, -1);
        lua_pop(L, 1);
      }
      if (nfrom == 0) lua_pushnil(L);
      lua_replace(L, top + 4);
    }
    if (nfrom == 2) {
      lua_pushinteger(L, port);
      lua_rawseti(L, top + 3, k);
    }
    lua_pushvalue(L, top + 4);
    lua_rawseti(L, top + 2, k);
    if (m[i].msg_hdr.msg_flags & MSG_TRUNC) {
      if (!cut) { lua_newtable(L); cut = 1; }  /* top + 5: the cut ones */
      lua_pushboolean(L, 1);
      lua_rawseti(L, top + 5, k);
    }
  }
  if (s->family == AF_UNIX) {  /* datagrams, paths[, nil, cut] */
    if (!cut) {
      lua_settop(L, top + 2);
      return 2;
    }
    lua_pushnil(L);
    lua_replace(L, top + 3);
  }
  if (!cut) {
    lua_settop(L, top + 3);
    return 3;
  }
  lua_replace(L, top + 4);  /* the cut ones fourth */
  return 4;
}


/*
** stack: 1 socket, 2 n, 3 bufsize, 4 deadline. The datagrams land in
** one area of n * bufsize bytes: on the C stack when it fits, else in
** the socket's receive buffer (released before any wait, as recv_k's).
*/
static int recvmany_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  unsigned n = (unsigned)lua_tointeger(L, 2);
  size_t size = (size_t)lua_tointeger(L, 3);
  char stackbuf[NS_STACKBUF];
  Batch stack;
  nsMmsg *m;
  struct iovec *iov;
  struct sockaddr_storage *from;
  char *base;
  unsigned i;
  int got, nret;
  nsResult r;
  (void)status;
  lua_settop(L, 4);
  if (s == NULL) return ns_closed(L);
  if (ns_pending(s) > 0) return pendingone(L, s, size);
  batchparts(L, &stack, n, &m, &iov, &from);  /* at 5 when not on the stack */
  for (;;) {
    if (n * size <= sizeof stackbuf) base = stackbuf;
    else {
      if (!ns_buf_reserve(s, n * size)) return ns_fail(L, ENOMEM);
      base = s->rbuf + s->rtail;
    }
    for (i = 0; i < n; i++) {
      iov[i].iov_base = base + i * size;
      iov[i].iov_len = size;
      m[i].msg_hdr.msg_name = &from[i];
      m[i].msg_hdr.msg_namelen = sizeof from[i];
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_control = NULL;
      m[i].msg_hdr.msg_controllen = 0;
      m[i].msg_hdr.msg_flags = 0;
    }
    got = mmsg_recv(s->fd, m, n, ns_callflags(L, s, NS_READ, lua_tonumber(L, 4)));
    if (got > 0) break;
    if (got < 0 && ns_retry(L)) continue;
    ns_buf_trim(s);  /* a waiting socket keeps no buffer */
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    r = ns_block(L, s, NS_READ, lua_tonumber(L, 4), ctx, recvmany_k);
    if (r != NS_AGAIN) return ns_pushresult(L, r, errno);
  }
  nret = pushbatch(L, s, m, iov, from, (unsigned)got, size);
  ns_buf_trim(s);
  return nret;
}


/*
** s:recvmany(n [, bufsize]): up to n datagrams (at least one: it waits
** for the first as recvfrom does, then takes what is queued, never
** waiting for more). Returns datagrams, hosts, ports: three arrays of
** the same length, datagram i from hosts[i], ports[i] (a Unix socket:
** datagrams, paths). Datagrams longer than bufsize (default 2048) are
** cut to it, and then a fourth value is a table with cut[i] = true.
*/
static int mmsg_recvmany (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  lua_Integer size = luaL_optinteger(L, 3, NS_MMSG_BUFSIZE);
  luaL_argcheck(L, 1 <= n && n <= NS_MMSG_MAX, 2, "count out of range");
  luaL_argcheck(L, 1 <= size && size <= 65536, 3,
                "buffer size out of range (1 to 65536)");
  if (s == NULL) return ns_closed(L);
  luaL_argcheck(L, s->type == SOCK_DGRAM, 1, "datagram socket expected");
  lua_settop(L, 3);
  lua_pushinteger(L, n);
  lua_replace(L, 2);
  lua_pushinteger(L, size);
  lua_replace(L, 3);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return recvmany_k(L, LUA_OK, 0);
}

/* }====== */


/* {====== sendmany ====== */

/* sendmsg's header takes non-const pointers to what it only reads */
static void *unconst (const void *p) {
  void *q;
  memcpy(&q, &p, sizeof q);
  return q;
}

/*
** stack: 1 socket, 2 datagrams, 3 host, 4 port, 5 deadline, 6 the
** destination's address bytes (or nil: the connected peer), 7 how many
** went so far. Each try sends the next batch of at most NS_MMSG_MAX.
*/
static int sendmany_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  lua_Integer total = (lua_Integer)lua_rawlen(L, 2);
  lua_Integer sent = lua_tointeger(L, 7);
  size_t alen = 0;
  const char *addr;
  Batch stack;
  nsMmsg *m;
  struct iovec *iov;
  struct sockaddr_storage *unused;
  unsigned i, k;
  int got, nret;
  nsResult r;
  (void)status;
  lua_settop(L, 7);
  if (s == NULL) { nret = ns_closed(L); goto fail; }
  addr = lua_tolstring(L, 6, &alen);
  while (sent < total) {
    k = (unsigned)(total - sent < NS_MMSG_MAX ? total - sent : NS_MMSG_MAX);
    lua_settop(L, 7);
    batchparts(L, &stack, k, &m, &iov, &unused);  /* at 8 when not on the stack */
    for (i = 0; i < k; i++) {
      size_t len;
      const char *d;
      lua_rawgeti(L, 2, sent + i + 1);  /* the table anchors the string */
      d = lua_tolstring(L, -1, &len);
      lua_pop(L, 1);
      if (d == NULL) {  /* changed under a wait: misuse */
        return luaL_error(L, "bad argument #1 to 'sendmany' "
                          "(datagram %d is not a string)", (int)(sent + i + 1));
      }
      iov[i].iov_base = unconst(d);
      iov[i].iov_len = len;
      m[i].msg_hdr.msg_name = unconst(addr);
      m[i].msg_hdr.msg_namelen = (socklen_t)alen;
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    got = mmsg_send(s->fd, m, k,
                    ns_callflags(L, s, NS_WRITE, lua_tonumber(L, 5)));
    if (got > 0) {
      sent += got;
      lua_pushinteger(L, sent);
      lua_replace(L, 7);
      continue;
    }
    if (ns_retry(L)) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      nret = ns_fail(L, errno);
      goto fail;
    }
    lua_settop(L, 7);
    r = ns_block(L, s, NS_WRITE | (alen > 0 && ns_receiverfull(s) ? NS_NOPOLL : 0),
                 lua_tonumber(L, 5), ctx, sendmany_k);
    if (r != NS_AGAIN) {
      nret = ns_pushresult(L, r, errno);
      goto fail;
    }
  }
  lua_pushinteger(L, sent);
  return 1;
fail:  /* nil, message, code, and how many datagrams went */
  lua_pushinteger(L, sent);
  return nret + 1;
}


/* the destination at 3, 4 (none: nil at 6), then send */
static int sendmany_start (lua_State *L, nsSocket *s, double deadline) {
  struct sockaddr_storage ss;
  socklen_t len;
  int hasdest = !lua_isnoneornil(L, 3);
  if (hasdest && ns_getdest(L, s, 3, &ss, &len) < 0)
    return 3;
  lua_settop(L, 4);
  lua_pushnumber(L, deadline);
  if (hasdest) lua_pushlstring(L, (const char *)&ss, len);
  else lua_pushnil(L);
  lua_pushinteger(L, 0);
  return sendmany_k(L, LUA_OK, 0);
}


/*
** Inside a task a host name not cached is looked up on the resolver's
** pool while the task waits, as for sendto (dgram.c). stack: 1 socket,
** 2 datagrams, 3 host, 4 port, 5 deadline, 6 the lookup.
*/
static int sendmany_lookup_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s;
  double deadline;
  nsResult r = ns_destlookup(L, ctx, sendmany_lookup_k, &s, &deadline);
  int nret;
  (void)status;
  if (r == NS_OK) return sendmany_start(L, s, deadline);
  nret = r == NS_PUSHED ? 3 : ns_pushresult(L, r, errno);
  lua_pushinteger(L, 0);   /* none went */
  return nret + 1;
}


/*
** s:sendmany(datagrams [, host, port]) (or [, path]): sends every
** string of the array 'datagrams', each one datagram, to the given
** destination (none: the connected peer), waiting as sendall does when
** the socket's buffer is full; the timeout bounds the whole call.
** Returns how many went (#datagrams), or nil, message, code, and how
** many went before the failure.
*/
static int mmsg_sendmany (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  lua_Integer i, total;
  double deadline;
  luaL_checktype(L, 2, LUA_TTABLE);
  total = (lua_Integer)lua_rawlen(L, 2);
  for (i = 1; i <= total; i++) {
    if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
      luaL_argerror(L, 2, lua_pushfstring(L, "datagram %d is a %s, string expected",
                                          (int)i, luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  if (s == NULL) {
    int nret = ns_closed(L);
    lua_pushinteger(L, 0);
    return nret + 1;
  }
  luaL_argcheck(L, s->type == SOCK_DGRAM, 1, "datagram socket expected");
  deadline = ns_deadline(s->timeout);
  if (s->family != AF_UNIX && lua_gettop(L) >= 4 && !lua_isnil(L, 3)) {
    lua_settop(L, 4);
    if (ns_lookupstart(L, s, 3)) {  /* pushed the lookup: now at 5 */
      lua_pushnumber(L, s->timeout > 0 ? deadline : -1.0);
      lua_insert(L, 5);
      return sendmany_lookup_k(L, LUA_OK, 0);
    }
  }
  lua_settop(L, 4);
  return sendmany_start(L, s, deadline);
}

/* }====== */


static const luaL_Reg mmsg_methods[] = {
  {"recvmany", mmsg_recvmany},
  {"sendmany", mmsg_sendmany},
  {NULL, NULL}
};


void ns_mmsg_open (lua_State *L) {
  ns_addmethods(L, mmsg_methods);
  lua_pushcfunction(L, mmsg_loop);
  lua_setfield(L, -2, "_mmsgloop");
}
