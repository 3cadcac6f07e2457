/*
** resolve.c: every name lookup, and nothing else. getaddrinfo in one
** helper (lookup), host and port arguments to a sockaddr (ns_getaddr),
** destinations through a small cache (ns_getdest), the lookups of
** tasks handed to the lookup pool (pool.c: ns_lookupstart,
** ns_lookupwait, and every module function below when called in a
** task); names, services and protocols (getnameinfo, gethostname,
** getfqdn, gethostby*, getserv*, getprotobyname).
**
** Resolver failures return nil, message, "EAI_*" (ns_gaifail); the
** netdb lookups of the gethostby* family report h_errno, mapped to the
** same names. Misuse (a port out of range) raises.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"
#include "pool.h"

/* how long sendto remembers what a host name resolved to (seconds) */
#if !defined(NS_ADDRCACHE_TTL)
#define NS_ADDRCACHE_TTL  30.0
#endif

/* the most names remembered at once; the cache starts over beyond */
#if !defined(NS_ADDRCACHE_MAX)
#define NS_ADDRCACHE_MAX  64
#endif

#define NS_ADDRCACHE  "netsock.addrcache"   /* registry: sendto's cache */

/* first size of the scratch buffer of the *_r lookups; doubled on ERANGE */
#define NETDBBUF  1024
#define NETDBMAX  (1024 * 1024)


/* nil, message, EAI name for an h_errno of the gethostby* family */
static int herrfail (lua_State *L, int herr, const char *about) {
  switch (herr) {
    case TRY_AGAIN: return ns_gaifail(L, EAI_AGAIN, 0, about, NULL);
    case NO_RECOVERY: return ns_gaifail(L, EAI_FAIL, 0, about, NULL);
#ifdef EAI_NODATA
    case NO_DATA: return ns_gaifail(L, EAI_NODATA, 0, about, NULL);
#endif
    default: return ns_gaifail(L, EAI_NONAME, 0, about, NULL);
  }
}


/* how the caller pushes a finished job's answer (job_push) */
typedef enum { PUSH_ADDRINFO, PUSH_FIRSTV4, PUSH_NAMEINFO, PUSH_HOSTENT } jobPush;
static int job_start (lua_State *L, nsLookup *j);


/* {====== getaddrinfo ====== */

static int lookup (lua_State *L, const char *host, const char *serv,
               const struct addrinfo *hints, struct addrinfo **res) {
  int gai = getaddrinfo(host, serv, hints, res);
  if (gai != 0) {
    int err = errno;  /* EAI_SYSTEM: errno says why */
    *res = NULL;
    return ns_gaifail(L, gai, err, host, serv);
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
         ns_isnumerichost(host);
}


/*
** sendto's name cache: per state (registry NS_ADDRCACHE), keyed
** "family|type|host|port", each value the expiry (monotonic seconds)
** and the sockaddr bytes. At most NS_ADDRCACHE_MAX names; beyond, it
** starts over (stale names go with it).
*/
static void cache_pushkey (lua_State *L, nsSocket *s, int idx) {
  lua_pushfstring(L, "%d|%d|%s|%s", s->family, s->type,
                  lua_tostring(L, idx), luaL_tolstring(L, idx + 1, NULL));
  lua_remove(L, -2);  /* the port text */
}

static void cache_pushtable (lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, NS_ADDRCACHE);
  }
}

/* whether a live address for the (host, port) at idx is cached; copies
   it to ss/len when given. Leaves the stack as it was. */
static int cache_get (lua_State *L, nsSocket *s, int idx,
                      struct sockaddr_storage *ss, socklen_t *len) {
  int found = 0;
  cache_pushtable(L);
  cache_pushkey(L, s, idx);
  if (lua_gettable(L, -2) == LUA_TSTRING) {
    size_t vlen;
    const char *v = lua_tolstring(L, -1, &vlen);
    double expiry;
    memcpy(&expiry, v, sizeof expiry);
    if (ns_monotime() < expiry && vlen - sizeof expiry <= sizeof(struct sockaddr_storage)) {
      found = 1;
      if (ss != NULL) {
        *len = (socklen_t)(vlen - sizeof expiry);
        memcpy(ss, v + sizeof expiry, *len);
      }
    }
  }
  lua_pop(L, 2);
  return found;
}

