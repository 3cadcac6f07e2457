/*
** resolve.c: every name lookup. getaddrinfo in one helper (ns_lookup),
** host and port arguments to a sockaddr (ns_getaddr), destinations
** through a small cache (ns_getdest), getaddrinfo on a thread for
** tasks; names, services and protocols (getnameinfo, gethostname,
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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

/* how long sendto remembers what a host name resolved to (seconds) */
#if !defined(NS_ADDRCACHE_TTL)
#define NS_ADDRCACHE_TTL  30.0
#endif

/* the most names remembered at once; the cache starts over beyond */
#if !defined(NS_ADDRCACHE_MAX)
#define NS_ADDRCACHE_MAX  64
#endif

#define NS_ADDRCACHE  "netsock.addrcache"   /* registry: sendto's cache */
#define NS_LOOKUP     "netsock.lookup"      /* metatable of a thread job */

/* first size of the scratch buffer of the *_r lookups; doubled on ERANGE */
#define NETDBBUF  1024
#define NETDBMAX  (1024 * 1024)


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


/* {====== getaddrinfo ====== */

static int lookup (lua_State *L, const char *host, const char *serv,
               const struct addrinfo *hints, struct addrinfo **res) {
  int gai = getaddrinfo(host, serv, hints, res);
  if (gai != 0) {
    int err = errno;  /* EAI_SYSTEM: errno says why */
    *res = NULL;
    return ns_gaifail(L, gai, err);
  }
  return 0;
}


/* {====== Addresses from arguments ====== */

int ns_getaddr (lua_State *L, int idx, int family, int type, int passive,
                struct sockaddr_storage *ss, socklen_t *len) {
  const char *host, *serv;
  char portbuf[8];
  struct addrinfo hints, *res;
  int port = -1;
  size_t hlen;
  if (family == AF_UNIX) {
    ns_unixaddr(L, idx, ss, len);
    return 1;
  }
  host = luaL_checklstring(L, idx, &hlen);
  luaL_argcheck(L, strlen(host) == hlen, idx, "host contains a zero byte");
  serv = ns_checkport(L, idx + 1, portbuf);
  if (serv == portbuf) port = atoi(portbuf);
  if (family != AF_INET && family != AF_INET6)
    luaL_error(L, "address family %s takes no host and port",
               ns_familyname(family));
  if (hlen == 0 || strcmp(host, "*") == 0)
    host = (family == AF_INET) ? "0.0.0.0" : "::";
  else if (strcmp(host, "<broadcast>") == 0) {
    if (family != AF_INET)
      return luaL_argerror(L, idx, "<broadcast> needs an inet socket");
    host = "255.255.255.255";
  }
  if (port >= 0 && ns_numericaddr(host, family, port, ss, len))
    return 2;
  /* a name, or a service name for the port: ask the resolver */
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_flags = (passive ? AI_PASSIVE : 0) |
                   (family == AF_INET6 ? AI_V4MAPPED : 0);
  if (lookup(L, host, serv, &hints, &res) != 0)
    return -1;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 2;
}


/* whether the (host, port) at 'idx' is numeric: no resolver needed */
static int isnumeric (lua_State *L, int idx) {
  const char *host;
  unsigned char buf[sizeof(struct in6_addr)];
  if (lua_type(L, idx) != LUA_TSTRING) return 1;  /* let ns_getaddr judge */
  host = lua_tostring(L, idx);
  if (lua_type(L, idx + 1) == LUA_TSTRING) {
    const char *p = lua_tostring(L, idx + 1);
    if (*p == '\0') return 1;
    for (; *p; p++)
      if (*p < '0' || *p > '9') return 0;  /* a service name */
  }
  return *host == '\0' || strcmp(host, "*") == 0 ||
         strcmp(host, "<broadcast>") == 0 ||
         inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}


