// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gate's user-space half (include/sluice/gate.h): load and attach the XDP program
 * with libbpf, pin its maps under <bpffs>/sluice/<netns-inode>/<ifname>/ so that separate
 * processes (the CLI, running stacks) share them, and edit the steering rules.
 *
 * Ownership: an XDP program is ours when its name is "sl_gate". The pins are only trusted
 * when they are the maps of the program attached right now (map ids compared), so stale
 * pins left by a program someone detached behind our back are never edited by mistake.
 *
 * A handle is opened through the interface (the attached program's maps by id), not through
 * the pins, so it works from any mount namespace. Changes to attachment and pins are
 * serialised by an flock on <bpffs>/sluice; rule ids by an flock on
 * /run/sluice/<netns>/<ifname>/rules.lock, which processes in different mount namespaces of
 * one network namespace share, so two CLIs adding rules cannot hand out the same id.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice/gate.h"
#include "sluice/stats.h"
#include "gate_shared.h"

/*
 * The Makefile generates the skeleton with "name sl_gate", which would define
 * struct sl_gate, the name of our public handle. Rename the skeleton's type (and its
 * program/link members, which carry the same token) to sl_gate_skel while including it;
 * its functions keep their names (sl_gate__open_and_load ...).
 */
#define sl_gate sl_gate_skel
#include "gate.skel.h"
#undef sl_gate

#define GATE_PROG_NAME "sl_gate"
#define DEFAULT_BPFFS "/sys/fs/bpf"

enum gate_map { M_XSKS, M_OWNED, M_PORTS, M_TUPLES, M_COUNTERS, M_RULE_STATS, M_N };

/* Pin file names: the map names of bpf/gate.bpf.c. */
static const char *const map_names[M_N] = {
    [M_XSKS] = "sl_xsks",     [M_OWNED] = "sl_owned",	    [M_PORTS] = "sl_ports",
    [M_TUPLES] = "sl_tuples", [M_COUNTERS] = "sl_counters", [M_RULE_STATS] = "sl_rule_stats",
};

static const char *const counter_names[SL_GATE_N_COUNTERS] = SL_GATE_COUNTER_NAMES;

struct sl_gate {
	int fd[M_N];
	int lock_fd; /* /run/sluice/<netns>/<ifname>/rules.lock, flock'ed around rule changes */
	int ncpus;
	int ifindex;   /* the interface it was opened on, in the opener's namespace */
	__u32 prog_id; /* the program whose maps fd[] holds */
};

/* What is attached to an interface right now. */
struct xdp_state {
	__u32 prog_id;		/* 0: nothing attached */
	bool ours;		/* exactly one program, named sl_gate */
	enum sl_gate_mode mode; /* valid when prog_id != 0 */
	__u32 mode_flag;	/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
};

static const char *bpffs_root(void)
{
	const char *r = getenv("SLUICE_BPFFS");

	return r && *r ? r : DEFAULT_BPFFS;
}

/* An interface name becomes a path component: refuse anything that could escape it. */
static int check_ifname(const char *ifname)
{
	size_t n = ifname ? strlen(ifname) : 0;

	if (n == 0 || n >= IF_NAMESIZE || strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, ".."))
		return -EINVAL;
	return 0;
}

static int ifindex_of(const char *ifname)
{
	unsigned idx;

	if (check_ifname(ifname))
		return -EINVAL;
	idx = if_nametoindex(ifname);
	if (!idx)
		return -ENODEV;
	return (int)idx;
}

static int netns_ino(unsigned long *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	*ino = (unsigned long)st.st_ino;
	return 0;
}

int sl_gate_pin_dir(const char *ifname, char *buf, size_t len)
{
	unsigned long ino;
	int err, n;

	if (check_ifname(ifname))
		return -EINVAL;
	err = netns_ino(&ino);
	if (err)
		return err;
	n = snprintf(buf, len, "%s/sluice/%lu/%s", bpffs_root(), ino, ifname);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int pin_path(const char *dir, enum gate_map m, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, map_names[m]);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* 1: path is on a bpf filesystem, 0: it is not, <0: cannot tell. */
static int is_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

/* Are we in a mount namespace other than init's (as `ip netns exec` makes)?
 * 1: yes, 0: no, -1: cannot tell (/proc/1 is often unreadable in containers). */
static int private_mount_ns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return -1;
	return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
}

