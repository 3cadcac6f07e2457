/*
** luasocket.c: netsock.luasocket's objects (LuaSocket's tcp, udp and
** unix objects), their classes, and the C methods: the calls every
** request makes (settimeout, close, getfd, dirty, getstats), udp's
** receive and send; a stream client's receive and send are lsstream.c's.
**
** An object is a userdata (lsObject, lsint.h) whose metatable is its
** class (tcp{client}, ...: tables lua/netsock/luasocket/sock.lua builds
** and registers with core._lsclass); its netsock socket is user value
** 1, its family, kind and connect state are struct fields, and only a
** datagram object has more user values (udp sendto's last
** destination). The hot methods read the struct; the rare ones stay in
** Lua, reaching the fields through core._lsget and core._lsset.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "lsint.h"


/* {====== The objects ====== */

/* the key under which a class metatable holds its kind (1 tcp, 2 udp,
   3 unixstream, 4 unixdgram): what marks a userdata as one of ours */
static const char lskey = 0;

static double lsgettime (void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* the kind of the class metatable at idx, 0 when it is not one */
static lua_Integer lsclasskind (lua_State *L, int idx) {
  lua_Integer k = 0;
  if (lua_type(L, idx) == LUA_TTABLE) {
    if (lua_rawgetp(L, idx, &lskey) == LUA_TNUMBER) k = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  return k;
}


/* the object at idx and its kind (the struct's), or NULL (kind 0) */
static lsObject *lstoobject (lua_State *L, int idx, lua_Integer *kind) {
  lsObject *o = (lsObject *)lua_touserdata(L, idx);
  if (o != NULL && lua_getmetatable(L, idx)) {
    int ours = lua_rawgetp(L, -1, &lskey) != LUA_TNIL;
    lua_pop(L, 2);
    if (ours && lua_rawlen(L, idx) == sizeof(lsObject)) {
      *kind = o->kind;
      return o;
    }
  }
  *kind = 0;
  return NULL;
}


/* an internal function's object argument (core._ls*: the layer's Lua) */
static lsObject *lscheckobject (lua_State *L, int idx) {
  lua_Integer kind;
  lsObject *o = lstoobject(L, idx, &kind);
  if (o == NULL) luaL_typeerror(L, idx, "netsock.luasocket object");
  return o;
}


/*
** Small numbers in a closure's upvalues, as light userdata: the address
** of lstag[n] (a kind, 1 to 4; a family's index in lsfamilies). Reading
** one back is a pointer difference, where lua_tointeger converts.
*/
static char lstag[8];
static const int lsfamilies[] = {0, AF_INET, AF_INET6, AF_UNIX};

static void lspushtag (lua_State *L, int n) {
  lua_pushlightuserdata(L, lstag + n);
}

#define lsuptag(L,i) \
  ((int)((const char *)lua_touserdata(L, lua_upvalueindex(i)) - lstag))

static int lsfamilytag (int family) {
  int i;
  for (i = 0; i < 4; i++)
    if (lsfamilies[i] == family) return i;
  return 0;
}


/*
** A method's object: one of the kind in upvalue 2 (lspushtag), else
** LuaSocket's "calling 'm' on bad self (tcp{any} expected)", whose
** text is upvalue 1.
*/
static lsObject *lscheckkind (lua_State *L) {
  lua_Integer kind;
  lsObject *o = lstoobject(L, 1, &kind);
  if (o == NULL || kind != lsuptag(L, 2))
    luaL_argerror(L, 1, lua_tostring(L, lua_upvalueindex(1)));
  return o;
}


/*
** The netsock timeout of LuaSocket's block and total timeouts, for the
** calls the layer leaves to netsock (connect, accept, datagrams). NaN
** as LuaSocket's timeout.c takes it: a NaN total never waits; a NaN
** block never waits alone and leaves a total to bound the call.
*/
static double lseffective (const lsObject *o) {
  double b = o->tb, t = o->tt;
  if (t != t) return 0;
  if (b != b) return t < 0 ? 0 : t;
  if (b < 0) return t < 0 ? -1 : t;
  if (t < 0 || b < t) return b;
  return t;
}

static void lsapply (lsObject *o) {
  if (o->s != NULL) o->s->timeout = lseffective(o);
}


/* core._lsclass(mt, kind): mt becomes a class of objects of 'kind' */
static int ls_class (lua_State *L) {
  lua_Integer kind = luaL_checkinteger(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, 1 <= kind && kind <= 4, 2, "kind out of range");
  lua_pushinteger(L, kind);
  lua_rawsetp(L, 1, &lskey);
  return 0;
}


/* o's socket becomes 's', the socket at idx (or none: NULL, idx
   nil or false), with o's timeouts; user value 1 keeps it alive */
static void lsputsock (lua_State *L, lsObject *o, int oidx, int idx,
                       nsSocket *s) {
  if (s != NULL) lua_pushvalue(L, idx);
  else lua_pushboolean(L, 0);
  lua_setiuservalue(L, oidx, UV_SOCK);
  o->s = s;
  o->crfree = 0;
  lsapply(o);
}

/* the same, for a value at idx not known to be a socket */
static void lssetsock (lua_State *L, lsObject *o, int oidx, int idx) {
  lsputsock(L, o, oidx, idx,
            lua_toboolean(L, idx) ? ns_checksocket(L, idx) : NULL);
}


/* the kinds' and families' names, as the Lua side has them */
static const char *const lskinds[] = {"tcp", "udp", "unixstream", "unixdgram", NULL};

static int lscheckkindname (lua_State *L, int idx) {
  return luaL_checkoption(L, idx, NULL, lskinds) + 1;
}

/* "inet", "inet6", "unix" (or false, nil: not yet known, 0) at idx */
static int lscheckfamily (lua_State *L, int idx) {
  static const char *const names[] = {"inet", "inet6", "unix", NULL};
  static const int values[] = {AF_INET, AF_INET6, AF_UNIX};
  if (!lua_toboolean(L, idx)) return 0;
  return values[luaL_checkoption(L, idx, NULL, names)];
}


/*
** A new object of the class at 'mt' (an index), of 'kind', family
** 'family' (0: not yet known), with the netsock socket at 'sock' (0 or
** nil: none yet); no timeouts; its age counts from now. A stream
** object has one user value (its socket), a datagram one five.
*/
static lsObject *lsnewobject (lua_State *L, int mt, int kind, int family,
                              int sock, nsSocket *s) {
  lsObject *o = (lsObject *)lua_newuserdatauv(L, sizeof(lsObject),
                                    ls_isdgram(kind) ? LS_DGRAMNUV : 1);
  int top = lua_gettop(L);
  o->s = NULL;
  o->tb = o->tt = -1.0;
  o->birth = lsgettime();
  o->nrecv = o->nsent = 0;
  o->crfree = 0;
  o->family = family;
  o->kind = (unsigned char)kind;
  o->connecting = o->failed = o->waited = 0;
  lua_pushvalue(L, mt);
  lua_setmetatable(L, top);   /* (not finalized: the class's __gc is not raw) */
  if (s != NULL) lsputsock(L, o, top, sock, s);
  else if (sock != 0 && !lua_isnil(L, sock)) lssetsock(L, o, top, sock);
  return o;   /* (user value 1 nil: core._lsget says false) */
}

/* core._lsnew(class, kind, family [, socket]) */
static int ls_new (lua_State *L) {
  int kind, family;
  if (lsclasskind(L, 1) == 0) luaL_typeerror(L, 1, "netsock.luasocket class");
  kind = lscheckkindname(L, 2);
  family = lscheckfamily(L, 3);
  lua_settop(L, 4);
  lsnewobject(L, 1, kind, family, 4, NULL);
  return 1;
}


/* socket.tcp() and socket.udp(): an object of the class, kind and
   family (0: not yet known) in upvalues 1, 2, 3 */
static int ls_make (lua_State *L) {
  lsnewobject(L, lua_upvalueindex(1), lsuptag(L, 2),
              lsfamilies[lsuptag(L, 3)], 0, NULL);
  return 1;
}

/* core._lsfactory(class, kind, family) */
static int ls_factory (lua_State *L) {
  int kind, family;
  if (lsclasskind(L, 1) == 0) luaL_typeerror(L, 1, "netsock.luasocket class");
  kind = lscheckkindname(L, 2);
  family = lscheckfamily(L, 3);
  lua_settop(L, 1);
  lspushtag(L, kind);
  lspushtag(L, lsfamilytag(family));
  lua_pushcclosure(L, ls_make, 3);
  return 1;
}


/* core._lsget(o, i): field i (the socket: i = 1) */
static int ls_get (lua_State *L) {
  lua_Integer i = luaL_checkinteger(L, 2);
  lsObject *o = lscheckobject(L, 1);
  luaL_argcheck(L, 1 <= i && i <= LS_NFIELD, 2, "no such field");
  switch (i) {
    case UV_SOCK:   /* (close leaves the closed socket in user value 1) */
      if (o->s == NULL) lua_pushboolean(L, 0);
      else lua_getiuservalue(L, 1, 1);
      break;
    case UV_FAM:
      if (o->family == 0) lua_pushboolean(L, 0);
      else lua_pushstring(L, ns_familyname(o->family));
      break;
    case UV_KIND: lua_pushstring(L, lskinds[o->kind - 1]); break;
    case UV_CONNECTING:
      if (o->connecting) lua_pushboolean(L, 1); else lua_pushnil(L);
      break;
    case UV_FAILED:
      if (o->failed) lua_pushboolean(L, 1); else lua_pushnil(L);
      break;
    default:   /* a datagram's; nil on a stream object */
      lua_getiuservalue(L, 1, (int)(i - UV_TOHOST + 2));
  }
  return 1;
}


/* core._lsset(o, i, v): field i (> 2, not the kind) becomes v; the
   socket (i = 1) takes o's timeouts */
static int ls_set (lua_State *L) {
  lua_Integer i = luaL_checkinteger(L, 2);
  lsObject *o = lscheckobject(L, 1);
  luaL_argcheck(L, 1 <= i && i <= LS_NFIELD && i != UV_KIND, 2, "no such field");
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  switch (i) {
    case UV_SOCK: lssetsock(L, o, 1, 3); break;
    case UV_FAM: o->family = lscheckfamily(L, 3); break;
    case UV_CONNECTING: o->connecting = (unsigned char)lua_toboolean(L, 3); break;
    case UV_FAILED: o->failed = (unsigned char)lua_toboolean(L, 3); break;
    default:
      luaL_argcheck(L, lua_setiuservalue(L, 1, (int)(i - UV_TOHOST + 2)), 2,
                    "no such field");
  }
  return 0;
}


/* core._lssetclass(o, class): connect, listen and setpeername move an
   object from class to class, as LuaSocket's */
static int ls_setclass (lua_State *L) {
  lua_Integer kind;
  lsObject *o = lstoobject(L, 1, &kind);
  luaL_argcheck(L, o != NULL, 1, "netsock.luasocket object expected");
  luaL_argcheck(L, lsclasskind(L, 2) == kind, 2, "a class of the object's kind expected");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}


/* core._lsreapply(o): the socket takes o's timeouts again (after the
   layer changed them for one call) */
static int ls_reapply (lua_State *L) {
  lsapply(lscheckobject(L, 1));
  return 0;
}

/* }====== */


/* {====== Methods every kind has ====== */

/* o:close(): the socket goes; always 1. (User value 1 keeps the closed
   netsock socket until the object goes: o->s NULL says "none".) */
static int ls_close (lua_State *L) {
  lsObject *o = lscheckkind(L);
  nsSocket *s = o->s;
  if (s != NULL) {
    o->s = NULL;
    ns_close(L, s);
  }
  lua_pushnumber(L, 1.0);
  return 1;
}


/* __gc: the socket is closed as the object goes (it may have been
   finalized first: then it is closed already) */
static int ls_gc (lua_State *L) {
  lua_Integer kind;
  lsObject *o = lstoobject(L, 1, &kind);
  if (o != NULL && o->s != NULL) {
    nsSocket *s = o->s;
    o->s = NULL;
    s->waiters = 0;
    ns_close(L, s);
  }
  return 0;
}


static int ls_getfd (lua_State *L) {
  lsObject *o = lscheckkind(L);
  lua_pushnumber(L, o->s != NULL ? (lua_Number)o->s->fd : -1.0);
  return 1;
}


/* o:dirty(): whether bytes wait in the receive buffer */
static int ls_dirty (lua_State *L) {
  lsObject *o = lscheckkind(L);
  lua_pushboolean(L, o->s != NULL && o->s->fd >= 0 && ns_pending(o->s) > 0);
  return 1;
}


/* o:settimeout([t [, mode]]) as LuaSocket's timeout_meth_settimeout */
static int ls_settimeout (lua_State *L) {
  lsObject *o = lscheckkind(L);
  if (lua_type(L, 2) == LUA_TNUMBER && lua_isnoneornil(L, 3))
    o->tb = lua_tonumber(L, 2);    /* (the common call) */
  else {
    double t = luaL_optnumber(L, 2, -1.0);
    const char *mode = luaL_optstring(L, 3, "b");
    switch (*mode) {
      case 'b': o->tb = t; break;
      case 't': case 'r': o->tt = t; break;
      default: return luaL_argerror(L, 3, "invalid timeout mode");
    }
  }
  lsapply(o);
  lua_pushnumber(L, 1.0);
  return 1;
}


static int ls_gettimeout (lua_State *L) {
  lsObject *o = lscheckkind(L);
  lua_pushnumber(L, o->tb);
  lua_pushnumber(L, o->tt);
  return 2;
}

/* }====== */


/* {====== connect and accept of tcp ====== */

/*
** What the C methods leave to the layer's Lua method (upvalue 'up'):
** the rare cases. Yieldable: the Lua method may wait inside a task.
*/
static int lsfallback_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  return lua_gettop(L);
}

static int lsfallbackat (lua_State *L, int up) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(up));
  lua_insert(L, 1);
  lua_callk(L, n, LUA_MULTRET, 0, lsfallback_k);
  return lua_gettop(L);
}

