/*
** sched.c: the task loop's bookkeeping of waits, in C (issue 28): what
** lua/netsock/tasks.lua did in Lua tables on every wait and wake-up.
**
** Each task that has waited has a slot (an id > 0): the descriptor and
** directions of its current wait, its place in that descriptor's
** waiter lists, its deadline and its entry in the deadline heap. The
** loop's map table (the loop object's user value) holds map[thread] =
** id and map[id] = thread, so the slot keeps its task alive while it
** exists (as tasks.lua's tables did), and a wake-up pushes the thread
** straight into the Lua ready queue. wait.c files a wait here when a
** netsock call yields (no Lua code runs for it), and its loop methods
** (wait.c, "The task loop's waiter") call the rest.
**
** The policies are tasks.lua's, unchanged:
**   * several tasks waiting on one descriptor wake in the order they
**     began to wait (a FIFO list per descriptor and direction);
**   * timers fire in deadline order, equal deadlines in the order they
**     were set (a binary heap on (deadline, order));
**   * the heap's entries are re-armed lazily: a wait that ends only
**     clears its slot's deadline; a later deadline keeps the entry (a
**     lower bound), a sooner one moves it up; the entry is put right
**     when it comes to the top (dropped, moved down, or fired). So a
**     timeout moved on every wait costs no heap operation and nothing
**     is allocated once the arrays have grown.
** Every allocation is checked: a function that grows an array returns
** -1 without changing anything when it cannot, and its caller raises.
*/
#include <stdlib.h>
#include <string.h>

#include "netsock.h"


/* {====== Slots, the waiter lists, the heap (no Lua) ====== */

#define LESS(S, a, b) \
  ((S)->slot[a].hd < (S)->slot[b].hd || \
   ((S)->slot[a].hd == (S)->slot[b].hd && (S)->slot[a].hord < (S)->slot[b].hord))

/* grow *p (of *cap elements of size sz) to hold index 'need'; -1 if not */
static int grow (void **p, int *cap, int need, size_t sz, int first) {
  int n = *cap ? *cap : first;
  void *np;
  if (need < *cap) return 0;
  while (n <= need) {
    if (n > (1 << 28)) return -1;
    n *= 2;
  }
  np = realloc(*p, (size_t)n * sz);
  if (np == NULL) return -1;
  memset((char *)np + (size_t)*cap * sz, 0, (size_t)(n - *cap) * sz);
  *p = np;
  *cap = n;
  return 0;
}


void ns_sched_init (nsSched *S) {
  memset(S, 0, sizeof *S);
}


void ns_sched_close (nsSched *S) {
  free(S->slot);
  free(S->fdw);
  free(S->heap);
  memset(S, 0, sizeof *S);
  S->stop = 1;  /* a ns_sched_runq under way (a fork's child) goes no further */
}


/* a new slot's id (> 0), or -1 without memory */
static int newslot (nsSched *S) {
  int id = S->freelist;
  if (id > 0) S->freelist = S->slot[id].nextfree;
  else {
    id = S->nslot ? S->nslot : 1;  /* slot 0 is "none" */
    if (grow((void **)&S->slot, &S->cap, id, sizeof(nsSlot), 64) < 0)
      return -1;
    S->nslot = id + 1;
  }
  memset(&S->slot[id], 0, sizeof(nsSlot));
  S->slot[id].fd = -1;
  S->slot[id].dl = -1;
  S->slot[id].inuse = 1;
  return id;
}


static void swap (nsSched *S, int i, int j) {
  int a = S->heap[i], b = S->heap[j];
  S->heap[i] = b; S->heap[j] = a;
  S->slot[b].pos = i; S->slot[a].pos = j;
}


static void siftup (nsSched *S, int i) {
  while (i > 1 && LESS(S, S->heap[i], S->heap[i / 2])) {
    swap(S, i, i / 2);
    i /= 2;
  }
}


static void siftdown (nsSched *S, int i) {
  for (;;) {
    int l = 2 * i, r = l + 1, m = i;
    if (l <= S->hn && LESS(S, S->heap[l], S->heap[m])) m = l;
    if (r <= S->hn && LESS(S, S->heap[r], S->heap[m])) m = r;
    if (m == i) return;
    swap(S, i, m);
    i = m;
  }
}