/* Make sure pins can be made under root: mount a bpf filesystem there when it is not one. */
static int ensure_bpffs(const char *root)
{
	int r = is_bpffs(root), priv;

	if (r == 1)
		return 0;
	if (r == -ENOENT && mkdir(root, 0755) && errno != EEXIST)
		r = -errno;
	else if (r == -ENOENT || r == 0)
		r = mount("bpf", root, "bpf", 0, NULL) ? -errno : 0;
	if (r) {
		fprintf(stderr, "sluice: %s is not a bpf filesystem and mounting one failed: %s\n",
			root, strerror(-r));
		return r;
	}
	priv = private_mount_ns();
	if (priv == 0)
		fprintf(stderr, "sluice: mounted a bpf filesystem on %s\n", root);
	else
		fprintf(stderr,
			"sluice: warning: mounted a bpf filesystem on %s; %s private mount "
			"namespace (as `ip netns exec` makes), the gate's pins vanish when this "
			"process exits: use `nsenter --net=/run/netns/NAME`, which keeps the "
			"host's %s, or set SLUICE_BPFFS to a bpffs mounted elsewhere\n",
			root, priv > 0 ? "in this" : "if this is a", DEFAULT_BPFFS);
	return 0;
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Take the flock on <root>/sluice (creating it when create is set); returns the fd. */
static int lock_root(const char *root, bool create, int how)
{
	char path[PATH_MAX];
	int fd, n, err;

	n = snprintf(path, sizeof(path), "%s/sluice", root);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (create) {
		err = mkdir_one(path);
		if (err)
			return err;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, how)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void unlock_root(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last fd releases the flock */
}

/* Create dir = <root>/sluice/<ino>/<ifname> and the two levels above it. */
static int make_pin_dir(const char *dir)
{
	char path[PATH_MAX];
	char *ino_sep, *if_sep;
	int err;

	if (strlen(dir) >= sizeof(path))
		return -ENAMETOOLONG;
	strcpy(path, dir);
	if_sep = strrchr(path, '/');
	if (!if_sep)
		return -EINVAL;
	*if_sep = '\0';
	ino_sep = strrchr(path, '/');
	if (!ino_sep)
		return -EINVAL;
	*ino_sep = '\0';
	err = mkdir_one(path);
	*ino_sep = '/';
	if (!err)
		err = mkdir_one(path);
	*if_sep = '/';
	if (!err)
		err = mkdir_one(path);
	return err;
}

static int prog_info(int prog_fd, struct bpf_prog_info *info, __u32 *map_ids, __u32 nmaps)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (map_ids) {
		info->nr_map_ids = nmaps;
		info->map_ids = (__u64)(unsigned long)map_ids;
	}
	return bpf_obj_get_info_by_fd(prog_fd, info, &len);
}

/* Is the program with this id ours? Returns 1/0 or -errno. */
static int prog_is_ours(__u32 id)
{
	struct bpf_prog_info info;
	int fd, err;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	err = prog_info(fd, &info, NULL, 0);
	close(fd);
	if (err)
		return err;
	return info.type == BPF_PROG_TYPE_XDP && !strcmp(info.name, GATE_PROG_NAME);
}

static int query(int ifindex, struct xdp_state *st)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err, n = 0;

	memset(st, 0, sizeof(*st));
	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	n = !!q.drv_prog_id + !!q.skb_prog_id + !!q.hw_prog_id;
	if (n == 0)
		return 0;
	if (q.drv_prog_id) {
		st->prog_id = q.drv_prog_id;
		st->mode = SL_GATE_MODE_NATIVE;
		st->mode_flag = XDP_FLAGS_DRV_MODE;
	} else if (q.skb_prog_id) {
		st->prog_id = q.skb_prog_id;
		st->mode = SL_GATE_MODE_GENERIC;
		st->mode_flag = XDP_FLAGS_SKB_MODE;
	} else {
		st->prog_id = q.hw_prog_id; /* offloaded: never ours */
		return 0;
	}
	/* More than one program (e.g. native and generic at once) is not a setup we made. */
	if (n > 1)
		return 0;
	err = prog_is_ours(st->prog_id);
	if (err < 0)
		return err;
	st->ours = err;
	return 0;
}

static int map_id_of(int fd, __u32 *id, char *name, size_t name_len)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return err;
	*id = info.id;
	if (name)
		snprintf(name, name_len, "%s", info.name);
	return 0;
}

