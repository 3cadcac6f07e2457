/*
** src/win/signal_win.c: netsock.onsignal's C half on Windows, in place
** of signal.c. Windows has no POSIX signals to catch between processes;
** a console program gets Ctrl-C and Ctrl-Break as console control events,
** which the system delivers on a thread of its own to the handler set
** with SetConsoleCtrlHandler. That handler plays signal.c's: for an event
** whose signal is caught (CTRL_C_EVENT is SIGINT, CTRL_BREAK_EVENT
** SIGBREAK) it sets the signal's flag, sets the "interrupted!" hook on
** the console's running chunk (SIGINT), and sends a byte to a notifier
** socket (sys_win.c) that the loop's signal task waits on, then says
** the event is handled. SIGTERM can be caught too, and is raised only by
** core._kill on this process (as is every signal here: Windows has no
** kill(2) for another process's handlers).
**
** The functions keep signal.c's names and contracts (_signum, _signame,
** _sigcatch, _sigrelease, _sigtake, _sigfd, _siginterrupt, _kill,
** _getpid); the attached console's watch (_watchcall) is not available
** on Windows yet. ns_interrupted says no: no Winsock call returns EINTR.
*/
#include <process.h>
#include <signal.h>
#include <string.h>

#include "netsock.h"

#if !defined(SIGBREAK)
#define SIGBREAK  21
#endif
#define NSIGS  32

static volatile LONG flags[NSIGS];      /* arrived, not yet taken */
static volatile LONG caught[NSIGS];     /* a handler of ours is set */
static volatile LONG wakefd = -1;       /* the notifier */
static lua_State *volatile interruptL;  /* the chunk SIGINT interrupts */
static volatile LONG hookfired;
static INIT_ONCE handleronce = INIT_ONCE_STATIC_INIT;

#define HOOKMASK  (LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT)

static const struct { const char *name; int num; } signames[] = {
  {"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGBREAK", SIGBREAK},
  {NULL, 0}
};


int ns_interrupted (lua_State *L) {
  (void)L;
  return 0;
}


static void interrupthook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  InterlockedExchange(&hookfired, 1);
  luaL_error(L, "interrupted!");
}


/* a signal arrived (any thread): 1 when one of ours took it */
static int deliver (int sig) {
  int fd;
  if (sig <= 0 || sig >= NSIGS || !caught[sig]) return 0;
  InterlockedExchange(&flags[sig], 1);
  if (sig == SIGINT && interruptL != NULL)  /* as lua.c does from signals */
    lua_sethook(interruptL, interrupthook, HOOKMASK, 1);
  if ((fd = (int)wakefd) >= 0) ns_sys_notify(fd);
  return 1;
}


/* on the system's thread for console events */
static BOOL WINAPI onevent (DWORD event) {
  switch (event) {
    case CTRL_C_EVENT: return deliver(SIGINT) ? TRUE : FALSE;
    case CTRL_BREAK_EVENT: return deliver(SIGBREAK) ? TRUE : FALSE;
    default: return FALSE;   /* close, logoff, shutdown: the default */
  }
}


static BOOL CALLBACK sethandler (PINIT_ONCE once, PVOID arg, PVOID *ctx) {
  (void)once; (void)arg; (void)ctx;
  SetConsoleCtrlHandler(onevent, TRUE);
  return TRUE;
}


/* the notifier, made on first use: 1, or 0 with errno */
static int opennotifier (void) {
  int fd;
  if (wakefd >= 0) return 1;
  if ((fd = ns_sys_notifier(0)) < 0) return 0;
  InterlockedExchange(&wakefd, fd);
  return 1;
}


static int tosignal (lua_State *L, int idx) {
  int i;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = lua_tointeger(L, idx);
    for (i = 0; signames[i].name != NULL; i++)
      if (signames[i].num == n) return (int)n;
    return 0;
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *name = lua_tostring(L, idx);
    for (i = 0; signames[i].name != NULL; i++)
      if (strcmp(signames[i].name, name) == 0 ||
          strcmp(signames[i].name + 3, name) == 0)  /* "INT" too */
        return signames[i].num;
  }
  return 0;
}


static int checksignal (lua_State *L, int idx) {
  int sig = tosignal(L, idx);
  if (sig == 0)
    luaL_argerror(L, idx, "SIGINT, SIGBREAK or SIGTERM (the signals of Windows)");
  return sig;
}


