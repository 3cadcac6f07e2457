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
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "netsock.h"

/* first value a task yields when a netsock call waits: see tasks.lua */
static char waittoken;

#define INT_MAX_FD  INT_MAX


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


/* suspend the running task: yield the 4 values of the task protocol */
static int yieldwait (lua_State *L, int fd, int events, double deadline,
                      lua_KContext ctx, lua_KFunction k) {
  lua_pushlightuserdata(L, &waittoken);
  lua_pushinteger(L, fd);
  lua_pushinteger(L, events & (NS_READ | NS_WRITE));
  lua_pushnumber(L, deadline);
  return lua_yieldk(L, 4, ctx, k);  /* never returns to here */
}


static int loop_register (lua_State *L, int fd, nsSocket *s);

/* block in poll(2): 1 ready, 0 deadline passed, -1 error (errno) */
static int pollwait (int fd, int events, double deadline) {
  struct pollfd pfd;
  int ms, n;
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


/*
** Inside a task, a wait first makes sure the loop's epoll set holds the
** descriptor (loop_register), then yields. A descriptor that epoll
** cannot watch (a regular file) is always ready: return 1 at once.
*/
int ns_waitfd (lua_State *L, int fd, int events, double deadline,
               lua_KContext ctx, lua_KFunction k) {
  if (deadline >= 0 && ns_monotime() >= deadline)
    return 0;
  if (k != NULL && ns_intask(L)) {
    if (fd >= 0) {
      int r = loop_register(L, fd, NULL);
      if (r <= 0) return r < 0 ? -1 : 1;
    }
    return yieldwait(L, fd, events, deadline, ctx, k);
  }
  return pollwait(fd, events, deadline);
}


int ns_wait (lua_State *L, nsSocket *s, int events, double deadline,
             lua_KContext ctx, lua_KFunction k) {
  if (deadline >= 0 && ns_monotime() >= deadline)
    return 0;
  if (k != NULL) {
    if (events & NS_READ)
      ns_buf_trim(s);  /* an idle socket keeps no receive buffer */
    if (ns_intask(L)) {
      int r = loop_register(L, s->fd, s);
      if (r <= 0) return r < 0 ? -1 : 1;
      if (s->waiters == 0)
        s->waiters = 1;  /* close must tell the loop (see ns_close) */
      return yieldwait(L, s->fd, events, deadline, ctx, k);
    }
  }
  return pollwait(s->fd, events, deadline);
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


/* {====== Objects that can be waited on ====== */

/*
** The descriptor of the entry at 'idx': an integer fd, a netsock
** socket, or any table or userdata with a fileno method (file objects
** of makefile are that). '*pending' gets the count of bytes the object
** holds buffered and unread: s:pending() for sockets, obj:pending()
** for anything that has it, 0 otherwise. A closed object gives -1.
** 'arg' and 'i' name the argument and entry in error messages.
*/
static int objfd (lua_State *L, int idx, lua_Integer *pending, int arg,
                  lua_Integer i) {
  nsSocket *s;
  lua_Integer fd;
  int t = lua_type(L, idx);
  idx = lua_absindex(L, idx);
  *pending = 0;
  if (t == LUA_TNUMBER) {
    if (!lua_isinteger(L, idx) || (fd = lua_tointeger(L, idx)) < 0 ||
        fd > INT_MAX_FD)
      return luaL_argerror(L, arg, lua_pushfstring(L,
               "entry %I is not a valid descriptor", (LUAI_UACINT)i));
    return (int)fd;
  }
  if ((s = (nsSocket *)luaL_testudata(L, idx, NS_SOCKET)) != NULL) {
    *pending = (lua_Integer)ns_pending(s);
    return s->fd;
  }
  if (t != LUA_TTABLE && t != LUA_TUSERDATA)
    return luaL_argerror(L, arg, lua_pushfstring(L,
             "entry %I is a %s, not a socket, file or descriptor",
             (LUAI_UACINT)i, luaL_typename(L, idx)));
  if (lua_getfield(L, idx, "fileno") == LUA_TNIL)
    return luaL_argerror(L, arg, lua_pushfstring(L,
             "entry %I has no fileno method", (LUAI_UACINT)i));
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  if (!lua_isinteger(L, -1))
    return luaL_argerror(L, arg, lua_pushfstring(L,
             "fileno of entry %I did not return an integer", (LUAI_UACINT)i));
  fd = lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (fd < 0) return -1;  /* closed */
  if (fd > INT_MAX_FD)
    return luaL_argerror(L, arg, lua_pushfstring(L,
             "entry %I is not a valid descriptor", (LUAI_UACINT)i));
  if (lua_getfield(L, idx, "pending") != LUA_TNIL) {
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    *pending = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return (int)fd;
}


/* the events strings of the poller: "r", "w", "rw" -> NS_READ... */
static const char *const evnames[] = {"r", "w", "rw", NULL};

static int checkevents (lua_State *L, int idx) {
  return luaL_checkoption(L, idx, NULL, evnames) + 1;
}

static uint32_t toepoll (int events) {
  return ((events & NS_READ) ? (uint32_t)(EPOLLIN | EPOLLRDHUP) : 0) |
         ((events & NS_WRITE) ? (uint32_t)EPOLLOUT : 0);
}

/* what the caller asked for that epoll reported (errors wake both) */
static int fromepoll (uint32_t ev, int asked) {
  int r = 0;
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r |= NS_READ;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) r |= NS_WRITE;
  r &= asked;
  return r ? r : asked;  /* an error on an fd asked for w only: w */
}


/*
** A temporary epoll descriptor that a select inside a task waits on.
** It is a userdata on the stack of the call so that it is closed once
** the call returns, raises, or is abandoned (__gc).
*/
typedef struct { int fd; } nsEpfd;

static int epfd_gc (lua_State *L) {
  nsEpfd *e = (nsEpfd *)luaL_checkudata(L, 1, "netsock.epfd");
  if (e->fd >= 0) { close(e->fd); e->fd = -1; }
  return 0;
}

/* }====== */


/* {====== select ====== */

/*
** One pass over both tables (1 readers, 2 writers): fills 'pfd' (one
** entry per element, readers first) and 'force' (ready without
** waiting: buffered bytes, or closed after a wait). Returns how many
** are forced. A closed entry on the first call raises.
*/
static int select_gather (lua_State *L, struct pollfd *pfd, char *force,
                          int nr, int nw, int resumed) {
  int i, k, nforce = 0;
  lua_Integer pend;
  for (k = 0; k < nr + nw; k++) {
    int tbl = k < nr ? 1 : 2;
    lua_Integer idx = k < nr ? k + 1 : k - nr + 1;
    lua_geti(L, tbl, idx);
    i = objfd(L, -1, &pend, tbl, idx);
    lua_pop(L, 1);
    if (i < 0 && !resumed)
      return luaL_argerror(L, tbl, lua_pushfstring(L,
               "entry %I is closed", (LUAI_UACINT)idx));
    pfd[k].fd = i;  /* poll ignores negative descriptors */
    pfd[k].events = (short)(k < nr ? POLLIN : POLLOUT);
    pfd[k].revents = 0;
    force[k] = (char)((i < 0) || (k < nr && pend > 0));
    nforce += force[k];
  }
  return nforce;
}


/* push the arrays of the entries that are ready */
static int select_result (lua_State *L, struct pollfd *pfd, char *force,
                          int nr, int nw) {
  int k, tbl, n;
  for (tbl = 1; tbl <= 2; tbl++) {
    int from = tbl == 1 ? 0 : nr, to = tbl == 1 ? nr : nr + nw;
    lua_createtable(L, 0, 0);
    n = 0;
    for (k = from; k < to; k++) {
      if (force[k] || (pfd[k].revents & (tbl == 1 ?
            (POLLIN | POLLHUP | POLLERR | POLLNVAL) :
            (POLLOUT | POLLHUP | POLLERR | POLLNVAL)))) {
        lua_geti(L, tbl, k - from + 1);
        lua_rawseti(L, -2, ++n);
      }
    }
  }
  return 2;
}


/*
** The length of the readers (1) or writers (2) table. A __len that
** says -1 or 2^40 would make the pollfd arithmetic below index outside
** its block, so it is checked like any other argument.
*/
static int selectlen (lua_State *L, int idx) {
  lua_Integer n = luaL_len(L, idx);
  luaL_argcheck(L, 0 <= n && n <= INT_MAX / 64, idx, "table length out of range");
  return (int)n;
}


/*
** stack: 1 readers, 2 writers, 3 timeout, 4 deadline, 5 epfd holder
** (inside a task, false before the first wait), 6 scratch
*/
static int select_k (lua_State *L, int status, lua_KContext ctx) {
  int nr, nw, nforce, n, ms;
  double deadline;
  struct pollfd *pfd;
  char *force;
  lua_settop(L, 5);
  nr = selectlen(L, 1);
  nw = selectlen(L, 2);
  deadline = lua_tonumber(L, 4);
  pfd = (struct pollfd *)lua_newuserdatauv(L,
          (size_t)(nr + nw) * (sizeof(struct pollfd) + 1) + 1, 0);
  force = (char *)(pfd + nr + nw);
  nforce = select_gather(L, pfd, force, nr, nw, status != LUA_OK);
  for (;;) {
    int intask = ns_intask(L);
    ms = (nforce > 0 || intask) ? 0 : ms_until(deadline);
    n = poll(pfd, (nfds_t)(nr + nw), ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ns_fail(L, errno);
    }
    if (n > 0 || nforce > 0 || ms_until(deadline) == 0) {
      /* done: the epoll set of a task's wait goes now, not at the GC */
      if (lua_type(L, 5) == LUA_TUSERDATA) {
        nsEpfd *e = (nsEpfd *)lua_touserdata(L, 5);
        if (e->fd >= 0) { close(e->fd); e->fd = -1; }
      }
    }
    if (n > 0 || nforce > 0)
      return select_result(L, pfd, force, nr, nw);
    if (ms_until(deadline) == 0) {
      lua_createtable(L, 0, 0);
      lua_createtable(L, 0, 0);
      lua_pushliteral(L, "timeout");
      return 3;
    }
    if (intask) {  /* wait on an epoll set of them all, as one fd */
      nsEpfd *e;
      int k;
      if (lua_type(L, 5) != LUA_TUSERDATA) {
        e = (nsEpfd *)lua_newuserdatauv(L, sizeof(nsEpfd), 0);
        e->fd = -1;
        luaL_setmetatable(L, "netsock.epfd");
        lua_replace(L, 5);
      }
      e = (nsEpfd *)lua_touserdata(L, 5);
      if (e->fd >= 0) close(e->fd);  /* rebuilt: entries may have changed */
      e->fd = epoll_create1(EPOLL_CLOEXEC);
      if (e->fd < 0) return ns_fail(L, errno);
      for (k = 0; k < nr + nw; k++) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = pfd[k].events & POLLIN ? EPOLLIN : EPOLLOUT;
        ev.data.fd = pfd[k].fd;
        if (epoll_ctl(e->fd, EPOLL_CTL_ADD, pfd[k].fd, &ev) < 0) {
          if (errno == EEXIST) {  /* same fd twice: widen it */
            ev.events |= EPOLLIN | EPOLLOUT;
            epoll_ctl(e->fd, EPOLL_CTL_MOD, pfd[k].fd, &ev);
          }
          /* EPERM (a regular file) is always ready: poll said no, so
             it is not one; other errors show up in the next poll */
        }
      }
      lua_settop(L, 6);  /* keep the pollfd block */
      if (ns_waitfd(L, e->fd, NS_READ, deadline, ctx, select_k) < 0)
        return ns_fail(L, errno);
      /* returned: the deadline passed meanwhile; the next pass says so */
    }
  }
}


/*
** netsock.select(readers, writers [, timeout]): poll(2) over any number
** of descriptors. Inside a task it suspends the task on one epoll
** descriptor that holds them all.
*/
static int poll_select (lua_State *L) {
  double t;
  if (lua_isnil(L, 1)) { lua_newtable(L); lua_replace(L, 1); }
  /* writers nil or left out: an empty table, the timeout kept at 3 (an
     unconditional lua_settop(L, 2) here dropped it: select waited for ever) */
  if (lua_gettop(L) < 2) lua_settop(L, 2);
  if (lua_isnil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  t = ns_opttimeout(L, 3);
  lua_settop(L, 3);
  lua_pushnumber(L, ns_deadline(t));
  lua_pushboolean(L, 0);
  return select_k(L, LUA_OK, 0);
}

/* }====== */


/* {====== The poller ====== */

/*
** netsock.poller(): an epoll descriptor plus, in its two user values,
** fd -> object and fd -> events ("r" 1, "w" 2, "rw" 3) for what was
** added, so that wait returns the objects themselves and can count
** bytes they hold buffered as readable.
*/
typedef struct { int epfd; int count; } nsPoller;

#define MAXEVENTS  256  /* per epoll_wait; the rest come on the next */

static nsPoller *checkpoller (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  if (p->epfd < 0)
    luaL_error(L, "attempt to use a closed poller");
  return p;
}


static int poller_new (lua_State *L) {
  nsPoller *p = (nsPoller *)lua_newuserdatauv(L, sizeof(nsPoller), 2);
  p->epfd = -1;
  p->count = 0;
  luaL_setmetatable(L, NS_POLLER);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 2);
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd < 0) return ns_fail(L, errno);
  return 1;
}


