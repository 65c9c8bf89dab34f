/*
 * sandbox: the native half of tsdock's Sandbox (runner/sandbox.ts builds its argv).
 *
 * Node cannot unshare/setns/pivot_root, so this small static helper does the Linux calls:
 *   sandbox run  [options] -- ARGV...   new pid/mnt/uts/ipc(/net) namespaces, overlay or bind
 *                                       rootfs, volumes, /proc /sys /dev, masked paths,
 *                                       pivot_root, cgroup join, rlimits, user, caps,
 *                                       no_new_privs, seccomp, exec.
 *   sandbox exec --target PID [options] -- ARGV...   join a running container and exec.
 * The parent stays as a tiny supervisor: forwards signals, relays a TTY if asked (its pty is
 * opened in the container's own devpts and the master passed back over a socket, so `tty`
 * inside names an existing /dev/pts entry), reaps the container's PID 1 and exits with its
 * code (128+n for signal n). Exec failures come back over
 * a CLOEXEC pipe as 126 (not executable) / 127 (not found); setup failures as 125.
 *
 * Options:
 *   --rootfs DIR                 container root (bind-mounted onto itself unless --overlay)
 *   --overlay BASE LOWERS UPPER WORK   chdir BASE, mount overlay(LOWERS colon list) on --rootfs
 *   --hostname H   --cwd DIR   --user SPEC (name|uid[:group|gid], resolved in the container)
 *   --net new|host|PATH   --ipc new|PATH   --uts new|PATH   (PATH = an nsfs file to join)
 *   --bind SRC DST ro|rw   --tmpfs DST OPTS   (DST resolved inside the rootfs, never outside)
 *   --cgroup DIR (repeat; writes 0 to DIR/cgroup.procs before exec)
 *   --env K=V (repeat)   --rlimit RES SOFT HARD   --init   --tty   --readonly
 *   --pid-file PATH  (host pid of the container's PID 1)   --sync-fd N (wait for a byte first)
 *   --status-fd N  (writes "0" once the command was exec'd, or "CODE message" when it failed)
 *   --ip ADDR PREFIX GATEWAY  configure eth0 (a veth peer moved in while we waited on --sync-fd)
 *   --no-mknod (drop CAP_MKNOD: used where no devices cgroup can fence device nodes)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <net/route.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAXN 256

struct bind { const char *src, *dst, *mode; };
struct opts {
  int exec_mode;
  pid_t target;
  const char *rootfs, *ov_base, *ov_lowers, *ov_upper, *ov_work;
  const char *hostname, *cwd, *user, *net, *ipc, *uts, *pid_file;
  struct bind binds[MAXN]; int nbinds;
  struct bind tmpfs[MAXN]; int ntmpfs;
  const char *cgroups[16]; int ncgroups;
  char *env[MAXN * 4]; int nenv;
  struct { int res; rlim_t soft, hard; } rl[32]; int nrl;
  int init, tty, readonly, sync_fd, status_fd, no_mknod;
  const char *ip, *gateway; int prefix;
  char **argv;
};

static struct opts o;
static int err_fd = -1;            /* child -> parent: "CODE message" */
static volatile pid_t child_pid = 0;
static int cg_fds[16];

static void fail(int code, const char *fmt, ...) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "%d ", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, sizeof buf - n, fmt, ap);
  va_end(ap);
  if (err_fd >= 0) {
    if (write(err_fd, buf, strlen(buf)) < 0) { /* nothing else to do */ }
  } else {
    fprintf(stderr, "sandbox: %s\n", buf + n);
  }
  _exit(code);
}
#define CHECK(expr, ...) do { if ((expr) < 0) fail(125, __VA_ARGS__); } while (0)

static const struct { const char *name; int res; } rlimits[] = {
  {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},
  {"stack", RLIMIT_STACK}, {"memlock", RLIMIT_MEMLOCK}, {"fsize", RLIMIT_FSIZE},
  {"cpu", RLIMIT_CPU}, {"as", RLIMIT_AS}, {"data", RLIMIT_DATA}, {"msgqueue", RLIMIT_MSGQUEUE},
  {"nice", RLIMIT_NICE}, {"rtprio", RLIMIT_RTPRIO}, {"sigpending", RLIMIT_SIGPENDING},
};

