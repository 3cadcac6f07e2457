/*
** src/win/ready_win.c: the readiness backend on Windows (the names of
** ready_epoll.c: ns_ready_*), over WSAPoll, and poll(2) for the rest of
** the core (ns_win_poll: posix.h renames poll to it).
**
** A set is a table of members kept here; its descriptor is a number no
** socket handle takes (1 mod 4, from NS_WIN_SETBASE up: ns_win_close
** tells it apart), so that a set can be a member of another set or be
** polled as the loop waits on a poller: it is readable when one of its
** members is ready, found by polling the members themselves. A wait
** gathers every socket below the set into one WSAPoll call (no limit of
** 64 or FD_SETSIZE), at most NS_WIN_DEPTH sets deep.
**
** Edge-triggered members (NS_EDGE, the task loop's registrations) are
** one-shot, as in ready_poll.c: a direction is reported once armed
** (ns_ready_rearm: the loop's call said EAGAIN and it is about to wait)
** and ready, and the report disarms it; registration arms nothing. So
** what an edge would report, the next poll sees as the present state,
** and an idle writable socket does not wake the loop for ever.
**
** No Lua here. Sets are made and used by the thread of their Lua state;
** the table of sets is shared by every state of the process, under a lock.
*/
#define NS_WIN_IMPL
#include <limits.h>
#include <stdlib.h>

#include "netsock.h"

#define NS_WIN_SETBASE  0x10001
#define NS_WIN_DEPTH    4

typedef struct {
  int fd;
  int events;   /* NS_READ | NS_WRITE asked */
  int armed;    /* of those, what may be reported (NS_EDGE: one-shot) */
  int edge;
  int lo, hi;   /* its sockets in the gathered poll array */
} nsMember;

typedef struct {
  int n, cap;
  nsMember *m;
} nsSet;

static SRWLOCK setslock = SRWLOCK_INIT;
static nsSet **sets;
static int nsets;


/* the set a descriptor names, or NULL */
static nsSet *toset (int fd) {
  nsSet *s = NULL;
  int i;
  if (fd < NS_WIN_SETBASE || (fd & 3) != 1) return NULL;
  i = (fd - NS_WIN_SETBASE) / 4;
  AcquireSRWLockShared(&setslock);
  if (i < nsets) s = sets[i];
  ReleaseSRWLockShared(&setslock);
  return s;
}


int ns_ready_open (void) {
  nsSet *s = (nsSet *)calloc(1, sizeof *s);
  int i, fd = -1;
  if (s == NULL) { errno = ENOMEM; return -1; }
  AcquireSRWLockExclusive(&setslock);
  for (i = 0; i < nsets && sets[i] != NULL; i++) {}
  if (i == nsets) {
    nsSet **p = (nsSet **)realloc(sets, (size_t)(nsets + 16) * sizeof *p);
    if (p != NULL) {
      memset(p + nsets, 0, 16 * sizeof *p);
      sets = p;
      nsets += 16;
    }
  }
  if (i < nsets) {
    sets[i] = s;
    fd = NS_WIN_SETBASE + 4 * i;
  }
  ReleaseSRWLockExclusive(&setslock);
  if (fd < 0) { free(s); errno = ENOMEM; }
  return fd;
}


/*
** close(2) for every kind of descriptor the core holds: a socket handle
** (a multiple of 4), a readiness set (1 mod 4, from NS_WIN_SETBASE), a
** file the core opened (ns_win_open: never a multiple of 4).
*/
int ns_win_close (int fd) {
  nsSet *s = NULL;
  int i = (fd - NS_WIN_SETBASE) / 4;
  if (fd < 0) { errno = EBADF; return -1; }
  if ((fd & 3) == 0) {
    if (closesocket((SOCKET)(unsigned)fd) == SOCKET_ERROR)
      return ns_win_seterrno(), -1;
    return 0;
  }
  if (fd < NS_WIN_SETBASE || (fd & 3) != 1) return _close(fd);
  AcquireSRWLockExclusive(&setslock);
  if (i < nsets) {
    s = sets[i];
    sets[i] = NULL;
  }
  ReleaseSRWLockExclusive(&setslock);
  if (s == NULL) { errno = EBADF; return -1; }
  free(s->m);
  free(s);
  return 0;
}


static nsMember *find (nsSet *s, int fd) {
  int i;
  for (i = 0; i < s->n; i++)
    if (s->m[i].fd == fd) return &s->m[i];
  return NULL;
}


/* a socket handle or a set: what can be watched (a file cannot: EPERM) */
static int watchable (int fd) {
  return (fd & 3) == 0 || toset(fd) != NULL;
}


