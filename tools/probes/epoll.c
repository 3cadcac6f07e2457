/* the epoll readiness backend (src/ready_epoll.c) */
#include <sys/epoll.h>

int main (void) {
  struct epoll_event ev = {0};
  int fd = epoll_create1(EPOLL_CLOEXEC);
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  return epoll_ctl(fd, EPOLL_CTL_ADD, 0, &ev) + epoll_wait(fd, &ev, 1, 0);
}
