/*
** lsutil.c: the parts of netsock.luasocket that need no object: the
** port text LuaSocket hands getaddrinfo (core._lsservice), udp
** sendto's numeric lookup (core._lsnumeric), a numeric address that
** needs no lookup at all (core._lsnumaddr), _SETSIZE (core._lsnofile),
** and socket.skip, newtry and protect, which are C in LuaSocket too.
** luasocket.c, the objects, opens it.
*/
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "netsock.h"


/* {====== ports ====== */

/*
** core._lsservice(port [, dgram]): the port number getaddrinfo makes of
** LuaSocket's port text, which LuaSocket hands it unchecked (a name from
** /etc/services, digits, whatever glibc makes of "70000"); or nil,
** message, code (EAI_SERVICE, ...). The layer then looks the host up
** with the number, as every other netsock call does.
*/
static int ls_service (lua_State *L) {
  const char *serv = luaL_checkstring(L, 1);
  struct addrinfo hints, *res = NULL;
  int r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = lua_toboolean(L, 2) ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  r = getaddrinfo(NULL, serv, &hints, &res);
  if (r != 0) return ns_gaifail(L, r, errno, NULL, serv);
  lua_pushinteger(L, ntohs(((struct sockaddr_in *)(void *)res->ai_addr)->sin_port));
  freeaddrinfo(res);
  return 1;
}

/*
** core._lsnumeric(host, port [, family]): udp sendto's lookup exactly as
** LuaSocket's (udp.c: getaddrinfo with AI_NUMERICHOST and AI_NUMERICSERV, a datagram
** socket, the port text as given): the first address as host, port,
** family; or nil and gai_strerror's text, as LuaSocket returns it.
** Numeric: it never waits on the network.
*/
static int ls_numeric (lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  const char *serv = luaL_checkstring(L, 2);
  const char *fam = luaL_optstring(L, 3, NULL);
  struct addrinfo hints, *res = NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  int r, family;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = fam == NULL ? AF_UNSPEC
                  : strcmp(fam, "inet6") == 0 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  r = getaddrinfo(host, serv, &hints, &res);
  if (r != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gai_strerror(r));
    return 2;
  }
  len = res->ai_addrlen <= sizeof ss ? res->ai_addrlen : (socklen_t)sizeof ss;
  memcpy(&ss, res->ai_addr, len);
  family = res->ai_family;
  freeaddrinfo(res);  /* before anything that may raise */
  ns_pushaddr(L, (struct sockaddr *)&ss, len);
  lua_pushstring(L, ns_familyname(family));
  return 3;
}


/*
** core._lsnofile(): the process's descriptor limit (the soft
** RLIMIT_NOFILE), the layer's socket._SETSIZE: LuaSocket's is select's
** FD_SETSIZE, a number of sockets a loop can reach; netsock's select has
** no ceiling, so the limit is the one the process has.
*/
static int ls_nofile (lua_State *L) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY
      || rl.rlim_cur > (rlim_t)INT_MAX)
    lua_pushinteger(L, INT_MAX);
  else
    lua_pushinteger(L, (lua_Integer)rl.rlim_cur);
  return 1;
}

/* }====== */


/* {====== Numeric addresses ====== */

/*
** core._lsnumaddr(host, port [, family]): the family ("inet" or
** "inet6") and the port number of a numeric host and a port of digits,
** which LuaSocket's getaddrinfo would answer with that one address and
** that port; nothing when either needs getaddrinfo (a name, "127.1",
** "070", a port above 65535, a scope, a host of the other family than
** 'family'), which the layer then asks as before. Connecting to an
** address as text then costs no lookup (docs/luasocket.md, "Speed").
** ns_lsnumaddr: the port, and the family in *family; -1: not numeric.
*/
int ns_lsnumaddr (const char *host, size_t hlen, const char *port,
                  size_t plen, int *family) {
  unsigned char a[16];
  long n = 0;
  size_t i;
  if (plen == 0 || plen > 5 || hlen >= 46 || strlen(host) != hlen)
    return -1;
  for (i = 0; i < plen; i++) {
    if (port[i] < '0' || port[i] > '9') return -1;
    n = n * 10 + (port[i] - '0');
  }
  if (n > 65535) return -1;
  if (inet_pton(AF_INET, host, a) == 1) *family = AF_INET;
  else if (inet_pton(AF_INET6, host, a) == 1) *family = AF_INET6;
  else return -1;
  return (int)n;
}