/*
** The destination at 'idx' (host, port or path) for socket 's'.
** Host names go through a per-state cache (registry NS_ADDRCACHE:
** "family|type|host|port" -> expiry and sockaddr bytes), so a loop of
** sendto to one name resolves it once every NS_ADDRCACHE_TTL seconds.
** Returns as ns_getaddr: arguments used, or -1 with nil,msg,code pushed.
*/
int ns_getdest (lua_State *L, nsSocket *s, int idx,
                struct sockaddr_storage *ss, socklen_t *len) {
  const char *key;
  int n;
  double now;
  if (s->family != AF_INET && s->family != AF_INET6)
    return ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  if (isnumeric(L, idx))
    return ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  ns_checkname(L, idx, "host");
  luaL_checkany(L, idx + 1);
  if (lua_type(L, idx + 1) != LUA_TSTRING)  /* checks the range too */
    luaL_checkinteger(L, idx + 1);
  key = lua_pushfstring(L, "%d|%d|%s|%s", s->family, s->type,
                        lua_tostring(L, idx),
                        luaL_tolstring(L, idx + 1, NULL));
  lua_remove(L, -2);  /* the port text */
  now = ns_monotime();
  if (lua_getfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE);
  }
  /* stack: key, cache */
  if (lua_getfield(L, -1, key) == LUA_TSTRING) {
    size_t vlen;
    const char *v = lua_tolstring(L, -1, &vlen);
    double expiry;
    memcpy(&expiry, v, sizeof expiry);
    if (now < expiry && vlen - sizeof expiry <= sizeof *ss) {
      *len = (socklen_t)(vlen - sizeof expiry);
      memcpy(ss, v + sizeof expiry, *len);
      lua_pop(L, 3);
      return 2;
    }
  }
  lua_pop(L, 1);
  n = ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  if (n < 0) {  /* keep the three failure values, drop key and cache */
    lua_rotate(L, -5, 3);
    lua_pop(L, 2);
    return -1;
  }
  {
    char v[sizeof(double) + sizeof *ss];
    double expiry = now + NS_ADDRCACHE_TTL;
    lua_Integer count;
    lua_getfield(L, -1, "n");
    count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (count >= NS_ADDRCACHE_MAX) {  /* start over: stale names go */
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE);
      count = 0;
    }
    lua_pushinteger(L, count + 1);
    lua_setfield(L, -2, "n");
    memcpy(v, &expiry, sizeof expiry);
    memcpy(v + sizeof expiry, ss, *len);
    lua_pushlstring(L, v, sizeof expiry + *len);
    lua_setfield(L, -2, key);
  }
  lua_pop(L, 2);
  return n;
}


/*
** netsock.getaddrinfo(host, port [, family [, type [, proto [, flags]]]])
** An array of {family=, type=, proto=, host=, port=, canonname=}.
** host may be nil (with AI_PASSIVE: the any address); port may be nil.
*/
static int res_getaddrinfo (lua_State *L) {
  const char *host = luaL_optstring(L, 1, NULL);
  const char *serv = NULL;
  char portbuf[8];
  struct addrinfo hints, *res;
  if (host != NULL) {
    ns_checkname(L, 1, "host");
    if (*host == '\0' || strcmp(host, "*") == 0) host = NULL;
  }
  if (!lua_isnoneornil(L, 2))
    serv = ns_checkport(L, 2, portbuf);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = ns_family(L, 3, AF_UNSPEC);
  hints.ai_socktype = ns_socktype(L, 4, 0);
  hints.ai_protocol = (int)luaL_optinteger(L, 5, 0);
  hints.ai_flags = (int)luaL_optinteger(L, 6, 0);
  if (host == NULL && serv == NULL)
    return luaL_error(L, "bad arguments to 'getaddrinfo' (host and port are both nil)");
  if (host == NULL) hints.ai_flags |= AI_PASSIVE;
  if (lookup(L, host, serv, &hints, &res) != 0)
    return 3;
  ns_pushaddrinfo(L, res);
  freeaddrinfo(res);
  return 1;
}

/* }====== */


/* {====== Name resolution off the loop ====== */

/*
** getaddrinfo(3) blocks and has no non-blocking form. Inside a task,
** core._getaddrinfo_task runs it on a short-lived thread that signals
** an eventfd when done; the task waits on the eventfd like on any
** descriptor. The job is shared by the thread and a userdata on the
** task's stack: whichever lets go last frees it (refs under the mutex),
** so a task abandoned mid-lookup leaks nothing. A numeric host needs
** no lookup and is answered at once.
*/
typedef struct nsLookup {
  pthread_mutex_t mu;
  int refs;             /* the thread and the userdata */
  int efd;              /* written once the answer is in */
  int done, gai, err;
  char *host, *serv;
  struct addrinfo hints, *res;
} nsLookup;

