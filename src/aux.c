/*
** aux.c: what every file checks and builds the same way. Argument
** checks (timeouts, i..j ranges, buffer sizes, names without zero
** bytes, ports, families, types), the one class builder, the type
** check of sockets, and the descriptor box.
*/
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

#define NS_FDBOX  "netsock.fdbox"


/* {====== Arguments ====== */

/* a timeout argument: nil (or none) means for ever, math.huge too */
double ns_opttimeout (lua_State *L, int idx) {
  double t;
  if (lua_isnoneornil(L, idx)) return -1.0;
  t = luaL_checknumber(L, idx);
  luaL_argcheck(L, !isnan(t), idx, "timeout is NaN");
  luaL_argcheck(L, t >= 0, idx, "negative timeout");
  return isinf(t) ? -1.0 : t;
}


/*
** The bytes data[i..j] of the string at 'idx' with Lua's string.sub
** rules for i and j (negative counts from the end).
*/
const char *ns_checkrange (lua_State *L, int idx, size_t *len) {
  size_t l;
  const char *data = luaL_checklstring(L, idx, &l);
  lua_Integer i = luaL_optinteger(L, idx + 1, 1);
  lua_Integer j = luaL_optinteger(L, idx + 2, -1);
  if (i < 0) i = ((lua_Integer)l + i < 0) ? 1 : (lua_Integer)l + i + 1;
  else if (i == 0) i = 1;
  if (j < 0) j = (lua_Integer)l + j + 1;
  else if (j > (lua_Integer)l) j = (lua_Integer)l;
  if (i > j) { *len = 0; return data; }
  *len = (size_t)(j - i + 1);
  return data + i - 1;
}


void ns_checkrecvargs (lua_State *L, int idx, size_t *size, int *flags) {
  lua_Integer n = luaL_checkinteger(L, idx);
  lua_Integer f = luaL_optinteger(L, idx + 1, 0);
  luaL_argcheck(L, n >= 0, idx, "negative buffer size");
  luaL_argcheck(L, n <= INT_MAX, idx, "buffer size too large");
  luaL_argcheck(L, 0 <= f && f <= INT_MAX, idx + 1, "invalid flags");
  *size = (size_t)n;
  *flags = (int)f;
}


const char *ns_checkname (lua_State *L, int idx, const char *what) {
  size_t n;
  const char *s = luaL_checklstring(L, idx, &n);
  if (strlen(s) != n)
    luaL_argerror(L, idx, lua_pushfstring(L, "%s contains a zero byte", what));
  return s;
}


/*
** Check the port argument at 'idx': an integer 0..65535, a numeric
** string, or a service name. Returns the text getaddrinfo takes, in
** 'buf' (at least 8 bytes) for numbers, or the service name itself.
*/
const char *ns_checkport (lua_State *L, int idx, char *buf) {
  lua_Integer port;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len, i, digits = 0, letters = 0;
    const char *s = lua_tolstring(L, idx, &len);
    luaL_argcheck(L, len > 0 && strlen(s) == len, idx, "invalid port");
    for (i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c >= '0' && c <= '9') digits++;
      else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') letters++;
    }
    /* a service name has a letter ("http", "9pfs"); getaddrinfo reads
       anything strtoul takes as a number (" 80", "+80"), so a string
       without letters must be decimal digits and nothing else */
    if (letters > 0)
      return s;
    luaL_argcheck(L, digits == len, idx, "invalid port");
    for (i = 0, port = 0; i < len && port <= 65535; i++)
      port = port * 10 + (s[i] - '0');
    luaL_argcheck(L, port <= 65535, idx, "port out of range");
  }
  else {
    if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx)) {
      double d = lua_tonumber(L, idx);
      luaL_argcheck(L, d >= 0 && d <= 65535, idx, "port out of range");
    }
    port = luaL_checkinteger(L, idx);
    luaL_argcheck(L, 0 <= port && port <= 65535, idx, "port out of range");
  }
  {  /* the decimal text, without snprintf (docs/performance.md, "UDP") */
    char tmp[8], *p = tmp, *q = buf;
    do *p++ = (char)('0' + port % 10); while ((port /= 10) > 0);
    while (p > tmp) *q++ = *--p;
    *q = '\0';
  }
  return buf;
}

/* }====== */


/* {====== Families and types by name ====== */

static const char *const familynames[] = {"inet", "inet6", "unix", "unspec", NULL};
static const int familyvalues[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC};

static const char *const typenames[] = {"stream", "dgram", "raw", "seqpacket", NULL};
static const int typevalues[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET};


/* a name ("inet6") or a number (netsock.AF_INET6) from 'names' */
static int checkenum (lua_State *L, int idx, int def, const char *const *names,
                      const int *values, const char *what) {
  int i;
  if (lua_isnoneornil(L, idx)) return def;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer v = luaL_checkinteger(L, idx);
    for (i = 0; names[i]; i++)
      if (values[i] == v) return (int)v;
    return luaL_argerror(L, idx, what);
  }
  return values[luaL_checkoption(L, idx, NULL, names)];
}


int ns_family (lua_State *L, int idx, int def) {
  return checkenum(L, idx, def, familynames, familyvalues,
                   "unknown address family");
}


int ns_socktype (lua_State *L, int idx, int def) {
  return checkenum(L, idx, def, typenames, typevalues, "unknown socket type");
}


static const char *enumname (int v, const char *const *names,
                             const int *values) {
  int i;
  for (i = 0; names[i]; i++)
    if (values[i] == v) return names[i];
  return "?";
}


const char *ns_familyname (int family) {
  return enumname(family, familynames, familyvalues);
}


const char *ns_typename (int type) {
  return enumname(type, typenames, typevalues);
}

/* }====== */


/* {====== Classes ====== */

