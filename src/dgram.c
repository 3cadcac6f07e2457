/*
** dgram.c: datagrams (sendto, recvfrom) and s:sendfile.
**
** Both follow socket.c's continuation pattern: the first call checks
** its arguments, stores what must survive a wait at fixed stack slots
** and calls the continuation, which starts with lua_settop and tries
** the system call again after every wait (see netsock.h, ns_wait).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "netsock.h"

/* recvmsg(2) into a buffer on the C stack up to this size */
#define STACKBUF  (64 * 1024)

/* how long sendto remembers what a host name resolved to (seconds) */
#if !defined(NS_ADDRCACHE_TTL)
#define NS_ADDRCACHE_TTL  30.0
#endif

/* the most names remembered at once; the cache starts over beyond */
#if !defined(NS_ADDRCACHE_MAX)
#define NS_ADDRCACHE_MAX  64
#endif

/* read-and-send chunk for sendfile where sendfile(2) does not apply */
#define SF_STREAMCHUNK  (64 * 1024)
#define SF_DGRAMCHUNK   8192

/*
** Most bytes one sendfile(2) call is asked for. A non-blocking socket
** stops each call at a full send buffer anyway; 1 MiB bounds the file
** reading one call does, and measured faster than 1 GiB under gVisor.
*/
#if !defined(SF_CALLMAX)
#define SF_CALLMAX  (1u << 20)
#endif

/* registry keys private to this file */
#define NS_ADDRCACHE  "netsock.addrcache"
#define NS_FDBOX      "netsock.fdbox"


/* same as socket.c's: a socket closed while a task waited on it */
static nsSocket *checkresumed (lua_State *L, int status) {
  nsSocket *s = ns_checksocket(L, 1);
  if (s->fd < 0 && status == LUA_OK)
    luaL_error(L, "attempt to use a closed socket");
  return s->fd < 0 ? NULL : s;
}


static int waitresult (lua_State *L, int r) {
  if (r == 0) return ns_timeout(L);
  return ns_fail(L, errno);
}


/* {====== Destination addresses, with a small cache ====== */

/* whether the (host, port) at 'idx' is numeric: no resolver needed */
static int isnumeric (lua_State *L, int idx) {
  const char *host;
  unsigned char buf[sizeof(struct in6_addr)];
  if (lua_type(L, idx) != LUA_TSTRING) return 1;  /* let ns_getaddr judge */
  host = lua_tostring(L, idx);
  if (lua_type(L, idx + 1) == LUA_TSTRING) {
    const char *p = lua_tostring(L, idx + 1);
    if (*p == '\0') return 1;
    for (; *p; p++)
      if (*p < '0' || *p > '9') return 0;  /* a service name */
  }
  return *host == '\0' || strcmp(host, "*") == 0 ||
         strcmp(host, "<broadcast>") == 0 ||
         inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}


