/*
** pool.c: the lookup pool. The C library's resolver (getaddrinfo,
** getnameinfo, gethostby*_r) blocks and has no non-blocking form.
** Inside a task, every lookup that may leave the process (a name, a
** reverse lookup) runs here, on a small pool of worker threads, while
** the calling task waits on the job's notifier like on any descriptor;
** the other tasks run meanwhile. Outside tasks lookups run in the
** caller, blocking, as in Python. resolve.c asks the questions and
** pushes the answers (pool.h); this file runs them.
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

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netsock.h"
#include "pool.h"

#define NS_LOOKUP     "netsock.lookup"      /* metatable of a thread job */

/* first size of the scratch buffer of gethostby*_r; doubled on ERANGE */
#define NETDBBUF  1024
#define NETDBMAX  (1024 * 1024)


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
  if (j->efd >= 0) ns_sys_closenotifier(j->efd);
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
      j->r = ns_sys_gethostbyname(j->host, &j->he, buf, size, &j->hres,
                                  &j->herr);
    else
      j->r = ns_sys_gethostbyaddr(addr, alen, family, &j->he, buf, size,
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
  j->done = 1;
  ns_sys_notify(j->efd);
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
  int fd = ns_sys_notifier(1);
  j->gai = EAI_AGAIN;
  j->err = 0;
  j->hres = NULL;
  j->r = 0;
  j->herr = TRY_AGAIN;
  j->done = 1;
  if (fd >= 0 && ns_sys_dupover(fd, j->efd) >= 0) ns_sys_closenotifier(fd);
  else {
    if (fd >= 0) ns_sys_closenotifier(fd);
    ns_sys_closenotifier(j->efd);
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
  pthread_atfork(pool_atfork_prepare, pool_atfork_parent, pool_atfork_child);
  ns_sys_pin(&pool);
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
void ns_job_submit (nsLookup *j) {
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

nsLookup *ns_job_check (lua_State *L, int idx) {
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
void ns_job_release (lua_State *L, int idx) {
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
  ns_job_release(L, 1);
  return 0;
}

/* see pool.h */
nsLookup *ns_job_new (lua_State *L, nsJobKind kind, int push,
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
  j->efd = ns_sys_notifier(0);
  if (j->efd < 0) { ns_fail(L, errno); return NULL; }
  return j;
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
nsResult ns_job_wait (lua_State *L, int slot, double deadline,
                      lua_KContext ctx, lua_KFunction k) {
  nsLookup *j = ns_job_check(L, slot);
  for (;;) {
    nsResult r;
    if (j->efd >= 0)  /* nothing written yet: nothing to drain */
      ns_sys_drain(j->efd);
    if (job_done(j)) return NS_OK;
    r = ns_waitfd(L, j->efd, NS_READ, deadline, ctx, k);
    if (r != NS_AGAIN) return r;
  }
}

/* core._lookupstats(): the pool, for tests */
static int pool_lookupstats (lua_State *L) {
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


void ns_pool_open (lua_State *L) {
  static const luaL_Reg lookup_meta[] = {
    {"__gc", lookup_gc}, {NULL, NULL}
  };
  ns_newclass(L, NS_LOOKUP, lookup_meta, NULL, 0);
  lua_pop(L, 1);
  /* closing the state lets the pool's idle workers go (pool_quiesce) */
  ns_atclose(L, "netsock.lookuppool", pool_quiesce);
  lua_pushcfunction(L, pool_lookupstats);
  lua_setfield(L, -2, "_lookupstats");
}
