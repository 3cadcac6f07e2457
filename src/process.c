/*
** process.c: the process calls serve's workers need: fork, waitpid,
** the CPU count (kill and getpid are signal.c's). Internal (core._fork
** & co.): the public face is
** netsock.serve(..., {workers = n}), lua/netsock/workers.lua.
*/
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netsock.h"


/*
** core._fork([hold]): fork(2). The parent gets the child's pid, the
** child 0, or nil, message, code. stdio is flushed first, so that the
** child does not write the parent's buffered output a second time. In
** the child every signal caught by a handler goes back to its default
** action (a handler of the parent's must not act in the child; ignored
** signals stay ignored, as exec would keep them) and every signal is
** unblocked, except the numbers in the array 'hold': those are blocked
** in the parent from before the fork, and stay blocked in the child
** until its own handler takes them (core._sigcatch unblocks), so one
** that arrives meanwhile (a SIGTERM to the whole group) waits for that
** handler instead of killing the child by its default action.
*/
static int proc_fork (lua_State *L) {
  pid_t pid;
  sigset_t hold, old;
  int err;
  sigemptyset(&hold);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer i, n;
    luaL_checktype(L, 1, LUA_TTABLE);
    n = (lua_Integer)lua_rawlen(L, 1);
    for (i = 1; i <= n; i++) {
      lua_Integer sig;
      lua_rawgeti(L, 1, i);
      sig = luaL_checkinteger(L, -1);
      luaL_argcheck(L, sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP,
                    1, "signal number out of range");
      sigaddset(&hold, (int)sig);
      lua_pop(L, 1);
    }
  }
  fflush(NULL);
  pthread_sigmask(SIG_BLOCK, &hold, &old);
  pid = fork();
  err = errno;
  if (pid != 0) {  /* the parent (or no child): its mask as it was */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) return ns_fail(L, err);
  }
  else {
    int sig;
    for (sig = 1; sig < NSIG; sig++) {
      struct sigaction sa;
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      if (sigaction(sig, NULL, &sa) != 0) continue;  /* real-time gaps */
      if ((sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL &&
                                         sa.sa_handler != SIG_IGN)) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
      }
    }
    sigprocmask(SIG_SETMASK, &hold, NULL);
  }
  lua_pushinteger(L, (lua_Integer)pid);
  return 1;
}


/*
** core._waitpid(pid [, nohang]): waitpid(2), EINTR retried. Returns
** pid, "exited", status or pid, "signaled", signal number;
** with nohang, 0 when the child still runs; nil, message, code on
** failure (ECHILD: not our child, or reaped already).
*/
static int proc_waitpid (lua_State *L) {
  lua_Integer p = luaL_checkinteger(L, 1);
  int nohang = lua_toboolean(L, 2), status = 0;
  pid_t r;
  luaL_argcheck(L, p >= -1 && p <= 0x7fffffff, 1, "pid out of range");
  do r = waitpid((pid_t)p, &status, nohang ? WNOHANG : 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) return ns_fail(L, errno);
  lua_pushinteger(L, (lua_Integer)r);
  if (r == 0) return 1;
  if (WIFEXITED(status)) {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(status));
  }
  else {
    lua_pushliteral(L, "signaled");
    lua_pushinteger(L, WTERMSIG(status));
  }
  return 3;
}


/* core._ncpu(): the CPUs this process may run on (affinity), at least 1 */
static int proc_ncpu (lua_State *L) {
  long n = 0;
#if defined(CPU_COUNT)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? (lua_Integer)n : 1);
  return 1;
}


static const luaL_Reg funcs[] = {
  {"_fork", proc_fork},
  {"_waitpid", proc_waitpid},
  {"_ncpu", proc_ncpu},
  {NULL, NULL}
};


/* add the functions to the module table on the top of the stack */
void ns_process_open (lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
}
