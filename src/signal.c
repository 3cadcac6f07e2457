/*
** signal.c: signals for the task loop (netsock.onsignal), and how a
** blocking call knows that the lua5.4 prompt's Ctrl-C wants it back.
**
** A self-pipe, not signalfd: signalfd needs the signal blocked in every
** thread, and a blocked mask is inherited by every program the script
** starts (os.execute, io.popen) and by the resolver's threads; a handler
** is not (exec resets it). The handler sets a flag per signal and
** writes one byte to a non-blocking, close-on-exec pipe that the loop
** watches (lua/netsock/tasks.lua); the loop drains the pipe, takes the
** flags and runs the Lua handlers as tasks. Only the signals asked for
** are touched; each one's previous disposition is saved when it is
** caught and put back when it is released.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "netsock.h"

static volatile sig_atomic_t flags[NSIG];  /* arrived, not yet taken */
static volatile sig_atomic_t wakefd = -1;  /* the pipe's write end */
static int readfd = -1;                    /* the pipe's read end */
static pid_t pipepid;                      /* the process that made it */
static struct sigaction saved[NSIG];       /* dispositions before ours */
static unsigned char caught[NSIG];
/* the thread that SIGINT interrupts with a hook (the console's chunk) */
static lua_State *volatile interruptL;
static volatile sig_atomic_t hookfired;    /* interrupthook ran */

#define HOOKMASK  (LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT)

static const struct { const char *name; int num; } signames[] = {
  {"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGHUP", SIGHUP},
  {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGCHLD", SIGCHLD},
  {"SIGQUIT", SIGQUIT}, {"SIGALRM", SIGALRM}, {"SIGPIPE", SIGPIPE},
  {"SIGWINCH", SIGWINCH}, {"SIGCONT", SIGCONT}, {"SIGTSTP", SIGTSTP},
  {"SIGTTIN", SIGTTIN}, {"SIGTTOU", SIGTTOU}, {"SIGURG", SIGURG},
  {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ}, {"SIGVTALRM", SIGVTALRM},
  {"SIGPROF", SIGPROF},
  {NULL, 0}
};


/* the hook SIGINT sets on the console's running chunk: it stops there */
static void interrupthook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  hookfired = 1;
  luaL_error(L, "interrupted!");
}


/*
** Async-signal-safe: a flag, one write(2) to a non-blocking pipe (a
** full pipe already wakes the loop), errno kept. lua_sethook may be
** called from a signal handler (lua.c does the same).
*/
static void onsignal (int sig) {
  int e = errno;
  int fd = wakefd;
  if (sig > 0 && sig < NSIG) flags[sig] = 1;
  if (sig == SIGINT && interruptL != NULL)
    lua_sethook(interruptL, interrupthook, HOOKMASK, 1);
  if (fd >= 0) {
    char c = (char)sig;
    ssize_t n = write(fd, &c, 1);
    (void)n;  /* EAGAIN: the pipe is full, the loop wakes anyway */
  }
  errno = e;
}


/*
** The pipe (1, or 0 with errno set), made on first use, and made again in a child after fork:
** a pipe shared with the parent would let one process take the
** other's signals.
*/
static int openpipe (void) {
  int p[2];
  if (readfd >= 0 && pipepid == getpid()) return 1;
  if (ns_sys_pipe(p) < 0) return 0;  /* errno set */
  if (readfd >= 0) {
    int oldw = wakefd;
    wakefd = p[1];
    close(oldw);
    close(readfd);
  }
  else wakefd = p[1];
  readfd = p[0];
  pipepid = getpid();
  return 1;
}


/*
** A signal by name ("SIGINT" or "INT") or number at 'idx': its number,
** or 0 with the reason pushed. Only the signals of signames: SIGKILL and
** SIGSTOP cannot be caught, and SIGSEGV, SIGBUS, SIGFPE, SIGILL are the
** program's own faults, which a handler run later cannot mend.
*/
static int tosignal (lua_State *L, int idx) {
  int i;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : -1;
    for (i = 0; signames[i].name != NULL; i++)
      if (signames[i].num == n) return (int)n;
    lua_pushfstring(L, "signal %s not supported", lua_tostring(L, idx));
    return 0;
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) == len) {
      for (i = 0; signames[i].name != NULL; i++)
        if (strcmp(signames[i].name, s) == 0 ||
            strcmp(signames[i].name + 3, s) == 0)
          return signames[i].num;
    }
    lua_pushfstring(L, "unknown signal '%s'", s);
    return 0;
  }
  lua_pushfstring(L, "signal name expected, got %s", luaL_typename(L, idx));
  return 0;
}


