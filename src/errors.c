/*
** errors.c: the one way a run-time failure reaches Lua.
** Every failure path pushes nil, message, code through these helpers:
** message is for people ("timeout", "closed", or strerror's sentence),
** code is a stable name for programs ("timeout", "closed", "ECONNRESET",
** "EAI_NONAME", ...). See API.md, "Conventions".
*/
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <string.h>

#include "netsock.h"

typedef struct { int num; const char *name; } nsName;

#define E(x) { x, #x },
static const nsName errnames[] = {
#ifdef EPERM
  E(EPERM)
#endif
#ifdef ENOENT
  E(ENOENT)
#endif
#ifdef ESRCH
  E(ESRCH)
#endif
#ifdef EINTR
  E(EINTR)
#endif
#ifdef EIO
  E(EIO)
#endif
#ifdef ENXIO
  E(ENXIO)
#endif
#ifdef E2BIG
  E(E2BIG)
#endif
#ifdef ENOEXEC
  E(ENOEXEC)
#endif
#ifdef EBADF
  E(EBADF)
#endif
#ifdef ECHILD
  E(ECHILD)
#endif
#ifdef EAGAIN
  E(EAGAIN)
#endif
#ifdef ENOMEM
  E(ENOMEM)
#endif
#ifdef EACCES
  E(EACCES)
#endif
#ifdef EFAULT
  E(EFAULT)
#endif
#ifdef EBUSY
  E(EBUSY)
#endif
#ifdef EEXIST
  E(EEXIST)
#endif
#ifdef EXDEV
  E(EXDEV)
#endif
#ifdef ENODEV
  E(ENODEV)
#endif
#ifdef ENOTDIR
  E(ENOTDIR)
#endif
#ifdef EISDIR
  E(EISDIR)
#endif
#ifdef EINVAL
  E(EINVAL)
#endif
#ifdef ENFILE
  E(ENFILE)
#endif
#ifdef EMFILE
  E(EMFILE)
#endif
#ifdef ENOTTY
  E(ENOTTY)
#endif
#ifdef ETXTBSY
  E(ETXTBSY)
#endif
#ifdef EFBIG
  E(EFBIG)
#endif
#ifdef ENOSPC
  E(ENOSPC)
#endif
#ifdef ESPIPE
  E(ESPIPE)
#endif
#ifdef EROFS
  E(EROFS)
#endif
#ifdef EMLINK
  E(EMLINK)
#endif
#ifdef EPIPE
  E(EPIPE)
#endif
#ifdef EDOM
  E(EDOM)
#endif
#ifdef ERANGE
  E(ERANGE)
#endif
#ifdef EDEADLK
  E(EDEADLK)
#endif
#ifdef ENAMETOOLONG
  E(ENAMETOOLONG)
#endif
#ifdef ENOLCK
  E(ENOLCK)
#endif
#ifdef ENOSYS
  E(ENOSYS)
#endif
#ifdef ENOTEMPTY
  E(ENOTEMPTY)
#endif
#ifdef ELOOP
  E(ELOOP)
#endif
#ifdef ENOMSG
  E(ENOMSG)
#endif
#ifdef EIDRM
  E(EIDRM)
#endif
#ifdef ENOSTR
  E(ENOSTR)
#endif
#ifdef ENODATA
  E(ENODATA)
#endif
#ifdef ETIME
  E(ETIME)
#endif
#ifdef ENOSR
  E(ENOSR)
#endif
#ifdef EREMOTE
  E(EREMOTE)
#endif
#ifdef ENOLINK
  E(ENOLINK)
#endif
#ifdef EPROTO
  E(EPROTO)
#endif
#ifdef EMULTIHOP
  E(EMULTIHOP)
#endif
#ifdef EBADMSG
  E(EBADMSG)
#endif
#ifdef EOVERFLOW
  E(EOVERFLOW)
#endif
#ifdef EILSEQ
  E(EILSEQ)
#endif
#ifdef EUSERS
  E(EUSERS)
#endif
#ifdef ENOTSOCK
  E(ENOTSOCK)
#endif
#ifdef EDESTADDRREQ
  E(EDESTADDRREQ)
#endif
#ifdef EMSGSIZE
  E(EMSGSIZE)
#endif
#ifdef EPROTOTYPE
  E(EPROTOTYPE)
#endif
#ifdef ENOPROTOOPT
  E(ENOPROTOOPT)
#endif
#ifdef EPROTONOSUPPORT
  E(EPROTONOSUPPORT)
#endif
#ifdef ESOCKTNOSUPPORT
  E(ESOCKTNOSUPPORT)
#endif
#ifdef EOPNOTSUPP
  E(EOPNOTSUPP)
#endif
#ifdef EPFNOSUPPORT
  E(EPFNOSUPPORT)
#endif
#ifdef EAFNOSUPPORT
  E(EAFNOSUPPORT)
#endif
#ifdef EADDRINUSE
  E(EADDRINUSE)
#endif
#ifdef EADDRNOTAVAIL
  E(EADDRNOTAVAIL)
#endif
#ifdef ENETDOWN
  E(ENETDOWN)
#endif
#ifdef ENETUNREACH
  E(ENETUNREACH)
#endif
#ifdef ENETRESET
  E(ENETRESET)
#endif
#ifdef ECONNABORTED
  E(ECONNABORTED)
#endif
#ifdef ECONNRESET
  E(ECONNRESET)
#endif
#ifdef ENOBUFS
  E(ENOBUFS)
#endif
#ifdef EISCONN
  E(EISCONN)
#endif
#ifdef ENOTCONN
  E(ENOTCONN)
#endif
#ifdef ESHUTDOWN
  E(ESHUTDOWN)
#endif
#ifdef ETOOMANYREFS
  E(ETOOMANYREFS)
#endif
#ifdef ETIMEDOUT
  E(ETIMEDOUT)
#endif
#ifdef ECONNREFUSED
  E(ECONNREFUSED)
#endif
#ifdef EHOSTDOWN
  E(EHOSTDOWN)
#endif
#ifdef EHOSTUNREACH
  E(EHOSTUNREACH)
#endif
#ifdef EALREADY
  E(EALREADY)
#endif
#ifdef EINPROGRESS
  E(EINPROGRESS)
#endif
#ifdef ESTALE
  E(ESTALE)
#endif
#ifdef EDQUOT
  E(EDQUOT)
#endif
#ifdef ECANCELED
  E(ECANCELED)
#endif
#ifdef EOWNERDEAD
  E(EOWNERDEAD)
#endif
#ifdef ENOTRECOVERABLE
  E(ENOTRECOVERABLE)
#endif
#ifdef ERFKILL
  E(ERFKILL)
#endif
#ifdef EHWPOISON
  E(EHWPOISON)
#endif
  { 0, NULL }
};
#undef E

