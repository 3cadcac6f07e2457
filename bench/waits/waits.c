/*
** bench/waits/waits.c: what a timed wait costs in C, mechanism by
** mechanism (issue 13 chose netsock's from these figures).
**
**   waits pingpong MODE COUNT   COUNT round trips of 32 bytes over
**                               loopback TCP (TCP_NODELAY) between this
**                               process and a child, both ends in MODE
**   waits late SECONDS...       how late SO_RCVTIMEO and poll(2) end,
**                               for each timeout given
**
** MODEs (how a recv that has to wait waits; 30 s timeouts):
**   block      blocking descriptor, no timeout: the yardstick
**   rcvtimeo   blocking, SO_RCVTIMEO/SO_SNDTIMEO set once
**   every      blocking, SO_RCVTIMEO set before every recv
**   pollrecv   non-blocking, poll(2) then recv (Python's way)
**   eagain     non-blocking, recv, EAGAIN, poll, recv (netsock before)
**   dontwait   blocking, recv(MSG_DONTWAIT) first, then a blocking recv
**
** pingpong prints round trips per second and the CPU (user+sys of both
** processes) per round trip; pin it (taskset -c 0) so that both ends
** share one CPU and the rate follows the CPU spent.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK, RCVTIMEO, EVERY, POLLRECV, EAGAINPOLL, DONTWAIT };
static const char *const modes[] = {
  "block", "rcvtimeo", "every", "pollrecv", "eagain", "dontwait", NULL
};
static int mode;

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die (const char *what) {
  perror(what);
  exit(1);
}

static void settimeo (int fd, int opt, double secs) {
  struct timeval tv;
  tv.tv_sec = (time_t)secs;
  tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
  if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) < 0) die("setsockopt");
}

static void setup (int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    die("setsockopt");
  if (mode == RCVTIMEO) {
    settimeo(fd, SO_RCVTIMEO, 30);
    settimeo(fd, SO_SNDTIMEO, 30);
  }
  if (mode == POLLRECV || mode == EAGAINPOLL)
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static ssize_t recvone (int fd, char *p, size_t n) {
  struct pollfd pfd;
  ssize_t r;
  pfd.fd = fd;
  pfd.events = POLLIN;
  switch (mode) {
    case EVERY:
      settimeo(fd, SO_RCVTIMEO, 30);
      return recv(fd, p, n, 0);
    case POLLRECV:
      if (poll(&pfd, 1, 30000) <= 0) return -1;
      return recv(fd, p, n, 0);
    case EAGAINPOLL:
      while ((r = recv(fd, p, n, 0)) < 0 && errno == EAGAIN)
        if (poll(&pfd, 1, 30000) <= 0) return -1;
      return r;
    case DONTWAIT:
      r = recv(fd, p, n, MSG_DONTWAIT);
      if (r < 0 && errno == EAGAIN) r = recv(fd, p, n, 0);
      return r;
    default:
      return recv(fd, p, n, 0);
  }
}

static void readn (int fd, char *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recvone(fd, p + got, n - got);
    if (r <= 0) die("recv");
    got += (size_t)r;
  }
}

static double cpu (int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int pingpong (long count) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  char buf[32];
  double t0, t, c0;
  long i;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
  pid_t pid;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, len) < 0 ||
      listen(lfd, 8) < 0 || getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
    die("listen");
  pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {  /* the echoing end */
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) die("accept");
    setup(fd);
    for (i = 0; i < count; i++) {
      readn(fd, buf, sizeof buf);
      if (send(fd, buf, sizeof buf, MSG_NOSIGNAL) != (ssize_t)sizeof buf)
        die("send");
    }
    _exit(0);
  }
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    die("connect");
  setup(fd);
  memset(buf, 'p', sizeof buf);
  c0 = cpu(RUSAGE_SELF);
  t0 = now();
  for (i = 0; i < count; i++) {
    if (send(fd, buf, sizeof buf, MSG_NOSIGNAL) != (ssize_t)sizeof buf)
      die("send");
    readn(fd, buf, sizeof buf);
  }
  t = now() - t0;
  if (waitpid(pid, NULL, 0) < 0) die("waitpid");
  printf("%-9s %8.0f RT/s %6.2f us CPU/RT\n", modes[mode], count / t,
         (cpu(RUSAGE_SELF) - c0 + cpu(RUSAGE_CHILDREN)) / count * 1e6);
  return 0;
}

static int late (int argc, char **argv) {
  int sv[2], i;
  char b;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    die("socketpair");
  printf("%10s %12s %10s %10s\n", "timeout", "SO_RCVTIMEO", "late", "poll late");
  for (i = 0; i < argc; i++) {
    double s = atof(argv[i]), t0, a, p;
    struct pollfd pfd;
    settimeo(sv[0], SO_RCVTIMEO, s);
    t0 = now();
    if (recv(sv[0], &b, 1, 0) >= 0 || errno != EAGAIN) die("recv");
    a = now() - t0;
    pfd.fd = sv[0];
    pfd.events = POLLIN;
    t0 = now();
    if (poll(&pfd, 1, (int)(s * 1000)) != 0) die("poll");
    p = now() - t0;
    printf("%9gs %11.4fs %+8.1fms %+8.2fms\n", s, a, (a - s) * 1e3, (p - s) * 1e3);
  }
  return 0;
}

int main (int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "pingpong")) {
    for (mode = 0; modes[mode] != NULL; mode++)
      if (!strcmp(modes[mode], argv[2])) return pingpong(atol(argv[3]));
  }
  if (argc >= 3 && !strcmp(argv[1], "late")) return late(argc - 2, argv + 2);
  fprintf(stderr, "usage: waits pingpong MODE COUNT | waits late SECONDS...\n");
  return 2;
}
