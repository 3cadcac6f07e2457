/*
** file.c: file objects (s:makefile): buffered, line-oriented reads in C
** (memchr over the socket's receive buffer, one lua_pushlstring per
** line) and coalesced writes (one send per flush).
**
** Every byte received for a file stays in the socket's buffer
** (s->rbuf[rhead..rtail), socket.c) until a read format takes it, and
** s:recv drains that buffer first: whatever mix of calls a script
** makes, the bytes come out once and in order, and a timeout or an
** error midway loses nothing. Reads are continuations whose state lives
** in that buffer and on the Lua stack, so they work unchanged inside
** tasks.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netsock.h"


/* {====== Reading from the socket ====== */

/* push the first 'n' unread bytes, then drop 'n + skip' of them */
static void pushbytes (lua_State *L, nsSocket *s, size_t n, size_t skip) {
  if (n == 0) lua_pushliteral(L, "");
  else lua_pushlstring(L, s->rbuf + s->rhead, n);
  ns_buf_consume(s, n + skip);
}


/* }====== */


/* {====== File objects ====== */

#define F_READ    1
#define F_WRITE   2

#define VB_NO     0
#define VB_LINE   1
#define VB_FULL   2

/* largest buffer size setvbuf and makefile accept */
#define MAXVBUF   ((lua_Integer)1 << 30)

/* at most this many formats in one lines() (they are upvalues) */
#define MAXLINESFMT  250

/*
** A file object. Its socket is kept alive by user value 1; 's' is NULL
** once the file is closed. Bytes to send wait in wbuf[whead..wtail),
** which the file owns (freed by close and __gc). Received bytes live
** in the socket's buffer, shared with s:recv and the other files.
*/
typedef struct nsFile {
  nsSocket *s;
  int mode;             /* F_READ | F_WRITE */
  int vbuf;             /* VB_NO, VB_LINE, VB_FULL */
  size_t limit;         /* longest line, its end included */
  size_t wsize;         /* VB_FULL flushes once this many bytes wait */
  char *wbuf;
  size_t wcap, whead, wtail;
} nsFile;

#define wpending(f)  ((f)->wtail - (f)->whead)

/* results of findline besides a length */
#define L_NEED      ((size_t)-1)
#define L_OVERFLOW  ((size_t)-2)


/*
** The file at 'idx'. The methods carry the metatable as upvalue 1, so
** the check is one comparison instead of a registry lookup by name.
*/
static nsFile *tofile (lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (same) return (nsFile *)p;
  }
  luaL_typeerror(L, idx, NS_FILE);
  return NULL;
}


/* the file at 'idx', open, over an open socket, allowing 'need'
   (configuration methods: setvbuf, setlimit) */
static nsFile *checkfile (lua_State *L, int idx, int need) {
  nsFile *f = tofile(L, idx);
  if (f->s == NULL)
    luaL_error(L, "attempt to use a closed file");
  if (f->s->fd < 0)
    luaL_error(L, "attempt to use a closed socket");
  if ((f->mode & need) != need)
    luaL_error(L, "file not open for %s",
               need == F_READ ? "reading" : "writing");
  return f;
}


/*
** The file for a data-path method (read, lines, write, flush): a file
** of the wrong mode raises (misuse), a closed file or a file over a
** closed socket gives NULL: the method returns nil, "closed", "closed",
** as socket.c's ns_checkio has its methods do.
*/
static nsFile *checkfileio (lua_State *L, int idx, int need) {
  nsFile *f = tofile(L, idx);
  if (f->s == NULL) return NULL;
  if ((f->mode & need) != need)
    luaL_error(L, "file not open for %s",
               need == F_READ ? "reading" : "writing");
  if (f->s->fd < 0) return NULL;
  return f;
}