/*
** Run 'fn' when the state closes: a registry entry 'key' holds a
** sentinel userdata whose __gc is 'fn'. Lua finalizes in the reverse
** order objects were marked, so a sentinel made when the module loads,
** before any socket, runs after every socket's own __gc.
*/
void ns_atclose (lua_State *L, const char *key, lua_CFunction fn) {
  lua_newuserdatauv(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, fn);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, key);
}

/* pushes a new table whose keys are weak (an object's side data that
** must not keep the object alive) */
void ns_newweak (lua_State *L) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}


void ns_newclass (lua_State *L, const char *name, const luaL_Reg *meta,
                  const luaL_Reg *methods, int upmeta) {
  int nup = upmeta ? 1 : 0;
  luaL_newmetatable(L, name);
  if (meta != NULL) {
    if (upmeta) lua_pushvalue(L, -1);
    luaL_setfuncs(L, meta, nup);
  }
  lua_newtable(L);
  if (methods != NULL) {
    if (upmeta) lua_pushvalue(L, -2);
    luaL_setfuncs(L, methods, nup);
  }
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__metatable");
}


/*
** The socket metatable holds, at integer key 1, a light userdata with
** the address of 'socketkey', a value no other code can make: checking
** it takes an array read, where luaL_checkudata looks the metatable up
** in the registry by name (interning "netsock.socket", strcmp included)
** on every call, a fifth of a recv. No script can read or copy that
** value (__metatable hides every netsock metatable), and the block's
** size is checked too, so even a metatable reached through the debug
** library cannot make another object pass for a socket.
*/
static char socketkey;

void ns_marksocketclass (lua_State *L) {
  lua_pushlightuserdata(L, &socketkey);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &socketkey);
}


void ns_pushsocketclass (lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &socketkey);
}


/*
** Add methods to the socket class: the module table at -1 holds its
** method table as _socketmethods (socket.c's ns_socket_open puts it
** there; the files that add methods open after it).
*/
void ns_addmethods (lua_State *L, const luaL_Reg *l) {
  lua_getfield(L, -1, "_socketmethods");
  luaL_setfuncs(L, l, 0);
  lua_pop(L, 1);
}


nsSocket *ns_tosocket (lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  idx = lua_absindex(L, idx);  /* the pushes below move relative indices */
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawgeti(L, -1, 1) == LUA_TLIGHTUSERDATA &&
               lua_touserdata(L, -1) == &socketkey &&
               lua_rawlen(L, idx) == sizeof(nsSocket);
    lua_pop(L, 2);
    if (same) return (nsSocket *)p;
  }
  return NULL;
}


nsSocket *ns_checksocket (lua_State *L, int idx) {
  nsSocket *s = ns_tosocket(L, idx);
  if (s == NULL) luaL_typeerror(L, idx, NS_SOCKET);
  return s;
}


/*
** Misuse raises: a configuration method (bind, listen, connect,
** setoption, makefile, ...) on a closed socket.
*/
nsSocket *ns_checkopen (lua_State *L, int idx) {
  nsSocket *s = ns_checksocket(L, idx);
  if (s->fd < 0)
    luaL_error(L, "attempt to use a closed socket");
  return s;
}


/*
** The one check of a data-path method (recv, send, sendall, accept,
** sendto, recvfrom, sendfile): a value that is not a socket raises; a
** closed socket gives NULL, and the method returns ns_closed(L) (nil,
** "closed", "closed") once its other arguments are checked. In a
** server a neighbour's socket can be closed at any moment: a run-time
** condition, as when another task closes it under a waiting call.
*/
nsSocket *ns_checkio (lua_State *L, int idx) {
  nsSocket *s = ns_checksocket(L, idx);
  return s->fd < 0 ? NULL : s;
}


/* ns_checkresumed, the check a continuation starts with, is inline in
   netsock.h */


/*
** Raise "bad argument #arg to 'fname' (message)" with the message
** formatted as lua_pushfstring does: for the checks of an options table
** (tls.c), whose messages name the function as the caller wrote it
** (netsock.check's wording) even when it is reached through another.
*/
int ns_argerror (lua_State *L, int arg, const char *fname,
                 const char *fmt, ...) {
  const char *msg;
  va_list ap;
  va_start(ap, fmt);
  msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, fname, msg);
}

/* }====== */


/* {====== The fork generation ======
**
** netsock.h's ns_inherited: bumped in the child of every fork (ours,
** core._fork, or anyone's) by an atfork handler that the first call
** registers once for the process. A socket and a poller record it at
** birth; a copy a fork made closes only its own descriptor.
*/
static unsigned forkgen = 0;

static void forkgen_child (void) { forkgen++; }

static void forkgen_register (void) {
  pthread_atfork(NULL, NULL, forkgen_child);
}

unsigned ns_forkgen (void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, forkgen_register);
  return forkgen;
}

/* }====== */


/* {====== The descriptor box ====== */

void ns_fdbox_close (int *box) {
  if (*box >= 0) {
    int fd = *box;
    *box = -1;
    close(fd);  /* not retried on EINTR: Linux has released fd already */
  }
}


static int fdbox_gc (lua_State *L) {
  ns_fdbox_close((int *)luaL_checkudata(L, 1, NS_FDBOX));
  return 0;
}


int *ns_newfdbox (lua_State *L) {
  int *box = (int *)lua_newuserdatauv(L, sizeof(int), 0);
  *box = -1;
  luaL_setmetatable(L, NS_FDBOX);
  return box;
}


void ns_aux_open (lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__gc", fdbox_gc}, {"__close", fdbox_gc}, {NULL, NULL}
  };
  ns_newclass(L, NS_FDBOX, meta, NULL, 0);
  lua_pop(L, 1);
}

/* }====== */