int ns_ready_add (int set, int fd, int events) {
  nsSet *s = toset(set);
  nsMember *m;
  if (s == NULL || fd < 0) { errno = EBADF; return -1; }
  if (!watchable(fd)) { errno = EPERM; return -1; }
  if (find(s, fd) != NULL) { errno = EEXIST; return -1; }
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 16;
    nsMember *p = (nsMember *)realloc(s->m, (size_t)cap * sizeof *p);
    if (p == NULL) { errno = ENOMEM; return -1; }
    s->m = p;
    s->cap = cap;
  }
  m = &s->m[s->n++];
  memset(m, 0, sizeof *m);
  m->fd = fd;
  m->events = events & (NS_READ | NS_WRITE);
  m->edge = (events & NS_EDGE) != 0;
  m->armed = m->edge ? 0 : m->events;  /* an edge member: once rearmed */
  return 0;
}


int ns_ready_modify (int set, int fd, int events) {
  nsSet *s = toset(set);
  nsMember *m;
  if (s == NULL) { errno = EBADF; return -1; }
  if ((m = find(s, fd)) == NULL) { errno = ENOENT; return -1; }
  m->events = events & (NS_READ | NS_WRITE);
  m->edge = (events & NS_EDGE) != 0;
  m->armed = m->edge ? 0 : m->events;
  return 0;
}


/* an edge member reports 'events' (of those it watches) once more */
int ns_ready_rearm (int set, int fd, int events) {
  nsSet *s = toset(set);
  nsMember *m;
  if (s == NULL) { errno = EBADF; return -1; }
  if ((m = find(s, fd)) == NULL) { errno = ENOENT; return -1; }
  m->armed |= events & m->events;
  return 0;
}


int ns_ready_remove (int set, int fd) {
  nsSet *s = toset(set);
  nsMember *m;
  if (s == NULL) { errno = EBADF; return -1; }
  if ((m = find(s, fd)) == NULL) { errno = ENOENT; return -1; }
  *m = s->m[--s->n];
  return 0;
}


/* {====== Gathering the sockets below a set into one WSAPoll ====== */

typedef struct {
  WSAPOLLFD *p;
  int n, cap;
} nsGather;

static int addpoll (nsGather *g, int fd, int events) {
  if (g->n == g->cap) {
    int cap = g->cap ? 2 * g->cap : 64;
    WSAPOLLFD *p = (WSAPOLLFD *)realloc(g->p, (size_t)cap * sizeof *p);
    if (p == NULL) { errno = ENOMEM; return -1; }
    g->p = p;
    g->cap = cap;
  }
  g->p[g->n].fd = (SOCKET)(unsigned)fd;
  g->p[g->n].events = (short)(((events & NS_READ) ? POLLRDNORM : 0) |
                              ((events & NS_WRITE) ? POLLWRNORM : 0));
  g->p[g->n].revents = 0;
  g->n++;
  return 0;
}


/* every socket below 's' that may be reported ('top': the set waited
   on, whose one-shot members count only while armed) */
static int gather (nsGather *g, nsSet *s, int depth, int top) {
  int i;
  for (i = 0; i < s->n; i++) {
    nsMember *m = &s->m[i];
    nsSet *sub = toset(m->fd);
    int ev = (top && m->edge) ? m->armed : m->events;
    m->lo = g->n;
    if (sub != NULL) {
      if (ev != 0 && depth < NS_WIN_DEPTH && gather(g, sub, depth + 1, 0) < 0)
        return -1;
    }
    else if (ev != 0 && addpoll(g, m->fd, ev) < 0)
      return -1;
    m->hi = g->n;
  }
  return 0;
}


/* NS_READ/NS_WRITE a member is ready for after the poll (a set: read,
   when one of its sockets is ready); errors and hang-ups: both */
static int readyof (const nsGather *g, const nsMember *m, int isset) {
  int r = 0, k;
  for (k = m->lo; k < m->hi; k++) {
    short ev = g->p[k].revents;
    if (isset) { if (ev != 0) return NS_READ; continue; }
    if (ev & (POLLRDNORM | POLLRDBAND)) r |= NS_READ;
    if (ev & POLLWRNORM) r |= NS_WRITE;
    if (ev & (POLLERR | POLLHUP | POLLNVAL)) r |= NS_READ | NS_WRITE;
  }
  return r;
}


/* whether 'fd' is a socket handle that is open (getsockopt answers) */
static int opensocket (int fd) {
  int type, len = (int)sizeof type;
  return getsockopt((SOCKET)(unsigned)fd, SOL_SOCKET, SO_TYPE, (char *)&type,
                    &len) == 0;
}