static void cache_put (lua_State *L, nsSocket *s, int idx,
                       const struct sockaddr_storage *ss, socklen_t len) {
  char v[sizeof(double) + sizeof *ss];
  double expiry = ns_monotime() + NS_ADDRCACHE_TTL;
  lua_Integer count;
  cache_pushtable(L);
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
  cache_pushkey(L, s, idx);
  memcpy(v, &expiry, sizeof expiry);
  memcpy(v + sizeof expiry, ss, len);
  lua_pushlstring(L, v, sizeof expiry + len);
  lua_settable(L, -3);
  lua_pop(L, 1);
}


/*
** The destination at 'idx' (host, port or path) for socket 's'.
** Host names go through sendto's cache, so a loop of sendto to one
** name resolves it once every NS_ADDRCACHE_TTL seconds.
** Returns as ns_getaddr: arguments used, or -1 with nil,msg,code pushed.
*/
int ns_getdest (lua_State *L, nsSocket *s, int idx,
                struct sockaddr_storage *ss, socklen_t *len) {
  int n;
  if (s->family != AF_INET && s->family != AF_INET6)
    return ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  if (isnumeric(L, idx))
    return ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  ns_checkname(L, idx, "host");
  luaL_checkany(L, idx + 1);
  if (lua_type(L, idx + 1) != LUA_TSTRING)  /* checks the range too */
    luaL_checkinteger(L, idx + 1);
  if (cache_get(L, s, idx, ss, len)) return 2;
  n = ns_getaddr(L, idx, s->family, s->type, 0, ss, len);
  if (n < 0) return -1;
  cache_put(L, s, idx, ss, *len);
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
  if (host != NULL && !ns_isnumerichost(host) && ns_intask(L)) {
    nsLookup *j = ns_job_new(L, JOB_ADDRINFO, PUSH_ADDRINFO, host, serv);
    if (j == NULL) return 3;
    j->hints = hints;
    return job_start(L, j);
  }
  if (lookup(L, host, serv, &hints, &res) != 0)
    return 3;
  ns_pushaddrinfo(L, res);
  freeaddrinfo(res);
  return 1;
}

/* }====== */




/* push the answer of a finished job as its caller wants it */
static int job_push (lua_State *L, nsLookup *j) {
  char buf[INET_ADDRSTRLEN];
  switch (j->push) {
    case PUSH_ADDRINFO:
      if (j->gai != 0) return ns_gaifail(L, j->gai, j->err, j->host, j->serv);
      ns_pushaddrinfo(L, j->res);
      return 1;
    case PUSH_FIRSTV4:
      if (j->gai != 0) return ns_gaifail(L, j->gai, j->err, j->host, j->serv);
      inet_ntop(AF_INET, &((struct sockaddr_in *)j->res->ai_addr)->sin_addr,
                buf, sizeof buf);
      lua_pushstring(L, buf);
      return 1;
    case PUSH_NAMEINFO:
      if (j->gai != 0) return ns_gaifail(L, j->gai, j->err, j->host, j->serv);
      lua_pushstring(L, j->hbuf);
      lua_pushstring(L, j->sbuf);
      return 2;
    case PUSH_HOSTENT:
      if (j->kind == JOB_HOSTADDR && j->gai != 0)
        return ns_gaifail(L, j->gai, j->err, j->host, j->serv);
      if (j->hres == NULL) {
        if (j->r != 0 && j->r != ENOENT && j->herr == NETDB_INTERNAL)
          return ns_fail(L, j->r);
        return herrfail(L, j->herr, j->host);
      }
      return ns_pushhostent(L, j->hres);
  }
  return 0;
}

/* the continuation of a module function's lookup: job at 1, no deadline */
static int job_k (lua_State *L, int status, lua_KContext ctx) {
  nsResult r;
  int n;
  (void)status;
  lua_settop(L, 1);
  r = ns_job_wait(L, 1, -1.0, ctx, job_k);
  if (r != NS_OK) { ns_job_release(L, 1); return ns_pushresult(L, r, errno); }
  n = job_push(L, ns_job_check(L, 1));
  ns_job_release(L, 1);
  return n;
}