/* The ids of the maps the attached program uses, indexed by enum gate_map (0 = absent). */
static int prog_maps(__u32 prog_id, __u32 ids[M_N])
{
	struct bpf_prog_info info;
	__u32 all[16];
	char name[BPF_OBJ_NAME_LEN];
	int fd, mfd, err, m;
	__u32 i, id;

	memset(ids, 0, sizeof(__u32) * M_N);
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	err = prog_info(fd, &info, all, 16);
	close(fd);
	if (err)
		return err;
	for (i = 0; i < info.nr_map_ids && i < 16; i++) {
		mfd = bpf_map_get_fd_by_id(all[i]);
		if (mfd < 0)
			return -errno;
		err = map_id_of(mfd, &id, name, sizeof(name));
		close(mfd);
		if (err)
			return err;
		for (m = 0; m < M_N; m++)
			if (!strcmp(name, map_names[m]))
				ids[m] = id;
	}
	for (m = 0; m < M_N; m++)
		if (!ids[m])
			return -ENOENT;
	return 0;
}

static void close_fds(int fds[M_N])
{
	int m;

	for (m = 0; m < M_N; m++) {
		if (fds[m] >= 0)
			close(fds[m]);
		fds[m] = -1;
	}
}

/*
 * Open the pins in dir and check they are the maps of the program prog_id. On success
 * fds[] holds one fd per map. -ENOENT: some pin is missing; -ESTALE: a pin belongs to
 * another (older) program.
 */
static int open_pins(const char *dir, __u32 prog_id, int fds[M_N])
{
	__u32 want[M_N], id;
	char path[PATH_MAX];
	int m, err;

	for (m = 0; m < M_N; m++)
		fds[m] = -1;
	err = prog_maps(prog_id, want);
	if (err)
		return err;
	for (m = 0; m < M_N; m++) {
		err = pin_path(dir, m, path, sizeof(path));
		if (err)
			goto fail;
		fds[m] = bpf_obj_get(path);
		if (fds[m] < 0) {
			err = -errno;
			goto fail;
		}
		err = map_id_of(fds[m], &id, NULL, 0);
		if (err)
			goto fail;
		if (id != want[m]) {
			err = -ESTALE;
			goto fail;
		}
	}
	return 0;
fail:
	close_fds(fds);
	return err;
}

/* (Re)pin the maps of program prog_id in dir, replacing whatever pins are there. */
static int pin_prog_maps(const char *dir, __u32 prog_id)
{
	__u32 ids[M_N];
	char path[PATH_MAX];
	int m, fd, err;

	err = prog_maps(prog_id, ids);
	if (err)
		return err;
	err = make_pin_dir(dir);
	if (err)
		return err;
	for (m = 0; m < M_N; m++) {
		err = pin_path(dir, m, path, sizeof(path));
		if (err)
			return err;
		if (unlink(path) && errno != ENOENT)
			return -errno;
		fd = bpf_map_get_fd_by_id(ids[m]);
		if (fd < 0)
			return -errno;
		err = bpf_obj_pin(fd, path);
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

/* Remove this interface's pins and directories. Returns 1 when something was removed. */
static int remove_pins(const char *ifname)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int m, removed = 0;
	char *slash;

	if (is_bpffs(bpffs_root()) != 1 || sl_gate_pin_dir(ifname, dir, sizeof(dir)))
		return 0;
	for (m = 0; m < M_N; m++) {
		if (pin_path(dir, m, path, sizeof(path)) == 0 && unlink(path) == 0)
			removed = 1;
	}
	if (rmdir(dir) == 0)
		removed = 1;
	/* The netns directory goes too once its last interface is gone (ENOTEMPTY: keep). */
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		rmdir(dir);
	}
	return removed;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int attach_prog(int ifindex, int prog_fd, enum sl_gate_mode mode, const char *ifname,
		       enum sl_gate_mode *used)
{
	__u32 base = XDP_FLAGS_UPDATE_IF_NOEXIST;
	libbpf_print_fn_t old;
	int err;

	if (mode == SL_GATE_MODE_GENERIC) {
		*used = SL_GATE_MODE_GENERIC;
		return bpf_xdp_attach(ifindex, prog_fd, base | XDP_FLAGS_SKB_MODE, NULL);
	}
	*used = SL_GATE_MODE_NATIVE;
	if (mode == SL_GATE_MODE_NATIVE)
		return bpf_xdp_attach(ifindex, prog_fd, base | XDP_FLAGS_DRV_MODE, NULL);
	/* A refused native attempt is expected here and reported in our one line below;
	 * keep libbpf from printing the kernel's message about it as a warning. */
	old = libbpf_set_print(silent);
	err = bpf_xdp_attach(ifindex, prog_fd, base | XDP_FLAGS_DRV_MODE, NULL);
	libbpf_set_print(old);
	if (!err)
		return 0;
	/* Something attached meanwhile, or no permission: generic mode would not help. */
	if (err == -EBUSY || err == -EEXIST || err == -EPERM || err == -EACCES)
		return err;
	fprintf(stderr, "sluice: native XDP not available on %s (%s), using generic\n", ifname,
		strerror(-err));
	*used = SL_GATE_MODE_GENERIC;
	return bpf_xdp_attach(ifindex, prog_fd, base | XDP_FLAGS_SKB_MODE, NULL);
}

/* Detach program prog_fd only if it is still the one attached (XDP_FLAGS_REPLACE). */
static int detach_prog(int ifindex, int prog_fd, __u32 mode_flag)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd);

	return bpf_xdp_detach(ifindex, mode_flag | XDP_FLAGS_REPLACE, &opts);
}