/* add or modify: stack 1 poller, 2 object, 3 events */
static int poller_ctl (lua_State *L, int op) {
  nsPoller *p = checkpoller(L);
  lua_Integer pend;
  int fd = objfd(L, 2, &pend, 2, 1);
  int events = checkevents(L, 3);
  struct epoll_event ev;
  luaL_argcheck(L, fd >= 0, 2, "closed object");
  memset(&ev, 0, sizeof ev);
  ev.events = toepoll(events);
  ev.data.fd = fd;
  if (epoll_ctl(p->epfd, op, fd, &ev) < 0)
    return ns_fail(L, errno);
  if (op == EPOLL_CTL_ADD) p->count++;
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, fd);
  lua_getiuservalue(L, 1, 2);
  lua_pushinteger(L, events);
  lua_rawseti(L, -2, fd);
  lua_pushboolean(L, 1);
  return 1;
}

static int poller_add (lua_State *L) { return poller_ctl(L, EPOLL_CTL_ADD); }
static int poller_modify (lua_State *L) { return poller_ctl(L, EPOLL_CTL_MOD); }


/*
** p:remove(obj). An object closed since it was added is found by
** identity (close(2) took it out of the epoll set already).
*/
static int poller_remove (lua_State *L) {
  nsPoller *p = checkpoller(L);
  lua_Integer pend;
  int fd = objfd(L, 2, &pend, 2, 1), found = 0;
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);  /* 3 */
  lua_getiuservalue(L, 1, 2);  /* 4 */
  if (fd >= 0) {
    if (lua_rawgeti(L, 3, fd) != LUA_TNIL && lua_rawequal(L, -1, 2))
      found = 1;
    lua_pop(L, 1);
  }
  if (!found) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (lua_rawequal(L, -1, 2)) {
        fd = (int)lua_tointeger(L, -2);
        found = 2;
        lua_pop(L, 2);
        break;
      }
      lua_pop(L, 1);
    }
  }
  if (!found) {
    if (fd < 0) return ns_fail(L, ENOENT);
    /* an fd not added through this object: epoll decides */
  }
  if (found != 2 && epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
    return ns_fail(L, errno);
  if (found == 2)  /* maybe still open under the same number */
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
  if (found) p->count--;
  lua_pushnil(L);
  lua_rawseti(L, 3, fd);
  lua_pushnil(L);
  lua_rawseti(L, 4, fd);
  lua_pushboolean(L, 1);
  return 1;
}


