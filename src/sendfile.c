/*
** sendfile.c: s:sendfile(file [, offset [, count]]): sendfile(2) from a
** regular file to a stream socket; read and send for everything else
** (pipes, datagram sockets). What must survive a wait lives in a state
** userdata on the call's stack: the descriptor it opened (closed by
** __gc if an error or a dropped task abandons the call), the offsets
** and counts, and the chunk read but not yet sent.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsock.h"

/* read-and-send chunk where sendfile(2) does not apply */
#define SF_STREAMCHUNK  (64 * 1024)
#define SF_DGRAMCHUNK   8192

/*
** Most bytes one sendfile(2) call is asked for. A non-blocking socket
** stops each call at a full send buffer anyway; 1 MiB bounds the file
** reading one call does (docs/performance.md, "sendfile").
*/
#if !defined(SF_CALLMAX)
#define SF_CALLMAX  (1u << 20)
#endif

#define NS_SENDFILE  "netsock.sendfile"

typedef struct nsSendfile {
  int fd;               /* the descriptor opened by path, or -1 */
  int usesf;            /* sendfile(2) applies */
  lua_Integer start;    /* offset of the first byte; -1: not seekable */
  lua_Integer sent;     /* bytes sent so far */
  lua_Integer total;    /* bytes to send; -1: until end of file */
  char *chunk;          /* read but not yet sent: chunk[cdone..clen) */
  size_t ccap, clen, cdone;
} nsSendfile;


static int sf_gc (lua_State *L) {
  nsSendfile *st = (nsSendfile *)luaL_checkudata(L, 1, NS_SENDFILE);
  ns_fdbox_close(&st->fd);
  free(st->chunk);
  st->chunk = NULL;
  st->ccap = st->clen = st->cdone = 0;
  return 0;
}


/* the input descriptor: the state's, or the Lua file's at 2; -1 closed */
static int sf_infd (lua_State *L, nsSendfile *st, FILE **fp) {
  luaL_Stream *ls;
  *fp = NULL;
  if (lua_type(L, 2) == LUA_TSTRING) return st->fd;
  ls = (luaL_Stream *)lua_touserdata(L, 2);
  if (ls->closef == NULL) return -1;
  *fp = ls->f;
  return fileno(ls->f);
}


/* whether read(2) on 'in' would return at once (data, end, error) */
static int readable (int in) {
  return ns_sys_pollnow(in, NS_READ) != 0;
}


/*
** One sendfile(2) of at most 'want' bytes: NS_AGAIN when bytes went or
** the pair turned out not to take sendfile (go on), NS_OK at the end of
** the file, NS_PENDING when the socket is full (wait), NS_ERRNO.
*/
static nsResult sf_kernel (lua_State *L, nsSendfile *st, nsSocket *s, int in,
                           size_t want, int *err) {
  off_t off = (off_t)(st->start + st->sent);
  ssize_t n;
  ns_callflags(L, s, NS_WRITE | NS_NOFLAGS, lua_tonumber(L, 5));
  do n = ns_sys_sendfile(s->fd, in, &off, want);
  while (n < 0 && ns_retry(L));
  if (n > 0) { st->sent += n; return NS_AGAIN; }
  if (n == 0) return NS_OK;  /* end of file */
  if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
    st->usesf = 0;  /* not for this pair: read and send instead */
    return NS_AGAIN;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return NS_PENDING;
  *err = errno;
  return NS_ERRNO;
}


