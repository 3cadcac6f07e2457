/*
** options.c: socket options, numeric (setsockopt/getsockopt) and by
** name (setoption/getoption).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "netsock.h"

enum { OPT_BOOL, OPT_INT, OPT_LINGER,
       OPT_MCASTIF,     /* multicast_if: an address (inet), an index (inet6) */
       OPT_MEMBERSHIP   /* add/drop_membership: write-only, group [, interface] */
};

typedef struct nsOption {
  const char *name;
  int level;       /* -1: IPPROTO_IP or IPPROTO_IPV6 by the family */
  int option;      /* for level -1: the IPv4 option */
  int option6;     /* for level -1: the IPv6 option */
  int kind;
} nsOption;

static const nsOption options[] = {
  {"reuseaddr", SOL_SOCKET, SO_REUSEADDR, 0, OPT_BOOL},
#ifdef SO_REUSEPORT
  {"reuseport", SOL_SOCKET, SO_REUSEPORT, 0, OPT_BOOL},
#endif
#ifdef SO_REUSEPORT_LB
  {"reuseport_lb", SOL_SOCKET, SO_REUSEPORT_LB, 0, OPT_BOOL},
#endif
  {"keepalive", SOL_SOCKET, SO_KEEPALIVE, 0, OPT_BOOL},
  {"broadcast", SOL_SOCKET, SO_BROADCAST, 0, OPT_BOOL},
  {"sndbuf", SOL_SOCKET, SO_SNDBUF, 0, OPT_INT},
  {"rcvbuf", SOL_SOCKET, SO_RCVBUF, 0, OPT_INT},
  {"linger", SOL_SOCKET, SO_LINGER, 0, OPT_LINGER},
  {"nodelay", IPPROTO_TCP, TCP_NODELAY, 0, OPT_BOOL},
#ifdef TCP_KEEPIDLE
  {"keepidle", IPPROTO_TCP, TCP_KEEPIDLE, 0, OPT_INT},
  {"keepintvl", IPPROTO_TCP, TCP_KEEPINTVL, 0, OPT_INT},
  {"keepcnt", IPPROTO_TCP, TCP_KEEPCNT, 0, OPT_INT},
#endif
  {"ipv6only", IPPROTO_IPV6, IPV6_V6ONLY, 0, OPT_BOOL},
  {"ttl", -1, IP_TTL, IPV6_UNICAST_HOPS, OPT_INT},
  {"multicast_ttl", -1, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, OPT_INT},
  {"multicast_loop", -1, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, OPT_BOOL},
  {"multicast_if", -1, IP_MULTICAST_IF, IPV6_MULTICAST_IF, OPT_MCASTIF},
  {"add_membership", -1, IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP, OPT_MEMBERSHIP},
  {"drop_membership", -1, IP_DROP_MEMBERSHIP, IPV6_LEAVE_GROUP, OPT_MEMBERSHIP},
  {NULL, 0, 0, 0, 0}
};


static const nsOption *checkoption (lua_State *L, int idx) {
  size_t len;
  const char *name = luaL_checklstring(L, idx, &len);
  const nsOption *o;
  for (o = options; o->name != NULL; o++)  /* "nodelay\0x" is no name */
    if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) return o;
  luaL_argerror(L, idx, lua_pushfstring(L, "unknown option '%s'", name));
  return NULL;
}


static void resolve (const nsOption *o, nsSocket *s, int *level, int *opt) {
  if (o->level == -1) {
    *level = s->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    *opt = s->family == AF_INET6 ? o->option6 : o->option;
  }
  else {
    *level = o->level;
    *opt = o->option;
  }
}


/* an int option value: a boolean or an integer in int range */
static int checkintvalue (lua_State *L, int idx) {
  lua_Integer v;
  if (lua_isboolean(L, idx)) return lua_toboolean(L, idx);
  v = luaL_checkinteger(L, idx);
  luaL_argcheck(L, INT_MIN <= v && v <= INT_MAX, idx, "value out of range");
  return (int)v;
}