static void usage(const char *why) {
  fprintf(stderr, "sandbox: %s\nusage: sandbox run|exec [options] -- ARGV...\n", why);
  exit(125);
}

static rlim_t parse_rlim(const char *s) {
  return strcmp(s, "unlimited") == 0 || strcmp(s, "-1") == 0 ? RLIM_INFINITY : strtoull(s, 0, 10);
}

static void parse(int argc, char **argv) {
  if (argc < 2) usage("missing mode");
  o.exec_mode = strcmp(argv[1], "exec") == 0;
  if (!o.exec_mode && strcmp(argv[1], "run") != 0) usage("mode must be run or exec");
  o.sync_fd = -1;
  o.status_fd = -1;
  int i = 2;
#define NEED(n) do { if (i + (n) >= argc) usage("missing value"); } while (0)
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    else if (!strcmp(a, "--rootfs")) { NEED(1); o.rootfs = argv[++i]; }
    else if (!strcmp(a, "--overlay")) {
      NEED(4); o.ov_base = argv[++i]; o.ov_lowers = argv[++i]; o.ov_upper = argv[++i]; o.ov_work = argv[++i];
    }
    else if (!strcmp(a, "--hostname")) { NEED(1); o.hostname = argv[++i]; }
    else if (!strcmp(a, "--cwd")) { NEED(1); o.cwd = argv[++i]; }
    else if (!strcmp(a, "--user")) { NEED(1); o.user = argv[++i]; }
    else if (!strcmp(a, "--net")) { NEED(1); o.net = argv[++i]; }
    else if (!strcmp(a, "--ipc")) { NEED(1); o.ipc = argv[++i]; }
    else if (!strcmp(a, "--uts")) { NEED(1); o.uts = argv[++i]; }
    else if (!strcmp(a, "--pid-file")) { NEED(1); o.pid_file = argv[++i]; }
    else if (!strcmp(a, "--target")) { NEED(1); o.target = atoi(argv[++i]); }
    else if (!strcmp(a, "--sync-fd")) { NEED(1); o.sync_fd = atoi(argv[++i]); }
    else if (!strcmp(a, "--status-fd")) { NEED(1); o.status_fd = atoi(argv[++i]); }
    else if (!strcmp(a, "--bind")) {
      NEED(3); if (o.nbinds == MAXN) usage("too many binds");
      o.binds[o.nbinds++] = (struct bind){argv[i + 1], argv[i + 2], argv[i + 3]}; i += 3;
    }
    else if (!strcmp(a, "--tmpfs")) {
      NEED(2); if (o.ntmpfs == MAXN) usage("too many tmpfs");
      o.tmpfs[o.ntmpfs++] = (struct bind){"tmpfs", argv[i + 1], argv[i + 2]}; i += 2;
    }
    else if (!strcmp(a, "--cgroup")) { NEED(1); if (o.ncgroups < 16) o.cgroups[o.ncgroups++] = argv[++i]; }
    else if (!strcmp(a, "--env")) { NEED(1); if (o.nenv < MAXN * 4 - 2) o.env[o.nenv++] = argv[++i]; }
    else if (!strcmp(a, "--rlimit")) {
      NEED(3); int res = -1;
      for (size_t k = 0; k < sizeof rlimits / sizeof *rlimits; k++)
        if (!strcmp(rlimits[k].name, argv[i + 1])) res = rlimits[k].res;
      if (res < 0) usage("unknown rlimit");
      if (o.nrl < 32) { o.rl[o.nrl].res = res; o.rl[o.nrl].soft = parse_rlim(argv[i + 2]); o.rl[o.nrl].hard = parse_rlim(argv[i + 3]); o.nrl++; }
      i += 3;
    }
    else if (!strcmp(a, "--ip")) { NEED(3); o.ip = argv[++i]; o.prefix = atoi(argv[++i]); o.gateway = argv[++i]; }
    else if (!strcmp(a, "--init")) o.init = 1;
    else if (!strcmp(a, "--tty")) o.tty = 1;
    else if (!strcmp(a, "--readonly")) o.readonly = 1;
    else if (!strcmp(a, "--no-mknod")) o.no_mknod = 1;
    else usage(a);
  }
  if (i >= argc) usage("missing command");
  o.argv = argv + i;
  o.env[o.nenv] = NULL;
  if (!o.exec_mode && !o.rootfs) usage("--rootfs is required");
  if (o.exec_mode && o.target <= 0) usage("--target is required");
}

