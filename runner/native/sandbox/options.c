/* options.c: the helper's argv (see sandbox.h for the list) -> struct opts. */
#include "sandbox.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts o;

static const struct { const char *name; int res; } rlimits[] = {
  {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},
  {"stack", RLIMIT_STACK}, {"memlock", RLIMIT_MEMLOCK}, {"fsize", RLIMIT_FSIZE},
  {"cpu", RLIMIT_CPU}, {"as", RLIMIT_AS}, {"data", RLIMIT_DATA}, {"msgqueue", RLIMIT_MSGQUEUE},
  {"nice", RLIMIT_NICE}, {"rtprio", RLIMIT_RTPRIO}, {"sigpending", RLIMIT_SIGPENDING},
};

/* One line, exit 125: a command line we cannot honour in full is refused, never trimmed. */
static void usage(const char *why) {
  fprintf(stderr, "sandbox: %s (usage: sandbox run|exec [options] -- ARGV...)\n", why);
  exit(125);
}

static rlim_t parse_rlim(const char *s) {
  return strcmp(s, "unlimited") == 0 || strcmp(s, "-1") == 0 ? RLIM_INFINITY : strtoull(s, 0, 10);
}

void parse(int argc, char **argv) {
  if (argc < 2) usage("missing mode");
  o.exec_mode = strcmp(argv[1], "exec") == 0;
  if (!o.exec_mode && strcmp(argv[1], "run") != 0) usage("mode must be run or exec");
  o.sync_fd = -1;
  o.status_fd = -1;
  /* sized by argc, so no --env, --cgroup, --bind or --tmpfs can be dropped (+2: HOME, NULL) */
  o.env = calloc((size_t)argc + 2, sizeof *o.env);
  o.cgroups = calloc((size_t)argc, sizeof *o.cgroups);
  o.binds = calloc((size_t)argc, sizeof *o.binds);
  o.tmpfs = calloc((size_t)argc, sizeof *o.tmpfs);
  if (!o.env || !o.cgroups || !o.binds || !o.tmpfs) usage("out of memory");
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
    else if (!strcmp(a, "--userns")) { NEED(1); o.userns = argv[++i]; }
    else if (!strcmp(a, "--pid-file")) { NEED(1); o.pid_file = argv[++i]; }
    else if (!strcmp(a, "--target")) { NEED(1); o.target = atoi(argv[++i]); }
    else if (!strcmp(a, "--sync-fd")) { NEED(1); o.sync_fd = atoi(argv[++i]); }
    else if (!strcmp(a, "--status-fd")) { NEED(1); o.status_fd = atoi(argv[++i]); }
    else if (!strcmp(a, "--bind")) {
      NEED(3);
      o.binds[o.nbinds++] = (struct bind){argv[i + 1], argv[i + 2], argv[i + 3], NULL}; i += 3;
    }
    else if (!strcmp(a, "--bind-in")) {
      NEED(4);
      o.binds[o.nbinds++] = (struct bind){argv[i + 2], argv[i + 3], argv[i + 4], argv[i + 1]}; i += 4;
    }
    else if (!strcmp(a, "--tmpfs")) {
      NEED(2);
      o.tmpfs[o.ntmpfs++] = (struct bind){"tmpfs", argv[i + 1], argv[i + 2], NULL}; i += 2;
    }
    else if (!strcmp(a, "--cgroup")) { NEED(1); o.cgroups[o.ncgroups++] = argv[++i]; }
    else if (!strcmp(a, "--env")) { NEED(1); o.env[o.nenv++] = argv[++i]; }
    else if (!strcmp(a, "--rlimit")) {
      NEED(3); int res = -1;
      for (size_t k = 0; k < sizeof rlimits / sizeof *rlimits; k++)
        if (!strcmp(rlimits[k].name, argv[i + 1])) res = rlimits[k].res;
      if (res < 0) usage("unknown rlimit");
      if (o.nrl == MAX_RLIMITS) usage("too many --rlimit");
      o.rl[o.nrl].res = res; o.rl[o.nrl].soft = parse_rlim(argv[i + 2]); o.rl[o.nrl].hard = parse_rlim(argv[i + 3]); o.nrl++;
      i += 3;
    }
    else if (!strcmp(a, "--ip")) { NEED(3); o.ip = argv[++i]; o.prefix = atoi(argv[++i]); o.gateway = argv[++i]; }
    else if (!strcmp(a, "--init")) o.init = 1;
    else if (!strcmp(a, "--tty")) o.tty = 1;
    else if (!strcmp(a, "--readonly")) o.readonly = 1;
    else if (!strcmp(a, "--no-mknod")) o.no_mknod = 1;
    else if (!strcmp(a, "--fuse-overlay")) o.fuse_overlay = 1;
    else usage(a);
  }
  if (i >= argc) usage("missing command");
  o.argv = argv + i;
  o.env[o.nenv] = NULL;
  if (!o.exec_mode && !o.rootfs) usage("--rootfs is required");
  if (o.exec_mode && o.target <= 0) usage("--target is required");
}

