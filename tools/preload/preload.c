/*
 * libsluice-preload.so: the LD_PRELOAD shim of `sluice exec` (docs/sluice.8, EXEC). It puts
 * a sluice stack into an unmodified program: every AF_INET/AF_INET6 stream or datagram socket
 * the program makes lives on sluice's socket layer (include/sluice/socket.h); every other
 * descriptor goes to libc untouched.
 *
 * Descriptors: a sluice socket is given a real descriptor number (an eventfd nobody writes),
 * so its number cannot collide with a kernel descriptor's and close/dup bookkeeping in the
 * program stays sane. The map from descriptor to socket handle is an array; dup and its
 * kind duplicate the placeholder and map the new number to the same handle, and the socket
 * is closed with its last descriptor (a count per handle), as the kernel's file is.
 *
 * Waiting: poll, select and epoll on a mix of sluice sockets and kernel descriptors compute
 * the sluice side from the socket layer and hand the kernel side to the real call, with the
 * AF_XDP socket's descriptor added so that an arriving frame ends the kernel's sleep; the
 * stack is polled before and after. Edge-triggered epoll reports a sluice socket when its
 * edge count (sl_sock_edge) moved since the last report.
 *
 * Threads: one lock around every call that touches sluice; a blocking call sleeps holding it
 * (single-threaded event loops are the supported model). fork() while sluice sockets are open
 * is refused: the child would share the AF_XDP rings with its parent.
 *
 * Configuration comes from sluice exec in SLUICE_EXEC_* variables, removed from the
 * environment (with LD_PRELOAD) when the stack starts, at the program's first IP socket, so
 * programs it runs do not load the shim (a wrapper that execs the program, having made no
 * socket, passes it on).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netdb.h>
#include <time.h>
#include <unistd.h>
#include "sluice/sluice.h"
#include "sluice/socket.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_FD 65536
#define MAX_SOCKS 4096 /* sluice sockets open at once */
#define XSK_TAG 0x534c5853434b4e31ULL /* epoll data of the AF_XDP descriptor: "SLXSCKN1" */
#define WAKE_TAG 0x534c574b45464431ULL /* epoll data of a set's wake-up eventfd: "SLWKEFD1" */

static struct {
	pthread_mutex_t mu;
	bool on;
	bool eager; /* sluice exec --eager: no thread is lazy */
	struct sl_dev *dev;
	struct sl_stack *st;
	struct sl_sockets *ss;
	struct sl_gate *gate;
	unsigned queue;
	char dev_name[64];
	char stats_path[256];
	int open_socks;
} G = {.mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP};

static int *fdmap; /* descriptor → handle + 1 (0: not ours); dup gives a handle several */
static int *hrefs; /* handle → how many descriptors refer to it (0: not open) */

/* epoll sets that hold sluice sockets. Each item is on its set's list and on its descriptor's
 * (the sets that hold that socket); those that may be ready are also on the set's candidate
 * list, and a wait looks at those alone, not at every socket of the set. An item joins the
 * candidates when it is added or modified and whenever its socket's edge count moves
 * (sl_sockets_changed), and leaves them when a wait finds it not ready, or reports it
 * edge-triggered or one-shot; a level-triggered item reported goes to the end (round robin,
 * so a small maxevents starves nobody). A socket becomes ready only with an edge (socket.h),
 * so no readiness is missed. An item is the kernel's (file, descriptor) pair: it belongs to
 * the socket and names the descriptor it was added by; when that descriptor is closed while
 * a duplicate keeps the socket open, the item stays and reports (epoll(7), Q6) but can no
 * longer be found by its number, and it goes with the socket's last descriptor. */
struct ep;
struct ep_item {
	int fd;	      /* the descriptor it was added by */
	int h;	      /* the socket */
	bool orphan;  /* that descriptor was closed; a duplicate keeps the socket */
	struct ep *ep;
	struct epoll_event ev;
	uint64_t edge_seen;
	bool disabled; /* EPOLLONESHOT reported */
	bool cand;
	struct ep_item *prev, *next;   /* the set's items */
	struct ep_item *cprev, *cnext; /* the set's candidates */
	struct ep_item *fnext;	       /* the socket's items */
};
struct ep {
	struct ep_item *items;
	struct ep_item *chead, *ctail;
	unsigned ncand;
	bool xsk_added;
	int wake_fd; /* -1, or an eventfd in the kernel set that another thread writes */
};
static struct ep **eps;		 /* by epoll descriptor */
static struct ep_item **h_items; /* by socket handle */

