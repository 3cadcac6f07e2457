/*
** loop.c: the task loop's object (core._newloop), what
** lua/netsock/tasks.lua waits with: one readiness set (epoll) per state
** where every descriptor a task waits on is registered edge-triggered for
** both directions (EPOLLET | EPOLLIN | EPOLLOUT), the tasks' waits
** (sched.c) and the methods the loop's turn calls: poll (the set's wait,
** the due timers), runq (the ready tasks, resumed in C), suspend and
** unwait (waits made in Lua), wakefd, query, flag, close.
**
** Edge-triggering is sound because every netsock call waits only after
** its system call said EAGAIN: the next change of state is an edge; and registering (ADD or MOD) looks at
** the present state, so an edge that came before is not lost. (A read
** right after a short read waits on a guess instead: ns_readskip.)
**
** A socket is registered once: its first wait stamps it with a serial
** number (in s->waiters) that reg[fd] remembers, and its later waits,
** finding the same stamp, cost no system call. A descriptor closed
** behind the loop's back (a socket's __gc) leaves epoll by itself; the
** socket that reuses the number has another stamp (0: new) and is
** registered afresh. Bare descriptors are (re)registered on each wait.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsock.h"

#define MAXEVENTS  256  /* per wait; the rest come on the next */


static nsLoop *checkloop (lua_State *L) {
  nsLoop *l = ns_toloop(L, 1);
  if (l == NULL) luaL_typeerror(L, 1, "netsock loop");
  if (l->epfd < 0) luaL_error(L, "attempt to use a closed loop");
  return l;
}


/*
** core._newloop(tasks, onclose): the loop object; 'tasks' is the weak
** set of the loop's task threads (ns_intask), 'onclose(fd)' what a
** close calls to wake the tasks waiting on fd (ns_wakeclosed). Lua
** hands both over here, so the task loop never reaches into the
** registry.
*/
static int loop_new (lua_State *L) {
  nsLoop *l;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, NS_TASKS);
  lua_pushvalue(L, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, NS_ONCLOSE);
  l = (nsLoop *)lua_newuserdatauv(L, sizeof(nsLoop), 2);
  memset(l, 0, sizeof *l);
  l->epfd = -1;
  l->magic = NS_LOOPMAGIC;
  ns_sched_init(&l->sched);
  luaL_setmetatable(L, NS_LOOP);
  lua_newtable(L);               /* the map: thread <-> slot id */
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 1);           /* the tasks, for taskloop */
  lua_setiuservalue(L, -2, 2);
  l->epfd = ns_ready_open();
  if (l->epfd < 0) return ns_fail(L, errno);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, NS_LOOPREF);
  return 1;
}


/* the loop at 1 and its map pushed; returns the loop */
static nsLoop *loopmap (lua_State *L) {
  nsLoop *l = checkloop(L);
  lua_getiuservalue(L, 1, 1);
  return l;
}


/* l:suspend(t, fd, events, deadline): file a wait task t yielded */
static int loop_suspend (lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 3), ev = (int)luaL_checkinteger(L, 4);
  double d = luaL_checknumber(L, 5);
  nsLoop *l;
  luaL_checktype(L, 2, LUA_TTHREAD);
  lua_settop(L, 5);
  l = loopmap(L);
  if (ns_sched_file(&l->sched, ns_sched_id(L, &l->sched, 6, 2, 1), fd, ev, d) < 0)
    return luaL_error(L, "not enough memory");
  return 0;
}


/* l:unwait(t [, ended]): task t's wait ends; ended: t ended, its slot goes */
static int loop_unwait (lua_State *L) {
  nsLoop *l;
  int ended = lua_toboolean(L, 3), id;
  luaL_checktype(L, 2, LUA_TTHREAD);
  lua_settop(L, 2);
  l = loopmap(L);
  if (ended) ns_sched_drop(L, &l->sched, 3, 2);
  else if ((id = ns_sched_id(L, &l->sched, 3, 2, 0)) > 0)
    ns_sched_unwait(&l->sched, id);
  return 0;
}


/* l:query(what, t or fd): what the loop knows of a wait (sched.c) */
static int loop_query (lua_State *L) {
  nsLoop *l = checkloop(L);
  const char *what = luaL_checkstring(L, 2);
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  lua_getiuservalue(L, 1, 1);
  return ns_sched_query(L, &l->sched, 4, 3, what[0]);
}


/* l:flag(name, on): "running" (the loop runs its tasks now; a stop is
   forgotten), "stop" (netsock.stop), "scoped" (timeout scopes exist) */
static int loop_flag (lua_State *L) {
  nsLoop *l = checkloop(L);
  const char *name = luaL_checkstring(L, 2);
  int on = lua_toboolean(L, 3);
  if (name[0] == 'r') { l->running = on; l->sched.stop = 0; }
  else if (name[0] == 's' && name[1] == 't') l->sched.stop = on;
  else l->sched.scoped = on;
  return 0;
}


/* l:runq(q, qhead, last, tasks): the ready tasks, sched.c's ns_sched_runq */
static int loop_runq (lua_State *L) {
  nsLoop *l = checkloop(L);
  lua_Integer qhead = luaL_checkinteger(L, 3), last = luaL_checkinteger(L, 4);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_settop(L, 5);
  return ns_sched_runq(L, &l->sched, 2, qhead, last, 5, ns_filedtoken());
}


