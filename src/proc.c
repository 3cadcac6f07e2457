/*
** proc.c: the process. Who is at the other end of a Unix-domain socket
** (SO_PEERCRED) and who we are, the file-creation mask, whether a
** descriptor is a terminal. The console (lua/netsock/console.lua) uses
** them: its endpoint is made mode 0600 and refuses every user but its
** own.
*/
#include <errno.h>
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