/* core._signum(name or number): the number, or nil, reason */
static int sig_signum (lua_State *L) {
  int sig = tosignal(L, 1);
  if (sig == 0) {
    const char *name = luaL_tolstring(L, 1, NULL);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: not available on Windows (SIGINT, SIGBREAK, SIGTERM are)",
                    name);
    return 2;
  }
  lua_pushinteger(L, sig);
  return 1;
}


static int sig_signame (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int i;
  for (i = 0; signames[i].name != NULL; i++)
    if (signames[i].num == n) {
      lua_pushstring(L, signames[i].name);
      return 1;
    }
  return 0;
}


/* core._sigcatch(sig): the notifier (to watch), or nil, msg, code */
static int sig_catch (lua_State *L) {
  int sig = checksignal(L, 1);
  if (!opennotifier()) return ns_fail(L, errno);
  InitOnceExecuteOnce(&handleronce, sethandler, NULL, NULL);
  InterlockedExchange(&flags[sig], 0);
  InterlockedExchange(&caught[sig], 1);
  lua_pushinteger(L, (lua_Integer)wakefd);
  return 1;
}


static int sig_release (lua_State *L) {
  int sig = checksignal(L, 1);
  InterlockedExchange(&caught[sig], 0);
  InterlockedExchange(&flags[sig], 0);
  lua_pushboolean(L, 1);
  return 1;
}


/* core._sigtake(): the signals arrived since the last call */
static int sig_take (lua_State *L) {
  int sig, n = 0;
  if (wakefd >= 0) ns_sys_drain((int)wakefd);
  lua_createtable(L, 4, 0);
  for (sig = 1; sig < NSIGS; sig++)
    if (InterlockedExchange(&flags[sig], 0)) {
      lua_pushinteger(L, sig);
      lua_rawseti(L, -2, ++n);
    }
  return 1;
}


static int sig_fd (lua_State *L) {
  if (!opennotifier()) return ns_fail(L, errno);
  lua_pushinteger(L, (lua_Integer)wakefd);
  return 1;
}


/* core._siginterrupt([thread]): as signal.c's */
static int sig_interrupt (lua_State *L) {
  lua_State *T = lua_isnoneornil(L, 1) ? NULL : lua_tothread(L, 1);
  luaL_argexpected(L, T != NULL || lua_isnoneornil(L, 1), 1, "thread");
  if (T == NULL) {
    lua_State *old = interruptL;
    interruptL = NULL;
    if (old != NULL && lua_gethook(old) == interrupthook)
      lua_sethook(old, NULL, 0, 0);
    lua_pushboolean(L, InterlockedExchange(&hookfired, 0) != 0);
    return 1;
  }
  InterlockedExchange(&hookfired, 0);
  interruptL = T;
  return 0;
}


/*
** core._kill(pid, sig): only this process, whose caught signal arrives as
** from the console; a signal not caught does what Windows does with it
** (raise: SIGINT and SIGBREAK end the process, as Ctrl-C would)
*/
static int sig_kill (lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  int sig = checksignal(L, 2);
  if (pid != (lua_Integer)_getpid()) return ns_fail(L, ENOSYS);
  if (!deliver(sig)) raise(sig);
  lua_pushboolean(L, 1);
  return 1;
}


static int sig_getpid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)_getpid());
  return 1;
}


/* raise "NAME: not available on Windows" (the name is upvalue 1) */
static int unported (lua_State *L) {
  return luaL_error(L, "%s: not available on Windows",
                    lua_tostring(L, lua_upvalueindex(1)));
}


static int sig_nothing (lua_State *L) {
  (void)L;
  return 0;
}


static const luaL_Reg funcs[] = {
  {"_signum", sig_signum},
  {"_signame", sig_signame},
  {"_sigcatch", sig_catch},
  {"_sigrelease", sig_release},
  {"_sigtake", sig_take},
  {"_sigfd", sig_fd},
  {"_siginterrupt", sig_interrupt},
  {"_unwatch", sig_nothing},
  {"_kill", sig_kill},
  {"_getpid", sig_getpid},
  {NULL, NULL}
};


void ns_signal_open (lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
  lua_pushliteral(L, "_watchcall");
  lua_pushcclosure(L, unported, 1);
  lua_setfield(L, -2, "_watchcall");
}
