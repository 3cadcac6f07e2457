/*
** resolve.c: names, services and protocols (getnameinfo, gethostname,
** getfqdn, gethostby*, getserv*, getprotobyname), the inet_* address
** conversions and the byte-order helpers.
**
** Resolver failures return nil, message, "EAI_*" (ns_gaifail); the
** netdb lookups of the gethostby* family report h_errno, mapped to the
** same names. Misuse (a packed address of the wrong length, a port
** out of range) raises.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

/* first size of the scratch buffer of the *_r lookups; doubled on ERANGE */
#define NETDBBUF  1024
#define NETDBMAX  (1024 * 1024)


/* a string argument without zero bytes */
static const char *checkname (lua_State *L, int idx) {
  size_t n;
  const char *s = luaL_checklstring(L, idx, &n);
  luaL_argcheck(L, strlen(s) == n, idx, "string contains a zero byte");
  return s;
}


/* nil, message, EAI name for an h_errno of the gethostby* family */
static int herrfail (lua_State *L, int herr) {
  switch (herr) {
    case TRY_AGAIN: return ns_gaifail(L, EAI_AGAIN, 0);
    case NO_RECOVERY: return ns_gaifail(L, EAI_FAIL, 0);
#ifdef EAI_NODATA
    case NO_DATA: return ns_gaifail(L, EAI_NODATA, 0);
#endif
    default: return ns_gaifail(L, EAI_NONAME, 0);
  }
}


/* {====== Host names ====== */

/*
** The single address of 'host' (any family, numeric or a name) in
** 'ss'. Returns 0, or pushes nil, msg, code and returns 3.
*/
static int oneaddr (lua_State *L, const char *host, const char *serv,
                    int flags, struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints, *res;
  int gai;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = 0;  /* any: a service of tcp or of udp alone */
  hints.ai_flags = flags;
  gai = getaddrinfo(host, serv, &hints, &res);
  if (gai != 0) {
    int err = errno;
    return ns_gaifail(L, gai, err);
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}


/* netsock.getnameinfo(host, port [, flags]): hostname, service */
static int res_getnameinfo (lua_State *L) {
  const char *host = checkname(L, 1);
  char portbuf[8], hbuf[NI_MAXHOST], sbuf[NI_MAXSERV];
  const char *serv = ns_checkport(L, 2, portbuf);
  lua_Integer flags = luaL_optinteger(L, 3, 0);
  struct sockaddr_storage ss;
  socklen_t len;
  int gai;
  luaL_argcheck(L, 0 <= flags && flags <= INT_MAX, 3, "invalid flags");
  if (oneaddr(L, host, serv, 0, &ss, &len)) return 3;
  gai = getnameinfo((struct sockaddr *)&ss, len, hbuf, sizeof hbuf,
                    sbuf, sizeof sbuf, (int)flags);
  if (gai != 0) {
    int err = errno;
    return ns_gaifail(L, gai, err);
  }
  lua_pushstring(L, hbuf);
  lua_pushstring(L, sbuf);
  return 2;
}


static int res_gethostname (lua_State *L) {
  char buf[HOST_NAME_MAX + 2];
  if (gethostname(buf, sizeof buf - 1) < 0)
    return ns_fail(L, errno);
  buf[sizeof buf - 1] = '\0';
  lua_pushstring(L, buf);
  return 1;
}


/*
** netsock.gethostbyname(name): the first IPv4 address of name, as
** text. An IPv4 literal comes back unchanged.
*/
static int res_gethostbyname (lua_State *L) {
  const char *name = checkname(L, 1);
  struct addrinfo hints, *res;
  char buf[INET_ADDRSTRLEN];
  int gai;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  gai = getaddrinfo(name, NULL, &hints, &res);
  if (gai != 0) {
    int err = errno;
    return ns_gaifail(L, gai, err);
  }
  inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
            buf, sizeof buf);
  freeaddrinfo(res);
  lua_pushstring(L, buf);
  return 1;
}