/* Already attached by sluice: make sure the pins are there (they vanish with a private
 * bpffs mount, e.g. one made under `ip netns exec`) and pin again if not. */
static int adopt(const char *ifname, const struct xdp_state *st, enum sl_gate_mode mode,
		 enum sl_gate_mode *mode_out)
{
	char dir[PATH_MAX];
	int fds[M_N], err;

	if (mode_out)
		*mode_out = st->mode;
	/* An explicit mode that differs from the attached one would be silently ignored. */
	if (mode != SL_GATE_MODE_AUTO && mode != st->mode)
		return -EEXIST;
	err = sl_gate_pin_dir(ifname, dir, sizeof(dir));
	if (err)
		return err;
	err = open_pins(dir, st->prog_id, fds);
	if (!err) {
		close_fds(fds);
		return 0;
	}
	if (err != -ENOENT && err != -ESTALE)
		return err;
	err = pin_prog_maps(dir, st->prog_id);
	if (!err)
		fprintf(stderr,
			"sluice: gate on %s was attached but not pinned here; pinned its "
			"maps under %s\n",
			ifname, dir);
	return err;
}

/* Remove the pins of one interface directory <root>/sluice/<ino>/<name> and the directory. */
static void remove_dir_pins(const char *dir)
{
	char path[PATH_MAX];

	for (int m = 0; m < M_N; m++)
		if (pin_path(dir, m, path, sizeof(path)) == 0)
			unlink(path);
	rmdir(dir);
}

/* Is there a network namespace with this inode: a process in it, or a name under
 * /run/netns? (A namespace nothing holds is gone.) */
