/* <dlfcn.h> on Windows, through src/win/posix.h: what pool.c uses it
   for, keeping this library loaded while its threads may run, is done
   by ns_win_dladdr (GetModuleHandleEx with the PIN flag) */
#include "../posix.h"
#ifndef netsock_win_dlfcn_h
#define netsock_win_dlfcn_h
typedef struct { const char *dli_fname; void *dli_fbase; } Dl_info;
#define RTLD_NOW       2
#define RTLD_NOLOAD    4
#define RTLD_NODELETE  0x1000
int ns_win_dladdr (const void *addr, Dl_info *info);
#define dladdr(a,i)     ns_win_dladdr(a, i)
static inline void *dlopen (const char *file, int mode) {
  (void)file; (void)mode;
  return NULL;
}
#endif