static int checksignal (lua_State *L, int idx) {
  int sig = tosignal(L, idx);
  if (sig == 0) luaL_argerror(L, idx, lua_tostring(L, -1));
  return sig;
}


/* core._signum(name or number): the signal's number, or nil, reason */
static int sig_signum (lua_State *L) {
  int sig = tosignal(L, 1);
  if (sig == 0) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushinteger(L, sig);
  return 1;
}


/*
** Signals a process may die of that onsignal does not take (never
** caught, or fatal faults): named only, for reports of how a worker
** ended (lua/netsock/workers.lua).
*/
static const struct { const char *name; int num; } fatalnames[] = {
  {"SIGKILL", SIGKILL}, {"SIGSEGV", SIGSEGV}, {"SIGABRT", SIGABRT},
  {"SIGBUS", SIGBUS}, {"SIGFPE", SIGFPE}, {"SIGILL", SIGILL},
  {"SIGTRAP", SIGTRAP}, {"SIGSYS", SIGSYS}, {"SIGSTOP", SIGSTOP},
  {NULL, 0}
};


/* core._signame(number): "SIGINT"..., "SIGKILL"..., or nil */
static int sig_signame (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int i;
  for (i = 0; signames[i].name != NULL; i++)
    if (signames[i].num == n) {
      lua_pushstring(L, signames[i].name);
      return 1;
    }
  for (i = 0; fatalnames[i].name != NULL; i++)
    if (fatalnames[i].num == n) {
      lua_pushstring(L, fatalnames[i].name);
      return 1;
    }
  return 0;
}


/*
** core._sigcatch(sig): our handler for 'sig', the previous disposition
** saved. Returns the pipe's read end (to watch), or nil, msg, code.
** SA_RESTART, so that other code's system calls do not see EINTR for a
** signal it did not ask about; SA_NOCLDSTOP for SIGCHLD (exits only).
*/
static int ours (int sig) {
  struct sigaction cur;
  return sigaction(sig, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
         cur.sa_handler == onsignal;
}

/*
** Whether the handler is in place is asked of the kernel, not of a flag:
** a forked child (core._fork puts every caught signal back to its
** default) or another library may have changed it since. Once the
** handler is in place the signal is unblocked in this thread: a signal
** core._fork held blocked across a fork arrives now, at our handler.
*/
static int sig_catch (lua_State *L) {
  int sig = checksignal(L, 1);
  struct sigaction sa;
  if (!openpipe()) return ns_fail(L, errno);
  if (!ours(sig)) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onsignal;
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigemptyset(&sa.sa_mask);
    flags[sig] = 0;
    if (sigaction(sig, &sa, &saved[sig]) < 0) return ns_fail(L, errno);
    caught[sig] = 1;
  }
  {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  }
  lua_pushinteger(L, readfd);
  return 1;
}


/*
** core._sigrelease(sig): the disposition from before _sigcatch, back,
** if ours is still the one in place (else whoever replaced it keeps it)
*/
static int sig_release (lua_State *L) {
  int sig = checksignal(L, 1);
  if (caught[sig]) {
    if (ours(sig) && sigaction(sig, &saved[sig], NULL) < 0)
      return ns_fail(L, errno);
    caught[sig] = 0;
    flags[sig] = 0;
  }
  lua_pushboolean(L, 1);
  return 1;
}


