/*
** lsint.h: what the two files of netsock.luasocket's objects share:
** luasocket.c (the objects, their classes and the calls every kind
** has) and lsstream.c (the stream clients' receive and send).
*/
#ifndef NS_LSINT_H
#define NS_LSINT_H

#include "netsock.h"

/*
** An object (a full userdata): the fields the C methods read. Its
** metatable is its class; user value 1 holds its netsock socket, and a
** datagram object's user values 2 to 5 udp sendto's last destination.
** A stream object has that one user value: what an accept or a
** connect makes is small (the Lua methods reach every field through
** core._lsget and core._lsset, by the numbers below).
*/
typedef struct lsObject {
  nsSocket *s;          /* user value 1's socket; NULL: none */
  double tb, tt;        /* block and total timeouts (seconds, < 0: none;
                           NaN kept as given, as LuaSocket keeps it) */
  double birth;         /* wall-clock seconds at creation (getstats) */
  double nrecv, nsent;  /* getstats: bytes receive returned, send sent */
  size_t crfree;        /* the buffer's first bytes known to hold no '\r'
                           ("*l" drops them: one scan per fill) */
  int family;           /* AF_INET, AF_INET6, AF_UNIX; 0: not yet known */
  unsigned char kind;   /* LS_TCP, LS_UDP, LS_UNIXSTREAM, LS_UNIXDGRAM */
  unsigned char connecting;  /* a connect goes on in the background */
  unsigned char failed;      /* the last connect failed */
  unsigned char waited; /* receive or send has waited before (lsstream.c:
                           the first wait polls) */
} lsObject;

enum { LS_TCP = 1, LS_UDP, LS_UNIXSTREAM, LS_UNIXDGRAM };
#define ls_isdgram(kind)  ((kind) == LS_UDP || (kind) == LS_UNIXDGRAM)

/* the fields as core._lsget and core._lsset number them */
enum {
  UV_SOCK = 1,   /* the netsock socket, false when none (user value 1) */
  UV_FAM,        /* "inet", "inet6", "unix", or false: not yet known */
  UV_KIND,       /* "tcp", "udp", "unixstream", "unixdgram" */
  UV_CONNECTING, /* true while a connect goes on in the background */
  UV_FAILED,     /* true after a connect that failed */
  UV_TOHOST,     /* udp sendto's last destination as given, */
  UV_TOPORT,
  UV_TOADDR,     /* and as looked up (datagram objects' user values 2..5) */
  UV_TOPORTN,
  LS_NFIELD = UV_TOPORTN
};
#define LS_DGRAMNUV  (1 + UV_TOPORTN - UV_TOHOST + 1)


/* whether the object at 1 is of the class in upvalue 2 (a client) */
static inline lsObject *lstoclient (lua_State *L) {
  lsObject *o = (lsObject *)lua_touserdata(L, 1);
  if (o != NULL && lua_getmetatable(L, 1)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(2));
    lua_pop(L, 1);
    if (same) return o;
  }
  return NULL;
}

static inline lsObject *lscheckclient (lua_State *L) {
  lsObject *o = lstoclient(L);
  if (o == NULL) luaL_argerror(L, 1, lua_tostring(L, lua_upvalueindex(1)));
  return o;
}


/* lsstream.c: o:receive and o:send of a stream client (upvalues: 1 the
   misuse message, 2 the client class, 3 the words), and LuaSocket's
   word for a failure (pushes one string; 'words' the table's index) */
NS_API int ns_ls_receive (lua_State *L);
NS_API int ns_ls_send (lua_State *L);
NS_API void ns_lserror (lua_State *L, nsResult r, int err, int words);

#endif
