/*
** bench/echo/load.c: a closed-loop load generator for line-echo servers.
** N connections each send one line and wait for it to come back, then
** send the next, for S seconds. Prints one line: "result requests=R
** rate=R/s p99=MS" (p99: the 99th percentile of the round trips, from a
** histogram of 1 us steps up to 1 s).
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

typedef struct { int fd; size_t got; double sent; } cl;

#define HBUCKETS 1000001   /* 1 us steps; the last one: 1 s or more */
static unsigned *hist;

static void record (double secs) {
  long us = (long)(secs * 1e6);
  if (us < 0) us = 0;
  if (us >= HBUCKETS) us = HBUCKETS - 1;
  hist[us]++;
}

static double p99 (long long done) {
  long long want = done - done / 100, seen = 0;
  long i;
  for (i = 0; i < HBUCKETS; i++) {
    seen += hist[i];
    if (seen >= want && seen > 0) return (double)i / 1000.0;
  }
  return 0;
}

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
  hist = (unsigned *)calloc(HBUCKETS, sizeof *hist);
  if (cs == NULL || hist == NULL) return 1;
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
  for (i = 0; i < n; i++) {
    cs[i].sent = t0;
    if (send(cs[i].fd, line, linelen, MSG_NOSIGNAL) != (ssize_t)linelen) errors++;
  }
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
        double t = now();
        c->got -= linelen;
        done++;
        record(t - c->sent);
        c->sent = t;
        if (send(c->fd, line, linelen, MSG_NOSIGNAL) != (ssize_t)linelen) errors++;
      }
    }
  }
  printf("result requests=%lld rate=%.0f p99=%.3f\n", done, (double)done / (now() - t0),
         p99(done));
  if (errors) fprintf(stderr, "load: %lld errors\n", errors);
  return 0;
}
