/*
** wait.c: the clock, deadlines, and how a call waits.
**
** Every descriptor netsock makes is non-blocking. A call whose system
** call says EAGAIN asks ns_block what to do: outside any coroutine,
** with no timeout (or a timed call at its first wait, bounded by
** SO_RCVTIMEO/SO_SNDTIMEO: "Timed waits in the kernel" below), the
** descriptor is made blocking and the call tries again, sleeping in
** the kernel as a C program would; otherwise
** ns_wait waits for readiness until the call's deadline: poll(2)
** outside a task; inside a task it yields to the loop
** (lua/netsock/tasks.lua), which resumes the call's continuation once
** the descriptor is ready or the deadline has passed. The continuation
** simply tries again, so the blocking, non-blocking, timed and task
** paths are one code path. Before each try the call asks ns_callflags
** for its flags: MSG_DONTWAIT whenever it must not sleep in the kernel,
** so the descriptor's O_NONBLOCK (shared with every duplicate) never
** decides whether a task blocks the loop. docs/design.md has the whole
** contract.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "netsock.h"

/* first value a task yields when a netsock call waits: see tasks.lua;
   the filed token when the wait is filed in the loop already */
static char waittoken, filedtoken;

static int loop_register (nsLoop *l, int fd, nsSocket *s, int events);
static nsLoop *taskloop (lua_State *L, int *id);


/* {====== Clock ====== */