/*
** A read format at 'idx': returns 'l', 'L', 'a' or 'n' (a byte count,
** stored in *count). "*l" and friends are accepted, as Lua 5.1 wrote.
*/
static int getformat (lua_State *L, int idx, size_t *count) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    luaL_argcheck(L, n >= 0, idx, "negative count");
    *count = (size_t)n;
    return 'n';
  }
  else {
    const char *p = luaL_checkstring(L, idx);
    if (*p == '*') p++;
    if (*p == 'l' || *p == 'L' || *p == 'a')
      return *p;
    return luaL_argerror(L, idx, "invalid format");
  }
}


/*
** Length of the first buffered line with its '\n', L_NEED when more
** bytes are needed or L_OVERFLOW when 'limit' bytes hold no '\n'.
** *from is how far the buffer is known to hold no '\n', so a line
** spanning many refills is scanned once per call.
*/
static size_t findline (const nsSocket *s, size_t limit, size_t *from) {
  size_t avail = ns_pending(s), lim = avail < limit ? avail : limit;
  if (*from < lim) {
    const char *p = s->rbuf + s->rhead;
    const char *nl = (const char *)memchr(p + *from, '\n', lim - *from);
    if (nl != NULL) return (size_t)(nl - p) + 1;
    *from = lim;
  }
  return avail >= limit ? L_OVERFLOW : L_NEED;
}


/* push the line of 'len' bytes (its '\n' included) and drop it */
static void pushline (lua_State *L, nsSocket *s, size_t len, int keepend) {
  size_t n = len;
  if (!keepend) {
    n--;  /* the '\n' */
    if (n > 0 && s->rbuf[s->rhead + n - 1] == '\r') n--;
  }
  pushbytes(L, s, n, len - n);
}


/*
** The common case: a whole line is buffered already; 1 if pushed. A
** closed socket has no buffered byte (ns_close frees the buffer), so
** pending > 0 also means the socket is open.
*/
static int fastline (lua_State *L, nsFile *f, int keepend) {
  nsSocket *s = f->s;
  size_t avail, n;
  const char *p, *nl;
  if (s == NULL || (avail = ns_pending(s)) == 0) return 0;
  p = s->rbuf + s->rhead;
  nl = (const char *)memchr(p, '\n', avail < f->limit ? avail : f->limit);
  if (nl == NULL) return 0;
  n = (size_t)(nl - p);
  if (keepend) n++;
  else if (n > 0 && nl[-1] == '\r') n--;
  lua_pushlstring(L, p, n);
  ns_buf_consume(s, (size_t)(nl - p) + 1);
  return 1;
}


static int overflow (lua_State *L, nsFile *f) {
  luaL_pushfail(L);
  lua_pushfstring(L, "line longer than %I bytes", (lua_Integer)f->limit);
  lua_pushliteral(L, "overflow");
  return 3;
}