/* push the object added for fd and append it with its events */
static void addready (lua_State *L, int fd, int events, int *n) {
  static const char *const names[] = {"", "r", "w", "rw"};
  lua_rawgeti(L, 3, fd);
  lua_rawseti(L, 5, ++*n);
  lua_pushstring(L, names[events & 3]);
  lua_rawseti(L, 6, *n);
}


/*
** stack: 1 poller, 2 timeout, 3 objects, 4 events, 5 deadline, then the
** result tables 6 ready, 7 events (rebuilt each pass), 8 done set
*/
static int poller_wait_k (lua_State *L, int status, lua_KContext ctx) {
  nsPoller *p = checkpoller(L);
  struct epoll_event evs[MAXEVENTS];
  double deadline = lua_tonumber(L, 5);
  int n, i, nready = 0, nbuf = 0, intask = ns_intask(L);
  (void)status;
  lua_settop(L, 5);
  lua_newtable(L);  /* 6: fds reported ready by buffered bytes */
  /* bytes buffered in a read-interested object count as readable */
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    lua_Integer pend;
    int fd = (int)lua_tointeger(L, -2), ev;
    lua_rawgeti(L, 4, fd);
    ev = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if ((ev & NS_READ) && objfd(L, -1, &pend, 1, fd) == fd && pend > 0) {
      lua_pushinteger(L, NS_READ);
      lua_rawseti(L, 6, fd);
      nbuf++;
    }
    lua_pop(L, 1);
  }
  for (;;) {
    int ms = (nbuf > 0 || intask) ? 0 : ms_until(deadline);
    n = epoll_wait(p->epfd, evs, MAXEVENTS, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ns_fail(L, errno);
    }
    if (n > 0 || nbuf > 0 || ms_until(deadline) == 0 || intask) break;
  }
  if (n == 0 && nbuf == 0 && intask && ms_until(deadline) != 0) {
    lua_settop(L, 5);
    if (ns_waitfd(L, p->epfd, NS_READ, deadline, ctx, poller_wait_k) < 0)
      return ns_fail(L, errno);
    lua_newtable(L);  /* returned: the deadline passed meanwhile */
  }
  /* 3 objects, 4 events, 5 -> ready, 6 -> events; buffered set at 7 */
  lua_createtable(L, n + nbuf, 0);
  lua_createtable(L, n + nbuf, 0);
  lua_rotate(L, 6, 2);  /* 6 ready, 7 events, 8 buffered */
  lua_remove(L, 5);     /* 5 ready, 6 events, 7 buffered */
  for (i = 0; i < n; i++) {
    int fd = evs[i].data.fd, asked, got;
    lua_rawgeti(L, 4, fd);
    asked = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (asked == 0) continue;  /* removed meanwhile */
    got = fromepoll(evs[i].events, asked);
    if (lua_rawgeti(L, 7, fd) != LUA_TNIL) {
      got |= NS_READ;
      lua_pushnil(L);
      lua_rawseti(L, 7, fd);
    }
    lua_pop(L, 1);
    addready(L, fd, got, &nready);
  }
  lua_pushnil(L);
  while (lua_next(L, 7)) {
    lua_pop(L, 1);
    addready(L, (int)lua_tointeger(L, -1), NS_READ, &nready);
  }
  lua_settop(L, 6);
  if (nready == 0) {
    lua_pushliteral(L, "timeout");
    return 3;
  }
  return 2;
}


