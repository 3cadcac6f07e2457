/*
** reader.c: the C baselines of the lines benchmark.
** usage: reader getline|memchr HOST PORT
** Connects, reads lines until the peer closes, prints "LINES SECONDS".
** getline: stdio over the socket (fdopen + getline), a line per call.
** memchr: read(2) 64 KiB at a time and count '\n' with memchr.
*/
#define _GNU_SOURCE
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial (const char *host, const char *port) {
  struct addrinfo hints, *res, *ai;
  int fd = -1;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

int main (int argc, char **argv) {
  long lines = 0;
  double t0;
  int fd;
  if (argc != 4) {
    fprintf(stderr, "usage: reader getline|memchr HOST PORT\n");
    return 2;
  }
  fd = dial(argv[2], argv[3]);
  if (fd < 0) { perror("connect"); return 1; }
  if (getenv("BENCH_SOCK_TIMEOUT")) {  /* the timed variant: set once */
    struct timeval tv;
    tv.tv_sec = atoi(getenv("BENCH_SOCK_TIMEOUT"));
    tv.tv_usec = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
      perror("setsockopt");
      return 1;
    }
  }
  t0 = now();
  if (strcmp(argv[1], "getline") == 0) {
    FILE *f = fdopen(fd, "r");
    char *line = NULL;
    size_t cap = 0;
    if (f == NULL) { perror("fdopen"); return 1; }
    while (getline(&line, &cap, f) > 0) lines++;
    free(line);
    fclose(f);
  }
  else {
    static char buf[64 * 1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      const char *p = buf, *end = buf + n;
      while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
      }
    }
    close(fd);
  }
  printf("%ld %.6f\n", lines, now() - t0);
  return 0;
}
