/* user.c: --user (name|uid[:group|gid]) looked up in the container's own /etc/passwd and
 * /etc/group (we are past pivot_root), then setgroups/setresgid/setresuid. */
#include "sandbox.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void set_user(void) {
  uid_t uid = 0; gid_t gid = 0; char home[1024] = "/", uname[256] = "";
  gid_t groups[64]; int ng = 0;
  if (o.user && *o.user) {
    char spec[512]; FORMAT(spec, "--user", "%s", o.user);
    char *grp = strchr(spec, ':'); if (grp) *grp++ = 0;
    if (!find_passwd(spec, &uid, &gid, home, sizeof home, uname, sizeof uname)) {
      if (!is_num(spec)) fail(125, "unable to find user %s: no matching entries in passwd file", spec);
      uid = strtoul(spec, 0, 10); gid = 0;
    }
    if (grp && *grp) {
      if (is_num(grp)) gid = strtoul(grp, 0, 10);
      else if (!find_group(grp, &gid)) fail(125, "unable to find group %s: no matching entries in group file", grp);
    }
    // Supplementary groups only come with the implicit form (a user and no group), as in runc's
    // GetExecUser: `-u 1000:1000` or `USER app:app` gets exactly the group it names.
    if (!grp || !*grp) ng = supplementary(uname, groups, 64);
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
  if (setgroups(ng, groups) < 0) {
    /* rootless with a single-id mapping: setgroups is denied, and only root's group exists */
    if (!(errno == EPERM && setgroups_denied() && ng == 1 && groups[0] == 0))
      fail(125, "setgroups: %s", strerror(errno));
  }
  if (in_userns && (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) && errno == EINVAL)
    fail(125, "user %u:%u is not mapped in the rootless user namespace: give this user a range in "
              "/etc/subuid and /etc/subgid (usermod --add-subuids/--add-subgids), then "
              "kill the tsdock-pause process", uid, gid);
  CHECK(setresgid(gid, gid, gid), "setgid %u: %s", gid, strerror(errno));
  CHECK(setresuid(uid, uid, uid), "setuid %u: %s", uid, strerror(errno));
}