/*
** Read the next chunk (at most 'want' bytes) into the state: NS_AGAIN
** when there is one (or the input was waited for: go on), NS_OK at the
** end of the file, or a failure with *err.
*/
static nsResult sf_read (lua_State *L, nsSendfile *st, int in, size_t want,
                         int timeout0, lua_KContext ctx, lua_KFunction k,
                         int *err) {
  ssize_t n;
  if (st->ccap < want) {
    char *p = (char *)realloc(st->chunk, want);
    if (p == NULL) { *err = ENOMEM; return NS_ERRNO; }
    st->chunk = p;
    st->ccap = want;
  }
  if (st->start < 0 && !readable(in)) {
    /* a pipe (or FIFO, socket, tty) with nothing to read yet: read(2)
       would block the process (and a task's whole loop) past the
       deadline; wait for it as for the socket */
    nsResult r = timeout0 ? NS_TIMEOUT  /* a poll: never yields */
               : ns_waitfd(L, in, NS_READ, lua_tonumber(L, 5), ctx, k);
    if (r != NS_AGAIN) *err = errno;
    return r;
  }
  do {
    n = st->start >= 0
      ? pread(in, st->chunk, want, (off_t)(st->start + st->sent))
      : read(in, st->chunk, want);
  } while (n < 0 && errno == EINTR);
  if (n < 0) { *err = errno; return NS_ERRNO; }
  if (n == 0) return NS_OK;  /* end of file */
  st->clen = (size_t)n;
  st->cdone = 0;
  return NS_AGAIN;
}


/*
** Send until done, a failure or a wait. stack: 1 socket, 2 file,
** 3 offset, 4 count, 5 deadline, 6 state. NS_OK when done; NS_PUSHED
** with the failure on the stack; otherwise a failure with *err.
*/
static nsResult sf_run (lua_State *L, nsSendfile *st, lua_KContext ctx,
                        lua_KFunction k, int *err) {
  nsSocket *s = ns_checkresumed(L);
  FILE *fp;
  int in;
  ssize_t n;
  nsResult r;
  for (;;) {
    if (s == NULL) return NS_CLOSED;
    in = sf_infd(L, st, &fp);
    if (in < 0) { ns_failmsg(L, "file closed", "EBADF"); return NS_PUSHED; }
    if (st->total >= 0 && st->sent >= st->total) goto done;
    if (st->cdone == st->clen) {  /* nothing pending: produce more */
      size_t want = st->usesf ? SF_CALLMAX
                  : s->type == SOCK_STREAM ? SF_STREAMCHUNK : SF_DGRAMCHUNK;
      if (st->total >= 0 && (lua_Integer)want > st->total - st->sent)
        want = (size_t)(st->total - st->sent);
      if (st->usesf) {
        r = sf_kernel(L, st, s, in, want, err);
        if (r == NS_AGAIN) continue;
        if (r != NS_PENDING) return r;  /* the end of the file, a failure */
      }
      else {
        r = sf_read(L, st, in, want, s->timeout == 0, ctx, k, err);
        if (r == NS_OK) goto done;  /* end of file */
        if (r != NS_AGAIN) return r;
        s = ns_checkresumed(L);  /* it may have waited */
        continue;
      }
    }
    else {  /* send the pending chunk */
      do n = ns_io_send(L, s, st->chunk + st->cdone, st->clen - st->cdone,
                        NS_WRITE, lua_tonumber(L, 5));
      while (n < 0 && ns_io_plain(s) && ns_retry(L));
      if (n >= 0) {
        st->sent += n;
        st->cdone += (size_t)n;
        if (s->type != SOCK_STREAM)  /* a datagram goes whole */
          st->cdone = st->clen;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        *err = errno;
        return NS_ERRNO;
      }
    }
    if (0) {
  done:   /* every byte taken; on TLS, its records out as well */
      if (!ns_io_unsent(s)) return NS_OK;
      if (ns_io_flush(L, s) == 0) return NS_OK;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        *err = errno;
        return NS_ERRNO;
      }
    }
    r = ns_block(L, s, ns_io_events(s, NS_WRITE), lua_tonumber(L, 5), ctx, k);
    if (r != NS_AGAIN) { *err = errno; return r; }
    s = ns_checkresumed(L);
  }
}


