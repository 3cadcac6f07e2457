/*
** connect.c: s:connect and s:connect_ex: the non-blocking connect and
** its end (asked at once, and after each wait until writable: on Linux
** TCP_INFO's state, ns_sys_connected; else, or when that says it
** failed, SO_ERROR and getpeername), a Unix listener's full backlog
** (pause and connect again), and inside a task the lookup of a host
** name on the lookup pool first, all within the socket's timeout.
*/
#include <errno.h>
#include <sys/socket.h>

#include "netsock.h"


/*
** A Unix stream connect to a listener whose backlog is full says
** EAGAIN (not EINPROGRESS: there is nothing to poll for). A blocking
** connect would sleep in the kernel until the server accepts; here the
** call pauses (ns_pause) and connects again, until its deadline.
** 'first': the connect that said EAGAIN was just made (pause first).
*/
static nsResult connect_again (lua_State *L, nsSocket *s, int first,
                               lua_KContext ctx, lua_KFunction k, int *err) {
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t len;
    nsResult r;
    int c;
    if (first) {
      r = ns_pause(L, s->timeout == 0, lua_tonumber(L, (int)ctx), ctx, k);
      if (r != NS_AGAIN) { *err = errno; return r; }
    }
    first = 1;
    if (ns_getaddr(L, 2, s->family, s->type, 0, &ss, &len) < 0)
      return NS_PUSHED;
    ns_callflags(L, s, NS_WRITE | NS_NOFLAGS, lua_tonumber(L, (int)ctx));
    do c = connect(s->fd, (struct sockaddr *)&ss, len);
    while (c < 0 && errno == EINTR);
    if (c == 0) return NS_OK;
    *err = errno;
    if (*err == EINPROGRESS || *err == EALREADY) {
      lua_pushboolean(L, 0);  /* under way after all: wait as usual */
      lua_replace(L, (int)ctx + 1);
      return NS_PENDING;
    }
    if (*err != EAGAIN) return NS_ERRNO;
  }
}


/*
** The end of a non-blocking connect: asked at once (a loopback connect
** is done by then), then after each wait until writable: Linux's
** TCP_INFO state says "connected" or "not yet" in one system call
** (ns_sys_connected); SO_ERROR reads a failure (or anything where the
** platform cannot tell that way). NS_OK connected, NS_ERRNO with *err,
** NS_TIMEOUT, or NS_CLOSED for a socket closed meanwhile.
** stack: 1 socket, ..., 'ctx' deadline, ctx + 1 true when a Unix
** connect said EAGAIN (connect_again)
*/
static nsResult connect_wait (lua_State *L, int status, lua_KContext ctx,
                              lua_KFunction k, int *err) {
  nsSocket *s = ns_checkresumed(L);
  socklen_t len = sizeof *err;
  nsResult r;
  if (s == NULL) return NS_CLOSED;
  if (lua_toboolean(L, (int)ctx + 1)) {
    r = connect_again(L, s, status == LUA_OK, ctx, k, err);
    if (r != NS_PENDING) return r;
  }
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int c = s->family == AF_UNIX ? -1 : ns_sys_connected(s->fd);
    if (c == 0) return NS_OK;
    if (c == EINPROGRESS) goto wait;
    *err = 0;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
      *err = errno;
    if (*err != 0) return NS_ERRNO;
    /* writable and no error means connected; check without waiting */
    if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) == 0)
      return NS_OK;
    if (errno != ENOTCONN) { *err = errno; return NS_ERRNO; }
  wait:
    r = ns_wait(L, s, NS_WRITE, lua_tonumber(L, (int)ctx), ctx, k);
    if (r != NS_AGAIN) { *err = errno; return r; }
  }
}


/*
** Start connecting to the address at stack 2..: NS_OK connected,
** NS_PENDING (wait: the deadline is at *slot), NS_ERRNO with *err, or
** NS_PUSHED (a resolver failure).
*/
static nsResult do_connect (lua_State *L, nsSocket *s, double deadline,
                            int *slot, int *err) {
  struct sockaddr_storage ss;
  socklen_t len;
  int n = ns_getaddr(L, 2, s->family, s->type, 0, &ss, &len), r;
  if (n < 0) return NS_PUSHED;
  *slot = 2 + n;
  lua_settop(L, 1 + n);
  lua_pushnumber(L, deadline);
  ns_callflags(L, s, NS_WRITE | NS_NOFLAGS, deadline);
  /* EINTR: try again, as libuv does; a connect the signal interrupted
     goes on in the kernel and the retry says EALREADY (in progress).
     Waiting without the retry could wait on a connect never started:
     an unconnected socket polls writable at once, with no error. */
  do r = connect(s->fd, (struct sockaddr *)&ss, len);
  while (r < 0 && ns_retry(L));
  if (r == 0) return NS_OK;
  *err = errno;
  if (*err == EAGAIN && s->family == AF_UNIX && s->timeout != 0) {
    lua_pushboolean(L, 1);  /* a full backlog: connect_again */
    return NS_PENDING;
  }
  if (*err != EINPROGRESS && *err != EALREADY)
    return NS_ERRNO;
  if (s->timeout == 0) { *err = EINPROGRESS; return NS_ERRNO; }
  return NS_PENDING;
}