/* ---------- paths inside the rootfs ---------- */

static int open_in_root(int rootfd, const char *path, int flags) {
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
  snprintf(path, sizeof path, "%s", dst);
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
          if (link[0] == '/') snprintf(again, sizeof again, "%s/%s", link, rest);
          else snprintf(again, sizeof again, "%.*s%s/%s", (int)(p - path), path, link, rest);
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

static int resolve_target(int rootfd, const char *dst, int as_file) {
  return resolve_target_depth(rootfd, dst, as_file, 0);
}

static void mount_at(int rootfd, const char *src, const char *dst, const char *type,
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

static void setup_dev(int rootfd) {
  mount_at(rootfd, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", 0);
  int dev = open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
  static const struct { const char *n; int maj, min; } nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
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
  mount_at(rootfd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=0620,gid=5", 0);
  mount_at(rootfd, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", 0);
  mount_at(rootfd, "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
}

/* A fresh network namespace starts with lo down; docker brings it up. */
static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

static void set_addr(int s, struct ifreq *ifr, unsigned long req, const char *addr) {
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) fail(125, "bad address %s", addr);
  if (ioctl(s, req, ifr) < 0) fail(125, "configure eth0 (%s): %s", addr, strerror(errno));
}

/* eth0: address/prefix, up, default route via the bridge (all ioctls, no ip(8) needed). */
static void configure_eth0(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(125, "socket: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
  set_addr(s, &ifr, SIOCSIFADDR, o.ip);
  char mask[32];
  uint32_t m = o.prefix ? htonl(~0U << (32 - o.prefix)) : 0;
  inet_ntop(AF_INET, &m, mask, sizeof mask);
  set_addr(s, &ifr, SIOCSIFNETMASK, mask);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(125, "eth0 flags: %s", strerror(errno));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(125, "eth0 up: %s", strerror(errno));
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway, *dst = (struct sockaddr_in *)&rt.rt_dst,
                     *msk = (struct sockaddr_in *)&rt.rt_genmask;
  gw->sin_family = dst->sin_family = msk->sin_family = AF_INET;
  inet_pton(AF_INET, o.gateway, &gw->sin_addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  rt.rt_dev = "eth0";
  if (ioctl(s, SIOCADDRT, &rt) < 0) fail(125, "default route: %s", strerror(errno));
  close(s);
}

static void setup_rootfs(void) {
  if (o.net && strcmp(o.net, "new") == 0) loopback_up();
  if (o.ip) configure_eth0();
  CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make mounts private: %s", strerror(errno));
  if (o.ov_lowers) {
    char data[8192];
    int n = snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", o.ov_lowers, o.ov_upper, o.ov_work);
    if (n >= 4096) fail(125, "overlay options too long (%d bytes); too many layers", n);
    CHECK(chdir(o.ov_base), "chdir %s: %s", o.ov_base, strerror(errno));
    CHECK(mount("overlay", o.rootfs, "overlay", 0, data), "mount overlay: %s", strerror(errno));
  } else {
    CHECK(mount(o.rootfs, o.rootfs, NULL, MS_BIND | MS_REC, NULL), "bind rootfs %s: %s", o.rootfs, strerror(errno));
  }
  int rootfd = open(o.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK(rootfd, "open rootfs: %s", strerror(errno));
  mount_at(rootfd, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
  /* a fresh read-only sysfs (never a bind of the host's: its submounts, e.g. cgroups, would
   * stay writable) */
  mount_at(rootfd, "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL, 0);
  setup_dev(rootfd);
  for (int i = 0; i < o.ntmpfs; i++)
    mount_at(rootfd, "tmpfs", o.tmpfs[i].dst, "tmpfs", MS_NOSUID | MS_NODEV, o.tmpfs[i].mode, 0);
  for (int i = 0; i < o.nbinds; i++) {
    struct stat st;
    if (stat(o.binds[i].src, &st) < 0) fail(125, "bind source %s: %s", o.binds[i].src, strerror(errno));
    unsigned long fl = MS_BIND | MS_REC | (strcmp(o.binds[i].mode, "ro") == 0 ? MS_RDONLY : 0);
    mount_at(rootfd, o.binds[i].src, o.binds[i].dst, NULL, fl, NULL, !S_ISDIR(st.st_mode));
  }
  /* pivot_root(".", ".") then detach the old root stacked underneath (as runc does). */
  CHECK(fchdir(rootfd), "chdir rootfs: %s", strerror(errno));
  CHECK(syscall(SYS_pivot_root, ".", "."), "pivot_root: %s", strerror(errno));
  CHECK(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL), "old root slave: %s", strerror(errno));
  CHECK(umount2(".", MNT_DETACH), "detach old root: %s", strerror(errno));
  CHECK(chdir("/"), "chdir /: %s", strerror(errno));
  close(rootfd);
  /* docker's masked and read-only paths */
  static const char *masked[] = {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"};
  for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
    struct stat st;
    if (stat(masked[i], &st) < 0) continue;
    if (S_ISDIR(st.st_mode)) mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0");
    else mount("/dev/null", masked[i], NULL, MS_BIND, NULL);
  }
  static const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
    if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) == 0)
      mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  }
  if (o.readonly) CHECK(mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), "read-only root: %s", strerror(errno));
}

/* ---------- user, capabilities, exec ---------- */

static int is_num(const char *s) { if (!*s) return 0; for (; *s; s++) if (*s < '0' || *s > '9') return 0; return 1; }

/* Looks NAME (or uid) up in the container's own /etc/passwd (we are past pivot_root). */
static int find_passwd(const char *name, uid_t *uid, gid_t *gid, char *home, size_t hl, char *uname, size_t ul) {
  FILE *f = fopen("/etc/passwd", "re");
  if (!f) return 0;
  struct passwd *pw;
  int found = 0;
  while ((pw = fgetpwent(f))) {
    if (is_num(name) ? pw->pw_uid == (uid_t)strtoul(name, 0, 10) : !strcmp(pw->pw_name, name)) {
      *uid = pw->pw_uid; *gid = pw->pw_gid;
      snprintf(home, hl, "%s", pw->pw_dir); snprintf(uname, ul, "%s", pw->pw_name);
      found = 1; break;
    }
  }
  fclose(f);
  return found;
}

static int find_group(const char *name, gid_t *gid) {
  FILE *f = fopen("/etc/group", "re");
  if (!f) return 0;
  struct group *gr; int found = 0;
  while ((gr = fgetgrent(f))) if (!strcmp(gr->gr_name, name)) { *gid = gr->gr_gid; found = 1; break; }
  fclose(f);
  return found;
}

static int supplementary(const char *uname, gid_t *out, int max) {
  FILE *f = fopen("/etc/group", "re");
  if (!f || !*uname) { if (f) fclose(f); return 0; }
  struct group *gr; int n = 0;
  while ((gr = fgetgrent(f)) && n < max)
    for (char **m = gr->gr_mem; m && *m; m++) if (!strcmp(*m, uname)) { out[n++] = gr->gr_gid; break; }
  fclose(f);
  return n;
}

static int has_env(const char *key) {
  size_t kl = strlen(key);
  for (int i = 0; i < o.nenv; i++) if (!strncmp(o.env[i], key, kl) && o.env[i][kl] == '=') return 1;
  return 0;
}

static void set_user(void) {
  uid_t uid = 0; gid_t gid = 0; char home[1024] = "/", uname[256] = "";
  gid_t groups[64]; int ng = 0;
  if (o.user && *o.user) {
    char spec[512]; snprintf(spec, sizeof spec, "%s", o.user);
    char *grp = strchr(spec, ':'); if (grp) *grp++ = 0;
    if (!find_passwd(spec, &uid, &gid, home, sizeof home, uname, sizeof uname)) {
      if (!is_num(spec)) fail(125, "unable to find user %s: no matching entries in passwd file", spec);
      uid = strtoul(spec, 0, 10); gid = 0;
    }
    if (grp && *grp) {
      if (is_num(grp)) gid = strtoul(grp, 0, 10);
      else if (!find_group(grp, &gid)) fail(125, "unable to find group %s: no matching entries in group file", grp);
    }
    ng = supplementary(uname, groups, 64);
  } else {
    find_passwd("0", &uid, &gid, home, sizeof home, uname, sizeof uname);
    uid = 0; gid = 0;
  }
  if (!has_env("HOME")) {
    static char h[1100]; snprintf(h, sizeof h, "HOME=%s", home); o.env[o.nenv++] = h; o.env[o.nenv] = NULL;
  }
  int dup = 0;
  for (int i = 0; i < ng; i++) dup |= groups[i] == gid;
  if (!dup) groups[ng++] = gid;
  CHECK(setgroups(ng, groups), "setgroups: %s", strerror(errno));
  CHECK(setresgid(gid, gid, gid), "setgid %u: %s", gid, strerror(errno));
  CHECK(setresuid(uid, uid, uid), "setuid %u: %s", uid, strerror(errno));
}

/* docker's default capability set */
static uint64_t default_caps(void) {
  static const int caps[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
    CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
    CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE};
  uint64_t m = 0;
  for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) m |= 1ULL << caps[i];
  if (o.no_mknod) m &= ~(1ULL << CAP_MKNOD);
  return m;
}

static void drop_bounding(uint64_t keep) {
  for (int c = 0; c <= 63; c++) {
    if (keep & (1ULL << c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno == EINVAL) break;
  }
}

static void set_caps(uint64_t keep) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (getuid() == 0) {
    d[0].effective = d[0].permitted = (uint32_t)keep;
    d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
  }
  CHECK(syscall(SYS_capset, &h, d), "capset: %s", strerror(errno));
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static void do_exec(void) {
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (int i = 0; i < o.nenv; i++) if (!strncmp(o.env[i], "PATH=", 5)) path = o.env[i] + 5;
  const char *cmd = o.argv[0];
  int eno = ENOENT;
  if (strchr(cmd, '/')) {
    execve(cmd, o.argv, o.env);
    eno = errno;
  } else {
    char buf[4096];
    const char *p = path;
    while (1) {
      const char *c = strchr(p, ':');
      size_t len = c ? (size_t)(c - p) : strlen(p);
      snprintf(buf, sizeof buf, "%.*s/%s", (int)len, len ? p : ".", cmd);
      execve(buf, o.argv, o.env);
      if (errno != ENOENT && errno != ENOTDIR) eno = errno;
      if (!c) break;
      p = c + 1;
    }
  }
  if (eno == ENOENT || eno == ENOTDIR)
    fail(127, "exec: \"%s\": executable file not found in $PATH", cmd);
  fail(126, "exec: \"%s\": %s", cmd, strerror(eno));
}

/* ---------- seccomp: the dangerous part of docker's default profile ---------- */

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
                  CLONE_NEWNET | CLONE_NEWCGROUP)

/* Refuses (EPERM) what docker's profile refuses that our capability set alone would not stop:
 * new namespaces (unshare, setns, clone with namespace flags; clone3 gets ENOSYS so libc falls
 * back to clone), the kernel keyring, bpf, perf events, userfaultfd, and handle-based opens;
 * other architectures' syscall ABIs get ENOSYS. */
static void install_seccomp(void) {
#ifdef NATIVE_ARCH
  static const int deny[] = {
    SYS_unshare, SYS_setns, SYS_keyctl, SYS_add_key, SYS_request_key, SYS_bpf,
    SYS_perf_event_open, SYS_userfaultfd, SYS_open_by_handle_at, SYS_name_to_handle_at,
    SYS_kexec_load, SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_mount,
    SYS_umount2, SYS_pivot_root, SYS_swapon, SYS_swapoff, SYS_reboot, SYS_acct,
    SYS_quotactl, SYS_fsopen, SYS_fsmount, SYS_move_mount, SYS_open_tree,
  };
  enum { N = sizeof deny / sizeof *deny };
  struct sock_filter f[8 + 2 * N + 8];
  int k = 0;
#define STMT(c, v) f[k++] = (struct sock_filter)BPF_STMT(c, v)
#define JUMP(c, v, t, e) f[k++] = (struct sock_filter)BPF_JUMP(c, v, t, e)
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
  JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1); /* the x32 ABI */
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
#endif
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  for (int i = 0; i < N; i++) {
    JUMP(BPF_JMP | BPF_JEQ | BPF_K, deny[i], 0, 1);
    STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  }
  /* clone: flags are the first argument (low 32 bits hold every namespace flag) */
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#undef STMT
#undef JUMP
  struct sock_fprog prog = {(unsigned short)k, f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) fail(125, "seccomp: %s", strerror(errno));
#endif
}

static void finish_and_exec(void) {
  if (o.hostname && !o.exec_mode) CHECK(sethostname(o.hostname, strlen(o.hostname)), "sethostname: %s", strerror(errno));
  for (int i = 0; i < o.nrl; i++) {
    struct rlimit r = {o.rl[i].soft, o.rl[i].hard};
    CHECK(setrlimit(o.rl[i].res, &r), "setrlimit: %s", strerror(errno));
  }
  const char *cwd = o.cwd && *o.cwd ? o.cwd : "/";
  if (chdir(cwd) < 0) {
    /* docker creates a missing working directory */
    char p[4096]; snprintf(p, sizeof p, "%s", cwd);
    for (char *s = p + 1; *s; s++) if (*s == '/') { *s = 0; mkdir(p, 0755); *s = '/'; }
    mkdir(p, 0755);
    CHECK(chdir(cwd), "chdir %s: %s", cwd, strerror(errno));
  }
  uint64_t caps = default_caps();
  drop_bounding(caps);
  set_user();
  set_caps(caps);
  /* die with our supervisor (set after the credential change, which clears it) */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs: %s", strerror(errno));
  install_seccomp();
  /* no host descriptors leak in: everything above 2 closes at exec (err_fd too) */
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  do_exec();
}

/* ---------- PID 1 (--init), supervisor, tty ---------- */

static void forward(int sig) { if (child_pid > 0) kill(child_pid, sig); }

static const int fwd_sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static void install_forwarding(void) {
  struct sigaction sa = {0};
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof fwd_sigs / sizeof *fwd_sigs; i++) sigaction(fwd_sigs[i], &sa, NULL);
}

static int status_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

/* A tiny init: forks the command, forwards signals to it, reaps every zombie. */
static void run_init(void) {
  pid_t pid = fork();
  if (pid < 0) fail(125, "fork: %s", strerror(errno));
  if (pid == 0) { finish_and_exec(); }
  child_pid = pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (err_fd >= 0) { close(err_fd); err_fd = -1; }
  install_forwarding();
  syscall(SYS_close_range, 3, ~0U, 0);
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, 0);
    if (w == pid) _exit(status_code(st));
    if (w < 0 && errno == ECHILD) _exit(0);
  }
}

