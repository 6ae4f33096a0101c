/*
 * A BSD socket layer over one stack (user/sock/): stream (TCP) and datagram (UDP) sockets of
 * AF_INET and AF_INET6 with Linux's semantics, for programs written against socket(2) and for
 * `sluice exec` (the LD_PRELOAD shim, tools/preload/preload.c). Every call returns the result the
 * system call would, or -errno (never sets errno). Sockets are small integers (handles, 0..)
 * of this layer, not descriptors; the shim maps descriptors onto them.
 *
 * Blocking calls drive the stack from the calling thread: they poll it, and sleep on its
 * device's descriptor until something is due, as sl_stack_run does. A signal handler that
 * runs meanwhile ends a blocking call with -EINTR (Linux's rule for a handler without
 * SA_RESTART; the layer does not restart calls). A socket layer is not
 * thread-safe: one thread at a time (the shim holds a lock around every call).
 */
#ifndef SLUICE_SOCKET_H
#define SLUICE_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct sl_stack;
struct sl_sockets;

/* A layer over st (which it does not own) for up to max_sockets sockets (1..65536). */
int sl_sockets_new(struct sl_stack *st, unsigned max_sockets, struct sl_sockets **out);
/* Close every socket (as close(2) would) and free the layer. */
void sl_sockets_free(struct sl_sockets *ss);
struct sl_stack *sl_sockets_stack(struct sl_sockets *ss);

/* socket(2): domain AF_INET or AF_INET6, type SOCK_STREAM or SOCK_DGRAM (| SOCK_NONBLOCK,
 * SOCK_CLOEXEC: the latter is the caller's business), protocol 0 or the type's. A handle, or
 * -EAFNOSUPPORT, -EPROTONOSUPPORT, -ESOCKTNOSUPPORT, -EMFILE. */
int sl_sock_socket(struct sl_sockets *ss, int domain, int type, int protocol);
int sl_sock_bind(struct sl_sockets *ss, int s, const struct sockaddr *a, socklen_t len);
int sl_sock_listen(struct sl_sockets *ss, int s, int backlog);
/* flags: SOCK_NONBLOCK for the new socket (accept4). */
int sl_sock_accept(struct sl_sockets *ss, int s, struct sockaddr *a, socklen_t *len, int flags);
int sl_sock_connect(struct sl_sockets *ss, int s, const struct sockaddr *a, socklen_t len);
/* send/recv family: flags MSG_DONTWAIT, MSG_NOSIGNAL (without it, EPIPE also raises SIGPIPE,
 * as Linux does), MSG_PEEK, MSG_WAITALL, MSG_TRUNC (datagram receive: the full length; stream
 * receive: the bytes discarded, not copied); MSG_OOB on a stream receive is -EINVAL. */
ssize_t sl_sock_sendmsg(struct sl_sockets *ss, int s, const struct msghdr *m, int flags);
ssize_t sl_sock_recvmsg(struct sl_sockets *ss, int s, struct msghdr *m, int flags);
int sl_sock_shutdown(struct sl_sockets *ss, int s, int how);
int sl_sock_close(struct sl_sockets *ss, int s);
int sl_sock_getsockname(struct sl_sockets *ss, int s, struct sockaddr *a, socklen_t *len);
int sl_sock_getpeername(struct sl_sockets *ss, int s, struct sockaddr *a, socklen_t *len);
int sl_sock_setsockopt(struct sl_sockets *ss, int s, int level, int name, const void *v,
		       socklen_t len);
int sl_sock_getsockopt(struct sl_sockets *ss, int s, int level, int name, void *v,
		       socklen_t *len);
/* O_NONBLOCK on or off; its state. */
int sl_sock_set_nonblock(struct sl_sockets *ss, int s, bool on);
int sl_sock_get_nonblock(struct sl_sockets *ss, int s);
/* FIONREAD: bytes readable (stream) or the size of the next datagram (datagram). */
int sl_sock_nread(struct sl_sockets *ss, int s);
/* SIOCOUTQ (unsent false): bytes written and not yet acknowledged (stream; 0 for a datagram
 * socket: nothing waits in it); SIOCOUTQNSD (unsent true): of those, not yet sent (stream
 * only: -EOPNOTSUPP for a datagram socket). -EINVAL on a listener, as tcp_ioctl. */
int sl_sock_outq(struct sl_sockets *ss, int s, bool unsent);
/* Is s a live handle of this layer? */
bool sl_sock_valid(struct sl_sockets *ss, int s);

/* Readiness as poll(2) reports it: POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP (and
 * POLLPRI never). */
short sl_sock_events(struct sl_sockets *ss, int s);
/* A count that moves whenever s may have become ready for something it was not (data,
 * a connection, send space, an error, the end of the stream): edge-triggered epoll reports
 * a socket again only when this moved. */
uint64_t sl_sock_edge(struct sl_sockets *ss, int s);
/* Up to max handles whose edge count moved since this last returned them, each once (a
 * handle may since have been closed, or closed and made again): a caller that keeps a
 * readiness list looks at these instead of at every socket. The rest stay for the next call. */
unsigned sl_sockets_changed(struct sl_sockets *ss, int *out, unsigned max);

/* Drive the stack: process what arrived and what is due, without sleeping. */
void sl_sockets_poll(struct sl_sockets *ss);
/* The device's descriptor (readable when frames arrived) and the next time the stack has
 * something due (ns, sl_now_ns clock; UINT64_MAX: nothing), for a caller that sleeps in
 * poll(2) or epoll_wait(2) itself. */
int sl_sockets_fd(struct sl_sockets *ss);
uint64_t sl_sockets_next(struct sl_sockets *ss);
/* Sleep until the device is readable, the stack has something due, or timeout_ns passes
 * (0: do not sleep), then poll: 0, or -EINTR when a signal handler ran meanwhile. What lazy
 * calls left queued is sent before the sleep. */
int sl_sockets_wait(struct sl_sockets *ss, uint64_t timeout_ns);

/* Lazy polling, for an event loop (off by default). With it on, a non-blocking call
 * (O_NONBLOCK or MSG_DONTWAIT) that can be answered from what the socket holds now (data
 * already received, room in the send buffer, a connection already queued, a close) does not
 * poll the stack: what it queued (the data of a send, the window update a read may owe, a
 * FIN) leaves at the next poll, so that a round of the loop makes one poll and one TX kick
 * rather than one per call. A receive or an accept that would fail with EAGAIN polls and
 * looks again first (a send's EAGAIN never polled). Blocking calls are not affected. The caller must not sleep anywhere else (nor hand the
 * thread to code that may) while sl_sockets_unflushed is true: call sl_sockets_flush. */
void sl_sockets_set_lazy(struct sl_sockets *ss, bool on);
/* Did a lazy call leave output that no poll has sent yet? A hint that may be read from any
 * thread without the lock the caller keeps around the layer. */
bool sl_sockets_unflushed(struct sl_sockets *ss);
/* Poll the stack if sl_sockets_unflushed (the data leaves; a TX kick if the device needs one). */
void sl_sockets_flush(struct sl_sockets *ss);

#endif
