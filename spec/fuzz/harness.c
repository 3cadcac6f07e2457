/*
** spec/fuzz/harness.c: the libFuzzer entry point shared by every fuzz
** target. It drives the real C core through a real lua_State: the core
** (every file in src/, built with ASan+UBSan and coverage) is linked in statically
** and opened as "netsock.core"; the target's driver, a Lua file named by
** FUZZ_DRIVER at build time, returns a function that gets each input as
** a string, calls the core, and compares with a plain reference model.
** A Lua error escaping the driver is a finding: the harness prints it
** and aborts, so libFuzzer saves the input.
**
** Loopback only, no name lookups: the Makefile links with
** -Wl,--wrap=... so that the core's calls to getaddrinfo, getnameinfo,
** connect, bind, sendto and setsockopt go through the guards below
** first (numeric lookups only; connect/sendto only to loopback or the
** abstract namespace; no Unix path on the file system; no multicast
** membership, which would make the kernel send IGMP/MLD reports).
** `make fuzz` also runs each target in a network namespace of its own
** where the kernel allows it.
*/
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#ifndef FUZZ_DRIVER
#error "build with -DFUZZ_DRIVER=\"path/to/driver.lua\""
#endif

int luaopen_netsock_core (lua_State *L);
int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);


/* {====== loopback guards (linked with --wrap) ====== */

int __real_getaddrinfo (const char *, const char *, const struct addrinfo *,
                        struct addrinfo **);
int __real_getnameinfo (const struct sockaddr *, socklen_t, char *, socklen_t,
                        char *, socklen_t, int);
int __real_connect (int, const struct sockaddr *, socklen_t);
int __real_bind (int, const struct sockaddr *, socklen_t);
ssize_t __real_sendto (int, const void *, size_t, int,
                       const struct sockaddr *, socklen_t);
int __real_setsockopt (int, int, int, const void *, socklen_t);
int __wrap_getaddrinfo (const char *, const char *, const struct addrinfo *,
                        struct addrinfo **);
int __wrap_getnameinfo (const struct sockaddr *, socklen_t, char *, socklen_t,
                        char *, socklen_t, int);
int __wrap_connect (int, const struct sockaddr *, socklen_t);
int __wrap_bind (int, const struct sockaddr *, socklen_t);
ssize_t __wrap_sendto (int, const void *, size_t, int,
                       const struct sockaddr *, socklen_t);
int __wrap_setsockopt (int, int, int, const void *, socklen_t);

/* a destination we may talk to: loopback, or an abstract Unix name */
static int allowed_peer (const struct sockaddr *sa, socklen_t len) {
  if (sa == NULL) return 1;
  if (len < sizeof(sa_family_t)) return 0;
  switch (sa->sa_family) {
    case AF_INET: {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
      return len >= sizeof *sin && (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    case AF_INET6: {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
      const unsigned char *a = sin6->sin6_addr.s6_addr;
      static const unsigned char mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
      if (len < sizeof *sin6) return 0;
      if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) return 1;
      return memcmp(a, mapped, 12) == 0 && a[12] == 127;
    }
    case AF_UNIX: {
      const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
      size_t off = offsetof(struct sockaddr_un, sun_path);
      return len == off || (len > off && sun->sun_path[0] == '\0');
    }
    default:
      return 0;
  }
}

int __wrap_getaddrinfo (const char *host, const char *serv,
                        const struct addrinfo *hints, struct addrinfo **res) {
  struct addrinfo h;
  if (hints) h = *hints;
  else { memset(&h, 0, sizeof h); h.ai_family = AF_UNSPEC; }
  h.ai_flags |= AI_NUMERICHOST;  /* never a DNS query */
  return __real_getaddrinfo(host, serv, &h, res);
}

int __wrap_getnameinfo (const struct sockaddr *sa, socklen_t salen,
                        char *host, socklen_t hostlen, char *serv,
                        socklen_t servlen, int flags) {
  return __real_getnameinfo(sa, salen, host, hostlen, serv, servlen,
                            flags | NI_NUMERICHOST);
}

int __wrap_connect (int fd, const struct sockaddr *sa, socklen_t len) {
  if (!allowed_peer(sa, len)) { errno = ENETUNREACH; return -1; }
  return __real_connect(fd, sa, len);
}

int __wrap_bind (int fd, const struct sockaddr *sa, socklen_t len) {
  if (len >= sizeof(sa_family_t) && sa->sa_family == AF_UNIX &&
      !allowed_peer(sa, len)) {
    errno = EACCES;  /* no socket files made on the file system */
    return -1;
  }
  return __real_bind(fd, sa, len);
}

ssize_t __wrap_sendto (int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *sa, socklen_t len) {
  if (!allowed_peer(sa, len)) { errno = ENETUNREACH; return -1; }
  return __real_sendto(fd, buf, n, flags, sa, len);
}

int __wrap_setsockopt (int fd, int level, int opt, const void *val,
                       socklen_t len) {
  int join = 0;
#ifdef IP_ADD_MEMBERSHIP
  join |= level == IPPROTO_IP && (opt == IP_ADD_MEMBERSHIP ||
                                  opt == IP_ADD_SOURCE_MEMBERSHIP ||
                                  opt == IP_UNBLOCK_SOURCE);
#endif
#ifdef IPV6_JOIN_GROUP
  join |= level == IPPROTO_IPV6 && opt == IPV6_JOIN_GROUP;
#endif
#ifdef MCAST_JOIN_GROUP
  join |= (level == IPPROTO_IP || level == IPPROTO_IPV6) &&
          (opt == MCAST_JOIN_GROUP || opt == MCAST_JOIN_SOURCE_GROUP ||
           opt == MCAST_UNBLOCK_SOURCE);
#endif
  if (join) { errno = EPERM; return -1; }
  return __real_setsockopt(fd, level, opt, val, len);
}

/* }====== */


static lua_State *L;
static int runref = LUA_NOREF;
static unsigned long execs;


static int traceback (lua_State *T) {
  const char *msg = lua_tostring(T, 1);
  luaL_traceback(T, T, msg ? msg : "(error object is not a string)", 1);
  return 1;
}


int LLVMFuzzerInitialize (int *argc, char ***argv) {
  (void)argc; (void)argv;
  L = luaL_newstate();
  if (L == NULL) abort();
  luaL_openlibs(L);
  luaL_requiref(L, "netsock.core", luaopen_netsock_core, 0);
  lua_pop(L, 1);
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, FUZZ_DRIVER) != LUA_OK) {
    fprintf(stderr, "fuzz: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "netsock.core");
  lua_remove(L, -2);
  if (lua_pcall(L, 1, 1, -3) != LUA_OK || !lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz: driver: %s\n", lua_tostring(L, -1));
    abort();
  }
  runref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  return 0;
}


int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  int top = lua_gettop(L);
  lua_pushcfunction(L, traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, runref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, top + 1) != LUA_OK) {
    fprintf(stderr, "fuzz: the driver found a difference or an error:\n%s\n",
            lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, top);
  /* close what the input left open (sockets are closed by __gc) */
  lua_gc(L, LUA_GCCOLLECT);
  execs++;
  return 0;
}