static struct termios saved_tio;
static int tio_saved = 0, master_fd = -1;

static void winch(int sig) {
  (void)sig;
  struct winsize ws;
  if (master_fd >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master_fd, TIOCSWINSZ, &ws);
  if (child_pid > 0) kill(child_pid, SIGWINCH);
}

static void relay_tty(void) {
  if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
    struct termios raw = saved_tio;
    cfmakeraw(&raw);
    tcsetattr(0, TCSANOW, &raw);
    tio_saved = 1;
  }
  struct sigaction sa = {0};
  sa.sa_handler = winch; sa.sa_flags = SA_RESTART;
  sigaction(SIGWINCH, &sa, NULL);
  winch(0);
  struct pollfd p[2] = {{0, POLLIN, 0}, {master_fd, POLLIN, 0}};
  char buf[8192];
  for (;;) {
    if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) p[0].fd = -1; else if (write(master_fd, buf, n) < 0) break;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master_fd, buf, sizeof buf);
      if (n <= 0) break;
      if (write(1, buf, n) < 0) break;
    }
  }
  if (tio_saved) tcsetattr(0, TCSANOW, &saved_tio);
}

static void join_ns(const char *path, int type, const char *what) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(125, "open %s namespace %s: %s", what, path, strerror(errno));
  if (setns(fd, type) < 0) fail(125, "join %s namespace: %s", what, strerror(errno));
  close(fd);
}