/*
** The read engine behind f:read and f:lines, a continuation.
** stack: 1 file, 2..nf+1 formats, nf+2 deadline, then one value per
** format done. ctx is nf. Every byte received stays in the socket's
** buffer until a format takes it, so a wait, a timeout or an error
** loses nothing, and after a task's wait the engine starts again from
** the top with all its state on the stack. (A line's scan position is
** a C local: after a task's wait the line is scanned again from its
** start, since another task may have taken bytes of the socket.)
** Returns the number of results: one value per format, or the values
** done so far followed by nil, message, code; *pdone tells how many
** formats succeeded.
*/
static int readengine (lua_State *L, int status, lua_KContext ctx,
                       lua_KFunction k, int *pdone) {
  int nf = (int)ctx, base = nf + 2, done, nret;
  nsFile *f = (nsFile *)lua_touserdata(L, 1);
  nsSocket *s = f->s;
  int eof = 0;
  (void)status;
  done = lua_gettop(L) - base;
  if (s == NULL || s->fd < 0) {  /* closed by another task meanwhile */
    nret = ns_closed(L);
    goto fail;
  }
  while (done < nf) {
    size_t count = 0, want, len, avail, scan = 0;
    int fmt = getformat(L, 2 + done, &count);
    for (;;) {
      ssize_t got;
      nsResult r;
      avail = ns_pending(s);
      if (fmt == 'l' || fmt == 'L') {
        size_t room = f->limit > s->chunk ? f->limit : s->chunk;
        len = findline(s, f->limit, &scan);
        if (len == L_OVERFLOW) { nret = overflow(L, f); goto fail; }
        if (len != L_NEED) { pushline(L, s, len, fmt == 'L'); break; }
        if (eof) {  /* the last line, unterminated */
          if (avail == 0) { nret = ns_closed(L); goto fail; }
          pushbytes(L, s, avail, 0);
          break;
        }
        want = room - avail;  /* never more than 'room' buffered */
        if (want > s->chunk) want = s->chunk;
      }
      else if (fmt == 'a') {
        if (eof) { pushbytes(L, s, avail, 0); break; }
        want = avail > s->chunk ? avail : s->chunk;
      }
      else {  /* 'n': exactly count bytes, fewer at end of stream */
        if (count == 0 ? avail > 0 : avail >= count) {
          pushbytes(L, s, count, 0);
          break;
        }
        if (eof) {
          if (avail == 0) { nret = ns_closed(L); goto fail; }
          pushbytes(L, s, avail, 0);
          break;
        }
        want = count == 0 ? s->chunk : count - avail;
        if (want > s->chunk && want > avail)  /* grow as data arrives */
          want = avail > s->chunk ? avail : s->chunk;
      }
      got = ns_io_fill(L, s, want, lua_tonumber(L, nf + 2));
      if (got > 0) continue;
      if (got == 0) { eof = 1; continue; }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        int err = errno;
        nret = ns_fail(L, err);
        if (err != ENOMEM && err != EINTR) {
          /* the stream ends here (tls_eof, a reset): the bytes this
             format had gathered come with the error, a 4th value, so
             no caller reads twice for them */
          pushbytes(L, s, ns_pending(s), 0);
          nret++;
        }
        goto fail;
      }
      r = ns_block(L, s, ns_io_events(s, NS_READ), lua_tonumber(L, nf + 2),
                   ctx, k);
      if (r != NS_AGAIN) { nret = ns_pushresult(L, r, errno); goto fail; }
    }
    done++;
  }
  *pdone = done;
  return done;
fail:
  *pdone = done;
  return done + nret;
}


static int read_k (lua_State *L, int status, lua_KContext ctx) {
  int done;
  return readengine(L, status, ctx, read_k, &done);
}


/* check every format at 2..1+nf before any byte is taken */
static int checkformats (lua_State *L, int nf) {
  size_t count;
  int i, fmt = 0;
  for (i = 0; i < nf; i++)
    fmt = getformat(L, 2 + i, &count);
  return nf == 1 ? fmt : 0;
}


/* f:read(...): formats "l" (default), "L", "a", n; see docs/api.md */
static int f_read (lua_State *L) {
  nsFile *f = checkfileio(L, 1, F_READ);
  int nf = lua_gettop(L) - 1;
  if (nf == 0) {
    lua_pushliteral(L, "l");
    nf = 1;
  }
  if (f == NULL) {
    checkformats(L, nf);
    return ns_closed(L);
  }
  if (nf == 1 && lua_type(L, 2) == LUA_TSTRING) {  /* the usual call */
    const char *p = lua_tostring(L, 2);
    if (*p == '*') p++;
    if ((p[0] == 'l' || p[0] == 'L') && p[1] == '\0'
        && fastline(L, f, p[0] == 'L'))
      return 1;
  }
  checkformats(L, nf);
  luaL_checkstack(L, nf + 8, "too many formats");
  lua_pushnumber(L, ns_deadline(f->s->timeout));
  return read_k(L, LUA_OK, nf);
}


