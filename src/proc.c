/*
** proc.c: the process. Who is at the other end of a Unix-domain socket
** (SO_PEERCRED) and who we are, the file-creation mask, whether a
** descriptor is a terminal, what is at a path (lstat) and the removal
** of a socket file we made. The console (lua/netsock/console.lua) uses
** them: its endpoint is made mode 0600 and refuses every user but its
** own, and it removes only a socket file it can prove its own.
*/
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "netsock.h"


/*
** s:getpeercred(): pid, uid, gid of the process that connected (or
** listened, seen from the client) on a Unix-domain stream socket, as
** the kernel recorded them at connect time; nil, message, code where
** the kernel has none (ENOTCONN, EOPNOTSUPP on other families...).
*/
static int proc_getpeercred (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
    return ns_fail(L, errno);
  if (len < sizeof uc || (uc.pid == 0 && uc.uid == (uid_t)-1))
    return ns_fail(L, ENOTCONN);  /* not a connected Unix socket */
  lua_pushinteger(L, (lua_Integer)uc.pid);
  lua_pushinteger(L, (lua_Integer)uc.uid);
  lua_pushinteger(L, (lua_Integer)uc.gid);
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


void ns_proc_open (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"getuid", proc_getuid},
    {"geteuid", proc_geteuid},
    {"_umask", proc_umask},
    {"_isatty", proc_isatty},
    {"_lstat", proc_lstat},
    {"_unlinksocket", proc_unlinksocket},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
  /* the method goes into the socket metatable's method table */
  if (luaL_getmetatable(L, NS_SOCKET) == LUA_TTABLE) {
    if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
      lua_pushcfunction(L, proc_getpeercred);
      lua_setfield(L, -2, "getpeercred");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}