/* bytes sent, or nil, msg, code, bytes sent; the file's position moves */
static int sendfile_k (lua_State *L, int status, lua_KContext ctx) {
  nsSendfile *st;
  nsResult r;
  FILE *fp;
  int err = 0, nret = 0;
  (void)status;
  lua_settop(L, 6);
  st = (nsSendfile *)lua_touserdata(L, 6);
  r = sf_run(L, st, ctx, sendfile_k, &err);
  if (r != NS_OK) nret = ns_pushresult(L, r, err);
  if (sf_infd(L, st, &fp) >= 0 && fp != NULL && st->start >= 0)
    fseeko(fp, (off_t)(st->start + st->sent), SEEK_SET);  /* as Python: tell() */
  lua_pushinteger(L, st->sent);
  ns_fdbox_close(&st->fd);  /* opened by path: closed now, not at the GC */
  return nret + 1;
}


/* a failure before anything was sent: nil, msg, code, 0 */
static int sf_fail (lua_State *L, int err) {
  ns_fail(L, err);
  lua_pushinteger(L, 0);
  return 4;
}


/*
** s:sendfile(file [, offset [, count]]): 'file' is a Lua file handle
** or a path. Sends count bytes (default: to the end of the file) from
** offset (default: the handle's current position, 0 for a path).
** sendfile(2) for stream sockets; read and send otherwise.
*/
static int sf_sendfile (lua_State *L) {
  nsSocket *s = ns_checkio(L, 1);
  lua_Integer offset = -1, count = -1;
  nsSendfile *st;
  struct stat sb;
  int in;
  lua_settop(L, 4);
  if (!lua_isnil(L, 3)) {
    offset = luaL_checkinteger(L, 3);
    luaL_argcheck(L, offset >= 0, 3, "negative offset");
  }
  if (!lua_isnil(L, 4)) {
    count = luaL_checkinteger(L, 4);
    luaL_argcheck(L, count >= 0, 4, "negative count");
  }
  if (lua_type(L, 2) != LUA_TSTRING) {
    luaL_Stream *ls = (luaL_Stream *)luaL_testudata(L, 2, LUA_FILEHANDLE);
    if (ls == NULL) return luaL_typeerror(L, 2, "file or path");
    luaL_argcheck(L, ls->closef != NULL, 2, "attempt to use a closed file");
  }
  if (s == NULL) return ns_closed(L);
  lua_pushnumber(L, ns_deadline(s->timeout));                       /* 5 */
  st = (nsSendfile *)lua_newuserdatauv(L, sizeof *st, 0);            /* 6 */
  memset(st, 0, sizeof *st);
  st->fd = -1;
  luaL_setmetatable(L, NS_SENDFILE);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *path = ns_checkname(L, 2, "path");
    do in = open(path, O_RDONLY | O_CLOEXEC);
    while (in < 0 && errno == EINTR);
    if (in < 0) return sf_fail(L, errno);
    st->fd = in;
    st->start = offset >= 0 ? offset : 0;
  }
  else {
    luaL_Stream *ls = (luaL_Stream *)lua_touserdata(L, 2);
    fflush(ls->f);  /* written bytes reach the file, read-ahead is undone */
    in = fileno(ls->f);
    st->start = ftello(ls->f);
    if (st->start < 0) st->start = -1;  /* a pipe: read from where it is */
    if (offset >= 0) {
      luaL_argcheck(L, st->start >= 0, 3, "offset on a file that cannot seek");
      st->start = offset;
    }
  }
  if (fstat(in, &sb) < 0) {
    int err = errno;
    ns_fdbox_close(&st->fd);
    return sf_fail(L, err);
  }
  if (!S_ISREG(sb.st_mode)) st->start = -1;
  if (count < 0 && st->start >= 0)  /* to the end of the file as it is now */
    count = (sb.st_size > st->start) ? (lua_Integer)sb.st_size - st->start : 0;
  st->total = count;
  st->usesf = s->type == SOCK_STREAM && st->start >= 0 && ns_io_plain(s);
  return sendfile_k(L, LUA_OK, 0);
}


void ns_sendfile_open (lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__gc", sf_gc}, {"__close", sf_gc}, {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"sendfile", sf_sendfile}, {NULL, NULL}
  };
  ns_newclass(L, NS_SENDFILE, meta, NULL, 0);
  lua_pop(L, 1);
  ns_addmethods(L, methods);
}
