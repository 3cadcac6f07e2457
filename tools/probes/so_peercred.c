/* SO_PEERCRED with Linux's struct ucred (OpenBSD's differs: not this) */
#define _GNU_SOURCE
#include <sys/socket.h>

int main (void) {
  struct ucred uc;
  socklen_t len = sizeof uc;
  return getsockopt(0, SOL_SOCKET, SO_PEERCRED, &uc, &len) + uc.pid + (int)uc.uid + (int)uc.gid;
}