/* The real functions. */
static int (*r_socket)(int, int, int);
static int (*r_close)(int);
static int (*r_bind)(int, const struct sockaddr *, socklen_t);
static int (*r_listen)(int, int);
static int (*r_accept)(int, struct sockaddr *, socklen_t *);
static int (*r_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*r_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*r_read)(int, void *, size_t);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_readv)(int, const struct iovec *, int);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_send)(int, const void *, size_t, int);
static ssize_t (*r_recv)(int, void *, size_t, int);
static ssize_t (*r_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*r_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*r_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*r_recvmsg)(int, struct msghdr *, int);
static int (*r_shutdown)(int, int);
static int (*r_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*r_getpeername)(int, struct sockaddr *, socklen_t *);
static int (*r_setsockopt)(int, int, int, const void *, socklen_t);
static int (*r_getsockopt)(int, int, int, void *, socklen_t *);
static int (*r_fcntl)(int, int, ...);
static int (*r_ioctl)(int, unsigned long, ...);
static int (*r_poll)(struct pollfd *, nfds_t, int);
static int (*r_ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
static int (*r_epoll_ctl)(int, int, int, struct epoll_event *);
static int (*r_epoll_wait)(int, struct epoll_event *, int, int);
static int (*r_epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
static pid_t (*r_fork)(void);
static int (*r_dup)(int);
static int (*r_dup2)(int, int);
static int (*r_dup3)(int, int, int);
static ssize_t (*r_sendfile)(int, int, off_t *, size_t);
static int (*r_sigaction)(int, const struct sigaction *, struct sigaction *);
static int (*r_epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
			     const sigset_t *);
/* Calls that may sleep outside the socket layer, only settle()d. */
static int (*r_nanosleep)(const struct timespec *, struct timespec *);
static int (*r_clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
static unsigned (*r_sleep)(unsigned);
static int (*r_usleep)(useconds_t);
static int (*r_pause)(void);
static int (*r_sigsuspend)(const sigset_t *);
static int (*r_sigwait)(const sigset_t *, int *);
static int (*r_sigwaitinfo)(const sigset_t *, siginfo_t *);
static int (*r_sigtimedwait)(const sigset_t *, siginfo_t *, const struct timespec *);
static pid_t (*r_wait)(int *);
static pid_t (*r_waitpid)(pid_t, int *, int);
static int (*r_waitid)(idtype_t, id_t, siginfo_t *, int);
static pid_t (*r_wait3)(int *, int, struct rusage *);
static pid_t (*r_wait4)(pid_t, int *, int, struct rusage *);
static int (*r_flock)(int, int);
static int (*r_lockf)(int, int, off_t);
static int (*r_system)(const char *);
static int (*r_pclose)(FILE *);
static int (*r_getaddrinfo)(const char *, const char *, const struct addrinfo *,
			    struct addrinfo **);
static int (*r_getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
			    socklen_t, int);
static void (*r__exit)(int);
static void (*r__Exit)(int);

#define RESOLVE(name) r_##name = dlsym(RTLD_NEXT, #name)

static void resolve_all(void)
{
	RESOLVE(socket);
	RESOLVE(close);
	RESOLVE(bind);
	RESOLVE(listen);
	RESOLVE(accept);
	RESOLVE(accept4);
	RESOLVE(connect);
	RESOLVE(read);
	RESOLVE(write);
	RESOLVE(readv);
	RESOLVE(writev);
	RESOLVE(send);
	RESOLVE(recv);
	RESOLVE(sendto);
	RESOLVE(recvfrom);
	RESOLVE(sendmsg);
	RESOLVE(recvmsg);
	RESOLVE(shutdown);
	RESOLVE(getsockname);
	RESOLVE(getpeername);
	RESOLVE(setsockopt);
	RESOLVE(getsockopt);
	RESOLVE(fcntl);
	RESOLVE(ioctl);
	RESOLVE(poll);
	RESOLVE(ppoll);
	RESOLVE(epoll_ctl);
	RESOLVE(epoll_wait);
	RESOLVE(epoll_pwait);
	RESOLVE(fork);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(sendfile);
	RESOLVE(sigaction);
	RESOLVE(epoll_pwait2);
	RESOLVE(nanosleep);
	RESOLVE(clock_nanosleep);
	RESOLVE(sleep);
	RESOLVE(usleep);
	RESOLVE(pause);
	RESOLVE(sigsuspend);
	RESOLVE(sigwait);
	RESOLVE(sigwaitinfo);
	RESOLVE(sigtimedwait);
	RESOLVE(wait);
	RESOLVE(waitpid);
	RESOLVE(waitid);
	RESOLVE(wait3);
	RESOLVE(wait4);
	RESOLVE(flock);
	RESOLVE(lockf);
	RESOLVE(system);
	RESOLVE(pclose);
	RESOLVE(getaddrinfo);
	RESOLVE(getnameinfo);
	RESOLVE(_exit);
	RESOLVE(_Exit);
}

/* Was the process started by sluice exec (its variables are removed once the stack starts)? */
static bool exec_mode;
static bool getenv_exec(void)
{
	return exec_mode;
}

/* Another library's constructor may call in before ours ran. */
static inline void ensure(void)
{
	if (__builtin_expect(!r_close, 0))
		resolve_all();
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sluice exec: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	_exit(1);
}

/* The handle of descriptor fd, or -1. */
static int handle(int fd)
{
	if (!G.on || fd < 0 || fd >= MAX_FD)
		return -1;
	return fdmap[fd] - 1;
}

static int fail(int neg)
{
	errno = -neg;
	return -1;
}

static ssize_t sfail(ssize_t neg)
{
	errno = (int)-neg;
	return -1;
}

/*
 * Threads sleeping in epoll_wait, poll or select over sluice sockets. A sleeper waits in the
 * kernel on the AF_XDP descriptor and its own kernel descriptors; but when another thread polls
 * the stack first, that thread takes the frames, and the sleeper's socket becomes readable
 * with nothing left to wake it (the AF_XDP descriptor is not readable any more). So a sleeper
 * also waits on an eventfd, and whoever lets go of the lock looks at the sleepers first: one
 * whose set is ready now is woken by a write to its eventfd. memcached -t 1 is such a
 * program: its main thread accepts, a worker thread serves from an epoll set of its own.
 * A single-threaded program has no other thread to let go of the lock while it sleeps: the
 * list is empty whenever it looks, and the cost is a test of one pointer.
 */
struct sleeper {
	struct ep *ep;		   /* epoll_wait: the set */
	const struct pollfd *fds;  /* poll, select: the caller's descriptors */
	nfds_t n;
	int efd;		   /* written once when the set becomes ready */
	bool signalled;
	const void *self;	   /* the sleeping thread (it need not look at itself) */
	struct sleeper *next;
};
static struct sleeper *sleepers; /* under G.mu */
static __thread char thread_self;
static void wake_sleepers(void);

/* Per thread: how deep it is inside the shim's lock (a signal handler that runs there must not
 * enter the stack again), and whether it is an event loop over sluice sockets (it has waited
 * for one in poll, select or epoll): only such a thread's non-blocking calls are lazy
 * (sl_sockets_set_lazy), its output waiting for the loop's next wait. */
static __thread unsigned t_depth __attribute__((tls_model("initial-exec")));
static __thread bool t_loop __attribute__((tls_model("initial-exec")));

#define LOCK()                                                                                    \
	do {                                                                                      \
		pthread_mutex_lock(&G.mu);                                                        \
		t_depth++;                                                                        \
		if (G.ss)                                                                         \
			sl_sockets_set_lazy(G.ss, t_loop);                                        \
	} while (0)
#define UNLOCK()                                                                                  \
	do {                                                                                      \
		if (sleepers)                                                                     \
			wake_sleepers();                                                          \
		t_depth--;                                                                        \
		pthread_mutex_unlock(&G.mu);                                                      \
	} while (0)

/* Before the program may sleep (or end) anywhere but in the shim's own waits, whatever lazy
 * calls left queued goes out: settle() is called first thing by every interposed call that can
 * block outside the socket layer. Another thread inside the shim holds the lock either briefly
 * (a non-blocking call) or in a blocking call, which polled, and so sent everything, before
 * it began to wait: wait for the first kind only. */
static void settle_slow(void)
{
	if (t_depth)
		return; /* a signal handler inside the shim: the call it interrupted goes on first */
	for (;;) {
		if (!G.on)
			return; /* the process is ending (shim_fini keeps the lock) */
		if (pthread_mutex_trylock(&G.mu) == 0) {
			t_depth++;
			sl_sockets_flush(G.ss);
			UNLOCK();
			return;
		}
		if (!G.on || !sl_sockets_unflushed(G.ss))
			return;
		sched_yield();
	}
}

static inline void settle(void)
{
	if (G.on && sl_sockets_unflushed(G.ss))
		settle_slow();
}

/* --- start and end --------------------------------------------------------------------- */

static void start(void)
{
	const char *dev = getenv("SLUICE_EXEC_DEV");
	if (!dev)
		return; /* loaded without sluice exec: stay out of the way */
	const char *addrs = getenv("SLUICE_EXEC_ADDRS");
	const char *gws = getenv("SLUICE_EXEC_GW");
	const char *q = getenv("SLUICE_EXEC_QUEUE");
	bool generic = getenv("SLUICE_EXEC_GENERIC") != NULL;
	G.eager = getenv("SLUICE_EXEC_EAGER") != NULL;
	snprintf(G.dev_name, sizeof(G.dev_name), "%s", dev);
	G.queue = q ? (unsigned)atoi(q) : 0;

	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", addrs ? addrs : "");
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(t, '/');
		if (!slash || cfg.n_addrs == SL_MAX_ADDRS)
			die("bad SLUICE_EXEC_ADDRS: %s", addrs);
		*slash = 0;
		if (sl_ip_parse(t, &cfg.addrs[cfg.n_addrs].addr) < 0)
			die("bad address %s", t);
		cfg.addrs[cfg.n_addrs].prefix_len = (uint8_t)atoi(slash + 1);
		cfg.n_addrs++;
	}
	snprintf(buf, sizeof(buf), "%s", gws ? gws : "");
	sl_ip g4 = {{0}}, g6 = {{0}};
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		sl_ip g;
		if (sl_ip_parse(t, &g) < 0)
			die("bad gateway %s", t);
		*(sl_ip_is_v4(&g) ? &g4 : &g6) = g;
	}
	/* cfg.gateway is either family; gateway6 the IPv6 one beside an IPv4 gateway. */
	if (!sl_ip_is_zero(&g4)) {
		cfg.gateway = g4;
		cfg.gateway6 = g6;
	} else {
		cfg.gateway = g6;
	}
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = sl_now_ns();
	cfg.seed = seed;

	fdmap = calloc(MAX_FD, sizeof(*fdmap));
	eps = calloc(MAX_FD, sizeof(*eps));
	h_items = calloc(MAX_SOCKS, sizeof(*h_items));
	hrefs = calloc(MAX_SOCKS, sizeof(*hrefs));
	if (!fdmap || !eps || !h_items || !hrefs)
		die("out of memory");
	struct sl_xsk_config xc = {.ifname = dev, .queue = G.queue, .generic = generic};
	int err = sl_dev_xsk_open(&xc, &G.dev);
	if (err)
		die("cannot open an AF_XDP socket on %s queue %u: %s", dev, G.queue,
		    sl_strerror(err));
	char why[200];
	if (sl_stack_config_check(&cfg, G.dev->mtu, why, sizeof(why)) < 0)
		die("cannot start the stack: %s", why);
	if ((err = sl_stack_open(G.dev, &cfg, sl_now_ns(), &G.st)) < 0)
		die("cannot start the stack: %s", sl_strerror(err));
	if ((err = sl_gate_open(dev, &G.gate)) < 0)
		die("cannot open the gate of %s: %s", dev, sl_strerror(err));
	if ((err = sl_gate_set_socket(G.gate, G.queue, sl_dev_xsk_socket(G.dev))) < 0)
		die("cannot put the socket into the gate: %s", sl_strerror(err));
	if ((err = sl_sockets_new(G.st, MAX_SOCKS, &G.ss)) < 0)
		die("cannot make the socket layer: %s", sl_strerror(err));
	/* RFC 4862 §5.4: IPv6 addresses are usable once Duplicate Address Detection passed. */
	uint64_t until = sl_now_ns() + 3000000000ULL;
	for (;;) {
		bool pending = false;
		for (unsigned i = 0; i < cfg.n_addrs; i++) {
			int s = sl_ip_addr_state(G.st, &cfg.addrs[i].addr);
			if (s == -EADDRINUSE)
				die("another host holds %s (duplicate address detection)",
				    sl_ip_str(&cfg.addrs[i].addr, why, sizeof(why)));
			pending |= s == -EINPROGRESS;
		}
		if (!pending || sl_now_ns() > until)
			break;
		sl_sockets_wait(G.ss, 5000000ULL);
	}
	if (sl_stats_path(dev, G.queue, G.stats_path, sizeof(G.stats_path)) == 0 &&
	    sl_stack_publish_stats(G.st, G.stats_path, dev, G.queue) < 0)
		G.stats_path[0] = 0;
	G.on = true;
}

__attribute__((constructor)) static void shim_init(void)
{
	resolve_all();
	exec_mode = getenv("SLUICE_EXEC_DEV") != NULL;
}

/* Take the shim (any entry naming libsluice-preload.so) out of LD_PRELOAD, keeping the rest. */
static void drop_self_from_preload(void)
{
	const char *v = getenv("LD_PRELOAD");
	if (!v)
		return;
	char out[4096] = "", buf[4096];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, ": ", &save); t; t = strtok_r(NULL, ": ", &save)) {
		if (strstr(t, "libsluice-preload.so"))
			continue;
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? ":" : "", t);
	}
	if (out[0])
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
}