static void lookup_free (nsLookup *j) {
  if (j->res) freeaddrinfo(j->res);
  if (j->efd >= 0) close(j->efd);
  free(j->host);
  free(j->serv);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

/* drop one reference; frees the job with the last */
static void lookup_unref (nsLookup *j) {
  int last;
  pthread_mutex_lock(&j->mu);
  last = --j->refs == 0;
  pthread_mutex_unlock(&j->mu);
  if (last) lookup_free(j);
}

static void *lookup_thread (void *arg) {
  nsLookup *j = (nsLookup *)arg;
  struct addrinfo *res = NULL;
  uint64_t one = 1;
  int gai = getaddrinfo(j->host, j->serv, &j->hints, &res);
  int err = errno, last;
  pthread_mutex_lock(&j->mu);
  j->gai = gai;
  j->err = err;
  j->res = res;
  j->done = 1;
  if (write(j->efd, &one, sizeof one) < 0) { /* cannot fail: counter */ }
  last = --j->refs == 0;  /* signalled before letting go: efd is open */
  pthread_mutex_unlock(&j->mu);
  if (last) lookup_free(j);
  return NULL;
}

static int lookup_gc (lua_State *L) {
  nsLookup **pj = (nsLookup **)luaL_checkudata(L, 1, NS_LOOKUP);
  if (*pj) { lookup_unref(*pj); *pj = NULL; }
  return 0;
}

/* stack: 1 host, 2 port, 3 family, 4 type, 5 job */
static int lookup_k (lua_State *L, int status, lua_KContext ctx) {
  nsLookup *j = *(nsLookup **)luaL_checkudata(L, 5, NS_LOOKUP);
  int done;
  (void)status;
  lua_settop(L, 5);
  pthread_mutex_lock(&j->mu);
  done = j->done;
  pthread_mutex_unlock(&j->mu);
  if (!done) {
    ns_waitfd(L, j->efd, NS_READ, -1.0, ctx, lookup_k);
    return lookup_k(L, LUA_OK, ctx);  /* not in a task: poll returned */
  }
  if (j->gai != 0) return ns_gaifail(L, j->gai, j->err);
  ns_pushaddrinfo(L, j->res);
  return 1;
}

/*
** core._getaddrinfo_task(host, port [, family [, type]]): as
** netsock.getaddrinfo, but a name is looked up on a thread while the
** calling task is suspended (the other tasks run meanwhile).
*/
static int res_getaddrinfo_task (lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  char portbuf[8];
  const char *serv = ns_checkport(L, 2, portbuf);
  struct addrinfo hints, *res;
  nsLookup *j, **pj;
  pthread_attr_t attr;
  pthread_t th;
  int r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = ns_family(L, 3, AF_UNSPEC);
  hints.ai_socktype = ns_socktype(L, 4, 0);
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(host, serv, &hints, &res) == 0) {  /* numeric: no lookup */
    ns_pushaddrinfo(L, res);
    freeaddrinfo(res);
    return 1;
  }
  hints.ai_flags = 0;
  lua_settop(L, 4);
  pj = (nsLookup **)lua_newuserdatauv(L, sizeof(nsLookup *), 0);
  *pj = NULL;
  luaL_setmetatable(L, NS_LOOKUP);
  j = (nsLookup *)calloc(1, sizeof *j);
  if (j == NULL) return ns_fail(L, ENOMEM);
  j->efd = -1;
  pthread_mutex_init(&j->mu, NULL);
  *pj = j;
  j->refs = 1;
  j->hints = hints;
  j->host = strdup(host);
  j->serv = strdup(serv);
  j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (j->host == NULL || j->serv == NULL) return ns_fail(L, ENOMEM);
  if (j->efd < 0) return ns_fail(L, errno);
  j->refs = 2;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  r = pthread_create(&th, &attr, lookup_thread, j);
  pthread_attr_destroy(&attr);
  if (r != 0) {  /* no thread: look it up here, blocking */
    j->refs = 1;
    j->gai = getaddrinfo(host, serv, &hints, &j->res);
    j->err = errno;
    j->done = 1;
  }
  return lookup_k(L, LUA_OK, 0);
}

/* }====== */


/* {====== Host names ====== */

/*
** The single address of 'host' (any family, numeric or a name) in
** 'ss'. Returns 0, or pushes nil, msg, code and returns 3.
*/
static int oneaddr (lua_State *L, const char *host, const char *serv,
                    int flags, struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = 0;  /* any: a service of tcp or of udp alone */
  hints.ai_flags = flags;
  if (lookup(L, host, serv, &hints, &res) != 0) return 3;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}


/* netsock.getnameinfo(host, port [, flags]): hostname, service */
static int res_getnameinfo (lua_State *L) {
  const char *host = ns_checkname(L, 1, "string");
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
  const char *name = ns_checkname(L, 1, "string");
  struct addrinfo hints, *res;
  char buf[INET_ADDRSTRLEN];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (lookup(L, name, NULL, &hints, &res) != 0) return 3;
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
  return hostlookup(L, ns_checkname(L, 1, "string"), NULL, 0, AF_INET);
}


/*
** netsock.gethostbyaddr(ip): hostname, aliases, addresses. 'ip' is an
** IPv4 or IPv6 literal, or a name that is resolved first (as Python).
*/
static int res_gethostbyaddr (lua_State *L) {
  const char *ip = ns_checkname(L, 1, "string");
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
  name = ns_checkname(L, 2, "string");
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
  return ns_checkname(L, idx, "string");
}


/* netsock.getservbyname(name [, proto]): the port number */
static int res_getservbyname (lua_State *L) {
  const char *name = ns_checkname(L, 1, "string");
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
  const char *name = ns_checkname(L, 1, "string");
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
  const char *text = ns_checkname(L, 2, "string");
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
  const char *text = ns_checkname(L, 1, "string");
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
  {"getaddrinfo", res_getaddrinfo},
  {"_getaddrinfo_task", res_getaddrinfo_task},
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
  static const luaL_Reg lookup_meta[] = {
    {"__gc", lookup_gc}, {NULL, NULL}
  };
  ns_newclass(L, NS_LOOKUP, lookup_meta, NULL, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, res_funcs, 0);
}