/* p:wait([timeout]) -> ready, events */
static int poller_wait (lua_State *L) {
  double t;
  checkpoller(L);
  t = ns_opttimeout(L, 2);
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);
  lua_getiuservalue(L, 1, 2);
  lua_pushnumber(L, ns_deadline(t));
  return poller_wait_k(L, LUA_OK, 0);
}


static int poller_close (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  if (p->epfd >= 0) {
    int fd = p->epfd;
    p->epfd = -1;
    close(fd);
  }
  lua_pushboolean(L, 1);
  return 1;
}


static int poller_fileno (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  lua_pushinteger(L, p->epfd);
  return 1;
}


static int poller_tostring (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  if (p->epfd < 0)
    lua_pushliteral(L, "netsock.poller (closed)");
  else
    lua_pushfstring(L, "netsock.poller (epoll fd %d, %d registered)",
                    p->epfd, p->count);
  return 1;
}


static const luaL_Reg poller_methods[] = {
  {"add", poller_add},
  {"modify", poller_modify},
  {"remove", poller_remove},
  {"wait", poller_wait},
  {"close", poller_close},
  {"fileno", poller_fileno},
  {NULL, NULL}
};

static const luaL_Reg poller_meta[] = {
  {"__index", NULL},
  {"__gc", poller_close},
  {"__close", poller_close},
  {"__tostring", poller_tostring},
  {NULL, NULL}
};