static int ls_numaddr (lua_State *L) {
  size_t hlen, plen;
  const char *fam = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
  const char *host, *port;
  int family, n;
  if (lua_type(L, 1) != LUA_TSTRING || lua_type(L, 2) != LUA_TSTRING)
    return 0;
  host = lua_tolstring(L, 1, &hlen);
  port = lua_tolstring(L, 2, &plen);
  n = ns_lsnumaddr(host, hlen, port, plen, &family);
  if (n < 0) return 0;
  if (fam != NULL && strcmp(fam, ns_familyname(family)) != 0) return 0;
  lua_pushstring(L, ns_familyname(family));
  lua_pushinteger(L, n);
  return 2;
}

/* }====== */


/* {====== LuaSocket's skip, newtry and protect ====== */

/*
** As LuaSocket has them in C (its except.c and socket.skip): the
** error a try raises is a table { message } whose metatable is one the
** layer keeps (upvalue 1 of each function here; __metatable = false,
** so getmetatable(e) is false as LuaSocket's), and protect turns only
** those into nil, message. Protect's call is yieldable: inside a task
** the protected function may wait.
*/

/* socket.skip(d, ...): the arguments after the first d */
static int ls_skip (lua_State *L) {
  lua_Integer d = luaL_checkinteger(L, 1);
  int top = lua_gettop(L);
  if (d < 0) return top;          /* (a d below 0 keeps them all) */
  if (d >= top) return 0;
  return top - (int)d - 1;
}

/* a try: its arguments when the first is true; else the finalizer
   (upvalue 2) and the second argument raised, wrapped */
static int ls_try (lua_State *L) {
  if (lua_toboolean(L, 1))
    return lua_gettop(L);
  lua_settop(L, 2);
  if (lua_toboolean(L, lua_upvalueindex(2))) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 0, 0);
  }
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  return lua_error(L);
}

/* socket.newtry([finalizer]) */
static int ls_newtry (lua_State *L) {
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_pushcclosure(L, ls_try, 2);
  return 1;
}

static int ls_protected_k (lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  if (status == LUA_OK || status == LUA_YIELD)
    return lua_gettop(L);
  if (lua_type(L, -1) == LUA_TTABLE && lua_getmetatable(L, -1)) {
    int ours = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (ours) {
      lua_pushnil(L);
      lua_rawgeti(L, -2, 1);
      return 2;
    }
  }
  return lua_error(L);
}

/* the function socket.protect(f) returns: f(...) in a protected call */
static int ls_protected (lua_State *L) {
  int status;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  status = lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, ls_protected_k);
  return ls_protected_k(L, status, 0);
}

/* socket.protect(f) */
static int ls_protect (lua_State *L) {
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_pushcclosure(L, ls_protected, 2);
  return 1;
}

/* }====== */


static const luaL_Reg lsutil_funcs[] = {
  {"_lsnofile", ls_nofile},
  {"_lsnumeric", ls_numeric},
  {"_lsservice", ls_service},
  {"_lsnumaddr", ls_numaddr},
  {"_lsskip", ls_skip},
  {NULL, NULL}
};


void ns_lsutil_open (lua_State *L) {
  luaL_setfuncs(L, lsutil_funcs, 0);
  /* newtry and protect share the metatable of the errors a try raises */
  lua_createtable(L, 0, 1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, ls_newtry, 1);
  lua_setfield(L, -3, "_lsnewtry");
  lua_pushcclosure(L, ls_protect, 1);
  lua_setfield(L, -2, "_lsprotect");
}