/* l:resume(t): coroutine.resume(t) for a task, one not started included
   (core._newtask): true and what it yielded or returned, or false and
   its error */
static int loop_resume (lua_State *L) {
  lua_State *co = lua_tothread(L, 2);
  checkloop(L);
  luaL_argexpected(L, co != NULL, 2, "thread");
  lua_settop(L, 2);
  return ns_sched_resume(L, co);
}


/* l:wakefd(fd, q, qtail): fd's waiters onto q; returns the new tail */
static int loop_wakefd (lua_State *L) {
  nsLoop *l = checkloop(L);
  int fd = (int)luaL_checkinteger(L, 2);
  lua_Integer qtail = luaL_checkinteger(L, 4);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 4);
  lua_getiuservalue(L, 1, 1);
  lua_pushinteger(L, ns_sched_wakefd(L, &l->sched, 5, 3, qtail, fd,
                                     NS_READ | NS_WRITE));
  return 1;
}


/*
** l:poll(maxwait, q, qtail, parked, ready): the loop's wait, at most
** until the soonest timer, not at all when 'ready' (tasks are queued),
** at most maxwait seconds (< 0: no limit); then the waiters of each
** descriptor reported ready (in the kernel's order) and each due timer's
** task go onto q from qtail. Returns the new tail. EINTR: no event.
*/
static int loop_poll (lua_State *L) {
  nsLoop *l = checkloop(L);
  double maxwait = luaL_checknumber(L, 2), t = -1;
  lua_Integer qtail = luaL_checkinteger(L, 4);
  nsReadyEvent evs[MAXEVENTS];
  int n, i, ms;
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_settop(L, 6);
  lua_getiuservalue(L, 1, 1);    /* 7: the map */
  if (lua_toboolean(L, 6)) t = 0;
  else if (l->sched.hn > 0) {
    t = ns_sched_next(&l->sched) - ns_monotime();
    if (t < 0) t = 0;
  }
  if (maxwait >= 0 && (t < 0 || t > maxwait)) t = maxwait;
  if (t < 0) ms = -1;
  else if (t > 2147483.0) ms = 2147483647;
  else ms = (int)ceil(t * 1000.0);
  n = ns_ready_wait(l->epfd, evs, MAXEVENTS, ms);
  ns_polled();  /* short reads before it make no guess (ns_readskip) */
  if (n < 0) {
    if (errno != EINTR) return luaL_error(L, "the loop's wait failed: %s", strerror(errno));
    n = 0;
  }
  for (i = 0; i < n; i++) {
    int fd = evs[i].fd;
    if ((evs[i].events & NS_HANGUP) && fd >= 0 && fd < l->cap)
      l->hup[fd] = 1;  /* it stays: a read after it must look (ns_readskip) */
    qtail = ns_sched_wakefd(L, &l->sched, 7, 3, qtail, fd,
                            ns_readywithin(evs[i].events, NS_READ | NS_WRITE));
  }
  if (l->sched.hn > 0)
    qtail = ns_sched_fire(L, &l->sched, 7, 3, qtail, 5, ns_monotime());
  lua_pushinteger(L, qtail);
  return 1;
}


static int loop_close (lua_State *L) {
  nsLoop *l = (nsLoop *)luaL_checkudata(L, 1, NS_LOOP);
  if (l->epfd >= 0) { ns_ready_close(l->epfd); l->epfd = -1; }
  free(l->reg);
  free(l->hup);
  l->reg = NULL;
  l->hup = NULL;
  l->cap = 0;
  ns_sched_close(&l->sched);
  return 0;
}


static const luaL_Reg loop_methods[] = {
  {"poll", loop_poll},
  {"suspend", loop_suspend},
  {"unwait", loop_unwait},
  {"query", loop_query},
  {"flag", loop_flag},
  {"runq", loop_runq},
  {"resume", loop_resume},
  {"wakefd", loop_wakefd},
  {"close", loop_close},
  {NULL, NULL}
};



/*
** core._newtask(fn, ...): a task's coroutine, which calls fn(...) when
** first resumed (ns_sched_resume). The arguments wait on its own stack,
** where netsock.spawn's closure and table held them before: about 300
** bytes less per task, and one frame less under the task's code
** (docs/performance.md, "Memory per idle connection"). fn may be any
** callable value: the call resolves a __call as any call does.
*/
static int loop_newtask (lua_State *L) {
  int n = lua_gettop(L);
  lua_State *co;
  luaL_checkany(L, 1);
  co = lua_newthread(L);
  if (!lua_checkstack(co, n))
    return luaL_error(L, "too many arguments to spawn");
  lua_rotate(L, 1, 1);           /* the thread below fn and its arguments */
  lua_xmove(L, co, n);
  return 1;
}


static const luaL_Reg loop_funcs[] = {
  {"_newloop", loop_new},
  {"_newtask", loop_newtask},
  {NULL, NULL}
};


void ns_loop_open (lua_State *L) {
  static const luaL_Reg loop_meta[] = {
    {"__gc", loop_close}, {NULL, NULL}
  };
  ns_newclass(L, NS_LOOP, loop_meta, loop_methods, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, loop_funcs, 0);
}