double ns_monotime (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/*
** The deadline of the netsock.timeout scope the running code is in (< 0:
** none): every call that waits takes it as its latest deadline, the
** earlier of the two winning. lua/netsock/tasks.lua keeps it right
** (core._setcap) as the loop moves from task to task. Per OS thread, as
** each thread runs a Lua state of its own.
*/
static NS_THREADLOCAL double capdeadline = -1.0;

double ns_deadline (double timeout) {
  double d = timeout < 0 ? -1.0 : ns_monotime() + timeout;
  if (capdeadline >= 0 && (d < 0 || capdeadline < d)) d = capdeadline;
  return d;
}


/*
** The task loop's polls so far (never 0), per OS thread as capdeadline:
** a short read marks its socket with it (s->rdshort), and the mark
** holds only until the loop's next poll, which may take the edges that
** came since.
*/
static NS_THREADLOCAL unsigned pollcount = 1;

void ns_polled (void) {
  if (++pollcount == 0) pollcount = 1;
}


void ns_readshort_ (lua_State *L, nsSocket *s) {
  if (lua_isyieldable(L)) s->rdshort = pollcount;
}


/*
** Whether a read on 's' may wait at once, without its system call
** (netsock.h, ns_readshort): its last read was short, the loop has not
** polled since, the call runs in a coroutine (in a task the loop's
** edge-triggered set holds every edge since; elsewhere poll(2) looks at
** the present state) and may still wait (timeout 0 and a passed
** deadline try the kernel, as always). A hang-up the loop saw before
** that read stays unread after it and is no new edge: loop_register
** sends such a guess back to its system call (s->rdguess). 1 with errno
** EAGAIN when the read is to wait. As nginx's "ready = 0" after a short
** recv with EPOLLRDHUP: docs/performance.md, "System calls per request".
*/
int ns_readskip_ (lua_State *L, nsSocket *s, double deadline) {
  int skip = s->rdshort == pollcount && s->timeout != 0 &&
             lua_isyieldable(L) && !ns_inherited(s->gen) &&
             (deadline < 0 || ns_monotime() < deadline);
  s->rdshort = 0;  /* one guess per short read */
  if (!skip) return 0;
  s->rdguess = 1;
  errno = EAGAIN;
  return 1;
}


/* core._setcap(deadline): the running code's scope deadline (< 0: none) */
static int wait_setcap (lua_State *L) {
  capdeadline = luaL_checknumber(L, 1);
  return 0;
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
int ns_msuntil (double deadline) {
  double left;
  if (deadline < 0) return -1;
  left = (deadline - ns_monotime()) * 1000.0;
  if (left <= 0) return 0;
  if (left > 2147483647.0) return 2147483647;
  return (int)ceil(left);
}


static int fileinloop (lua_State *L, nsLoop *l, int id, int fd, int events,
                       double deadline);

/*
** Suspend the running task. The common case files the wait in the
** loop's bookkeeping here (sched.c) and yields one value, the filed
** token: the loop has nothing more to do for it. Otherwise (a wait with
** 'watch', or no loop object) it yields the 4 values of the task
** protocol, and a 5th when 'watch' is a stack index (> 0): an array of
** further descriptors whose close must wake the task too (select). The
** loop 'l' (taskloop) is at the top of the stack; it goes. 'id': the
** task's slot, as taskloop found it (0: none yet).
*/
static int yieldwait (lua_State *L, nsLoop *l, int id, int fd, int events,
                      double deadline, int watch, lua_KContext ctx,
                      lua_KFunction k) {
  if (watch > 0) watch = lua_absindex(L, watch);
  if (watch <= 0 && fileinloop(L, l, id, fd, events, deadline)) {
    lua_pop(L, 1);
    lua_pushlightuserdata(L, &filedtoken);
    return lua_yieldk(L, 1, ctx, k);  /* never returns */
  }
  lua_pop(L, 1);
  lua_pushlightuserdata(L, &waittoken);
  lua_pushinteger(L, fd);
  lua_pushinteger(L, events & (NS_READ | NS_WRITE));
  lua_pushnumber(L, deadline);
  if (watch <= 0) return lua_yieldk(L, 4, ctx, k);  /* never returns */
  lua_pushvalue(L, watch);
  return lua_yieldk(L, 5, ctx, k);
}


/* block in poll(2) */
static nsResult pollwait (lua_State *L, int fd, int events, double deadline) {
  struct pollfd pfd;
  int ms, n;
  pfd.fd = fd;
  pfd.events = (short)(((events & NS_READ) ? POLLIN : 0) |
                       ((events & NS_WRITE) ? POLLOUT : 0));
  for (;;) {
    ms = ns_msuntil(deadline);
    n = poll(&pfd, 1, ms);
    if (n > 0) return NS_AGAIN;  /* ready, or an error the call will read */
    if (n == 0) {
      if (ns_msuntil(deadline) == 0) return NS_TIMEOUT;
      continue;  /* poll woke a little early: wait the rest */
    }
    if (!ns_retry(L)) return NS_ERRNO;  /* EINTR of the prompt's Ctrl-C too */
  }
}


/* }====== */


/* {====== How a call waits ====== */

static void setfdblock (nsSocket *s, int block) {
  int flags = fcntl(s->fd, F_GETFL);
  if (flags < 0) return;
  flags = block ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (fcntl(s->fd, F_SETFL, flags) == 0)
    s->fdblock = block;
}


void ns_nonblock (nsSocket *s) {
  if (s->fdblock && s->fd >= 0)
    setfdblock(s, 0);
}


/*
** Timed waits in the kernel. A call with a timeout sleeps inside its
** system call too, on a blocking descriptor whose SO_RCVTIMEO (reads,
** accept) or SO_SNDTIMEO (writes) bounds the sleep: one system call
** where recv, poll, recv made three (docs/performance.md). The kernel
** does not keep time as the deadline needs: a socket timeout is a
** jiffy timer, rounded up to a jiffy (1-10 ms by HZ) and then, on the
** timer wheel, to the granularity of its level, up to 1/7 of the
** interval late (measured: docs/design.md, "Edge cases found"). So the
** kernel's value is a backstop set short of the deadline,
** ktimeout(t) = (t - KSLACK - KMARGIN) * 7/8, which even that late ends
** before it; poll(2), whose timers are precise, waits the rest, and
** the monotonic clock decides as everywhere. The value is set once per socket and direction and
** timeout (ktimeo[] remembers which timeout it was set for), not per
** call; it fits a call only at its first wait (no more than KMARGIN
** after the call began, so that what is left covers the backstop): a
** later wait of the same call (a sendall whose peer stalls after the
** first send, a read that needs a second piece, a retry after EINTR)
** polls for what is left of the deadline. A timed send on a stream
** (NS_POLLTIMED) never sleeps in the kernel: a blocking send returns
** only once all of its bytes are queued, where s:send returns what
** fitted as soon as something did; nor does a TLS socket (its calls
** are many system calls, reads for writes too). Timeouts shorter than
** KMIN always poll (the backstop would be too short to matter); the
** backstop is at most KMAX (a day): a longer wait polls the rest.
** docs/design.md, "Timed waits in the kernel", has the edge cases.
*/
#if !defined(NS_KSLACK)
#define NS_KSLACK   0.025   /* two jiffies at HZ=100, and timer slack */
#endif
#define NS_KMARGIN  0.002   /* a call still at its first wait */
#define NS_KMIN     0.05    /* shorter timeouts poll */
#define NS_KMAX     86400.0 /* a day */

/* the kernel's timeout for a socket timeout t >= NS_KMIN */
static double ktimeout (double t) {
  double k = (t - NS_KSLACK - NS_KMARGIN) * 7.0 / 8.0;
  return k > NS_KMAX ? NS_KMAX : k;
}


/*
** SO_RCVTIMEO (events NS_READ) or SO_SNDTIMEO (NS_WRITE) set for the
** socket's timeout, unless it is already. 0 when the kernel refused.
*/
static int setktimeo (nsSocket *s, int events) {
  int dir = (events & NS_WRITE) ? 1 : 0;
  struct timeval tv;
  double k;
  if (s->ktimeo[dir] == s->timeout) return 1;
  k = ktimeout(s->timeout);
  tv.tv_sec = (time_t)k;
  tv.tv_usec = (suseconds_t)((k - (double)tv.tv_sec) * 1e6);  /* < 1e6 */
  if (setsockopt(s->fd, SOL_SOCKET, dir ? SO_SNDTIMEO : SO_RCVTIMEO,
                 &tv, sizeof tv) < 0) {
    s->ktimeo[dir] = 0;
    return 0;
  }
  s->ktimeo[dir] = s->timeout;
  return 1;
}


/*
** Whether this try of a call on 's' may sleep inside the kernel:
** outside any coroutine (a task must never block the loop; a plain
** coroutine is treated alike, as the loop may be running it), and
** either with no timeout, or with a timeout at the call's first wait
** (see above). A descriptor made by fromfd never does: its other
** holders share the O_NONBLOCK flag and the kernel's timeouts.
** Timeout 0 never waits.
*/
static int kernelwait (lua_State *L, nsSocket *s, int events,
                       double deadline) {
  if (s->timeout == 0 || s->shared || lua_isyieldable(L)) return 0;
  if (s->timeout < 0)  /* an untimed wait that a kernel timeout ends */
    return deadline < 0;  /* early waits again; a scope's deadline polls */
  if (s->timeout < NS_KMIN || (events & NS_POLLTIMED) || s->tls != NULL ||
      deadline - ns_monotime() < s->timeout - NS_KMARGIN)
    return 0;
  return setktimeo(s, events);
}


int ns_callflags_ (lua_State *L, nsSocket *s, int events, double deadline) {
  int noflags = events & NS_NOFLAGS;
  if (s->fdblock) {
    if (kernelwait(L, s, events, deadline))
      return 0;  /* sleeps in the kernel: as C does */
    if (noflags) setfdblock(s, 0);   /* no flag can say "do not wait" */
  }
  else if (noflags && s->shared) {
    /* another holder of the description may have cleared O_NONBLOCK */
    int flags = fcntl(s->fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
      fcntl(s->fd, F_SETFL, flags | O_NONBLOCK);
  }
  return MSG_DONTWAIT;
}


nsResult ns_block (lua_State *L, nsSocket *s, int events, double deadline,
                   lua_KContext ctx, lua_KFunction k) {
  if (!s->fdblock && kernelwait(L, s, events, deadline)) {
    setfdblock(s, 1);
    if (s->fdblock) return NS_AGAIN;  /* the retry sleeps in the kernel */
  }
  if (events & NS_NOPOLL)  /* poll would say ready at once, for ever */
    return ns_pause(L, s->timeout == 0, deadline, ctx, k);
  return ns_wait(L, s, events, deadline, ctx, k);
}


/*
** Inside a task, a wait first makes sure the loop's epoll set holds the
** descriptor (loop_register), then yields. A descriptor that epoll
** cannot watch (a regular file) is always ready: NS_AGAIN at once.
*/
nsResult ns_waitfdwatch (lua_State *L, int fd, int events, double deadline,
                         int watch, lua_KContext ctx, lua_KFunction k) {
  nsLoop *l;
  int id;
  if (deadline >= 0 && ns_monotime() >= deadline)
    return ns_waitpassed(L, 0, deadline, ctx, k);
  if (k != NULL && (l = taskloop(L, &id)) != NULL) {
    if (fd >= 0) {
      int r = loop_register(l, fd, NULL, events);
      if (r <= 0) {
        lua_pop(L, 1);
        return r < 0 ? NS_ERRNO : NS_AGAIN;
      }
    }
    return (nsResult)yieldwait(L, l, id, fd, events, deadline, watch, ctx, k);
  }
  return pollwait(L, fd, events, deadline);  /* fd -1: poll sleeps */
}


nsResult ns_waitfd (lua_State *L, int fd, int events, double deadline,
                    lua_KContext ctx, lua_KFunction k) {
  return ns_waitfdwatch(L, fd, events, deadline, 0, ctx, k);
}


/*
** A call the kernel refuses with EAGAIN while poll says ready (a Unix
** datagram receiver with a full queue, a Unix listener with a full
** backlog: nothing the caller's descriptor can be polled for) pauses
** NS_PAUSE seconds, or until its deadline if that comes first, then
** tries again: NS_AGAIN after the pause, NS_TIMEOUT at the deadline.
** Inside a task the pause is a timer of the loop. The retry costs a
** system call every NS_PAUSE: no busy wait, and a late reply of at
** most that.
*/
nsResult ns_pause (lua_State *L, int poll, double deadline,
                   lua_KContext ctx, lua_KFunction k) {
  double until = ns_monotime() + NS_PAUSE;
  nsResult r;
  if (deadline >= 0 && ns_monotime() >= deadline)
    return ns_waitpassed(L, poll, deadline, ctx, k);
  if (deadline >= 0 && deadline < until) until = deadline;
  r = ns_waitfd(L, -1, 0, until, ctx, k);  /* in a task: resumes in k */
  if (r == NS_TIMEOUT && !(deadline >= 0 && ns_monotime() >= deadline))
    return NS_AGAIN;  /* the pause, not the call's deadline, ended */
  return r;
}


static int yieldpassed (lua_State *L, nsLoop *l, int *id);

/*
** Every wait whose deadline had passed before it began comes here (an
** expired netsock.timeout scope; a socket or file call, select, p:wait,
** a lookup, a pause): in a task it yields once, as a timer due at once,
** so that a loop retrying on "timeout" cannot hold the loop; the loop
** runs the others, then the call tries once more and times out (its
** slot says it waited). 'poll': the call's own timeout is 0, and a poll
** never yields.
*/
nsResult ns_waitpassed (lua_State *L, int poll, double deadline,
                        lua_KContext ctx, lua_KFunction k) {
  nsLoop *l;
  int id;
  if (poll || k == NULL || (l = taskloop(L, &id)) == NULL)
    return NS_TIMEOUT;
  if (!yieldpassed(L, l, &id)) {
    lua_pop(L, 1);
    return NS_TIMEOUT;
  }
  return (nsResult)yieldwait(L, l, id, -1, 0, deadline, 0, ctx, k);
}


nsResult ns_wait (lua_State *L, nsSocket *s, int events, double deadline,
                  lua_KContext ctx, lua_KFunction k) {
  nsLoop *l;
  int id;
  if (deadline >= 0 && ns_monotime() >= deadline)
    return ns_waitpassed(L, s->timeout == 0, deadline, ctx, k);
  if (k != NULL && (l = taskloop(L, &id)) != NULL) {
    int r = loop_register(l, s->fd, s, events);
    if (r <= 0) {
      lua_pop(L, 1);
      return r < 0 ? NS_ERRNO : NS_AGAIN;
    }
    if (s->waiters == 0)
      s->waiters = 1;  /* close must tell the loop (ns_wakeclosed) */
    return (nsResult)yieldwait(L, l, id, s->fd, events, deadline, 0, ctx, k);
  }
  return pollwait(L, s->fd, events, deadline);
}


/*
** Tell the loop that tasks waiting on 'fd' must look again: its onclose
** hook makes them ready, and their calls, resumed, find their object
** closed. 'gone': the descriptor itself leaves netsock's hands (closed,
** detached); otherwise only an object over it went (a file object).
*/
void ns_wakefd (lua_State *L, int fd, int gone) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, NS_ONCLOSE) == LUA_TFUNCTION) {
    lua_pushinteger(L, fd);
    lua_pushboolean(L, gone);
    lua_call(L, 2, 0);
  }
  else lua_pop(L, 1);
}


