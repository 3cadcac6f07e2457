/*
** luasocket.c: netsock.luasocket's objects (LuaSocket's tcp, udp and
** unix objects) and their data path: receive and send with LuaSocket
** 3.1's patterns, results and timeouts, and the calls every request
** makes (settimeout, close, getfd, dirty, getstats).
**
** An object is a userdata (lsObject) whose metatable is its class
** (tcp{client}, ...: tables lua/netsock/luasocket/sock.lua builds and
** registers with core._lsclass); its netsock socket is user value 1,
** and what only the Lua methods need (family, kind, a connect under
** way, udp sendto's last destination) are the other user values. The
** hot methods read the struct; the rare ones stay in Lua.
**
** Timeouts as LuaSocket's timeout.c counts them: each call marks its
** start once; every wait inside it gets what its budget leaves, the
** block timeout alone ends the call 'tb' after its start, the total
** alone 'tt' after it, and with both each wait is at most 'tb' and the
** call at most 'tt' (timeout_getretry). Bytes received stay in the
** socket's buffer (socket.c) until a pattern is complete, so the state
** of a call that waits inside a task is its stack and that buffer.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "netsock.h"


/* {====== The objects ====== */

typedef struct lsObject {
  nsSocket *s;          /* user value UV_SOCK's socket; NULL: none */
  double tb, tt;        /* block and total timeouts (seconds, < 0: none;
                           NaN kept as given, as LuaSocket keeps it) */
  double birth;         /* wall-clock seconds at creation (getstats) */
  double nrecv, nsent;  /* getstats: bytes receive returned, send sent */
} lsObject;

/* the user values: the socket (or false), then what the Lua methods keep */
enum {
  UV_SOCK = 1,   /* the netsock socket, false when none */
  UV_FAM,        /* "inet", "inet6", "unix", or false: not yet known */
  UV_KIND,       /* "tcp", "udp", "unixstream", "unixdgram" */
  UV_CONNECTING, /* true while a connect goes on in the background */
  UV_FAILED,     /* true after a connect that failed */
  UV_TOHOST,     /* udp sendto's last destination as given, */
  UV_TOPORT,
  UV_TOADDR,     /* and as looked up */
  UV_TOPORTN,
  LS_NUV = UV_TOPORTN
};

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


