/*
** addr.c: addresses in and out of Lua, and nothing else.
** In: numeric hosts and Unix-domain paths -> struct sockaddr (names go
** through the resolver: resolve.c). Out: struct sockaddr -> host, port
** (numeric text) or path; getaddrinfo's list and a hostent -> Lua
** tables. The inet_* conversions between address text and bytes, and
** the byte-order helpers (netsock.inet_pton, ..., netsock.htons, ...).
** Misuse (a packed address of the wrong length, a value out of range)
** raises.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "netsock.h"


/* {====== Addresses in ====== */

/* Unix-domain path at 'idx'; "\0name" is the abstract namespace */
void ns_unixaddr (lua_State *L, int idx, struct sockaddr_storage *ss,
                  socklen_t *len) {
  struct sockaddr_un *sun = (struct sockaddr_un *)ss;
  size_t n;
  const char *path = luaL_checklstring(L, idx, &n);
  int abstract = (n > 0 && path[0] == '\0');
  luaL_argcheck(L, n > 0, idx, "empty path");
  luaL_argcheck(L, abstract || strlen(path) == n, idx,
                "path contains a zero byte");
  luaL_argcheck(L, n < sizeof(sun->sun_path) + (size_t)abstract, idx,
                "path too long for a Unix-domain socket");
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path, path, n);
  /* abstract names are exactly n bytes; paths end at their zero byte */
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + !abstract);
}


/*
** A dotted quad in its plain form ("127.0.0.1": four decimal parts of
** 0..255, no leading zeros, nothing else) into 'a'; 0 for anything else,
** which inet_pton then judges. Every text this accepts inet_pton reads
** the same way, in a fraction of inet_pton's time (a sendto with a host
** names one on every call; figures in docs/performance.md, "UDP").
*/
static int plainquad (const char *s, struct in_addr *a) {
  unsigned char *b = (unsigned char *)&a->s_addr;
  int i;
  for (i = 0; i < 4; i++) {
    unsigned v;
    if (*s < '0' || *s > '9') return 0;
    v = (unsigned)(*s++ - '0');
    if (v != 0) {  /* "0" alone, or up to two more digits */
      if (*s >= '0' && *s <= '9') v = v * 10 + (unsigned)(*s++ - '0');
      if (*s >= '0' && *s <= '9') v = v * 10 + (unsigned)(*s++ - '0');
    }
    if (v > 255) return 0;
    b[i] = (unsigned char)v;
    if (*s++ != (i < 3 ? '.' : '\0')) return 0;
  }
  return 1;
}


/* whether 'host' is an IPv4 or IPv6 literal (no lookup needed) */
int ns_isnumerichost (const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  return plainquad(host, &a4) || inet_pton(AF_INET, host, &a4) == 1 ||
         inet_pton(AF_INET6, host, &a6) == 1;
}


/* a numeric host for 'family' without a lookup; 1 if it was one */
int ns_numericaddr (const char *host, int family, int port,
                    struct sockaddr_storage *ss, socklen_t *len) {
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(sin, 0, sizeof *sin);
    if (!plainquad(host, &sin->sin_addr) &&
        inet_pton(AF_INET, host, &sin->sin_addr) != 1) return 0;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((unsigned short)port);
    *len = sizeof *sin;
    return 1;
  }
  else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    struct in_addr a4;
    memset(sin6, 0, sizeof *sin6);
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
      if (inet_pton(AF_INET, host, &a4) != 1) return 0;
      /* an IPv4 literal on an IPv6 socket: the v4-mapped address */
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&sin6->sin6_addr.s6_addr[12], &a4, 4);
    }
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((unsigned short)port);
    *len = sizeof *sin6;
    return 1;
  }
}

/* }====== */


/* {====== Addresses out ====== */

/*
** The dotted-quad text of an IPv4 address into 'buf' (16 bytes at
** least); returns its length. glibc's inet_ntop formats IPv4 through
** sprintf, which was half of what a recvfrom of a datagram cost
** (figures in docs/performance.md, "UDP").
*/
static size_t ipv4text (const struct in_addr *a, char *buf) {
  const unsigned char *b = (const unsigned char *)&a->s_addr;
  char *p = buf;
  int i;
  for (i = 0; i < 4; i++) {
    unsigned v = b[i];
    if (i > 0) *p++ = '.';
    if (v >= 100) { *p++ = (char)('0' + v / 100); v %= 100; *p++ = (char)('0' + v / 10); }
    else if (v >= 10) *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
  }
  return (size_t)(p - buf);
}