/* }====== */


/* {====== The task loop's waiter ====== */

/*
** core._newloop(): what lua/netsock/tasks.lua waits with: one epoll
** descriptor (kept in the registry at NS_LOOPREF) where every descriptor a
** task waits on is registered edge-triggered for both directions
** (EPOLLET | EPOLLIN | EPOLLOUT). Edge-triggering is sound because every
** netsock call waits only after its system call said EAGAIN: the next
** change of state is an edge; and registering (ADD or MOD) looks at
** the present state, so an edge that came before is not lost.
**
** A socket is registered once: its first wait stamps it with a serial
** number (in s->waiters) that reg[fd] remembers, and its later waits,
** finding the same stamp, cost no system call. A descriptor closed
** behind the loop's back (a socket's __gc) leaves epoll by itself; the
** socket that reuses the number has another stamp (0: new) and is
** registered afresh. Bare descriptors are (re)registered on each wait.
*/
#define NS_LOOP     "netsock.loop"      /* metatable */
#define NS_LOOPREF  "netsock.loopobj"   /* registry: the loop of this state */

typedef struct {
  int epfd;
  int serial;    /* last stamp handed out */
  int cap;       /* size of reg */
  int *reg;      /* reg[fd]: stamp of the socket registered, 0 if none */
} nsLoop;