/* the object at idx and its kind, or NULL (kind 0) */
static lsObject *lstoobject (lua_State *L, int idx, lua_Integer *kind) {
  lsObject *o = (lsObject *)lua_touserdata(L, idx);
  *kind = 0;
  if (o != NULL && lua_getmetatable(L, idx)) {
    *kind = lsclasskind(L, -1);
    lua_pop(L, 1);
    if (*kind != 0 && lua_rawlen(L, idx) == sizeof(lsObject)) return o;
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
** A method's object: one of the kind in upvalue 2 (a number), else
** LuaSocket's "calling 'm' on bad self (tcp{any} expected)", whose
** text is upvalue 1.
*/
static lsObject *lscheckkind (lua_State *L) {
  lua_Integer kind;
  lsObject *o = lstoobject(L, 1, &kind);
  if (o == NULL || kind != lua_tointeger(L, lua_upvalueindex(2)))
    luaL_argerror(L, 1, lua_tostring(L, lua_upvalueindex(1)));
  return o;
}


/* whether the object at 1 is of the class in upvalue 2 (a client) */
static lsObject *lstoclient (lua_State *L) {
  lsObject *o = (lsObject *)lua_touserdata(L, 1);
  if (o != NULL && lua_getmetatable(L, 1)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(2));
    lua_pop(L, 1);
    if (same) return o;
  }
  return NULL;
}

static lsObject *lscheckclient (lua_State *L) {
  lsObject *o = lstoclient(L);
  if (o == NULL) luaL_argerror(L, 1, lua_tostring(L, lua_upvalueindex(1)));
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


/* o's socket becomes the one at idx (or none: nil, false), with o's
   timeouts; user value UV_SOCK keeps it alive */
static void lssetsock (lua_State *L, lsObject *o, int oidx, int idx) {
  nsSocket *s = lua_toboolean(L, idx) ? ns_checksocket(L, idx) : NULL;
  if (s != NULL) lua_pushvalue(L, idx);
  else lua_pushboolean(L, 0);
  lua_setiuservalue(L, oidx, UV_SOCK);
  o->s = s;
  lsapply(o);
}


/*
** core._lsnew(class, kind, family [, socket]): a new object of 'class'
** (no socket yet unless given; no timeouts; its age counts from now)
*/
static int ls_new (lua_State *L) {
  lsObject *o;
  if (lsclasskind(L, 1) == 0) luaL_typeerror(L, 1, "netsock.luasocket class");
  luaL_checkstring(L, 2);
  lua_settop(L, 4);
  o = (lsObject *)lua_newuserdatauv(L, sizeof(lsObject), LS_NUV);
  o->s = NULL;
  o->tb = o->tt = -1.0;
  o->birth = lsgettime();
  o->nrecv = o->nsent = 0;
  lua_pushboolean(L, 0);
  lua_setiuservalue(L, -2, UV_SOCK);
  lua_pushvalue(L, 1);
  lua_setmetatable(L, -2);       /* (the class has __gc: o is finalized) */
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, UV_KIND);
  if (lua_toboolean(L, 3)) lua_pushvalue(L, 3);
  else lua_pushboolean(L, 0);
  lua_setiuservalue(L, -2, UV_FAM);
  if (!lua_isnil(L, 4)) lssetsock(L, o, 5, 4);
  return 1;
}


/* core._lsget(o, i): user value i (the socket: i = 1) */
static int ls_get (lua_State *L) {
  lua_Integer i = luaL_checkinteger(L, 2);
  lscheckobject(L, 1);
  luaL_argcheck(L, 1 <= i && i <= LS_NUV, 2, "no such field");
  lua_getiuservalue(L, 1, (int)i);
  return 1;
}


/* core._lsset(o, i, v): user value i (> 1) becomes v; the socket
   (i = 1) takes o's timeouts */
static int ls_set (lua_State *L) {
  lua_Integer i = luaL_checkinteger(L, 2);
  lsObject *o = lscheckobject(L, 1);
  luaL_argcheck(L, 1 <= i && i <= LS_NUV, 2, "no such field");
  luaL_checkany(L, 3);
  if (i == UV_SOCK) lssetsock(L, o, 1, 3);
  else {
    lua_settop(L, 3);
    lua_setiuservalue(L, 1, (int)i);
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

/* o:close(): the socket goes; always 1 */
static int ls_close (lua_State *L) {
  lsObject *o = lscheckkind(L);
  nsSocket *s = o->s;
  lua_settop(L, 1);
  if (s != NULL) {
    lua_getiuservalue(L, 1, UV_SOCK);   /* (keeps it alive meanwhile) */
    lua_pushboolean(L, 0);
    lua_setiuservalue(L, 1, UV_SOCK);
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


/* {====== LuaSocket's timeouts ====== */

/*
** A receive's or send's state. It lives in C while the call runs, and
** on the Lua stack (lssave, at the slots below) only while the call
** waits: a task's wait may resume it with a different C stack.
*/
typedef struct lsCall {
  double start;        /* the call's start, monotonic (< 0: not yet) */
  double tb, tt;       /* the object's block and total timeouts */
  double wait;         /* the deadline of the wait under way, or NOWAIT */
  lua_Integer count;   /* receive: bytes wanted / send: next index */
  lua_Integer more;    /* receive: line scan position / send: last index */
} lsCall;

/* stack slots of a waiting call (after 1 o, 2 and 3 the arguments,
   4 the words) */
#define S_SOCK   5   /* the netsock socket (keeps it alive) */
#define S_START  6
#define S_TB     7
#define S_TT     8
#define S_COUNT  9
#define S_MORE   10
#define S_WAIT   11

#define NOWAIT   (-2.0)

static void lsinit (lsCall *c, const lsObject *o, lua_Integer count,
                    lua_Integer more) {
  c->start = -1.0;
  c->tb = o->tb;
  c->tt = o->tt;
  c->wait = NOWAIT;
  c->count = count;
  c->more = more;
}

/* the state to the stack, before a wait that may yield */
static void lssave (lua_State *L, const lsCall *c) {
  lua_settop(L, 4);
  lua_getiuservalue(L, 1, UV_SOCK);
  lua_pushnumber(L, c->start);
  lua_pushnumber(L, c->tb);
  lua_pushnumber(L, c->tt);
  lua_pushinteger(L, c->count);
  lua_pushinteger(L, c->more);
  lua_pushnumber(L, c->wait);
}

/* and back, in the continuation */
static void lsload (lua_State *L, lsCall *c) {
  c->start = lua_tonumber(L, S_START);
  c->tb = lua_tonumber(L, S_TB);
  c->tt = lua_tonumber(L, S_TT);
  c->count = lua_tointeger(L, S_COUNT);
  c->more = lua_tointeger(L, S_MORE);
  c->wait = lua_tonumber(L, S_WAIT);
}


/*
** The call's start, taken when the call first has to know it: before
** its first wait or its first system call that may sleep in the kernel
** (until then the call has only run, never waited: a call answered at
** once reads no clock).
*/
static double lsstart (lsCall *c) {
  if (c->start < 0) c->start = ns_monotime();
  return c->start;
}


/*
** The deadline of the next wait (< 0: none), as timeout_getretry has
** it: the block budget counts from the call's start when alone; with a
** total too, each wait gets the block timeout, cut to what the total
** leaves.
*/
static double lsdeadline (lsCall *c) {
  double tb = c->tb, tt = c->tt;
  /* NaN as timeout.c's comparisons take it: a NaN total leaves nothing
     to wait; a NaN block nothing alone, and the total with a total */
  if (tt != tt) return lsstart(c);
  if (tb != tb) return tt < 0 ? lsstart(c) : lsstart(c) + tt;
  if (tb < 0 && tt < 0) return -1;
  if (tb < 0) return lsstart(c) + tt;
  if (tt < 0) return lsstart(c) + tb;
  {
    double end = lsstart(c) + tt, d = ns_monotime() + tb;
    return d < end ? d : end;
  }
}


/*
** The deadline of the wait under way: one wait lasts until bytes move,
** however many polls (or kernel waits) it takes; the next wait gets
** its own (lsdeadline). lsmoved() after bytes moved.
*/
static double lswait (lsCall *c) {
  if (c->wait == NOWAIT) c->wait = lsdeadline(c);
  return c->wait;
}

#define lsmoved(c)  ((c)->wait = NOWAIT)

/* the deadline a system call on 's' that may sleep in the kernel gets
   (ns_callflags reads it only then; a function's argument is computed
   first, so for ns_io_fill it is computed only when it will be read) */
#define lscalldl(c,s)  (((s)->fdblock || (s)->shared || !ns_io_plain(s)) \
                          ? lswait(c) : -1.0)

/* }====== */


/* {====== Results ====== */



/*
** LuaSocket's word for a failure: the result 'r' as netsock words it
** (nil, message, code), then the code looked up in the layer's table of
** words (upvalue 'words'); the message where it has none. Pushes one
** string.
*/
static void lserror (lua_State *L, nsResult r, int err, int words) {
  int top = lua_gettop(L);
  ns_pushresult(L, r, err);            /* nil, message, code */
  if (lua_getfield(L, words, lua_tostring(L, -1)) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushvalue(L, -2);              /* the message */
  }
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
}


/* push the first 'n' buffered bytes (every '\r' dropped when 'nocr')
   and take 'n + skip' of them, counted in getstats' received bytes of
   the object at 1 */
static void lstake (lua_State *L, lsObject *o, nsSocket *s, size_t n,
                    size_t skip, int nocr) {
  const char *p = s->rbuf ? s->rbuf + s->rhead : "";
  if (nocr && memchr(p, '\r', n) != NULL) {
    luaL_Buffer b;
    size_t i, m = 0;
    char *q = luaL_buffinitsize(L, &b, n);
    for (i = 0; i < n; i++)
      if (p[i] != '\r') q[m++] = p[i];
    luaL_pushresultsize(&b, m);
  }
  else lua_pushlstring(L, p, n);
  if (n + skip > 0) ns_buf_consume(s, n + skip);
  o->nrecv += (double)(n + skip);
}


/* the prefix at 3 (a string, or nil) before the value on top */
static void lsprefix (lua_State *L) {
  if (lua_type(L, 3) == LUA_TSTRING && lua_rawlen(L, 3) > 0) {
    lua_pushvalue(L, 3);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
}

/* }====== */


/* {====== receive ====== */

/*
** The receive engine. stack: 1 o, 2 pattern, 3 prefix (string or
** nil), 4 words; 'kind' is the pattern: 'l', 'a' or 'n' (c->count
** bytes). Returns LuaSocket's three values.
*/
static int lsrecv_k (lua_State *L, int status, lua_KContext ctx);

static int lsrecv (lua_State *L, lsObject *o, nsSocket *s, lsCall *c,
                   int kind) {
  size_t count = (size_t)c->count;
  int eof = 0, nocr = 0;
  nsResult r = NS_CLOSED;
  int err = 0;
  for (;;) {
    size_t avail, want;
    ssize_t got;
    double dl;
    if (s->fd < 0) break;    /* closed, by another task meanwhile */
    avail = ns_pending(s);
    if (kind == 'l') {
      size_t from = (size_t)c->more;
      const char *nl = NULL;
      nocr = 1;
      if (from > avail) from = 0;
      if (avail > from)
        nl = (const char *)memchr(s->rbuf + s->rhead + from, '\n', avail - from);
      if (nl != NULL) {
        lstake(L, o, s, (size_t)(nl - (s->rbuf + s->rhead)), 1, 1);
        goto done;
      }
      c->more = (lua_Integer)avail;
      if (eof) break;
      want = s->chunk;
    }
    else if (kind == 'a') {
      if (eof) {
        if (avail == 0) break;   /* nothing before the end: "closed" */
        lstake(L, o, s, avail, 0, 0);
        goto done;
      }
      want = avail > s->chunk ? avail : s->chunk;
    }
    else {
      if (count == 0 ? avail > 0 : avail >= count) {
        lstake(L, o, s, count, 0, 0);
        goto done;
      }
      if (eof) break;
      want = count == 0 ? s->chunk : count - avail;
      if (want > s->chunk && want > avail)  /* grow as data arrives */
        want = avail > s->chunk ? avail : s->chunk;
      else if (avail < s->chunk && want < s->chunk - avail)
        want = s->chunk - avail;  /* read ahead, as LuaSocket's buffer */
    }
    got = ns_io_fill(L, s, want, lscalldl(c, s));
    if (got > 0) { lsmoved(c); continue; }
    if (got == 0) { eof = 1; continue; }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      r = NS_ERRNO; err = errno;
      break;
    }
    dl = lswait(c);
    lssave(L, c);
    r = ns_block(L, s, ns_io_events(s, NS_READ), dl, kind, lsrecv_k);
    if (r != NS_AGAIN) { err = errno; break; }
  }
  /* a failure: nil, the word, and everything buffered as the partial */
  if (eof) r = NS_CLOSED;
  lua_pushnil(L);
  lserror(L, r, err, 4);
  lstake(L, o, s, s->fd < 0 ? 0 : ns_pending(s), 0, nocr);
  lsprefix(L);
  return 3;
done:
  lsprefix(L);
  lua_pushnil(L);
  lua_pushnil(L);
  return 3;
}

/* a receive resumed after a wait (the state on the stack) */
static int lsrecv_k (lua_State *L, int status, lua_KContext ctx) {
  lsCall c;
  (void)status;
  lsload(L, &c);
  return lsrecv(L, (lsObject *)lua_touserdata(L, 1),
                (nsSocket *)lua_touserdata(L, S_SOCK), &c, (int)ctx);
}


/*
** The common calls answered at once, from what socket 's' has
** buffered: o:receive() or o:receive("*l"), with or without a string
** prefix, with a whole line buffered; and o:receive(n), no prefix, with
** n bytes buffered (1: pushed, with nil, nil). 'top' is the count of
** arguments (at most 3).
*/
static int fastline (lua_State *L, lsObject *o, nsSocket *s, int top) {
  const char *nl;
  int prefix = 0;
  if (top >= 3) {
    int t3 = lua_type(L, 3);
    if (t3 == LUA_TSTRING) prefix = 1;
    else if (t3 != LUA_TNIL) return 0;
  }
  if (top >= 2) {
    int t2 = lua_type(L, 2);
    if (t2 == LUA_TSTRING) {
      const char *p = lua_tostring(L, 2);
      if (p[0] != '*' || p[1] != 'l') return 0;
    }
    else if (t2 == LUA_TNUMBER) {
      lua_Integer n;
      if (!lua_isinteger(L, 2) || prefix) return 0;
      n = lua_tointeger(L, 2);
      if (n <= 0 || ns_pending(s) < (size_t)n) return 0;
      lstake(L, o, s, (size_t)n, 0, 0);
      goto done;
    }
    else if (t2 != LUA_TNIL) return 0;
  }
  nl = (const char *)memchr(s->rbuf + s->rhead, '\n', ns_pending(s));
  if (nl == NULL) return 0;
  lstake(L, o, s, (size_t)(nl - (s->rbuf + s->rhead)), 1, 1);
  if (prefix) lsprefix(L);
done:
  lua_pushnil(L);
  lua_pushnil(L);
  return 1;
}


/*
** o:receive([pattern [, prefix]]) for a stream client (buffer.c's
** buffer_meth_receive). Upvalues: 1 the misuse message ("tcp{client}
** expected"), 2 the client class, 3 the words.
*/
static int ls_receive (lua_State *L) {
  lsObject *o = lscheckclient(L);
  nsSocket *s = o->s;   /* (user value UV_SOCK keeps it alive) */
  int kind, t;
  size_t plen = 0;
  lua_Integer count = 0;
  int top = lua_gettop(L);
  if (top <= 3 && s != NULL && s->fd >= 0 && ns_pending(s) > 0
      && fastline(L, o, s, top))
    return 3;
  lua_settop(L, 3);
  lua_pushvalue(L, lua_upvalueindex(3));                  /* 4 words */
  luaL_optlstring(L, 3, "", &plen);
  /* (a pattern starting with '*' is no number: no conversion tried) */
  t = lua_type(L, 2);
  if (!(t == LUA_TNUMBER || (t == LUA_TSTRING && *lua_tostring(L, 2) != '*'
                             && lua_isnumber(L, 2)))) {
    const char *p = luaL_optstring(L, 2, "*l");
    if (p[0] == '*' && p[1] == 'l') kind = 'l';
    else if (p[0] == '*' && p[1] == 'a') kind = 'a';
    else return luaL_argerror(L, 2, "invalid receive pattern");
  }
  else {
    double n = lua_tonumber(L, 2);
    luaL_argcheck(L, n >= 0, 2, "invalid receive pattern");
    count = n >= 0x1p62 ? ((lua_Integer)1 << 62) : (lua_Integer)n;
    kind = 'n';
    if (plen > 0) {
      if ((size_t)count <= plen) {  /* the prefix alone, whole */
        lua_pushvalue(L, 3);
        lua_pushnil(L);
        lua_pushnil(L);
        return 3;
      }
      count -= (lua_Integer)plen;
    }
  }
  if (s == NULL || s->fd < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    if (lua_type(L, 3) == LUA_TSTRING) lua_pushvalue(L, 3);
    else lua_pushliteral(L, "");
    return 3;
  }
  {
    lsCall c;
    lsinit(&c, o, count, 0);
    return lsrecv(L, o, s, &c, kind);
  }
}

/* }====== */


/* {====== send ====== */

/* (long) of a double as LuaSocket's luaL_optnumber casts get it on the
   machines it runs on: out of range and NaN are LONG_MIN (x86's
   conversion), without C's undefined behaviour */
static long tolong (double d) {
  if (!(d > (double)LONG_MIN && d < (double)LONG_MAX)) return LONG_MIN;
  return (long)d;
}


/*
** The send engine. stack: 1 o, 2 data, 3 i as given, 4 words; c->count
** the next index to send, c->more the last, 'first' the first (for
** getstats). Returns LuaSocket's three values.
*/
static int lssend_k (lua_State *L, int status, lua_KContext ctx);

static int lssend (lua_State *L, lsObject *o, nsSocket *s, lsCall *c,
                   lua_Integer first) {
  const char *data = lua_tostring(L, 2);
  lua_Integer i = c->count, j = c->more;
  nsResult r;
  int err = 0;
  for (;;) {
    ssize_t n;
    double dl;
    if (s->fd < 0) { r = NS_CLOSED; break; }
    if (i > j) {
      o->nsent += (double)(i - first);
      lua_pushnumber(L, (lua_Number)j);
      lua_pushnil(L);
      lua_pushnil(L);
      return 3;
    }
    n = ns_io_send(L, s, data + i - 1, (size_t)(j - i + 1), NS_WRITE,
                   lswait(c));
    if (n >= 0) {
      if (n > 0) lsmoved(c);
      i += n;
      continue;
    }
    if (ns_retry(L)) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      r = NS_ERRNO; err = errno;
      break;
    }
    c->count = i;
    dl = lswait(c);
    lssave(L, c);
    r = ns_block(L, s, ns_io_events(s, NS_WRITE), dl, (lua_KContext)first,
                 lssend_k);
    if (r != NS_AGAIN) { err = errno; break; }
  }
  o->nsent += (double)(i - first);
  lua_pushnil(L);
  lserror(L, r, err, 4);
  lua_pushnumber(L, (lua_Number)(i - 1));
  return 3;
}

/* a send resumed after a wait (the state on the stack) */
static int lssend_k (lua_State *L, int status, lua_KContext ctx) {
  lsCall c;
  (void)status;
  lsload(L, &c);
  return lssend(L, (lsObject *)lua_touserdata(L, 1),
                (nsSocket *)lua_touserdata(L, S_SOCK), &c, (lua_Integer)ctx);
}


/*
** o:send(data [, i [, j]]) for a stream client (buffer.c's
** buffer_meth_send): the index of the last byte sent, as a float.
** Upvalues as ls_receive's.
*/
static int ls_send (lua_State *L) {
  lsObject *o = lscheckclient(L);
  nsSocket *s = o->s;
  size_t size;
  const char *data = luaL_checklstring(L, 2, &size);
  long start = 1, end = (long)size;
  if (lua_gettop(L) > 2) {
    start = tolong(luaL_optnumber(L, 3, 1));
    end = tolong(luaL_optnumber(L, 4, -1));
    if (start < 0) start = (long)size + start + 1;
    if (end < 0) end = (long)size + end + 1;
    if (start < 1) start = 1;
    if (end > (long)size) end = (long)size;
  }
  /* the common case first: a plain socket of our own, which takes all
     of it at once (no clock read, no wait) */
  if (start <= end && s != NULL && s->fd >= 0 && ns_io_plain(s)
      && !s->fdblock && !s->shared) {
    ssize_t n = ns_sys_send(s->fd, data + start - 1, (size_t)(end - start + 1),
                            MSG_DONTWAIT);
    if (n > 0) {
      o->nsent += (double)n;
      start += n;
      if (start > end) {
        lua_pushnumber(L, (lua_Number)end);
        lua_pushnil(L);
        lua_pushnil(L);
        return 3;
      }
    }
  }
  lua_settop(L, 3);  /* (checklstring made a number its text) */
  lua_pushvalue(L, lua_upvalueindex(3));    /* 4 words */
  if (start > end) {
    lua_pushnumber(L, (lua_Number)(start - 1));
    lua_pushnil(L);
    lua_pushnil(L);
    return 3;
  }
  if (s == NULL || s->fd < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    lua_pushnumber(L, (lua_Number)(start - 1));
    return 3;
  }
  {
    lsCall c;
    lsinit(&c, o, start, end);
    return lssend(L, o, s, &c, start);
  }
}

/* }====== */


/* {====== ports ====== */

/*
** core._lsservice(port [, dgram]): the port number getaddrinfo makes of
** LuaSocket's port text, which LuaSocket hands it unchecked (a name from
** /etc/services, digits, whatever glibc makes of "70000"); or nil,
** message, code (EAI_SERVICE, ...). The layer then looks the host up
** with the number, as every other netsock call does.
*/
static int ls_service (lua_State *L) {
  const char *serv = luaL_checkstring(L, 1);
  struct addrinfo hints, *res = NULL;
  int r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = lua_toboolean(L, 2) ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  r = getaddrinfo(NULL, serv, &hints, &res);
  if (r != 0) return ns_gaifail(L, r, errno, NULL, serv);
  lua_pushinteger(L, ntohs(((struct sockaddr_in *)(void *)res->ai_addr)->sin_port));
  freeaddrinfo(res);
  return 1;
}

/*
** core._lsnumeric(host, port [, family]): udp sendto's lookup exactly as
** LuaSocket's (udp.c: getaddrinfo with AI_NUMERICHOST and AI_NUMERICSERV, a datagram
** socket, the port text as given): the first address as host, port,
** family; or nil and gai_strerror's text, as LuaSocket returns it.
** Numeric: it never waits on the network.
*/
static int ls_numeric (lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  const char *serv = luaL_checkstring(L, 2);
  const char *fam = luaL_optstring(L, 3, NULL);
  struct addrinfo hints, *res = NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  int r, family;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = fam == NULL ? AF_UNSPEC
                  : strcmp(fam, "inet6") == 0 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  r = getaddrinfo(host, serv, &hints, &res);
  if (r != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gai_strerror(r));
    return 2;
  }
  len = res->ai_addrlen <= sizeof ss ? res->ai_addrlen : (socklen_t)sizeof ss;
  memcpy(&ss, res->ai_addr, len);
  family = res->ai_family;
  freeaddrinfo(res);  /* before anything that may raise */
  ns_pushaddr(L, (struct sockaddr *)&ss, len);
  lua_pushstring(L, ns_familyname(family));
  return 3;
}


/*
** core._lsnofile(): the process's descriptor limit (the soft
** RLIMIT_NOFILE), the layer's socket._SETSIZE: LuaSocket's is select's
** FD_SETSIZE, a number of sockets a loop can reach; netsock's select has
** no ceiling, so the limit is the one the process has.
*/
static int ls_nofile (lua_State *L) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY
      || rl.rlim_cur > (rlim_t)INT_MAX)
    lua_pushinteger(L, INT_MAX);
  else
    lua_pushinteger(L, (lua_Integer)rl.rlim_cur);
  return 1;
}