static bool netns_alive(unsigned long ino)
{
	char path[PATH_MAX];
	struct stat sb;
	struct dirent *d;
	bool alive = false;
	DIR *dp = opendir("/run/netns");

	while (dp && !alive && (d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		alive = stat(path, &sb) == 0 && sb.st_ino == ino;
	}
	if (dp)
		closedir(dp);
	dp = opendir("/proc");
	while (dp && !alive && (d = readdir(dp))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		alive = stat(path, &sb) == 0 && sb.st_ino == ino;
	}
	if (dp)
		closedir(dp);
	return alive;
}

/*
 * At attach: remove the pin directories nothing can use any more — of a network namespace
 * that is gone, or of an interface of ours that is gone or carries no gate now (the pins of
 * a program someone detached). Called with the root lock held.
 */
static void remove_stale_pins(const char *skip_ifname)
{
	char root[PATH_MAX], nsdir[PATH_MAX], ifdir[PATH_MAX];
	unsigned long self = 0;
	struct dirent *a, *b;
	DIR *da, *db;

	if (netns_ino(&self) || snprintf(root, sizeof(root), "%s/sluice", bpffs_root()) < 0)
		return;
	da = opendir(root);
	while (da && (a = readdir(da))) {
		char *end;
		unsigned long ino = strtoul(a->d_name, &end, 10);
		if (a->d_name[0] == '.' || *end)
			continue;
		snprintf(nsdir, sizeof(nsdir), "%s/%s", root, a->d_name);
		bool gone = ino != self && !netns_alive(ino);
		db = opendir(nsdir);
		while (db && (b = readdir(db))) {
			if (b->d_name[0] == '.')
				continue;
			snprintf(ifdir, sizeof(ifdir), "%s/%s", nsdir, b->d_name);
			if (gone) {
				remove_dir_pins(ifdir);
			} else if (ino == self && strcmp(b->d_name, skip_ifname)) {
				struct xdp_state st;
				int ifi = ifindex_of(b->d_name);
				if (ifi < 0 || query(ifi, &st) || !st.prog_id || !st.ours)
					remove_dir_pins(ifdir);
			}
		}
		if (db)
			closedir(db);
		rmdir(nsdir); /* only when empty */
	}
	if (da)
		closedir(da);
}

int sl_gate_attach(const char *ifname, enum sl_gate_mode mode, enum sl_gate_mode *mode_out)
{
	struct sl_gate_skel *skel = NULL;
	struct bpf_prog_info info;
	struct xdp_state st;
	enum sl_gate_mode used;
	char dir[PATH_MAX];
	int ifindex, lock, prog_fd, err;

	if (mode != SL_GATE_MODE_AUTO && mode != SL_GATE_MODE_NATIVE &&
	    mode != SL_GATE_MODE_GENERIC)
		return -EINVAL;
	ifindex = ifindex_of(ifname);
	if (ifindex < 0)
		return ifindex;
	err = sl_gate_pin_dir(ifname, dir, sizeof(dir));
	if (err)
		return err;
	err = ensure_bpffs(bpffs_root());
	if (err)
		return err;
	lock = lock_root(bpffs_root(), true, LOCK_EX);
	if (lock < 0)
		return lock;
	remove_stale_pins(ifname);

	err = query(ifindex, &st);
	if (err)
		goto out;
	if (st.prog_id && st.ours) {
		err = adopt(ifname, &st, mode, mode_out);
		goto out;
	}
	if (st.prog_id) {
		err = -EBUSY;
		goto out;
	}

	skel = sl_gate__open_and_load();
	if (!skel) {
		err = -errno;
		goto out;
	}
	prog_fd = bpf_program__fd(skel->progs.sl_gate_skel);
	err = attach_prog(ifindex, prog_fd, mode, ifname, &used);
	if (err)
		goto out;
	err = prog_info(prog_fd, &info, NULL, 0);
	if (!err)
		err = pin_prog_maps(dir, info.id);
	if (err) {
		detach_prog(ifindex, prog_fd,
			    used == SL_GATE_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
		remove_pins(ifname);
		goto out;
	}
	if (mode_out)
		*mode_out = used;
out:
	/* The attachment and the pins hold the program and maps; our fds can go. */
	if (skel)
		sl_gate__destroy(skel);
	unlock_root(lock);
	return err;
}

int sl_gate_detach(const char *ifname)
{
	struct xdp_state st;
	int ifindex, lock, prog_fd, err;

	if (check_ifname(ifname))
		return -EINVAL;
	lock = is_bpffs(bpffs_root()) == 1 ? lock_root(bpffs_root(), true, LOCK_EX) : -1;
	ifindex = ifindex_of(ifname);
	if (ifindex < 0) {
		/* The device and its XDP program are gone; leftover pins are not useful. */
		remove_pins(ifname);
		err = ifindex;
		goto out;
	}
	err = query(ifindex, &st);
	if (err)
		goto out;
	if (!st.prog_id || !st.ours) {
		if (remove_pins(ifname))
			fprintf(stderr, "sluice: removed stale pins of %s\n", ifname);
		err = st.prog_id ? -EBUSY : -ENOENT;
		goto out;
	}
	prog_fd = bpf_prog_get_fd_by_id(st.prog_id);
	if (prog_fd < 0) {
		err = -errno;
		goto out;
	}
	err = detach_prog(ifindex, prog_fd, st.mode_flag);
	close(prog_fd);
	if (err)
		goto out;
	remove_pins(ifname);
out:
	unlock_root(lock);
	return err;
}

bool sl_gate_attached(const char *ifname)
{
	struct xdp_state st;
	int ifindex = ifindex_of(ifname);

	return ifindex > 0 && query(ifindex, &st) == 0 && st.prog_id && st.ours;
}

/* The lock that serialises rule-id allocation on ifname: a file under /run/sluice/<netns>/
 * <ifname>/, which every process of the network namespace sees, whatever its mount namespace
 * (`ip netns exec` gives each command a /sys of its own, not a /run). Returns the fd. */
static int rules_lock(const char *ifname)
{
	char path[PATH_MAX], *slash;
	int fd, err = sl_stats_path(ifname, 0, path, sizeof(path));

	if (err)
		return err;
	slash = strrchr(path, '/');
	if (!slash)
		return -EINVAL;
	snprintf(slash + 1, (size_t)(path + sizeof(path) - slash - 1), "rules.lock");
	/* /run/sluice/<ino>/<ifname>: create the levels that are missing. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		err = mkdir_one(path);
		*p = '/';
		if (err)
			return err;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

/*
 * Open the gate through the interface: the program attached to ifname, its maps by id. No
 * pin is needed, so this works from any mount namespace of the interface's network
 * namespace (`ip netns exec`, nsenter, a plain shell), across separate invocations.
 */
int sl_gate_open(const char *ifname, struct sl_gate **out)
{
	struct sl_gate *g;
	struct xdp_state st;
	__u32 ids[M_N];
	int ifindex, err, ncpus, m;

	*out = NULL;
	ifindex = ifindex_of(ifname);
	if (ifindex < 0)
		return ifindex;
	err = query(ifindex, &st);
	if (err)
		return err;
	if (!st.prog_id || !st.ours)
		return -ENOENT;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->ncpus = ncpus;
	for (m = 0; m < M_N; m++)
		g->fd[m] = -1;
	g->lock_fd = rules_lock(ifname);
	g->ifindex = ifindex;
	g->prog_id = st.prog_id;
	if (g->lock_fd < 0) {
		err = g->lock_fd;
		goto fail;
	}
	err = prog_maps(st.prog_id, ids);
	if (err)
		goto fail;
	for (m = 0; m < M_N; m++) {
		g->fd[m] = bpf_map_get_fd_by_id(ids[m]);
		if (g->fd[m] < 0) {
			err = -errno;
			goto fail;
		}
	}
	*out = g;
	return 0;
fail:
	close_fds(g->fd);
	unlock_root(g->lock_fd);
	free(g);
	return err;
}

int sl_gate_check(struct sl_gate *g)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query(g->ifindex, 0, &q);

	if (err)
		return err;
	if (!q.drv_prog_id && !q.skb_prog_id && !q.hw_prog_id)
		return -ENOENT;
	if (q.drv_prog_id != g->prog_id && q.skb_prog_id != g->prog_id)
		return -ESTALE;
	return 0;
}

void sl_gate_close(struct sl_gate *g)
{
	if (!g)
		return;
	close_fds(g->fd);
	unlock_root(g->lock_fd);
	free(g);
}

static bool addr_zero(const uint8_t a[16])
{
	static const uint8_t z[16];

	return !memcmp(a, z, 16);
}

/* ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) */
static bool addr_v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pfx, 12);
}

