/* seccomp.c: the syscall filter installed just before exec, docker's default profile as it
 * applies to docker's default capabilities (moby profiles/seccomp/default.json, compared in
 * runner/README.md). Docker's profile is an allowlist; this is the same split written as a
 * denylist (every syscall docker refuses on x86_64/aarch64 with those capabilities), so a
 * syscall costs a few compares and the kernel's seccomp cache keeps the rest cheap:
 *   - EPERM: new namespaces and mounts (unshare, setns, mount..., clone with namespace flags),
 *     io_uring, the keyring, bpf, perf events, userfaultfd, handle-based opens, modules,
 *     kexec, swap, reboot, clock/hostname changes, NUMA policy, ptrace-like peeks
 *     (kcmp, pidfd_getfd, process_madvise), AF_ALG and AF_VSOCK sockets, personality other
 *     than docker's five values;
 *   - ENOSYS: clone3 (libc falls back to clone, whose flags we can see), syscalls newer than
 *     any the profile knows (as runc does), and other ABIs (x32, 32-bit compat).
 * Architectures other than x86_64 and aarch64 refuse to start: no filter, no container. */
#include "sandbox.h"
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

/* numbers shared by every architecture since 424, for libc headers older than the kernel */
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#define SYS_io_uring_enter 426
#define SYS_io_uring_register 427
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#define SYS_fspick 433
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif
#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif
#ifndef SYS_lsm_get_self_attr
#define SYS_lsm_get_self_attr 459
#define SYS_lsm_set_self_attr 460
#define SYS_lsm_list_modules 461
#endif
/* the newest syscall docker's profile names (removexattrat); past it: ENOSYS */
#define NEWEST_KNOWN_SYSCALL 466

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
                  CLONE_NEWNET | CLONE_NEWCGROUP)
#define AF_ALG_DOMAIN 38
#define AF_VSOCK_DOMAIN 40

#ifdef NATIVE_ARCH
/* what docker refuses (EPERM) without CAP_SYS_ADMIN, _BOOT, _MODULE, _PACCT, _PTRACE, _RAWIO,
 * _TIME, _TTY_CONFIG, _NICE, _SYSLOG, _BPF, _PERFMON, _DAC_READ_SEARCH; name_to_handle_at is
 * ours (docker allows it; its only use, open_by_handle_at, is refused anyway) */
static const int deny[] = {
  SYS_unshare, SYS_setns, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_open_tree, SYS_move_mount,
  SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_mount_setattr,
  SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
  SYS_keyctl, SYS_add_key, SYS_request_key, SYS_bpf, SYS_perf_event_open, SYS_userfaultfd,
  SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_fanotify_init,
#ifdef SYS_lookup_dcookie /* gone from newer kernel headers */
  SYS_lookup_dcookie,
#endif
  SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load,
  SYS_swapon, SYS_swapoff, SYS_reboot, SYS_acct, SYS_quotactl, SYS_quotactl_fd, SYS_syslog,
  SYS_vhangup, SYS_settimeofday, SYS_clock_settime, SYS_sethostname, SYS_setdomainname,
  SYS_mbind, SYS_set_mempolicy, SYS_get_mempolicy, SYS_migrate_pages, SYS_move_pages,
  SYS_set_mempolicy_home_node, SYS_kcmp, SYS_pidfd_getfd, SYS_process_madvise,
  SYS_lsm_get_self_attr, SYS_lsm_set_self_attr, SYS_lsm_list_modules,
#ifdef __x86_64__
  SYS_uselib, SYS_ustat, SYS_sysfs, SYS__sysctl, SYS_iopl, SYS_ioperm, SYS_create_module,
  SYS_get_kernel_syms, SYS_query_module, SYS_nfsservctl, SYS_getpmsg, SYS_putpmsg,
  SYS_afs_syscall, SYS_tuxcall, SYS_security, SYS_vserver,
#endif
};
/* personality(2) values docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
 * and 0xffffffff (a query) */
static const unsigned personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
#endif

void install_seccomp(void) {
#ifndef NATIVE_ARCH
  fail(125, "seccomp: no syscall filter for this architecture (only x86_64 and aarch64); "
            "refusing to start a container without one");
#else
  enum { N = sizeof deny / sizeof *deny, P = sizeof personalities / sizeof *personalities };
  struct sock_filter f[16 + 2 * N + P + 16];
  int k = 0;
#define STMT(c, v) f[k++] = (struct sock_filter)BPF_STMT(c, v)
#define JUMP(c, v, t, e) f[k++] = (struct sock_filter)BPF_JUMP(c, v, t, e)
#define RET_ERRNO(e) STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e))
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
  RET_ERRNO(ENOSYS);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
  JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1); /* the x32 ABI */
  RET_ERRNO(ENOSYS);
#endif
  JUMP(BPF_JMP | BPF_JGT | BPF_K, NEWEST_KNOWN_SYSCALL, 0, 1);
  RET_ERRNO(ENOSYS);
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
  RET_ERRNO(ENOSYS);
  for (int i = 0; i < N; i++) {
    JUMP(BPF_JMP | BPF_JEQ | BPF_K, deny[i], 0, 1);
    RET_ERRNO(EPERM);
  }
  /* clone: flags are the first argument (low 32 bits hold every namespace flag) */
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1);
  RET_ERRNO(EPERM);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  /* socket: the domain (an int, the low 32 bits) */
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 5);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_ALG_DOMAIN, 1, 0);
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK_DOMAIN, 0, 1);
  RET_ERRNO(EPERM);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  /* personality: only docker's values (an unsigned int, the low 32 bits) */
  JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_personality, 0, P + 3);
  STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  for (int i = 0; i < P; i++) JUMP(BPF_JMP | BPF_JEQ | BPF_K, personalities[i], P - i, 0);
  RET_ERRNO(EPERM);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW); /* everything else */
#undef STMT
#undef JUMP
#undef RET_ERRNO
  struct sock_fprog prog = {(unsigned short)k, f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) fail(125, "seccomp: %s", strerror(errno));
#endif
}