static void loop_forget (lua_State *L, int fd, const nsSocket *s);

/*
** A socket the loop knows is about to lose its descriptor (close,
** detach): the loop's epoll set lets go of it now, while the number
** still names it (a duplicate made by fromfd would otherwise keep the
** registration alive), and the tasks waiting on it wake.
*/
void ns_wakeclosed (lua_State *L, nsSocket *s) {
  if (s->waiters == 0) return;
  loop_forget(L, s->fd, s);
  s->waiters = 0;
  ns_wakefd(L, s->fd, 1);
}


/* }====== */


/* {====== The task loop's registrations and filed waits ====== */

/*
** What a task's wait does in the loop object (loop.c): the one registry
** lookup (taskloop), the descriptor's registration in its epoll set
** (loop_register, loop_forget) and the wait filed in its bookkeeping
** (fileinloop, sched.c).
*/

/* the loop object at idx, or NULL (a full userdata of its size and mark) */
nsLoop *ns_toloop (lua_State *L, int idx) {
  nsLoop *l = (nsLoop *)lua_touserdata(L, idx);
  if (l == NULL || lua_type(L, idx) != LUA_TUSERDATA ||
      lua_rawlen(L, idx) != sizeof(nsLoop) || l->magic != NS_LOOPMAGIC)
    return NULL;
  return l;
}