static nsLoop *checkloop (lua_State *L) {
  nsLoop *l = (nsLoop *)luaL_checkudata(L, 1, NS_LOOP);
  if (l->epfd < 0) luaL_error(L, "attempt to use a closed loop");
  return l;
}


static int loop_new (lua_State *L) {
  nsLoop *l = (nsLoop *)lua_newuserdatauv(L, sizeof(nsLoop), 0);
  memset(l, 0, sizeof *l);
  l->epfd = -1;
  luaL_setmetatable(L, NS_LOOP);
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0) return ns_fail(L, errno);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, NS_LOOPREF);
  return 1;
}


/*
** Make sure the loop's epoll set watches fd (for socket s, or a bare
** descriptor when s is NULL). Returns 1 when it does (or there is no
** loop: a task run by someone else), 0 when epoll cannot watch fd (a
** regular file: always ready), -1 on another error (errno set).
*/
static int loop_register (lua_State *L, int fd, nsSocket *s) {
  nsLoop *l;
  struct epoll_event ev;
  int r;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_LOOPREF);
  l = (nsLoop *)luaL_testudata(L, -1, NS_LOOP);
  lua_pop(L, 1);
  if (l == NULL || l->epfd < 0) return 1;
  if (s != NULL && s->waiters != 0 && fd < l->cap && l->reg[fd] == s->waiters)
    return 1;  /* registered by this very socket */
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
  if (r < 0 && errno == ENOENT) r = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
  if (r < 0) return errno == EPERM ? 0 : -1;
  if (fd >= l->cap) {  /* grow reg; without memory, simply do not remember */
    int cap = l->cap ? l->cap : 1024, *p;
    while (cap <= fd) cap *= 2;
    p = (int *)realloc(l->reg, (size_t)cap * sizeof(int));
    if (p != NULL) {
      memset(p + l->cap, 0, (size_t)(cap - l->cap) * sizeof(int));
      l->reg = p;
      l->cap = cap;
    }
  }
  if (s != NULL) {
    if (++l->serial <= 0) l->serial = 1;  /* wrapped: stamps stay nonzero */
    s->waiters = l->serial;
  }
  if (fd < l->cap) l->reg[fd] = s != NULL ? s->waiters : 0;
  return 1;
}


/*
** l:wait(timeout, out): waits at most timeout seconds (< 0: no limit)
** and stores fd, events (NS_READ/NS_WRITE bits) pairs in out[1..2n];
** returns n. EINTR counts as 0 events (the loop simply turns again).
*/
static int loop_wait (lua_State *L) {
  nsLoop *l = checkloop(L);
  double t = luaL_checknumber(L, 2);
  struct epoll_event evs[MAXEVENTS];
  int n, i, ms;
  luaL_checktype(L, 3, LUA_TTABLE);
  if (t < 0) ms = -1;
  else if (t > 2147483.0) ms = 2147483647;
  else ms = (int)ceil(t * 1000.0);
  n = epoll_wait(l->epfd, evs, MAXEVENTS, ms);
  if (n < 0) {
    if (errno != EINTR) return ns_fail(L, errno);
    n = 0;
  }
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, evs[i].data.fd);
    lua_rawseti(L, 3, 2 * i + 1);
    lua_pushinteger(L, fromepoll(evs[i].events, NS_READ | NS_WRITE));
    lua_rawseti(L, 3, 2 * i + 2);
  }
  lua_pushinteger(L, n);
  return 1;
}


