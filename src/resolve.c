/*
** resolve.c: (to be written)
*/
#include "netsock.h"


void ns_resolve_open (lua_State *L) {
  (void)L;
}