/* start 'j' (its userdata at the top) and wait for it in the task */
static int job_start (lua_State *L, nsLookup *j) {
  lua_replace(L, 1);
  lua_settop(L, 1);
  ns_job_submit(j);
  return job_k(L, LUA_OK, 0);
}

/*
** For the methods that take a destination (connect, sendto): inside a
** task, when the host at 'idx' is a name, start looking it up on the
** pool: push the job and return 1. Otherwise return 0 and push nothing
** (outside tasks, numeric hosts and Unix paths resolve at once). The
** arguments are checked first, so misuse raises before any wait.
*/
int ns_lookupstart (lua_State *L, nsSocket *s, int idx) {
  struct addrinfo hints;
  char portbuf[8];
  const char *serv;
  nsLookup *j;
  if (s->family != AF_INET && s->family != AF_INET6) return 0;
  if (lua_type(L, idx) != LUA_TSTRING || isnumeric(L, idx)) return 0;
  if (!ns_intask(L)) return 0;
  ns_checkname(L, idx, "host");
  serv = ns_checkport(L, idx + 1, portbuf);
  if (cache_get(L, s, idx, NULL, NULL)) return 0;  /* sendto knows it */
  memset(&hints, 0, sizeof hints);
  hints.ai_family = s->family;
  hints.ai_socktype = s->type;
  hints.ai_flags = s->family == AF_INET6 ? AI_V4MAPPED : 0;
  j = ns_job_new(L, JOB_ADDRINFO, PUSH_ADDRINFO, lua_tostring(L, idx), serv);
  if (j == NULL) {  /* no memory or descriptor: resolve at once instead */
    lua_pop(L, 4);
    return 0;
  }
  j->hints = hints;
  ns_job_submit(j);
  return 1;
}

/*
** Wait for the lookup ns_lookupstart pushed, now at 'slot'. NS_OK: the
** host and port at 'idx' have been replaced by the numeric address and
** port found (and, when 'cache' is set, remembered as ns_getdest
** remembers names). NS_TIMEOUT, or NS_PUSHED with the resolver's
** failure on the stack. Inside a task the wait yields to 'k'.
*/
nsResult ns_lookupwait (lua_State *L, nsSocket *s, int slot, int idx,
                        double deadline, int cache, lua_KContext ctx,
                        lua_KFunction k) {
  nsLookup *j;
  char buf[INET6_ADDRSTRLEN];
  const struct sockaddr *sa;
  int port;
  nsResult r = ns_job_wait(L, slot, deadline, ctx, k);
  if (r != NS_OK) { ns_job_release(L, slot); return r; }
  j = ns_job_check(L, slot);
  if (j->gai != 0) {  /* pushed first: the job holds the host named */
    ns_gaifail(L, j->gai, j->err, j->host, j->serv);
    ns_job_release(L, slot);
    return NS_PUSHED;
  }
  sa = j->res->ai_addr;
  if (cache)
    cache_put(L, s, idx, (const struct sockaddr_storage *)(const void *)sa,
              j->res->ai_addrlen);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
  }
  else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    port = ntohs(in6->sin6_port);
  }
  ns_job_release(L, slot);
  lua_pushstring(L, buf);
  lua_replace(L, idx);
  lua_pushinteger(L, port);
  lua_replace(L, idx + 1);
  return NS_OK;
}

/*
** The lookup step of a datagram send to a host name (sendto, sendmany),
** as their continuation 'k' runs it: stack 1 socket, 2 data, 3 host,
** 4 port, 5 deadline, 6 the lookup. NS_OK: the destination is numeric
** at 3 and 4, the stack cut to 4, *ps and *deadline set for the send;
** else NS_CLOSED, NS_TIMEOUT, or NS_PUSHED as ns_lookupwait.
*/
nsResult ns_destlookup (lua_State *L, lua_KContext ctx, lua_KFunction k,
                        nsSocket **ps, double *deadline) {
  nsSocket *s = ns_checkresumed(L);
  nsResult r;
  *deadline = lua_tonumber(L, 5);
  *ps = s;
  lua_settop(L, 6);
  if (s == NULL) return NS_CLOSED;
  r = ns_lookupwait(L, s, 6, 3, *deadline, 1, ctx, k);
  if (r == NS_OK) lua_settop(L, 4);
  return r;
}

