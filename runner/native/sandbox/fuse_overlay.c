/* fuse_overlay.c: rootless, where the kernel refuses overlayfs in a user namespace (before
 * Linux 5.11), the container's root is a fuse-overlayfs mount (podman's fallback). The helper
 * takes a mount namespace of its own, starts `fuse-overlayfs -f` in it (a child that dies with
 * the helper), waits for the mount, and the container's namespace is cloned from it; the
 * daemon stays outside the container's pid namespace. When the container has exited the
 * helper unmounts it and the daemon ends. */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t fuse_pid = -1;

void start_fuse_overlay(void) {
  CHECK(unshare(CLONE_NEWNS), "mount namespace for fuse-overlayfs: %s", strerror(errno));
  CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make mounts private: %s", strerror(errno));
  struct stat before;
  CHECK(stat(o.rootfs, &before), "stat %s: %s", o.rootfs, strerror(errno));
  char data[8192];
  FORMAT(data, "overlay options", "lowerdir=%s,upperdir=%s,workdir=%s,allow_other", o.ov_lowers,
         o.ov_upper, o.ov_work);
  pid_t self = getpid();
  fuse_pid = fork();
  if (fuse_pid < 0) fail(125, "fork: %s", strerror(errno));
  if (fuse_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != self) _exit(125);
    if (chdir(o.ov_base) < 0) _exit(125);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); }
    execlp("fuse-overlayfs", "fuse-overlayfs", "-f", "-o", data, o.rootfs, (char *)NULL);
    fprintf(stderr, "sandbox: fuse-overlayfs: %s\n", strerror(errno));
    _exit(127);
  }
  /* mounted when the root's device changes (10 s at most) */
  for (int i = 0; i < 1000; i++) {
    struct stat now;
    if (stat(o.rootfs, &now) == 0 && now.st_dev != before.st_dev) return;
    int st;
    if (waitpid(fuse_pid, &st, WNOHANG) == fuse_pid)
      fail(125, "fuse-overlayfs exited (%d) before mounting %s; is it installed (Debian fuse-overlayfs) and /dev/fuse usable?",
           WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), o.rootfs);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(fuse_pid, SIGKILL);
  fail(125, "fuse-overlayfs did not mount %s within 10 s", o.rootfs);
}

void stop_fuse_overlay(void) {
  if (fuse_pid <= 0) return;
  if (umount2(o.rootfs, 0) < 0) umount2(o.rootfs, MNT_DETACH);
  /* the daemon ends once unmounted; SIGTERM makes sure (its writes are all done) */
  kill(fuse_pid, SIGTERM);
  while (waitpid(fuse_pid, NULL, 0) < 0 && errno == EINTR) {}
  fuse_pid = -1;
}