/*
** core._sigtake(): drains the pipe and returns the numbers of the
** signals that arrived since the last call, in increasing order, or
** nothing. The pipe is drained before the flags are read: a signal
** that comes in between leaves a byte, which only wakes the loop once
** more for nothing.
*/
static int sig_take (lua_State *L) {
  char buf[64];
  int sig, n = 0;
  if (readfd >= 0 && pipepid == getpid()) {
    ssize_t r;
    do r = read(readfd, buf, sizeof buf);
    while (r > 0 || (r < 0 && errno == EINTR));
  }
  lua_createtable(L, 4, 0);
  for (sig = 1; sig < NSIG; sig++) {
    if (flags[sig]) {
      flags[sig] = 0;
      lua_pushinteger(L, sig);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}


/* core._sigfd(): the pipe's read end, made if needed */
static int sig_fd (lua_State *L) {
  if (!openpipe()) return ns_fail(L, errno);
  lua_pushinteger(L, readfd);
  return 1;
}


/*
** core._siginterrupt([thread]): SIGINT (when caught by _sigcatch) also
** sets a hook on this thread that raises "interrupted!" as soon as it
** runs Lua code, so that a chunk busy in a loop that never waits can be
** stopped; no argument clears it. The caller keeps the thread alive
** while it is set. Clearing returns whether the hook fired meanwhile
** (the chunk ended with "interrupted!" from it).
*/
static int sig_interrupt (lua_State *L) {
  lua_State *T = lua_isnoneornil(L, 1) ? NULL : lua_tothread(L, 1);
  luaL_argexpected(L, T != NULL || lua_isnoneornil(L, 1), 1, "thread");
  if (T == NULL) {
    lua_State *old = interruptL;
    interruptL = NULL;
    if (old != NULL && lua_gethook(old) == interrupthook)  /* never fired */
      lua_sethook(old, NULL, 0, 0);
    lua_pushboolean(L, hookfired);
    hookfired = 0;
    return 1;
  }
  hookfired = 0;
  interruptL = T;
  return 0;
}


/*
** {====== A chunk stopped from a descriptor (the attached console) ======
**
** core._watchcall(fd, fn, msgh) runs fn() as xpcall(fn, msgh) does
** (yields allowed) and returns fired, then xpcall's results. Meanwhile a
** count hook looks at fd every WATCHCOUNT instructions: once fd is
** readable (the terminal sent Ctrl-C, or went away) the chunk raises
** "interrupted!" and, so that a pcall inside it cannot hold it, again at
** every instruction until fn's call ends; never while msgh runs.
** Coroutines that fn resumes inherit the hook and are stopped with it;
** a task it spawned, run by the loop later, drops the inherited hook.
** core._unwatch(thread): the watch off (before the chunk's task is
** cancelled); returns whether it fired.
*/

#define WATCHCOUNT 100000   /* about a millisecond of Lua between looks */

typedef struct {
  int fd;
  int armed;      /* fn's call has not ended */
  int fired;      /* fd was readable: stopping */
  int handling;   /* msgh runs */
} nsWatch;

static const char watchkey = 'w';  /* registry: thread -> nsWatch (weak keys) */

static void watchhook (lua_State *L, lua_Debug *ar);


/* pushes the watch table, made if needed */
static void watchtable (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &watchkey) == LUA_TTABLE) return;
  lua_pop(L, 1);
  ns_newweak(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &watchkey);
}


/* whether coroutine T is "normal": it resumed the one running now */
static int isnormal (lua_State *L, lua_State *T) {
  lua_Debug ar;
  return T != L && lua_status(T) == LUA_OK && lua_getstack(T, 0, &ar) > 0;
}