/* take slot id's entry out of the heap, if it has one */
static void heapremove (nsSched *S, int id) {
  int i = S->slot[id].pos;
  if (i == 0) return;
  S->heapops++;
  S->slot[id].pos = 0;
  if (i != S->hn) {
    int last = S->heap[S->hn];
    S->heap[i] = last;
    S->slot[last].pos = i;
  }
  S->hn--;
  if (i <= S->hn) {
    siftdown(S, i);
    siftup(S, i);
  }
}


/* the waiter lists of a descriptor: fdw[4*fd + 0/1] head/tail of the
   readers, + 2/3 of the writers; a slot's links rn/rp and wn/wp */
static void link_ (nsSched *S, int id, int fd, int w) {
  int *head = &S->fdw[4 * fd + 2 * w], *tail = head + 1;
  nsSlot *s = &S->slot[id];
  int *next = w ? &s->wn : &s->rn, *prev = w ? &s->wp : &s->rp;
  *next = 0;
  *prev = *tail;
  if (*tail) {
    if (w) S->slot[*tail].wn = id; else S->slot[*tail].rn = id;
  }
  else *head = id;
  *tail = id;
}


static void unlink_ (nsSched *S, int id, int fd, int w) {
  int *head = &S->fdw[4 * fd + 2 * w], *tail = head + 1;
  nsSlot *s = &S->slot[id];
  int next = w ? s->wn : s->rn, prev = w ? s->wp : s->rp;
  if (prev) { if (w) S->slot[prev].wn = next; else S->slot[prev].rn = next; }
  else *head = next;
  if (next) { if (w) S->slot[next].wp = prev; else S->slot[next].rp = prev; }
  else *tail = prev;
}


/*
** File slot id's wait: under descriptor fd (>= 0) for 'events', and/or
** with a deadline (>= 0). 0, or -1 (nothing changed) without memory.
*/
int ns_sched_file (nsSched *S, int id, int fd, int events, double deadline) {
  nsSlot *s;
  if (fd >= 0 && grow((void **)&S->fdw, &S->fdcap, 4 * fd + 3, sizeof(int), 4096) < 0)
    return -1;
  if (deadline >= 0 && grow((void **)&S->heap, &S->hcap, S->hn + 1, sizeof(int), 64) < 0)
    return -1;
  s = &S->slot[id];
  s->waited = 1;
  if (fd >= 0) {
    s->waitno = ++S->nwaits;
    s->fd = fd;
    s->events = events & (NS_READ | NS_WRITE);
    if (events & NS_READ) link_(S, id, fd, 0);
    if (events & NS_WRITE) link_(S, id, fd, 1);
  }
  if (deadline >= 0) {  /* arm the timer (see the heap above) */
    S->order++;
    if (s->dl < 0) S->ntimers++;
    s->dl = deadline;
    s->ord = S->order;
    if (s->pos == 0) {
      S->heapops++;
      s->hd = deadline;
      s->hord = S->order;
      S->heap[++S->hn] = id;
      s->pos = S->hn;
      siftup(S, S->hn);
    }
    else if (deadline < s->hd) {
      S->heapops++;
      s->hd = deadline;
      s->hord = S->order;
      siftup(S, s->pos);
    }
  }
  return 0;
}


/* end slot id's wait: its waiter entries and its deadline go (the heap
   entry stays, for the top to drop or the next wait to reuse) */
void ns_sched_unwait (nsSched *S, int id) {
  nsSlot *s = &S->slot[id];
  if (s->fd >= 0) {
    if (s->events & NS_READ) unlink_(S, id, s->fd, 0);
    if (s->events & NS_WRITE) unlink_(S, id, s->fd, 1);
    s->fd = -1;
    s->events = 0;
  }
  if (s->dl >= 0) {
    s->dl = -1;
    S->ntimers--;
  }
}


/* the task of slot id ended: its wait, its heap entry and its slot go */
static void release (nsSched *S, int id) {
  ns_sched_unwait(S, id);
  heapremove(S, id);
  S->slot[id].inuse = 0;
  S->slot[id].nextfree = S->freelist;
  S->freelist = id;
}


/* the soonest entry of the heap (a lower bound of the next deadline), or -1 */
double ns_sched_next (const nsSched *S) {
  return S->hn > 0 ? S->slot[S->heap[1]].hd : -1.0;
}

/* }====== */


/* {====== With Lua: the map, the ready queue ====== */