/*
** Make sure the loop's epoll set watches fd (for socket s, or a bare
** descriptor when s is NULL). Returns 1 when it does (or there is no
** loop: a task run by someone else), 0 when epoll cannot watch fd (a
** regular file: always ready), -1 on another error (errno set). The
** registration is armed for 'events' (ns_ready_rearm: nothing on epoll,
** the edge emulation of the poll backend).
*/
static int loop_register (nsLoop *l, int fd, nsSocket *s, int events) {
  int r;
  events &= NS_READ | NS_WRITE;
  if (l->epfd < 0) return 1;
  if (s != NULL && s->rdguess) {  /* a read that did not look (ns_readskip) */
    s->rdguess = 0;
    if (fd < l->cap && l->hup[fd]) return 0;  /* a hang-up it may not have read */
  }
  if (s != NULL && s->waiters != 0 && fd < l->cap && l->reg[fd] == s->waiters &&
      ns_ready_rearm(l->epfd, fd, events) == 0)
    return 1;  /* registered by this very socket */
  if (fd < l->cap && l->reg[fd] != 0) {  /* ours was there: likely still */
    r = ns_ready_modify(l->epfd, fd, NS_READ | NS_WRITE | NS_EDGE);
    if (r < 0 && errno == ENOENT)
      r = ns_ready_add(l->epfd, fd, NS_READ | NS_WRITE | NS_EDGE);
  }
  else {  /* a new number, or one we let go of: one epoll_ctl per connection */
    r = ns_ready_add(l->epfd, fd, NS_READ | NS_WRITE | NS_EDGE);
    if (r < 0 && errno == EEXIST)
      r = ns_ready_modify(l->epfd, fd, NS_READ | NS_WRITE | NS_EDGE);
  }
  if (r == 0) r = ns_ready_rearm(l->epfd, fd, events);
  if (r < 0) return errno == EPERM ? 0 : -1;
  if (fd >= l->cap) {  /* grow reg; without memory, simply do not remember */
    int cap = l->cap ? l->cap : 1024, *p;
    unsigned char *h;
    while (cap <= fd) cap *= 2;
    h = (unsigned char *)realloc(l->hup, (size_t)cap);
    if (h != NULL) {
      l->hup = h;
      p = (int *)realloc(l->reg, (size_t)cap * sizeof(int));
      if (p != NULL) {
        memset(p + l->cap, 0, (size_t)(cap - l->cap) * sizeof(int));
        memset(h + l->cap, 0, (size_t)(cap - l->cap));
        l->reg = p;
        l->cap = cap;
      }
    }
  }
  if (s != NULL) {
    if (++l->serial <= 0) l->serial = 1;  /* wrapped: stamps stay nonzero */
    s->waiters = l->serial;
  }
  if (fd < l->cap) {
    l->reg[fd] = s != NULL ? s->waiters : 0;
    l->hup[fd] = 0;  /* a new registration: its hang-ups are to come */
  }
  return 1;
}


