/*
** ready_poll.c: the readiness backend on poll(2), for any POSIX system
** (and the portable build on Linux: make PORTABLE=1). The same seven
** functions as ready_epoll.c, with the same errno values; O(members)
** per wait, correct at any number of them.
**
** poll(2) keeps no state in the kernel, so this file keeps it:
**
** - A set is a descriptor of its own, an unbound Unix datagram socket
**   (one descriptor, never readable, closed by ns_ready_close),
**   and a record in a table indexed by that descriptor: its members
**   (descriptor, events asked, directions armed), each found by number
**   through a second table. ns_ready_wait builds the pollfd array from
**   the members each time.
** - "Readable whenever a member is ready" holds for sets of this
**   backend: a set that is a member of another set (a poller or a
**   select waited on inside a task: the loop's set holds it) is
**   recognised at add (the table has a record for that number, and
**   fstat says it is the same socket, not a number reused since), and
**   the outer wait polls the inner set's members in its place; the
**   inner set is reported readable when one of them is ready as the
**   inner set asks. Nesting goes NESTMAX deep; a set that would hold
**   itself, directly or not, is refused (EINVAL, ELOOP), as epoll does.
**   To anything else (another program's poll, a foreign event loop
**   given p:fileno()) the descriptor never turns readable: a poll
**   backend cannot make it so without a thread per set.
** - NS_EDGE is emulated: an edge member reports a direction only while
**   it is armed, and a report disarms it. ns_ready_rearm arms it again
**   (the loop calls it before each wait, after the call said EAGAIN),
**   so a direction that is ready when a task starts to wait is reported
**   once, and an idle, writable socket does not wake the loop for ever.
**   Registration (add, modify) arms nothing: the caller arms what it
**   waits for (epoll reports more, every change of state; never less).
** - A member closed behind the set's back (epoll drops it by itself)
**   shows as POLLNVAL and is dropped, not reported. Unlike epoll, a
**   number closed and reused before the next wait is watched as the
**   new descriptor (poll knows numbers, not open file descriptions).
** - ns_ready_close frees a set's record (the last one frees the table).
**   A set closed with close(2) instead (a select's set in a task
**   abandoned while it waited: its box's __gc), which this file does not
**   see, keeps its record until the number is opened as a set again:
**   memory, not a descriptor.
**
** The table of sets is shared by every Lua state of the process and so
** guarded by a mutex; one set (and the sets inside it) is used by one
** thread at a time, as a Lua state is.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsock.h"

#define NESTMAX  4   /* sets inside sets, at most this deep */

typedef struct Member {
  int fd;
  int events;   /* NS_READ | NS_WRITE | NS_EDGE asked */
  int armed;    /* edge members: the directions that may report */
  int isset;    /* a set of this backend (its members are polled) */
} Member;

typedef struct Set {
  int fd;
  dev_t dev;    /* the descriptor's identity: a reused number is not us */
  ino_t ino;
  Member *m;
  int n, cap;
  int *slot;    /* slot[fd]: index in m + 1, 0 if not a member */
  int slotcap;
  int cursor;   /* where the next report starts (fairness past 'max') */
  struct pollfd *pfd;  /* scratch of ns_ready_wait */
  int *owner;          /* pfd[k] polls for member owner[k] */
  int *got;            /* per member: events seen, -1: gone */
  int pcap, gcap;
} Set;

static pthread_mutex_t setlock = PTHREAD_MUTEX_INITIALIZER;
static Set **sets;     /* sets[fd]: the set on descriptor fd, or NULL */
static int nsetcap;
static int nsets;      /* records in the table (the table goes at 0) */


static void setfree (Set *s) {
  if (s == NULL) return;
  free(s->m);
  free(s->slot);
  free(s->pfd);
  free(s->owner);
  free(s->got);
  free(s);
}


