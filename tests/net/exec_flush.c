/*
 * Nothing sent is left behind when the program sleeps, for tests/net/test_exec_flush.sh.
 * Under `sluice exec`, the non-blocking calls of an event-loop thread are lazy: their output
 * leaves at the loop's next wait (docs/architecture.md, "One poll per round"), and the shim
 * sends it first thing in every other call where the program may go to sleep. Each MODE here
 * is one such call: connect to PEER_IP:PORT with a non-blocking socket, wait in poll(2) for the
 * connection (which makes this thread an event loop), send "MODE\n" and 1 KiB (one segment:
 * it leaves at once, with or without Nagle) with a non-blocking send, then sleep in MODE for
 * about BLOCK_MS; once awake, create DIR/MODE.awake, then close. The peer checks that the
 * payload was complete before the marker existed.
 *
 *   exec_flush PEER_IP PORT DIR BLOCK_MS MODE...
 *
 * MODEs: nanosleep clock_nanosleep usleep sleep (1 s) poll ppoll select pselect epoll
 * epoll_pwait2 (kernel descriptors only: a pipe nobody writes) read write recv accept (a pipe,
 * a full pipe, a Unix socket pair, a Unix listener; ended by a timer's signal) pause sigsuspend
 * sigwait sigtimedwait wait waitpid waitid (a child `sleep`) system pclose flock fcntl lockf (a
 * lock a helper process holds) sluice_recv (a blocking recv on another sluice socket, UDP, with
 * SO_RCVTIMEO) sluice_epoll (epoll on the connection itself), spin (computes, no call at all)
 * and condwait (a condition variable's timed wait, a futex the shim cannot see): the last two
 * only under `sluice exec --eager` and, last on the line, _exit or exit (the process ends
 * right after the send). Exit status 0 when every call behaved; the
 * verdict on the data is the peer's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *peer_ip, *dir;
static int port, block_ms;
static int lock_cmd[2], lock_ack[2]; /* to and from the lock holder */
static char lock_path[256];

