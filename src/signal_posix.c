/*
** signal_posix.c: the signal seam on POSIX systems, the half of
** onsignal that differs between systems (ns_sig_*, netsock.h); no Lua.
** signal.c, the shared half, keeps the Lua functions and the flags.
**
** A self-pipe, not signalfd: signalfd needs the signal blocked in every
** thread, and a blocked mask is inherited by every program the script
** starts (os.execute, io.popen) and by the resolver's threads; a handler
** is not (exec resets it). The handler tells signal.c (the function
** given to ns_sig_install: a flag, the prompt's hook) and writes one
** byte to a non-blocking, close-on-exec pipe that the loop watches.
** Only the signals asked for are touched; each one's previous
** disposition is saved when it is caught and put back when released.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "netsock.h"

static volatile sig_atomic_t wakefd = -1;   /* the pipe's write end */
static int readfd = -1;                     /* the pipe's read end */
static pid_t pipepid;                       /* the process that made it */
static struct sigaction saved[NS_NSIG];     /* dispositions before ours */
static unsigned char caught[NS_NSIG];
static nsSigArrived arrived[NS_NSIG];       /* signal.c's, per signal */

static const nsSigName names[] = {
  {"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGHUP", SIGHUP},
  {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGCHLD", SIGCHLD},
  {"SIGQUIT", SIGQUIT}, {"SIGALRM", SIGALRM}, {"SIGPIPE", SIGPIPE},
  {"SIGWINCH", SIGWINCH}, {"SIGCONT", SIGCONT}, {"SIGTSTP", SIGTSTP},
  {"SIGTTIN", SIGTTIN}, {"SIGTTOU", SIGTTOU}, {"SIGURG", SIGURG},
  {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ}, {"SIGVTALRM", SIGVTALRM},
  {"SIGPROF", SIGPROF},
  {NULL, 0}
};

/* never caught, or the program's own faults, which a handler run later
   cannot mend: named for reports of how a worker ended, and for _kill */
static const nsSigName fatalnames[] = {
  {"SIGKILL", SIGKILL}, {"SIGSEGV", SIGSEGV}, {"SIGABRT", SIGABRT},
  {"SIGBUS", SIGBUS}, {"SIGFPE", SIGFPE}, {"SIGILL", SIGILL},
  {"SIGTRAP", SIGTRAP}, {"SIGSYS", SIGSYS}, {"SIGSTOP", SIGSTOP},
  {NULL, 0}
};

const nsSigName *ns_sig_names (int fatal) {
  return fatal ? fatalnames : names;
}

/* every name onsignal takes is a signal of this system */
const char *ns_sig_missing (void) {
  return NULL;
}


/*
** Async-signal-safe: signal.c's function (a flag, lua_sethook, which
** lua.c too calls from a handler), one write(2) to a non-blocking pipe
** (a full pipe already wakes the loop), errno kept.
*/
static void onsignal (int sig) {
  int e = errno;
  int fd = wakefd;
  if (sig > 0 && sig < NS_NSIG && arrived[sig] != NULL) arrived[sig](sig);
  if (fd >= 0) {
    char c = (char)sig;
    ssize_t n = write(fd, &c, 1);
    (void)n;  /* EAGAIN: the pipe is full, the loop wakes anyway */
  }
  errno = e;
}


/*
** The pipe's read end (made on first use, and made again in a child
** after fork: a pipe shared with the parent would let one process take
** the other's signals), or -1 with errno.
*/
int ns_sig_wakefd (void) {
  int p[2];
  if (readfd >= 0 && pipepid == getpid()) return readfd;
  if (ns_sys_pipe(p) < 0) return -1;  /* errno set */
  if (readfd >= 0) {
    int oldw = wakefd;
    wakefd = p[1];
    close(oldw);
    close(readfd);
  }
  else wakefd = p[1];
  readfd = p[0];
  pipepid = getpid();
  return readfd;
}


/* reads the pipe empty (this process's own only) */
void ns_sig_drain (void) {
  char buf[64];
  ssize_t r;
  if (readfd < 0 || pipepid != getpid()) return;
  do r = read(readfd, buf, sizeof buf);
  while (r > 0 || (r < 0 && errno == EINTR));
}


static int ours (int sig) {
  struct sigaction cur;
  return sigaction(sig, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
         cur.sa_handler == onsignal;
}


/* whether our handler is the one in place for 'sig' (asked of the kernel) */
int ns_sig_caught (int sig) {
  return ours(sig);
}


/*
** Our handler for 'sig', the previous disposition saved: 0, or -1 with
** errno. Whether it is in place is asked of the kernel, not of a flag:
** a forked child (core._fork puts every caught signal back to its
** default) or another library may have changed it since. SA_RESTART,
** so that other code's calls do not see EINTR for a signal it did not
** ask about; SA_NOCLDSTOP for SIGCHLD (exits only). Then the signal is
** unblocked in this thread: one core._fork held blocked across a fork
** arrives now, at our handler.
*/
int ns_sig_install (int sig, nsSigArrived fn) {
  sigset_t one;
  arrived[sig] = fn;
  if (!ours(sig)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onsignal;
    sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &saved[sig]) < 0) return -1;
    caught[sig] = 1;
  }
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  return 0;
}


/*
** The disposition from before ns_sig_install back, if ours is still the
** one in place (else whoever replaced it keeps it): 0, or -1 with errno
*/
int ns_sig_restore (int sig) {
  if (caught[sig]) {
    if (ours(sig) && sigaction(sig, &saved[sig], NULL) < 0) return -1;
    caught[sig] = 0;
  }
  return 0;
}


/* kill(2): 0, or -1 with errno */
int ns_sig_kill (long pid, int sig) {
  return kill((pid_t)pid, sig);
}


long ns_sig_getpid (void) {
  return (long)getpid();
}


/*
** Whether SIGINT has its default action: lua.c's prompt puts it back
** while its own Ctrl-C is pending (ns_interrupted, signal.c)
*/
int ns_sig_intdefault (void) {
  struct sigaction sa;
  return sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL;
}