/*
** o:connect(host, port) of a tcp{master} or tcp{client}, as sock.lua's
** (upvalue 3) does it, for the common call: a numeric host, a port of
** digits, no connect under way or failed before. The socket is made
** here as netsock.socket makes it, and connected by netsock's connect
** less the host name starttls would check (ns_connect_nohost: the
** layer's objects have no starttls). Upvalues: 1 and 2 the master and
** client classes, 3 the Lua method, 4 the Lua side of a failure
** (connectfailed), 5 the words. stack: 1 o, 2 host, 3 port, 4 the
** family before (an AF_* number, 0: not known), 5..7 connect's results.
*/
static int ls_connect_k (lua_State *L, int status, lua_KContext ctx) {
  int fam0;
  (void)status;
  if (lua_toboolean(L, 5)) {
    if (ctx == 0) {   /* a master becomes a client */
      lua_pushvalue(L, lua_upvalueindex(2));
      lua_setmetatable(L, 1);
    }
    lua_pushnumber(L, 1.0);
    return 1;
  }
  fam0 = (int)lua_tointeger(L, 4);
  lua_pushvalue(L, lua_upvalueindex(4));
  lua_pushvalue(L, 1);
  if (fam0 != 0) lua_pushstring(L, ns_familyname(fam0));
  else lua_pushboolean(L, 0);
  lua_pushvalue(L, 6);
  lua_pushvalue(L, 7);
  lua_call(L, 4, 2);
  return 2;
}

