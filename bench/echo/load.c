/*
** bench/echo/load.c: a closed-loop load generator for line-echo servers.
** N connections each send one line and wait for it to come back, then
** send the next, for S seconds. Prints requests per second.
** usage: load PORT N SECONDS [LINE_BYTES]
*/
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct { int fd; size_t got; } cl;

int main (int argc, char **argv) {
  struct sockaddr_in sa;
  struct epoll_event ev, evs[512];
  int port, n, i, k, ep, one = 1;
  double secs, t0, end;
  size_t linelen;
  long long done = 0, errors = 0;
  char line[1024], buf[65536];
  cl *cs;
  if (argc < 4) { fprintf(stderr, "usage: load PORT N SECONDS [LINE_BYTES]\n"); return 2; }
  port = atoi(argv[1]);
  n = atoi(argv[2]);
  secs = atof(argv[3]);
  linelen = argc > 4 ? (size_t)atoi(argv[4]) : 32;
  if (linelen < 2 || linelen > sizeof line) linelen = 32;
  memset(line, 'x', linelen - 1);
  line[linelen - 1] = '\n';
  cs = (cl *)calloc((size_t)n, sizeof *cs);
  if (cs == NULL) return 1;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ep = epoll_create1(EPOLL_CLOEXEC);
  for (i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      perror("connect");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    cs[i].fd = fd;
    ev.events = EPOLLIN;
    ev.data.ptr = &cs[i];
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  t0 = now();
  end = t0 + secs;
  for (i = 0; i < n; i++)
    if (send(cs[i].fd, line, linelen, MSG_NOSIGNAL) != (ssize_t)linelen) errors++;
  while (now() < end) {
    int m = epoll_wait(ep, evs, 512, 100);
    for (k = 0; k < m; k++) {
      cl *c = (cl *)evs[k].data.ptr;
      ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        errors++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        continue;
      }
      c->got += (size_t)r;
      while (c->got >= linelen) {
        c->got -= linelen;
        done++;
        if (send(c->fd, line, linelen, MSG_NOSIGNAL) != (ssize_t)linelen) errors++;
      }
    }
  }
  printf("%.0f\n", (double)done / (now() - t0));
  if (errors) fprintf(stderr, "load: %lld errors\n", errors);
  return 0;
}