union rule_key {
	struct sl_gate_owned_key owned;
	struct sl_gate_port_key port;
	struct sl_gate_tuple_key tuple;
};

static bool proto_ports_ok(uint8_t proto, uint16_t port)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		return port != 0;
	/* ICMP and ICMPv6 have no ports: the gate matches them with port 0. */
	return (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && port == 0;
}

/* ICMP travels only in IPv4 and ICMPv6 only in IPv6: a rule mixing them could never match. */
static bool proto_family_ok(uint8_t proto, const uint8_t a[16])
{
	if (proto == IPPROTO_ICMP)
		return addr_v4mapped(a);
	if (proto == IPPROTO_ICMPV6)
		return !addr_v4mapped(a);
	return true;
}

/* Translate a rule into its map and key; -EINVAL for rules the gate could never match. */
static int rule_to_key(const struct sl_rule *r, enum gate_map *m, union rule_key *k)
{
	memset(k, 0, sizeof(*k));
	if (r->queue < -1 || r->queue >= SL_GATE_MAX_QUEUES)
		return -EINVAL;
	switch (r->kind) {
	case SL_RULE_OWNED:
		if (addr_zero(r->addr))
			return -EINVAL;
		memcpy(k->owned.addr, r->addr, 16);
		*m = M_OWNED;
		return 0;
	case SL_RULE_PORT:
		if (!proto_ports_ok(r->proto, r->port))
			return -EINVAL;
		/* An address-less port rule (all-zero key) matches IPv4 and IPv6 alike. */
		if (r->has_addr && (addr_zero(r->addr) || !proto_family_ok(r->proto, r->addr)))
			return -EINVAL;
		k->port.proto = r->proto;
		k->port.port = htons(r->port);
		if (r->has_addr)
			memcpy(k->port.addr, r->addr, 16);
		*m = M_PORTS;
		return 0;
	case SL_RULE_TUPLE:
		if (!proto_ports_ok(r->proto, r->port) || !proto_ports_ok(r->proto, r->rport))
			return -EINVAL;
		if (addr_zero(r->addr) || addr_zero(r->raddr) ||
		    !proto_family_ok(r->proto, r->addr))
			return -EINVAL;
		/* Both ends of a packet are of one family. */
		if (addr_v4mapped(r->addr) != addr_v4mapped(r->raddr))
			return -EAFNOSUPPORT;
		k->tuple.proto = r->proto;
		k->tuple.sport = htons(r->rport);
		k->tuple.dport = htons(r->port);
		memcpy(k->tuple.saddr, r->raddr, 16);
		memcpy(k->tuple.daddr, r->addr, 16);
		*m = M_TUPLES;
		return 0;
	}
	return -EINVAL;
}