/*
** The socket 's' is about to lose descriptor 'fd': if the loop's epoll
** set holds it for this very socket, take it out while the number
** still names it. (close(2) removes a registration only when the last
** descriptor of the open file description goes: with a duplicate
** alive, events would go on coming for a number that netsock no longer
** owns.)
*/
static void loop_forget (lua_State *L, int fd, const nsSocket *s) {
  nsLoop *l;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_LOOPREF);
  l = ns_toloop(L, -1);
  lua_pop(L, 1);
  if (l == NULL || l->epfd < 0 || fd < 0 || fd >= l->cap) return;
  if (s->waiters <= 0 || l->reg[fd] != s->waiters) return;
  ns_ready_remove(l->epfd, fd);
  l->reg[fd] = 0;
  l->hup[fd] = 0;
}


/* the running task's slot in the loop l (at the top of the stack), made
   now when it has none (id 0); raises without memory */
static int taskslot (lua_State *L, nsLoop *l, int id) {
  if (id > 0) return id;
  lua_getiuservalue(L, -1, 1);
  id = ns_sched_id(L, &l->sched, lua_absindex(L, -1), 0, 1);
  lua_pop(L, 1);
  return id;
}


/* File the running task's wait (its slot: id, 0 for none yet) in the
   loop l (at the top of the stack; yieldwait): 1 when filed, 0 when the
   loop is not running its tasks (a task thread resumed by other code
   gets the 4 values). Raises without memory. */
