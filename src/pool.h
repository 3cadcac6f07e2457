/*
** pool.h: the lookup pool (pool.c), shared by pool.c and resolve.c. A
** job is one resolver call run on a worker thread while the task that
** asked waits on the job's notifier (ns_sys_notifier); resolve.c makes
** the questions and pushes the answers, pool.c runs them.
*/
#ifndef netsock_pool_h
#define netsock_pool_h

#include <netdb.h>

#include "netsock.h"

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

/* what a job asks */
typedef enum {
  JOB_ADDRINFO,    /* getaddrinfo(host, serv, hints) */
  JOB_NAMEINFO,    /* getnameinfo of host's single address */
  JOB_HOSTENT,     /* gethostbyname_r(host) */
  JOB_HOSTADDR     /* gethostbyaddr_r of host's single address */
} nsJobKind;

typedef struct nsLookup {
  struct nsLookup *next;      /* in the pool's queue */
  int refs;                   /* the pool, the userdata (under pool.mu) */
  int done, abandoned;        /* under pool.mu */
  int efd;                    /* written once done */
  nsJobKind kind;
  int push;                   /* how the caller pushes the answer */
  char *host, *serv;          /* the question (serv may be NULL) */
  struct addrinfo hints;
  int niflags;
  /* the answer */
  int gai, err, herr, r;
  struct addrinfo *res;
  char hbuf[NI_MAXHOST], sbuf[NI_MAXSERV];
  struct hostent he, *hres;
  char *hebuf;
} nsLookup;


/*
** Push a new job's userdata (it owns the job) and return the job, or
** push nil, message, code and return NULL (no memory, no descriptor).
** 'host' and 'serv' are copied; either may be NULL.
*/
NS_API nsLookup *ns_job_new (lua_State *L, nsJobKind kind, int push,
                             const char *host, const char *serv);
/* queue the job (its userdata holds a reference); never fails: a full
   queue makes it done at once with EAI_AGAIN */
NS_API void ns_job_submit (nsLookup *j);
/* the job of the userdata at idx; raises once released */
NS_API nsLookup *ns_job_check (lua_State *L, int idx);
/* the userdata at idx lets go of its job (the call is over) */
NS_API void ns_job_release (lua_State *L, int idx);
/* wait for the job at 'slot' until 'deadline': NS_OK when done,
   NS_TIMEOUT, NS_ERRNO; in a task the wait yields to 'k' */
NS_API nsResult ns_job_wait (lua_State *L, int slot, double deadline,
                             lua_KContext ctx, lua_KFunction k);
/* the job class, the pool's end at a state's close, core._lookupstats */
NS_API void ns_pool_open (lua_State *L);

#endif
