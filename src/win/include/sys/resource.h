/* <sys/resource.h> on Windows: Winsock, through src/win/posix.h.
   Windows has no limit of open sockets to raise (netsock.setrlimit_nofile
   reports none: sys_win.c) */
#include "../../posix.h"
#ifndef netsock_win_resource_h
#define netsock_win_resource_h
typedef unsigned long long rlim_t;
struct rlimit { rlim_t rlim_cur, rlim_max; };
#define RLIMIT_NOFILE  7
#define RLIM_INFINITY  (~(rlim_t)0)
int ns_win_getrlimit (int what, struct rlimit *rl);
int ns_win_setrlimit (int what, const struct rlimit *rl);
#define getrlimit(w,r)  ns_win_getrlimit(w, r)
#define setrlimit(w,r)  ns_win_setrlimit(w, r)
#endif