/* }====== */


/* {====== Numeric addresses ====== */

/*
** core._lsnumaddr(host, port [, family]): the family ("inet" or
** "inet6") and the port number of a numeric host and a port of digits,
** which LuaSocket's getaddrinfo would answer with that one address and
** that port; nothing when either needs getaddrinfo (a name, "127.1",
** "070", a port above 65535, a scope, a host of the other family than
** 'family'), which the layer then asks as before. Connecting to an
** address as text then costs no lookup (docs/luasocket.md, "Speed").
*/
static int ls_numaddr (lua_State *L) {
  size_t hlen, plen, i;
  const char *host = lua_tolstring(L, 1, &hlen);
  const char *port = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &plen) : NULL;
  const char *fam = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
  unsigned char a[16];
  long n = 0;
  int family;
  if (host == NULL || port == NULL || plen == 0 || plen > 5 || hlen >= 46
      || lua_type(L, 1) != LUA_TSTRING || strlen(host) != hlen)
    return 0;
  for (i = 0; i < plen; i++) {
    if (port[i] < '0' || port[i] > '9') return 0;
    n = n * 10 + (port[i] - '0');
  }
  if (n > 65535) return 0;
  if (inet_pton(AF_INET, host, a) == 1) family = AF_INET;
  else if (inet_pton(AF_INET6, host, a) == 1) family = AF_INET6;
  else return 0;
  if (fam != NULL && strcmp(fam, ns_familyname(family)) != 0) return 0;
  lua_pushstring(L, ns_familyname(family));
  lua_pushinteger(L, n);
  return 2;
}