/*
** The lines iterator's end: values as f:read gives them; end of stream
** ends the loop (values read before it come with a nil, as io does);
** any other failure raises.
*/
static int lines_k (lua_State *L, int status, lua_KContext ctx) {
  int done, n = readengine(L, status, ctx, lines_k, &done);
  if (done == (int)ctx)
    return n;
  if (n - done > 3) lua_pop(L, 1);   /* the rest (readengine): lines raises */
  if (strcmp(lua_tostring(L, -1), "closed") != 0)  /* as io.lines, with the code */
    return luaL_error(L, "%s (%s)", lua_tostring(L, -2), lua_tostring(L, -1));
  lua_pop(L, 2);  /* keep the nil */
  return done + 1;
}


/* upvalues: 1 file, 2 nf, 3.. formats */
static int lines_iter (lua_State *L) {
  nsFile *f = (nsFile *)lua_touserdata(L, lua_upvalueindex(1));
  int nf = (int)lua_tointeger(L, lua_upvalueindex(2)), i;
  if (f->s == NULL || f->s->fd < 0)  /* closed: the loop ends */
    return 0;
  lua_settop(L, 0);
  luaL_checkstack(L, nf + 8, "too many formats");
  lua_pushvalue(L, lua_upvalueindex(1));
  for (i = 1; i <= nf; i++)
    lua_pushvalue(L, lua_upvalueindex(2 + i));
  lua_pushnumber(L, ns_deadline(f->s->timeout));
  return lines_k(L, LUA_OK, nf);
}


/* the iterators of lines() and lines("L"): a buffered line at once */
static int lines_l (lua_State *L) {
  if (fastline(L, (nsFile *)lua_touserdata(L, lua_upvalueindex(1)), 0))
    return 1;
  return lines_iter(L);
}


static int lines_L (lua_State *L) {
  if (fastline(L, (nsFile *)lua_touserdata(L, lua_upvalueindex(1)), 1))
    return 1;
  return lines_iter(L);
}


/* f:lines(...): a C closure over the file and its formats */
static int f_lines (lua_State *L) {
  int nf, fmt;
  checkfileio(L, 1, F_READ);  /* closed: an iterator that ends at once */
  nf = lua_gettop(L) - 1;
  luaL_argcheck(L, nf <= MAXLINESFMT, MAXLINESFMT + 2, "too many arguments");
  if (nf == 0) {
    lua_pushliteral(L, "l");
    nf = 1;
  }
  fmt = checkformats(L, nf);
  lua_pushinteger(L, nf);
  lua_rotate(L, 2, 1);  /* file, nf, formats... */
  lua_pushcclosure(L, fmt == 'l' ? lines_l : fmt == 'L' ? lines_L
                      : lines_iter, 2 + nf);
  return 1;
}


/* {------ writing ------ */

/* room for 'len' more bytes to send; 0 when memory ran out */
static int wreserve (nsFile *f, size_t len) {
  size_t cap;
  char *p;
  if (f->wcap - f->wtail >= len) return 1;
  if (f->whead > 0) {  /* slide the unsent bytes to the front */
    memmove(f->wbuf, f->wbuf + f->whead, wpending(f));
    f->wtail -= f->whead;
    f->whead = 0;
    if (f->wcap - f->wtail >= len) return 1;
  }
  if (len > ((size_t)-1) / 2 - f->wtail) return 0;
  cap = f->wcap ? f->wcap : (f->wsize < 1024 ? 1024 : f->wsize);
  while (cap - f->wtail < len) cap *= 2;
  p = (char *)realloc(f->wbuf, cap);
  if (p == NULL) return 0;
  f->wbuf = p;
  f->wcap = cap;
  return 1;
}


