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
 *   --bind SRC DST rw|ro|rro|ro-non-recursive   --tmpfs DST OPTS   (DST resolved inside the
 *                                rootfs, never outside; ro/rro: submounts read-only too)
 *   --cgroup DIR (repeat; writes 0 to DIR/cgroup.procs before exec)
 *   --env K=V (repeat)   --rlimit RES SOFT HARD   --init   --tty   --readonly
 *   --pid-file PATH  (host pid of the container's PID 1)   --sync-fd N (wait for a byte first)
 *   --status-fd N  (writes "0" once the command was exec'd, or "CODE message" when it failed)
 *   --ip ADDR PREFIX GATEWAY  configure eth0 (a veth peer moved in while we waited on --sync-fd)
 *   --no-mknod (drop CAP_MKNOD: used where no devices cgroup can fence device nodes)
 *   --userns PATH  rootless: join that user namespace (the user's pause process) first
 *   --fuse-overlay  mount the --overlay with fuse-overlayfs (rootless, kernels before 5.11)
 *   sandbox pause / sandbox userns-exec --userns PATH -- CMD...   (rootless, see userns.c)
 */
/*
 * The helper is split along runc's lines; this header is what the parts share:
 *   options.c       argv -> struct opts
 *   rootfs.c        the container's filesystem: overlay/bind root, /proc /sys /dev, tmpfs,
 *                   pivot_root, masked and read-only paths
 *   volumes.c       --bind volumes, read-only all the way down unless asked otherwise
 *   network.c       lo and eth0 inside the new network namespace
 *   user.c          --user looked up in the container's /etc/passwd and /etc/group
 *   capabilities.c  docker's default capability set, bounding set, capset
 *   seccomp.c       the syscall filter
 *   tty.c           the container's pty and the supervisor's relay
 *   userns.c        rootless mode: the shared user namespace (pause process), joining it
 *   fuse_overlay.c  rootless: the overlay through fuse-overlayfs (older kernels)
 *   main.c          namespaces, clone, supervisor, PID 1 (--init), exec
 */
#ifndef TSDOCK_SANDBOX_H
#define TSDOCK_SANDBOX_H

#define _GNU_SOURCE
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define MAX_RLIMITS 32

/* src is a host path, or (root set) a path resolved inside the directory root: --bind-in */
struct bind { const char *src, *dst, *mode, *root; };
struct opts {
  int exec_mode;
  pid_t target;
  const char *rootfs, *ov_base, *ov_lowers, *ov_upper, *ov_work;
  const char *hostname, *cwd, *user, *net, *ipc, *uts, *pid_file;
  const char *userns;                   /* rootless: the pause process's user namespace */
  struct bind *binds; int nbinds;       /* sized by argc, like every repeated option */
  struct bind *tmpfs; int ntmpfs;
  const char **cgroups; int ncgroups;   /* sized by argc: never truncated */
  char **env; int nenv;                 /* sized by argc + 2 (HOME, NULL) */
  struct { int res; rlim_t soft, hard; } rl[MAX_RLIMITS]; int nrl;
  int init, tty, readonly, sync_fd, status_fd, no_mknod, fuse_overlay;
  const char *ip, *gateway; int prefix;
  char **argv;
};

/* the parsed command line (options.c) */
extern struct opts o;
/* the container's PID 1 (or the command under --init), for signal forwarding (main.c) */
extern volatile pid_t child_pid;
/* the supervisor's end of the container's pty, -1 without --tty (tty.c) */
extern int master_fd;

/* Reports "CODE message" to the supervisor (or stderr before the clone) and exits CODE. */
void fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
#define CHECK(expr, ...) do { if ((expr) < 0) fail(125, __VA_ARGS__); } while (0)
/* snprintf into a fixed array BUF, failing (125) instead of truncating: a cut path names
 * another file */
#define FORMAT(buf, what, ...) do { int n_ = snprintf(buf, sizeof buf, __VA_ARGS__); \
    if (n_ < 0 || (size_t)n_ >= sizeof buf) fail(125, "%s is too long", what); } while (0)

/* options.c */
void parse(int argc, char **argv);
/* rootfs.c: everything from private mounts to pivot_root and the masked paths */
void setup_rootfs(void);
/* rootfs.c: DST resolved inside the rootfs (created when missing; a file when AS_FILE) */
int resolve_target(int rootfd, const char *dst, int as_file);
/* openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) below rootfd: symlinks cannot lead out */
int open_in_root(int rootfd, const char *path, int flags);
void mount_at(int rootfd, const char *src, const char *dst, const char *type,
              unsigned long flags, const char *data, int as_file);
/* volumes.c: one --bind, read-only as its mode says (rw, ro, rro, ro-non-recursive) */
void bind_volume(int rootfd, const struct bind *b);
/* network.c */
void loopback_up(void);
void configure_eth0(void);
/* user.c: switches to --user (adds HOME to the environment when unset) */
void set_user(void);
/* capabilities.c */
uint64_t default_caps(void);
void drop_bounding(uint64_t keep);
void set_caps(uint64_t keep);
/* seccomp.c */
void install_seccomp(void);
/* userns.c: rootless mode (see there); in_userns is 1 once we run in a non-initial user ns */
extern int in_userns;
void join_userns(const char *path);
int setgroups_denied(void);
int pause_main(void);
int userns_exec_main(int argc, char **argv);
/* fuse_overlay.c: mount --overlay with fuse-overlayfs in our own mount namespace / unmount */
void start_fuse_overlay(void);
void stop_fuse_overlay(void);
/* tty.c */
void relay_tty(void);
int recv_fd(int sock);
void use_tty(int slave);
void container_tty(int sock);

#endif
