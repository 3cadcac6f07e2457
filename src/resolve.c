/*
** resolve.c: every name lookup. getaddrinfo in one helper (ns_lookup),
** host and port arguments to a sockaddr (ns_getaddr), destinations
** through a small cache (ns_getdest), the lookups of tasks on a bounded
** thread pool (ns_lookupstart, ns_lookupwait, and every module function
** below when called in a task); names, services and protocols
** (getnameinfo, gethostname,
** getfqdn, gethostby*, getserv*, getprotobyname), the inet_* address
** conversions and the byte-order helpers.
**
** Resolver failures return nil, message, "EAI_*" (ns_gaifail); the
** netdb lookups of the gethostby* family report h_errno, mapped to the
** same names. Misuse (a packed address of the wrong length, a port
** out of range) raises.
*/
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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


/* the lookups of tasks run on a thread pool ("Lookups on the thread pool") */
typedef struct nsLookup nsLookup;
typedef enum { JOB_ADDRINFO, JOB_NAMEINFO, JOB_HOSTENT, JOB_HOSTADDR } jobKind;
typedef enum { PUSH_ADDRINFO, PUSH_FIRSTV4, PUSH_NAMEINFO, PUSH_HOSTENT } jobPush;
static nsLookup *job_new (lua_State *L, jobKind kind, jobPush push,
                          const char *host, const char *serv);
static int job_start (lua_State *L, nsLookup *j);
static void job_sethints (nsLookup *j, const struct addrinfo *hints);
static int isliteral (const char *host);
static int pushhostent (lua_State *L, const struct hostent *he);


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
  if (host != NULL && !isliteral(host) && ns_intask(L)) {
    nsLookup *j = job_new(L, JOB_ADDRINFO, PUSH_ADDRINFO, host, serv);
    if (j == NULL) return 3;
    job_sethints(j, &hints);
    return job_start(L, j);
  }
  if (lookup(L, host, serv, &hints, &res) != 0)
    return 3;
  ns_pushaddrinfo(L, res);
  freeaddrinfo(res);
  return 1;
}

/* }====== */




/* {====== Lookups on the thread pool (inside tasks) ====== */

/*
** The C library's resolver (getaddrinfo, getnameinfo, gethostby*_r)
** blocks and has no non-blocking form. Inside a task, every lookup that
** may leave the process (a name, a reverse lookup) runs on a small pool
** of worker threads while the calling task waits on the job's eventfd
** like on any descriptor; the other tasks run meanwhile. Outside tasks
** lookups run in the caller, blocking, as in Python.
**
** - At most NS_LOOKUP_THREADS workers exist; more lookups wait in a FIFO
**   queue. A worker idle for NS_LOOKUP_IDLE seconds ends, and idle ones
**   end at once when a Lua state closes (pool_quiesce).
** - A job is shared by the pool and a userdata on the task's stack,
**   counted under the pool's mutex; whichever lets go last frees it. A
**   task that gives up (its deadline, an error, a closed state) drops
**   the userdata: a job still queued is then skipped, a running one
**   finishes and is freed by its worker. Nothing leaks.
** - Every job in flight holds one descriptor (its eventfd). At most
**   NS_LOOKUP_QUEUE jobs wait in the queue; a lookup beyond fails at
**   once with EAI_AGAIN (a resolver that slow would answer it minutes
**   late anyway).
** - No Lua API call is made while pool.mu is held: any of them may run a
**   garbage collection step, whose finalizers (lookup_gc, pool_quiesce)
**   take pool.mu, or raise a memory error past the unlock.
** - A fork (pool_atfork_*) takes pool.mu first, so the child's copy of
**   the queue is whole; the child fails its copies of the jobs in flight
**   and never touches the parent's eventfds (see "After a fork" in
**   docs/design.md).
*/

#if !defined(NS_LOOKUP_THREADS)
#define NS_LOOKUP_THREADS  8
#endif

#if !defined(NS_LOOKUP_IDLE)
#define NS_LOOKUP_IDLE  10
#endif

/* the most lookups queued at once; one more fails at once with EAI_AGAIN */
#if !defined(NS_LOOKUP_QUEUE)
#define NS_LOOKUP_QUEUE  1024
#endif

