/*
** select.c: netsock.select and the poller object (a readiness set of
** ready_epoll.c), over any number of descriptors: sockets, file
** objects, integer descriptors and anything with a fileno method.
** Bytes a socket or file holds buffered count as readable. Inside a
** task both wait on one readiness set through wait.c, so the task
** alone is suspended.
*/
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "netsock.h"

#define INT_MAX_FD  INT_MAX
#define MAXEVENTS   256  /* per wait; the rest come on the next */


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
  if ((s = ns_tosocket(L, idx)) != NULL) {
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


/* close the readiness set a descriptor box holds (ns_ready_close: the
   poll backend frees its record); the box's __gc, for a task abandoned
   while it waits, closes it with close(2), which the backend also
   survives */
static void closeset (int *box) {
  if (*box >= 0) {
    int fd = *box;
    *box = -1;
    ns_ready_close(fd);
  }
}


/*
** Inside a task: a readiness set of every entry (in the descriptor box
** at 5, made or rebuilt: entries may have changed), and at 7 the list
** of the sockets whose close must wake the wait. Returns the list's
** length, or -1 with errno.
*/
static int select_waitset (lua_State *L, struct pollfd *pfd, int nr, int nw) {
  int *epfd, k, nwatch = 0;
  if (lua_type(L, 5) != LUA_TUSERDATA) {
    ns_newfdbox(L);
    lua_replace(L, 5);
  }
  epfd = (int *)lua_touserdata(L, 5);
  closeset(epfd);
  *epfd = ns_ready_open();
  if (*epfd < 0) return -1;
  lua_createtable(L, 0, 0);  /* 7: the sockets whose close wakes us */
  for (k = 0; k < nr + nw; k++) {
    int ev = pfd[k].events & POLLIN ? NS_READ : NS_WRITE;
    nsSocket *s;
    if (ns_ready_add(*epfd, pfd[k].fd, ev) < 0 && errno == EEXIST) {
      /* the same fd twice (a socket and its file): what the entries on
         it ask for together, no more (widening to both directions woke
         the task at once for ever on an idle, writable socket) */
      int j;
      for (j = 0; j < k; j++)
        if (pfd[j].fd == pfd[k].fd)
          ev |= pfd[j].events & POLLIN ? NS_READ : NS_WRITE;
      ns_ready_modify(*epfd, pfd[k].fd, ev);
    }
    /* EPERM (a regular file) is always ready: poll said no, so it is
       not one; other errors show up in the next poll */
    lua_geti(L, k < nr ? 1 : 2, k < nr ? k + 1 : k - nr + 1);
    s = ns_tosocket(L, -1);  /* a socket entry: its close wakes the wait */
    lua_pop(L, 1);
    if (s != NULL && s->fd >= 0) {
      if (s->waiters == 0) s->waiters = -1;  /* no loop stamp */
      lua_pushinteger(L, s->fd);
      lua_rawseti(L, 7, ++nwatch);
    }
  }
  return nwatch;
}


/* whether the call's own timeout (its argument at 'idx') is 0: a poll */
static int owntimeout0 (lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TNUMBER && lua_tonumber(L, idx) == 0;
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
    ms = (nforce > 0 || intask) ? 0 : ns_msuntil(deadline);
    n = poll(pfd, (nfds_t)(nr + nw), ms);
    if (n < 0) {
      if (ns_retry(L)) continue;
      return ns_fail(L, errno);
    }
    if (n > 0 || nforce > 0 || ns_msuntil(deadline) == 0) {
      /* done: the epoll set of a task's wait goes now, not at the GC */
      if (lua_type(L, 5) == LUA_TUSERDATA)
        closeset((int *)lua_touserdata(L, 5));
    }
    if (n > 0 || nforce > 0)
      return select_result(L, pfd, force, nr, nw);
    if (ns_msuntil(deadline) == 0) {
      if (intask)  /* an expired scope's: yields once (timeout 0 polls) */
        ns_waitpassed(L, owntimeout0(L, 3), deadline, ctx, select_k);
      lua_createtable(L, 0, 0);
      lua_createtable(L, 0, 0);
      lua_pushliteral(L, "timeout");
      return 3;
    }
    if (intask) {  /* wait on a readiness set of them all, as one fd */
      int nwatch = select_waitset(L, pfd, nr, nw);
      if (nwatch < 0) return ns_fail(L, errno);
      /* 6 the pollfd block, 7 the list */
      if (ns_waitfdwatch(L, *(int *)lua_touserdata(L, 5), NS_READ, deadline,
                         nwatch > 0 ? 7 : 0, ctx, select_k) == NS_ERRNO)
        return ns_fail(L, errno);
      lua_settop(L, 6);
      /* returned: the deadline passed meanwhile; the next pass says so */
    }
  }
}