/* The stack starts with the program's first IP socket, not when the shim loads: a wrapper
 * (a shell script, pyenv's shims) that execs the real program makes none, and hands the shim
 * on in LD_PRELOAD. Once started, programs this one runs are the kernel's again. */
static void start_once(void)
{
	static bool tried;
	if (tried)
		return;
	tried = true;
	start();
	drop_self_from_preload();
	unsetenv("SLUICE_EXEC_DEV");
	unsetenv("SLUICE_EXEC_ADDRS");
	unsetenv("SLUICE_EXEC_GW");
	unsetenv("SLUICE_EXEC_QUEUE");
	unsetenv("SLUICE_EXEC_GENERIC");
	unsetenv("SLUICE_EXEC_EAGER");
}

__attribute__((destructor)) static void shim_fini(void)
{
	if (!G.on)
		return;
	/* Other threads run on while exit() calls this. One inside a call holds the lock (a
	 * blocking one for as long as it blocks): wait for it a while, and if it does not let go,
	 * leave everything to the kernel, which takes the AF_XDP socket with the process. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_mutex_timedlock(&G.mu, &ts) != 0) {
		G.on = false;
		return;
	}
	G.on = false;
	/* What the program left open is closed as the kernel would at exit: data queued is
	 * still sent for a while (FIN after it), so drive the stack briefly. The socket layer's
	 * memory is not freed: another thread may be reading its unflushed hint without the lock
	 * (settle(), having seen G.on still set), and the process is ending anyway. */
	sl_sockets_set_lazy(G.ss, false); /* each close sends what it can at once */
	for (int fd = 0; fd < MAX_FD; fd++)
		if (fdmap[fd]) {
			int h = fdmap[fd] - 1;
			if (hrefs[h]) {
				sl_sock_close(G.ss, h);
				hrefs[h] = 0;
			}
			fdmap[fd] = 0;
		}
	uint64_t until = sl_now_ns() + 200000000ULL;
	while (sl_now_ns() < until) {
		uint64_t next = sl_stack_poll(G.st, sl_now_ns());
		if (next == UINT64_MAX)
			break;
		usleep(1000);
	}
	sl_gate_set_socket(G.gate, G.queue, -1);
	sl_stack_close(G.st);
	if (G.stats_path[0])
		unlink(G.stats_path);
	sl_dev_close(G.dev);
	sl_gate_close(G.gate);
	/* The lock stays taken: another thread that was between two calls (memcached's UDP
	 * worker, back from its epoll_wait) would otherwise lock it next and poll the stack just
	 * freed; it waits now until the process ends. This thread's own calls from here on see
	 * G.on false and go to libc. */
	sleepers = NULL;
}

/* --- signals: SA_RESTART ---------------------------------------------------------------
 * The socket layer ends a blocking call with -EINTR when a handler ran. Linux restarts
 * accept, connect, recv* and send* instead when that handler was installed with SA_RESTART and the
 * socket has no timeout (signal(7)); to know which handler ran, the program's handlers are
 * called through a trampoline that notes the signal. sigaction() reports the program's own
 * handler back, never the trampoline. */
static struct sigaction user_act[NSIG];
static bool wrapped[NSIG];
static volatile sig_atomic_t last_sig;
/* Handlers the trampoline has run: a wait that sees this move ends with EINTR, as the kernel's
 * poll or epoll_wait does when a handler runs during it (signal(7): never restarted). Without
 * it, a handler that ran while the wait was in user space (polling the stack) let the wait
 * sleep on: nginx's SIGTERM flag went unseen behind an epoll_wait with no timeout. */
static volatile sig_atomic_t sig_count;
/* The wake descriptor of the wait this thread is in (-1: none): a handler that runs just as the
 * wait goes to sleep writes it, so the wait wakes, sees sig_count moved and ends. */
static __thread int t_wake_fd __attribute__((tls_model("initial-exec"))) = -1;

static void tramp(int sig, siginfo_t *si, void *uc)
{
	last_sig = sig;
	sig_count++;
	if (t_wake_fd >= 0) {
		int saved = errno;
		uint64_t one = 1;
		ssize_t w = write(t_wake_fd, &one, sizeof one);
		(void)w;
		errno = saved;
	}
	const struct sigaction *a = &user_act[sig];
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else if (a->sa_handler != SIG_IGN && a->sa_handler != SIG_DFL)
		a->sa_handler(sig);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	ensure();
	if (sig <= 0 || sig >= NSIG || !getenv_exec())
		return r_sigaction(sig, act, old);
	struct sigaction prev = user_act[sig];
	bool had = wrapped[sig];
	bool handler = act && ((act->sa_flags & SA_SIGINFO)
				   ? act->sa_sigaction != NULL
				   : (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN));
	int r;
	if (handler) {
		struct sigaction w = *act;
		w.sa_flags |= SA_SIGINFO;
		w.sa_sigaction = tramp;
		user_act[sig] = *act; /* before it can run */
		r = r_sigaction(sig, &w, old);
		if (r == 0)
			wrapped[sig] = true;
		else
			user_act[sig] = prev;
	} else {
		r = r_sigaction(sig, act, old);
		if (r == 0 && act)
			wrapped[sig] = false;
	}
	if (r == 0 && old && had)
		*old = prev;
	return r;
}

/* glibc's signal() is BSD's: SA_RESTART (its internal sigaction is not ours to see). */
EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	ensure();
	struct sigaction a = {.sa_handler = h, .sa_flags = SA_RESTART}, o;
	sigemptyset(&a.sa_mask);
	if (sig > 0 && sig < NSIG)
		sigaddset(&a.sa_mask, sig);
	if (sigaction(sig, &a, &o) < 0)
		return SIG_ERR;
	return (o.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)o.sa_sigaction : o.sa_handler;
}