/* what the caller pushes from a finished job: jobPush (above) */

struct nsLookup {
  struct nsLookup *next;      /* in the pool's queue */
  int refs;                   /* the pool, the userdata (under pool.mu) */
  int done, abandoned;        /* under pool.mu */
  int efd;                    /* written once done */
  jobKind kind;
  jobPush push;
  char *host, *serv;          /* the question (serv may be NULL) */
  struct addrinfo hints;
  int niflags;
  /* the answer */
  int gai, err, herr, r;
  struct addrinfo *res;
  char hbuf[NI_MAXHOST], sbuf[NI_MAXSERV];
  struct hostent he, *hres;
  char *hebuf;
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;          /* a job came, or quit */
  pthread_cond_t gone;        /* a worker ended */
  nsLookup *head, *tail;      /* queued jobs */
  nsLookup *run;              /* jobs a worker runs now */
  int threads, idle, queued, running, maxthreads;
  int refused;                /* lookups refused: the queue was full */
  int quit;                   /* idle workers end now (pool_quiesce) */
  pthread_t tid[NS_LOOKUP_THREADS];
  int slot[NS_LOOKUP_THREADS];  /* 0 free, 1 a worker, 2 ended: to join */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
           PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0,
           {0}, {0} };

static int slotno[NS_LOOKUP_THREADS];  /* each worker's argument: its slot */

/* free a job; under pool.mu or once nobody else can see it */
static void job_free (nsLookup *j) {
  if (j->res) freeaddrinfo(j->res);
  if (j->efd >= 0) close(j->efd);
  free(j->hebuf);
  free(j->host);
  free(j->serv);
  free(j);
}

/* the single address of j->host (any family) for the reverse lookups */
static int job_oneaddr (nsLookup *j, struct sockaddr_storage *ss,
                        socklen_t *len) {
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  j->gai = getaddrinfo(j->host, j->serv, &hints, &res);
  j->err = errno;
  if (j->gai != 0) return 0;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 1;
}

/* gethostbyname_r / gethostbyaddr_r with a buffer grown on ERANGE */
static void job_hostent (nsLookup *j, const void *addr, socklen_t alen,
                         int family) {
  size_t size = NETDBBUF;
  for (;;) {
    char *buf = (char *)realloc(j->hebuf, size);
    if (buf == NULL) { j->r = ENOMEM; j->herr = NETDB_INTERNAL; return; }
    j->hebuf = buf;
    j->hres = NULL;
    j->herr = 0;
    if (addr == NULL)
      j->r = gethostbyname_r(j->host, &j->he, buf, size, &j->hres, &j->herr);
    else
      j->r = gethostbyaddr_r(addr, alen, family, &j->he, buf, size,
                             &j->hres, &j->herr);
    if (j->r != ERANGE || size >= NETDBMAX) return;
    size *= 2;
  }
}

/* the lookup itself, on a worker (or in the caller when no thread starts) */
static void job_run (nsLookup *j) {
  struct sockaddr_storage ss;
  socklen_t len;
  switch (j->kind) {
    case JOB_ADDRINFO:
      j->gai = getaddrinfo(j->host, j->serv, &j->hints, &j->res);
      j->err = errno;
      break;
    case JOB_NAMEINFO:
      if (job_oneaddr(j, &ss, &len)) {
        j->gai = getnameinfo((struct sockaddr *)&ss, len, j->hbuf,
                             sizeof j->hbuf, j->sbuf, sizeof j->sbuf,
                             j->niflags);
        j->err = errno;
      }
      break;
    case JOB_HOSTENT:
      job_hostent(j, NULL, 0, AF_INET);
      break;
    case JOB_HOSTADDR:
      if (!job_oneaddr(j, &ss, &len)) break;
      if (ss.ss_family == AF_INET)
        job_hostent(j, &((struct sockaddr_in *)&ss)->sin_addr,
                    sizeof(struct in_addr), AF_INET);
      else
        job_hostent(j, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                    sizeof(struct in6_addr), AF_INET6);
      break;
  }
}

/* a job is done: wake its task and drop the pool's reference (pool.mu held) */
static void job_finish (nsLookup *j) {
  uint64_t one = 1;
  j->done = 1;
  if (write(j->efd, &one, sizeof one) < 0) { /* cannot fail: a counter */ }
  if (--j->refs == 0) job_free(j);
}

