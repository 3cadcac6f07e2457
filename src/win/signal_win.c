/*
** src/win/signal_win.c: the signal seam on Windows (ns_sig_*, netsock.h)
** in place of signal_posix.c; signal.c's Lua half is the same on both.
** Windows has no POSIX signals to catch between processes; a console
** program gets Ctrl-C and Ctrl-Break as console control events, which
** the system delivers on a thread of its own to the handler set with
** SetConsoleCtrlHandler. That handler plays signal_posix.c's: for an
** event whose signal is caught (CTRL_C_EVENT is SIGINT, CTRL_BREAK_EVENT
** SIGBREAK) it tells signal.c (the function given to ns_sig_install: the
** flag, the console's "interrupted!" hook), sends a byte to a notifier
** socket (sys_win.c) that the loop waits on, and says the event is
** handled. SIGTERM can be caught too, and is raised only by core._kill
** on this process (as is every signal here: Windows has no kill(2) for
** another process's handlers). No Winsock call returns EINTR, so
** ns_interrupted never needs the prompt's SIGINT (ns_sig_intdefault).
*/
#include <process.h>
#include <signal.h>
#include <string.h>

#include "netsock.h"

#if !defined(SIGBREAK)
#define SIGBREAK  21
#endif

static volatile LONG caught[NS_NSIG];   /* a handler of ours is set */
static nsSigArrived volatile arrived[NS_NSIG];
static volatile LONG wakefd = -1;       /* the notifier */
static INIT_ONCE handleronce = INIT_ONCE_STATIC_INIT;

/* the names of POSIX signals Windows lacks: -1, "not available" */
static const nsSigName names[] = {
  {"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGBREAK", SIGBREAK},
  {"SIGHUP", -1}, {"SIGUSR1", -1}, {"SIGUSR2", -1}, {"SIGCHLD", -1},
  {"SIGQUIT", -1}, {"SIGALRM", -1}, {"SIGPIPE", -1}, {"SIGWINCH", -1},
  {"SIGCONT", -1}, {"SIGTSTP", -1}, {"SIGTTIN", -1}, {"SIGTTOU", -1},
  {"SIGURG", -1}, {"SIGXCPU", -1}, {"SIGXFSZ", -1}, {"SIGVTALRM", -1},
  {"SIGPROF", -1},
  {NULL, 0}
};

static const nsSigName fatalnames[] = {
  {"SIGSEGV", SIGSEGV}, {"SIGABRT", SIGABRT}, {"SIGFPE", SIGFPE},
  {"SIGILL", SIGILL},
  {NULL, 0}
};

const nsSigName *ns_sig_names (int fatal) {
  return fatal ? fatalnames : names;
}

const char *ns_sig_missing (void) {
  return "not available on Windows (SIGINT, SIGBREAK, SIGTERM are)";
}


/* a signal arrived (any thread): 1 when one of ours took it */
static int deliver (int sig) {
  nsSigArrived fn;
  int fd;
  if (sig <= 0 || sig >= NS_NSIG || !caught[sig]) return 0;
  if ((fn = arrived[sig]) != NULL) fn(sig);
  if ((fd = (int)wakefd) >= 0) ns_sys_notify(fd);
  return 1;
}


/* on the system's thread for console events */
static BOOL WINAPI onevent (DWORD event) {
  switch (event) {
    case CTRL_C_EVENT: return deliver(SIGINT) ? TRUE : FALSE;
    case CTRL_BREAK_EVENT: return deliver(SIGBREAK) ? TRUE : FALSE;
    default: return FALSE;   /* close, logoff, shutdown: the default */
  }
}


static BOOL CALLBACK sethandler (PINIT_ONCE once, PVOID arg, PVOID *ctx) {
  (void)once; (void)arg; (void)ctx;
  SetConsoleCtrlHandler(onevent, TRUE);
  return TRUE;
}


/* the notifier, made on first use, or -1 with errno */
int ns_sig_wakefd (void) {
  int fd;
  if (wakefd >= 0) return (int)wakefd;
  if ((fd = ns_sys_notifier(0)) < 0) return -1;
  InterlockedExchange(&wakefd, fd);
  return fd;
}


void ns_sig_drain (void) {
  if (wakefd >= 0) ns_sys_drain((int)wakefd);
}


int ns_sig_install (int sig, nsSigArrived fn) {
  InitOnceExecuteOnce(&handleronce, sethandler, NULL, NULL);
  arrived[sig] = fn;
  InterlockedExchange(&caught[sig], 1);
  return 0;
}


int ns_sig_caught (int sig) {
  return caught[sig] != 0;
}


int ns_sig_restore (int sig) {
  InterlockedExchange(&caught[sig], 0);
  return 0;
}


/*
** Only this process, whose caught signal arrives as from the console; a
** signal not caught does what Windows does with it (raise: SIGINT and
** SIGBREAK end the process, as Ctrl-C would). Another pid: ENOSYS.
*/
int ns_sig_kill (long pid, int sig) {
  if (pid != (long)_getpid()) {
    errno = ENOSYS;
    return -1;
  }
  if (!deliver(sig)) raise(sig);
  return 0;
}


long ns_sig_getpid (void) {
  return (long)_getpid();
}


int ns_sig_intdefault (void) {
  return 0;
}