/*
** The slot id of the thread at stack index 'th' (0: the running thread),
** with the map at index 'map' (absolute); 0 when it has none and 'make'
** is 0, else a new one (raises without memory).
*/
int ns_sched_id (lua_State *L, nsSched *S, int map, int th, int make) {
  int id;
  if (th == 0) lua_pushthread(L);
  else lua_pushvalue(L, th);
  lua_pushvalue(L, -1);
  id = (int)lua_tointeger(L, (lua_rawget(L, map), -1));
  lua_pop(L, 1);
  if (id > 0 || !make) {
    lua_pop(L, 1);
    return id;
  }
  id = newslot(S);
  if (id < 0) luaL_error(L, "not enough memory");
  lua_pushvalue(L, -1);
  lua_rawseti(L, map, id);         /* map[id] = thread */
  lua_pushinteger(L, id);
  lua_rawset(L, map);              /* map[thread] = id */
  return id;
}


/* the thread at 'th' ended: its slot goes (nothing when it had none) */
void ns_sched_drop (lua_State *L, nsSched *S, int map, int th) {
  int id = ns_sched_id(L, S, map, th, 0);
  if (id == 0) return;
  release(S, id);
  lua_pushnil(L);
  lua_rawseti(L, map, id);
  lua_pushvalue(L, th);
  lua_pushnil(L);
  lua_rawset(L, map);
}


/* slot id's wait ends and its thread goes to q[qtail]; the new tail */
static lua_Integer wake (lua_State *L, nsSched *S, int map, int q,
                         lua_Integer qtail, int id) {
  ns_sched_unwait(S, id);
  lua_rawgeti(L, map, id);
  lua_rawseti(L, q, qtail);
  return qtail + 1;
}


/*
** Every waiter of fd for 'events' (NS_READ: the readers, NS_WRITE: the
** writers, readers first) is made ready, in the order they began to
** wait: pushed onto the ready queue q (a table at index q, next free
** index qtail). Returns the new tail.
*/
lua_Integer ns_sched_wakefd (lua_State *L, nsSched *S, int map, int q,
                             lua_Integer qtail, int fd, int events) {
  if (fd < 0 || 4 * fd + 3 >= S->fdcap) return qtail;
  if (events & NS_READ)
    while (S->fdw[4 * fd] != 0)
      qtail = wake(L, S, map, q, qtail, S->fdw[4 * fd]);
  if (events & NS_WRITE)
    while (S->fdw[4 * fd + 2] != 0)
      qtail = wake(L, S, map, q, qtail, S->fdw[4 * fd + 2]);
  return qtail;
}


/*
** The heap's due entries at time 'now': dropped (the wait ended), moved
** down (re-armed later) or fired: the task is made ready, and marked
** parked[t] = false when parked (a park that timed out is queued
** already: wake must not queue it a second time). Returns the new tail.
*/
lua_Integer ns_sched_fire (lua_State *L, nsSched *S, int map, int q,
                           lua_Integer qtail, int parked, double now) {
  while (S->hn > 0 && S->slot[S->heap[1]].hd <= now) {
    int id = S->heap[1];
    nsSlot *s = &S->slot[id];
    if (s->dl < 0) heapremove(S, id);  /* that wait ended: a stale entry */
    else if (s->dl != s->hd || s->ord != s->hord) {
      S->heapops++;                    /* re-armed later: the real deadline */
      s->hd = s->dl;
      s->hord = s->ord;
      siftdown(S, 1);
    }
    else {                             /* due: that wait timed out */
      heapremove(S, id);
      qtail = wake(L, S, map, q, qtail, id);
      lua_rawgeti(L, map, id);
      if (lua_rawget(L, parked) != LUA_TNIL && lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_rawgeti(L, map, id);
        lua_pushboolean(L, 0);
        lua_rawset(L, parked);
      }
      else lua_pop(L, 1);
    }
  }
  return qtail;
}