/*
** A worker: runs queued jobs; ends after NS_LOOKUP_IDLE seconds without
** one, or at once when pool_quiesce asks. An ended worker is joined by
** the next pool_submit or pool_quiesce (pool_ended, pool_join), so that its thread,
** glibc's per-thread resolver state included, is gone for good.
*/
static void *pool_worker (void *arg) {
  int me = *(int *)arg;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    nsLookup *j;
    int skip;
    while (pool.head == NULL) {
      struct timespec ts;
      int r = 0;
      if (!pool.quit) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += NS_LOOKUP_IDLE;
        pool.idle++;
        r = pthread_cond_timedwait(&pool.cv, &pool.mu, &ts);
        pool.idle--;
      }
      if ((r == ETIMEDOUT || pool.quit) && pool.head == NULL) {
        pool.threads--;
        pool.slot[me] = 2;
        pthread_cond_broadcast(&pool.gone);
        pthread_mutex_unlock(&pool.mu);
        return NULL;
      }
    }
    j = pool.head;
    pool.head = j->next;
    if (pool.head == NULL) pool.tail = NULL;
    pool.queued--;
    skip = j->abandoned;  /* nobody waits for it any more */
    j->next = pool.run;
    pool.run = j;
    pool.running++;
    pthread_mutex_unlock(&pool.mu);
    if (!skip) job_run(j);
    pthread_mutex_lock(&pool.mu);
    {  /* off the running list (at most NS_LOOKUP_THREADS long) */
      nsLookup **pp = &pool.run;
      while (*pp != j) pp = &(*pp)->next;
      *pp = j->next;
    }
    pool.running--;
    job_finish(j);
  }
}

/*
** A job of the parent's, in a child after fork(2): it fails with
** EAI_AGAIN (its task wakes and may try again; the next lookup starts
** workers of the child's own). Its eventfd is the parent's open file
** description, which the parent's task waits on: the child must neither
** write it (the parent's task would wake for nothing, for ever) nor read
** it (the parent's wake-up would be lost). So the number is given a
** description of the child's own, already signalled (dup3 over it); if
** none can be made, the number is closed and the job waits on nothing.
*/
static void job_forsake (nsLookup *j) {
  int fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  j->gai = EAI_AGAIN;
  j->err = 0;
  j->hres = NULL;
  j->r = 0;
  j->herr = TRY_AGAIN;
  j->done = 1;
  if (fd >= 0 && dup3(fd, j->efd, O_CLOEXEC) >= 0) close(fd);
  else {
    if (fd >= 0) close(fd);
    close(j->efd);
    j->efd = -1;
  }
  if (--j->refs == 0) job_free(j);
}

/*
** fork(2) around the pool: the parent's forking thread takes pool.mu
** (prepare), so no worker is halfway through the queue when the memory
** is copied; the parent lets it go again, and the child starts with a
** pool of its own: no worker (they stay in the parent), a new mutex,
** and the parent's jobs in flight forsaken.
*/
static void pool_atfork_prepare (void) {
  pthread_mutex_lock(&pool.mu);
}

static void pool_atfork_parent (void) {
  pthread_mutex_unlock(&pool.mu);
}

static void pool_atfork_child (void) {
  nsLookup *lists[2], *j;
  int i;
  pthread_mutex_init(&pool.mu, NULL);
  pthread_cond_init(&pool.cv, NULL);
  pthread_cond_init(&pool.gone, NULL);
  lists[0] = pool.head;
  lists[1] = pool.run;
  pool.head = pool.tail = pool.run = NULL;
  pool.threads = pool.idle = pool.queued = pool.running = pool.quit = 0;
  memset(pool.slot, 0, sizeof pool.slot);  /* the parent's threads */
  for (i = 0; i < 2; i++) {
    while ((j = lists[i]) != NULL) {
      lists[i] = j->next;
      job_forsake(j);
    }
  }
}

