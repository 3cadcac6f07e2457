/*
** lsstream.c: the data path of netsock.luasocket's stream clients,
** receive and send, with LuaSocket 3.1's patterns, results and
** timeouts, over netsock's receive buffer and transport (io.c).
**
** Timeouts as LuaSocket's timeout.c counts them: each call marks its
** start once; every wait inside it gets what its budget leaves, the
** block timeout alone ends the call 'tb' after its start, the total
** alone 'tt' after it, and with both each wait is at most 'tb' and the
** call at most 'tt' (timeout_getretry). Bytes received stay in the
** socket's buffer until a pattern is complete, so the state of a call
** that waits inside a task is a few numbers on its stack and that
** buffer.
*/
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "lsint.h"


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



/*
** A wait of receive or send. An object's first wait polls (ns_wait);
** later ones may sleep in the kernel (ns_block: outside tasks, a
** blocking descriptor). The switch to kernel waits costs two fcntl and
** a setsockopt once per socket and saves a poll and a call per wait
** after it: a connection that waits once (an HTTP request's answer,
** socket.http's connection per request) would pay five system calls
** where polling makes three (recv, poll, recv; LuaSocket's too).
*/
static nsResult lsblock (lua_State *L, lsObject *o, nsSocket *s, int events,
                         double dl, lua_KContext ctx, lua_KFunction k) {
  if (o->waited || (events & NS_NOPOLL))
    return ns_block(L, s, events, dl, ctx, k);
  o->waited = 1;
  return ns_wait(L, s, events, dl, ctx, k);
}

/* }====== */


/* {====== Results ====== */



/*
** LuaSocket's word for a failure: the result 'r' as netsock words it
** (nil, message, code), then the code looked up in the layer's table of
** words (upvalue 'words'); the message where it has none. Pushes one
** string.
*/
void ns_lserror (lua_State *L, nsResult r, int err, int words) {
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
  size_t avail = ns_pending(s), used = n + skip;
  if (nocr) {   /* what is buffered is scanned for '\r' once, not per line */
    if (o->crfree > avail) o->crfree = 0;
    if (n > o->crfree) {
      const char *cr = (const char *)memchr(p + o->crfree, '\r', avail - o->crfree);
      o->crfree = cr != NULL ? (size_t)(cr - p) : avail;
    }
  }
  if (nocr && o->crfree + 1 == n)
    lua_pushlstring(L, p, n - 1);   /* a line's one '\r', before its '\n' */
  else if (nocr && n > o->crfree) {
    luaL_Buffer b;
    size_t i, m = 0;
    char *q = luaL_buffinitsize(L, &b, n);
    for (i = 0; i < n; i++)
      if (p[i] != '\r') q[m++] = p[i];
    luaL_pushresultsize(&b, m);
  }
  else lua_pushlstring(L, p, n);
  if (used > 0) ns_buf_consume(s, used);
  o->crfree = o->crfree > used ? o->crfree - used : 0;
  o->nrecv += (double)used;
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
    r = lsblock(L, o, s, ns_io_events(s, NS_READ), dl, kind, lsrecv_k);
    if (r != NS_AGAIN) { err = errno; break; }
  }
  /* a failure: nil, the word, and everything buffered as the partial */
  if (eof) r = NS_CLOSED;
  lua_pushnil(L);
  ns_lserror(L, r, err, 4);
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
int ns_ls_receive (lua_State *L) {
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
    r = lsblock(L, o, s, ns_io_events(s, NS_WRITE), dl, (lua_KContext)first,
                lssend_k);
    if (r != NS_AGAIN) { err = errno; break; }
  }
  o->nsent += (double)(i - first);
  lua_pushnil(L);
  ns_lserror(L, r, err, 4);
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
int ns_ls_send (lua_State *L) {
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