/*
** Drop the members that were closed behind the set's back, as close(2)
** drops an epoll registration: WSAPoll fails the whole call on one
** closed socket (WSAENOTSOCK) where poll(2) marks it POLLNVAL. Returns
** how many went.
*/
static int prune (nsSet *s, int depth) {
  int i = 0, gone = 0;
  while (i < s->n) {
    nsSet *sub = toset(s->m[i].fd);
    if (sub != NULL) {
      if (depth < NS_WIN_DEPTH) gone += prune(sub, depth + 1);
      i++;
    }
    else if (!opensocket(s->m[i].fd)) {
      s->m[i] = s->m[--s->n];
      gone++;
    }
    else i++;
  }
  return gone;
}


/* WSAPoll of what was gathered; with nothing to poll, a plain sleep */
static int pollall (nsGather *g, int ms) {
  int n;
  if (g->n == 0) {
    Sleep(ms < 0 ? INFINITE : (DWORD)ms);
    return 0;
  }
  n = WSAPoll(g->p, (ULONG)g->n, ms);
  if (n == SOCKET_ERROR) return ns_win_seterrno(), -1;
  return n;
}

/* }====== */


int ns_ready_wait (int set, nsReadyEvent *evs, int max, int ms) {
  nsSet *s = toset(set);
  nsGather g = {NULL, 0, 0};
  int i, n = 0;
  if (s == NULL) { errno = EBADF; return -1; }
  for (;;) {
    int r = gather(&g, s, 0, 1);
    if (r == 0) r = pollall(&g, ms);
    if (r >= 0) break;
    if (errno == ENOTSOCK && prune(s, 0) > 0) {  /* a member closed: again */
      g.n = 0;
      continue;
    }
    r = errno;
    free(g.p);
    errno = r;
    return -1;
  }
  for (i = 0; i < s->n && n < max; i++) {
    nsMember *m = &s->m[i];
    int r = readyof(&g, m, toset(m->fd) != NULL);
    if (m->edge) r &= m->armed;
    if (r == 0) continue;
    if (m->edge) m->armed &= ~r;  /* one-shot: until rearmed */
    evs[n].fd = m->fd;
    evs[n].events = r;
    n++;
  }
  free(g.p);
  return n;
}


void ns_ready_close (int set) {
  ns_win_close(set);
}


const char *ns_ready_name (void) {
  return "wsapoll";
}


/*
** poll(2) for the core (select, a wait outside the loop): sockets
** through WSAPoll, a set readable when one of its members is, a
** descriptor that is neither (a file) always ready, as poll(2) says of a
** regular file; a negative descriptor ignored.
*/
int ns_win_poll (struct pollfd *fds, nfds_t n, int ms) {
  nsGather g = {NULL, 0, 0};
  nfds_t i;
  int ready = 0, *lo, r;
  if (n > (nfds_t)INT_MAX / 2) { errno = EINVAL; return -1; }
  lo = (int *)malloc((size_t)(n + 1) * sizeof *lo);
  if (lo == NULL) { errno = ENOMEM; return -1; }
  for (i = 0; i < n; i++) {
    int fd = (int)fds[i].fd, ev = ((fds[i].events & POLLIN) ? NS_READ : 0) |
                             ((fds[i].events & POLLOUT) ? NS_WRITE : 0);
    nsSet *sub;
    fds[i].revents = 0;
    lo[i] = g.n;
    if (fd < 0) continue;  /* poll(2) ignores it */
    if ((sub = toset(fd)) != NULL) r = gather(&g, sub, 1, 0);
    else if ((fd & 3) != 0) {  /* a file: always ready */
      fds[i].revents = (short)(fds[i].events & (POLLIN | POLLOUT));
      ready++;
      r = 0;
    }
    else if (!opensocket(fd)) {  /* closed: POLLNVAL, as poll(2) says */
      fds[i].revents = POLLNVAL;
      ready++;
      r = 0;
    }
    else r = addpoll(&g, fd, ev);
    if (r < 0) { free(lo); free(g.p); return -1; }
  }
  lo[n] = g.n;
  if ((g.n > 0 || ready == 0) && pollall(&g, ready ? 0 : ms) < 0) {
    int err = errno;
    free(lo); free(g.p);
    errno = err;
    return -1;
  }
  for (i = 0; i < n; i++) {
    int k, isset = (int)fds[i].fd >= 0 && toset((int)fds[i].fd) != NULL;
    short got = 0;
    for (k = lo[i]; k < lo[i + 1]; k++) {
      short ev = g.p[k].revents;
      if (isset) { if (ev != 0) got |= POLLIN; continue; }
      if (ev & (POLLRDNORM | POLLRDBAND)) got |= POLLIN;
      if (ev & POLLWRNORM) got |= POLLOUT;
      got |= (short)(ev & (POLLERR | POLLHUP | POLLNVAL));
    }
    got &= (short)(fds[i].events | POLLERR | POLLHUP | POLLNVAL);
    if (got != 0 && fds[i].revents == 0) ready++;
    fds[i].revents |= got;
  }
  free(lo);
  free(g.p);
  return ready;
}