/* After -EINTR: should the call go on? */
static bool restart(int h, int timeo_opt)
{
	int sig = last_sig;
	if (sig <= 0 || sig >= NSIG || !wrapped[sig] || !(user_act[sig].sa_flags & SA_RESTART))
		return false;
	struct timeval tv = {0};
	socklen_t len = sizeof(tv);
	LOCK();
	sl_sock_getsockopt(G.ss, h, SOL_SOCKET, timeo_opt, &tv, &len);
	UNLOCK();
	return !tv.tv_sec && !tv.tv_usec;
}

/* --- sockets ---------------------------------------------------------------------------- */

static int adopt(int h, bool cloexec)
{
	int fd = eventfd(0, EFD_NONBLOCK | (cloexec ? EFD_CLOEXEC : 0));
	if (fd < 0 || fd >= MAX_FD) {
		int e = fd < 0 ? errno : EMFILE;
		if (fd >= 0)
			r_close(fd);
		sl_sock_close(G.ss, h);
		return fail(-e);
	}
	fdmap[fd] = h + 1;
	hrefs[h] = 1;
	G.open_socks++;
	return fd;
}

static void ep_drop_fd(int fd, int h);
static void ep_forget(int h);
static void ep_free(int epfd);

/* The shim's side of closing descriptor fd (the kernel's is the caller's): a sluice socket's
 * descriptor goes, and the socket with its last one; an epoll set's bookkeeping goes with it.
 * Called with the lock held. */
static void forget_fd(int fd)
{
	int h = handle(fd);
	if (h >= 0) {
		fdmap[fd] = 0;
		if (--hrefs[h] > 0) {
			ep_drop_fd(fd, h); /* its items stay, reported for the duplicates */
			return;
		}
		ep_forget(h);
		sl_sock_close(G.ss, h);
		G.open_socks--;
	} else if (G.on && fd >= 0 && fd < MAX_FD && eps[fd]) {
		ep_free(fd);
	}
}

/* A new descriptor nfd (just made by the kernel from fd) for fd's socket. */
static int share(int fd, int nfd)
{
	if (nfd < 0)
		return nfd;
	if (nfd >= MAX_FD) {
		r_close(nfd);
		return fail(-EMFILE);
	}
	int h = handle(fd);
	if (h < 0)
		return nfd; /* fd was closed (and its number reused) by another thread meanwhile */
	fdmap[nfd] = h + 1;
	hrefs[h]++;
	/* The number back on the same socket: an entry it added is its own again (the kernel's
	 * key, file and descriptor, matches once more). */
	for (struct ep_item *it = h_items[h]; it; it = it->fnext)
		if (it->fd == nfd)
			it->orphan = false;
	return nfd;
}

EXPORT int socket(int domain, int type, int protocol)
{
	ensure();
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	/* TCP and UDP only: ICMP "ping" sockets, SCTP and the rest stay the kernel's. */
	if ((domain != AF_INET && domain != AF_INET6) ||
	    !((base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
	      (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))))
		return r_socket(domain, type, protocol);
	LOCK();
	start_once();
	if (!G.on) {
		UNLOCK();
		return r_socket(domain, type, protocol);
	}
	int h = sl_sock_socket(G.ss, domain, type, protocol);
	int r = h < 0 ? fail(h) : adopt(h, type & SOCK_CLOEXEC);
	UNLOCK();
	return r;
}

EXPORT int close(int fd)
{
	ensure();
	if (handle(fd) < 0 && !(G.on && fd >= 0 && fd < MAX_FD && eps[fd]))
		return r_close(fd);
	LOCK();
	forget_fd(fd); /* a socket's descriptor, or an epoll set going away */
	UNLOCK();
	return r_close(fd);
}

EXPORT int bind(int fd, const struct sockaddr *a, socklen_t len)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_bind(fd, a, len);
	LOCK();
	int r = sl_sock_bind(G.ss, h, a, len);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int listen(int fd, int backlog)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_listen(fd, backlog);
	LOCK();
	int r = sl_sock_listen(G.ss, h, backlog);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_accept4(fd, a, len, flags);
	}
	int r;
	do {
		last_sig = 0;
		LOCK();
		r = sl_sock_accept(G.ss, h, a, len, flags);
		if (r >= 0)
			r = adopt(r, flags & SOCK_CLOEXEC);
		UNLOCK();
	} while (r == -EINTR && restart(h, SO_RCVTIMEO));
	return r < 0 && r != -1 ? fail(r) : r;
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *len)
{
	ensure();
	if (handle(fd) < 0) {
		settle();
		return r_accept(fd, a, len);
	}
	return accept4(fd, a, len, 0);
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t len)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_connect(fd, a, len);
	}
	int r;
	do { /* restarted after an SA_RESTART handler: the socket layer waits for the same
	      * handshake again (signal(7) lists connect) */
		last_sig = 0;
		LOCK();
		r = sl_sock_connect(G.ss, h, a, len);
		UNLOCK();
	} while (r == -EINTR && restart(h, SO_SNDTIMEO));
	return r < 0 ? fail(r) : 0;
}

static ssize_t do_sendmsg(int h, const struct msghdr *m, int flags)
{
	ssize_t r;
	do {
		last_sig = 0;
		LOCK();
		r = sl_sock_sendmsg(G.ss, h, m, flags);
		UNLOCK();
	} while (r == -EINTR && restart(h, SO_SNDTIMEO));
	return r < 0 ? sfail(r) : r;
}

static ssize_t do_recvmsg(int h, struct msghdr *m, int flags)
{
	ssize_t r;
	do {
		last_sig = 0;
		LOCK();
		r = sl_sock_recvmsg(G.ss, h, m, flags);
		UNLOCK();
	} while (r == -EINTR && restart(h, SO_RCVTIMEO));
	return r < 0 ? sfail(r) : r;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_read(fd, buf, n);
	}
	if (n == 0)
		return 0; /* sock_read_iter: a read of nothing returns at once (recv of 0 waits) */
	struct iovec v = {buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return do_recvmsg(h, &m, 0);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_write(fd, buf, n);
	}
	struct iovec v = {(void *)buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return do_sendmsg(h, &m, 0);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_readv(fd, iov, n);
	}
	if (n < 0 || n > IOV_MAX)
		return sfail(-EINVAL);
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
	return do_recvmsg(h, &m, 0);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_writev(fd, iov, n);
	}
	if (n < 0 || n > IOV_MAX)
		return sfail(-EINVAL);
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
	return do_sendmsg(h, &m, 0);
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_send(fd, buf, n, flags);
	}
	struct iovec v = {(void *)buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return do_sendmsg(h, &m, flags);
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_recv(fd, buf, n, flags);
	}
	struct iovec v = {buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return do_recvmsg(h, &m, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
		      socklen_t alen)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_sendto(fd, buf, n, flags, a, alen);
	}
	struct iovec v = {(void *)buf, n};
	struct msghdr m = {.msg_name = (void *)a, .msg_namelen = a ? alen : 0, .msg_iov = &v,
			   .msg_iovlen = 1};
	return do_sendmsg(h, &m, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a,
			socklen_t *alen)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_recvfrom(fd, buf, n, flags, a, alen);
	}
	struct iovec v = {buf, n};
	struct msghdr m = {.msg_name = a, .msg_namelen = a && alen ? *alen : 0, .msg_iov = &v,
			   .msg_iovlen = 1};
	ssize_t r = do_recvmsg(h, &m, flags);
	if (r >= 0 && a && alen)
		*alen = m.msg_namelen;
	return r;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_sendmsg(fd, m, flags);
	}
	return do_sendmsg(h, m, flags);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		settle();
		return r_recvmsg(fd, m, flags);
	}
	return do_recvmsg(h, m, flags);
}