/*
** The watch L runs under: its own, or that of a watched chunk that
** resumed L (found with the chunk's thread, for the escalation); NULL
** for none. Leaves the stack as it was.
*/
static nsWatch *findwatch (lua_State *L, lua_State **owner) {
  nsWatch *w = NULL;
  *owner = L;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &watchkey) != LUA_TTABLE) {
    lua_pop(L, 1);
    return NULL;
  }
  lua_pushthread(L);
  if (lua_rawget(L, -2) == LUA_TUSERDATA) w = (nsWatch *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (w == NULL) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_State *T = lua_tothread(L, -2);
      if (T != NULL && isnormal(L, T)) {
        w = (nsWatch *)lua_touserdata(L, -1);
        *owner = T;
        lua_pop(L, 2);
        break;
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return w;
}


static void watchhook (lua_State *L, lua_Debug *ar) {
  lua_State *owner;
  nsWatch *w = findwatch(L, &owner);
  (void)ar;
  if (w == NULL || !w->armed) {  /* inherited by a task run later */
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  if (w->handling) return;
  if (!w->fired) {
    if (ns_sys_pollnow(w->fd, NS_READ) == 0)
      return;                    /* nothing: run on */
    w->fired = 1;                /* from now on at every instruction */
    lua_sethook(L, watchhook, LUA_MASKCOUNT, 1);
    if (owner != L) lua_sethook(owner, watchhook, LUA_MASKCOUNT, 1);
  }
  luaL_error(L, "interrupted!");
}


/* the message handler fn's errors go through: msgh, hook held off */
static int watchmsgh (lua_State *L) {
  nsWatch *w = (nsWatch *)lua_touserdata(L, lua_upvalueindex(1));
  w->handling = 1;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  w->handling = 0;
  return 1;
}


/*
** The watch of thread T off and forgotten; whether it fired. T is at
** stack index 'idx' of L, or is L itself (idx 0).
*/
static int unwatch (lua_State *L, lua_State *T, int idx) {
  int fired = 0;
  if (lua_gethook(T) == watchhook) lua_sethook(T, NULL, 0, 0);
  watchtable(L);
  if (idx == 0) lua_pushthread(L);
  else lua_pushvalue(L, idx);
  lua_pushvalue(L, -1);
  if (lua_rawget(L, -3) == LUA_TUSERDATA) {
    nsWatch *w = (nsWatch *)lua_touserdata(L, -1);
    fired = w->fired;
    w->armed = 0;
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_rawset(L, -3);   /* table[T] = nil */
  lua_pop(L, 1);
  return fired;
}


/* stack: 1 fd, 2 fn, 3 msgh, 4 the watch, 5 the handler, 6... results */
static int watch_k (lua_State *L, int status, lua_KContext ctx) {
  int ok = (status == LUA_OK || status == LUA_YIELD);
  int fired = unwatch(L, L, 0);
  (void)ctx;
  lua_pushboolean(L, fired);
  lua_insert(L, 6);
  lua_pushboolean(L, ok);
  lua_insert(L, 7);
  return lua_gettop(L) - 5;
}


static int watch_call (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  nsWatch *w;
  int status;
  luaL_argcheck(L, 0 <= fd && fd <= 0x7fffffff, 1, "descriptor out of range");
  luaL_checkany(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_settop(L, 3);
  w = (nsWatch *)lua_newuserdatauv(L, sizeof *w, 0);     /* 4 */
  w->fd = (int)fd;
  w->armed = 1;
  w->fired = w->handling = 0;
  watchtable(L);
  lua_pushthread(L);
  lua_pushvalue(L, 4);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 3);
  lua_pushcclosure(L, watchmsgh, 2);                    /* 5 */
  lua_pushvalue(L, 2);
  lua_sethook(L, watchhook, LUA_MASKCOUNT, WATCHCOUNT);
  status = lua_pcallk(L, 0, LUA_MULTRET, 5, 0, watch_k);
  return watch_k(L, status, 0);
}


static int watch_off (lua_State *L) {
  lua_State *T = lua_tothread(L, 1);
  luaL_argexpected(L, T != NULL, 1, "thread");
  lua_pushboolean(L, unwatch(L, T, 1));
  return 1;
}

/* }====== */


/*
** core._kill(pid, sig): kill(2), for tests and supervisors. Beside the
** signals onsignal takes, those it cannot (fatalnames: SIGKILL, which
** sup:stop sends a worker still there after its timeout, SIGSTOP...)
*/
static int sig_kill (lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  int sig = 0, i;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    for (i = 0; fatalnames[i].name != NULL && sig == 0; i++)
      if (strcmp(fatalnames[i].name, s) == 0 || strcmp(fatalnames[i].name + 3, s) == 0)
        sig = fatalnames[i].num;
  }
  else if (lua_isinteger(L, 2)) {
    for (i = 0; fatalnames[i].name != NULL && sig == 0; i++)
      if (fatalnames[i].num == lua_tointeger(L, 2)) sig = fatalnames[i].num;
  }
  if (sig == 0) sig = checksignal(L, 2);
  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 1, "pid out of range");
  if (kill((pid_t)pid, sig) < 0) return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


/* core._getpid() */
static int sig_getpid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}


/*
** Whether a call that a signal interrupted (EINTR) should give up and
** return to Lua because the lua5.4 prompt's Ctrl-C is pending: lua.c's
** SIGINT handler sets its hook (all four events, count 1) on the main
** thread and puts SIGINT back to the default action, so that both are
** seen here without owning the handler. The hook raises "interrupted!"
** as soon as the call returns. Any other EINTR is retried as before,
** and so is every EINTR of a call made without a Lua state (L NULL: a
** __gc's close_notify, which has nobody to return to).
*/
int ns_interrupted (lua_State *L) {
  struct sigaction sa;
  lua_State *main;
  if (L == NULL) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (main == NULL || lua_gethook(main) == NULL ||
      lua_gethook(main) == interrupthook ||
      lua_gethookmask(main) != HOOKMASK || lua_gethookcount(main) != 1)
    return 0;
  if (sigaction(SIGINT, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
    return 0;
  return 1;
}


static const luaL_Reg funcs[] = {
  {"_signum", sig_signum},
  {"_signame", sig_signame},
  {"_sigcatch", sig_catch},
  {"_sigrelease", sig_release},
  {"_sigtake", sig_take},
  {"_sigfd", sig_fd},
  {"_siginterrupt", sig_interrupt},
  {"_watchcall", watch_call},
  {"_unwatch", watch_off},
  {"_kill", sig_kill},
  {"_getpid", sig_getpid},
  {NULL, NULL}
};


void ns_signal_open (lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
}
