/*
** signal.c: signals for the task loop (netsock.onsignal), and how a
** blocking call knows that the lua5.4 prompt's Ctrl-C wants it back;
** the half that is the same on every system. What differs (catching a
** signal, waking the loop, kill) is the signal seam, ns_sig_* in
** netsock.h: signal_posix.c, or src/win/signal_win.c on Windows.
**
** A caught signal calls 'arrived' (from the seam's handler: a flag per
** signal, the console's hook on SIGINT) and wakes the descriptor the
** loop watches (lua/netsock/tasks.lua); the loop drains it, takes the
** flags (core._sigtake) and runs the Lua handlers as tasks.
*/
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "netsock.h"

static volatile sig_atomic_t flags[NS_NSIG];  /* arrived, not yet taken */
/* the thread that SIGINT interrupts with a hook (the console's chunk) */
static lua_State *volatile interruptL;
static volatile sig_atomic_t hookfired;       /* interrupthook ran */

#define HOOKMASK  (LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT)


/* the hook SIGINT sets on the console's running chunk: it stops there */
static void interrupthook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  hookfired = 1;
  luaL_error(L, "interrupted!");
}


/*
** A caught signal arrived: the seam's handler calls this, in a signal
** handler or on the system's thread for console events, so only what is
** safe there: a flag, and lua_sethook (lua.c calls it from its handler).
*/
static void arrived (int sig) {
  if (sig > 0 && sig < NS_NSIG) flags[sig] = 1;
  if (sig == SIGINT && interruptL != NULL)
    lua_sethook(interruptL, interrupthook, HOOKMASK, 1);
}


/*
** A signal by name ("SIGINT" or "INT") or number at 'idx': its number,
** or 0 with the reason pushed. Only the signals the seam names
** (ns_sig_names(0)): SIGKILL and SIGSTOP cannot be caught, and SIGSEGV,
** SIGBUS, SIGFPE, SIGILL are the program's own faults, which a handler
** run later cannot mend. A name the seam lists with a negative number is
** a signal of other systems (ns_sig_missing says so).
*/
static int tosignal (lua_State *L, int idx) {
  const nsSigName *names = ns_sig_names(0);
  int i;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : -1;
    for (i = 0; names[i].name != NULL; i++)
      if (names[i].num > 0 && names[i].num == n) return (int)n;
    lua_pushfstring(L, "signal %s not supported", lua_tostring(L, idx));
    return 0;
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    for (i = 0; strlen(s) == len && names[i].name != NULL; i++) {
      if (strcmp(names[i].name, s) != 0 && strcmp(names[i].name + 3, s) != 0)
        continue;
      if (names[i].num > 0) return names[i].num;
      lua_pushfstring(L, "%s: %s", names[i].name, ns_sig_missing());
      return 0;
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
** core._signame(number): "SIGINT"..., or one a process may die of that
** onsignal does not take (ns_sig_names(1): "SIGKILL"...), for reports
** of how a worker ended (lua/netsock/workers.lua); or nil
*/
static int sig_signame (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int fatal, i;
  for (fatal = 0; fatal <= 1; fatal++) {
    const nsSigName *names = ns_sig_names(fatal);
    for (i = 0; names[i].name != NULL; i++)
      if (names[i].num > 0 && names[i].num == n) {
        lua_pushstring(L, names[i].name);
        return 1;
      }
  }
  return 0;
}


/*
** core._sigcatch(sig): the seam's handler for 'sig' (its previous
** disposition saved). Returns the descriptor the loop watches, or nil,
** msg, code.
*/
static int sig_catch (lua_State *L) {
  int sig = checksignal(L, 1);
  int fd = ns_sig_wakefd();
  if (fd < 0) return ns_fail(L, errno);
  if (!ns_sig_caught(sig)) flags[sig] = 0;  /* one arrived, not taken: kept */
  if (ns_sig_install(sig, arrived) < 0) return ns_fail(L, errno);
  lua_pushinteger(L, fd);
  return 1;
}


/*
** core._sigrelease(sig): the disposition from before _sigcatch, back,
** if ours is still the one in place (else whoever replaced it keeps it)
*/
static int sig_release (lua_State *L) {
  int sig = checksignal(L, 1);
  if (ns_sig_restore(sig) < 0) return ns_fail(L, errno);
  flags[sig] = 0;
  lua_pushboolean(L, 1);
  return 1;
}


/*
** core._sigtake(): drains the wake descriptor and returns the numbers of
** the signals that arrived since the last call, in increasing order, or
** nothing. It is drained before the flags are read: a signal that comes
** in between leaves a byte, which only wakes the loop once more for
** nothing.
*/
static int sig_take (lua_State *L) {
  int sig, n = 0;
  ns_sig_drain();
  lua_createtable(L, 4, 0);
  for (sig = 1; sig < NS_NSIG; sig++) {
    if (flags[sig]) {
      flags[sig] = 0;
      lua_pushinteger(L, sig);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}


/* core._sigfd(): the descriptor the loop watches, made if needed */
static int sig_fd (lua_State *L) {
  int fd = ns_sig_wakefd();
  if (fd < 0) return ns_fail(L, errno);
  lua_pushinteger(L, fd);
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
** core._kill(pid, sig): kill(2) (the seam's), for tests and supervisors.
** Beside the signals onsignal takes, those it cannot (ns_sig_names(1):
** SIGKILL, which sup:stop sends a worker still there after its timeout,
** SIGSTOP...)
*/
static int sig_kill (lua_State *L) {
  const nsSigName *fatal = ns_sig_names(1);
  lua_Integer pid = luaL_checkinteger(L, 1);
  int sig = 0, i;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    for (i = 0; fatal[i].name != NULL && sig == 0; i++)
      if (strcmp(fatal[i].name, s) == 0 || strcmp(fatal[i].name + 3, s) == 0)
        sig = fatal[i].num;
  }
  else if (lua_isinteger(L, 2)) {
    for (i = 0; fatal[i].name != NULL && sig == 0; i++)
      if (fatal[i].num == lua_tointeger(L, 2)) sig = fatal[i].num;
  }
  if (sig <= 0) sig = checksignal(L, 2);
  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 1, "pid out of range");
  if (ns_sig_kill((long)pid, sig) < 0) return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


/* core._getpid() */
static int sig_getpid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ns_sig_getpid());
  return 1;
}


/*
** Whether a call that a signal interrupted (EINTR) should give up and
** return to Lua because the lua5.4 prompt's Ctrl-C is pending: lua.c's
** SIGINT handler sets its hook (all four events, count 1) on the main
** thread and puts SIGINT back to the default action, so that both are
** seen here without owning the handler (ns_sig_intdefault). The hook
** raises "interrupted!" as soon as the call returns. Any other EINTR is
** retried as before, and so is every EINTR of a call made without a Lua
** state (L NULL: a __gc's close_notify, which has nobody to return to).
*/
int ns_interrupted (lua_State *L) {
  lua_State *main;
  if (L == NULL) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (main == NULL || lua_gethook(main) == NULL ||
      lua_gethook(main) == interrupthook ||
      lua_gethookmask(main) != HOOKMASK || lua_gethookcount(main) != 1)
    return 0;
  return ns_sig_intdefault();
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