static int ls_connect (lua_State *L) {
  lsObject *o = (lsObject *)lua_touserdata(L, 1);
  size_t hlen, plen;
  const char *host, *port;
  int family, pnum, client, master;
  if (o == NULL || !lua_getmetatable(L, 1))
    return lsfallbackat(L, 3);    /* (which raises LuaSocket's message) */
  client = lua_rawequal(L, -1, lua_upvalueindex(2));
  master = client || lua_rawequal(L, -1, lua_upvalueindex(1));
  lua_pop(L, 1);
  if (!master) return lsfallbackat(L, 3);
  host = luaL_checklstring(L, 2, &hlen);   /* (numbers become text) */
  port = luaL_checklstring(L, 3, &plen);
  pnum = ns_lsnumaddr(host, hlen, port, plen, &family);
  lua_settop(L, 3);
  if (pnum < 0 || o->connecting || o->failed
      || (o->family != 0   /* (sock.lua's connectone decides then) */
          ? o->family != family : o->s != NULL))
    return lsfallbackat(L, 3);
  lua_pushinteger(L, o->family);                         /* 4 */
  if (o->s == NULL) {   /* a socket of the address's family */
    nsSocket *s = ns_newsocket(L, family, SOCK_STREAM, 0, -1.0);   /* 5 */
    s->fd = ns_sys_socket(family, SOCK_STREAM, 0);
    if (s->fd < 0) {
      int err = errno;
      lua_pushnil(L);
      ns_lserror(L, NS_ERRNO, err, lua_upvalueindex(5));
      return 2;
    }
    if (family == AF_INET6) {  /* as LuaSocket's tcp6: IPv6 only */
      int on = 1;
      (void)setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    }
    lsputsock(L, o, 1, 5, s);
    o->family = family;
    lua_settop(L, 4);
  }
  lua_pushcfunction(L, ns_connect_nohost);
  lua_getiuservalue(L, 1, UV_SOCK);
  lua_pushvalue(L, 2);
  lua_pushinteger(L, pnum);
  lua_callk(L, 3, 3, client, ls_connect_k);
  return ls_connect_k(L, LUA_OK, client);
}

