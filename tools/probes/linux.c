/* the Linux seam (src/sys_linux.c): every call and structure it uses */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main (void) {
  int p[2], herr;
  struct ucred uc;
  cpu_set_t set;
  struct ip_mreqn mr;
  struct hostent he, *hr;
  struct servent se, *sr;
  struct protoent pe, *pr;
  struct in_addr a;
  struct tm tm = {0};
  sigset_t s;
  Dl_info info;
  struct timespec zero = {0, 0};
  char buf[64];
  uc.pid = 0;
  mr.imr_ifindex = 0;
  sigemptyset(&s);
  return accept4(0, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) +
         socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) +
         pipe2(p, O_CLOEXEC | O_NONBLOCK) + dup3(0, 1, O_CLOEXEC) +
         eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) +
         (int)send(0, "", 0, MSG_NOSIGNAL) + (int)sendfile(0, 1, NULL, 0) +
         sched_getaffinity(0, sizeof set, &set) + CPU_COUNT(&set) +
         SO_PEERCRED + POLLRDHUP + uc.pid + mr.imr_ifindex +
         gethostbyname_r("", &he, buf, sizeof buf, &hr, &herr) +
         gethostbyaddr_r("", 4, AF_INET, &he, buf, sizeof buf, &hr, &herr) +
         getservbyname_r("", "", &se, buf, sizeof buf, &sr) +
         getservbyport_r(0, "", &se, buf, sizeof buf, &sr) +
         getprotobyname_r("", &pe, buf, sizeof buf, &pr) +
         sigtimedwait(&s, NULL, &zero) + inet_aton("", &a) +
         (int)timegm(&tm) + dladdr(main, &info) + RTLD_NODELETE;
}