EXPORT int shutdown(int fd, int how)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_shutdown(fd, how);
	LOCK();
	int r = sl_sock_shutdown(G.ss, h, how);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_getsockname(fd, a, len);
	LOCK();
	int r = sl_sock_getsockname(G.ss, h, a, len);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_getpeername(fd, a, len);
	LOCK();
	int r = sl_sock_getpeername(G.ss, h, a, len);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_setsockopt(fd, level, name, v, len);
	LOCK();
	int r = sl_sock_setsockopt(G.ss, h, level, name, v, len);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int getsockopt(int fd, int level, int name, void *v, socklen_t *len)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_getsockopt(fd, level, name, v, len);
	LOCK();
	int r = sl_sock_getsockopt(G.ss, h, level, name, v, len);
	UNLOCK();
	return r < 0 ? fail(r) : 0;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	ensure();
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	int h = handle(fd);
	if (h < 0) {
		if (cmd == F_SETLKW || cmd == F_OFD_SETLKW)
			settle(); /* waits for a lock */
		return r_fcntl(fd, cmd, arg);
	}
	switch (cmd) {
	case F_GETFL: {
		LOCK();
		int nb = sl_sock_get_nonblock(G.ss, h);
		UNLOCK();
		return O_RDWR | (nb > 0 ? O_NONBLOCK : 0);
	}
	case F_SETFL:
		LOCK();
		sl_sock_set_nonblock(G.ss, h, (arg & O_NONBLOCK) != 0);
		UNLOCK();
		return 0;
	case F_GETFD:
	case F_SETFD:
		return r_fcntl(fd, cmd, arg); /* close-on-exec lives on the placeholder */
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: {
		LOCK();
		int r = share(fd, r_fcntl(fd, cmd, arg)); /* the placeholder's duplicate */
		UNLOCK();
		return r;
	}
	default:
		return fail(-EINVAL);
	}
}
/* glibc >= 2.28 programs built with _FILE_OFFSET_BITS=64 (Debian's redis-server, nginx) call fcntl64. */
EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	ensure();
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int h = handle(fd);
	if (h < 0)
		return r_ioctl(fd, req, arg);
	if (!arg)
		return fail(-EFAULT);
	if (req == FIONBIO) {
		int on;
		memcpy(&on, arg, sizeof(on));
		LOCK();
		sl_sock_set_nonblock(G.ss, h, on != 0);
		UNLOCK();
		return 0;
	}
	if (req == FIONREAD || req == SIOCOUTQ || req == SIOCOUTQNSD) { /* SIOCINQ is FIONREAD */
		LOCK();
		int n = req == FIONREAD ? sl_sock_nread(G.ss, h)
					: sl_sock_outq(G.ss, h, req == SIOCOUTQNSD);
		UNLOCK();
		if (n == -EOPNOTSUPP)
			n = -ENOTTY; /* as the kernel answers a request the protocol has no use for */
		if (n < 0)
			return fail(n);
		memcpy(arg, &n, sizeof(n));
		return 0;
	}
	return fail(-ENOTTY);
}

/* dup(2) and its kind on a sluice socket duplicate the placeholder (the kernel keeps the
 * close-on-exec flag per descriptor) and map the new number to the same socket. Onto a
 * descriptor in use, the kernel closes it silently: the shim forgets it as close would. */
static bool ours(int fd)
{
	return handle(fd) >= 0 || (G.on && fd >= 0 && fd < MAX_FD && eps[fd]);
}

EXPORT int dup(int fd)
{
	ensure();
	if (handle(fd) < 0)
		return r_dup(fd);
	LOCK();
	int r = share(fd, r_dup(fd));
	UNLOCK();
	return r;
}

static int dup_onto(int fd, int to, int flags, bool three)
{
	if (!ours(fd) && !ours(to))
		return three ? r_dup3(fd, to, flags) : r_dup2(fd, to);
	LOCK();
	int r = three ? r_dup3(fd, to, flags) : r_dup2(fd, to);
	if (r >= 0 && fd != to) {
		forget_fd(to);
		if (handle(fd) >= 0)
			share(fd, to);
	}
	UNLOCK();
	return r;
}

EXPORT int dup2(int fd, int to)
{
	ensure();
	return dup_onto(fd, to, 0, false);
}

EXPORT int dup3(int fd, int to, int flags)
{
	ensure();
	return dup_onto(fd, to, flags, true);
}

/* sendfile to a sluice socket: read the file, send it (no zero-copy path into the stack). */
EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	ensure();
	int h = handle(out);
	if (h < 0) {
		settle();
		return r_sendfile(out, in, off, count);
	}
	static char buf[65536];
	size_t done = 0;
	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		ssize_t n = off ? pread(in, buf, want, *off) : r_read(in, buf, want);
		if (n < 0)
			return done ? (ssize_t)done : -1;
		if (n == 0)
			break;
		struct iovec v = {buf, (size_t)n};
		struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
		ssize_t w = do_sendmsg(h, &m, 0);
		if (w < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
		if (off)
			*off += w;
		else if (w < n)
			lseek(in, w - n, SEEK_CUR);
		if (w < n)
			break;
	}
	return (ssize_t)done;
}
/* nginx (built with _FILE_OFFSET_BITS=64) calls sendfile64, the same call on 64-bit Linux. */
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count) __attribute__((alias("sendfile")));

EXPORT pid_t fork(void)
{
	ensure();
	if (G.on && G.open_socks > 0) {
		fprintf(stderr, "sluice exec: fork() with sluice sockets open is not supported (the "
				"child would share the stack's rings): run the program without forking "
				"(docs/sluice.8, EXEC)\n");
		errno = ENOTSUP;
		return -1;
	}
	pid_t p = r_fork();
	if (p == 0 && G.on) {
		/* A child with no sluice socket: it gets none (the stack stays the parent's). */
		G.on = false;
	}
	return p;
}