static int loop_close (lua_State *L) {
  nsLoop *l = (nsLoop *)luaL_checkudata(L, 1, NS_LOOP);
  if (l->epfd >= 0) { close(l->epfd); l->epfd = -1; }
  free(l->reg);
  l->reg = NULL;
  l->cap = 0;
  return 0;
}


static const luaL_Reg loop_methods[] = {
  {"wait", loop_wait},
  {"close", loop_close},
  {NULL, NULL}
};

/* }====== */


/* {====== Name resolution off the loop ====== */

/*
** getaddrinfo(3) blocks and has no non-blocking form. Inside a task,
** core._getaddrinfo_task runs it on a short-lived thread that signals
** an eventfd when done; the task waits on the eventfd like on any
** descriptor. The job is shared by the thread and a userdata on the
** task's stack: whichever lets go last frees it (refs under the mutex),
** so a task abandoned mid-lookup leaks nothing. A numeric host needs
** no lookup and is answered at once.
*/
typedef struct nsLookup {
  pthread_mutex_t mu;
  int refs;             /* the thread and the userdata */
  int efd;              /* written once the answer is in */
  int done, gai, err;
  char *host, *serv;
  struct addrinfo hints, *res;
} nsLookup;

static void lookup_free (nsLookup *j) {
  if (j->res) freeaddrinfo(j->res);
  if (j->efd >= 0) close(j->efd);
  free(j->host);
  free(j->serv);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

/* drop one reference; frees the job with the last */
static void lookup_unref (nsLookup *j) {
  int last;
  pthread_mutex_lock(&j->mu);
  last = --j->refs == 0;
  pthread_mutex_unlock(&j->mu);
  if (last) lookup_free(j);
}

static void *lookup_thread (void *arg) {
  nsLookup *j = (nsLookup *)arg;
  struct addrinfo *res = NULL;
  uint64_t one = 1;
  int gai = getaddrinfo(j->host, j->serv, &j->hints, &res);
  int err = errno, last;
  pthread_mutex_lock(&j->mu);
  j->gai = gai;
  j->err = err;
  j->res = res;
  j->done = 1;
  if (write(j->efd, &one, sizeof one) < 0) { /* cannot fail: counter */ }
  last = --j->refs == 0;  /* signalled before letting go: efd is open */
  pthread_mutex_unlock(&j->mu);
  if (last) lookup_free(j);
  return NULL;
}

static int lookup_gc (lua_State *L) {
  nsLookup **pj = (nsLookup **)luaL_checkudata(L, 1, "netsock.lookup");
  if (*pj) { lookup_unref(*pj); *pj = NULL; }
  return 0;
}

/* stack: 1 host, 2 port, 3 family, 4 type, 5 job */
static int lookup_k (lua_State *L, int status, lua_KContext ctx) {
  nsLookup *j = *(nsLookup **)luaL_checkudata(L, 5, "netsock.lookup");
  int done;
  (void)status;
  lua_settop(L, 5);
  pthread_mutex_lock(&j->mu);
  done = j->done;
  pthread_mutex_unlock(&j->mu);
  if (!done) {
    ns_waitfd(L, j->efd, NS_READ, -1.0, ctx, lookup_k);
    return lookup_k(L, LUA_OK, ctx);  /* not in a task: poll returned */
  }
  if (j->gai != 0) return ns_gaifail(L, j->gai, j->err);
  ns_pushaddrinfo(L, j->res);
  return 1;
}

/*
** core._getaddrinfo_task(host, port [, family [, type]]): as
** netsock.getaddrinfo, but a name is looked up on a thread while the
** calling task is suspended (the other tasks run meanwhile).
*/
static int poll_getaddrinfo_task (lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  char portbuf[8];
  const char *serv = ns_checkport(L, 2, portbuf);
  struct addrinfo hints, *res;
  nsLookup *j, **pj;
  pthread_attr_t attr;
  pthread_t th;
  int gai, r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = ns_family(L, 3, AF_UNSPEC);
  hints.ai_socktype = ns_socktype(L, 4, 0);
  hints.ai_flags = AI_NUMERICHOST;
  gai = getaddrinfo(host, serv, &hints, &res);  /* no lookup: numeric */
  if (gai == 0) {
    ns_pushaddrinfo(L, res);
    freeaddrinfo(res);
    return 1;
  }
  hints.ai_flags = 0;
  lua_settop(L, 4);
  pj = (nsLookup **)lua_newuserdatauv(L, sizeof(nsLookup *), 0);
  *pj = NULL;
  luaL_setmetatable(L, "netsock.lookup");
  j = (nsLookup *)calloc(1, sizeof *j);
  if (j == NULL) return ns_fail(L, ENOMEM);
  j->efd = -1;
  pthread_mutex_init(&j->mu, NULL);
  *pj = j;
  j->refs = 1;
  j->hints = hints;
  j->host = strdup(host);
  j->serv = strdup(serv);
  j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (j->host == NULL || j->serv == NULL) return ns_fail(L, ENOMEM);
  if (j->efd < 0) return ns_fail(L, errno);
  j->refs = 2;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  r = pthread_create(&th, &attr, lookup_thread, j);
  pthread_attr_destroy(&attr);
  if (r != 0) {  /* no thread: look it up here, blocking */
    j->refs = 1;
    j->gai = getaddrinfo(host, serv, &hints, &j->res);
    j->err = errno;
    j->done = 1;
  }
  return lookup_k(L, LUA_OK, 0);
}

/* }====== */


/*
** netsock.setrlimit_nofile([n]): raise the soft limit of open
** descriptors to n (default: the hard limit; never above it). Returns
** the new soft limit and the hard limit.
*/
static int poll_setrlimit_nofile (lua_State *L) {
  struct rlimit rl;
  lua_Integer want;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return ns_fail(L, errno);
  want = luaL_optinteger(L, 1, -1);
  luaL_argcheck(L, want >= -1, 1, "negative limit");
  if (want < 0 || (rl.rlim_max != RLIM_INFINITY &&
                   (rlim_t)want > rl.rlim_max))
    rl.rlim_cur = rl.rlim_max;
  else
    rl.rlim_cur = (rlim_t)want;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) return ns_fail(L, errno);
  lua_pushinteger(L, rl.rlim_cur == RLIM_INFINITY ? LUA_MAXINTEGER
                                                  : (lua_Integer)rl.rlim_cur);
  lua_pushinteger(L, rl.rlim_max == RLIM_INFINITY ? LUA_MAXINTEGER
                                                  : (lua_Integer)rl.rlim_max);
  return 2;
}


