/* userns.c: rootless mode (an ordinary user, no setuid binary of ours).
 *
 * All of a user's containers and builds share one user namespace, kept alive by a pause
 * process (podman's design): it maps the user to root and the user's /etc/subuid and
 * /etc/subgid ranges to 1..N (the mapping is written by newuidmap/newgidmap, run by
 * runner/rootless/userns.ts; a single-id mapping where no ranges exist). Everything that needs
 * root over the user's files (overlay mounts, namespaces, unpacking layers with their owners)
 * joins that namespace first:
 *   sandbox pause                       unshare a user namespace, print "ready", wait for "go"
 *                                       on stdin (the mapping is written meanwhile), detach
 *                                       and sleep until killed
 *   sandbox run|exec --userns PATH ...  join PATH (/proc/PAUSE/ns/user) first, as root there
 *   sandbox userns-exec --userns PATH -- CMD...   join, then exec CMD (tsbuild, tscommit, ...)
 * Joining needs no privilege: the namespace is owned by the caller's uid (checked with
 * NS_GET_OWNER_UID, so a path to someone else's namespace is refused with one line). */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int in_userns = 0;

/* 1 when we run in a user namespace other than the initial one (uid_map is not the identity). */
static int detect_userns(void) {
  char buf[256] = "";
  int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long inside, outside, count;
  if (sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) != 3) return 1;
  return !(inside == 0 && outside == 0 && count == 4294967295UL);
}

void join_userns(const char *path) {
  if (path && getuid() != 0) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(125, "rootless user namespace %s: %s (the pause process is gone; run the command again)",
           path, strerror(errno));
    uid_t owner;
    if (ioctl(fd, NS_GET_OWNER_UID, &owner) < 0) fail(125, "%s is not a user namespace: %s", path, strerror(errno));
    if (owner != getuid()) fail(125, "user namespace %s belongs to uid %u, not to us", path, owner);
    if (setns(fd, CLONE_NEWUSER) < 0) fail(125, "join user namespace %s: %s", path, strerror(errno));
    close(fd);
    /* root in the namespace; with a single-id mapping setgroups is denied (nothing to drop) */
    if (setgroups(0, NULL) < 0 && errno != EPERM) fail(125, "setgroups: %s", strerror(errno));
    CHECK(setresgid(0, 0, 0), "setgid 0 in the user namespace: %s", strerror(errno));
    CHECK(setresuid(0, 0, 0), "setuid 0 in the user namespace: %s", strerror(errno));
  }
  in_userns = detect_userns();
}

/* 1 when /proc/self/setgroups says deny (a single-id mapping made without newgidmap). */
int setgroups_denied(void) {
  char buf[16] = "";
  int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "deny", 4) == 0;
}

int pause_main(void) {
  if (unshare(CLONE_NEWUSER) < 0) {
    fprintf(stderr, "sandbox: cannot create a user namespace: %s (is kernel.unprivileged_userns_clone "
            "or user.max_user_namespaces 0?)\n", strerror(errno));
    return 125;
  }
  if (write(1, "ready\n", 6) != 6) return 125;
  char go[8] = "";
  ssize_t n;
  size_t got = 0;
  while (got < 2 && ((n = read(0, go + got, 2 - got)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0) got += (size_t)n;
  if (got < 2 || strncmp(go, "go", 2) != 0) return 125; /* the mapping failed: give up */
  /* live on alone: no parent death signal, own session, no inherited descriptors */
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  setsid();
  if (chdir("/") < 0) return 125;
  int null = open("/dev/null", O_RDWR);
  if (null < 0) return 125;
  for (int fd = 0; fd < 3; fd++) dup2(null, fd);
  syscall(SYS_close_range, 3, ~0U, 0);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  prctl(PR_SET_NAME, "tsdock-pause", 0, 0, 0);
  for (;;) pause();
}

int userns_exec_main(int argc, char **argv) {
  const char *ns = NULL;
  int i = 2;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) { i++; break; }
    if (!strcmp(argv[i], "--userns") && i + 1 < argc) ns = argv[++i];
    else { fprintf(stderr, "sandbox: userns-exec: unknown option %s\n", argv[i]); return 125; }
  }
  if (!ns || i >= argc) { fprintf(stderr, "usage: sandbox userns-exec --userns PATH -- CMD...\n"); return 125; }
  join_userns(ns);
  /* the credential change cleared it: the command goes when its caller goes (SIGTERM: it may
   * clean up) */
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  execvp(argv[i], argv + i);
  fprintf(stderr, "sandbox: exec %s: %s\n", argv[i], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
