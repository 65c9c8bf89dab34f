// blobsend: sends a byte range of a file to a socket with sendfile(2), so a blob's bytes go
// from the page cache to the client without being copied through the registry's JavaScript.
// Usage: blobsend START END [follow]
//   stdin:  the file, open for reading (the registry opened and checked it)
//   stdout: the client's connection (a stream socket, possibly non-blocking)
//   START..END: inclusive byte offsets to send
//   follow: the file is still being written; wait for it to grow (inotify on the file) instead
//           of failing at its current end. The registry stops a follower whose file will not
//           grow any more (a failed fetch) with a signal.
// Exit: 0 every byte sent; 3 the client went away; 4 the file ended before END (not follow);
// 1 anything else, with one line on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define CHUNK (4 << 20)

static long long parse_offset(const char *s) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v < 0) {
    fprintf(stderr, "blobsend: bad offset \"%s\"\n", s);
    exit(1);
  }
  return v;
}

static int client_gone(int err) {
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

/** Waits until the socket can take more bytes; exits 3 if the client went away. */
static void wait_writable(void) {
  struct pollfd p = {.fd = 1, .events = POLLOUT};
  for (;;) {
    int n = poll(&p, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fprintf(stderr, "blobsend: poll: %s\n", strerror(errno));
      exit(1);
    }
    if (p.revents & (POLLERR | POLLHUP)) exit(3);
    return;
  }
}

/** Waits for the file to be written to (or 50 ms: a missed event costs no more than that). */
static void wait_growth(int watch) {
  if (watch < 0) {
    usleep(2000);
    return;
  }
  struct pollfd p[2] = {{.fd = watch, .events = POLLIN}, {.fd = 1, .events = 0}};
  int n = poll(p, 2, 50);
  if (n < 0 && errno != EINTR) {
    fprintf(stderr, "blobsend: poll: %s\n", strerror(errno));
    exit(1);
  }
  if (n > 0 && (p[1].revents & (POLLERR | POLLHUP))) exit(3);
  if (n > 0 && (p[0].revents & POLLIN)) {
    char events[4096];
    while (read(watch, events, sizeof events) > 0) {
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "follow") != 0)) {
    fprintf(stderr, "usage: blobsend START END [follow] <file >socket\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  off_t pos = parse_offset(argv[1]);
  long long end = parse_offset(argv[2]);
  int follow = argc == 4;
  int watch = -1;
  if (follow) {
    watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch >= 0 && inotify_add_watch(watch, "/proc/self/fd/0", IN_MODIFY | IN_CLOSE_WRITE) < 0) {
      close(watch);
      watch = -1;
    }
  }
  while (pos <= end) {
    long long left = end + 1 - pos;
    ssize_t n = sendfile(1, 0, &pos, left < CHUNK ? (size_t)left : CHUNK);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      wait_writable();
      continue;
    }
    if (n < 0) {
      if (client_gone(errno)) return 3;
      fprintf(stderr, "blobsend: sendfile: %s\n", strerror(errno));
      return 1;
    }
    // n == 0: the file ends at pos for now
    if (!follow) return 4;
    wait_growth(watch);
  }
  return 0;
}
