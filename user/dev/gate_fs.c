// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gate's files: the bpf filesystem (mounted when missing), network and mount namespace
 * identity, the pin directories <bpffs>/sluice/<netns-inode>/<ifname>/ (made, checked against
 * the attached program, removed when stale), and the locks (pins: <bpffs>/sluice; rule ids:
 * /run/sluice/<netns>/<ifname>/rules.lock).
 */
#include "gate_int.h"
#include <dirent.h>

const char *slg_bpffs_root(void)
{
	const char *r = getenv("SLUICE_BPFFS");

	return r && *r ? r : DEFAULT_BPFFS;
}

/* An interface name becomes a path component: refuse anything that could escape it. */
int slg_check_ifname(const char *ifname)
{
	size_t n = ifname ? strlen(ifname) : 0;

	if (n == 0 || n >= IF_NAMESIZE || strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, ".."))
		return -EINVAL;
	return 0;
}

int slg_ifindex_of(const char *ifname)
{
	unsigned idx;

	if (slg_check_ifname(ifname))
		return -EINVAL;
	idx = if_nametoindex(ifname);
	if (!idx)
		return -ENODEV;
	return (int)idx;
}

int slg_netns_ino(unsigned long *ino)
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

	if (slg_check_ifname(ifname))
		return -EINVAL;
	err = slg_netns_ino(&ino);
	if (err)
		return err;
	n = snprintf(buf, len, "%s/sluice/%lu/%s", slg_bpffs_root(), ino, ifname);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int slg_pin_path(const char *dir, enum gate_map m, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, map_names[m]);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* 1: path is on a bpf filesystem, 0: it is not, <0: cannot tell. */
int slg_is_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

/* Are we in a mount namespace other than init's (as `ip netns exec` makes)?
 * 1: yes, 0: no, -1: cannot tell (/proc/1 is often unreadable in containers). */
int slg_private_mount_ns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return -1;
	return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
}

/* Make sure pins can be made under root: mount a bpf filesystem there when it is not one. */
int slg_ensure_bpffs(const char *root)
{
	int r = slg_is_bpffs(root), priv;

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
	priv = slg_private_mount_ns();
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

int slg_mkdir_one(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Take the flock on <root>/sluice (creating it when create is set); returns the fd. */
int slg_lock_root(const char *root, bool create, int how)
{
	char path[PATH_MAX];
	int fd, n, err;

	n = snprintf(path, sizeof(path), "%s/sluice", root);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (create) {
		err = slg_mkdir_one(path);
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

void slg_unlock_root(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last fd releases the flock */
}

/* Create dir = <root>/sluice/<ino>/<ifname> and the two levels above it. */
int slg_make_pin_dir(const char *dir)
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
	err = slg_mkdir_one(path);
	*ino_sep = '/';
	if (!err)
		err = slg_mkdir_one(path);
	*if_sep = '/';
	if (!err)
		err = slg_mkdir_one(path);
	return err;
}

/*
 * Open the pins in dir and check they are the maps of the program prog_id. On success
 * fds[] holds one fd per map. -ENOENT: some pin is missing; -ESTALE: a pin belongs to
 * another (older) program.
 */
int slg_open_pins(const char *dir, __u32 prog_id, int fds[M_N])
{
	__u32 want[M_N], id;
	char path[PATH_MAX];
	int m, err;

	for (m = 0; m < M_N; m++)
		fds[m] = -1;
	err = slg_prog_maps(prog_id, want);
	if (err)
		return err;
	for (m = 0; m < M_N; m++) {
		if (!want[m])
			continue; /* a map newer than the attached gate */
		err = slg_pin_path(dir, m, path, sizeof(path));
		if (err)
			goto fail;
		fds[m] = bpf_obj_get(path);
		if (fds[m] < 0) {
			err = -errno;
			goto fail;
		}
		err = slg_map_id_of(fds[m], &id, NULL, 0);
		if (err)
			goto fail;
		if (id != want[m]) {
			err = -ESTALE;
			goto fail;
		}
	}
	return 0;
fail:
	slg_close_fds(fds);
	return err;
}

/* (Re)pin the maps of program prog_id in dir, replacing whatever pins are there. */
int slg_pin_prog_maps(const char *dir, __u32 prog_id)
{
	__u32 ids[M_N];
	char path[PATH_MAX];
	int m, fd, err;

	err = slg_prog_maps(prog_id, ids);
	if (err)
		return err;
	err = slg_make_pin_dir(dir);
	if (err)
		return err;
	for (m = 0; m < M_N; m++) {
		err = slg_pin_path(dir, m, path, sizeof(path));
		if (err)
			return err;
		if (unlink(path) && errno != ENOENT)
			return -errno;
		if (!ids[m])
			continue;
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
int slg_remove_pins(const char *ifname)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int m, removed = 0;
	char *slash;

	if (slg_is_bpffs(slg_bpffs_root()) != 1 || sl_gate_pin_dir(ifname, dir, sizeof(dir)))
		return 0;
	for (m = 0; m < M_N; m++) {
		if (slg_pin_path(dir, m, path, sizeof(path)) == 0 && unlink(path) == 0)
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

/* Remove the pins of one interface directory <root>/sluice/<ino>/<name> and the directory. */
void slg_remove_dir_pins(const char *dir)
{
	char path[PATH_MAX];

	for (int m = 0; m < M_N; m++)
		if (slg_pin_path(dir, m, path, sizeof(path)) == 0)
			unlink(path);
	rmdir(dir);
}

/* Is there a network namespace with this inode: a process in it, or a name under
 * /run/netns? (A namespace nothing holds is gone.) */
bool slg_netns_alive(unsigned long ino)
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
void slg_remove_stale_pins(const char *skip_ifname)
{
	char root[PATH_MAX], nsdir[PATH_MAX], ifdir[PATH_MAX];
	unsigned long self = 0;
	struct dirent *a, *b;
	DIR *da, *db;

	if (slg_netns_ino(&self) || snprintf(root, sizeof(root), "%s/sluice", slg_bpffs_root()) < 0)
		return;
	da = opendir(root);
	while (da && (a = readdir(da))) {
		char *end;
		unsigned long ino = strtoul(a->d_name, &end, 10);
		if (a->d_name[0] == '.' || *end)
			continue;
		snprintf(nsdir, sizeof(nsdir), "%s/%s", root, a->d_name);
		bool gone = ino != self && !slg_netns_alive(ino);
		db = opendir(nsdir);
		while (db && (b = readdir(db))) {
			if (b->d_name[0] == '.')
				continue;
			snprintf(ifdir, sizeof(ifdir), "%s/%s", nsdir, b->d_name);
			if (gone) {
				slg_remove_dir_pins(ifdir);
			} else if (ino == self && strcmp(b->d_name, skip_ifname)) {
				struct xdp_state st;
				int ifi = slg_ifindex_of(b->d_name);
				if (ifi < 0 || slg_query(ifi, &st) || !st.prog_id || !st.ours)
					slg_remove_dir_pins(ifdir);
			}
		}
		if (db)
			closedir(db);
		rmdir(nsdir); /* only when empty */
	}
	if (da)
		closedir(da);
}

/* The lock that serialises rule-id allocation on ifname: a file under /run/sluice/<netns>/
 * <ifname>/, which every process of the network namespace sees, whatever its mount namespace
 * (`ip netns exec` gives each command a /sys of its own, not a /run). Returns the fd. */
int slg_rules_lock(const char *ifname)
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
		err = slg_mkdir_one(path);
		*p = '/';
		if (err)
			return err;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}