static void key_to_rule(enum gate_map m, const union rule_key *k, const struct sl_gate_rule *v,
			struct sl_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->id = v->id;
	r->queue = v->queue;
	switch (m) {
	case M_OWNED:
		r->kind = SL_RULE_OWNED;
		memcpy(r->addr, k->owned.addr, 16);
		break;
	case M_PORTS:
		r->kind = SL_RULE_PORT;
		r->proto = k->port.proto;
		r->port = ntohs(k->port.port);
		r->has_addr = !addr_zero(k->port.addr);
		memcpy(r->addr, k->port.addr, 16);
		break;
	default:
		r->kind = SL_RULE_TUPLE;
		r->proto = k->tuple.proto;
		r->has_addr = true;
		r->port = ntohs(k->tuple.dport);
		r->rport = ntohs(k->tuple.sport);
		memcpy(r->addr, k->tuple.daddr, 16);
		memcpy(r->raddr, k->tuple.saddr, 16);
		break;
	}
}

typedef int (*rule_fn)(void *ctx, enum gate_map m, const union rule_key *k,
		       const struct sl_gate_rule *v);

/* Call fn for every rule in the three rule maps; a non-zero return stops the walk. */
static int for_each_rule(struct sl_gate *g, rule_fn fn, void *ctx)
{
	static const enum gate_map maps[] = {M_OWNED, M_PORTS, M_TUPLES};
	union rule_key key, next;
	struct sl_gate_rule v;
	unsigned i;
	int err;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = g->fd[maps[i]];
		const void *prev = NULL;

		for (;;) {
			err = bpf_map_get_next_key(fd, prev, &next);
			if (err == -ENOENT)
				break;
			if (err)
				return err;
			key = next;
			prev = &key;
			/* Deleted between the two calls: skip it. */
			if (bpf_map_lookup_elem(fd, &key, &v))
				continue;
			err = fn(ctx, maps[i], &key, &v);
			if (err)
				return err;
		}
	}
	return 0;
}

static int mark_id(void *ctx, enum gate_map m, const union rule_key *k,
		   const struct sl_gate_rule *v)
{
	uint8_t *used = ctx;

	if (v->id < SL_GATE_MAX_RULES)
		used[v->id / 8] |= 1u << (v->id % 8);
	return 0;
}

static int zero_rule_stats(struct sl_gate *g, uint32_t id)
{
	struct sl_gate_rule_stats *z;
	int err;

	z = calloc(g->ncpus, sizeof(*z));
	if (!z)
		return -ENOMEM;
	err = bpf_map_update_elem(g->fd[M_RULE_STATS], &id, z, BPF_ANY);
	free(z);
	return err;
}

int sl_gate_rule_add(struct sl_gate *g, struct sl_rule *r)
{
	uint8_t used[SL_GATE_MAX_RULES / 8] = {0};
	struct sl_gate_rule v;
	union rule_key key;
	enum gate_map m;
	uint32_t id;
	int err;

	err = rule_to_key(r, &m, &key);
	if (err)
		return err;
	if (g->lock_fd >= 0 && flock(g->lock_fd, LOCK_EX))
		return -errno;
	err = for_each_rule(g, mark_id, used);
	if (err)
		goto out;
	/* Lowest free id; 0 is never used so that "id 0" can mean "none". */
	for (id = 1; id < SL_GATE_MAX_RULES; id++)
		if (!(used[id / 8] & (1u << (id % 8))))
			break;
	if (id == SL_GATE_MAX_RULES) {
		err = -ENOSPC;
		goto out;
	}
	err = zero_rule_stats(g, id);
	if (err)
		goto out;
	v.id = id;
	v.queue = r->queue;
	err = bpf_map_update_elem(g->fd[m], &key, &v, BPF_NOEXIST);
	if (err == -E2BIG)
		err = -ENOSPC; /* the hash map is full */
	if (!err)
		r->id = id;
out:
	if (g->lock_fd >= 0)
		flock(g->lock_fd, LOCK_UN);
	return err;
}

