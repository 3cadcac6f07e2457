/* FreeBSD's sendfile(2): file, socket, offset, count, hdtr, &sent, flags */
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

int main (void) {
  off_t sent = 0;
  return sendfile(0, 1, 0, (size_t)1, NULL, &sent, 0) + (int)sent;
}