/* Passes a descriptor over a unix socket (SCM_RIGHTS). */
static void send_fd(int sock, int fd) {
  char b = 'm';
  struct iovec iov = {&b, 1};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = u.buf; m.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0) fail(125, "pass the pty to the supervisor: %s", strerror(errno));
}

/* The descriptor sent by send_fd, or -1 when the peer closed without sending one. */
static int recv_fd(int sock) {
  char b;
  struct iovec iov = {&b, 1};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = u.buf; m.msg_controllen = sizeof u.buf;
  ssize_t n;
  while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (n <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* Makes SLAVE the controlling terminal and stdio of this (new session's) process. */
static void use_tty(int slave) {
  setsid();
  if (ioctl(slave, TIOCSCTTY, 0) < 0) fail(125, "set controlling terminal: %s", strerror(errno));
  dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
  if (slave > 2) close(slave);
}

/* `run --tty`: the pty comes from the container's own devpts instance (as runc's console
 * socket does), so `tty` names a /dev/pts entry that exists inside; the master goes to the
 * supervisor over SOCK for the relay. */
static void container_tty(int sock) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(125, "open /dev/ptmx: %s", strerror(errno));
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(125, "unlock pty: %s", strerror(errno));
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    unsigned int n;
    char path[64];
    if (ioctl(master, TIOCGPTN, &n) < 0) fail(125, "pty number: %s", strerror(errno));
    snprintf(path, sizeof path, "/dev/pts/%u", n);
    slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) fail(125, "open %s: %s", path, strerror(errno));
  }
  /* the size before the command runs (the relay sets it again, but only after exec) */
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(slave, TIOCSWINSZ, &ws);
  send_fd(sock, master);
  close(master);
  close(sock);
  use_tty(slave);
}

