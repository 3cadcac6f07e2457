/*
** poll.c: the clock and the one place where a call waits.
**
** Every descriptor netsock owns is non-blocking. A call that cannot
** go on asks ns_wait to wait for readiness until its deadline. Outside
** a task that is poll(2); inside a task (a coroutine the loop in
** lua/netsock/tasks.lua runs) it yields to the loop instead, and the
** loop resumes the call's continuation once the descriptor is ready or
** the deadline has passed. The continuation simply tries again, so the
** blocking, non-blocking, timed and task paths are one code path.
*/
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <time.h>

#include "netsock.h"

/* first value a task yields when a netsock call waits: see tasks.lua */
static char waittoken;


double ns_monotime (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


double ns_deadline (double timeout) {
  return timeout < 0 ? -1.0 : ns_monotime() + timeout;
}


/*
** A thread is a task when the loop registered it in the weak set
** NS_TASKS. A coroutine of the user's own inside a task is not a task:
** it blocks, as it would anywhere else.
*/
int ns_intask (lua_State *L) {
  int r;
  if (!lua_isyieldable(L))
    return 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, NS_TASKS) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushthread(L);
  r = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return r;
}


/* milliseconds until 'deadline' for poll(2), rounded up; -1 for none */
static int ms_until (double deadline) {
  double left;
  if (deadline < 0) return -1;
  left = (deadline - ns_monotime()) * 1000.0;
  if (left <= 0) return 0;
  if (left > 2147483647.0) return 2147483647;
  return (int)ceil(left);
}


int ns_waitfd (lua_State *L, int fd, int events, double deadline,
               lua_KContext ctx, lua_KFunction k) {
  struct pollfd pfd;
  int ms, n;
  if (deadline >= 0 && ns_monotime() >= deadline)
    return 0;
  if (k != NULL && ns_intask(L)) {
    lua_pushlightuserdata(L, &waittoken);
    lua_pushinteger(L, fd);
    lua_pushinteger(L, events);
    lua_pushnumber(L, deadline);
    return lua_yieldk(L, 4, ctx, k);  /* never returns to here */
  }
  pfd.fd = fd;
  pfd.events = (short)(((events & NS_READ) ? POLLIN : 0) |
                       ((events & NS_WRITE) ? POLLOUT : 0));
  for (;;) {
    ms = ms_until(deadline);
    n = poll(&pfd, 1, ms);
    if (n > 0) return 1;  /* ready, or an error the call will read */
    if (n == 0) {
      if (ms_until(deadline) == 0) return 0;
      continue;  /* poll woke a little early: wait the rest */
    }
    if (errno != EINTR) return -1;
  }
}


int ns_wait (lua_State *L, nsSocket *s, int events, double deadline,
             lua_KContext ctx, lua_KFunction k) {
  if (k != NULL && (events & NS_READ))
    ns_buf_trim(s);  /* an idle socket keeps no receive buffer */
  if (k != NULL && ns_intask(L))
    s->waiters = 1;  /* close must tell the loop (see sock_close) */
  return ns_waitfd(L, s->fd, events, deadline, ctx, k);
}


static int poll_monotime (lua_State *L) {
  lua_pushnumber(L, ns_monotime());
  return 1;
}


static int poll_gettime (lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
  return 1;
}


static int sleep_k (lua_State *L, int status, lua_KContext ctx) {
  double deadline = lua_tonumber(L, 2);
  struct timespec ts;
  double left;
  (void)status; (void)ctx;
  if (ns_intask(L)) {
    if (ns_monotime() < deadline)
      return ns_waitfd(L, -1, 0, deadline, 0, sleep_k);
    return 0;
  }
  while ((left = deadline - ns_monotime()) > 0) {
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);  /* EINTR: the loop sleeps the rest */
  }
  return 0;
}


/*
** netsock.sleep(seconds): inside a task it suspends that task alone;
** elsewhere it blocks the process.
*/
static int poll_sleep (lua_State *L) {
  double t = luaL_checknumber(L, 1);
  luaL_argcheck(L, t >= 0, 1, "negative or NaN sleep");  /* NaN fails too */
  if (t > 1e9) t = 1e9;  /* ~31 years: "for ever" without overflow */
  lua_settop(L, 1);
  lua_pushnumber(L, ns_monotime() + t);
  return sleep_k(L, LUA_OK, 0);
}


static int poll_waittoken (lua_State *L) {
  lua_pushlightuserdata(L, &waittoken);
  return 1;
}


static const luaL_Reg poll_funcs[] = {
  {"monotime", poll_monotime},
  {"gettime", poll_gettime},
  {"sleep", poll_sleep},
  {"_waittoken", poll_waittoken},
  {NULL, NULL}
};


void ns_poll_open (lua_State *L) {
  ns_setfuncs(L, poll_funcs);
}
