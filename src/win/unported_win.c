/*
** src/win/unported_win.c: on Windows, in place of signal.c and
** process.c (which need fork, waitpid, sigaction and a self-pipe, Unix
** credentials and socket files). The core's functions they register
** are here with the same names; what has no Windows form yet raises
** "NAME: not available on Windows" (onsignal, workers, the console's
** attach endpoint, s:getpeercred, getuid), and ns_interrupted, the
** EINTR rule's question, says no: Winsock calls are not interrupted by
** signals.
*/
#include <process.h>
#include <signal.h>
#include <string.h>

#include "netsock.h"


int ns_interrupted (lua_State *L) {
  (void)L;
  return 0;
}


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


static int win_getpid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)_getpid());
  return 1;
}


/* core._signum(name or number): only SIGINT and SIGTERM are known, and
   nothing can catch them yet */
static int win_signum (lua_State *L) {
  const char *name;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_pushinteger(L, luaL_checkinteger(L, 1));
    return 1;
  }
  name = luaL_checkstring(L, 1);
  if (strcmp(name, "SIGINT") == 0) lua_pushinteger(L, SIGINT);
  else if (strcmp(name, "SIGTERM") == 0) lua_pushinteger(L, SIGTERM);
  else return ns_failmsg(L, "unknown signal", "EINVAL");
  return 1;
}


static int win_signame (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n == SIGINT) lua_pushliteral(L, "SIGINT");
  else if (n == SIGTERM) lua_pushliteral(L, "SIGTERM");
  else lua_pushnil(L);
  return 1;
}


/* core._sigtake(): no signal was ever caught */
static int win_sigtake (lua_State *L) {
  lua_newtable(L);
  return 1;
}


static int win_nothing (lua_State *L) {
  (void)L;
  return 0;
}


static const luaL_Reg sigfuncs[] = {
  {"_signum", win_signum},
  {"_signame", win_signame},
  {"_sigtake", win_sigtake},
  {"_siginterrupt", win_nothing},
  {"_unwatch", win_nothing},
  {"_getpid", win_getpid},
  {NULL, NULL}
};

static const luaL_Reg procfuncs[] = {
  {"_ncpu", win_ncpu},
  {"_isatty", win_isatty},
  {NULL, NULL}
};

static const char *const unportedsig[] = {
  "_sigcatch", "_sigrelease", "_sigfd", "_watchcall", "_kill", NULL
};

/* process.c's, and socket.c's fromfd: a descriptor inherited by number
   is a CRT or handle question Windows answers otherwise (not built) */
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


void ns_signal_open (lua_State *L) {
  luaL_setfuncs(L, sigfuncs, 0);
  setunported(L, unportedsig);
}


/* s:getpeercred, on the socket class */
void ns_process_open (lua_State *L) {
  static const char *const methods[] = {"getpeercred", NULL};
  luaL_setfuncs(L, procfuncs, 0);
  lua_pushliteral(L, "not available on Windows");  /* workers.lua asks */
  lua_setfield(L, -2, "_nofork");
  lua_pushboolean(L, 0);   /* process.c's core._balance: none */
  lua_setfield(L, -2, "_balance");
  setunported(L, unportedprocess);
  lua_getfield(L, -1, "_socketmethods");
  setunported(L, methods);
  lua_pop(L, 1);
}