/* the set on 'fd' (the descriptor is still that set's: 'check'), or NULL */
static Set *getset (int fd, int check) {
  Set *s = NULL;
  struct stat st;
  if (fd < 0) return NULL;
  pthread_mutex_lock(&setlock);
  if (fd < nsetcap) s = sets[fd];
  pthread_mutex_unlock(&setlock);
  if (s != NULL && check &&
      (fstat(fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino))
    return NULL;
  return s;
}


/* the set 'set' names, or NULL with errno EBADF */
static Set *ownset (int set) {
  Set *s = getset(set, 0);
  if (s == NULL) errno = EBADF;
  return s;
}


int ns_ready_open (void) {
  struct stat st;
  Set *s, *old = NULL;
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  s = (Set *)calloc(1, sizeof *s);
  if (s == NULL || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fstat(fd, &st) < 0)
    goto fail;
  s->fd = fd;
  s->dev = st.st_dev;
  s->ino = st.st_ino;
  pthread_mutex_lock(&setlock);
  if (fd >= nsetcap) {
    int cap = nsetcap ? nsetcap : 64;
    Set **p;
    while (cap <= fd) cap *= 2;
    p = (Set **)realloc(sets, (size_t)cap * sizeof *p);
    if (p == NULL) { pthread_mutex_unlock(&setlock); goto fail; }
    memset(p + nsetcap, 0, (size_t)(cap - nsetcap) * sizeof *p);
    sets = p;
    nsetcap = cap;
  }
  old = sets[fd];  /* a set closed with close(2): its number is ours now */
  sets[fd] = s;
  if (old == NULL) nsets++;
  pthread_mutex_unlock(&setlock);
  setfree(old);
  return fd;
fail:
  setfree(s);
  close(fd);
  errno = ENOMEM;
  return -1;
}


/* whether 'inner' holds 'target', at any depth up to NESTMAX */
static int holds (Set *inner, Set *target, int depth) {
  int i;
  if (inner == target) return 1;
  if (depth >= NESTMAX) return 1;  /* too deep counts as a loop */
  for (i = 0; i < inner->n; i++) {
    Set *t;
    if (inner->m[i].isset && (t = getset(inner->m[i].fd, 1)) != NULL &&
        holds(t, target, depth + 1))
      return 1;
  }
  return 0;
}


/* what 'fd' is as a member of 's': 1 a set, 0 another descriptor, -1 */
static int kind (Set *s, int fd) {
  struct stat st;
  Set *inner;
  if (fd == s->fd) { errno = EINVAL; return -1; }
  if (fstat(fd, &st) < 0) return -1;  /* EBADF */
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
    errno = EPERM;  /* always ready: epoll refuses them too */
    return -1;
  }
  inner = getset(fd, 1);
  if (inner == NULL) return 0;
  if (holds(inner, s, 0)) { errno = ELOOP; return -1; }
  return 1;
}


static int grow (Set *s, int fd) {
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 16;
    Member *m = (Member *)realloc(s->m, (size_t)cap * sizeof *m);
    if (m == NULL) return 0;
    s->m = m;
    s->cap = cap;
  }
  if (fd >= s->slotcap) {
    int cap = s->slotcap ? s->slotcap : 64, *p;
    while (cap <= fd) cap *= 2;
    p = (int *)realloc(s->slot, (size_t)cap * sizeof *p);
    if (p == NULL) return 0;
    memset(p + s->slotcap, 0, (size_t)(cap - s->slotcap) * sizeof *p);
    s->slot = p;
    s->slotcap = cap;
  }
  return 1;
}


/* the member for fd, or NULL */
static Member *member (Set *s, int fd) {
  if (fd < 0 || fd >= s->slotcap || s->slot[fd] == 0) return NULL;
  return &s->m[s->slot[fd] - 1];
}


int ns_ready_add (int set, int fd, int events) {
  Set *s = ownset(set);
  Member *m;
  int k;
  if (s == NULL) return -1;
  if (member(s, fd) != NULL) { errno = EEXIST; return -1; }
  if ((k = kind(s, fd)) < 0) return -1;
  if (!grow(s, fd)) { errno = ENOMEM; return -1; }
  m = &s->m[s->n++];
  m->fd = fd;
  m->events = events;
  m->armed = 0;  /* an edge member reports once armed (ns_ready_rearm) */
  m->isset = k;
  s->slot[fd] = s->n;
  return 0;
}


int ns_ready_modify (int set, int fd, int events) {
  Set *s = ownset(set);
  Member *m;
  int k;
  if (s == NULL) return -1;
  if ((m = member(s, fd)) == NULL) { errno = ENOENT; return -1; }
  if ((k = kind(s, fd)) < 0) return -1;  /* the number may name another */
  m->events = events;
  m->armed = 0;  /* an edge member reports once armed (ns_ready_rearm) */
  m->isset = k;
  return 0;
}


static void drop (Set *s, int i) {
  int fd = s->m[i].fd;
  s->n--;
  if (i != s->n) {
    s->m[i] = s->m[s->n];
    s->slot[s->m[i].fd] = i + 1;
  }
  s->slot[fd] = 0;
}


int ns_ready_remove (int set, int fd) {
  Set *s = ownset(set);
  if (s == NULL) return -1;
  if (member(s, fd) == NULL) { errno = ENOENT; return -1; }
  drop(s, s->slot[fd] - 1);
  return 0;
}


/* arm an edge member's directions again (the caller is about to wait) */
int ns_ready_rearm (int set, int fd, int events) {
  Set *s = ownset(set);
  Member *m;
  if (s == NULL) return -1;
  if ((m = member(s, fd)) == NULL) { errno = ENOENT; return -1; }
  m->armed |= events & (NS_READ | NS_WRITE);
  return 0;
}


/* {====== The wait ====== */

/* the directions member 'm' is polled for now; 0: not at all */
static int wanted (const Member *m) {
  return (m->events & NS_EDGE) ? m->armed : (m->events & (NS_READ | NS_WRITE));
}