/* core._lsconnect(master, client, luaconnect, failed, words) */
static int ls_newconnect (lua_State *L) {
  lua_settop(L, 5);
  lua_pushcclosure(L, ls_connect, 5);
  return 1;
}


/*
** o:accept() of a stream server: a client object around a netsock
** socket made here, as netsock's accept makes it (socket.c's accept_k:
** the socket before the descriptor, so that a memory error leaks
** nothing), without the peer's address that netsock's returns and the
** layer drops. Upvalues: 1 the server class, 2 the client class, 3 the
** Lua method (misuse, no socket), 4 the words, 5 the kind, 6 the
** clients' family (tags: lspushtag; family 0: the server's). stack: 1 o, 2 the deadline, 3 the
** server's netsock socket (alive while the call waits).
*/
static int ls_accept_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = (nsSocket *)lua_touserdata(L, 3), *c;
  lsObject *o = (lsObject *)lua_touserdata(L, 1);
  nsResult r = NS_CLOSED;
  int err = 0;
  (void)status;
  while (s->fd >= 0) {
    int fd;
    lua_settop(L, 3);
    c = ns_newsocket(L, s->family, s->type, s->protocol, -1.0); /* 4 */
    ns_callflags(L, s, NS_READ | NS_NOFLAGS, lua_tonumber(L, 2));
    fd = ns_sys_accept(s->fd, NULL, NULL);
    if (fd >= 0) {
      int family = lsfamilies[lsuptag(L, 6)];
      c->fd = fd;
      lsnewobject(L, lua_upvalueindex(2), lsuptag(L, 5),
                  family != 0 ? family : o->family, 4, c);
      return 1;
    }
    if (errno == ECONNABORTED || ns_retry(L))
      continue;  /* a client that left before we took it: next one */
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      r = NS_ERRNO; err = errno;
      break;
    }
    lua_settop(L, 3);
    r = ns_block(L, s, NS_READ, lua_tonumber(L, 2), ctx, ls_accept_k);
    if (r != NS_AGAIN) { err = errno; break; }
    r = NS_CLOSED;
  }
  lua_pushnil(L);
  ns_lserror(L, r, err, lua_upvalueindex(4));
  return 2;
}