/* _FORTIFY_SOURCE builds call these instead of read, recv, recvfrom and poll. */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	ensure();
	if (n > buflen)
		abort(); /* what glibc's check does (__chk_fail) */
	return read(fd, buf, n);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	ensure();
	if (n > buflen)
		abort();
	return recv(fd, buf, n, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      struct sockaddr *a, socklen_t *alen)
{
	ensure();
	if (n > buflen)
		abort();
	return recvfrom(fd, buf, n, flags, a, alen);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	ensure();
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout);
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *tmo)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		int (*real)(int, struct mmsghdr *, unsigned int, int, struct timespec *) =
		    dlsym(RTLD_NEXT, "recvmmsg");
		settle();
		return real(fd, v, n, flags, tmo);
	}
	/* One by one; after the first, the rest only if already there (MSG_WAITFORONE's rule
	 * for all but the first: do not wait). */
	unsigned i = 0;
	for (; i < n; i++) {
		ssize_t r = do_recvmsg(h, &v[i].msg_hdr, i ? (flags | MSG_DONTWAIT) : flags);
		if (r < 0) {
			if (i)
				break;
			return -1;
		}
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	ensure();
	int h = handle(fd);
	if (h < 0) {
		int (*real)(int, struct mmsghdr *, unsigned int, int) = dlsym(RTLD_NEXT, "sendmmsg");
		settle();
		return real(fd, v, n, flags);
	}
	unsigned i = 0;
	for (; i < n; i++) {
		ssize_t r = do_sendmsg(h, &v[i].msg_hdr, flags);
		if (r < 0) {
			if (i)
				break;
			return -1;
		}
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

/* daemon(3) forks inside libc, where fork() cannot be seen: refuse it the same way. */
EXPORT int daemon(int nochdir, int noclose)
{
	ensure();
	if (G.on && G.open_socks > 0) {
		fprintf(stderr, "sluice exec: daemon() with sluice sockets open is not supported: run "
				"the program in the foreground\n");
		errno = ENOTSUP;
		return -1;
	}
	int (*real)(int, int) = dlsym(RTLD_NEXT, "daemon");
	return real(nochdir, noclose);
}

/* --- waiting ---------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	return sl_now_ns();
}

/* How long the kernel side may sleep, in ms for poll/epoll_wait: the caller's timeout
 * (negative: none) bounded by the stack's next due time. */
static int sleep_ms(int timeout_ms, uint64_t deadline)
{
	uint64_t now = now_ns(), next = sl_sockets_next(G.ss);
	uint64_t until = next;
	if (timeout_ms >= 0 && deadline < until)
		until = deadline;
	if (until == UINT64_MAX)
		return -1;
	if (until <= now)
		return 0;
	uint64_t ms = (until - now + 999999) / 1000000;
	return ms > 1000 ? 1000 : (int)ms;
}

static bool ep_ready(struct ep *e);

/* An epoll set holding sluice sockets (its readiness is partly ours to say). */
static struct ep *ep_of(int fd)
{
	return G.on && fd >= 0 && fd < MAX_FD && eps[fd] && eps[fd]->items ? eps[fd] : NULL;
}

/* --- sleepers (see struct sleeper) -------------------------------------------------------- */

/* Whether poll would report one of the sluice parts of fds now. */
static bool fds_ready(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++) {
		int h = handle(fds[i].fd);
		if (h >= 0) {
			if (sl_sock_events(G.ss, h) & (fds[i].events | POLLERR | POLLHUP | POLLNVAL))
				return true;
			continue;
		}
		struct ep *e = ep_of(fds[i].fd);
		if (e && (fds[i].events & POLLIN) && ep_ready(e))
			return true;
	}
	return false;
}

static void wake_sleepers(void)
{
	int saved = errno;
	for (struct sleeper *s = sleepers; s; s = s->next) {
		if (s->signalled || s->self == &thread_self)
			continue;
		if (!(s->ep ? ep_ready(s->ep) : s->fds && fds_ready(s->fds, s->n)))
			continue;
		uint64_t one = 1;
		if (r_write(s->efd, &one, sizeof(one)) == sizeof(one) || errno == EAGAIN)
			s->signalled = true;
	}
	errno = saved;
}

/* Under the lock, just before the kernel sleep; sleeper_del under the lock after it. */
static void sleeper_add(struct sleeper *s)
{
	s->signalled = false;
	s->self = &thread_self;
	s->next = sleepers;
	sleepers = s;
}

static void sleeper_del(struct sleeper *s)
{
	for (struct sleeper **pp = &sleepers; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->signalled) {
		uint64_t v;
		int saved = errno;
		if (r_read(s->efd, &v, sizeof(v)) < 0) {
			/* nothing to take: another sleeper on the same set took it */
		}
		errno = saved;
	}
}

/* After a sleep during which a handler ran (sig_count is no longer sigs): the write the
 * trampoline may have made to efd is taken back, so the next sleep does not wake for it. */
static void wake_fd_drain(int efd, sig_atomic_t sigs)
{
	if (efd < 0 || sig_count == sigs)
		return;
	int saved = errno;
	uint64_t v;
	if (r_read(efd, &v, sizeof(v)) < 0) {
		/* nothing written: the handler ran before the sleep began */
	}
	errno = saved;
}

/* After the kernel sleep of a sleeper that sleeper_add listed (efd ≥ 0); errno is kept. */
static void sleeper_end(struct sleeper *s)
{
	if (s->efd < 0)
		return;
	int saved = errno;
	LOCK();
	sleeper_del(s);
	UNLOCK();
	errno = saved;
}

/* The calling thread's wake-up eventfd for poll and select (closed when the thread ends), or
 * -1 if none could be made (then a sleep ends at the stack's next timer or a second at most,
 * as before there were sleepers). */
static pthread_key_t wake_key;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static __thread int thread_wake_fd = -1;
static void wake_fd_end(void *p)
{
	r_close((int)(intptr_t)p - 1);
}
static void wake_key_make(void)
{
	pthread_key_create(&wake_key, wake_fd_end);
}
static int thread_wake(void)
{
	if (thread_wake_fd < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			return -1;
		pthread_once(&wake_once, wake_key_make);
		pthread_setspecific(wake_key, (void *)(intptr_t)(fd + 1));
		thread_wake_fd = fd;
	}
	return thread_wake_fd;
}

/* The set's wake-up eventfd, made and added to the kernel set the first time it sleeps. */
static int ep_wake(int epfd, struct ep *e)
{
	if (e->wake_fd < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			return -1;
		struct epoll_event we = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
		if (r_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &we) < 0) {
			r_close(fd);
			return -1;
		}
		e->wake_fd = fd;
	}
	return e->wake_fd;
}

static int do_poll(struct pollfd *fds, nfds_t n, int timeout_ms, const sigset_t *mask)
{
	bool any = false;
	for (nfds_t i = 0; i < n && !any; i++)
		any = handle(fds[i].fd) >= 0 || ep_of(fds[i].fd);
	if (!any) {
		settle();
		struct timespec ts, *tp = NULL;
		if (timeout_ms >= 0) {
			ts.tv_sec = timeout_ms / 1000;
			ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
			tp = &ts;
		}
		return r_ppoll(fds, n, tp, mask);
	}
	t_loop = !G.eager;
	struct pollfd *k = malloc((n + 2) * sizeof(*k));
	if (!k)
		return fail(-ENOMEM);
	uint64_t deadline = timeout_ms >= 0 ? now_ns() + (uint64_t)timeout_ms * 1000000ULL : 0;
	sig_atomic_t sigs = sig_count;
	int result;
	for (;;) {
		int ready = 0;
		LOCK();
		sl_sockets_poll(G.ss);
		for (nfds_t i = 0; i < n; i++) {
			int h = handle(fds[i].fd);
			struct ep *e = h < 0 ? ep_of(fds[i].fd) : NULL;
			if (e) {
				/* An epoll descriptor is readable when epoll_wait would return
				 * something: its sluice sockets are looked at here, its kernel ones
				 * by the kernel below (the stack was just polled, so the AF_XDP
				 * descriptor in it no longer makes it readable for nothing). */
				fds[i].revents = ep_ready(e) ? (fds[i].events & POLLIN) : 0;
				if (fds[i].revents)
					ready++;
				continue;
			}
			if (h < 0)
				continue;
			short ev = sl_sock_events(G.ss, h);
			fds[i].revents = ev & (fds[i].events | POLLERR | POLLHUP | POLLNVAL);
			if (fds[i].revents)
				ready++;
		}
		int ms = ready ? 0 : sleep_ms(timeout_ms, deadline);
		if (!ready && sig_count != sigs) {
			UNLOCK();
			result = fail(-EINTR); /* a handler ran during the call */
			break;
		}
		int xfd = sl_sockets_fd(G.ss);
		struct sleeper me = {.fds = fds, .n = n, .efd = ms ? thread_wake() : -1};
		if (me.efd >= 0)
			sleeper_add(&me);
		UNLOCK();
		nfds_t m = 0;
		for (nfds_t i = 0; i < n; i++)
			if (handle(fds[i].fd) < 0) {
				k[m] = fds[i];
				k[m++].revents = 0;
				if (!ep_of(fds[i].fd))
					fds[i].revents = 0;
			}
		k[m].fd = xfd;
		k[m].events = POLLIN;
		k[m].revents = 0;
		k[m + 1] = (struct pollfd){.fd = me.efd, .events = POLLIN};
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
		t_wake_fd = me.efd;
		int r = r_ppoll(k, m + 1 + (me.efd >= 0), ms < 0 ? NULL : &ts, mask);
		t_wake_fd = -1;
		wake_fd_drain(me.efd, sigs);
		sleeper_end(&me);
		if (r < 0) {
			result = ready ? ready : -1;
			break;
		}
		m = 0;
		for (nfds_t i = 0; i < n; i++)
			if (handle(fds[i].fd) < 0) {
				bool had = fds[i].revents != 0; /* an epoll set's sluice part */
				fds[i].revents |= k[m++].revents;
				if (fds[i].revents && !had)
					ready++;
			}
		if (ready) {
			result = ready;
			break;
		}
		if (timeout_ms == 0 || (timeout_ms > 0 && now_ns() >= deadline)) {
			result = 0;
			break;
		}
	}
	free(k);
	return result;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	ensure();
	if (!G.on)
		return r_poll(fds, n, timeout);
	return do_poll(fds, n, timeout, NULL);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	ensure();
	if (!G.on)
		return r_ppoll(fds, n, ts, mask);
	int ms = ts ? (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000) : -1;
	return do_poll(fds, n, ms, mask);
}