static int fileinloop (lua_State *L, nsLoop *l, int id, int fd, int events,
                       double deadline) {
  if (l->epfd < 0 || !l->running)
    return 0;  /* a task resumed by someone else: the 4 values */
  id = taskslot(L, l, id);
  if (ns_sched_file(&l->sched, id, fd, events, deadline) < 0)
    luaL_error(L, "not enough memory");
  return 1;
}


/*
** The loop of this state, pushed, when the running thread is one of its
** tasks; else NULL and nothing pushed. *id: the task's slot (sched.c),
** 0 when it has none yet. The one registry lookup of a task's wait. A
** task that has waited before has a slot, and only tasks have one (a
** slot goes when its task ends): one lookup in the map (the loop's
** first user value) says both; the set of tasks (its second) is asked
** only at a task's first wait.
*/
static nsLoop *taskloop (lua_State *L, int *id) {
  nsLoop *l;
  int r;
  *id = 0;
  if (!lua_isyieldable(L)) return NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, NS_LOOPREF);
  l = ns_toloop(L, -1);
  if (l == NULL) {
    lua_pop(L, 1);
    return NULL;
  }
  lua_getiuservalue(L, -1, 1);
  lua_pushthread(L);
  if (lua_rawget(L, -2) == LUA_TNUMBER) *id = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  if (*id > 0) return l;
  lua_getiuservalue(L, -1, 2);
  lua_pushthread(L);
  r = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  if (r) return l;
  lua_pop(L, 1);
  return NULL;
}