/*
** Send the buffered bytes, one send(2) per pass. stack: 1 file, 'ctx'
** deadline. NS_OK once everything went out; otherwise what stopped it,
** with the errno in *err. The unsent bytes stay buffered on every
** failure.
*/
static nsResult doflush (lua_State *L, lua_KContext ctx, lua_KFunction k,
                         int *err) {
  nsFile *f = (nsFile *)lua_touserdata(L, 1);
  nsSocket *s = f->s;
  nsResult r;
  if (s == NULL || s->fd < 0)  /* closed by another task meanwhile */
    return NS_CLOSED;
  for (;;) {
    ssize_t n;
    if (wpending(f) == 0) {
      f->whead = f->wtail = 0;
      if (!ns_io_unsent(s)) return NS_OK;
      n = ns_io_flush(L, s);   /* and what the transport holds too */
      if (n == 0) continue;
    }
    else
      n = ns_io_send(L, s, f->wbuf + f->whead, wpending(f), NS_WRITE,
                     lua_tonumber(L, (int)ctx));
    if (n >= 0) { f->whead += (size_t)n; continue; }
    if (ns_retry(L)) continue;
    *err = errno;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return NS_ERRNO;
    r = ns_block(L, s, ns_io_events(s, NS_WRITE), lua_tonumber(L, (int)ctx),
                 ctx, k);
    *err = errno;
    if (r != NS_AGAIN) return r;
  }
}


/* a failed flush: nil, message, code, bytes still buffered */
static int flushfail (lua_State *L, nsFile *f, nsResult r, int err) {
  ns_pushresult(L, r, err);
  lua_pushinteger(L, (lua_Integer)wpending(f));
  return 4;
}


/* flush and write end here: the file, or the failure */
static int flush_k (lua_State *L, int status, lua_KContext ctx) {
  int err = 0;
  nsResult r;
  (void)status;
  lua_settop(L, (int)ctx);
  r = doflush(L, ctx, flush_k, &err);
  if (r != NS_OK) return flushfail(L, (nsFile *)lua_touserdata(L, 1), r, err);
  lua_settop(L, 1);
  return 1;
}


/* start flushing the file at 1 with the socket's timeout */
static int startflush (lua_State *L, nsFile *f, lua_KFunction k) {
  lua_settop(L, 1);
  lua_pushnumber(L, ns_deadline(f->s->timeout));
  return k(L, LUA_OK, 2);
}


/*
** f:write(...): strings and numbers (formatted as io.write does) are
** appended to the buffer, which goes out per the buffering mode.
*/
static int f_write (lua_State *L) {
  nsFile *f = checkfileio(L, 1, F_WRITE);
  int n = lua_gettop(L), i, sawnl = 0;
  if (f == NULL) {  /* the arguments are still checked */
    for (i = 2; i <= n; i++)
      if (lua_type(L, i) != LUA_TNUMBER) luaL_checkstring(L, i);
    return ns_closed(L);
  }
  for (i = 2; i <= n; i++) {
    char num[64];
    const char *p;
    size_t len;
    if (lua_type(L, i) == LUA_TNUMBER) {
      int m = lua_isinteger(L, i)
        ? snprintf(num, sizeof num, LUA_INTEGER_FMT,
                   (LUAI_UACINT)lua_tointeger(L, i))
        : snprintf(num, sizeof num, LUA_NUMBER_FMT,
                   (LUAI_UACNUMBER)lua_tonumber(L, i));
      p = num;
      len = m > 0 ? (size_t)m : 0;
    }
    else p = luaL_checklstring(L, i, &len);
    if (len == 0) continue;
    if (!wreserve(f, len))
      return ns_fail(L, ENOMEM);
    memcpy(f->wbuf + f->wtail, p, len);
    f->wtail += len;
    if (f->vbuf == VB_LINE && !sawnl && memchr(p, '\n', len) != NULL)
      sawnl = 1;
  }
  if (f->vbuf == VB_NO || sawnl || wpending(f) >= f->wsize)
    return startflush(L, f, flush_k);
  lua_settop(L, 1);
  return 1;
}


static int f_flush (lua_State *L) {
  nsFile *f = checkfileio(L, 1, 0);
  if (f == NULL) return ns_closed(L);
  return startflush(L, f, flush_k);
}