/*
** core._getaddrinfo_task(host, port [, family [, type [, timeout]]]):
** as netsock.getaddrinfo, for create_connection inside a task: a name
** is looked up on the pool while the task waits at most 'timeout'
** seconds (nil: as long as the resolver takes).
*/
static int gaitask_k (lua_State *L, int status, lua_KContext ctx) {
  nsResult r;
  int n;
  (void)status;
  lua_settop(L, 2);
  r = ns_job_wait(L, 1, lua_tonumber(L, 2), ctx, gaitask_k);
  if (r != NS_OK) { ns_job_release(L, 1); return ns_pushresult(L, r, errno); }
  n = job_push(L, ns_job_check(L, 1));
  ns_job_release(L, 1);
  return n;
}

static int res_getaddrinfo_task (lua_State *L) {
  const char *host = ns_checkname(L, 1, "host");
  char portbuf[8];
  const char *serv = ns_checkport(L, 2, portbuf);
  double timeout = luaL_optnumber(L, 5, -1.0);
  struct addrinfo hints, *res;
  nsLookup *j;
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
  if (!ns_intask(L)) {
    if (lookup(L, host, serv, &hints, &res) != 0) return 3;
    ns_pushaddrinfo(L, res);
    freeaddrinfo(res);
    return 1;
  }
  j = ns_job_new(L, JOB_ADDRINFO, PUSH_ADDRINFO, host, serv);
  if (j == NULL) return 3;
  j->hints = hints;
  lua_replace(L, 1);
  lua_pushnumber(L, ns_deadline(timeout));  /* a scope's, when untimed */
  lua_replace(L, 2);
  lua_settop(L, 2);
  ns_job_submit(j);
  return gaitask_k(L, LUA_OK, 0);
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
  if (ns_intask(L) && !(ns_isnumerichost(host) && (flags & NI_NUMERICHOST))) {
    nsLookup *j = ns_job_new(L, JOB_NAMEINFO, PUSH_NAMEINFO, host, serv);
    if (j == NULL) return 3;
    j->niflags = (int)flags;
    return job_start(L, j);
  }
  if (oneaddr(L, host, serv, 0, &ss, &len)) return 3;
  gai = getnameinfo((struct sockaddr *)&ss, len, hbuf, sizeof hbuf,
                    sbuf, sizeof sbuf, (int)flags);
  if (gai != 0) {
    int err = errno;
    return ns_gaifail(L, gai, err, host, serv);
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
  if (!ns_isnumerichost(name) && ns_intask(L)) {
    nsLookup *j = ns_job_new(L, JOB_ADDRINFO, PUSH_FIRSTV4, name, NULL);
    if (j == NULL) return 3;
    j->hints = hints;
    return job_start(L, j);
  }
  if (lookup(L, name, NULL, &hints, &res) != 0) return 3;
  inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
            buf, sizeof buf);
  freeaddrinfo(res);
  lua_pushstring(L, buf);
  return 1;
}


/*
** Run gethostbyname_r (addr == NULL) or gethostbyaddr_r with a scratch
** buffer in a userdata (so an error cannot leak it), growing it on
** ERANGE. Pushes the three results or the failure.
*/
static int hostlookup (lua_State *L, const char *name, const void *addr,
                       socklen_t alen, int family, const char *about) {
  size_t size = NETDBBUF;
  for (;;) {
    struct hostent he, *res = NULL;
    int herr = 0, r;
    char *buf = (char *)lua_newuserdatauv(L, size, 0);
    if (addr == NULL)
      r = ns_sys_gethostbyname(name, &he, buf, size, &res, &herr);
    else
      r = ns_sys_gethostbyaddr(addr, alen, family, &he, buf, size, &res,
                               &herr);
    if (r == ERANGE && size < NETDBMAX) {
      lua_pop(L, 1);
      size *= 2;
      continue;
    }
    if (res == NULL) {
      if (r != 0 && r != ENOENT && herr == NETDB_INTERNAL)
        return ns_fail(L, r);
      return herrfail(L, herr, about);
    }
    return ns_pushhostent(L, res);
  }
}


