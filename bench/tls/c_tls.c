/*
** bench/tls/c_tls.c: the C side of bench/tls, OpenSSL used directly the
** way its man pages show: blocking sockets, SSL_set_fd (OpenSSL's own
** socket BIO), SSL_read/SSL_write. The limit netsock.tls is held to.
** Built by bench/tls/run into build/bench/c_tls with -O2.
**
**   c_tls bulk-recv CERT KEY            listen, print port, accept one
**                                       client, TLS, recv 64 KiB until EOF
**   c_tls bulk-send PORT BYTES CHUNK CA connect, TLS (verified), send BYTES
**                                       in CHUNK writes, close_notify
**   c_tls hs-server CERT KEY COUNT      accept COUNT clients: handshake,
**                                       read 1 byte, write 1 byte, close
**   c_tls hs-client PORT COUNT CA       COUNT full handshakes (no session
**                                       resumption), one byte each way
**
** Each prints "port N" when it listens and "result key=value ..." at the
** end: wall and CPU (user+sys) seconds of the measured part.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double now (clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#define WALL() now(CLOCK_MONOTONIC)
#define CPU()  now(CLOCK_PROCESS_CPUTIME_ID)

static void die (const char *what) {
  fprintf(stderr, "c_tls: %s: %s\n", what, strerror(errno));
  ERR_print_errors_fp(stderr);
  exit(1);
}

static struct sockaddr_in loopback (int port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

static int listener (void) {
  struct sockaddr_in sa = loopback(0);
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) die("socket");
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (listen(fd, SOMAXCONN) < 0) die("listen");
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) die("getsockname");
  printf("port %d\n", ntohs(sa.sin_port));
  fflush(stdout);
  return fd;
}

static int connected (int port) {
  struct sockaddr_in sa = loopback(port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
  return fd;
}

static SSL_CTX *server_ctx (const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die(cert);
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die(key);
  return ctx;   /* OpenSSL's defaults otherwise, as netsock's server context */
}

static SSL_CTX *client_ctx (const char *ca) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) die(ca);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  return ctx;   /* no session is ever reused: every handshake is full */
}

static SSL *client_ssl (SSL_CTX *ctx, int fd) {
  SSL *ssl = SSL_new(ctx);
  if (ssl == NULL) die("SSL_new");
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  if (SSL_connect(ssl) != 1) die("SSL_connect");
  return ssl;
}


static int bulk_recv (const char *cert, const char *key) {
  static char buf[65536];
  SSL_CTX *ctx = server_ctx(cert, key);
  int lfd = listener(), fd, n;
  long long total = 0;
  long calls = 0;
  double w0, c0;
  SSL *ssl;
  fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) die("accept");
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) die("SSL_accept");
  w0 = WALL(); c0 = CPU();
  for (;;) {
    n = SSL_read(ssl, buf, sizeof buf);
    if (n > 0) { total += n; calls++; continue; }
    if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) break;
    die("SSL_read");
  }
  printf("result bytes=%lld calls=%ld wall=%.6f cpu=%.6f\n", total,
         calls, WALL() - w0, CPU() - c0);
  fprintf(stderr, "c_tls: %s %s\n", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
  SSL_free(ssl);
  close(fd);
  return 0;
}


static int bulk_send (int port, long long bytes, size_t chunk, const char *ca) {
  SSL_CTX *ctx = client_ctx(ca);
  int fd = connected(port);
  SSL *ssl = client_ssl(ctx, fd);
  char *buf = malloc(chunk);
  long long sent = 0;
  double w0 = WALL(), c0 = CPU();
  if (buf == NULL) die("malloc");
  memset(buf, 'x', chunk);
  while (sent < bytes) {
    int n = (int)(bytes - sent < (long long)chunk ? bytes - sent : (long long)chunk);
    int r = SSL_write(ssl, buf, n);
    if (r <= 0) die("SSL_write");
    sent += r;
  }
  {
    double wall = WALL() - w0, cpu = CPU() - c0;
    char junk[4096];
    SSL_shutdown(ssl);
    /* read what the peer sent (TLS 1.3 session tickets) before close:
       unread bytes would make close(2) reset the connection */
    shutdown(fd, SHUT_WR);
    while (recv(fd, junk, sizeof junk, 0) > 0) {}
    printf("result bytes=%lld wall=%.6f cpu=%.6f\n", sent, wall, cpu);
  }
  SSL_free(ssl);
  close(fd);
  return 0;
}


static int hs_server (const char *cert, const char *key, long count) {
  SSL_CTX *ctx = server_ctx(cert, key);
  int lfd = listener();
  long done = 0;
  double w0 = 0, c0 = 0;
  char b;
  while (done < count) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;
    SSL *ssl;
    if (fd < 0) die("accept");
    if (done == 0) { w0 = WALL(); c0 = CPU(); }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1 && SSL_read(ssl, &b, 1) == 1 &&
        SSL_write(ssl, &b, 1) == 1)
      done++;
    else die("handshake");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
  }
  printf("result count=%ld wall=%.6f cpu=%.6f\n", done, WALL() - w0, CPU() - c0);
  return 0;
}


static int hs_client (int port, long count, const char *ca) {
  SSL_CTX *ctx = client_ctx(ca);
  long done = 0;
  double w0 = WALL(), c0 = CPU();
  char b = 'x';
  while (done < count) {
    int fd = connected(port), one = 1;
    SSL *ssl;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl = client_ssl(ctx, fd);
    if (SSL_write(ssl, &b, 1) != 1 || SSL_read(ssl, &b, 1) != 1) die("exchange");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    done++;
  }
  printf("result count=%ld wall=%.6f cpu=%.6f\n", done, WALL() - w0, CPU() - c0);
  return 0;
}


int main (int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "";
  if (!strcmp(m, "bulk-recv") && argc == 4) return bulk_recv(argv[2], argv[3]);
  if (!strcmp(m, "bulk-send") && argc == 6)
    return bulk_send(atoi(argv[2]), atoll(argv[3]), (size_t)atol(argv[4]), argv[5]);
  if (!strcmp(m, "hs-server") && argc == 5)
    return hs_server(argv[2], argv[3], atol(argv[4]));
  if (!strcmp(m, "hs-client") && argc == 5)
    return hs_client(atoi(argv[2]), atol(argv[3]), argv[4]);
  fprintf(stderr, "usage: see bench/tls/c_tls.c\n");
  return 2;
}