int ns_pushaddr (lua_State *L, const struct sockaddr *sa, socklen_t len) {
  char buf[INET6_ADDRSTRLEN + 16];
  switch (sa->sa_family) {
    case AF_INET: {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
      lua_pushlstring(L, buf, ipv4text(&sin->sin_addr, buf));
      lua_pushinteger(L, ntohs(sin->sin_port));
      return 2;
    }
    case AF_INET6: {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
      if (sin6->sin6_scope_id != 0)  /* fe80::1%2, as getnameinfo writes */
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%%%u",
                 (unsigned)sin6->sin6_scope_id);
      lua_pushstring(L, buf);
      lua_pushinteger(L, ntohs(sin6->sin6_port));
      return 2;
    }
    case AF_UNIX: {
      const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
      size_t off = offsetof(struct sockaddr_un, sun_path), n;
      if ((size_t)len <= off)
        n = 0;  /* unnamed */
      else if (sun->sun_path[0] == '\0')
        n = len - off;  /* abstract: every byte counts */
      else
        n = strnlen(sun->sun_path, len - off);
      lua_pushlstring(L, sun->sun_path, n);
      return 1;
    }
    default:
      lua_pushnil(L);
      return 1;
  }
}


void ns_addrtext (const struct sockaddr *sa, socklen_t len, char *buf,
                  size_t size) {
  char host[INET6_ADDRSTRLEN + 1];
  switch (sa->sa_family) {
    case AF_INET: {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
      inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
      snprintf(buf, size, "%s:%d", host, ntohs(sin->sin_port));
      break;
    }
    case AF_INET6: {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
      inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
      snprintf(buf, size, "[%s]:%d", host, ntohs(sin6->sin6_port));
      break;
    }
    case AF_UNIX: {
      const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
      size_t off = offsetof(struct sockaddr_un, sun_path);
      if ((size_t)len <= off)
        snprintf(buf, size, "(unnamed)");
      else if (sun->sun_path[0] == '\0')
        snprintf(buf, size, "@%.*s", (int)(len - off - 1), sun->sun_path + 1);
      else
        snprintf(buf, size, "%.*s", (int)(len - off), sun->sun_path);
      break;
    }
    default:
      snprintf(buf, size, "?");
  }
}

/*
** Push the array netsock.getaddrinfo returns for the list 'res':
** {family=, type=, proto=, host=, port=, canonname=} per inet or inet6
** entry, in the resolver's order.
*/
void ns_pushaddrinfo (lua_State *L, const struct addrinfo *res) {
  const struct addrinfo *ai;
  int i = 0;
  lua_newtable(L);
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    lua_createtable(L, 0, 6);
    lua_pushstring(L, ns_familyname(ai->ai_family));
    lua_setfield(L, -2, "family");
    lua_pushstring(L, ns_typename(ai->ai_socktype));
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, ai->ai_protocol);
    lua_setfield(L, -2, "proto");
    ns_pushaddr(L, ai->ai_addr, ai->ai_addrlen);
    lua_setfield(L, -3, "port");
    lua_setfield(L, -2, "host");
    if (ai->ai_canonname) {
      lua_pushstring(L, ai->ai_canonname);
      lua_setfield(L, -2, "canonname");
    }
    lua_rawseti(L, -2, ++i);
  }
}

/* push hostname, aliases, addresses of a hostent; returns 3 */
int ns_pushhostent (lua_State *L, const struct hostent *he) {
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
static int addr_inet_pton (lua_State *L) {
  int family = ipfamily(L, 1);
  const char *text = ns_checkname(L, 2, "string");
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(family, text, buf) != 1)
    return badtext(L);
  lua_pushlstring(L, (const char *)buf, family == AF_INET ? 4 : 16);
  return 1;
}


/* netsock.inet_ntop(family, packed): text; a wrong length raises */
static int addr_inet_ntop (lua_State *L) {
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
static int addr_inet_aton (lua_State *L) {
  const char *text = ns_checkname(L, 1, "string");
  struct in_addr a;
  if (ns_sys_inet_aton(text, &a) == 0)
    return badtext(L);
  lua_pushlstring(L, (const char *)&a, 4);
  return 1;
}


/* netsock.inet_ntoa(packed): dotted text of 4 bytes */
static int addr_inet_ntoa (lua_State *L) {
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

static int addr_htons (lua_State *L) {
  lua_pushinteger(L, htons((uint16_t)checkuint(L, 1, 0xffff)));
  return 1;
}

static int addr_ntohs (lua_State *L) {
  lua_pushinteger(L, ntohs((uint16_t)checkuint(L, 1, 0xffff)));
  return 1;
}

static int addr_htonl (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)htonl((uint32_t)checkuint(L, 1, 0xffffffff)));
  return 1;
}

static int addr_ntohl (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ntohl((uint32_t)checkuint(L, 1, 0xffffffff)));
  return 1;
}

/* }====== */


static const luaL_Reg addr_funcs[] = {
  {"inet_pton", addr_inet_pton},
  {"inet_ntop", addr_inet_ntop},
  {"inet_aton", addr_inet_aton},
  {"inet_ntoa", addr_inet_ntoa},
  {"htons", addr_htons},
  {"ntohs", addr_ntohs},
  {"htonl", addr_htonl},
  {"ntohl", addr_ntohl},
  {NULL, NULL}
};


void ns_addr_open (lua_State *L) {
  luaL_setfuncs(L, addr_funcs, 0);
}