/*
** Once per process, before the first worker starts: the fork handler,
** and this library pinned in memory (RTLD_NODELETE), since lua_close
** unloads C modules and a worker, idle or finishing a lookup nobody
** waits for, must never return into unmapped code.
*/
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init (void) {
  Dl_info info;
  pthread_atfork(pool_atfork_prepare, pool_atfork_parent, pool_atfork_child);
  if (dladdr(&pool, &info) && info.dli_fname != NULL)  /* this library's file */
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/*
** Take the workers that ended off their slots (pool.mu held) into
** 'ended'; returns how many. The caller joins them (pool_join) once it
** has let go of pool.mu: a join waits for a thread's whole exit, which
** nothing should wait for under the lock.
*/
static int pool_ended (pthread_t *ended) {
  int i, n = 0;
  for (i = 0; i < NS_LOOKUP_THREADS; i++) {
    if (pool.slot[i] == 2) {
      ended[n++] = pool.tid[i];
      pool.slot[i] = 0;
    }
  }
  return n;
}

/* join the workers pool_ended took (pool.mu not held) */
static void pool_join (pthread_t *ended, int n) {
  int i;
  for (i = 0; i < n; i++) pthread_join(ended[i], NULL);
}

/*
** A Lua state closes: the idle workers end now and are joined (at most
** 2 s are spent waiting for them); workers busy with a lookup finish it
** and end later. The next lookup, of any state, starts workers again.
*/
static int pool_quiesce (lua_State *L) {
  struct timespec ts;
  pthread_t ended[NS_LOOKUP_THREADS];
  int n;
  (void)L;
  pthread_mutex_lock(&pool.mu);
  pool.quit = 1;
  pthread_cond_broadcast(&pool.cv);
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 2;
  while (pool.idle > 0 &&
         pthread_cond_timedwait(&pool.gone, &pool.mu, &ts) == 0) { }
  n = pool_ended(ended);
  pool.quit = 0;
  pthread_mutex_unlock(&pool.mu);
  pool_join(ended, n);
  return 0;
}

/*
** Queue 'j' (the caller holds the userdata's reference). Starts a
** worker when none is idle and the pool is not full. With no worker at
** all (pthread_create failed) the lookup runs here, blocking. With
** NS_LOOKUP_QUEUE jobs queued already, 'j' is done at once: EAI_AGAIN.
*/
static void pool_submit (nsLookup *j) {
  int run_here = 0, n;
  pthread_t ended[NS_LOOKUP_THREADS];
  pthread_once(&pool_once, pool_init);
  pthread_mutex_lock(&pool.mu);
  n = pool_ended(ended);
  if (pool.queued >= NS_LOOKUP_QUEUE) {
    pool.refused++;
    j->gai = EAI_AGAIN;
    j->err = 0;
    j->herr = TRY_AGAIN;
    j->done = 1;
    pthread_mutex_unlock(&pool.mu);
    pool_join(ended, n);
    return;
  }
  j->refs++;  /* the pool's */
  j->next = NULL;
  if (pool.tail) pool.tail->next = j; else pool.head = j;
  pool.tail = j;
  pool.queued++;
  if (pool.idle == 0 && pool.threads < NS_LOOKUP_THREADS) {
    pthread_attr_t attr;
    int r, i = 0;
    sigset_t all, old;
    while (pool.slot[i] != 0) i++;  /* a free slot: threads < the limit */
    slotno[i] = i;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    /* workers take no signal: each one goes to a thread that runs Lua
       (a Ctrl-C must interrupt the call that waits, not a lookup) */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&pool.tid[i], &attr, pool_worker, &slotno[i]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r == 0) {
      pool.slot[i] = 1;
      pool.threads++;
      if (pool.threads > pool.maxthreads) pool.maxthreads = pool.threads;
    }
    else if (pool.threads == 0) {  /* no worker: take it back, run it here */
      pool.head = pool.tail = NULL;
      pool.queued--;
      j->refs--;
      run_here = 1;
    }
  }
  if (!run_here) pthread_cond_signal(&pool.cv);
  pthread_mutex_unlock(&pool.mu);
  pool_join(ended, n);
  if (run_here) {
    job_run(j);
    pthread_mutex_lock(&pool.mu);
    j->done = 1;
    pthread_mutex_unlock(&pool.mu);
  }
}