/* netsock.gethostbyname_ex(name): hostname, aliases, IPv4 addresses */
static int res_gethostbyname_ex (lua_State *L) {
  const char *name = ns_checkname(L, 1, "string");
  if (ns_intask(L)) {
    nsLookup *j = ns_job_new(L, JOB_HOSTENT, PUSH_HOSTENT, name, NULL);
    if (j == NULL) return 3;
    return job_start(L, j);
  }
  return hostlookup(L, name, NULL, 0, AF_INET, name);
}


/*
** netsock.gethostbyaddr(ip): hostname, aliases, addresses. 'ip' is an
** IPv4 or IPv6 literal, or a name that is resolved first (as Python).
*/
static int res_gethostbyaddr (lua_State *L) {
  const char *ip = ns_checkname(L, 1, "string");
  struct sockaddr_storage ss;
  socklen_t len;
  if (ns_intask(L)) {
    nsLookup *j = ns_job_new(L, JOB_HOSTADDR, PUSH_HOSTENT, ip, NULL);
    if (j == NULL) return 3;
    return job_start(L, j);
  }
  if (oneaddr(L, ip, NULL, 0, &ss, &len)) return 3;
  if (ss.ss_family == AF_INET)
    return hostlookup(L, NULL, &((struct sockaddr_in *)&ss)->sin_addr,
                      sizeof(struct in_addr), AF_INET, ip);
  return hostlookup(L, NULL, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                    sizeof(struct in6_addr), AF_INET6, ip);
}


/*
** netsock.getfqdn([name]): as Python's socket.getfqdn. An empty name
** (or "0.0.0.0", "::") means this host. The first of the names the
** resolver gives for the address of name that contains a dot, else
** the first of those names, else (no address or no name) name itself.
** Never fails.
*/
static int getfqdn_k (lua_State *L, int status, lua_KContext ctx);

static int res_getfqdn (lua_State *L) {
  const char *name;
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
  lua_settop(L, 2);
  lua_pushcfunction(L, res_gethostbyaddr);
  lua_pushvalue(L, 2);
  /* in a task the lookup suspends it: the rest is the continuation */
  lua_callk(L, 1, 3, 0, getfqdn_k);
  return getfqdn_k(L, LUA_OK, 0);
}


/* stack: 1 name as given, 2 the name looked up, 3..5 gethostbyaddr's */
static int getfqdn_k (lua_State *L, int status, lua_KContext ctx) {
  const char *name = lua_tostring(L, 2);
  int i, n;
  (void)status; (void)ctx;
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
  if (ns_sys_getservbyname(name, proto, &se, buf, sizeof buf, &res) != 0 ||
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
  if (ns_sys_getservbyport((int)htons((uint16_t)port), proto, &se, buf,
                           sizeof buf, &res) != 0 || res == NULL)
    return ns_failmsg(L, "port/proto not found", "EAI_SERVICE");
  lua_pushstring(L, res->s_name);
  return 1;
}


/* netsock.getprotobyname(name): the protocol number */
static int res_getprotobyname (lua_State *L) {
  const char *name = ns_checkname(L, 1, "string");
  struct protoent pe, *res = NULL;
  char buf[NETDBBUF];
  if (ns_sys_getprotobyname(name, &pe, buf, sizeof buf, &res) != 0 ||
      res == NULL)
    return ns_failmsg(L, "protocol not found", "EAI_NONAME");
  lua_pushinteger(L, res->p_proto);
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
  {NULL, NULL}
};


void ns_resolve_open (lua_State *L) {
  ns_pool_open(L);
  luaL_setfuncs(L, res_funcs, 0);
}