static int connect_k (lua_State *L, int status, lua_KContext ctx) {
  int err = 0;
  nsResult r = connect_wait(L, status, ctx, connect_k, &err);
  if (r == NS_OK) { lua_pushboolean(L, 1); return 1; }
  return ns_pushresult(L, r, err);
}


static int connect_start (lua_State *L, nsSocket *s, double deadline) {
  int slot = 0, err = 0;
  nsResult r = do_connect(L, s, deadline, &slot, &err);
  if (r == NS_PENDING) return connect_k(L, LUA_OK, slot);
  if (r == NS_OK) { lua_pushboolean(L, 1); return 1; }
  return ns_pushresult(L, r, err);
}


/* connect_ex: 0, or the errno number (EAGAIN when the timeout ran out) */
static int connect_ex_result (lua_State *L, nsResult r, int err) {
  lua_pushinteger(L, r == NS_OK ? 0 : r == NS_TIMEOUT ? EAGAIN
                     : r == NS_CLOSED ? EBADF : err);
  return 1;
}


static int connect_ex_k (lua_State *L, int status, lua_KContext ctx) {
  int err = 0;
  nsResult r = connect_wait(L, status, ctx, connect_ex_k, &err);
  if (r == NS_PUSHED) return 3;
  return connect_ex_result(L, r, err);
}


static int connect_ex_start (lua_State *L, nsSocket *s, double deadline) {
  int slot = 0, err = 0;
  nsResult r = do_connect(L, s, deadline, &slot, &err);
  if (r == NS_PUSHED) return 3;
  if (r == NS_PENDING) return connect_ex_k(L, LUA_OK, slot);
  return connect_ex_result(L, r, err);
}


/*
** Inside a task a host name is looked up on the resolver's pool first
** (resolve.c) while the task waits; the socket's timeout bounds lookup
** and connect together. stack: 1 socket, 2 host, 3 port, 4 deadline,
** 5 the lookup; ctx 1 for connect_ex.
*/
static int connect_lookup_k (lua_State *L, int status, lua_KContext ctx) {
  nsSocket *s = ns_checkresumed(L);
  double deadline = lua_tonumber(L, 4);
  nsResult r;
  (void)status;
  lua_settop(L, 5);
  if (s == NULL) r = NS_CLOSED;
  else r = ns_lookupwait(L, s, 5, 2, deadline, 0, ctx, connect_lookup_k);
  if (r == NS_PUSHED) return 3;
  if (r != NS_OK) {
    if (ctx) return connect_ex_result(L, r, errno);
    return ns_pushresult(L, r, errno);
  }
  lua_settop(L, 3);
  return ctx ? connect_ex_start(L, s, deadline) : connect_start(L, s, deadline);
}

static int connect_begin (lua_State *L, int ex) {
  nsSocket *s = ns_checkopen(L, 1);
  double deadline = ns_deadline(s->timeout);
  if (s->family != AF_UNIX && lua_gettop(L) >= 3) {
    lua_settop(L, 3);
    if (ns_lookupstart(L, s, 2)) {  /* pushed the lookup: now at 4 */
      lua_pushnumber(L, s->timeout > 0 ? deadline : -1.0);
      lua_insert(L, 4);
      return connect_lookup_k(L, LUA_OK, ex);
    }
  }
  return ex ? connect_ex_start(L, s, deadline) : connect_start(L, s, deadline);
}

static int sock_connect (lua_State *L) {
  ns_io_connecting(L);  /* the host name s:starttls checks by default */
  return connect_begin(L, 0);
}

/* s:connect less that name (the luasocket layer's objects have no
   starttls: remembering it was a weak table's insert per connect) */
int ns_connect_nohost (lua_State *L) {
  return connect_begin(L, 0);
}

static int sock_connect_ex (lua_State *L) {
  return connect_begin(L, 1);
}


void ns_connect_open (lua_State *L) {
  static const luaL_Reg methods[] = {
    {"connect", sock_connect},
    {"connect_ex", sock_connect_ex},
    {NULL, NULL}
  };
  ns_addmethods(L, methods);
}
