// Small static C programs the runner's privileged tests compile with cc and run: an "older
// kernel" wrapper (one syscall made to fail ENOSYS under a seccomp filter) and probes that ask
// the kernel a question without changing anything (syscalls refused? path writable?).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

/** `enosys NAME[,NAME] CMD...`: runs CMD with those syscalls failing ENOSYS (an older kernel). */
export const ENOSYS_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  struct sock_filter f[16];
  int k = 0;
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (char *n = strtok(argv[1], ","); n; n = strtok(NULL, ",")) {
    long nr = !strcmp(n, "close_range") ? SYS_close_range : !strcmp(n, "mount_setattr") ? SYS_mount_setattr : -1;
    if (nr < 0) { fprintf(stderr, "enosys: unknown syscall %s\n", n); return 2; }
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  }
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {(unsigned short)k, f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) { perror("seccomp"); return 2; }
  execv(argv[2], argv + 2);
  perror("exec");
  return 2;
}`;

/** `sysprobe`: calls syscalls that docker's default profile refuses (harmless ones, or with
 * arguments that make them fail early) and a few it allows; prints NAME=ok or NAME=ERRNO. */
export const SYSPROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
static void report(const char *name, long r) {
  printf("%s=%s\n", name, r >= 0 ? "ok" : strerrorname_np(errno));
}
int main(void) {
  char params[120];
  memset(params, 0, sizeof params);
  report("io_uring_setup", syscall(SYS_io_uring_setup, 4, params));
  report("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
  report("io_uring_register", syscall(SYS_io_uring_register, -1, 0, NULL, 0));
  report("socket_vsock", socket(40, SOCK_STREAM, 0));
  report("socket_alg", socket(38, SOCK_SEQPACKET, 0));
  report("socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
  report("personality_query", syscall(SYS_personality, 0xffffffffUL));
  report("personality_no_aslr", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
  report("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0));
  report("mbind", syscall(SYS_mbind, NULL, 0, 0, NULL, 0, 0));
  report("file_getattr_468", syscall(468, -1, "", NULL, 0, 0));
  return 0;
}`;

/** `writable PATH...`: access(W_OK) per path (root passes every mode check; a read-only mount
 * still answers EROFS), so nothing is written. */
export const WRITABLE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    printf("%s %s\n", argv[i], access(argv[i], W_OK) == 0 ? "writable" : strerrorname_np(errno));
  return 0;
}`;

/** Compiles SOURCE into a static binary at BIN (cc). */
export function compileStatic(source: string, bin: string): string {
  const src = `${bin}.c`;
  writeFileSync(src, source);
  try {
    execFileSync('cc', ['-O1', '-static', '-o', bin, src]);
  } finally {
    rmSync(src, { force: true });
  }
  return bin;
}