static int ls_accept (lua_State *L) {
  lsObject *o = (lsObject *)lua_touserdata(L, 1);
  int server = 0;
  if (o != NULL && o->s != NULL && lua_getmetatable(L, 1)) {
    server = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
  }
  if (!server) return lsfallbackat(L, 3);
  lua_settop(L, 1);
  lua_pushnumber(L, ns_deadline(o->s->timeout));
  lua_getiuservalue(L, 1, UV_SOCK);
  return ls_accept_k(L, LUA_OK, 0);
}

/* core._lsaccept(server, client, luaaccept, words, kind, family) */
static int ls_newaccept (lua_State *L) {
  lua_settop(L, 6);
  lspushtag(L, lscheckkindname(L, 5));
  lua_replace(L, 5);
  lspushtag(L, lsfamilytag(lscheckfamily(L, 6)));
  lua_replace(L, 6);
  lua_pushcclosure(L, ls_accept, 6);
  return 1;
}

/* }====== */


/* {====== getstats, setstats ====== */

/* o:getstats(): bytes received (as receive returned them), bytes sent,
   the object's age in seconds */
static int ls_getstats (lua_State *L) {
  lsObject *o = lscheckclient(L);
  lua_pushnumber(L, o->nrecv);
  lua_pushnumber(L, o->nsent);
  lua_pushnumber(L, lsgettime() - o->birth);
  return 3;
}


