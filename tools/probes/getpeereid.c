/* getpeereid(3) (the BSDs, macOS) */
#include <sys/types.h>
#include <unistd.h>

int main (void) {
  uid_t u;
  gid_t g;
  return getpeereid(0, &u, &g);
}