/* }------ */


/*
** Forget the socket (so it can be collected) and the write buffer. A
** task reading through this file wakes and gets nil, "closed",
** "closed" (the others waiting on the socket look again and wait on);
** without that, a file that was the socket's only owner left the
** reader waiting for ever, the collector closing the descriptor behind
** the loop's back.
*/
static void release (lua_State *L, nsFile *f) {
  if (f->s != NULL && f->s->fd >= 0 && f->s->waiters != 0)
    ns_wakefd(L, f->s->fd, 0);
  free(f->wbuf);
  f->wbuf = NULL;
  f->wcap = f->whead = f->wtail = 0;
  f->s = NULL;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
}


static int close_k (lua_State *L, int status, lua_KContext ctx) {
  nsFile *f = (nsFile *)lua_touserdata(L, 1);
  int err = 0;
  nsResult r;
  (void)status;
  lua_settop(L, (int)ctx);
  r = doflush(L, ctx, close_k, &err);
  if (r != NS_OK && f->s != NULL)  /* stays open: retry or drop */
    return flushfail(L, f, r, err);
  release(L, f);
  lua_settop(L, 0);
  lua_pushboolean(L, 1);
  return 1;
}


/*
** f:close(): flush (waiting per the socket's timeout), then release the
** file; the socket stays open. When the flush fails the file stays
** open with its bytes, and close returns the failure. A file whose
** socket was closed is released at once; its unsent bytes are lost and
** the result says how many: nil, "closed", "closed", count.
*/
static int f_close (lua_State *L) {
  nsFile *f = tofile(L, 1);
  lua_settop(L, 1);
  if (f->s == NULL) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (f->s->fd < 0) {
    size_t lost = wpending(f);
    release(L, f);
    if (lost == 0) {
      lua_pushboolean(L, 1);
      return 1;
    }
    ns_closed(L);
    lua_pushinteger(L, (lua_Integer)lost);
    return 4;
  }
  return startflush(L, f, close_k);
}