/* }====== */


/* {====== LuaSocket's skip, newtry and protect ====== */

/*
** As LuaSocket has them in C (its except.c and socket.skip): the
** error a try raises is a table { message } whose metatable is one the
** layer keeps (upvalue 1 of each function here; __metatable = false,
** so getmetatable(e) is false as LuaSocket's), and protect turns only
** those into nil, message. Protect's call is yieldable: inside a task
** the protected function may wait.
*/

/* socket.skip(d, ...): the arguments after the first d */
static int ls_skip (lua_State *L) {
  lua_Integer d = luaL_checkinteger(L, 1);
  int top = lua_gettop(L);
  if (d < 0) return top;          /* (a d below 0 keeps them all) */
  if (d >= top) return 0;
  return top - (int)d - 1;
}

/* a try: its arguments when the first is true; else the finalizer
   (upvalue 2) and the second argument raised, wrapped */
static int ls_try (lua_State *L) {
  if (lua_toboolean(L, 1))
    return lua_gettop(L);
  lua_settop(L, 2);
  if (lua_toboolean(L, lua_upvalueindex(2))) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 0, 0);
  }
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  return lua_error(L);
}

/* socket.newtry([finalizer]) */
static int ls_newtry (lua_State *L) {
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_pushcclosure(L, ls_try, 2);
  return 1;
}

