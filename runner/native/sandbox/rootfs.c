/* rootfs.c: the container's filesystem. Mount targets are resolved inside the rootfs with
 * openat2(RESOLVE_IN_ROOT), so symlinks in an image or a volume path cannot lead out. */
#include "sandbox.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---------- paths inside the rootfs ---------- */

int open_in_root(int rootfd, const char *path, int flags) {
  struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/* Resolves DST inside the rootfs (symlinks cannot leave it), creating missing directories
 * (and, when as_file, a missing final file). Returns an O_PATH fd for /proc/self/fd mounts. */
static int resolve_target_depth(int rootfd, const char *dst, int as_file, int depth) {
  int fd = open_in_root(rootfd, dst, O_PATH);
  if (fd >= 0) return fd;
  if (errno != ENOENT) fail(125, "resolve %s: %s", dst, strerror(errno));
  char path[4096];
  FORMAT(path, dst, "%s", dst);
  int dirfd = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
  char *p = path;
  while (*p == '/') p++;
  while (*p) {
    char *slash = strchr(p, '/'), *cut = slash;
    int last = 0;
    if (slash) { *cut = 0; while (slash[1] == '/') slash++; last = slash[1] == 0; } else last = 1;
    if (*p && strcmp(p, ".") != 0) {
      /* Resolve the prefix so far inside the root, then create the next component in it. */
      int next = open_in_root(rootfd, path, O_PATH);
      if (next < 0 && errno == ENOENT) {
        int parent = dirfd;
        int r = (last && as_file) ? openat(parent, p, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644)
                                  : mkdirat(parent, p, 0755);
        if (r < 0 && errno != EEXIST) fail(125, "create mount target %s: %s", dst, strerror(errno));
        if (last && as_file && r >= 0) close(r);
        next = open_in_root(rootfd, path, O_PATH);
        char link[4096];
        ssize_t ll;
        if (next < 0 && errno == ENOENT && (ll = readlinkat(parent, p, link, sizeof link - 1)) > 0) {
          /* a dangling symlink: continue from its target, still resolved inside the root */
          link[ll] = 0;
          char again[8192];
          const char *rest = slash ? slash + 1 : "";
          if (link[0] == '/') FORMAT(again, dst, "%s/%s", link, rest);
          else FORMAT(again, dst, "%.*s%s/%s", (int)(p - path), path, link, rest);
          if (++depth > 40) fail(125, "resolve %s: too many levels of symbolic links", dst);
          close(dirfd);
          return resolve_target_depth(rootfd, again, as_file, depth);
        }
      }
      if (next < 0) fail(125, "resolve %s: %s", dst, strerror(errno));
      close(dirfd);
      dirfd = next;
    }
    if (!slash) break;
    *cut = '/';
    p = slash + 1;
  }
  return dirfd;
}

int resolve_target(int rootfd, const char *dst, int as_file) {
  return resolve_target_depth(rootfd, dst, as_file, 0);
}

void mount_at(int rootfd, const char *src, const char *dst, const char *type,
              unsigned long flags, const char *data, int as_file) {
  int fd = resolve_target(rootfd, dst, as_file);
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  if (mount(src, target, type, flags, data) < 0)
    fail(125, "mount %s on %s: %s", type ? type : src, dst, strerror(errno));
  close(fd);
  if ((flags & MS_BIND) && (flags & MS_RDONLY)) {
    /* the old fd names the directory under the new mount: resolve again to reach its root */
    fd = resolve_target(rootfd, dst, as_file);
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), NULL) < 0)
      fail(125, "remount %s read-only: %s", dst, strerror(errno));
    close(fd);
  }
}

/* ---------- the container's filesystem ---------- */

