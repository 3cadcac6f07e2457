/*
** bench/impl/c.c: the C side of the benchmarks. Plain blocking
** sockets, the system calls a C programmer would write, nothing
** clever: the yardstick netsock, LuaSocket and Python are held to.
** Built by bench/run into build/bench/c with -O2.
**
**   c bulk-recv                     listen, print port, recv 64 KiB until EOF
**   c bulk-send PORT BYTES CHUNK    connect, send BYTES in CHUNK writes
**   c pp-server                     listen, print port, echo SIZE-byte messages
**   c pp-client PORT COUNT SIZE     COUNT round trips of SIZE bytes
**   c udp-recv COUNT                bind, print port, count datagrams
**   c udp-send PORT COUNT SIZE      COUNT datagrams of SIZE bytes, then end marks
**   c udp-fill PORT SIZE            per line N on stdin: N datagrams of SIZE
**                                   bytes, then "filled N" (bench/udp's drain)
**   c udp-drain                     the socket on descriptor 3 (pre-filled by
**                                   bench/udp): per line N on stdin, recvfrom
**                                   N datagrams, then "drained"; "end": result
**   c udp-drain-mmsg                the same with recvmmsg, 32 at a time
**   c accept-server COUNT BATCH     per line on stdin, BATCH times: accept,
**                                   read 1 byte, write 1 byte, close
**   c accept-client PORT COUNT BATCH  fills the accept queue BATCH at a time
**   c lines-send PORT COUNT         COUNT lines of 40 bytes (bench/instr)
**
** BENCH_SOCK_TIMEOUT=S (the timed variants): every descriptor gets
** SO_RCVTIMEO and SO_SNDTIMEO of S seconds, set once where it is made
** (socket, accept4, connect): the timeout a C programmer gives every
** call on a socket. A call that runs out fails with EAGAIN (a failure
** here).
**
** Every program prints "port N" first when it listens, and one line
** "result key=value ..." at the end: wall seconds and process CPU
** seconds (user+sys, CLOCK_PROCESS_CPUTIME_ID) over the measured part.
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
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now (clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#define WALL() now(CLOCK_MONOTONIC)
#define CPU()  now(CLOCK_PROCESS_CPUTIME_ID)

static void die (const char *what) {
  perror(what);
  exit(1);
}

/* BENCH_SOCK_TIMEOUT on 'fd' (nothing without it); returns fd */
static int timed (int fd) {
  static double secs = -1;
  struct timeval tv;
  if (secs < 0) {
    const char *e = getenv("BENCH_SOCK_TIMEOUT");
    secs = e ? atof(e) : 0;
  }
  if (secs <= 0 || fd < 0) return fd;
  tv.tv_sec = (time_t)secs;
  tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
    die("setsockopt SO_RCVTIMEO");
  return fd;
}

static struct sockaddr_in loopback (int port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

/* a socket bound to 127.0.0.1:0; prints "port N" */
static int bound (int type) {
  struct sockaddr_in sa = loopback(0);
  socklen_t len = sizeof sa;
  int fd = timed(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0) die("listen");
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) die("getsockname");
  printf("port %d\n", ntohs(sa.sin_port));
  fflush(stdout);
  return fd;
}

static int connected (int port) {
  struct sockaddr_in sa = loopback(port);
  int fd = timed(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
  return fd;
}

static void nodelay (int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    die("setsockopt");
}

/*
** How a blocking read waits. "block" (default): a blocking descriptor,
** the kernel waits inside recv. "nb": a non-blocking descriptor, recv
** first and poll(2) on EAGAIN, as netsock and LuaSocket do. "pollfirst":
** non-blocking, poll(2) before every recv. Set by BENCH_C_WAIT.
*/
static int waitmode = 0;

static void setwaitmode (int fd) {
  const char *m = getenv("BENCH_C_WAIT");
  if (m == NULL || !strcmp(m, "block")) return;
  waitmode = !strcmp(m, "nb") ? 1 : 2;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

static ssize_t recvwait (int fd, char *p, size_t n) {
  struct pollfd pfd;
  ssize_t r;
  if (waitmode == 0) return recv(fd, p, n, 0);
  pfd.fd = fd;
  pfd.events = POLLIN;
  if (waitmode == 2 && poll(&pfd, 1, -1) < 0) return -1;
  while ((r = recv(fd, p, n, 0)) < 0 && errno == EAGAIN)
    if (poll(&pfd, 1, -1) < 0) return -1;
  return r;
}

/* read exactly n bytes; 0 at EOF before the first byte */
static int readn (int fd, char *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recvwait(fd, p + got, n - got);
    if (r > 0) got += (size_t)r;
    else if (r == 0) { if (got == 0) return 0; die("short message"); }
    else if (errno != EINTR) die("recv");
  }
  return 1;
}

static void writen (int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r >= 0) { p += r; n -= (size_t)r; }
    else if (errno != EINTR) die("send");
  }
}