static int setopt (lua_State *L, nsSocket *s, int level, int opt,
                   const void *val, socklen_t len) {
  if (setsockopt(s->fd, level, opt, val, len) < 0)
    return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


/* {====== Multicast ====== */

/* IPv4's structures differ between systems: the seam fills them */
static int mcast4 (lua_State *L, nsSocket *s, int opt, const struct in_addr *group,
                   struct in_addr ifaddr, unsigned index) {
  if (ns_sys_mcast4(s->fd, opt, group, ifaddr, index) < 0)
    return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/*
** An interface argument: nil (the kernel chooses), an interface index,
** an interface name ("lo", "eth0") or, for inet only, the local
** address of the interface ("127.0.0.1"). Sets *index or *addr.
*/
static void checkiface (lua_State *L, int idx, int family, unsigned *index,
                        struct in_addr *addr) {
  *index = 0;
  addr->s_addr = htonl(INADDR_ANY);
  if (lua_isnoneornil(L, idx)) return;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer i = luaL_checkinteger(L, idx);
    luaL_argcheck(L, 0 <= i && i <= INT_MAX, idx, "interface index out of range");
    *index = (unsigned)i;
    return;
  }
  else {
    const char *name = luaL_checkstring(L, idx);
    if (family == AF_INET && (*name == '\0' || inet_pton(AF_INET, name, addr) == 1))
      return;
    *index = if_nametoindex(name);
    luaL_argcheck(L, *index != 0, idx, "unknown interface");
  }
}


/*
** add_membership / drop_membership: value is the group address text,
** with the interface as a fourth argument, or a table {group=,
** interface=} (LuaSocket's {multiaddr=, interface=} too).
*/
static int setmembership (lua_State *L, nsSocket *s, int level, int opt) {
  int gidx = 3, iidx = 4;
  const char *group;
  if (lua_istable(L, 3)) {
    lua_settop(L, 3);
    if (lua_getfield(L, 3, "group") == LUA_TNIL) {
      lua_pop(L, 1);
      lua_getfield(L, 3, "multiaddr");
    }
    lua_getfield(L, 3, "interface");
    gidx = 4; iidx = 5;
  }
  group = luaL_checkstring(L, gidx);
  if (s->family == AF_INET6) {
    struct ipv6_mreq mr;
    struct in_addr unused;
    memset(&mr, 0, sizeof mr);
    luaL_argcheck(L, inet_pton(AF_INET6, group, &mr.ipv6mr_multiaddr) == 1,
                  3, "invalid IPv6 multicast group");
    checkiface(L, iidx, AF_INET6, &mr.ipv6mr_interface, &unused);
    return setopt(L, s, level, opt, &mr, sizeof mr);
  }
  else {
    struct in_addr ga, ifaddr;
    unsigned index;
    luaL_argcheck(L, inet_pton(AF_INET, group, &ga) == 1,
                  3, "invalid IPv4 multicast group");
    checkiface(L, iidx, AF_INET, &index, &ifaddr);
    return mcast4(L, s, opt, &ga, ifaddr, index);
  }
}


/* multicast_if: inet takes an address (or index, name); inet6 an index or name */
static int setmcastif (lua_State *L, nsSocket *s, int level, int opt) {
  unsigned index;
  struct in_addr addr;
  checkiface(L, 3, s->family, &index, &addr);
  if (s->family == AF_INET6) {
    int v = (int)index;
    return setopt(L, s, level, opt, &v, sizeof v);
  }
  else return mcast4(L, s, opt, NULL, addr, index);
}


static int getmcastif (lua_State *L, nsSocket *s, int level, int opt) {
  if (s->family == AF_INET6) {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(s->fd, level, opt, &v, &len) < 0)
      return ns_fail(L, errno);
    lua_pushinteger(L, v);
  }
  else {
    struct in_addr a;
    char buf[INET_ADDRSTRLEN];
    socklen_t len = sizeof a;
    if (getsockopt(s->fd, level, opt, &a, &len) < 0)
      return ns_fail(L, errno);
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    lua_pushstring(L, buf);
  }
  return 1;
}

/* }====== */


/*
** s:setoption(name, value). linger takes {on=bool, timeout=seconds},
** an integer (on, with that timeout) or false (off).
*/
static int opt_setoption (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  const nsOption *o = checkoption(L, 2);
  int level, opt, v;
  resolve(o, s, &level, &opt);
  luaL_checkany(L, 3);
  if (o->kind == OPT_MEMBERSHIP) return setmembership(L, s, level, opt);
  if (o->kind == OPT_MCASTIF) return setmcastif(L, s, level, opt);
  if (o->kind == OPT_LINGER) {
    struct linger lg;
    if (lua_istable(L, 3)) {
      lua_Integer t;
      lua_getfield(L, 3, "on");
      lg.l_onoff = lua_toboolean(L, -1);
      lua_getfield(L, 3, "timeout");
      t = lua_isnil(L, -1) ? 0 : lua_tointeger(L, -1);
      luaL_argcheck(L, lua_isnil(L, -1) || lua_isinteger(L, -1), 3,
                    "linger timeout must be an integer");
      luaL_argcheck(L, 0 <= t && t <= INT_MAX, 3, "linger timeout out of range");
      lg.l_linger = (int)t;
      lua_pop(L, 2);
    }
    else if (lua_isboolean(L, 3)) {
      lg.l_onoff = lua_toboolean(L, 3);
      lg.l_linger = 0;
    }
    else {
      lua_Integer t = luaL_checkinteger(L, 3);
      luaL_argcheck(L, 0 <= t && t <= INT_MAX, 3, "linger timeout out of range");
      lg.l_onoff = 1;
      lg.l_linger = (int)t;
    }
    return setopt(L, s, level, opt, &lg, sizeof lg);
  }
  if (o->kind == OPT_BOOL) {
    if (!lua_isboolean(L, 3) && !lua_isinteger(L, 3))
      luaL_typeerror(L, 3, "boolean");
    v = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : (lua_tointeger(L, 3) != 0);
  }
  else {
    luaL_argcheck(L, !lua_isboolean(L, 3), 3, "integer expected, got boolean");
    v = checkintvalue(L, 3);
  }
  return setopt(L, s, level, opt, &v, sizeof v);
}