static nsLookup *checkjob (lua_State *L, int idx) {
  nsLookup **pj = (nsLookup **)luaL_checkudata(L, idx, NS_LOOKUP);
  luaL_argcheck(L, *pj != NULL, idx, "lookup already released");
  return *pj;
}

/*
** Let go of the job of the userdata at 'idx': the call is over (an
** answer taken, a deadline passed) or the userdata is collected. A job
** still queued is skipped by the pool; one running is freed by its
** worker when the resolver returns.
*/
static void job_release (lua_State *L, int idx) {
  nsLookup **pj = (nsLookup **)luaL_checkudata(L, idx, NS_LOOKUP);
  nsLookup *j = *pj;
  if (j != NULL) {
    *pj = NULL;
    pthread_mutex_lock(&pool.mu);
    j->abandoned = 1;
    if (--j->refs == 0) job_free(j);
    pthread_mutex_unlock(&pool.mu);
  }
}

static int lookup_gc (lua_State *L) {
  job_release(L, 1);
  return 0;
}

/*
** Push a new job's userdata (it owns the job) and return the job, or
** push nil, message, code and return NULL (no memory, no descriptor).
** 'host' and 'serv' are copied; either may be NULL.
*/
static nsLookup *job_new (lua_State *L, jobKind kind, jobPush push,
                          const char *host, const char *serv) {
  nsLookup **pj = (nsLookup **)lua_newuserdatauv(L, sizeof(nsLookup *), 0);
  nsLookup *j;
  *pj = NULL;
  luaL_setmetatable(L, NS_LOOKUP);
  j = (nsLookup *)calloc(1, sizeof *j);
  if (j == NULL) { ns_fail(L, ENOMEM); return NULL; }
  j->efd = -1;
  j->refs = 1;
  *pj = j;  /* from here the userdata frees it */
  j->kind = kind;
  j->push = push;
  if ((host && (j->host = strdup(host)) == NULL) ||
      (serv && (j->serv = strdup(serv)) == NULL)) {
    ns_fail(L, ENOMEM);
    return NULL;
  }
  j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (j->efd < 0) { ns_fail(L, errno); return NULL; }
  return j;
}

static void job_sethints (nsLookup *j, const struct addrinfo *hints) {
  j->hints = *hints;
}

/* whether the job is done (and its answer may be read) */
static int job_done (nsLookup *j) {
  int done;
  pthread_mutex_lock(&pool.mu);
  done = j->done;
  pthread_mutex_unlock(&pool.mu);
  return done;
}

/*
** Wait for the job at 'slot' until 'deadline' (< 0: none): NS_OK when
** done, NS_TIMEOUT, or NS_ERRNO. Inside a task the wait yields and the
** loop resumes 'k'. The eventfd is drained before each look at 'done'
** (set before the worker writes, under pool.mu): a wake-up that finds
** the job unfinished leaves nothing behind to wake the task again, so
** a stray write can cost one turn of the loop, never a spin.
*/
static nsResult job_wait (lua_State *L, int slot, double deadline,
                          lua_KContext ctx, lua_KFunction k) {
  nsLookup *j = checkjob(L, slot);
  for (;;) {
    nsResult r;
    uint64_t count;
    if (j->efd >= 0) {  /* EAGAIN: nothing written yet */
      while (read(j->efd, &count, sizeof count) < 0 && errno == EINTR) { }
    }
    if (job_done(j)) return NS_OK;
    r = ns_waitfd(L, j->efd, NS_READ, deadline, ctx, k);
    if (r != NS_AGAIN) return r;
  }
}

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
      return pushhostent(L, j->hres);
  }
  return 0;
}

/* the continuation of a module function's lookup: job at 1, no deadline */
static int job_k (lua_State *L, int status, lua_KContext ctx) {
  nsResult r;
  int n;
  (void)status;
  lua_settop(L, 1);
  r = job_wait(L, 1, -1.0, ctx, job_k);
  if (r != NS_OK) { job_release(L, 1); return ns_pushresult(L, r, errno); }
  n = job_push(L, checkjob(L, 1));
  job_release(L, 1);
  return n;
}

/* start 'j' (its userdata at the top) and wait for it in the task */
static int job_start (lua_State *L, nsLookup *j) {
  lua_replace(L, 1);
  lua_settop(L, 1);
  pool_submit(j);
  return job_k(L, LUA_OK, 0);
}

