/*
** bench/instr/reqs.c: a closed-loop client that makes a fixed number of
** requests, for counting a task server's instructions per request
** (bench/instr's "HTTP request" and "echo line" under callgrind). CONNS
** connections each send a request and wait for the whole reply, then
** send the next, until COUNT replies have come; then it closes them all
** and prints "result count=COUNT".
**   http: "GET / HTTP/1.1" with keep-alive; a reply is whole at the end
**         of its head plus its Content-Length
**   line: a 32-byte line, echoed
** PAUSE (microseconds, optional) makes it go in rounds: a request on
** every connection, all the replies, then a pause that long before the
** next round. Every request then finds the server idle, waiting in its
** loop, and a round is one batch of CONNS wake-ups (a count that does
** not depend on timing).
** usage: reqs PORT CONNS COUNT http|line [PAUSE]
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
#include <unistd.h>

typedef struct { int fd; size_t got; char buf[4096]; } cl;

static const char *req;
static size_t reqlen;
static int http;

/* bytes of the first whole reply in c->buf, or 0 */
static size_t whole (const cl *c) {
  const char *end, *cl_;
  size_t head;
  if (!http) return c->got >= reqlen ? reqlen : 0;
  end = memmem(c->buf, c->got, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  head = (size_t)(end - c->buf) + 4;
  cl_ = memmem(c->buf, head, "Content-Length:", 15);
  if (cl_ == NULL) return head;
  head += (size_t)strtoul(cl_ + 15, NULL, 10);
  return c->got >= head ? head : 0;
}

int main (int argc, char **argv) {
  struct sockaddr_in sa;
  struct epoll_event ev, evs[512];
  int n, i, k, ep, one = 1;
  size_t w;
  long long count, done = 0, sent = 0;
  long pause;
  cl *cs;
  static char httpreq[64];
  if (argc < 5) { fprintf(stderr, "usage: reqs PORT CONNS COUNT http|line\n"); return 2; }
  n = atoi(argv[2]);
  count = atoll(argv[3]);
  http = strcmp(argv[4], "http") == 0;
  pause = argc > 5 ? atol(argv[5]) : 0;
  /* wrk's request, byte for byte (its Host names the port): 41 bytes
     with a 5-digit port, over Lua's 40 of a short string, so that the
     server's strings are allocated and collected as under wrk (without
     the port, 35 bytes were interned and never allocated) */
  snprintf(httpreq, sizeof httpreq, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n",
           argv[1]);
  req = http ? httpreq : "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
  reqlen = strlen(req);
  cs = (cl *)calloc((size_t)n, sizeof *cs);
  if (cs == NULL) return 1;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[1]));
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
  for (i = 0; i < n && sent < count; i++, sent++)
    if (send(cs[i].fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) return 1;
  if (pause > 0) {  /* rounds: see above */
    while (done < count) {
      long long round = sent - done;
      while (round > 0) {
        int m = epoll_wait(ep, evs, 512, 30000);
        if (m <= 0) { fprintf(stderr, "reqs: no reply for 30 s\n"); return 1; }
        for (k = 0; k < m; k++) {
          cl *c = (cl *)evs[k].data.ptr;
          ssize_t r = recv(c->fd, c->buf + c->got, sizeof c->buf - c->got, MSG_DONTWAIT);
          if (r <= 0) {
            if (r < 0 && errno == EAGAIN) continue;
            fprintf(stderr, "reqs: connection lost\n");
            return 1;
          }
          c->got += (size_t)r;
          while ((w = whole(c)) > 0) {
            memmove(c->buf, c->buf + w, c->got - w);
            c->got -= w;
            done++;
            round--;
          }
        }
      }
      usleep((useconds_t)pause);
      for (i = 0; i < n && sent < count; i++, sent++)
        if (send(cs[i].fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) return 1;
    }
  }
  while (done < count) {
    int m = epoll_wait(ep, evs, 512, 30000);
    if (m <= 0) { fprintf(stderr, "reqs: no reply for 30 s\n"); return 1; }
    for (k = 0; k < m; k++) {
      cl *c = (cl *)evs[k].data.ptr;
      ssize_t r = recv(c->fd, c->buf + c->got, sizeof c->buf - c->got, MSG_DONTWAIT);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        fprintf(stderr, "reqs: connection lost\n");
        return 1;
      }
      c->got += (size_t)r;
      while ((w = whole(c)) > 0) {
        memmove(c->buf, c->buf + w, c->got - w);
        c->got -= w;
        done++;
        if (sent < count) {
          sent++;
          if (send(c->fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) return 1;
        }
      }
    }
  }
  for (i = 0; i < n; i++) close(cs[i].fd);
  printf("result count=%lld\n", done);
  return 0;
}