/*
** The destination at 'idx' (host, port or path) for socket 's'.
** Host names go through a per-state cache (registry NS_ADDRCACHE:
** "family|type|host|port" -> expiry and sockaddr bytes), so a loop of
** sendto to one name resolves it once every NS_ADDRCACHE_TTL seconds.
** Returns as ns_getaddr: arguments used, or -1 with nil,msg,code pushed.
*/
static int destaddr (lua_State *L, nsSocket *s, int idx,
                     struct sockaddr_storage *ss, socklen_t *len) {
  const char *key;
  int n;
  double now;
  if (s->family != AF_INET && s->family != AF_INET6)
    return ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  if (isnumeric(L, idx))
    return ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  {
    size_t hlen;
    const char *host = luaL_checklstring(L, idx, &hlen);
    luaL_argcheck(L, strlen(host) == hlen, idx, "host contains a zero byte");
  }
  luaL_checkany(L, idx + 1);
  if (lua_type(L, idx + 1) != LUA_TSTRING)  /* checks the range too */
    luaL_checkinteger(L, idx + 1);
  key = lua_pushfstring(L, "%d|%d|%s|%s", s->family, s->type,
                        lua_tostring(L, idx),
                        luaL_tolstring(L, idx + 1, NULL));
  lua_remove(L, -2);  /* the port text */
  now = ns_monotime();
  if (lua_getfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE);
  }
  /* stack: key, cache */
  if (lua_getfield(L, -1, key) == LUA_TSTRING) {
    size_t vlen;
    const char *v = lua_tolstring(L, -1, &vlen);
    double expiry;
    memcpy(&expiry, v, sizeof expiry);
    if (now < expiry && vlen - sizeof expiry <= sizeof *ss) {
      *len = (socklen_t)(vlen - sizeof expiry);
      memcpy(ss, v + sizeof expiry, *len);
      lua_pop(L, 3);
      return 2;
    }
  }
  lua_pop(L, 1);
  n = ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  if (n < 0) {  /* keep the three failure values, drop key and cache */
    lua_rotate(L, -5, 3);
    lua_pop(L, 2);
    return -1;
  }
  {
    luaL_Buffer b;
    double expiry = now + NS_ADDRCACHE_TTL;
    lua_Integer count;
    lua_getfield(L, -1, "n");
    count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (count >= NS_ADDRCACHE_MAX) {  /* start over: stale names go */
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE);
      count = 0;
    }
    lua_pushinteger(L, count + 1);
    lua_setfield(L, -2, "n");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, (const char *)&expiry, sizeof expiry);
    luaL_addlstring(&b, (const char *)ss, *len);
    luaL_pushresult(&b);
    lua_setfield(L, -2, key);
  }
  lua_pop(L, 2);
  return n;
}

/* }====== */


/* {====== sendto and recvfrom ====== */

/* stack: 1 socket, 2 data, 3 sockaddr bytes, 4 deadline */
static int sendto_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = checkresumed(L, status);
  size_t len, alen;
  const char *data, *addr;
  ssize_t n;
  int r;
  lua_settop(L, 4);
  if (s == NULL) return ns_closed(L);
  data = lua_tolstring(L, 2, &len);
  addr = lua_tolstring(L, 3, &alen);
  for (;;) {
    n = sendto(s->fd, data, len, MSG_NOSIGNAL, (const struct sockaddr *)addr,
               (socklen_t)alen);
    if (n >= 0) {
      lua_pushinteger(L, n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    if (ns_kernelwait(L, s)) continue;  /* retry, blocking (socket.c) */
    r = ns_wait(L, s, NS_WRITE, lua_tonumber(L, 4), ctx, sendto_k);
    if (r <= 0) return waitresult(L, r);
  }
}


/*
** s:sendto(data, host, port) or s:sendto(data, path): bytes sent.
** The whole datagram goes or nothing does (EMSGSIZE when too long).
*/
static int dgram_sendto (lua_State *L) {
  nsSocket *s = ns_checkfast(L, 1);  /* may wait in the kernel */
  struct sockaddr_storage ss;
  socklen_t len;
  luaL_checkstring(L, 2);
  if (destaddr(L, s, 3, &ss, &len) < 0)
    return 3;
  lua_settop(L, 2);
  lua_pushlstring(L, (const char *)&ss, len);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return sendto_k(L, LUA_OK, 0);
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


/* stack: 1 socket, 2 bufsize, 3 flags, 4 deadline */
static int recvfrom_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = checkresumed(L, status);
  size_t size = (size_t)lua_tointeger(L, 2);
  int flags = (int)lua_tointeger(L, 3);
  char stackbuf[STACKBUF];
  struct sockaddr_storage ss;
  struct msghdr msg;
  struct iovec iov;
  luaL_Buffer b;
  ssize_t n;
  int r, nret;
  lua_settop(L, 4);
  if (s == NULL) return ns_closed(L);
  if (ns_pending(s) > 0) {  /* a stream's read-ahead comes first */
    size_t m = ns_pending(s) < size ? ns_pending(s) : size;
    socklen_t len = sizeof ss;
    lua_pushlstring(L, s->rbuf + s->rhead, m);
    if (!(flags & MSG_PEEK)) {
      s->rhead += m;
      if (s->rhead == s->rtail) s->rhead = s->rtail = 0;
    }
    memset(&ss, 0, sizeof ss);
    if (getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0) len = 0;
    return 1 + pushfrom(L, s, &ss, len);
  }
  iov.iov_base = (size <= STACKBUF) ? stackbuf : luaL_buffinitsize(L, &b, size);
  iov.iov_len = size;
  for (;;) {
    memset(&msg, 0, sizeof msg);
    memset(&ss, 0, sizeof ss);
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof ss;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    n = recvmsg(s->fd, &msg, flags);
    if (n > 0 || (n == 0 && (s->type != SOCK_STREAM || size == 0)))
      break;
    if (n == 0) return ns_closed(L);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ns_fail(L, errno);
    if (ns_kernelwait(L, s)) continue;  /* retry, blocking (socket.c) */
    r = ns_wait(L, s, NS_READ, lua_tonumber(L, 4), ctx, recvfrom_k);
    if (r <= 0) return waitresult(L, r);
  }
  if ((size_t)n > size)  /* MSG_TRUNC among the flags: the real length */
    n = (ssize_t)size;
  if (iov.iov_base == stackbuf) lua_pushlstring(L, stackbuf, (size_t)n);
  else luaL_pushresultsize(&b, (size_t)n);
  nret = 1 + pushfrom(L, s, &ss, msg.msg_namelen);
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
  nsSocket *s = ns_checkfast(L, 1);  /* may wait in the kernel */
  lua_Integer size = luaL_checkinteger(L, 2);
  lua_Integer flags = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, size >= 0, 2, "negative buffer size");
  luaL_argcheck(L, size <= INT_MAX, 2, "buffer size too large");
  luaL_argcheck(L, 0 <= flags && flags <= INT_MAX, 3, "invalid flags");
  lua_settop(L, 3);
  lua_pushnumber(L, ns_deadline(s->timeout));
  return recvfrom_k(L, LUA_OK, 0);
}