static int ls_protected_k (lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  if (status == LUA_OK || status == LUA_YIELD)
    return lua_gettop(L);
  if (lua_type(L, -1) == LUA_TTABLE && lua_getmetatable(L, -1)) {
    int ours = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (ours) {
      lua_pushnil(L);
      lua_rawgeti(L, -2, 1);
      return 2;
    }
  }
  return lua_error(L);
}

/* the function socket.protect(f) returns: f(...) in a protected call */
static int ls_protected (lua_State *L) {
  int status;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  status = lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, ls_protected_k);
  return ls_protected_k(L, status, 0);
}

/* socket.protect(f) */
static int ls_protect (lua_State *L) {
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_pushcclosure(L, ls_protected, 2);
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

/*
** What the C methods leave to the layer's Lua method (upvalue 4): the
** rare cases (a size beyond the stack buffer, no socket yet, a count
** given as text). Yieldable: the Lua method may wait inside a task.
*/
static int lsfallback_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  return lua_gettop(L);
}

static int lsfallback (lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(4));
  lua_insert(L, 1);
  lua_callk(L, n, LUA_MULTRET, 0, lsfallback_k);
  return lua_gettop(L);
}


/* a datagram call's failure: nil and LuaSocket's word (upvalue 3) */
static int lsdgramfail (lua_State *L, nsResult r, int err) {
  lua_pushnil(L);
  lserror(L, r, err, lua_upvalueindex(3));
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
    if (!lua_isinteger(L, 2)) return lsfallback(L);
    size = lua_tointeger(L, 2);
  }
  if (size < 0 || size > NS_STACKBUF || lua_gettop(L) > 2 || s == NULL
      || s->fd < 0 || ns_pending(s) > 0)
    return lsfallback(L);
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
    return lsfallback(L);
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
    {"receive", ls_receive}, {"send", ls_send},
    {"getstats", ls_getstats}, {"setstats", ls_setstats},
    {NULL, NULL}
  };
  lua_Integer kind = luaL_checkinteger(L, 1);
  const char *any = luaL_checkstring(L, 2);
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_settop(L, 6);                                  /* 6: the Lua methods */
  lua_newtable(L);                                   /* 7: the C methods */
  lua_pushfstring(L, "%s expected", any);
  lua_pushinteger(L, kind);
  luaL_setfuncs(L, anyof, 2);
  lua_pushcfunction(L, ls_gc);
  lua_setfield(L, 7, "__gc");
  if (kind == 2) {   /* udp */
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 6, LUA_TTABLE);
    lua_pushfstring(L, "%s expected", any);
    lua_pushinteger(L, kind);
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
  {"_lsget", ls_get},
  {"_lsset", ls_set},
  {"_lssetclass", ls_setclass},
  {"_lsreapply", ls_reapply},
  {"_lsnofile", ls_nofile},
  {"_lsnumeric", ls_numeric},
  {"_lsservice", ls_service},
  {"_lsnumaddr", ls_numaddr},
  {"_lsskip", ls_skip},
  {NULL, NULL}
};


void ns_luasocket_open (lua_State *L) {
  luaL_setfuncs(L, ls_funcs, 0);
  /* newtry and protect share the metatable of the errors a try raises */
  lua_createtable(L, 0, 1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, ls_newtry, 1);
  lua_setfield(L, -3, "_lsnewtry");
  lua_pushcclosure(L, ls_protect, 1);
  lua_setfield(L, -2, "_lsprotect");
}