/*
** What the loop knows of a wait, for tasks.lua (map at 'map', the
** argument at 'arg'):
**   'w' (a task): whether it is filed under a descriptor or a deadline
**   'i' (a task): fd (or nil), waits to read, to write, deadline (or nil)
**   's' (a descriptor): the number of the wait the first task waiting
**       on it (to read, else to write) is in, and that task; nothing
**       when none (serve's idle limit)
**   'c': waits with a deadline now, heap operations so far (stats)
*/
int ns_sched_query (lua_State *L, nsSched *S, int map, int arg, int what) {
  const nsSlot *s;
  int id = 0;
  if (what == 'c') {
    lua_pushinteger(L, S->ntimers);
    lua_pushinteger(L, S->heapops);
    return 2;
  }
  if (what == 's') {
    lua_Integer fd = luaL_checkinteger(L, arg);
    if (fd >= 0 && fd < S->fdcap / 4) {
      id = S->fdw[4 * fd];
      if (id == 0) id = S->fdw[4 * fd + 2];
    }
    if (id == 0) return 0;
    lua_pushinteger(L, S->slot[id].waitno);
    lua_rawgeti(L, map, id);
    return 2;
  }
  id = ns_sched_id(L, S, map, arg, 0);
  s = id > 0 ? &S->slot[id] : NULL;
  if (what == 'w') {
    lua_pushboolean(L, s != NULL && (s->fd >= 0 || s->dl >= 0));
    return 1;
  }
  if (s != NULL && s->fd >= 0) lua_pushinteger(L, s->fd);
  else lua_pushnil(L);
  lua_pushboolean(L, s != NULL && (s->events & NS_READ));
  lua_pushboolean(L, s != NULL && (s->events & NS_WRITE));
  if (s != NULL && s->dl >= 0) lua_pushnumber(L, s->dl);
  else lua_pushnil(L);
  return 4;
}



/* {====== Resuming the ready tasks ====== */

/*
** Resume task co as coroutine.resume does (lcorolib's auxresume), with
** no arguments: on L, true and what it yielded or returned, or false and
** its error. A task not started yet (core._newtask) has its function and
** its arguments on its own stack: they go to that first resume. Returns
** the number of values pushed.
*/
int ns_sched_resume (lua_State *L, lua_State *co) {
  int nres, status, nargs = 0;
  if (lua_status(co) == LUA_OK && lua_gettop(co) > 1) {
    lua_Debug ar;
    if (!lua_getstack(co, 0, &ar))  /* no frame: not started */
      nargs = lua_gettop(co) - 1;
  }
  status = lua_resume(co, L, nargs, &nres);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "too many results to resume");
      return 2;
    }
    lua_pushboolean(L, 1);
    lua_xmove(co, L, nres);
    return nres + 1;
  }
  lua_pushboolean(L, 0);
  lua_xmove(co, L, 1);
  return 2;
}


/*
** Run the ready tasks q[qhead .. last] in order (each leaves q; one no
** longer in the set 'tasks', cancelled meanwhile, is skipped) for as
** long as each yields 'filed' alone: its wait is filed, nothing is left
** for the loop's Lua code to do. Pushes the new qhead; then, when it
** stopped after a task that needs the Lua code (it ended, raised or
** yielded anything else), that task and what coroutine.resume would have
** returned. Stops before a task while S->scoped (netsock.timeout's
** deadline is handed over in Lua), and after one once S->stop
** (netsock.stop) or S->scoped. Returns the number of values pushed.
*/
int ns_sched_runq (lua_State *L, nsSched *S, int q, lua_Integer qhead,
                   lua_Integer last, int tasks, const void *filed) {
  while (qhead <= last && !S->scoped) {
    lua_State *co;
    int n;
    lua_rawgeti(L, q, qhead);
    lua_pushnil(L);
    lua_rawseti(L, q, qhead);
    qhead++;
    co = lua_tothread(L, -1);
    /* only tasks are queued; one that ended or was cancelled while
       queued is no longer in the set of tasks. A coroutine suspended in
       a yield is neither (both leave it dead), so only a task not
       started yet (or a dead one) needs the set asked */
    if (co != NULL && lua_status(co) != LUA_YIELD) {
      lua_pushvalue(L, -1);
      if (lua_rawget(L, tasks) == LUA_TNIL) co = NULL;
      lua_pop(L, 1);
    }
    if (co == NULL) {
      lua_pop(L, 1);
      continue;
    }
    n = ns_sched_resume(L, co);
    if (n == 2 && lua_touserdata(L, -1) == filed && lua_toboolean(L, -2)) {
      lua_pop(L, 3);
      if (S->stop) break;
      continue;
    }
    lua_pushinteger(L, qhead);
    lua_insert(L, -(n + 2));
    return n + 2;
  }
  lua_pushinteger(L, qhead);
  return 1;
}

/* }====== */