static void die(const char *what)
{
	fprintf(stderr, "exec_flush: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* SIGALRM once, after block_ms, to a handler without SA_RESTART: a blocking call fails EINTR. */
static void arm(void)
{
	struct sigaction a = {.sa_handler = on_alarm};
	sigemptyset(&a.sa_mask);
	if (sigaction(SIGALRM, &a, NULL) < 0)
		die("sigaction");
	struct itimerval t = {.it_value = {block_ms / 1000, (block_ms % 1000) * 1000}};
	if (setitimer(ITIMER_REAL, &t, NULL) < 0)
		die("setitimer");
}

static struct timespec block_ts(void)
{
	return (struct timespec){block_ms / 1000, (long)(block_ms % 1000) * 1000000};
}

static pid_t spawn_sleep(void)
{
	char secs[32];
	snprintf(secs, sizeof secs, "%d.%03d", block_ms / 1000, block_ms % 1000);
	char *argv[] = {"sleep", secs, NULL};
	pid_t pid;
	if ((errno = posix_spawnp(&pid, "sleep", NULL, NULL, argv, environ)))
		die("posix_spawn sleep");
	return pid;
}

/* The lock holder: made before the first socket (sluice exec refuses fork after), it takes the
 * lock a byte on lock_cmd names ('f' flock, 'p' fcntl), says so, holds it block_ms, lets go. */
static void lock_holder(void)
{
	if (pipe(lock_cmd) < 0 || pipe(lock_ack) < 0)
		die("pipe");
	snprintf(lock_path, sizeof lock_path, "%s/lockfile", dir);
	int fd = open(lock_path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		die("open lockfile");
	pid_t p = fork();
	if (p < 0)
		die("fork");
	if (p > 0) {
		close(fd);
		close(lock_cmd[0]);
		close(lock_ack[1]);
		return;
	}
	close(lock_cmd[1]);
	close(lock_ack[0]);
	char c;
	while (read(lock_cmd[0], &c, 1) == 1) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (c == 'f' ? flock(fd, LOCK_EX) : fcntl(fd, F_SETLK, &fl))
			_exit(3);
		if (write(lock_ack[1], &c, 1) != 1)
			_exit(3);
		struct timespec ts = block_ts();
		nanosleep(&ts, NULL);
		fl.l_type = F_UNLCK;
		if (c == 'f' ? flock(fd, LOCK_UN) : fcntl(fd, F_SETLK, &fl))
			_exit(3);
	}
	_exit(0);
}

static void lock_taken(char c)
{
	if (write(lock_cmd[1], &c, 1) != 1 || read(lock_ack[0], &c, 1) != 1)
		die("lock holder");
}

static int connect_peer(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, peer_ip, &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
		die("connect");
	struct pollfd p = {.fd = s, .events = POLLOUT};
	if (poll(&p, 1, 5000) != 1)
		die("poll for the connection");
	int err = 0;
	socklen_t l = sizeof err;
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err) {
		errno = err;
		die("connect");
	}
	return s;
}

static void send_payload(int s, const char *mode)
{
	static char buf[64 + 1024];
	int n = snprintf(buf, 64, "%s\n", mode);
	memset(buf + n, 'p', 1024);
	ssize_t w = send(s, buf, (size_t)n + 1024, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w != n + 1024)
		die("send");
}

/* A pipe nobody writes, or (write) a full one. */
static int pfd[2];

/* What mode needs before the send: anything here may send what is queued (a write, a read of
 * the lock holder's answer), so none of it may come between the send and the blocking call. */
static void prepare(const char *m)
{
	if (pipe(pfd) < 0)
		die("pipe");
	if (!strcmp(m, "write")) {
		fcntl(pfd[1], F_SETFL, O_NONBLOCK);
		static char fill[65536];
		while (write(pfd[1], fill, sizeof fill) > 0)
			;
		fcntl(pfd[1], F_SETFL, 0);
	} else if (!strcmp(m, "flock")) {
		lock_taken('f');
	} else if (!strcmp(m, "fcntl") || !strcmp(m, "lockf")) {
		lock_taken('p');
	}
}

/* The blocking call of mode; 0 when it behaved as it should. */
static int block_in(const char *m, int s)
{
	struct timespec ts = block_ts();
	int rc = -1;
	char c = 0;
	if (!strcmp(m, "nanosleep")) {
		rc = nanosleep(&ts, NULL);
	} else if (!strcmp(m, "clock_nanosleep")) {
		rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	} else if (!strcmp(m, "usleep")) {
		rc = usleep((useconds_t)block_ms * 1000);
	} else if (!strcmp(m, "sleep")) {
		rc = (int)sleep(1);
	} else if (!strcmp(m, "poll")) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		rc = poll(&p, 1, block_ms);
	} else if (!strcmp(m, "ppoll")) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		rc = ppoll(&p, 1, &ts, NULL);
	} else if (!strcmp(m, "select") || !strcmp(m, "pselect")) {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(pfd[0], &r);
		struct timeval tv = {block_ms / 1000, (block_ms % 1000) * 1000};
		rc = m[0] == 's' ? select(pfd[0] + 1, &r, NULL, NULL, &tv)
				 : pselect(pfd[0] + 1, &r, NULL, NULL, &ts, NULL);
	} else if (!strcmp(m, "epoll") || !strcmp(m, "epoll_pwait2")) {
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN};
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev) < 0)
			die("epoll");
		rc = m[5] ? epoll_pwait2(ep, &ev, 1, &ts, NULL) : epoll_wait(ep, &ev, 1, block_ms);
		close(ep);
	} else if (!strcmp(m, "read")) {
		arm();
		rc = read(pfd[0], &c, 1) < 0 && errno == EINTR ? 0 : -1;
	} else if (!strcmp(m, "write")) {
		arm();
		rc = write(pfd[1], &c, 1) < 0 && errno == EINTR ? 0 : -1;
	} else if (!strcmp(m, "recv")) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
			die("socketpair");
		arm();
		rc = recv(sp[0], &c, 1, 0) < 0 && errno == EINTR ? 0 : -1;
		close(sp[0]);
		close(sp[1]);
	} else if (!strcmp(m, "accept")) {
		int l = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof a.sun_path, "%s/listener", dir);
		unlink(a.sun_path);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0)
			die("unix listener");
		arm();
		rc = accept(l, NULL, NULL) < 0 && errno == EINTR ? 0 : -1;
		close(l);
	} else if (!strcmp(m, "pause")) {
		arm();
		rc = pause() < 0 && errno == EINTR ? 0 : -1;
	} else if (!strcmp(m, "sigsuspend")) {
		sigset_t none;
		sigemptyset(&none);
		arm();
		rc = sigsuspend(&none) < 0 && errno == EINTR ? 0 : -1;
	} else if (!strcmp(m, "sigwait")) {
		sigset_t set, old;
		sigemptyset(&set);
		sigaddset(&set, SIGALRM);
		sigprocmask(SIG_BLOCK, &set, &old);
		arm();
		int sig = 0;
		rc = sigwait(&set, &sig) == 0 && sig == SIGALRM ? 0 : -1;
		sigprocmask(SIG_SETMASK, &old, NULL);
	} else if (!strcmp(m, "sigtimedwait")) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigprocmask(SIG_BLOCK, &set, NULL);
		rc = sigtimedwait(&set, NULL, &ts) < 0 && errno == EAGAIN ? 0 : -1;
	} else if (!strcmp(m, "wait")) {
		pid_t p = spawn_sleep();
		int st;
		rc = wait(&st) == p ? 0 : -1;
	} else if (!strcmp(m, "waitpid")) {
		pid_t p = spawn_sleep();
		int st;
		rc = waitpid(p, &st, 0) == p ? 0 : -1;
	} else if (!strcmp(m, "waitid")) {
		pid_t p = spawn_sleep();
		siginfo_t si;
		rc = waitid(P_PID, (id_t)p, &si, WEXITED);
	} else if (!strcmp(m, "system") || !strcmp(m, "pclose")) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "sleep %d.%03d", block_ms / 1000, block_ms % 1000);
		if (m[0] == 's') {
			rc = system(cmd) == 0 ? 0 : -1;
		} else {
			FILE *f = popen(cmd, "r");
			rc = f && pclose(f) == 0 ? 0 : -1;
		}
	} else if (!strcmp(m, "flock") || !strcmp(m, "fcntl") || !strcmp(m, "lockf")) {
		int fd = open(lock_path, O_RDWR);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (m[1] == 'l')
			rc = flock(fd, LOCK_EX);
		else if (m[0] == 'f')
			rc = fcntl(fd, F_SETLKW, &fl);
		else
			rc = lockf(fd, F_LOCK, 0);
		close(fd); /* lets go of all three kinds */
	} else if (!strcmp(m, "sluice_recv")) {
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		struct timeval tv = {block_ms / 1000, (block_ms % 1000) * 1000};
		if (u < 0 || setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
			die("udp socket");
		struct sockaddr_in a = {.sin_family = AF_INET};
		if (bind(u, (struct sockaddr *)&a, sizeof a) < 0)
			die("udp bind");
		rc = recv(u, &c, 1, 0) < 0 && errno == EAGAIN ? 0 : -1;
		close(u);
	} else if (!strcmp(m, "sluice_epoll")) {
		int ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN};
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0)
			die("epoll");
		/* Ends when the peer, having read everything, closes: EPOLLIN. */
		rc = epoll_wait(ep, &ev, 1, block_ms) >= 0 ? 0 : -1;
		close(ep);
	} else if (!strcmp(m, "spin")) {
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		volatile unsigned long x = 0;
		do {
			for (int i = 0; i < 100000; i++)
				x += (unsigned long)i;
			clock_gettime(CLOCK_MONOTONIC, &now); /* the vDSO: no system call */
		} while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 <
			 block_ms);
		rc = 0;
	} else if (!strcmp(m, "condwait")) {
		pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
		pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += block_ms / 1000;
		until.tv_nsec += (long)(block_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&mu);
		rc = pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT ? 0 : -1;
		pthread_mutex_unlock(&mu);
	} else if (!strcmp(m, "_exit")) {
		_exit(0);
	} else if (!strcmp(m, "exit")) {
		exit(0);
	} else {
		fprintf(stderr, "exec_flush: unknown mode %s\n", m);
		exit(2);
	}
	close(pfd[0]);
	close(pfd[1]);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: exec_flush PEER_IP PORT DIR BLOCK_MS MODE...\n");
		return 2;
	}
	peer_ip = argv[1];
	port = atoi(argv[2]);
	dir = argv[3];
	block_ms = atoi(argv[4]);
	signal(SIGPIPE, SIG_IGN);
	lock_holder();
	int bad = 0;
	for (int i = 5; i < argc; i++) {
		const char *m = argv[i];
		int s = connect_peer();
		prepare(m);
		send_payload(s, m);
		if (block_in(m, s) != 0) {
			fprintf(stderr, "exec_flush: %s did not behave: %s\n", m, strerror(errno));
			bad = 1;
		}
		char path[512];
		snprintf(path, sizeof path, "%s/%s.awake", dir, m);
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		if (fd < 0)
			die("marker");
		close(fd);
		close(s);
	}
	close(lock_cmd[1]);
	return bad;
}