/*
** A task's call whose deadline had passed before it waited (an expired
** netsock.timeout scope): 1 when it is to yield once, so that a loop
** retrying on "timeout" cannot hold the loop (the other tasks, I/O and
** timers run before it goes on); 0 when the task has waited since its
** last such call (that call timed out after its wait: no second one),
** or the loop is not running. The loop l (taskloop) is at the top of
** the stack. Not for timeout 0 (ns_wait): a poll never yields.
*/
static int yieldpassed (lua_State *L, nsLoop *l, int *id) {
  nsSlot *slot;
  int r;
  if (l->epfd < 0 || !l->running) return 0;
  *id = taskslot(L, l, *id);
  slot = &l->sched.slot[*id];
  r = !slot->waited;
  slot->waited = 0;
  return r;
}


/* }====== */



/* {====== Sleep and the clocks in Lua ====== */

static int wait_monotime (lua_State *L) {
  lua_pushnumber(L, ns_monotime());
  return 1;
}


static int wait_gettime (lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
  return 1;
}


/* stack: 1 seconds, 2 deadline, 3 true when a scope's deadline cut it */
static int sleep_k (lua_State *L, int status, lua_KContext ctx) {
  double deadline = lua_tonumber(L, 2);
  struct timespec ts;
  double left;
  nsLoop *l;
  int id;
  (void)ctx;
  if (ns_intask(L)) {
    if (ns_monotime() < deadline)
      ns_waitfd(L, -1, 0, deadline, 0, sleep_k);
    else if (status == LUA_OK && lua_toboolean(L, 3) && lua_tonumber(L, 1) > 0
             && (l = taskloop(L, &id)) != NULL)  /* a scope's deadline had passed: */
      yieldwait(L, l, id, -1, 0, deadline, 0, 0, sleep_k);  /* the others run first */
  }
  else {
    while ((left = deadline - ns_monotime()) > 0) {
      ts.tv_sec = (time_t)left;
      ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
      if (nanosleep(&ts, NULL) < 0 && !ns_retry(L))
        break;  /* the prompt's Ctrl-C; any other EINTR sleeps the rest */
    }
  }
  if (lua_toboolean(L, 3))  /* ended by netsock.timeout's deadline */
    return ns_pushresult(L, NS_TIMEOUT, 0);
  return 0;
}


/*
** netsock.sleep(seconds): inside a task it suspends that task alone;
** elsewhere it blocks the process.
*/
static int wait_sleep (lua_State *L) {
  double t = luaL_checknumber(L, 1);
  luaL_argcheck(L, t >= 0, 1, "negative or NaN sleep");  /* NaN fails too */
  if (t > 1e9) t = 1e9;  /* ~31 years: "for ever" without overflow */
  lua_settop(L, 1);
  {
    double own = ns_monotime() + t, d = ns_deadline(t);
    lua_pushnumber(L, d);
    lua_pushboolean(L, d < own);  /* a scope's deadline comes first */
  }
  return sleep_k(L, LUA_OK, 0);
}

/* }====== */


const void *ns_filedtoken (void) {
  return &filedtoken;
}


/* core._waittoken(): the first value a waiting task yields; the filed
   token too when the loop filed its wait (tasks.lua) */
static int wait_waittoken (lua_State *L) {
  lua_pushlightuserdata(L, &waittoken);
  if (!lua_toboolean(L, 1)) return 1;
  lua_pushlightuserdata(L, &filedtoken);
  return 2;
}


static const luaL_Reg wait_funcs[] = {
  {"monotime", wait_monotime},
  {"gettime", wait_gettime},
  {"sleep", wait_sleep},
  {"_waittoken", wait_waittoken},
  {"_setcap", wait_setcap},
  {NULL, NULL}
};


void ns_wait_open (lua_State *L) {
  luaL_setfuncs(L, wait_funcs, 0);
}
