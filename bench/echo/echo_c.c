/*
** bench/echo/echo_c.c: the reference line-echo server: one thread,
** epoll, non-blocking sockets; echoes every complete line back, and
** after a short read waits for epoll instead of reading to EAGAIN.
** usage: echo_c PORT
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

#define BUFSZ 4096

typedef struct { int fd; size_t len; char buf[BUFSZ]; } conn;

int main (int argc, char **argv) {
  struct sockaddr_in sa;
  struct epoll_event ev, evs[256];
  int one = 1, lfd, ep, i, n;
  if (argc < 2) { fprintf(stderr, "usage: echo_c PORT\n"); return 2; }
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[1]));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) {
    perror("bind/listen");
    return 1;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  for (;;) {
    n = epoll_wait(ep, evs, 256, -1);
    for (i = 0; i < n; i++) {
      conn *c = (conn *)evs[i].data.ptr;
      if (c == NULL) {  /* the listener */
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          c = (conn *)malloc(sizeof *c);
          if (c == NULL) { close(fd); continue; }
          c->fd = fd;
          c->len = 0;
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      for (;;) {
        size_t asked = BUFSZ - c->len;
        ssize_t r = recv(c->fd, c->buf + c->len, asked, 0);
        if (r > 0) {
          char *nl;
          c->len += (size_t)r;
          nl = memrchr(c->buf, '\n', c->len);
          if (nl != NULL) {  /* echo every complete line (blocking is rare) */
            size_t m = (size_t)(nl - c->buf) + 1, off = 0;
            while (off < m) {
              ssize_t w = send(c->fd, c->buf + off, m - off, MSG_NOSIGNAL);
              if (w > 0) off += (size_t)w;
              else if (w < 0 && errno != EAGAIN && errno != EINTR) break;
            }
            memmove(c->buf, c->buf + m, c->len - m);
            c->len -= m;
          }
          else if (c->len == BUFSZ) c->len = 0;  /* overlong line: drop */
          /* a short read emptied the queue: epoll (level-triggered) says
             when more comes, so no recv that would only say EAGAIN (the
             guess nginx and netsock's tasks make: 2 system calls a line) */
          if ((size_t)r < asked) break;
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        close(c->fd);  /* end of stream or error */
        free(c);
        break;
      }
    }
  }
}