/* o:setstats([received [, sent [, age]]]): 1 */
static int ls_setstats (lua_State *L) {
  lsObject *o = lscheckclient(L);
  double r = floor(luaL_optnumber(L, 2, o->nrecv));
  double t = floor(luaL_optnumber(L, 3, o->nsent));
  if (!lua_isnoneornil(L, 4)) o->birth = lsgettime() - luaL_checknumber(L, 4);
  o->nrecv = r;
  o->nsent = t;
  lua_pushnumber(L, 1.0);
  return 1;
}

/* }====== */


/* {====== Datagrams: udp receive and send ====== */

/* a datagram call's failure: nil and LuaSocket's word (upvalue 3) */
static int lsdgramfail (lua_State *L, nsResult r, int err) {
  lua_pushnil(L);
  ns_lserror(L, r, err, lua_upvalueindex(3));
  return 2;
}


/* stack: 1 o, 2 size, 3 deadline, 4 the socket */
static int lsudprecv_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = (nsSocket *)lua_touserdata(L, 4);
  size_t size = (size_t)lua_tointeger(L, 2);
  char buf[NS_STACKBUF];
  ssize_t n;
  nsResult r;
  (void)status;
  for (;;) {
    if (s->fd < 0) return lsdgramfail(L, NS_CLOSED, 0);
    do n = recv(s->fd, buf, size,
                ns_callflags(L, s, NS_READ, lua_tonumber(L, 3)));
    while (n < 0 && ns_retry(L));
    if (n >= 0) {   /* (0: an empty datagram, as LuaSocket's) */
      lua_pushlstring(L, buf, (size_t)n > size ? size : (size_t)n);
      return 1;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return lsdgramfail(L, NS_ERRNO, errno);
    r = ns_block(L, s, NS_READ, lua_tonumber(L, 3), ctx, lsudprecv_k);
    if (r != NS_AGAIN) return lsdgramfail(L, r, errno);
  }
}


/*
** o:receive([size]) of a udp object (udp.c's meth_receive): a
** datagram, up to 'size' bytes (8192). Upvalues: 1 the misuse
** message, 2 the kind, 3 the words, 4 the Lua method.
*/
static int ls_udpreceive (lua_State *L) {
  lsObject *o = lscheckkind(L);
  nsSocket *s = o->s;
  lua_Integer size = 8192;
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_isinteger(L, 2)) return lsfallbackat(L, 4);
    size = lua_tointeger(L, 2);
  }
  if (size < 0 || size > NS_STACKBUF || lua_gettop(L) > 2 || s == NULL
      || s->fd < 0 || ns_pending(s) > 0)
    return lsfallbackat(L, 4);
  lua_settop(L, 1);
  lua_pushinteger(L, size);
  lua_pushnumber(L, ns_deadline(s->timeout));
  lua_getiuservalue(L, 1, UV_SOCK);
  return lsudprecv_k(L, LUA_OK, 0);
}


/* stack: 1 o, 2 data, 3 deadline, 4 the socket */
static int lsudpsend_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = (nsSocket *)lua_touserdata(L, 4);
  size_t len;
  const char *data = lua_tolstring(L, 2, &len);
  ssize_t n;
  nsResult r;
  (void)status;
  for (;;) {
    if (s->fd < 0) return lsdgramfail(L, NS_CLOSED, 0);
    n = ns_sys_send(s->fd, data, len,
                    ns_callflags(L, s, NS_WRITE, lua_tonumber(L, 3)));
    if (n >= 0) {
      lua_pushnumber(L, (lua_Number)n);
      return 1;
    }
    if (ns_retry(L)) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return lsdgramfail(L, NS_ERRNO, errno);
    r = ns_block(L, s, NS_WRITE, lua_tonumber(L, 3), ctx, lsudpsend_k);
    if (r != NS_AGAIN) return lsdgramfail(L, r, errno);
  }
}