struct find_ctx {
	uint32_t id;
	enum gate_map m;
	union rule_key key;
};

static int find_id(void *ctx, enum gate_map m, const union rule_key *k,
		   const struct sl_gate_rule *v)
{
	struct find_ctx *f = ctx;

	if (v->id != f->id)
		return 0;
	f->m = m;
	f->key = *k;
	return 1;
}

int sl_gate_rule_del(struct sl_gate *g, uint32_t id)
{
	struct find_ctx f = {.id = id};
	int err;

	if (id == 0 || id >= SL_GATE_MAX_RULES)
		return -ENOENT;
	if (g->lock_fd >= 0 && flock(g->lock_fd, LOCK_EX))
		return -errno;
	err = for_each_rule(g, find_id, &f);
	if (err == 1)
		err = bpf_map_delete_elem(g->fd[f.m], &f.key);
	else if (err == 0)
		err = -ENOENT;
	if (g->lock_fd >= 0)
		flock(g->lock_fd, LOCK_UN);
	return err;
}

struct list_ctx {
	struct sl_rule *rules;
	int n, cap;
};

static int collect(void *ctx, enum gate_map m, const union rule_key *k,
		   const struct sl_gate_rule *v)
{
	struct list_ctx *l = ctx;

	if (l->n == l->cap)
		return -E2BIG; /* more rules than ids: the maps were edited by someone else */
	key_to_rule(m, k, v, &l->rules[l->n++]);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct sl_rule *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int rule_counters(struct sl_gate *g, struct sl_rule *r)
{
	struct sl_gate_rule_stats *s;
	int err, c;

	s = calloc(g->ncpus, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = bpf_map_lookup_elem(g->fd[M_RULE_STATS], &r->id, s);
	for (c = 0; !err && c < g->ncpus; c++) {
		r->packets += s[c].packets;
		r->bytes += s[c].bytes;
	}
	free(s);
	return err;
}

int sl_gate_rule_list(struct sl_gate *g, struct sl_rule *rules, int max)
{
	struct list_ctx l = {.cap = SL_GATE_MAX_OWNED + 2 * SL_GATE_MAX_RULES};
	int err, i, n;

	if (max < 0)
		return -EINVAL;
	l.rules = calloc(l.cap, sizeof(*l.rules));
	if (!l.rules)
		return -ENOMEM;
	if (g->lock_fd >= 0 && flock(g->lock_fd, LOCK_SH)) {
		err = -errno;
		goto out;
	}
	err = for_each_rule(g, collect, &l);
	if (g->lock_fd >= 0)
		flock(g->lock_fd, LOCK_UN);
	if (err)
		goto out;
	qsort(l.rules, l.n, sizeof(*l.rules), by_id);
	n = l.n < max ? l.n : max;
	for (i = 0; i < n; i++) {
		err = rule_counters(g, &l.rules[i]);
		if (err)
			goto out;
		rules[i] = l.rules[i];
	}
	err = n;
out:
	free(l.rules);
	return err;
}

int sl_gate_set_socket(struct sl_gate *g, uint32_t queue, int xsk_fd)
{
	__u32 v = (__u32)xsk_fd;
	int err;

	if (queue >= SL_GATE_MAX_QUEUES)
		return -EINVAL;
	if (xsk_fd >= 0)
		return bpf_map_update_elem(g->fd[M_XSKS], &queue, &v, BPF_ANY);
	err = bpf_map_delete_elem(g->fd[M_XSKS], &queue);
	return err == -ENOENT ? 0 : err;
}

int sl_gate_counters(struct sl_gate *g, uint64_t *vals, size_t n)
{
	uint64_t *pc;
	__u32 i;
	int c, err = 0;

	pc = calloc(g->ncpus, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		vals[i] = 0;
		if (i >= SL_GATE_N_COUNTERS)
			continue;
		err = bpf_map_lookup_elem(g->fd[M_COUNTERS], &i, pc);
		/* A gate attached by an older build has fewer counters: the rest read 0. */
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err)
			break;
		for (c = 0; c < g->ncpus; c++)
			vals[i] += pc[c];
	}
	free(pc);
	return err;
}

const char *sl_gate_counter_name(unsigned i)
{
	return i < SL_GATE_N_COUNTERS ? counter_names[i] : NULL;
}

unsigned sl_gate_n_counters(void)
{
	return SL_GATE_N_COUNTERS;
}
