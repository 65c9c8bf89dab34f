/* tty.c: `run --tty` opens a pty in the container's own devpts and passes the master back to
 * the supervisor over a socket (as runc's console socket does); the supervisor relays it. */
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_tio;
static int tio_saved = 0;
int master_fd = -1;

static void winch(int sig) {
  (void)sig;
  struct winsize ws;
  if (master_fd >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master_fd, TIOCSWINSZ, &ws);
  if (child_pid > 0) kill(child_pid, SIGWINCH);
}

void relay_tty(void) {
  if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
    struct termios raw = saved_tio;
    cfmakeraw(&raw);
    tcsetattr(0, TCSANOW, &raw);
    tio_saved = 1;
  }
  struct sigaction sa = {0};
  sa.sa_handler = winch; sa.sa_flags = SA_RESTART;
  sigaction(SIGWINCH, &sa, NULL);
  winch(0);
  struct pollfd p[2] = {{0, POLLIN, 0}, {master_fd, POLLIN, 0}};
  char buf[8192];
  for (;;) {
    if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) p[0].fd = -1; else if (write(master_fd, buf, n) < 0) break;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master_fd, buf, sizeof buf);
      if (n <= 0) break;
      if (write(1, buf, n) < 0) break;
    }
  }
  if (tio_saved) tcsetattr(0, TCSANOW, &saved_tio);
}


/* Passes a descriptor over a unix socket (SCM_RIGHTS). */
static void send_fd(int sock, int fd) {
  char b = 'm';
  struct iovec iov = {&b, 1};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = u.buf; m.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0) fail(125, "pass the pty to the supervisor: %s", strerror(errno));
}

/* The descriptor sent by send_fd, or -1 when the peer closed without sending one. */
int recv_fd(int sock) {
  char b;
  struct iovec iov = {&b, 1};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = u.buf; m.msg_controllen = sizeof u.buf;
  ssize_t n;
  while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (n <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* Makes SLAVE the controlling terminal and stdio of this (new session's) process. */
void use_tty(int slave) {
  setsid();
  if (ioctl(slave, TIOCSCTTY, 0) < 0) fail(125, "set controlling terminal: %s", strerror(errno));
  dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
  if (slave > 2) close(slave);
}

/* `run --tty`: the pty comes from the container's own devpts instance (as runc's console
 * socket does), so `tty` names a /dev/pts entry that exists inside; the master goes to the
 * supervisor over SOCK for the relay. */
void container_tty(int sock) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(125, "open /dev/ptmx: %s", strerror(errno));
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(125, "unlock pty: %s", strerror(errno));
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    unsigned int n;
    char path[64];
    if (ioctl(master, TIOCGPTN, &n) < 0) fail(125, "pty number: %s", strerror(errno));
    snprintf(path, sizeof path, "/dev/pts/%u", n);
    slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) fail(125, "open %s: %s", path, strerror(errno));
  }
  /* the size before the command runs (the relay sets it again, but only after exec) */
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(slave, TIOCSWINSZ, &ws);
  send_fd(sock, master);
  close(master);
  close(sock);
  use_tty(slave);
}

