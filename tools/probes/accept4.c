/* accept4(2) with the SOCK_* flags (Linux, FreeBSD, NetBSD, OpenBSD) */
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>

int main (void) {
  return accept4(0, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