/*
** o:send(data) of a udp{connected} (udp.c's meth_send): the bytes
** sent, as a float. Upvalues: 1 the misuse message, 2 the class, 3 the
** words, 4 the Lua method.
*/
static int ls_udpsend (lua_State *L) {
  lsObject *o = lscheckclient(L);
  nsSocket *s = o->s;
  if (lua_type(L, 2) != LUA_TSTRING || s == NULL || s->fd < 0
      || !ns_io_plain(s))
    return lsfallbackat(L, 4);
  lua_settop(L, 2);
  lua_pushnumber(L, ns_deadline(s->timeout));
  lua_getiuservalue(L, 1, UV_SOCK);
  return lsudpsend_k(L, LUA_OK, 0);
}

/* }====== */


/*
** core._lsmethods(kind, anyname, client, clientname, words [, lua]):
** the C methods of one kind of object, in a table: close, getfd,
** dirty, settimeout, gettimeout and __gc (for any object of 'kind',
** misuse raising "anyname expected"); with a client class, for a
** stream kind receive, send, getstats and setstats of the client
** ("clientname expected"), for udp receive (any) and send (connected),
** which leave their rare cases to the Lua methods in the table 'lua'.
*/
static int ls_methods (lua_State *L) {
  static const luaL_Reg anyof[] = {
    {"close", ls_close}, {"getfd", ls_getfd}, {"dirty", ls_dirty},
    {"settimeout", ls_settimeout}, {"gettimeout", ls_gettimeout},
    {NULL, NULL}
  };
  static const luaL_Reg clientof[] = {
    {"receive", ns_ls_receive}, {"send", ns_ls_send},
    {"getstats", ls_getstats}, {"setstats", ls_setstats},
    {NULL, NULL}
  };
  lua_Integer kind = luaL_checkinteger(L, 1);
  const char *any = luaL_checkstring(L, 2);
  luaL_argcheck(L, 1 <= kind && kind <= 4, 1, "kind out of range");
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_settop(L, 6);                                  /* 6: the Lua methods */
  lua_newtable(L);                                   /* 7: the C methods */
  lua_pushfstring(L, "%s expected", any);
  lspushtag(L, (int)kind);
  luaL_setfuncs(L, anyof, 2);
  lua_pushcfunction(L, ls_gc);
  lua_setfield(L, 7, "__gc");
  if (kind == 2) {   /* udp */
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 6, LUA_TTABLE);
    lua_pushfstring(L, "%s expected", any);
    lspushtag(L, (int)kind);
    lua_pushvalue(L, 5);
    lua_getfield(L, 6, "receive");
    lua_pushcclosure(L, ls_udpreceive, 4);
    lua_setfield(L, 7, "receive");
    lua_pushfstring(L, "%s expected", luaL_checkstring(L, 4));
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 5);
    lua_getfield(L, 6, "send");
    lua_pushcclosure(L, ls_udpsend, 4);
    lua_setfield(L, 7, "send");
  }
  else if (lua_toboolean(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushfstring(L, "%s expected", luaL_checkstring(L, 4));
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 5);
    luaL_setfuncs(L, clientof, 3);
  }
  return 1;
}


static const luaL_Reg ls_funcs[] = {
  {"_lsmethods", ls_methods},
  {"_lsclass", ls_class},
  {"_lsnew", ls_new},
  {"_lsfactory", ls_factory},
  {"_lsconnect", ls_newconnect},
  {"_lsaccept", ls_newaccept},
  {"_lsget", ls_get},
  {"_lsset", ls_set},
  {"_lssetclass", ls_setclass},
  {"_lsreapply", ls_reapply},
  {NULL, NULL}
};


void ns_luasocket_open (lua_State *L) {
  luaL_setfuncs(L, ls_funcs, 0);
  ns_lsutil_open(L);
}
