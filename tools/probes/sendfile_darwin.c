/* macOS's sendfile(2): file, socket, offset, &len (in and out), hdtr, flags */
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

int main (void) {
  off_t len = 1;
  return sendfile(0, 1, 0, &len, NULL, 0) + (int)len;
}