static int opt_getoption (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  const nsOption *o = checkoption(L, 2);
  int level, opt;
  resolve(o, s, &level, &opt);
  luaL_argcheck(L, o->kind != OPT_MEMBERSHIP, 2, "option can only be set");
  if (o->kind == OPT_MCASTIF) return getmcastif(L, s, level, opt);
  if (o->kind == OPT_LINGER) {
    struct linger lg;
    socklen_t len = sizeof lg;
    if (getsockopt(s->fd, level, opt, &lg, &len) < 0)
      return ns_fail(L, errno);
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, lg.l_onoff);
    lua_setfield(L, -2, "on");
    lua_pushinteger(L, lg.l_linger);
    lua_setfield(L, -2, "timeout");
    return 1;
  }
  else {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(s->fd, level, opt, &v, &len) < 0)
      return ns_fail(L, errno);
    if (o->kind == OPT_BOOL) lua_pushboolean(L, v != 0);
    else lua_pushinteger(L, v);
    return 1;
  }
}


/* the numeric level (2) and option (3) of setsockopt and getsockopt */
static void checklevelopt (lua_State *L, int *level, int *opt) {
  lua_Integer l = luaL_checkinteger(L, 2);
  lua_Integer o = luaL_checkinteger(L, 3);
  luaL_argcheck(L, 0 <= l && l <= INT_MAX, 2, "level out of range");
  luaL_argcheck(L, 0 <= o && o <= INT_MAX, 3, "option out of range");
  *level = (int)l;
  *opt = (int)o;
}


/* s:setsockopt(level, option, value): value boolean, integer or bytes */
static int opt_setsockopt (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  int level, opt;
  checklevelopt(L, &level, &opt);
  if (lua_type(L, 4) == LUA_TSTRING) {
    size_t len;
    const char *val = lua_tolstring(L, 4, &len);
    return setopt(L, s, level, opt, val, (socklen_t)len);
  }
  else {
    int v;
    if (!lua_isboolean(L, 4) && !lua_isinteger(L, 4))
      luaL_typeerror(L, 4, "boolean, integer or string");
    v = checkintvalue(L, 4);
    return setopt(L, s, level, opt, &v, sizeof v);
  }
}


/*
** s:getsockopt(level, option [, buflen]): an integer, or with buflen
** the raw bytes (at most buflen).
*/
static int opt_getsockopt (lua_State *L) {
  nsSocket *s = ns_checkopen(L, 1);
  int level, opt;
  checklevelopt(L, &level, &opt);
  if (lua_isnoneornil(L, 4)) {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(s->fd, level, opt, &v, &len) < 0)
      return ns_fail(L, errno);
    lua_pushinteger(L, v);
    return 1;
  }
  else {
    lua_Integer n = luaL_checkinteger(L, 4);
    luaL_Buffer b;
    char *p;
    socklen_t len;
    luaL_argcheck(L, 0 < n && n <= 1024, 4, "buffer length out of range");
    p = luaL_buffinitsize(L, &b, (size_t)n);
    len = (socklen_t)n;
    if (getsockopt(s->fd, level, opt, p, &len) < 0)
      return ns_fail(L, errno);
    luaL_pushresultsize(&b, len);
    return 1;
  }
}


static const luaL_Reg opt_methods[] = {
  {"setoption", opt_setoption},
  {"getoption", opt_getoption},
  {"setsockopt", opt_setsockopt},
  {"getsockopt", opt_getsockopt},
  {NULL, NULL}
};


void ns_options_open (lua_State *L) {
  ns_addmethods(L, opt_methods);
}