/* }====== */


/* {====== sendfile ====== */

/*
** A descriptor owned by a userdata, so that a file sendfile opened by
** path is closed by __gc if an error or a dropped task abandons it.
*/
typedef struct { int fd; } nsFdBox;

static int fdbox_close (lua_State *L) {
  nsFdBox *box = (nsFdBox *)luaL_checkudata(L, 1, NS_FDBOX);
  if (box->fd >= 0) {
    int fd = box->fd;
    box->fd = -1;
    close(fd);
  }
  return 0;
}


/* the input descriptor at stack 6: a Lua file or a box; -1 if closed */
static int sf_infd (lua_State *L, FILE **fp) {
  luaL_Stream *ls = (luaL_Stream *)luaL_testudata(L, 6, LUA_FILEHANDLE);
  *fp = NULL;
  if (ls != NULL) {
    if (ls->closef == NULL) return -1;
    *fp = ls->f;
    return fileno(ls->f);
  }
  return ((nsFdBox *)lua_touserdata(L, 6))->fd;
}


/*
** sendfile(2) to a socket may raise SIGPIPE (it takes no MSG_NOSIGNAL):
** block it for the call and take back a SIGPIPE the call itself made,
** the way a library must without touching the process's handlers.
*/
static ssize_t sendfile_nosig (int out, int in, off_t *off, size_t count) {
  sigset_t pipeset, old, pend;
  ssize_t n;
  int err, had;
  sigemptyset(&pipeset);
  sigaddset(&pipeset, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  had = sigismember(&pend, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeset, &old);
  do n = sendfile(out, in, off, count); while (n < 0 && errno == EINTR);
  err = errno;
  if (n < 0 && err == EPIPE && !had) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return n;
}


/*
** stack: 1 socket, 2 file, 3 offset, 4 count, 5 deadline,
**        6 Lua file or fd box, 7 start offset (-1: not seekable),
**        8 bytes sent, 9 bytes to send (-1: until end of file),
**        10 chunk read but not yet sent (or nil), 11 its sent prefix,
**        12 whether sendfile(2) applies
** Returns: nothing pushed, 0 when done; or the count of failure values
** pushed (3).
*/
static int sf_run (lua_State *L, int status, lua_KContext ctx, lua_KFunction k) {
  nsSocket *s = checkresumed(L, status);
  FILE *fp;
  lua_Integer start = lua_tointeger(L, 7);
  lua_Integer sent = lua_tointeger(L, 8);
  lua_Integer total = lua_tointeger(L, 9);
  int usesf = lua_toboolean(L, 12);
  int in, r;
  ssize_t n;
  if (s == NULL) return ns_closed(L);
  in = sf_infd(L, &fp);
  if (in < 0) return ns_failmsg(L, "file closed", "EBADF");
  for (;;) {
    size_t want;
    if (total >= 0 && sent >= total) return 0;
    if (lua_isnil(L, 10)) {  /* nothing pending: produce more */
      want = s->type == SOCK_STREAM ? SF_STREAMCHUNK : SF_DGRAMCHUNK;
      if (usesf) want = SF_CALLMAX;
      if (total >= 0 && (lua_Integer)want > total - sent)
        want = (size_t)(total - sent);
      if (usesf) {
        off_t off = (off_t)(start + sent);
        n = sendfile_nosig(s->fd, in, &off, want);
        if (n > 0) {
          sent += n;
          lua_pushinteger(L, sent);
          lua_replace(L, 8);
          continue;
        }
        if (n == 0) return 0;  /* end of file */
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
          usesf = 0;  /* not for this pair: read and send instead */
          lua_pushboolean(L, 0);
          lua_replace(L, 12);
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          return ns_fail(L, errno);
      }
      else {
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, want);
        do {
          n = start >= 0 ? pread(in, p, want, (off_t)(start + sent))
                         : read(in, p, want);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
          int err = errno;
          lua_settop(L, 12);
          return ns_fail(L, err);
        }
        if (n == 0) { lua_settop(L, 12); return 0; }  /* end of file */
        luaL_pushresultsize(&b, (size_t)n);
        lua_replace(L, 10);
        lua_pushinteger(L, 0);
        lua_replace(L, 11);
        continue;
      }
    }
    else {  /* send the pending chunk */
      size_t clen, done = (size_t)lua_tointeger(L, 11);
      const char *chunk = lua_tolstring(L, 10, &clen);
      do n = send(s->fd, chunk + done, clen - done, MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n >= 0) {
        sent += n;
        lua_pushinteger(L, sent);
        lua_replace(L, 8);
        if (s->type != SOCK_STREAM || done + (size_t)n >= clen) {
          lua_pushnil(L);  /* a datagram goes whole; the chunk is done */
          lua_replace(L, 10);
        }
        else {
          lua_pushinteger(L, (lua_Integer)(done + (size_t)n));
          lua_replace(L, 11);
        }
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return ns_fail(L, errno);
    }
    r = ns_wait(L, s, NS_WRITE, lua_tonumber(L, 5), ctx, k);
    if (r <= 0) return waitresult(L, r);
    s = checkresumed(L, LUA_OK);
    in = sf_infd(L, &fp);
    if (in < 0) return ns_failmsg(L, "file closed", "EBADF");
  }
}


/* bytes sent, or nil, msg, code, bytes sent; the file's position moves */
static int sendfile_k (lua_State *L, int status, lua_KContext ctx) {
  int nret;
  FILE *fp;
  lua_Integer start, sent;
  lua_settop(L, 12);
  nret = sf_run(L, status, ctx, sendfile_k);
  start = lua_tointeger(L, 7);
  sent = lua_tointeger(L, 8);
  if (lua_type(L, 2) == LUA_TSTRING) {  /* opened by path: close it now */
    nsFdBox *box = (nsFdBox *)lua_touserdata(L, 6);
    if (box->fd >= 0) {
      int fd = box->fd;
      box->fd = -1;
      close(fd);
    }
  }
  else if (sf_infd(L, &fp) >= 0 && fp != NULL && start >= 0)
    fseeko(fp, (off_t)(start + sent), SEEK_SET);  /* as Python: tell() */
  lua_pushinteger(L, sent);
  return nret + 1;
}


/*
** s:sendfile(file [, offset [, count]]): 'file' is a Lua file handle
** or a path. Sends count bytes (default: to the end of the file) from
** offset (default: the handle's current position, 0 for a path).
** sendfile(2) for stream sockets; read and send otherwise.
*/
static int dgram_sendfile (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  lua_Integer offset = -1, count = -1, start;
  struct stat st;
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
  lua_pushnumber(L, ns_deadline(s->timeout));                      /* 5 */
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t plen;
    const char *path = lua_tolstring(L, 2, &plen);
    nsFdBox *box;
    luaL_argcheck(L, strlen(path) == plen, 2, "path contains a zero byte");
    box = (nsFdBox *)lua_newuserdatauv(L, sizeof *box, 0);          /* 6 */
    box->fd = -1;
    luaL_setmetatable(L, NS_FDBOX);
    do in = open(path, O_RDONLY | O_CLOEXEC);
    while (in < 0 && errno == EINTR);
    if (in < 0) {
      int err = errno;
      ns_fail(L, err);
      lua_pushinteger(L, 0);
      return 4;
    }
    box->fd = in;
    start = offset >= 0 ? offset : 0;
  }
  else {
    luaL_Stream *ls = (luaL_Stream *)luaL_testudata(L, 2, LUA_FILEHANDLE);
    if (ls == NULL) return luaL_typeerror(L, 2, "file or path");
    luaL_argcheck(L, ls->closef != NULL, 2, "attempt to use a closed file");
    lua_pushvalue(L, 2);                                              /* 6 */
    fflush(ls->f);  /* written bytes reach the file, read-ahead is undone */
    in = fileno(ls->f);
    start = ftello(ls->f);
    if (start < 0) start = -1;  /* a pipe: read from where it stands */
    if (offset >= 0) {
      luaL_argcheck(L, start >= 0, 3, "offset on a file that cannot seek");
      start = offset;
    }
  }
  if (fstat(in, &st) < 0) {
    int err = errno;
    if (lua_type(L, 2) == LUA_TSTRING) {
      nsFdBox *box = (nsFdBox *)lua_touserdata(L, 6);
      box->fd = -1;
      close(in);
    }
    ns_fail(L, err);
    lua_pushinteger(L, 0);
    return 4;
  }
  if (!S_ISREG(st.st_mode)) start = -1;
  if (count < 0 && start >= 0)  /* to the end of the file as it is now */
    count = (st.st_size > start) ? (lua_Integer)st.st_size - start : 0;
  lua_pushinteger(L, start);                                          /* 7 */
  lua_pushinteger(L, 0);                                              /* 8 */
  lua_pushinteger(L, count);                                          /* 9 */
  lua_pushnil(L);                                                    /* 10 */
  lua_pushinteger(L, 0);                                             /* 11 */
  lua_pushboolean(L, s->type == SOCK_STREAM && start >= 0);          /* 12 */
  return sendfile_k(L, LUA_OK, 0);
}

/* }====== */


static const luaL_Reg dgram_methods[] = {
  {"sendto", dgram_sendto},
  {"recvfrom", dgram_recvfrom},
  {"sendfile", dgram_sendfile},
  {NULL, NULL}
};


void ns_dgram_open (lua_State *L) {
  if (luaL_newmetatable(L, NS_FDBOX)) {
    lua_pushcfunction(L, fdbox_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, fdbox_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "_socketmethods");
  luaL_setfuncs(L, dgram_methods, 0);
  lua_pop(L, 1);
}