static int bulk_recv (void) {
  static char buf[65536];
  int lfd = bound(SOCK_STREAM), fd;
  double w0, c0;
  long long total = 0;
  long calls = 0;
  ssize_t n;
  fd = timed(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
  if (fd < 0) die("accept");
  w0 = WALL(); c0 = CPU();
  for (;;) {
    n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) { total += n; calls++; }
    else if (n == 0) break;
    else if (errno != EINTR) die("recv");
  }
  printf("result bytes=%lld calls=%ld wall=%.6f cpu=%.6f\n", total, calls,
         WALL() - w0, CPU() - c0);
  return 0;
}


static int bulk_send (int port, long long bytes, size_t chunk) {
  char *buf = malloc(chunk);
  int fd = connected(port);
  double w0 = WALL(), c0 = CPU();
  long long sent = 0;
  memset(buf, 'x', chunk);
  while (sent < bytes) {
    size_t n = (size_t)(bytes - sent < (long long)chunk ? bytes - sent : (long long)chunk);
    writen(fd, buf, n);
    sent += (long long)n;
  }
  close(fd);
  printf("result bytes=%lld wall=%.6f cpu=%.6f\n", sent, WALL() - w0, CPU() - c0);
  return 0;
}


static int pp_server (size_t size) {
  char buf[65536];
  int lfd = bound(SOCK_STREAM), fd;
  double w0, c0;
  long count = 0;
  fd = timed(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
  if (fd < 0) die("accept");
  nodelay(fd);
  setwaitmode(fd);
  w0 = WALL(); c0 = CPU();
  while (readn(fd, buf, size)) {
    writen(fd, buf, size);
    count++;
  }
  printf("result count=%ld wall=%.6f cpu=%.6f\n", count, WALL() - w0, CPU() - c0);
  return 0;
}


static int pp_client (int port, long count, size_t size) {
  char buf[65536];
  int fd = connected(port);
  double w0, c0;
  long i;
  nodelay(fd);
  setwaitmode(fd);
  memset(buf, 'p', size);
  w0 = WALL(); c0 = CPU();
  for (i = 0; i < count; i++) {
    writen(fd, buf, size);
    if (!readn(fd, buf, size)) die("closed");
  }
  printf("result count=%ld wall=%.6f cpu=%.6f\n", count, WALL() - w0, CPU() - c0);
  close(fd);
  return 0;
}


/*
** Count datagrams until COUNT came or an end mark (1 byte) arrives; the
** clock stops there. Blocking, no timeout, as the other receivers: the
** sender sends 50 end marks over 100 ms, and bench/benchlib.py bounds
** the run anyway. No clock is read per datagram (reading the process CPU
** clock is a system call).
*/
static int udp_recv (long count) {
  char buf[65536];
  int fd = bound(SOCK_DGRAM);
  double w0 = 0, c0 = 0;
  long got = 0;
  ssize_t n;
  while (got < count) {
    struct sockaddr_in from;  /* the sender's address, as every other side gets */
    socklen_t fromlen = sizeof from;
    n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recvfrom");
    }
    if (n == 1) break;  /* end mark */
    if (got++ == 0) { w0 = WALL(); c0 = CPU(); }
  }
  printf("result count=%ld wall=%.6f cpu=%.6f\n", got, WALL() - w0, CPU() - c0);
  return 0;
}


static int udp_send (int port, long count, size_t size) {
  char buf[65536];
  struct sockaddr_in sa = loopback(port);
  int fd = timed(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), i;
  double w0, c0;
  long k;
  if (fd < 0) die("socket");
  memset(buf, 'D', size);
  w0 = WALL(); c0 = CPU();
  for (k = 0; k < count; k++)
    if (sendto(fd, buf, size, 0, (struct sockaddr *)&sa, sizeof sa) < 0 &&
        errno != ENOBUFS && errno != EINTR)
      die("sendto");
  printf("result count=%ld wall=%.6f cpu=%.6f\n", count, WALL() - w0, CPU() - c0);
  fflush(stdout);
  for (i = 0; i < 50; i++) {  /* end marks, 2 ms apart */
    usleep(2000);
    sendto(fd, "E", 1, 0, (struct sockaddr *)&sa, sizeof sa);
  }
  return 0;
}