/*
** netsock.select(readers, writers [, timeout]): poll(2) over any number
** of descriptors. Inside a task it suspends the task on one epoll
** descriptor that holds them all.
*/
static int select_select (lua_State *L) {
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
typedef struct {
  int epfd;
  int count;     /* descriptors registered */
  int waiting;   /* a task waits in p:wait (close must wake it) */
  unsigned gen;  /* ns_forkgen() at birth: its epoll set is the parent's too */
} nsPoller;

/*
** registry[&pollers]: a weak set of the pollers that ever held an
** entry, so that closing or detaching a socket takes its descriptor
** out of each (ns_poller_forget) while the number still names it.
** close(2) alone does not: epoll keeps a registration for as long as
** the open file description lives, and a duplicate (fromfd) keeps it
** alive; p:remove cannot reach it once the number is closed, and a
** level-triggered poller then reports it for ever. A task waiting in
** p:wait wakes then, and gets the object that went as ready (with the
** events it was added for), as select reports a closed socket: its
** next call says "closed".
*/
static char pollers;

static nsPoller *checkpoller (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  if (p->epfd < 0)
    luaL_error(L, "attempt to use a closed poller");
  return p;
}


/* remember the poller at 1 in the set of pollers with entries */
static void enlist (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pollers) != LUA_TTABLE) {
    lua_pop(L, 1);
    ns_newweak(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &pollers);
  }
  lua_pushvalue(L, 1);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}


/* drop the entry of fd from the poller at 'idx' (its epoll set aside) */
static void dropentry (lua_State *L, int idx, int fd) {
  idx = lua_absindex(L, idx);
  lua_getiuservalue(L, idx, 1);
  lua_pushnil(L);
  lua_rawseti(L, -2, fd);
  lua_getiuservalue(L, idx, 2);
  lua_pushnil(L);
  lua_rawseti(L, -2, fd);
  lua_pop(L, 2);
}


void ns_poller_forget (lua_State *L, int fd) {
  if (fd < 0) return;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pollers) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    nsPoller *p = (nsPoller *)lua_touserdata(L, -2);
    lua_pop(L, 1);
    /* a poller a fork gave us shares its epoll set with the parent:
       taking the descriptor out of it would take it out of the parent's */
    if (p != NULL && p->epfd >= 0 && !ns_inherited(p->gen)) {
      int held;
      lua_getiuservalue(L, -1, 1);
      held = lua_rawgeti(L, -1, fd) != LUA_TNIL;
      lua_pop(L, 2);
      if (held) {
        ns_ready_remove(p->epfd, fd);
        p->count--;
        if (p->waiting) {  /* the waiting p:wait reports it, then forgets */
          lua_getiuservalue(L, -1, 3);
          lua_getiuservalue(L, -2, 1);
          lua_rawgeti(L, -1, fd);        /* the object */
          lua_getiuservalue(L, -4, 2);
          lua_rawgeti(L, -1, fd);        /* its events */
          lua_remove(L, -2);
          lua_rawset(L, -4);             /* gone[object] = events */
          lua_pop(L, 2);
          p->waiting = 0;
          ns_wakefd(L, p->epfd, 0);
        }
        dropentry(L, -1, fd);
      }
    }
  }
  lua_pop(L, 1);
}


