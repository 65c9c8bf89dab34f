/* seccomp.c: the syscall filter installed just before exec. */
#include "sandbox.h"
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

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
void install_seccomp(void) {
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