static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int timeout_ms,
		     const sigset_t *mask)
{
	if (nfds < 0 || nfds > FD_SETSIZE)
		return fail(-EINVAL);
	struct pollfd *p = calloc((size_t)nfds + 1, sizeof(*p));
	if (!p)
		return fail(-ENOMEM);
	nfds_t n = 0;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (r && FD_ISSET(fd, r))
			ev |= POLLIN;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT;
		if (e && FD_ISSET(fd, e))
			ev |= POLLPRI;
		if (ev) {
			p[n].fd = fd;
			p[n++].events = ev;
		}
	}
	int rc = do_poll(p, n, timeout_ms, mask);
	if (rc < 0) {
		free(p);
		return -1;
	}
	for (nfds_t i = 0; i < n; i++)
		if (p[i].revents & POLLNVAL) {
			free(p);
			return fail(-EBADF);
		}
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (e)
		FD_ZERO(e);
	int count = 0;
	for (nfds_t i = 0; i < n; i++) {
		/* select(2): readable includes end of file and errors (POLLIN_SET in the kernel). */
		if (r && (p[i].events & POLLIN) && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
			FD_SET(p[i].fd, r);
			count++;
		}
		if (w && (p[i].events & POLLOUT) && (p[i].revents & (POLLOUT | POLLERR))) {
			FD_SET(p[i].fd, w);
			count++;
		}
		if (e && (p[i].events & POLLPRI) && (p[i].revents & POLLPRI)) {
			FD_SET(p[i].fd, e);
			count++;
		}
	}
	free(p);
	return count;
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	ensure();
	int ms = tv ? (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000) : -1;
	int rc = do_select(nfds, r, w, e, ms, NULL);
	if (tv && rc == 0)
		tv->tv_sec = tv->tv_usec = 0;
	return rc;
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		   const sigset_t *mask)
{
	ensure();
	int ms = ts ? (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000) : -1;
	return do_select(nfds, r, w, e, ms, mask);
}

/* epoll ---------------------------------------------------------------------------------- */

static void cand_add(struct ep_item *it)
{
	struct ep *e = it->ep;
	if (it->cand)
		return;
	it->cand = true;
	it->cnext = NULL;
	it->cprev = e->ctail;
	if (e->ctail)
		e->ctail->cnext = it;
	else
		e->chead = it;
	e->ctail = it;
	e->ncand++;
}

static void cand_del(struct ep_item *it)
{
	struct ep *e = it->ep;
	if (!it->cand)
		return;
	if (it->cprev)
		it->cprev->cnext = it->cnext;
	else
		e->chead = it->cnext;
	if (it->cnext)
		it->cnext->cprev = it->cprev;
	else
		e->ctail = it->cprev;
	it->cand = false;
	e->ncand--;
}

static struct ep_item *ep_find(struct ep *e, int fd)
{
	for (struct ep_item *i = h_items[handle(fd)]; i; i = i->fnext)
		if (i->ep == e && i->fd == fd && !i->orphan)
			return i;
	return NULL;
}

static void item_free(struct ep_item *it)
{
	struct ep *e = it->ep;
	cand_del(it);
	if (it->prev)
		it->prev->next = it->next;
	else
		e->items = it->next;
	if (it->next)
		it->next->prev = it->prev;
	for (struct ep_item **pp = &h_items[it->h]; *pp; pp = &(*pp)->fnext)
		if (*pp == it) {
			*pp = it->fnext;
			break;
		}
	free(it);
}

/* The sockets whose edge moved since the last look: their items become candidates. */
static void ep_changes(void)
{
	int hs[256];
	unsigned n;
	while ((n = sl_sockets_changed(G.ss, hs, 256)) > 0)
		for (unsigned i = 0; i < n; i++)
			for (struct ep_item *it = hs[i] >= 0 && hs[i] < MAX_SOCKS ? h_items[hs[i]] : NULL;
			     it; it = it->fnext)
				cand_add(it);
}

/* What epoll_wait would report for it now (0: nothing; then it is no longer a candidate).
 * Nothing is consumed. */
static uint32_t item_ready(struct ep_item *it)
{
	int h = it->h;
	if (it->disabled)
		return 0;
	uint32_t want = it->ev.events | EPOLLERR | EPOLLHUP;
	uint32_t ready = (uint32_t)(unsigned short)sl_sock_events(G.ss, h) & want;
	if (ready && (it->ev.events & EPOLLET) && sl_sock_edge(G.ss, h) == it->edge_seen)
		return 0;
	return ready;
}

/* Would epoll_wait on e report a sluice socket now? (Nothing is consumed: edges and
 * one-shot states stay as they are.) */
static bool ep_ready(struct ep *e)
{
	ep_changes();
	for (struct ep_item *it = e->chead, *nx; it; it = nx) {
		nx = it->cnext;
		if (item_ready(it))
			return true;
		cand_del(it);
	}
	return false;
}

/* The socket's last descriptor is closed: its items go. */
static void ep_forget(int h)
{
	while (h_items[h])
		item_free(h_items[h]);
}

/* Descriptor fd of socket h is closed, another remains: the items fd added stay. */
static void ep_drop_fd(int fd, int h)
{
	for (struct ep_item *it = h_items[h]; it; it = it->fnext)
		if (it->fd == fd)
			it->orphan = true;
}

static void ep_free(int epfd)
{
	struct ep *e = eps[epfd];
	while (e->items)
		item_free(e->items);
	for (struct sleeper *s = sleepers; s; s = s->next)
		if (s->ep == e)
			s->ep = NULL; /* a thread still in epoll_wait on it */
	if (e->wake_fd >= 0)
		r_close(e->wake_fd);
	free(e);
	eps[epfd] = NULL;
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	ensure();
	int h = handle(fd);
	if (h < 0)
		return r_epoll_ctl(epfd, op, fd, ev);
	if (epfd < 0 || epfd >= MAX_FD || epfd == fd)
		return fail(-EINVAL);
	LOCK();
	struct ep *e = eps[epfd];
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			UNLOCK();
			return fail(-ENOMEM);
		}
		e->wake_fd = -1;
		eps[epfd] = e;
	}
	if (!e->xsk_added) {
		/* The AF_XDP descriptor joins the set, so a frame ends the kernel's sleep. This is
		 * also the check that epfd is an epoll descriptor (EINVAL, EBADF otherwise). */
		struct epoll_event xe = {.events = EPOLLIN, .data.u64 = XSK_TAG};
		if (r_epoll_ctl(epfd, EPOLL_CTL_ADD, sl_sockets_fd(G.ss), &xe) < 0 && errno != EEXIST) {
			int e2 = errno;
			free(e); /* (just made: no items) */
			eps[epfd] = NULL;
			UNLOCK();
			return fail(-e2);
		}
		e->xsk_added = true;
	}
	struct ep_item *it = ep_find(e, fd);
	int rc = 0;
	/* epoll_ctl(2): EPOLLEXCLUSIVE only with EPOLL_CTL_ADD and only beside EPOLLIN, EPOLLOUT,
	 * EPOLLERR, EPOLLHUP, EPOLLWAKEUP and EPOLLET; an entry added with it cannot be modified.
	 * Otherwise the flag changes nothing for a sluice socket. */
	const uint32_t excl_ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET |
				 EPOLLEXCLUSIVE;
	if (ev && op != EPOLL_CTL_DEL && (ev->events & EPOLLEXCLUSIVE) &&
	    (op == EPOLL_CTL_MOD || (ev->events & ~excl_ok))) {
		UNLOCK();
		return fail(-EINVAL);
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it) {
			rc = -EEXIST;
			break;
		}
		if (!ev) {
			rc = -EFAULT;
			break;
		}
		it = calloc(1, sizeof(*it));
		if (!it) {
			rc = -ENOMEM;
			break;
		}
		it->fd = fd;
		it->h = h;
		it->ep = e;
		it->ev = *ev;
		it->edge_seen = sl_sock_edge(G.ss, h) - 1; /* report the state as it is now, once */
		it->next = e->items;
		if (e->items)
			e->items->prev = it;
		e->items = it;
		it->fnext = h_items[h];
		h_items[h] = it;
		cand_add(it);
		break;
	case EPOLL_CTL_MOD:
		if (!it) {
			rc = -ENOENT;
			break;
		}
		if (!ev) {
			rc = -EFAULT;
			break;
		}
		if (it->ev.events & EPOLLEXCLUSIVE) {
			rc = -EINVAL;
			break;
		}
		it->ev = *ev;
		it->disabled = false;
		it->edge_seen = sl_sock_edge(G.ss, h) - 1;
		cand_add(it);
		break;
	case EPOLL_CTL_DEL:
		if (!it) {
			rc = -ENOENT;
			break;
		}
		item_free(it);
		break;
	default:
		rc = -EINVAL;
	}
	UNLOCK();
	return rc < 0 ? fail(rc) : 0;
}

