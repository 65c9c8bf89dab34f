/* main.c: the helper's entry point. Joins or creates the namespaces, clones the container's
 * PID 1, and stays as its supervisor (signals, tty relay, exit code); in the child: cgroups,
 * rootfs, user, capabilities, no_new_privs, seccomp, exec (or a tiny init with --init). */
#include "sandbox.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int err_fd = -1;            /* child -> parent: "CODE message" */
volatile pid_t child_pid = 0;
static int *cg_fds;

void fail(int code, const char *fmt, ...) {
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
      int n = snprintf(buf, sizeof buf, "%.*s/%s", (int)len, len ? p : ".", cmd);
      if (n > 0 && (size_t)n < sizeof buf) execve(buf, o.argv, o.env); /* a cut path: not it */
      else errno = ENOENT;
      if (errno != ENOENT && errno != ENOTDIR) eno = errno;
      if (!c) break;
      p = c + 1;
    }
  }
  if (eno == ENOENT || eno == ENOTDIR)
    fail(127, "exec: \"%s\": executable file not found in $PATH", cmd);
  fail(126, "exec: \"%s\": %s", cmd, strerror(eno));
}

/* Closes every descriptor above 2 (or marks it close-on-exec, CLOEXEC_ONLY, so err_fd still
 * reports an exec failure). close_range needs Linux 5.9, its CLOSE_RANGE_CLOEXEC 5.11; before
 * that, one by one from /proc/self/fd (the container's /proc: we are past pivot_root or in
 * its pid namespace). Anything that fails stops the start: a host fd must never leak in. */
static void close_fds_above_2(int cloexec_only) {
  if (syscall(SYS_close_range, 3, ~0U, cloexec_only ? CLOSE_RANGE_CLOEXEC : 0) == 0) return;
  if (errno != ENOSYS && errno != EINVAL) fail(125, "close inherited descriptors: %s", strerror(errno));
  DIR *d = opendir("/proc/self/fd");
  if (!d) fail(125, "close inherited descriptors: /proc/self/fd: %s", strerror(errno));
  struct dirent *e;
  while ((errno = 0, e = readdir(d))) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end || end == e->d_name || fd < 3 || fd == dirfd(d)) continue;
    if (!cloexec_only) { close((int)fd); continue; } /* Linux frees the fd even on error */
    int fl = fcntl((int)fd, F_GETFD);
    if (fl < 0 || fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0)
      fail(125, "close inherited descriptor %ld: %s", fd, strerror(errno));
  }
  if (errno) fail(125, "close inherited descriptors: /proc/self/fd: %s", strerror(errno));
  closedir(d);
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
    char p[4096]; FORMAT(p, "working directory", "%s", cwd);
    for (char *s = p + 1; *s; s++) if (*s == '/') { *s = 0; mkdir(p, 0755); *s = '/'; }
    mkdir(p, 0755);
    CHECK(chdir(cwd), "chdir %s: %s", cwd, strerror(errno));
  }
  /* no host descriptors leak in: everything above 2 closes at exec (err_fd too); done while
   * still root, as /proc/self/fd of a process that changed its uid is not its own to read */
  close_fds_above_2(1);
  uint64_t caps = default_caps();
  drop_bounding(caps);
  set_user();
  set_caps(caps);
  /* die with our supervisor (set after the credential change, which clears it) */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs: %s", strerror(errno));
  install_seccomp();
  do_exec();
}

/* ---------- signal forwarding, PID 1 (--init) ---------- */

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
  close_fds_above_2(0);
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, 0);
    if (w == pid) _exit(status_code(st));
    if (w < 0 && errno == ECHILD) _exit(0);
  }
}


static void join_ns(const char *path, int type, const char *what) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(125, "open %s namespace %s: %s", what, path, strerror(errno));
  if (setns(fd, type) < 0) fail(125, "join %s namespace: %s", what, strerror(errno));
  close(fd);
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
  if (argc >= 2 && !strcmp(argv[1], "pause")) return pause_main();
  if (argc >= 2 && !strcmp(argv[1], "userns-exec")) return userns_exec_main(argc, argv);
  parse(argc, argv);
  join_userns(o.userns); /* rootless: first, so every namespace below is owned by it */
  if (o.userns) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* the credential change cleared it */
    if (getppid() != supervisor) return 125;
  }
  int flags = 0;
  cg_fds = calloc((size_t)o.ncgroups + 1, sizeof *cg_fds);
  if (!cg_fds) fail(125, "out of memory");
  for (int i = 0; i < o.ncgroups; i++) {
    char p[4096]; FORMAT(p, o.cgroups[i], "%s/cgroup.procs", o.cgroups[i]);
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
      /* one we are in already (the host's network with --network host, the host's cgroup
       * namespace where a rootless container has none): nothing to join, and joining the
       * host's from a user namespace would be refused */
      char self[64]; snprintf(self, sizeof self, "/proc/self/ns/%s", ns[i].n);
      struct stat a, b;
      if (fstat(fds[i], &a) == 0 && stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        close(fds[i]);
        continue;
      }
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
  if (o.fuse_overlay && o.ov_lowers && !o.exec_mode) start_fuse_overlay();
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
    char tmp[4096]; FORMAT(tmp, "--pid-file", "%s.tmp", o.pid_file);
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
  stop_fuse_overlay();
  if (tot > 0) {
    char *sp = strchr(msg, ' ');
    fprintf(stderr, "tsrun: %s\n", sp ? sp + 1 : msg);
    return atoi(msg) ? atoi(msg) : 125;
  }
  return status_code(st);
}