static const luaL_Reg poll_funcs[] = {
  {"monotime", poll_monotime},
  {"gettime", poll_gettime},
  {"sleep", poll_sleep},
  {"select", poll_select},
  {"poller", poller_new},
  {"setrlimit_nofile", poll_setrlimit_nofile},
  {"_waittoken", poll_waittoken},
  {"_newloop", loop_new},
  {"_getaddrinfo_task", poll_getaddrinfo_task},
  {NULL, NULL}
};


static void createmeta (lua_State *L, const char *name,
                        const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  if (meta) luaL_setfuncs(L, meta, 0);
  lua_newtable(L);  /* the placeholder __index gets the methods */
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}


void ns_poll_open (lua_State *L) {
  static const luaL_Reg epfd_meta[] = {
    {"__gc", epfd_gc}, {"__close", epfd_gc}, {NULL, NULL}
  };
  static const luaL_Reg loop_meta[] = {
    {"__gc", loop_close}, {NULL, NULL}
  };
  static const luaL_Reg none[] = {{NULL, NULL}};
  createmeta(L, NS_POLLER, poller_meta, poller_methods);
  createmeta(L, NS_LOOP, loop_meta, loop_methods);
  createmeta(L, "netsock.epfd", epfd_meta, none);
  {
    static const luaL_Reg lookup_meta[] = {
      {"__gc", lookup_gc}, {NULL, NULL}
    };
    createmeta(L, "netsock.lookup", lookup_meta, none);
  }
  ns_setfuncs(L, poll_funcs);
}