/* push hostname, aliases, addresses of a hostent; returns 3 */
static int pushhostent (lua_State *L, const struct hostent *he) {
  char buf[INET6_ADDRSTRLEN];
  int i;
  lua_pushstring(L, he->h_name);
  lua_newtable(L);
  for (i = 0; he->h_aliases[i] != NULL; i++) {
    lua_pushstring(L, he->h_aliases[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_newtable(L);
  for (i = 0; he->h_addr_list[i] != NULL; i++) {
    if (inet_ntop(he->h_addrtype, he->h_addr_list[i], buf, sizeof buf) == NULL)
      continue;
    lua_pushstring(L, buf);
    lua_rawseti(L, -2, i + 1);
  }
  return 3;
}


/*
** Run gethostbyname_r (addr == NULL) or gethostbyaddr_r with a scratch
** buffer in a userdata (so an error cannot leak it), growing it on
** ERANGE. Pushes the three results or the failure.
*/
static int hostlookup (lua_State *L, const char *name, const void *addr,
                       socklen_t alen, int family) {
  size_t size = NETDBBUF;
  for (;;) {
    struct hostent he, *res = NULL;
    int herr = 0, r;
    char *buf = (char *)lua_newuserdatauv(L, size, 0);
    if (addr == NULL)
      r = gethostbyname_r(name, &he, buf, size, &res, &herr);
    else
      r = gethostbyaddr_r(addr, alen, family, &he, buf, size, &res, &herr);
    if (r == ERANGE && size < NETDBMAX) {
      lua_pop(L, 1);
      size *= 2;
      continue;
    }
    if (res == NULL) {
      if (r != 0 && r != ENOENT && herr == NETDB_INTERNAL)
        return ns_fail(L, r);
      return herrfail(L, herr);
    }
    return pushhostent(L, res);
  }
}


/* netsock.gethostbyname_ex(name): hostname, aliases, IPv4 addresses */
static int res_gethostbyname_ex (lua_State *L) {
  return hostlookup(L, checkname(L, 1), NULL, 0, AF_INET);
}


/*
** netsock.gethostbyaddr(ip): hostname, aliases, addresses. 'ip' is an
** IPv4 or IPv6 literal, or a name that is resolved first (as Python).
*/
static int res_gethostbyaddr (lua_State *L) {
  const char *ip = checkname(L, 1);
  struct sockaddr_storage ss;
  socklen_t len;
  if (oneaddr(L, ip, NULL, 0, &ss, &len)) return 3;
  if (ss.ss_family == AF_INET)
    return hostlookup(L, NULL, &((struct sockaddr_in *)&ss)->sin_addr,
                      sizeof(struct in_addr), AF_INET);
  return hostlookup(L, NULL, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                    sizeof(struct in6_addr), AF_INET6);
}


/*
** netsock.getfqdn([name]): as Python's socket.getfqdn. An empty name
** (or "0.0.0.0", "::") means this host. The first of the names the
** resolver gives for the address of name that contains a dot, else
** the first of those names, else (no address or no name) name itself.
** Never fails.
*/
static int res_getfqdn (lua_State *L) {
  const char *name;
  int i, n;
  lua_settop(L, 1);
  if (lua_isnil(L, 1)) lua_pushliteral(L, "");
  else lua_pushvalue(L, 1);
  name = checkname(L, 2);
  if (*name == '\0' || strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0) {
    char buf[HOST_NAME_MAX + 2];
    if (gethostname(buf, sizeof buf - 1) < 0) strcpy(buf, "localhost");
    buf[sizeof buf - 1] = '\0';
    lua_pushstring(L, buf);
    lua_replace(L, 2);
    name = lua_tostring(L, 2);
  }
  lua_pushcfunction(L, res_gethostbyaddr);
  lua_pushvalue(L, 2);
  lua_call(L, 1, 3);  /* hostname, aliases, addresses or nil, msg, code */
  if (lua_isstring(L, 3) && lua_istable(L, 4)) {
    if (strchr(lua_tostring(L, 3), '.') != NULL) {
      lua_pushvalue(L, 3);
      return 1;
    }
    n = (int)luaL_len(L, 4);
    for (i = 1; i <= n; i++) {
      if (lua_rawgeti(L, 4, i) == LUA_TSTRING &&
          strchr(lua_tostring(L, -1), '.') != NULL)
        return 1;
      lua_pop(L, 1);
    }
    lua_pushvalue(L, 3);  /* no dotted name: the name of the address */
    return 1;
  }
  lua_pushstring(L, name);
  return 1;
}

/* }====== */


/* {====== Services and protocols ====== */

/* optional protocol name ("tcp", "udp") for the service lookups */
static const char *optproto (lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  return checkname(L, idx);
}


/* netsock.getservbyname(name [, proto]): the port number */
static int res_getservbyname (lua_State *L) {
  const char *name = checkname(L, 1);
  const char *proto = optproto(L, 2);
  struct servent se, *res = NULL;
  char buf[NETDBBUF];
  if (getservbyname_r(name, proto, &se, buf, sizeof buf, &res) != 0 ||
      res == NULL)
    return ns_failmsg(L, "service/proto not found", "EAI_SERVICE");
  lua_pushinteger(L, ntohs((uint16_t)res->s_port));
  return 1;
}


/* netsock.getservbyport(port [, proto]): the service name */
static int res_getservbyport (lua_State *L) {
  lua_Integer port = luaL_checkinteger(L, 1);
  const char *proto = optproto(L, 2);
  struct servent se, *res = NULL;
  char buf[NETDBBUF];
  luaL_argcheck(L, 0 <= port && port <= 65535, 1, "port out of range");
  if (getservbyport_r((int)htons((uint16_t)port), proto, &se, buf, sizeof buf,
                      &res) != 0 || res == NULL)
    return ns_failmsg(L, "port/proto not found", "EAI_SERVICE");
  lua_pushstring(L, res->s_name);
  return 1;
}


/* netsock.getprotobyname(name): the protocol number */
static int res_getprotobyname (lua_State *L) {
  const char *name = checkname(L, 1);
  struct protoent pe, *res = NULL;
  char buf[NETDBBUF];
  if (getprotobyname_r(name, &pe, buf, sizeof buf, &res) != 0 || res == NULL)
    return ns_failmsg(L, "protocol not found", "EAI_NONAME");
  lua_pushinteger(L, res->p_proto);
  return 1;
}

/* }====== */


/* {====== Address text and bytes ====== */

/* inet_pton/inet_ntop family: only inet and inet6 */
static int ipfamily (lua_State *L, int idx) {
  int family = ns_family(L, idx, AF_INET);
  luaL_argcheck(L, family == AF_INET || family == AF_INET6, idx,
                "family must be inet or inet6");
  return family;
}


static int badtext (lua_State *L) {
  return ns_failmsg(L, "illegal IP address string", "EINVAL");
}


/* netsock.inet_pton(family, text): 4 or 16 bytes in network order */
static int res_inet_pton (lua_State *L) {
  int family = ipfamily(L, 1);
  const char *text = checkname(L, 2);
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(family, text, buf) != 1)
    return badtext(L);
  lua_pushlstring(L, (const char *)buf, family == AF_INET ? 4 : 16);
  return 1;
}


/* netsock.inet_ntop(family, packed): text; a wrong length raises */
static int res_inet_ntop (lua_State *L) {
  int family = ipfamily(L, 1);
  size_t n;
  const char *packed = luaL_checklstring(L, 2, &n);
  unsigned char addr[sizeof(struct in6_addr)];
  char buf[INET6_ADDRSTRLEN];
  luaL_argcheck(L, n == (family == AF_INET ? 4u : 16u), 2,
                family == AF_INET ? "packed IPv4 address must be 4 bytes"
                                  : "packed IPv6 address must be 16 bytes");
  memcpy(addr, packed, n);
  if (inet_ntop(family, addr, buf, sizeof buf) == NULL)
    return ns_fail(L, errno);
  lua_pushstring(L, buf);
  return 1;
}


/* netsock.inet_aton(text): 4 bytes; accepts the old forms ("127.1") */
static int res_inet_aton (lua_State *L) {
  const char *text = checkname(L, 1);
  struct in_addr a;
  if (inet_aton(text, &a) == 0)
    return badtext(L);
  lua_pushlstring(L, (const char *)&a, 4);
  return 1;
}


/* netsock.inet_ntoa(packed): dotted text of 4 bytes */
static int res_inet_ntoa (lua_State *L) {
  size_t n;
  const char *packed = luaL_checklstring(L, 1, &n);
  const unsigned char *p = (const unsigned char *)packed;
  luaL_argcheck(L, n == 4, 1, "packed IPv4 address must be 4 bytes");
  lua_pushfstring(L, "%d.%d.%d.%d", p[0], p[1], p[2], p[3]);
  return 1;
}

/* }====== */


/* {====== Byte order ====== */

static lua_Integer checkuint (lua_State *L, int idx, lua_Integer max) {
  lua_Integer v = luaL_checkinteger(L, idx);
  luaL_argcheck(L, 0 <= v && v <= max, idx, "value out of range");
  return v;
}

static int res_htons (lua_State *L) {
  lua_pushinteger(L, htons((uint16_t)checkuint(L, 1, 0xffff)));
  return 1;
}

static int res_ntohs (lua_State *L) {
  lua_pushinteger(L, ntohs((uint16_t)checkuint(L, 1, 0xffff)));
  return 1;
}

static int res_htonl (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)htonl((uint32_t)checkuint(L, 1, 0xffffffff)));
  return 1;
}

static int res_ntohl (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntohl((uint32_t)checkuint(L, 1, 0xffffffff)));
  return 1;
}

/* }====== */


static const luaL_Reg res_funcs[] = {
  {"getnameinfo", res_getnameinfo},
  {"gethostname", res_gethostname},
  {"getfqdn", res_getfqdn},
  {"gethostbyname", res_gethostbyname},
  {"gethostbyname_ex", res_gethostbyname_ex},
  {"gethostbyaddr", res_gethostbyaddr},
  {"getservbyname", res_getservbyname},
  {"getservbyport", res_getservbyport},
  {"getprotobyname", res_getprotobyname},
  {"inet_pton", res_inet_pton},
  {"inet_ntop", res_inet_ntop},
  {"inet_aton", res_inet_aton},
  {"inet_ntoa", res_inet_ntoa},
  {"htons", res_htons},
  {"ntohs", res_ntohs},
  {"htonl", res_htonl},
  {"ntohl", res_ntohl},
  {NULL, NULL}
};


void ns_resolve_open (lua_State *L) {
  ns_setfuncs(L, res_funcs);
}