/*
** bench/udp's drain table: a filler and two receivers. The receivers
** take the socket bench/udp made (descriptor 3: bound to 127.0.0.1,
** the largest receive buffer the system allows), so every
** implementation drains the same kind of queue; per line N on stdin
** (bench/udp has just queued N datagrams) they receive N and print
** "drained"; only the draining is timed. "end": the result line.
*/
static int udp_fill (int port, size_t size) {
  char buf[65536], line[64];
  struct sockaddr_in sa = loopback(port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  long k, n, bad;
  if (fd < 0) die("socket");
  memset(buf, 'D', size);
  while (fgets(line, sizeof line, stdin) != NULL) {
    n = atol(line);
    for (k = bad = 0; k < n; k++)
      if (sendto(fd, buf, size, 0, (struct sockaddr *)&sa, sizeof sa) < 0) bad++;
    printf("filled %ld %ld\n", n, bad);
    fflush(stdout);
  }
  return 0;
}

/* the next line N on stdin; 0 at "end" */
static long drain_next (double *wall, double *cpu, long got) {
  char line[64];
  fflush(stdout);
  if (fgets(line, sizeof line, stdin) == NULL) die("stdin");
  if (strncmp(line, "end", 3) == 0) {
    printf("result count=%ld wall=%.6f cpu=%.6f\n", got, *wall, *cpu);
    return 0;
  }
  return atol(line);
}

static int udp_drain (void) {
  char buf[65536];
  double wall = 0, cpu = 0, w0, c0;
  long got = 0, n, k;
  while ((n = drain_next(&wall, &cpu, got)) > 0) {
    w0 = WALL(); c0 = CPU();
    for (k = 0; k < n; k++) {
      struct sockaddr_in from;  /* the sender's address, as every other side gets */
      socklen_t fromlen = sizeof from;
      if (recvfrom(3, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen) < 0) {
        if (errno == EINTR) { k--; continue; }
        die("recvfrom");
      }
    }
    wall += WALL() - w0; cpu += CPU() - c0;
    got += n;
    printf("drained\n");
  }
  return 0;
}

/* the same with recvmmsg, 32 datagrams of at most 2048 bytes a call
   (netsock's recvmany(32) defaults): what any user space can reach */
static int udp_drain_mmsg (void) {
  static char buf[32][2048];
  struct mmsghdr m[32];
  struct iovec iov[32];
  struct sockaddr_in from[32];
  double wall = 0, cpu = 0, w0, c0;
  long got = 0, n, k;
  int i, r;
  while ((n = drain_next(&wall, &cpu, got)) > 0) {
    w0 = WALL(); c0 = CPU();
    for (k = 0; k < n; k += r) {
      int want = n - k < 32 ? (int)(n - k) : 32;
      for (i = 0; i < want; i++) {
        iov[i].iov_base = buf[i];
        iov[i].iov_len = sizeof buf[i];
        memset(&m[i].msg_hdr, 0, sizeof m[i].msg_hdr);
        m[i].msg_hdr.msg_name = &from[i];
        m[i].msg_hdr.msg_namelen = sizeof from[i];
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
      }
      r = recvmmsg(3, m, (unsigned)want, MSG_WAITFORONE, NULL);
      if (r < 0) {
        if (errno == EINTR) { r = 0; continue; }
        die("recvmmsg");
      }
    }
    wall += WALL() - w0; cpu += CPU() - c0;
    got += n;
    printf("drained\n");
  }
  return 0;
}


/*
** Accept COUNT connections in batches of BATCH: before each batch wait
** for a line on stdin (the driver's "go": the client has filled the
** accept queue), then accept, read 1 byte, write it back, close, BATCH
** times. Only the batches are timed: the server never waits for a client.
*/
static int accept_server (long count, long batch) {
  int lfd = bound(SOCK_STREAM), fd;
  double wall = 0, cpu = 0, w0, c0;
  long done = 0, i, n;
  char c, line[64];
  while (done < count) {
    if (fgets(line, sizeof line, stdin) == NULL) die("stdin");
    n = count - done < batch ? count - done : batch;
    w0 = WALL(); c0 = CPU();
    for (i = 0; i < n; i++) {
      fd = timed(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
      if (fd < 0) die("accept");
      if (readn(fd, &c, 1)) writen(fd, &c, 1);
      close(fd);
    }
    wall += WALL() - w0; cpu += CPU() - c0;
    done += n;
  }
  printf("result count=%ld wall=%.6f cpu=%.6f\n", done, wall, cpu);
  return 0;
}


/*
** The accept load, the same for every server: in batches of BATCH,
** connect BATCH non-blocking sockets and send one byte on each (they wait
** in the server's accept queue), print "ready" (the driver then tells the
** server to go), then read each reply and close. Prints failures.
*/
static int accept_client (int port, long count, long batch) {
  struct sockaddr_in sa = loopback(port);
  struct pollfd *pfd = calloc((size_t)batch, sizeof *pfd);
  long done = 0, failed = 0, n, i, left;
  double w0 = WALL(), c0 = CPU();
  char c = 'a';
  while (done < count) {
    n = count - done < batch ? count - done : batch;
    for (i = 0; i < n; i++) {
      pfd[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (pfd[i].fd < 0) die("socket");
      if (connect(pfd[i].fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
          errno != EINPROGRESS)
        die("connect");
      pfd[i].events = POLLOUT;
      pfd[i].revents = 0;
    }
    for (left = n; left > 0;) {  /* every connect done, one byte each */
      if (poll(pfd, (nfds_t)n, 10000) <= 0) die("poll (connect stalled)");
      for (i = 0; i < n; i++) {
        if (pfd[i].events != POLLOUT || pfd[i].revents == 0) continue;
        if (send(pfd[i].fd, &c, 1, MSG_NOSIGNAL) != 1) failed++;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
        left--;
      }
    }
    printf("ready %ld\n", n);
    fflush(stdout);
    for (left = n; left > 0;) {  /* the replies; close */
      if (poll(pfd, (nfds_t)n, 30000) <= 0) die("poll (server stalled)");
      for (i = 0; i < n; i++) {
        if (pfd[i].fd < 0 || pfd[i].revents == 0) continue;
        if (recv(pfd[i].fd, &c, 1, 0) != 1) failed++;
        close(pfd[i].fd);
        pfd[i].fd = -1;
        left--;
      }
    }
    done += n;
  }
  printf("result count=%ld failed=%ld wall=%.6f cpu=%.6f\n", done, failed,
         WALL() - w0, CPU() - c0);
  return 0;
}


/* COUNT lines of 40 bytes (39 and "\n") in writes of up to 64 KiB */
static int lines_send (int port, long count) {
  static char buf[65520];  /* a multiple of 40 */
  int fd = connected(port);
  double w0 = WALL(), c0 = CPU();
  long left = count;
  size_t i;
  for (i = 0; i < sizeof buf; i++)
    buf[i] = (i % 40 == 39) ? '\n' : (char)('a' + i % 26);
  while (left > 0) {
    long n = left < (long)(sizeof buf / 40) ? left : (long)(sizeof buf / 40);
    writen(fd, buf, (size_t)n * 40);
    left -= n;
  }
  close(fd);
  printf("result count=%ld wall=%.6f cpu=%.6f\n", count, WALL() - w0, CPU() - c0);
  return 0;
}


int main (int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "";
#define ARG(i) (argc > (i) ? atoll(argv[i]) : 0)
  if (!strcmp(m, "bulk-recv")) return bulk_recv();
  if (!strcmp(m, "bulk-send")) return bulk_send((int)ARG(2), ARG(3), (size_t)ARG(4));
  if (!strcmp(m, "pp-server")) return pp_server((size_t)ARG(2));
  if (!strcmp(m, "pp-client")) return pp_client((int)ARG(2), (long)ARG(3), (size_t)ARG(4));
  if (!strcmp(m, "udp-recv")) return udp_recv((long)ARG(2));
  if (!strcmp(m, "udp-send")) return udp_send((int)ARG(2), (long)ARG(3), (size_t)ARG(4));
  if (!strcmp(m, "udp-fill")) return udp_fill((int)ARG(2), (size_t)ARG(3));
  if (!strcmp(m, "udp-drain")) return udp_drain();
  if (!strcmp(m, "udp-drain-mmsg")) return udp_drain_mmsg();
  if (!strcmp(m, "accept-server")) return accept_server((long)ARG(2), (long)ARG(3));
  if (!strcmp(m, "lines-send")) return lines_send((int)ARG(2), (long)ARG(3));
  if (!strcmp(m, "accept-client"))
    return accept_client((int)ARG(2), (long)ARG(3), (long)ARG(4));
  fprintf(stderr, "usage: c MODE ARGS (see bench/impl/c.c)\n");
  return 2;
}
