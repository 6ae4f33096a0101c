/*
 * Counters and connections published for `sluice stats` (include/sluice/stats.h): the
 * writer, which the stack updates in place from its poll loop, and the reader.
 */
#include "iface/stack.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* --- published counters ---------------------------------------------------------------- */

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* Rewrite the published connection table (every 50 ms, from sl_stack_poll). */
void sl_stack_write_conns(struct sl_stack *st)
{
	struct sl_conns_file *h = st->conns_hdr;
	size_t total = sl_tcp_conns(st, st->conns_tmp, h->cap);
	size_t n = total < h->cap ? total : h->cap;
	struct sl_conn_record *r = (struct sl_conn_record *)(h + 1);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE); /* odd: writing */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (size_t i = 0; i < n; i++) {
		const struct sl_tcp_conn *c = &st->conns_tmp[i];
		const struct sl_tcp_info *in = &c->info;
		struct sl_conn_record *x = &r[i];
		memset(x, 0, sizeof(*x));
		memcpy(x->local, c->local.b, 16);
		memcpy(x->remote, c->remote.b, 16);
		x->lport = c->lport;
		x->rport = c->rport;
		copy_str(x->state, sizeof(x->state), in->state);
		copy_str(x->cc, sizeof(x->cc), in->cc);
		x->wscale_ok = in->wscale_ok;
		x->sack_ok = in->sack_ok;
		x->ts_ok = in->ts_ok;
		x->snd_wscale = in->snd_wscale;
		x->rcv_wscale = in->rcv_wscale;
		x->mss = in->mss;
		x->cwnd = in->cwnd;
		x->ssthresh = in->ssthresh;
		x->snd_wnd = in->snd_wnd;
		x->rcv_wnd = in->rcv_wnd;
		x->pipe = in->pipe;
		x->sacked = in->sacked;
		x->lost = in->lost;
		x->srtt_us = in->srtt_us;
		x->rttvar_us = in->rttvar_us;
		x->rto_us = in->rto_us;
		x->min_rtt_us = in->min_rtt_us;
		x->retransmits = in->retransmits;
		x->bytes_sent = in->bytes_sent;
		x->bytes_received = in->bytes_received;
		x->segs_in = in->segs_in;
		x->segs_out = in->segs_out;
		x->recoveries = in->recoveries;
		x->rto_count = in->rto_count;
		x->tlp_probes = in->tlp_probes;
		x->spurious_undone = in->spurious_undone;
		x->dsacks_rx = in->dsacks_rx;
		x->dsacks_tx = in->dsacks_tx;
	}
	h->n = (uint32_t)n;
	h->total = (uint32_t)total;
	h->updated_ns = st->now;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE); /* even: done */
}

int sl_stack_publish_conns(struct sl_stack *st, const char *path, unsigned max)
{
	if (!max || max > 65536)
		return -EINVAL;
	size_t len = sizeof(struct sl_conns_file) + (size_t)max * sizeof(struct sl_conn_record);
	struct sl_tcp_conn *tmp = calloc(max, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(tmp);
		return -errno;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = -errno;
		close(fd);
		free(tmp);
		return err;
	}
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		free(tmp);
		return -errno;
	}
	struct sl_conns_file *h = m;
	h->pid = (uint32_t)getpid();
	h->cap = max;
	h->record_size = sizeof(struct sl_conn_record);
	if (st->conns_hdr)
		munmap(st->conns_hdr, st->conns_map_len);
	free(st->conns_tmp);
	st->conns_hdr = h;
	st->conns_map_len = len;
	st->conns_tmp = tmp;
	sl_stack_write_conns(st);
	__atomic_store_n(&h->magic, SL_CONNS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int sl_stack_publish_stats(struct sl_stack *st, const char *path, const char *ifname,
			   unsigned queue)
{
	size_t names = (size_t)SL_STAT_N * SL_STATS_NAME_LEN;
	size_t len = sizeof(struct sl_stats_file) + names + sizeof(struct sl_stats);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	struct sl_stats_file *h = m;
	h->n = SL_STAT_N;
	h->pid = (uint32_t)getpid();
	h->queue = queue;
	h->zero_copy = st->dev->zero_copy;
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	snprintf(h->mode, sizeof(h->mode), "%s", st->dev->mode);
	if (st->n_v4) {
		sl_ip a = sl_ip_v4(st->v4[0].addr);
		sl_ip_str(&a, h->addr, sizeof(h->addr));
	} else if (st->n_v6) {
		sl_ip_str(&st->v6[0].addr, h->addr, sizeof(h->addr));
	}
	struct sl_dev_counts c;
	sl_dev_counts(st->dev, &c);
	h->frames_total = c.total;
	char *nm = (char *)(h + 1);
	for (unsigned i = 0; i < SL_STAT_N; i++)
		snprintf(nm + (size_t)i * SL_STATS_NAME_LEN, SL_STATS_NAME_LEN, "%s",
			 sl_stat_name(i));
	struct sl_stats *vals = (struct sl_stats *)(nm + names);
	*vals = *st->stats;
	st->stats = vals;
	if (st->stats_map)
		munmap(st->stats_map, st->stats_map_len);
	st->stats_map = m;
	st->stats_map_len = len;
	st->stats_hdr = h;
	__atomic_store_n(&h->magic, SL_STATS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* --- the reader (`sluice stats`) ------------------------------------------------------- */

#define STATS_MAX_COUNTERS 4096 /* sanity bound on a header read from a file */

static void terminate(char *s, size_t len)
{
	s[len - 1] = '\0';
}

static void stack_free(struct sl_stack_snapshot *s)
{
	free(s->names);
	free(s->vals);
	free(s->conns);
	s->names = NULL;
	s->vals = NULL;
	s->conns = NULL;
}

static int read_exact(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EBADMSG;
}

static int load_stack(const char *path, struct sl_stack_snapshot *s)
{
	size_t names_len, vals_len;
	uint32_t i;
	int fd, err;

	memset(s, 0, sizeof(*s));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_exact(fd, &s->h, sizeof(s->h), 0);
	if (err)
		goto out;
	if (s->h.magic != SL_STATS_MAGIC || s->h.n > STATS_MAX_COUNTERS) {
		err = -EBADMSG;
		goto out;
	}
	names_len = (size_t)s->h.n * SL_STATS_NAME_LEN;
	vals_len = (size_t)s->h.n * sizeof(uint64_t);
	s->names = calloc(s->h.n ? s->h.n : 1, SL_STATS_NAME_LEN);
	s->vals = calloc(s->h.n ? s->h.n : 1, sizeof(uint64_t));
	if (!s->names || !s->vals) {
		err = -ENOMEM;
		goto out;
	}
	err = read_exact(fd, s->names, names_len, sizeof(s->h));
	if (!err)
		err = read_exact(fd, s->vals, vals_len, (off_t)(sizeof(s->h) + names_len));
	if (err)
		goto out;
	/* Text fields come from another process: never trust their terminators. */
	terminate(s->h.ifname, sizeof(s->h.ifname));
	terminate(s->h.mode, sizeof(s->h.mode));
	terminate(s->h.addr, sizeof(s->h.addr));
	for (i = 0; i < s->h.n; i++)
		terminate(s->names[i], SL_STATS_NAME_LEN);
out:
	close(fd);
	if (err)
		stack_free(s);
	return err;
}

static bool pid_alive(uint32_t pid)
{
	/* pid 0 would address our own process group. */
	if (pid == 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int stats_file_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] == 'q' && n > 7 && !strcmp(d->d_name + n - 6, ".stats");
}

static int by_queue(const void *a, const void *b)
{
	const struct sl_stack_snapshot *x = a, *y = b;

	return (x->h.queue > y->h.queue) - (x->h.queue < y->h.queue);
}

/* Load dir/name into s; true when it is a valid file of a stack that is still running. */
static bool load_running(const char *dir, const char *name, struct sl_stack_snapshot *s)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path) || load_stack(path, s))
		return false;
	/* A file left behind by a stack that died is not a running stack. */
	if (pid_alive(s->h.pid))
		return true;
	stack_free(s);
	return false;
}

