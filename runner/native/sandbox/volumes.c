/* volumes.c: --bind SRC DST MODE, and --bind-in ROOT REL DST MODE: REL resolved inside the
 * directory ROOT as if it were / (openat2 RESOLVE_IN_ROOT, in this mount namespace, right
 * before the mount), so a build context whose directory is swapped for a symlink to a host
 * path after the builder chose it binds nothing outside ROOT. A bind is recursive (MS_REC), so the source's submounts come
 * along; read-only must then hold in every one of them, or `-v /:/host:ro` leaves /host/proc,
 * /host/sys/fs/cgroup and /host/dev writable. Modes, as docker 25+ and runc:
 *   rw                nothing read-only
 *   ro                read-only all the way down: mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)
 *                     (Linux 5.12+); on older kernels a plain remount when the source has no
 *                     submounts, else refused (ro-non-recursive is the explicit way out)
 *   rro               read-only all the way down, refused where mount_setattr is missing
 *   ro-non-recursive  the top mount only (submounts keep their own flags) */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = 0;
}

/* The first mount point strictly under PATH in our mount namespace (into OUT), or 0 if none. */
static int find_submount(const char *path, char *out, size_t outlen) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) fail(125, "read /proc/self/mountinfo: %s", strerror(errno));
  size_t plen = strlen(path);
  char *line = NULL;
  size_t cap = 0;
  int found = 0;
  while (!found && getline(&line, &cap, f) > 0) {
    /* id parent major:minor root MOUNTPOINT options ... */
    char *save = NULL, *field = strtok_r(line, " ", &save);
    for (int i = 0; field && i < 4; i++) field = strtok_r(NULL, " ", &save);
    if (!field) continue;
    unescape_octal(field);
    if (strncmp(field, path, plen) == 0 && field[plen] == '/' && field[plen + 1]) {
      snprintf(out, outlen, "%s", field);
      found = 1;
    }
  }
  free(line);
  fclose(f);
  return found;
}

/* Makes the bind at DST read-only in every submount (RECURSIVE_REQUIRED: even where the kernel
 * cannot do that in one call, refuse). */
static void make_readonly_below(int rootfd, const struct bind *b, int as_file, int required) {
  int fd = resolve_target(rootfd, b->dst, as_file); /* the bind's root, now that it is mounted */
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY;
  int r = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
  if (r == 0) { close(fd); return; }
  if (errno != ENOSYS)
    fail(125, "make volume %s read-only recursively: %s", b->dst, strerror(errno));
  if (required)
    fail(125, "volume %s:%s:rro needs Linux 5.12 or later (mount_setattr); use :ro-non-recursive "
              "to accept writable submounts", b->src, b->dst);
  char proc[64], here[4096], sub[4096];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, here, sizeof here - 1);
  if (n < 0) fail(125, "volume %s: %s", b->dst, strerror(errno));
  here[n] = 0;
  close(fd);
  if (find_submount(here, sub, sizeof sub))
    fail(125, "volume %s:%s:ro has submounts (%s) that this kernel cannot make read-only "
              "(mount_setattr needs Linux 5.12); use :ro-non-recursive to accept that, or a "
              "source without submounts", b->src, b->dst, sub + strlen(here));
}

void bind_volume(int rootfd, const struct bind *b) {
  int ro = 0, recursive = 0, required = 0;
  if (!strcmp(b->mode, "rw")) {}
  else if (!strcmp(b->mode, "ro")) ro = recursive = 1;
  else if (!strcmp(b->mode, "rro")) ro = recursive = required = 1;
  else if (!strcmp(b->mode, "ro-non-recursive")) ro = 1;
  else fail(125, "volume %s: unknown mode %s (rw, ro, rro or ro-non-recursive)", b->dst, b->mode);
  const char *src = b->src;
  char pinned[64];
  int srcfd = -1;
  if (b->root) {
    int dirfd = open(b->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) fail(125, "bind root %s: %s", b->root, strerror(errno));
    srcfd = open_in_root(dirfd, b->src, O_PATH);
    if (srcfd < 0) fail(125, "bind source %s in %s: %s", b->src, b->root, strerror(errno));
    close(dirfd);
    snprintf(pinned, sizeof pinned, "/proc/self/fd/%d", srcfd);
    src = pinned;
  }
  struct stat st;
  if (stat(src, &st) < 0) fail(125, "bind source %s: %s", b->src, strerror(errno));
  int as_file = !S_ISDIR(st.st_mode);
  mount_at(rootfd, src, b->dst, NULL, MS_BIND | MS_REC | (ro ? MS_RDONLY : 0), NULL, as_file);
  if (srcfd >= 0) close(srcfd);
  if (recursive) make_readonly_below(rootfd, b, as_file, required);
}