static int room (Set *top, int need) {
  if (need > top->pcap) {
    int cap = top->pcap ? top->pcap : 16;
    struct pollfd *p;
    int *o;
    while (cap < need) cap *= 2;
    p = (struct pollfd *)realloc(top->pfd, (size_t)cap * sizeof *p);
    if (p != NULL) top->pfd = p;
    o = (int *)realloc(top->owner, (size_t)cap * sizeof *o);
    if (o != NULL) top->owner = o;
    if (p == NULL || o == NULL) return 0;
    top->pcap = cap;
  }
  return 1;
}


/*
** Append the pollfds of set 's' to top's scratch, each for top's
** member 'owner' (or, at the top, each for itself: owner -1). A member
** that is a set is polled through its own members. Returns the new
** count, or -1 without memory.
*/
static int flatten (Set *top, Set *s, int np, int owner, int depth) {
  int i;
  for (i = 0; i < s->n; i++) {
    const Member *m = &s->m[i];
    int want = wanted(m), who = owner >= 0 ? owner : i;
    if (m->isset) {
      Set *inner;
      if (!(want & NS_READ)) continue;  /* a set is readable, no more */
      inner = getset(m->fd, 1);
      if (inner == NULL || depth >= NESTMAX) {
        if (owner < 0) top->got[i] = -1;  /* closed: as epoll, it goes */
        continue;
      }
      np = flatten(top, inner, np, who, depth + 1);
      if (np < 0) return -1;
      continue;
    }
    if (want == 0 && (m->events & NS_EDGE)) continue;  /* disarmed */
    if (!room(top, np + 1)) return -1;
    top->pfd[np].fd = m->fd;
    top->pfd[np].events = (short)(((want & NS_READ) ? POLLIN : 0) |
                                  ((want & NS_WRITE) ? POLLOUT : 0));
    top->pfd[np].revents = 0;
    top->owner[np] = who;
    np++;
  }
  return np;
}


/* poll's revents to NS_READ/NS_WRITE: errors and hang-ups wake both */
static int frompoll (short re) {
  int r = 0;
  if (re & (POLLIN | POLLHUP | POLLERR)) r |= NS_READ;
  if (re & (POLLOUT | POLLHUP | POLLERR)) r |= NS_WRITE;
  return r;
}


/* what poll said, per member of 's' into got[] */
static void collect (Set *s, int np) {
  int k;
  for (k = 0; k < np; k++) {
    short re = s->pfd[k].revents;
    int o = s->owner[k];
    if (re == 0 || s->got[o] < 0) continue;
    if (s->m[o].isset) {  /* an inner member ready: the inner set reads */
      if (!(re & POLLNVAL)) s->got[o] |= NS_READ;
    }
    else if (re & POLLNVAL) s->got[o] = -1;  /* closed behind our back */
    else s->got[o] |= frompoll(re);
  }
}


/* up to 'max' reports from got[], from the cursor on; edges disarm */
static int report (Set *s, nsReadyEvent *evs, int max) {
  int i, j, n = 0, members = s->n;
  for (j = 0; j < members && n < max; j++) {
    i = (s->cursor + j) % members;
    if (s->got[i] > 0) {
      Member *m = &s->m[i];
      int ev = s->got[i];  /* only what was polled for, or both on a
                              hang-up or an error */
      if (m->events & NS_EDGE) m->armed &= ~ev;
      evs[n].fd = m->fd;
      evs[n].events = ev;
      n++;
    }
  }
  if (members > 0) s->cursor = (s->cursor + j) % members;
  for (i = s->n - 1; i >= 0; i--)  /* the closed ones go, as in epoll */
    if (s->got[i] < 0) drop(s, i);
  return n;
}


int ns_ready_wait (int set, nsReadyEvent *evs, int max, int ms) {
  Set *s = ownset(set);
  int np, r;
  if (s == NULL) return -1;
  if (s->n > s->gcap) {
    int *g = (int *)realloc(s->got, (size_t)s->n * sizeof *g);
    if (g == NULL) { errno = ENOMEM; return -1; }
    s->got = g;
    s->gcap = s->n;
  }
  if (s->n > 0) memset(s->got, 0, (size_t)s->n * sizeof *s->got);
  np = flatten(s, s, 0, -1, 0);
  if (np < 0) { errno = ENOMEM; return -1; }
  r = poll(np > 0 ? s->pfd : NULL, (nfds_t)np, ms);
  if (r < 0) return -1;  /* EINTR: the caller decides */
  collect(s, np);
  return report(s, evs, max);
}

/* }====== */


/* close a set and free its record; the last one frees the table, so
   nothing is left when every set was closed this way */
void ns_ready_close (int set) {
  Set *s = NULL;
  pthread_mutex_lock(&setlock);
  if (set >= 0 && set < nsetcap && (s = sets[set]) != NULL) {
    sets[set] = NULL;
    if (--nsets == 0) {
      free(sets);
      sets = NULL;
      nsetcap = 0;
    }
  }
  pthread_mutex_unlock(&setlock);
  setfree(s);
  close(set);
}


/* the backend's name, for tostring */
const char *ns_ready_name (void) {
  return "poll";
}