#define G(x) { x, #x },
static const nsName gainames[] = {
  G(EAI_AGAIN) G(EAI_BADFLAGS) G(EAI_FAIL) G(EAI_FAMILY) G(EAI_MEMORY)
  G(EAI_NONAME) G(EAI_SERVICE) G(EAI_SOCKTYPE) G(EAI_SYSTEM)
#ifdef EAI_OVERFLOW
  G(EAI_OVERFLOW)
#endif
#ifdef EAI_NODATA
  G(EAI_NODATA)
#endif
#ifdef EAI_ADDRFAMILY
  G(EAI_ADDRFAMILY)
#endif
  { 0, NULL }
};
#undef G


static const char *errname (int err) {
  const nsName *e;
  for (e = errnames; e->name != NULL; e++)
    if (e->num == err) return e->name;
  return NULL;
}


int ns_failmsg (lua_State *L, const char *msg, const char *code) {
  luaL_pushfail(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, code);
  return 3;
}


/*
** The message of the last TLS failure: the failing code (tls.c) writes
** it here and returns errno NS_ETLS, NS_ETLSVERIFY or NS_ETLSEOF
** (values no system errno takes). One buffer suffices: Lua runs one
** call at a time and ns_fail reads it before anything else can fail.
*/
char ns_reason[NS_REASONSIZE];