static int poller_new (lua_State *L) {
  nsPoller *p = (nsPoller *)lua_newuserdatauv(L, sizeof(nsPoller), 3);
  p->epfd = -1;
  p->count = 0;
  p->waiting = 0;
  p->gen = ns_forkgen();
  luaL_setmetatable(L, NS_POLLER);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 2);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 3);
  p->epfd = ns_ready_open();
  if (p->epfd < 0) return ns_fail(L, errno);
  return 1;
}


/* add or modify: stack 1 poller, 2 object, 3 events */
static int poller_ctl (lua_State *L, int add) {
  nsPoller *p = checkpoller(L);
  lua_Integer pend;
  int fd = objfd(L, 2, &pend, 2, 1);
  int events = checkevents(L, 3);
  luaL_argcheck(L, fd >= 0, 2, "closed object");
  if ((add ? ns_ready_add(p->epfd, fd, events)
           : ns_ready_modify(p->epfd, fd, events)) < 0)
    return ns_fail(L, errno);
  if (add) {
    p->count++;
    enlist(L);
  }
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, fd);
  lua_getiuservalue(L, 1, 2);
  lua_pushinteger(L, events);
  lua_rawseti(L, -2, fd);
  lua_pushboolean(L, 1);
  return 1;
}

static int poller_add (lua_State *L) { return poller_ctl(L, 1); }
static int poller_modify (lua_State *L) { return poller_ctl(L, 0); }


/*
** p:remove(obj). A netsock socket (or a file over one) leaves every
** poller when it is closed or detached (ns_poller_forget), so removing
** it afterwards finds nothing to do: true. Another object closed since
** it was added (a descriptor closed outside netsock) is found by
** identity.
*/
static int poller_remove (lua_State *L) {
  nsPoller *p = checkpoller(L);
  lua_Integer pend;
  int fd = objfd(L, 2, &pend, 2, 1), found = 0;
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);  /* 3 */
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
    if (fd < 0) {  /* closed, and in no entry: nothing to remove */
      lua_pushboolean(L, 1);
      return 1;
    }
    /* an fd not added through this object: epoll decides */
  }
  if (found != 2 && ns_ready_remove(p->epfd, fd) < 0)
    return ns_fail(L, errno);
  if (found == 2)  /* maybe still open under the same number */
    ns_ready_remove(p->epfd, fd);
  if (found) {
    p->count--;
    dropentry(L, 1, fd);
  }
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
** Push the set (fd -> NS_READ) of the read-interested objects of the
** poller at 1 that hold buffered bytes (they count as readable; stack:
** 3 objects, 4 events); returns how many.
*/
static int pushbuffered (lua_State *L) {
  int nbuf = 0;
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    lua_Integer pend;
    int fd = (int)lua_tointeger(L, -2), ev;
    lua_rawgeti(L, 4, fd);
    ev = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if ((ev & NS_READ) && objfd(L, -1, &pend, 1, fd) == fd && pend > 0) {
      lua_pushinteger(L, NS_READ);
      lua_rawseti(L, -4, fd);
      nbuf++;
    }
    lua_pop(L, 1);
  }
  return nbuf;
}


/* append the objects that went while p:wait waited (user value 3) with
   the events they were added for, then forget them */
static void addgone (lua_State *L, int *nready) {
  static const char *const names[] = {"", "r", "w", "rw"};
  lua_getiuservalue(L, 1, 3);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    int ev = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, 5, ++*nready);
    lua_pushstring(L, names[ev & 3]);
    lua_rawseti(L, 6, *nready);
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setiuservalue(L, 1, 3);
}


