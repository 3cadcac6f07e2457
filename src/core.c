/*
** core.c: luaopen_netsock_core, the one exported symbol. Builds the
** module table, lets each file add its functions, and sets the
** constants of API.md; and netsock.setrlimit_nofile, and the one
** process-wide switch, which only netsock.luasocket's install() pulls.
*/
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock.h"

typedef struct { const char *name; lua_Integer value; } nsConst;

#define C(x) { #x, x },
static const nsConst constants[] = {
  C(AF_INET) C(AF_INET6) C(AF_UNIX) C(AF_UNSPEC)
  C(SOCK_STREAM) C(SOCK_DGRAM) C(SOCK_RAW) C(SOCK_SEQPACKET)
  C(SOL_SOCKET) C(IPPROTO_TCP) C(IPPROTO_UDP) C(IPPROTO_IP) C(IPPROTO_IPV6)
  C(SO_REUSEADDR) C(SO_KEEPALIVE) C(SO_BROADCAST) C(SO_SNDBUF) C(SO_RCVBUF)
  C(SO_LINGER) C(SO_ERROR) C(SO_TYPE) C(SO_RCVLOWAT) C(SO_SNDLOWAT)
  C(SO_RCVTIMEO) C(SO_SNDTIMEO) C(SO_DONTROUTE) C(SO_OOBINLINE)
  C(SO_ACCEPTCONN)
#ifdef SO_REUSEPORT
  C(SO_REUSEPORT)
#endif
#ifdef SO_DOMAIN
  C(SO_DOMAIN) C(SO_PROTOCOL)
#endif
  C(TCP_NODELAY)
#ifdef TCP_KEEPIDLE
  C(TCP_KEEPIDLE) C(TCP_KEEPINTVL) C(TCP_KEEPCNT)
#endif
  C(IPV6_V6ONLY) C(IPV6_UNICAST_HOPS) C(IPV6_MULTICAST_HOPS)
  C(IPV6_MULTICAST_LOOP) C(IPV6_MULTICAST_IF) C(IPV6_JOIN_GROUP)
  C(IPV6_LEAVE_GROUP)
  C(IP_TTL) C(IP_TOS) C(IP_MULTICAST_TTL) C(IP_MULTICAST_LOOP)
  C(IP_MULTICAST_IF) C(IP_ADD_MEMBERSHIP) C(IP_DROP_MEMBERSHIP)
  C(SHUT_RD) C(SHUT_WR) C(SHUT_RDWR)
  C(MSG_PEEK) C(MSG_WAITALL) C(MSG_DONTWAIT) C(MSG_OOB) C(MSG_TRUNC)
#ifdef MSG_NOSIGNAL
  C(MSG_NOSIGNAL)
#endif
  C(AI_PASSIVE) C(AI_CANONNAME) C(AI_NUMERICHOST) C(AI_NUMERICSERV)
  C(AI_V4MAPPED) C(AI_ALL) C(AI_ADDRCONFIG)
  C(NI_NUMERICHOST) C(NI_NUMERICSERV) C(NI_NAMEREQD) C(NI_DGRAM)
  C(NI_NOFQDN) C(NI_MAXHOST) C(NI_MAXSERV)
  C(SOMAXCONN)
  { NULL, 0 }
};
#undef C


/* whether this system can make IPv6 sockets at all */
static int has_ipv6 (void) {
  int fd = ns_sys_socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}


/*
** netsock.setrlimit_nofile([n]): raise the soft limit of open
** descriptors to n (default: the hard limit; never above it). Returns
** the new soft limit and the hard limit.
*/
static int core_setrlimit_nofile (lua_State *L) {
  struct rlimit rl;
  lua_Integer want;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return ns_fail(L, errno);
  want = luaL_optinteger(L, 1, -1);
  luaL_argcheck(L, want >= -1, 1, "negative limit");
  if (want < 0 || (rl.rlim_max != RLIM_INFINITY &&
                   (rlim_t)want > rl.rlim_max))
    rl.rlim_cur = rl.rlim_max;
  else
    rl.rlim_cur = (rlim_t)want;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) return ns_fail(L, errno);
  lua_pushinteger(L, rl.rlim_cur == RLIM_INFINITY ? LUA_MAXINTEGER
                                                  : (lua_Integer)rl.rlim_cur);
  lua_pushinteger(L, rl.rlim_max == RLIM_INFINITY ? LUA_MAXINTEGER
                                                  : (lua_Integer)rl.rlim_max);
  return 2;
}


/*
** core._ignoresigpipe(): SIGPIPE ignored for the whole process, as
** LuaSocket does when it loads: code written for it (LuaSec's writes,
** which have no MSG_NOSIGNAL) relies on that. netsock itself never calls
** it (its sends use MSG_NOSIGNAL); netsock.luasocket's install() does,
** and says so. Returns true, or nil, message, code.
*/
static int core_ignoresigpipe (lua_State *L) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGPIPE, &sa, NULL) < 0)
    return ns_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}


NS_EXPORT int luaopen_netsock_core (lua_State *L);

int luaopen_netsock_core (lua_State *L) {
  const nsConst *c;
  luaL_checkversion(L);
  lua_newtable(L);
  for (c = constants; c->name != NULL; c++) {
    lua_pushinteger(L, c->value);
    lua_setfield(L, -2, c->name);
  }
  lua_pushboolean(L, has_ipv6());
  lua_setfield(L, -2, "has_ipv6");
  lua_pushcfunction(L, core_setrlimit_nofile);
  lua_setfield(L, -2, "setrlimit_nofile");
  lua_pushcfunction(L, core_ignoresigpipe);
  lua_setfield(L, -2, "_ignoresigpipe");
  ns_errors_open(L);
  ns_aux_open(L);
  ns_addr_open(L);
  ns_wait_open(L);
  ns_loop_open(L);
  ns_buf_open(L);
  ns_resolve_open(L);
  ns_select_open(L);
  ns_socket_open(L);   /* before the files that add socket methods */
  ns_connect_open(L);
  ns_file_open(L);
  ns_dgram_open(L);
  ns_mmsg_open(L);     /* s:recvmany, s:sendmany */
  ns_sendfile_open(L);
  ns_options_open(L);
  ns_luasocket_open(L);
#if defined(NS_HAVE_TLS)
  ns_tls_open(L);      /* core._tls, s:starttls and the TLS methods */
#endif
  ns_signal_open(L);
  ns_process_open(L);
  return 1;
}