static int do_epoll_wait(int epfd, struct epoll_event *out, int max, int timeout,
			 const sigset_t *mask)
{
	struct ep *e = G.on && epfd >= 0 && epfd < MAX_FD ? eps[epfd] : NULL;
	if (!e) {
		settle();
		return r_epoll_pwait(epfd, out, max, timeout, mask);
	}
	if (max <= 0)
		return fail(-EINVAL);
	t_loop = !G.eager;
	uint64_t deadline = timeout >= 0 ? now_ns() + (uint64_t)timeout * 1000000ULL : 0;
	sig_atomic_t sigs = sig_count;
	for (;;) {
		int n = 0;
		LOCK();
		sl_sockets_poll(G.ss);
		ep_changes();
		/* The candidates only, each once: one reported level-triggered goes to the end. */
		unsigned left = e->ncand;
		for (struct ep_item *it = e->chead, *nx; it && left && n < max; it = nx, left--) {
			nx = it->cnext;
			uint32_t ready = item_ready(it);
			if (!ready) {
				cand_del(it);
				continue;
			}
			if (it->ev.events & EPOLLET)
				it->edge_seen = sl_sock_edge(G.ss, it->h);
			out[n].events = ready;
			out[n].data = it->ev.data;
			n++;
			if (it->ev.events & EPOLLONESHOT)
				it->disabled = true;
			cand_del(it);
			if (!(it->ev.events & (EPOLLET | EPOLLONESHOT)))
				cand_add(it);
		}
		int ms = n ? 0 : sleep_ms(timeout, deadline);
		if (!n && sig_count != sigs) {
			UNLOCK();
			return fail(-EINTR); /* a handler ran during the call */
		}
		struct sleeper me = {.ep = e, .efd = ms ? ep_wake(epfd, e) : -1};
		if (me.efd >= 0)
			sleeper_add(&me);
		UNLOCK();
		if (n == max)
			return n;
		t_wake_fd = me.efd;
		int r = r_epoll_pwait(epfd, out + n, max - n, ms, mask);
		t_wake_fd = -1;
		wake_fd_drain(me.efd, sigs);
		sleeper_end(&me);
		if (r < 0)
			return n ? n : -1;
		int k = n;
		for (int i = n; i < n + r; i++)
			if (out[i].data.u64 != XSK_TAG && out[i].data.u64 != WAKE_TAG)
				out[k++] = out[i];
		if (k > 0)
			return k;
		if (timeout == 0 || (timeout > 0 && now_ns() >= deadline))
			return 0;
	}
}

EXPORT int epoll_wait(int epfd, struct epoll_event *out, int max, int timeout)
{
	ensure();
	return do_epoll_wait(epfd, out, max, timeout, NULL);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *out, int max, int timeout,
		       const sigset_t *mask)
{
	ensure();
	return do_epoll_wait(epfd, out, max, timeout, mask);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *out, int max, const struct timespec *ts,
			const sigset_t *mask)
{
	ensure();
	if (!(G.on && epfd >= 0 && epfd < MAX_FD && eps[epfd])) {
		settle();
		if (!r_epoll_pwait2)
			return fail(-ENOSYS);
		return r_epoll_pwait2(epfd, out, max, ts, mask);
	}
	/* A set with sluice sockets: as epoll_pwait, the timeout rounded up to milliseconds. */
	int ms = -1;
	if (ts) {
		if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
			return fail(-EINVAL);
		uint64_t t = (uint64_t)ts->tv_sec * 1000 + ((uint64_t)ts->tv_nsec + 999999) / 1000000;
		ms = t > INT_MAX ? INT_MAX : (int)t;
	}
	return do_epoll_wait(epfd, out, max, ms, mask);
}

/* --- calls that may sleep elsewhere --------------------------------------------------------
 * Each sends what lazy socket calls left queued (settle) and is then the real call, untouched.
 * glibc's own internal calls (stdio reading a terminal, the resolver inside getaddrinfo) do
 * not come through here, hence getaddrinfo and getnameinfo themselves; docs/architecture.md
 * ("One poll per round") lists what is not covered. */

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	ensure();
	settle();
	return r_nanosleep(req, rem);
}

EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem)
{
	ensure();
	settle();
	return r_clock_nanosleep(c, flags, req, rem);
}

EXPORT unsigned sleep(unsigned s)
{
	ensure();
	settle();
	return r_sleep(s);
}

EXPORT int usleep(useconds_t us)
{
	ensure();
	settle();
	return r_usleep(us);
}

EXPORT int pause(void)
{
	ensure();
	settle();
	return r_pause();
}

EXPORT int sigsuspend(const sigset_t *mask)
{
	ensure();
	settle();
	return r_sigsuspend(mask);
}

EXPORT int sigwait(const sigset_t *set, int *sig)
{
	ensure();
	settle();
	return r_sigwait(set, sig);
}

EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	ensure();
	settle();
	return r_sigwaitinfo(set, info);
}

EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	ensure();
	settle();
	return r_sigtimedwait(set, info, ts);
}

EXPORT pid_t wait(int *status)
{
	ensure();
	settle();
	return r_wait(status);
}

EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	ensure();
	if (!(options & WNOHANG))
		settle();
	return r_waitpid(pid, status, options);
}

EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	ensure();
	if (!(options & WNOHANG))
		settle();
	return r_waitid(type, id, info, options);
}

EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	ensure();
	if (!(options & WNOHANG))
		settle();
	return r_wait3(status, options, ru);
}

EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	ensure();
	if (!(options & WNOHANG))
		settle();
	return r_wait4(pid, status, options, ru);
}

EXPORT int flock(int fd, int op)
{
	ensure();
	if (!(op & LOCK_NB))
		settle();
	return r_flock(fd, op);
}

EXPORT int lockf(int fd, int cmd, off_t len)
{
	ensure();
	if (cmd == F_LOCK)
		settle();
	return r_lockf(fd, cmd, len);
}
/* glibc >= 2.28 programs built with _FILE_OFFSET_BITS=64 call lockf64. */
EXPORT int lockf64(int fd, int cmd, off_t len) __attribute__((alias("lockf")));

EXPORT int system(const char *cmd)
{
	ensure();
	settle();
	return r_system(cmd);
}

EXPORT int pclose(FILE *f)
{
	ensure();
	settle();
	return r_pclose(f);
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	ensure();
	settle();
	return r_getaddrinfo(node, service, hints, res);
}

EXPORT int getnameinfo(const struct sockaddr *a, socklen_t alen, char *host, socklen_t hostlen,
		       char *serv, socklen_t servlen, int flags)
{
	ensure();
	settle();
	return r_getnameinfo(a, alen, host, hostlen, serv, servlen, flags);
}

/* exit() ends in the destructor (shim_fini), which sends what is left; _exit and _Exit skip
 * it, so they send what lazy calls queued first (what the kernel would still send after the
 * process is gone). */
EXPORT void _exit(int status)
{
	ensure();
	settle();
	r__exit(status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	ensure();
	settle();
	r__Exit(status);
	__builtin_unreachable();
}
