/*
** spec/windows/wspeer.c: a plain Winsock 2 program, the peer of
** spec/windows/wspeer_spec.lua under wine: netsock's Windows build
** talking to a program that uses Winsock directly (no netsock, no C
** runtime sockets). Built by make test-windows with mingw-w64 into
** build/windows/wspeer.exe.
**
** usage: wspeer tcp-client PORT   send 200000 bytes to 127.0.0.1:PORT,
**                                 half-close, read them all back to EOF
**        wspeer tcp-server        listen on 127.0.0.1:0, print "port N",
**                                 echo one client's bytes to its EOF,
**                                 then close
**        wspeer udp-client PORT   3 datagrams to 127.0.0.1:PORT, each
**                                 echoed back (5 s each at most)
**        wspeer udp-server        bind 127.0.0.1:0, print "port N", echo
**                                 3 datagrams
** The last line is "ok MODE BYTES" (exit 0) or "fail MODE: WHAT (CODE)"
** (exit 1), CODE being WSAGetLastError's. Every wait is bounded
** (SO_RCVTIMEO, SO_SNDTIMEO: 10 s).
*/
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTAL  200000
#define WAITMS 10000

static const char *mode = "?";

static int fail (const char *what) {
  printf("fail %s: %s (%d)\n", mode, what, WSAGetLastError());
  fflush(stdout);
  return 1;
}

static int ok (long n) {
  printf("ok %s %ld\n", mode, n);
  fflush(stdout);
  return 0;
}

/* a socket of 'type' whose every wait ends after WAITMS */
static SOCKET newsock (int type) {
  DWORD ms = WAITMS;
  SOCKET s = socket(AF_INET, type, 0);
  if (s == INVALID_SOCKET) return s;
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&ms, sizeof ms);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&ms, sizeof ms);
  return s;
}

static void loopback (struct sockaddr_in *sa, int port) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((u_short)port);
  sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* bind 127.0.0.1:0 and print the port the system chose */
static int bindany (SOCKET s) {
  struct sockaddr_in sa;
  int len = (int)sizeof sa;
  loopback(&sa, 0);
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  if (getsockname(s, (struct sockaddr *)&sa, &len) != 0) return -1;
  printf("port %d\n", ntohs(sa.sin_port));
  fflush(stdout);
  return 0;
}

static char pattern (long i) { return (char)('a' + (i * 7 + i / 251) % 26); }

static int tcp_client (int port) {
  static char buf[TOTAL];
  struct sockaddr_in sa;
  long sent = 0, got = 0, i;
  SOCKET s = newsock(SOCK_STREAM);
  if (s == INVALID_SOCKET) return fail("socket");
  loopback(&sa, port);
  if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) return fail("connect");
  for (i = 0; i < TOTAL; i++) buf[i] = pattern(i);
  while (sent < TOTAL) {
    int n = send(s, buf + sent, (int)(TOTAL - sent > 16384 ? 16384 : TOTAL - sent), 0);
    if (n <= 0) return fail("send");
    sent += n;
  }
  if (shutdown(s, SD_SEND) != 0) return fail("shutdown");
  for (;;) {  /* the echo, to the end of the stream */
    char in[8192];
    int n = recv(s, in, sizeof in, 0);
    if (n == 0) break;
    if (n < 0) return fail("recv");
    for (i = 0; i < n; i++)
      if (got + i >= TOTAL || in[i] != pattern(got + i)) return fail("echo differs");
    got += n;
  }
  closesocket(s);
  if (got != TOTAL) return fail("echo short");
  return ok(got);
}

static int tcp_server (void) {
  long total = 0;
  SOCKET c, s = newsock(SOCK_STREAM);
  if (s == INVALID_SOCKET) return fail("socket");
  if (bindany(s) != 0 || listen(s, 1) != 0) return fail("bind/listen");
  c = accept(s, NULL, NULL);
  if (c == INVALID_SOCKET) return fail("accept");
  closesocket(s);
  for (;;) {
    char in[8192];
    int n = recv(c, in, sizeof in, 0), off = 0;
    if (n == 0) break;   /* the client half-closed: echo done */
    if (n < 0) return fail("recv");
    while (off < n) {
      int w = send(c, in + off, n - off, 0);
      if (w <= 0) return fail("send");
      off += w;
    }
    total += n;
  }
  closesocket(c);
  return ok(total);
}

static int udp_client (int port) {
  struct sockaddr_in sa;
  long total = 0;
  int i;
  SOCKET s = newsock(SOCK_DGRAM);
  if (s == INVALID_SOCKET) return fail("socket");
  loopback(&sa, port);
  for (i = 0; i < 3; i++) {
    char out[64], in[64];
    int n, len = snprintf(out, sizeof out, "datagram %d from winsock", i);
    if (sendto(s, out, len, 0, (struct sockaddr *)&sa, sizeof sa) != len) return fail("sendto");
    n = recvfrom(s, in, sizeof in, 0, NULL, NULL);
    if (n < 0) return fail("recvfrom");
    if (n != len || memcmp(in, out, (size_t)len) != 0) return fail("echo differs");
    total += n;
  }
  closesocket(s);
  return ok(total);
}

static int udp_server (void) {
  long total = 0;
  int i;
  SOCKET s = newsock(SOCK_DGRAM);
  if (s == INVALID_SOCKET) return fail("socket");
  if (bindany(s) != 0) return fail("bind");
  for (i = 0; i < 3; i++) {
    char in[2048];
    struct sockaddr_in from;
    int flen = (int)sizeof from;
    int n = recvfrom(s, in, sizeof in, 0, (struct sockaddr *)&from, &flen);
    if (n < 0) return fail("recvfrom");
    if (sendto(s, in, n, 0, (struct sockaddr *)&from, flen) != n) return fail("sendto");
    total += n;
  }
  closesocket(s);
  return ok(total);
}

int main (int argc, char **argv) {
  WSADATA wsa;
  int port = argc > 2 ? atoi(argv[2]) : 0;
  if (argc < 2) {
    fprintf(stderr, "usage: wspeer tcp-client PORT | tcp-server | udp-client PORT | udp-server\n");
    return 2;
  }
  mode = argv[1];
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return fail("WSAStartup");
  if (strcmp(mode, "tcp-client") == 0 && port > 0) return tcp_client(port);
  if (strcmp(mode, "tcp-server") == 0) return tcp_server();
  if (strcmp(mode, "udp-client") == 0 && port > 0) return udp_client(port);
  if (strcmp(mode, "udp-server") == 0) return udp_server();
  fprintf(stderr, "wspeer: unknown mode or missing port: %s\n", mode);
  return 2;
}