static void child_main(int slave, int tty_sock) {
  if (slave >= 0) use_tty(slave);
  for (int i = 0; i < o.ncgroups; i++)
    if (write(cg_fds[i], "0", 1) < 0) fail(125, "join cgroup %s: %s", o.cgroups[i], strerror(errno));
  /* a cgroup namespace rooted at the container's cgroup: /proc/self/cgroup shows "/" */
  if (!o.exec_mode && o.ncgroups > 0 && unshare(CLONE_NEWCGROUP) < 0)
    fail(125, "cgroup namespace: %s", strerror(errno));
  if (o.sync_fd >= 0) { char c; if (read(o.sync_fd, &c, 1) != 1) _exit(125); close(o.sync_fd); }
  if (!o.exec_mode) setup_rootfs();
  if (tty_sock >= 0) container_tty(tty_sock);
  if (o.init) run_init();
  finish_and_exec();
}

int main(int argc, char **argv) {
  /* a supervisor (tsrun, the monitor) that dies takes its container with it: nothing runs on
   * unsupervised, and the next command finds a settled record */
  pid_t supervisor = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != supervisor) return 125;
  parse(argc, argv);
  int flags = 0;
  for (int i = 0; i < o.ncgroups; i++) {
    char p[4096]; snprintf(p, sizeof p, "%s/cgroup.procs", o.cgroups[i]);
    cg_fds[i] = open(p, O_WRONLY | O_CLOEXEC);
    if (cg_fds[i] < 0) fail(125, "open %s: %s", p, strerror(errno));
  }
  if (o.exec_mode) {
    /* join every namespace of the target; mount last (it changes our root) */
    static const struct { const char *n; int t; } ns[] = {{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
      {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};
    int fds[6];
    for (int i = 0; i < 6; i++) {
      char p[128]; snprintf(p, sizeof p, "/proc/%d/ns/%s", o.target, ns[i].n);
      fds[i] = open(p, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) fail(125, "container process %d is gone: %s", o.target, strerror(errno));
    }
    for (int i = 0; i < 6; i++) {
      if (setns(fds[i], ns[i].t) < 0) fail(125, "join %s namespace: %s", ns[i].n, strerror(errno));
      close(fds[i]);
    }
  } else {
    flags = CLONE_NEWPID | CLONE_NEWNS;
    if (!o.uts || !strcmp(o.uts, "new")) flags |= CLONE_NEWUTS; else join_ns(o.uts, CLONE_NEWUTS, "uts");
    if (!o.ipc || !strcmp(o.ipc, "new")) flags |= CLONE_NEWIPC; else join_ns(o.ipc, CLONE_NEWIPC, "ipc");
    if (!o.net || !strcmp(o.net, "new")) { flags |= CLONE_NEWNET; o.net = "new"; }
    else if (strcmp(o.net, "host") != 0) join_ns(o.net, CLONE_NEWNET, "network");
  }
  int slave = -1, tty_sock[2] = {-1, -1};
  if (o.tty && !o.exec_mode) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tty_sock) < 0) fail(125, "socketpair: %s", strerror(errno));
  } else if (o.tty) {
    /* exec: we are in the container's mount namespace already, so this is its devpts */
    master_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_fd < 0 || grantpt(master_fd) < 0 || unlockpt(master_fd) < 0) fail(125, "open pty: %s", strerror(errno));
    slave = open(ptsname(master_fd), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) fail(125, "open pty slave: %s", strerror(errno));
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master_fd, TIOCSWINSZ, &ws);
  }
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) fail(125, "pipe: %s", strerror(errno));
  install_forwarding();
  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) fail(125, "clone: %s", strerror(errno));
  if (pid == 0) {
    close(ep[0]);
    err_fd = ep[1];
    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof fwd_sigs / sizeof *fwd_sigs; i++) sigaction(fwd_sigs[i], &sa, NULL);
    if (master_fd >= 0) close(master_fd);
    if (tty_sock[0] >= 0) close(tty_sock[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    child_main(slave, tty_sock[1]);
  }
  child_pid = pid;
  close(ep[1]);
  if (slave >= 0) close(slave);
  if (tty_sock[1] >= 0) close(tty_sock[1]);
  if (o.sync_fd >= 0) close(o.sync_fd);
  for (int i = 0; i < o.ncgroups; i++) close(cg_fds[i]);
  if (o.pid_file) {
    char tmp[4096]; snprintf(tmp, sizeof tmp, "%s.tmp", o.pid_file);
    FILE *f = fopen(tmp, "we");
    if (f) { fprintf(f, "%d\n", pid); fclose(f); rename(tmp, o.pid_file); }
  }
  if (tty_sock[0] >= 0) {
    /* the container's pty master, once its rootfs is set up (none if setup failed) */
    master_fd = recv_fd(tty_sock[0]);
    close(tty_sock[0]);
  }
  /* the exec status first (the pipe closes at exec), so `-d -t` reports before the relay */
  char msg[1100];
  ssize_t n, tot = 0;
  while ((n = read(ep[0], msg + tot, sizeof msg - 1 - tot)) > 0 || (n < 0 && errno == EINTR)) if (n > 0) tot += n;
  msg[tot] = 0;
  if (o.status_fd >= 0) {
    if (tot == 0) { if (write(o.status_fd, "0\n", 2) < 0) { /* supervisor gone */ } }
    else dprintf(o.status_fd, "%s\n", msg);
    close(o.status_fd);
  }
  if (master_fd >= 0) relay_tty();
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (tot > 0) {
    char *sp = strchr(msg, ' ');
    fprintf(stderr, "tsrun: %s\n", sp ? sp + 1 : msg);
    return atoi(msg) ? atoi(msg) : 125;
  }
  return status_code(st);
}