/*
** Push nil, strerror(err), errno name. The caller copies errno before
** any Lua call that may change it. ETIMEDOUT from the kernel (a
** keep-alive or connect that gave up) keeps its own name: only our
** own deadlines say "timeout".
*/
int ns_fail (lua_State *L, int err) {
  const char *name;
  char buf[32];
  if (ns_istlserr(err))  /* tls.c: the failure's message says why */
    return ns_failmsg(L, ns_reason, err == NS_ETLSVERIFY ? "tls_verify"
                      : err == NS_ETLSEOF ? "tls_eof" : "tls");
  name = errname(err);
  if (name == NULL) {
    snprintf(buf, sizeof buf, "E%d", err);
    name = buf;
  }
  return ns_failmsg(L, strerror(err), name);
}


static int failtimeout (lua_State *L) {
  return ns_failmsg(L, "timeout", "timeout");
}


int ns_closed (lua_State *L) {
  return ns_failmsg(L, "closed", "closed");
}


int ns_pushresult (lua_State *L, nsResult r, int err) {
  switch (r) {
    case NS_TIMEOUT: return failtimeout(L);
    case NS_CLOSED: return ns_closed(L);
    case NS_PUSHED: return 3;
    default: return ns_fail(L, err);
  }
}


/*
** A failure that says what it was about: the message of ns_fail(err)
** becomes "WHAT: message" ("bind 127.0.0.1:8080: Address already in
** use"); the code is unchanged, so programs that test codes see none of it.
*/
int ns_failabout (lua_State *L, int err, const char *what) {
  int n = ns_fail(L, err);
  lua_pushfstring(L, "%s: %s", what, lua_tostring(L, -2));
  lua_replace(L, -3);
  return n;
}


/* a resolver failure; the message names the host (or address) asked
   about, "lookup nosuch.invalid: Name or service not known", or the
   service when that was the trouble, "lookup service gopherx: ..." */
int ns_gaifail (lua_State *L, int gai, int err, const char *host,
                const char *serv) {
  const nsName *e;
  if (gai == EAI_SYSTEM)
    ns_fail(L, err);
  else {
    for (e = gainames; e->name != NULL; e++)
      if (e->num == gai) break;
    ns_failmsg(L, gai_strerror(gai), e->name ? e->name : "EAI_FAIL");
  }
  if (serv != NULL && (gai == EAI_SERVICE || host == NULL)) {
    lua_pushfstring(L, "lookup service %s: %s", serv, lua_tostring(L, -2));
    lua_replace(L, -3);
  }
  else if (host != NULL) {
    lua_pushfstring(L, "lookup %s: %s", host, lua_tostring(L, -2));
    lua_replace(L, -3);
  }
  return 3;
}


/* netsock.errorcode: errno number -> name, and the EAI names too */
void ns_errors_open (lua_State *L) {
  const nsName *e;
  lua_newtable(L);
  for (e = errnames; e->name != NULL; e++) {
    lua_pushstring(L, e->name);
    lua_rawseti(L, -2, e->num);
  }
  lua_setfield(L, -2, "errorcode");
  lua_newtable(L);
  for (e = gainames; e->name != NULL; e++) {
    lua_pushstring(L, e->name);
    lua_rawseti(L, -2, e->num);
  }
  lua_setfield(L, -2, "gaierrorcode");
  for (e = gainames; e->name != NULL; e++) {
    lua_pushinteger(L, e->num);
    lua_setfield(L, -2, e->name);
  }
}
