/*
** src/win/process_win.c: on Windows, in place of process.c (fork,
** waitpid, Unix credentials, the file-creation mask, socket files).
** The functions it registers are here with the same names: the CPU
** count and isatty work; what has no Windows form yet raises
** "NAME: not available on Windows" (serve's workers, through
** core._nofork, which workers.lua asks first; s:getpeercred; getuid,
** geteuid; the console's endpoint and attach, through core._noconsole,
** which console.lua asks first; and socket.c's fromfd, replaced here:
** a descriptor inherited by number is a C runtime descriptor or a
** handle on Windows, a question not answered yet).
*/
#include "netsock.h"


/* raise "NAME: not available on Windows" (the function's name is its
   upvalue) */
static int unported (lua_State *L) {
  return luaL_error(L, "%s: not available on Windows",
                    lua_tostring(L, lua_upvalueindex(1)));
}


/* core._ncpu(): the processors of this machine */
static int win_ncpu (lua_State *L) {
  lua_pushinteger(L, ns_sys_cpucount());
  return 1;
}


/* core._isatty(fd) */
static int win_isatty (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, 0 <= fd && fd <= 0x7fffffff, 1, "descriptor out of range");
  lua_pushboolean(L, _isatty((int)fd) != 0);
  return 1;
}


static const luaL_Reg procfuncs[] = {
  {"_ncpu", win_ncpu},
  {"_isatty", win_isatty},
  {NULL, NULL}
};

static const char *const unportedprocess[] = {
  "_fork", "_waitpid", "getuid", "geteuid", "_umask", "_lstat",
  "_unlinksocket", "fromfd", NULL
};


static void setunported (lua_State *L, const char *const *names) {
  for (; *names != NULL; names++) {
    lua_pushstring(L, *names);
    lua_pushcclosure(L, unported, 1);
    lua_setfield(L, -2, *names);
  }
}


/* the functions (module table at -1), s:getpeercred on the socket class */
void ns_process_open (lua_State *L) {
  static const char *const methods[] = {"getpeercred", NULL};
  luaL_setfuncs(L, procfuncs, 0);
  lua_pushliteral(L, "not available on Windows");  /* workers.lua asks */
  lua_setfield(L, -2, "_nofork");
  lua_pushliteral(L, "not available on Windows");  /* console.lua asks */
  lua_setfield(L, -2, "_noconsole");
  lua_pushboolean(L, 0);   /* process.c's core._balance: none */
  lua_setfield(L, -2, "_balance");
  setunported(L, unportedprocess);
  lua_getfield(L, -1, "_socketmethods");
  setunported(L, methods);
  lua_pop(L, 1);
}