#define CONNS_MAX 65536 /* sanity bound on a connection table read from a file */

/* The connection table a stack publishes (struct sl_conns_file): copied until a copy is
 * taken between two updates (seq even and unchanged). 0, or -errno; none is not an error. */
static int load_conns(const char *dev, struct sl_stack_snapshot *s)
{
	char path[4096];
	int fd, err = sl_conns_path(dev, s->h.queue, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int tries = 0; tries < 20; tries++) {
		struct sl_conns_file h2;
		err = read_exact(fd, &s->ch, sizeof(s->ch), 0);
		if (err)
			break;
		if (s->ch.magic != SL_CONNS_MAGIC || s->ch.record_size != sizeof(*s->conns) ||
		    s->ch.cap > CONNS_MAX || s->ch.n > s->ch.cap) {
			err = -EBADMSG;
			break;
		}
		if (s->ch.seq & 1)
			continue;
		free(s->conns);
		s->conns = calloc(s->ch.n ? s->ch.n : 1, sizeof(*s->conns));
		if (!s->conns) {
			err = -ENOMEM;
			break;
		}
		err = read_exact(fd, s->conns, s->ch.n * sizeof(*s->conns), sizeof(s->ch));
		if (!err)
			err = read_exact(fd, &h2, sizeof(h2), 0);
		if (err)
			break;
		if (h2.seq == s->ch.seq) {
			for (uint32_t i = 0; i < s->ch.n; i++) {
				terminate(s->conns[i].state, sizeof(s->conns[i].state));
				terminate(s->conns[i].cc, sizeof(s->conns[i].cc));
			}
			close(fd);
			return 0;
		}
		err = -EAGAIN;
	}
	close(fd);
	free(s->conns);
	s->conns = NULL;
	return err;
}

/* Load every stats file of dev whose stack is still running; returns the count or -errno. */
int sl_stack_snapshots(const char *dev, struct sl_stack_snapshot **out)
{
	char path[4096], dir[4096];
	struct dirent **ents = NULL;
	struct sl_stack_snapshot *s;
	int i, n, k = 0, err;

	*out = NULL;
	err = sl_stats_path(dev, 0, path, sizeof(path));
	if (err)
		return err;
	snprintf(dir, sizeof(dir), "%s", dirname(path));
	n = scandir(dir, &ents, stats_file_filter, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	s = calloc(n ? n : 1, sizeof(*s));
	for (i = 0; i < n; i++) {
		if (s && load_running(dir, ents[i]->d_name, &s[k]))
			k++;
		free(ents[i]);
	}
	free(ents);
	if (!s)
		return -ENOMEM;
	qsort(s, k, sizeof(*s), by_queue);
	/* A table that cannot be read (torn by a dying writer) leaves conns NULL, ch.n 0. */
	for (i = 0; i < k; i++)
		if (load_conns(dev, &s[i]) < 0)
			s[i].ch.n = 0;
	*out = s;
	return k;
}

void sl_stack_snapshots_free(struct sl_stack_snapshot *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		stack_free(&s[i]);
	free(s);
}
