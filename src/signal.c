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

#if !defined(NSIG)
#define NSIG 65
#endif

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


/* core._signame(number): "SIGINT"..., or nil */
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


/* core._kill(pid, sig): kill(2), for tests and supervisors */
static int sig_kill (lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  int sig = checksignal(L, 2);
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
** as soon as the call returns. Any other EINTR is retried as before.
*/
int ns_interrupted (lua_State *L) {
  struct sigaction sa;
  lua_State *main;
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
  {"_kill", sig_kill},
  {"_getpid", sig_getpid},
  {NULL, NULL}
};


void ns_signal_open (lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
}