/*
** stack: 1 poller, 2 timeout, 3 objects, 4 events, 5 deadline, then the
** result tables 6 ready, 7 events (rebuilt each pass), 8 done set
*/
static int poller_wait_k (lua_State *L, int status, lua_KContext ctx) {
  nsPoller *p = (nsPoller *)lua_touserdata(L, 1);
  nsReadyEvent evs[MAXEVENTS];
  double deadline = lua_tonumber(L, 5);
  int n, i, nready = 0, nbuf = 0, ngone = 0, intask = ns_intask(L);
  p->waiting = 0;
  if (status != LUA_OK && p->epfd < 0)  /* closed by another task meanwhile */
    return ns_closed(L);
  lua_settop(L, 5);
  lua_getiuservalue(L, 1, 3);  /* objects that went while we waited */
  lua_pushnil(L);
  if (lua_next(L, -2)) { ngone = 1; lua_pop(L, 2); }
  lua_pop(L, 1);
  nbuf = pushbuffered(L);  /* 6 */
  for (;;) {
    int ms = (nbuf > 0 || ngone || intask) ? 0 : ns_msuntil(deadline);
    n = ns_ready_wait(p->epfd, evs, MAXEVENTS, ms);
    if (n < 0) {
      if (ns_retry(L)) continue;
      return ns_fail(L, errno);
    }
    if (n > 0 || nbuf > 0 || ngone || ns_msuntil(deadline) == 0 || intask)
      break;
  }
  if (n == 0 && nbuf == 0 && !ngone && intask && ns_msuntil(deadline) == 0)
    ns_waitpassed(L, owntimeout0(L, 2), deadline, ctx, poller_wait_k);
  else if (n == 0 && nbuf == 0 && !ngone && intask) {
    lua_settop(L, 5);
    p->waiting = 1;  /* p:close() must wake this task */
    if (ns_waitfd(L, p->epfd, NS_READ, deadline, ctx, poller_wait_k) == NS_ERRNO)
      return ns_fail(L, errno);
    lua_newtable(L);  /* returned: the deadline passed meanwhile */
  }
  /* 3 objects, 4 events, 5 -> ready, 6 -> events; buffered set at 7 */
  lua_createtable(L, n + nbuf, 0);
  lua_createtable(L, n + nbuf, 0);
  lua_rotate(L, 6, 2);  /* 6 ready, 7 events, 8 buffered */
  lua_remove(L, 5);     /* 5 ready, 6 events, 7 buffered */
  for (i = 0; i < n; i++) {
    int fd = evs[i].fd, asked, got;
    lua_rawgeti(L, 4, fd);
    asked = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (asked == 0) continue;  /* removed meanwhile */
    got = ns_readywithin(evs[i].events, asked);
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
  if (ngone) addgone(L, &nready);
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


/* close: a task waiting in p:wait wakes and gets nil, "closed", "closed" */
static int poller_close (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  if (p->epfd >= 0) {
    int fd = p->epfd;
    if (p->waiting) {
      p->waiting = 0;
      ns_wakefd(L, fd, 1);
    }
    p->epfd = -1;
    p->count = 0;
    ns_ready_close(fd);
  }
  lua_pushboolean(L, 1);
  return 1;
}


/* __gc: no task waits on a poller that is collected (its stack holds it) */
static int poller_gc (lua_State *L) {
  nsPoller *p = (nsPoller *)luaL_checkudata(L, 1, NS_POLLER);
  p->waiting = 0;
  return poller_close(L);
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
    lua_pushfstring(L, "netsock.poller (%s fd %d, %d registered)",
                    ns_ready_name(), p->epfd, p->count);
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
  {"__gc", poller_gc},
  {"__close", poller_close},
  {"__tostring", poller_tostring},
  {NULL, NULL}
};

/* }====== */


static const luaL_Reg select_funcs[] = {
  {"select", select_select},
  {"poller", poller_new},
  {NULL, NULL}
};


void ns_select_open (lua_State *L) {
  ns_newclass(L, NS_POLLER, poller_meta, poller_methods, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, select_funcs, 0);
}
