/*
** process.c: the process. What serve's workers need: fork, waitpid,
** the CPU count (kill and getpid are signal.c's), internal (core._fork
** & co.), whose public face is netsock.serve(..., {workers = n}),
** lua/netsock/workers.lua. And what the console needs: who is at the
** other end of a Unix-domain socket (SO_PEERCRED) and who we are, the
** file-creation mask, whether a descriptor is a terminal, what is at a
** path (lstat) and the removal of a socket file we made: its endpoint
** (lua/netsock/console.lua) is made mode 0600 and refuses every user
** but its own, and it removes only a socket file it can prove its own.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
  lua_pushinteger(L, (lua_Integer)ns_sys_cpucount());
  return 1;
}


/*
** s:getpeercred(): pid, uid, gid of the process that connected (or
** listened, seen from the client) on a Unix-domain stream socket, as
** the kernel recorded them at connect time; nil, message, code where
** the kernel has none (ENOTCONN, EOPNOTSUPP on other families...).
*/
static int proc_getpeercred (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  long pid, uid, gid;
  int err = ns_sys_peercred(s->fd, &pid, &uid, &gid);
  if (err != 0) return ns_fail(L, err);
  lua_pushinteger(L, (lua_Integer)pid);
  lua_pushinteger(L, (lua_Integer)uid);
  lua_pushinteger(L, (lua_Integer)gid);
  return 3;
}


/* netsock.getuid(), netsock.geteuid(): our user ids */
static int proc_getuid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getuid());
  return 1;
}


static int proc_geteuid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)geteuid());
  return 1;
}


/* core._umask(mask): umask(2), returns the previous mask */
static int proc_umask (lua_State *L) {
  lua_Integer m = luaL_checkinteger(L, 1);
  luaL_argcheck(L, 0 <= m && m <= 0777, 1, "mask out of range");
  lua_pushinteger(L, (lua_Integer)umask((mode_t)m));
  return 1;
}


/* a path argument: a string without zero bytes (the kernel would cut it) */
static const char *checkpath (lua_State *L, int arg) {
  size_t len;
  const char *path = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, len > 0 && strlen(path) == len, arg, "path empty or with a zero byte");
  return path;
}


static const char *kindof (mode_t m) {
  if (S_ISSOCK(m)) return "socket";
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "link";
  return "other";
}


/*
** core._lstat(path): kind ("socket", "file", "directory", "link",
** "other"), owner uid, device, inode of what is at path itself (a
** symbolic link is not followed); nil, message, code (ENOENT...)
*/
static int proc_lstat (lua_State *L) {
  const char *path = checkpath(L, 1);
  struct stat st;
  if (lstat(path, &st) < 0) return ns_fail(L, errno);
  lua_pushstring(L, kindof(st.st_mode));
  lua_pushinteger(L, (lua_Integer)st.st_uid);
  lua_pushinteger(L, (lua_Integer)st.st_dev);
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  return 4;
}


/*
** core._unlinksocket(path, dev, ino): unlink(2) path only if it is
** still the socket file (device, inode) that we saw there and owned by
** this user; never rmdir, never anything else. true, or nil, message,
** code: the path's own error, or "EEXIST" when something else is there
** now. (lstat then unlink is not atomic: in a sticky directory like
** /tmp nobody else can swap our entry in between.)
*/
static int proc_unlinksocket (lua_State *L) {
  const char *path = checkpath(L, 1);
  lua_Integer dev = luaL_checkinteger(L, 2), ino = luaL_checkinteger(L, 3);
  struct stat st;
  if (lstat(path, &st) < 0) return ns_fail(L, errno);
  if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid() ||
      (lua_Integer)st.st_dev != dev || (lua_Integer)st.st_ino != ino)
    return ns_failmsg(L, "not the socket file we made", "EEXIST");
  if (unlink(path) < 0) return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


/* core._isatty(fd) */
static int proc_isatty (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, 0 <= fd && fd <= 0x7fffffff, 1, "descriptor out of range");
  lua_pushboolean(L, isatty((int)fd));
  return 1;
}


static const luaL_Reg funcs[] = {
  {"_fork", proc_fork},
  {"_waitpid", proc_waitpid},
  {"_ncpu", proc_ncpu},
  {"getuid", proc_getuid},
  {"geteuid", proc_geteuid},
  {"_umask", proc_umask},
  {"_isatty", proc_isatty},
  {"_lstat", proc_lstat},
  {"_unlinksocket", proc_unlinksocket},
  {NULL, NULL}
};


/*
** Add the functions to the module table on the top of the stack, and
** s:getpeercred to the socket class (made before: core.c's order).
*/
void ns_process_open (lua_State *L) {
  static const luaL_Reg methods[] = {
    {"getpeercred", proc_getpeercred},
    {NULL, NULL}
  };
  const char *balance = ns_sys_balance();
  luaL_setfuncs(L, funcs, 0);
  /* core._balance: the option under which the kernel spreads a port's
     connections over several listeners (serve's workers), or false */
  if (balance != NULL) lua_pushstring(L, balance);
  else lua_pushboolean(L, 0);
  lua_setfield(L, -2, "_balance");
  ns_addmethods(L, methods);
}
