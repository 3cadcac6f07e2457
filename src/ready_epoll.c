/*
** ready_epoll.c: the readiness backend, on epoll(7). The task loop's
** set (wait.c), the poller object and select's wait inside a task
** (select.c) use only these functions, so another backend (poll:
** ready_poll.c; kqueue) is one more file with the same names:
**
**   ns_ready_open()                  a new set: a descriptor, readable
**                                    whenever one of its members is ready
**   ns_ready_add(set, fd, events)    watch fd for events (NS_READ,
**                                    NS_WRITE; NS_EDGE: edge-triggered)
**   ns_ready_modify(set, fd, events) change what fd is watched for
**   ns_ready_remove(set, fd)         stop watching fd
**   ns_ready_rearm(set, fd, events)  the caller waits for events on an
**                                    NS_EDGE member again (epoll: nothing
**                                    to do; ready_poll.c re-arms)
**   ns_ready_wait(set, evs, max, ms) up to 'max' ready members, waiting
**                                    at most ms milliseconds (-1: no limit)
**   ns_ready_close(set)              close the set (close(2) does too)
**
** Each returns -1 with errno on failure, and the errno values say the
** same on every backend: EEXIST (add: fd is in the set already), ENOENT
** (modify, remove: it is not), EPERM (add: this kind of descriptor
** cannot be watched: a regular file, which is always ready), EINTR
** (wait: a signal came; the caller decides). A set is closed with
** ns_ready_close (close(2) also works). Reported events are NS_READ and NS_WRITE; a hang-up or an
** error reports both directions, and the caller keeps what it asked for
** (ns_readywithin); epoll adds NS_HANGUP then (the other backends may).
*/
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "netsock.h"

#define MAXBATCH  256  /* per epoll_wait; the rest come on the next */


/* NS_READ/NS_WRITE/NS_EDGE to epoll's bits; a peer's shutdown reads */
static uint32_t toepoll (int events) {
  return ((events & NS_READ) ? (uint32_t)(EPOLLIN | EPOLLRDHUP) : 0) |
         ((events & NS_WRITE) ? (uint32_t)EPOLLOUT : 0) |
         ((events & NS_EDGE) ? (uint32_t)EPOLLET : 0);
}


/* epoll's bits to NS_READ/NS_WRITE: errors and hang-ups wake both and
   say NS_HANGUP too (the task loop: a state that no later edge reports) */
static int fromepoll (uint32_t ev) {
  int r = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? NS_HANGUP : 0;
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r |= NS_READ;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) r |= NS_WRITE;
  return r;
}


int ns_ready_open (void) {
  return epoll_create1(EPOLL_CLOEXEC);
}


static int ctl (int set, int op, int fd, int events) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = toepoll(events);
  ev.data.fd = fd;
  return epoll_ctl(set, op, fd, &ev);
}


int ns_ready_add (int set, int fd, int events) {
  return ctl(set, EPOLL_CTL_ADD, fd, events);
}


int ns_ready_modify (int set, int fd, int events) {
  return ctl(set, EPOLL_CTL_MOD, fd, events);
}


int ns_ready_remove (int set, int fd) {
  return epoll_ctl(set, EPOLL_CTL_DEL, fd, NULL);
}


/* edges are the kernel's: nothing to arm (the registration stays) */
int ns_ready_rearm (int set, int fd, int events) {
  (void)set; (void)fd; (void)events;
  return 0;
}


int ns_ready_wait (int set, nsReadyEvent *evs, int max, int ms) {
  struct epoll_event ev[MAXBATCH];
  int n, i;
  if (max > MAXBATCH) max = MAXBATCH;
  n = epoll_wait(set, ev, max, ms);
  for (i = 0; i < n; i++) {
    evs[i].fd = ev[i].data.fd;
    evs[i].events = fromepoll(ev[i].events);
  }
  return n;
}


/* the kernel frees the set with its descriptor */
void ns_ready_close (int set) {
  close(set);
}


/* the backend's name, for tostring */
const char *ns_ready_name (void) {
  return "epoll";
}