/* mount() at DST inside the rootfs, returning -1 with errno instead of failing */
static int try_mount_at(int rootfd, const char *src, const char *dst, const char *type,
                        unsigned long flags, const char *data, int as_file) {
  int fd = resolve_target(rootfd, dst, as_file);
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = mount(src, target, type, flags, data);
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

/* Rootless: a recursive read-only bind of a host path (sysfs of the host's network namespace,
 * which a user namespace may not mount afresh; runc's rootless /sys does the same). */
static void bind_host_readonly(int rootfd, const char *path) {
  if (try_mount_at(rootfd, path, path, NULL, MS_BIND | MS_REC, NULL, 0) < 0)
    fail(125, "bind %s: %s", path, strerror(errno));
  int fd = resolve_target(rootfd, path, 0);
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    fail(125, "make %s read-only: %s", path, strerror(errno));
  close(fd);
}

static void setup_dev(int rootfd) {
  mount_at(rootfd, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", 0);
  int dev = open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
  static const struct { const char *n; int maj, min; } nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    if (in_userns) {
      /* no mknod in a user namespace: the host's nodes, bound over empty files (runc's
       * rootless /dev) */
      char dst[32], src[32];
      snprintf(dst, sizeof dst, "/dev/%s", nodes[i].n);
      snprintf(src, sizeof src, "/dev/%s", nodes[i].n);
      mount_at(rootfd, src, dst, NULL, MS_BIND, NULL, 1);
      continue;
    }
    if (mknodat(dev, nodes[i].n, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
      fail(125, "mknod /dev/%s: %s", nodes[i].n, strerror(errno));
    /* umask may have narrowed the mode */
    int fd = openat(dev, nodes[i].n, O_PATH | O_CLOEXEC);
    char p[64]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    chmod(p, 0666); close(fd);
  }
  static const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
    {"/proc/kcore", "core"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) symlinkat(links[i][0], dev, links[i][1]);
  close(dev);
  if (try_mount_at(rootfd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=0620,gid=5", 0) < 0) {
    /* rootless with a single-id mapping: gid 5 (tty) does not exist in the namespace */
    if (!in_userns || errno != EINVAL) fail(125, "mount devpts on /dev/pts: %s", strerror(errno));
    mount_at(rootfd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620", 0);
  }
  mount_at(rootfd, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", 0);
  mount_at(rootfd, "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
}


/* docker's masked paths: an empty read-only tmpfs over a directory, /dev/null over a file */
static void mask_path(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return; /* not on this kernel */
  if (S_ISDIR(st.st_mode)) CHECK(mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0"), "mask %s: %s", path, strerror(errno));
  else CHECK(mount("/dev/null", path, NULL, MS_BIND, NULL), "mask %s: %s", path, strerror(errno));
}

void setup_rootfs(void) {
  if (o.net && strcmp(o.net, "new") == 0) loopback_up();
  if (o.ip) configure_eth0();
  CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make mounts private: %s", strerror(errno));
  if (o.ov_lowers && o.fuse_overlay) {
    /* mounted by the helper before the clone (fuse_overlay.c): this namespace has it */
  } else if (o.ov_lowers) {
    char data[8192];
    /* in a user namespace overlayfs keeps its whiteouts and opaque marks in user.overlay.*
     * xattrs (userxattr, Linux 5.11+): trusted.* is not ours to set there */
    int n = snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s%s", o.ov_lowers, o.ov_upper,
                     o.ov_work, in_userns ? ",userxattr" : "");
    if (n >= 4096) fail(125, "overlay options too long (%d bytes); too many layers", n);
    CHECK(chdir(o.ov_base), "chdir %s: %s", o.ov_base, strerror(errno));
    if (mount("overlay", o.rootfs, "overlay", 0, data) < 0) {
      if (in_userns)
        fail(125, "mount overlay in the rootless user namespace: %s (overlayfs there needs Linux 5.11 "
                  "or later; on older kernels run tsdock as root)", strerror(errno));
      fail(125, "mount overlay: %s", strerror(errno));
    }
  } else {
    CHECK(mount(o.rootfs, o.rootfs, NULL, MS_BIND | MS_REC, NULL), "bind rootfs %s: %s", o.rootfs, strerror(errno));
  }
  int rootfd = open(o.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK(rootfd, "open rootfs: %s", strerror(errno));
  mount_at(rootfd, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
  /* a fresh read-only sysfs (never a bind of the host's: its submounts, e.g. cgroups, would
   * stay writable) */
  if (try_mount_at(rootfd, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL, 0) < 0) {
    /* rootless in the host's network namespace: sysfs is the host's to mount */
    if (!in_userns || errno != EPERM) fail(125, "mount sysfs on /sys: %s", strerror(errno));
    bind_host_readonly(rootfd, "/sys");
  }
  setup_dev(rootfd);
  for (int i = 0; i < o.ntmpfs; i++)
    mount_at(rootfd, "tmpfs", o.tmpfs[i].dst, "tmpfs", MS_NOSUID | MS_NODEV, o.tmpfs[i].mode, 0);
  for (int i = 0; i < o.nbinds; i++) bind_volume(rootfd, &o.binds[i]);
  /* pivot_root(".", ".") then detach the old root stacked underneath (as runc does). */
  CHECK(fchdir(rootfd), "chdir rootfs: %s", strerror(errno));
  CHECK(syscall(SYS_pivot_root, ".", "."), "pivot_root: %s", strerror(errno));
  CHECK(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL), "old root slave: %s", strerror(errno));
  CHECK(umount2(".", MNT_DETACH), "detach old root: %s", strerror(errno));
  CHECK(chdir("/"), "chdir /: %s", strerror(errno));
  close(rootfd);
  /* docker's masked and read-only paths */
  static const char *masked[] = {"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore",
    "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"};
  for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) mask_path(masked[i]);
  /* per-CPU thermal_throttle counters (docker: GHSA-6fw5-f8r9-fgfm, an interrupt side channel) */
  DIR *cpus = opendir("/sys/devices/system/cpu");
  for (struct dirent *e; cpus && (e = readdir(cpus));) {
    if (strncmp(e->d_name, "cpu", 3) || e->d_name[3] < '0' || e->d_name[3] > '9') continue;
    char p[512];
    FORMAT(p, e->d_name, "/sys/devices/system/cpu/%s/thermal_throttle", e->d_name);
    mask_path(p);
  }
  if (cpus) closedir(cpus);
  static const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
    if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT) continue; /* not in this kernel's /proc */
      fail(125, "bind %s: %s", ro[i], strerror(errno));
    }
    CHECK(mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
          "make %s read-only: %s", ro[i], strerror(errno));
  }
  if (o.readonly) CHECK(mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), "read-only root: %s", strerror(errno));
}
