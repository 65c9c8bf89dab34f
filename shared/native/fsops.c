// fsops: the file-system calls Node lacks (mknod, setxattr, listxattr), in a batch process that
// serves a whole layer. Usage: fsops ROOT. Every PATH is relative to ROOT and is walked one
// component at a time with O_PATH|O_NOFOLLOW (a symlink anywhere in it fails with ELOOP or
// ENOTDIR), so nothing is ever reached through a symlink.
//
// stdin: commands of NUL-terminated fields, arity fixed per command:
//   mknod PATH TYPE(c|b|p) MAJOR MINOR MODE(octal)
//   setxattr PATH NAME HEXVALUE
//   listxattr PATH
// stdout: one line per command, in order: "ok", "ok HEXNAME=HEXVALUE ..." (listxattr),
// or "err ERRNO message".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static int root_fd;

static char *next_field(void) {
  static char *bufs[6];
  static size_t lens[6];
  static int slot;
  slot = (slot + 1) % 6;
  ssize_t n = getdelim(&bufs[slot], &lens[slot], '\0', stdin);
  if (n <= 0) return NULL;
  if (bufs[slot][n - 1] != '\0') return NULL;
  return bufs[slot];
}

static void reply_err(int err) {
  printf("err %d %s\n", err, strerror(err));
}

// Opens the parent directory of PATH without following symlinks; *name gets the last
// component ("" for ROOT itself, whose parent is ROOT). Returns an fd or -1 with errno set.
static int open_parent(char *path, char **name) {
  int fd = dup(root_fd);
  if (fd < 0) return -1;
  char *p = path;
  while (*p == '/') p++;
  for (;;) {
    char *slash = strchr(p, '/');
    if (!slash) {
      *name = p;
      return fd;
    }
    *slash = '\0';
    if (strcmp(p, "..") == 0) {
      close(fd);
      errno = EPERM;
      return -1;
    }
    if (*p != '\0' && strcmp(p, ".") != 0) {
      int next = openat(fd, p, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
      close(fd);
      if (next < 0) return -1;
      fd = next;
    }
    p = slash + 1;
    while (*p == '/') p++;
  }
}

// An O_PATH fd on PATH itself (never following a final symlink).
static int open_target(char *path) {
  char *name;
  int dir = open_parent(path, &name);
  if (dir < 0) return -1;
  if (*name == '\0' || strcmp(name, ".") == 0) return dir;
  if (strcmp(name, "..") == 0) {
    close(dir);
    errno = EPERM;
    return -1;
  }
  int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  int saved = errno;
  close(dir);
  errno = saved;
  return fd;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void print_hex(const char *data, size_t len) {
  for (size_t i = 0; i < len; i++) printf("%02x", (unsigned char)data[i]);
}

static void do_mknod(char *path, char *type, char *maj, char *min, char *mode) {
  mode_t m = (mode_t)strtoul(mode, NULL, 8) & 07777;
  if (type[0] == 'c') m |= S_IFCHR;
  else if (type[0] == 'b') m |= S_IFBLK;
  else if (type[0] == 'p') m |= S_IFIFO;
  else return reply_err(EINVAL);
  char *name;
  int dir = open_parent(path, &name);
  if (dir < 0) return reply_err(errno);
  if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    close(dir);
    return reply_err(EINVAL);
  }
  dev_t dev = makedev(strtoul(maj, NULL, 10), strtoul(min, NULL, 10));
  int rc = mknodat(dir, name, m, dev);
  int saved = errno;
  close(dir);
  if (rc < 0) return reply_err(saved);
  printf("ok\n");
}

static void do_setxattr(char *path, char *name, char *hex) {
  size_t hl = strlen(hex);
  if (hl % 2) return reply_err(EINVAL);
  char *val = malloc(hl / 2 + 1);
  if (!val) return reply_err(ENOMEM);
  for (size_t i = 0; i < hl / 2; i++) {
    int a = hexval(hex[2 * i]), b = hexval(hex[2 * i + 1]);
    if (a < 0 || b < 0) {
      free(val);
      return reply_err(EINVAL);
    }
    val[i] = (char)(a * 16 + b);
  }
  int fd = open_target(path);
  if (fd < 0) {
    free(val);
    return reply_err(errno);
  }
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  int rc = setxattr(proc, name, val, hl / 2, 0);
  int saved = errno;
  close(fd);
  free(val);
  if (rc < 0) return reply_err(saved);
  printf("ok\n");
}

static void do_listxattr(char *path) {
  int fd = open_target(path);
  if (fd < 0) return reply_err(errno);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = listxattr(proc, NULL, 0);
  char *names = NULL;
  if (n > 0) {
    names = malloc((size_t)n);
    n = names ? listxattr(proc, names, (size_t)n) : -1;
  }
  if (n < 0) {
    int saved = errno;
    close(fd);
    free(names);
    if (saved == ENOTSUP) {
      printf("ok\n");
      return;
    }
    return reply_err(saved);
  }
  printf("ok");
  for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
    const char *nm = names + off;
    ssize_t vl = getxattr(proc, nm, NULL, 0);
    char *val = vl > 0 ? malloc((size_t)vl) : NULL;
    if (vl > 0 && val) vl = getxattr(proc, nm, val, (size_t)vl);
    if (vl >= 0) {
      putchar(' ');
      print_hex(nm, strlen(nm));
      putchar('=');
      print_hex(val ? val : "", vl > 0 ? (size_t)vl : 0);
    }
    free(val);
  }
  putchar('\n');
  close(fd);
  free(names);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fsops ROOT (commands on stdin)\n");
    return 2;
  }
  umask(0);
  root_fd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    perror(argv[1]);
    return 1;
  }
  char *cmd;
  while ((cmd = next_field()) != NULL) {
    char *a[5] = {0};
    int arity = strcmp(cmd, "mknod") == 0      ? 5
                : strcmp(cmd, "setxattr") == 0 ? 3
                : strcmp(cmd, "listxattr") == 0 ? 1
                                                : -1;
    if (arity < 0) {
      fprintf(stderr, "fsops: unknown command %s\n", cmd);
      return 2;
    }
    for (int i = 0; i < arity; i++) {
      if ((a[i] = next_field()) == NULL) {
        fprintf(stderr, "fsops: truncated command %s\n", cmd);
        return 2;
      }
    }
    if (arity == 5) do_mknod(a[0], a[1], a[2], a[3], a[4]);
    else if (arity == 3) do_setxattr(a[0], a[1], a[2]);
    else do_listxattr(a[0]);
    fflush(stdout);
  }
  return 0;
}