/* whether 'host' is an IPv4 or IPv6 literal (no resolver needed) */
static int isliteral (const char *host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
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
  j = job_new(L, JOB_ADDRINFO, PUSH_ADDRINFO, lua_tostring(L, idx), serv);
  if (j == NULL) {  /* no memory or descriptor: resolve at once instead */
    lua_pop(L, 4);
    return 0;
  }
  j->hints = hints;
  pool_submit(j);
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
  nsResult r = job_wait(L, slot, deadline, ctx, k);
  if (r != NS_OK) { job_release(L, slot); return r; }
  j = checkjob(L, slot);
  if (j->gai != 0) {  /* pushed first: the job holds the host named */
    ns_gaifail(L, j->gai, j->err, j->host, j->serv);
    job_release(L, slot);
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
  job_release(L, slot);
  lua_pushstring(L, buf);
  lua_replace(L, idx);
  lua_pushinteger(L, port);
  lua_replace(L, idx + 1);
  return NS_OK;
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
  r = job_wait(L, 1, lua_tonumber(L, 2), ctx, gaitask_k);
  if (r != NS_OK) { job_release(L, 1); return ns_pushresult(L, r, errno); }
  n = job_push(L, checkjob(L, 1));
  job_release(L, 1);
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
  j = job_new(L, JOB_ADDRINFO, PUSH_ADDRINFO, host, serv);
  if (j == NULL) return 3;
  j->hints = hints;
  lua_replace(L, 1);
  lua_pushnumber(L, timeout < 0 ? -1.0 : ns_deadline(timeout));
  lua_replace(L, 2);
  lua_settop(L, 2);
  pool_submit(j);
  return gaitask_k(L, LUA_OK, 0);
}

/* core._lookupstats(): the pool, for tests */
static int res_lookupstats (lua_State *L) {
  int v[6], i;
  static const char *const names[6] = {
    "threads", "idle", "queued", "running", "maxthreads", "refused"
  };
  pthread_mutex_lock(&pool.mu);  /* copied under the lock, pushed after */
  v[0] = pool.threads; v[1] = pool.idle; v[2] = pool.queued;
  v[3] = pool.running; v[4] = pool.maxthreads; v[5] = pool.refused;
  pthread_mutex_unlock(&pool.mu);
  lua_createtable(L, 0, 8);
  for (i = 0; i < 6; i++) {
    lua_pushinteger(L, v[i]);
    lua_setfield(L, -2, names[i]);
  }
  lua_pushinteger(L, NS_LOOKUP_THREADS); lua_setfield(L, -2, "limit");
  lua_pushinteger(L, NS_LOOKUP_QUEUE); lua_setfield(L, -2, "queuelimit");
  return 1;
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
  if (ns_intask(L) && !(isliteral(host) && (flags & NI_NUMERICHOST))) {
    nsLookup *j = job_new(L, JOB_NAMEINFO, PUSH_NAMEINFO, host, serv);
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
  if (!isliteral(name) && ns_intask(L)) {
    nsLookup *j = job_new(L, JOB_ADDRINFO, PUSH_FIRSTV4, name, NULL);
    if (j == NULL) return 3;
    job_sethints(j, &hints);
    return job_start(L, j);
  }
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
                       socklen_t alen, int family, const char *about) {
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
      return herrfail(L, herr, about);
    }
    return pushhostent(L, res);
  }
}


/* netsock.gethostbyname_ex(name): hostname, aliases, IPv4 addresses */
static int res_gethostbyname_ex (lua_State *L) {
  const char *name = ns_checkname(L, 1, "string");
  if (ns_intask(L)) {
    nsLookup *j = job_new(L, JOB_HOSTENT, PUSH_HOSTENT, name, NULL);
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
    nsLookup *j = job_new(L, JOB_HOSTADDR, PUSH_HOSTENT, ip, NULL);
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
  {"_lookupstats", res_lookupstats},
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
  /* closing the state lets the pool's idle workers go (pool_quiesce) */
  lua_newuserdatauv(L, 0, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, pool_quiesce);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "netsock.lookuppool");
  luaL_setfuncs(L, res_funcs, 0);
}