/*
** __gc: no wait is possible here, so the bytes the socket takes at
** once go out and the rest is dropped (f:close() waits; use it).
*/
static int f_gc (lua_State *L) {
  nsFile *f = tofile(L, 1);
  nsSocket *s = f->s;
  /* a copy a fork gave us (the child collects what it inherited)
     sends nothing: the parent sends these bytes itself */
  while (s != NULL && s->fd >= 0 && wpending(f) > 0 && !ns_inherited(s->gen)) {
    ssize_t n = ns_io_sendnow(s, f->wbuf + f->whead, wpending(f));
    if (n > 0) f->whead += (size_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  free(f->wbuf);
  f->wbuf = NULL;
  f->wcap = f->whead = f->wtail = 0;
  f->s = NULL;
  return 0;
}


/* __close: as f:close(), its failure ignored (see docs/api.md) */
static int f_closemeta (lua_State *L) {
  return f_close(L);
}


static int f_tostring (lua_State *L) {
  nsFile *f = tofile(L, 1);
  if (f->s == NULL)
    lua_pushliteral(L, "netsock.file (closed)");
  else
    lua_pushfstring(L, "netsock.file (fd %d, %s)", f->s->fd,
                    f->mode == (F_READ | F_WRITE) ? "rw"
                    : f->mode == F_READ ? "r" : "w");
  return 1;
}


/* a buffer size argument: 1..MAXVBUF */
static size_t checkvbuf (lua_State *L, int idx) {
  lua_Integer n = luaL_checkinteger(L, idx);
  luaL_argcheck(L, 1 <= n && n <= MAXVBUF, idx, "buffer size out of range");
  return (size_t)n;
}


/*
** f:setvbuf(mode [, size]): how writes go out ("no": at the end of each
** write call, "line": when a write holds a "\n", "full": once size
** bytes wait). size also sets the socket's refill size for reads.
*/
static int f_setvbuf (lua_State *L) {
  static const char *const modes[] = {"no", "line", "full", NULL};
  nsFile *f = checkfile(L, 1, 0);
  int op = luaL_checkoption(L, 2, NULL, modes);
  if (!lua_isnoneornil(L, 3)) {
    size_t size = checkvbuf(L, 3);
    f->wsize = size;
    f->s->chunk = size;
  }
  f->vbuf = op;  /* VB_NO, VB_LINE, VB_FULL follow modes[] */
  lua_pushboolean(L, 1);
  return 1;
}


/* f:setlimit(n): the longest line "l" and "L" read, its end included */
static int f_setlimit (lua_State *L) {
  nsFile *f = checkfile(L, 1, 0);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1, 2, "limit must be positive");
  f->limit = (size_t)n;
  lua_pushboolean(L, 1);
  return 1;
}


/* f:pending(): bytes received and buffered for reading (0 once closed) */
static int f_pending (lua_State *L) {
  nsFile *f = tofile(L, 1);
  lua_Integer n = 0;
  if (f->s != NULL && f->s->fd >= 0) n = (lua_Integer)ns_pending(f->s);
  lua_pushinteger(L, n);
  return 1;
}


/* f:fileno(): the socket's descriptor, -1 once the file is closed */
static int f_fileno (lua_State *L) {
  nsFile *f = tofile(L, 1);
  lua_pushinteger(L, f->s != NULL ? f->s->fd : -1);
  return 1;
}


/*
** s:makefile([mode [, bufsize]]): mode "r", "w" or "rw" (default; "b"
** is accepted and ignored, as in Python). bufsize as Python 2's: 0
** unbuffered writes, 1 line buffered, more: that buffer size.
*/
static int sock_makefile (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  const char *m = luaL_optstring(L, 2, "rw"), *p;
  lua_Integer bufsize = luaL_optinteger(L, 3, -1);
  int mode = 0;
  nsFile *f;
  for (p = m; *p; p++) {
    if (*p == 'r') mode |= F_READ;
    else if (*p == 'w') mode |= F_WRITE;
    else if (*p != 'b') break;
  }
  luaL_argcheck(L, *p == '\0' && mode != 0, 2, "invalid mode");
  luaL_argcheck(L, bufsize <= MAXVBUF, 3, "buffer size out of range");
  f = (nsFile *)lua_newuserdatauv(L, sizeof(nsFile), 1);
  memset(f, 0, sizeof *f);
  f->mode = mode;
  f->vbuf = VB_FULL;
  f->limit = NS_LINELIMIT;
  f->wsize = NS_BUFSIZE;
  luaL_setmetatable(L, NS_FILE);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (bufsize == 0) f->vbuf = VB_NO;
  else if (bufsize == 1) f->vbuf = VB_LINE;
  else if (bufsize > 1) f->wsize = s->chunk = (size_t)bufsize;
  if (s->chunk == 0) s->chunk = NS_BUFSIZE;
  f->s = s;
  return 1;
}


static const luaL_Reg f_methods[] = {
  {"read", f_read},
  {"lines", f_lines},
  {"write", f_write},
  {"flush", f_flush},
  {"setvbuf", f_setvbuf},
  {"setlimit", f_setlimit},
  {"pending", f_pending},
  {"fileno", f_fileno},
  {"close", f_close},
  {NULL, NULL}
};


static const luaL_Reg f_metamethods[] = {
  {"__gc", f_gc},
  {"__close", f_closemeta},
  {"__tostring", f_tostring},
  {NULL, NULL}
};


static const luaL_Reg sock_methods[] = {
  {"makefile", sock_makefile},
  {NULL, NULL}
};

/* }====== */


/* the NS_FILE class, and s:makefile on the socket methods */
void ns_file_open (lua_State *L) {
  ns_newclass(L, NS_FILE, f_metamethods, f_methods, 1);
  lua_pop(L, 1);
  ns_addmethods(L, sock_methods);
}
