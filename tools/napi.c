// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* napi_defer_hard_irqs and gro_flush_timeout for the length of a run (see napi.h). */
#include "napi.h"
#include "cli.h"
#include "sluice/sluice.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static const char *const names[NAPI_N] = {"napi_defer_hard_irqs", "gro_flush_timeout"};

const char *napi_name(int which)
{
	return which >= 0 && which < NAPI_N ? names[which] : "?";
}

/* A sysfs of the calling thread's network namespace, mounted nowhere (the mount lives as long
 * as the descriptor). */
static int detached_sysfs(void)
{
	int fs = fsopen("sysfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	int m = -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		m = fsmount(fs, FSMOUNT_CLOEXEC,
			    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	int err = m < 0 ? -errno : 0;
	close(fs);
	return m < 0 ? err : m;
}

static int read_ll(int dir, const char *name, long long *out)
{
	char buf[64];
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n > 0 ? n : 0] = 0;
	char *e;
	errno = 0;
	long long v = strtoll(buf, &e, 10);
	if (errno || e == buf || (*e && *e != '\n'))
		return -EINVAL;
	*out = v;
	return 0;
}

static int write_ll(int dir, const char *name, long long v)
{
	char buf[32];
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int len = snprintf(buf, sizeof(buf), "%lld\n", v);
	ssize_t n = write(fd, buf, (size_t)len);
	int err = n < 0 ? -errno : n != len ? -EIO : 0;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

/* /sys is this namespace's when its class/net lists exactly our interfaces with their indexes
 * (under `nsenter --net` it is the host's: a same-named interface there is another device). */
static bool sys_is_ours(void)
{
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		return false;
	unsigned n_ours = 0;
	for (struct if_nameindex *i = ifs; i->if_index; i++)
		n_ours++;
	DIR *d = opendir("/sys/class/net");
	bool ok = d != NULL;
	unsigned n_sys = 0;
	struct dirent *e;
	while (ok && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300];
		long long idx;
		snprintf(path, sizeof(path), "/sys/class/net/%s", e->d_name);
		int dfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		ok = dfd >= 0 && read_ll(dfd, "ifindex", &idx) == 0 &&
		     idx == (long long)if_nametoindex(e->d_name);
		if (dfd >= 0)
			close(dfd);
		n_sys++;
	}
	if (d)
		closedir(d);
	if_freenameindex(ifs);
	return ok && n_sys == n_ours;
}

/* The record of what a run changed: "pid P", then "NAME OLD NEW" per value it changed. */
static int record_path(const char *dev, char *buf, size_t len)
{
	char p[256];
	int err = sl_stats_path(dev, 0, p, sizeof(p));
	if (err)
		return err;
	snprintf(buf, len, "%s/napi.saved", dirname(p));
	return 0;
}

struct record {
	int pid;
	bool has[NAPI_N];
	long long old[NAPI_N], set[NAPI_N];
};

static bool read_record(const char *path, struct record *r)
{
	FILE *f = fopen(path, "re");
	char name[64];
	long long a, b;
	memset(r, 0, sizeof(*r));
	if (!f)
		return false;
	bool ok = fscanf(f, "pid %d\n", &r->pid) == 1;
	while (ok && fscanf(f, "%63s %lld %lld\n", name, &a, &b) == 3)
		for (int k = 0; k < NAPI_N; k++)
			if (!strcmp(name, names[k])) {
				r->has[k] = true;
				r->old[k] = a;
				r->set[k] = b;
			}
	fclose(f);
	return ok;
}

static bool pid_alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int write_record(struct napi_settings *ns)
{
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", ns->saved_path);
	if (cli_mkdir_parents(ns->saved_path) < 0)
		return -errno;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "pid %d\n", (int)getpid());
	for (int k = 0; k < NAPI_N; k++)
		if (ns->want[k] >= 0)
			fprintf(f, "%s %lld %lld\n", names[k], ns->old[k], ns->want[k]);
	int err = ferror(f) ? -EIO : 0;
	if (fclose(f) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, ns->saved_path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int napi_open(struct napi_settings *ns, const char *dev, char *why, size_t whylen)
{
	int err;
	ns->mnt_fd = ns->dir_fd = -1;
	ns->open = true;
	snprintf(ns->dev, sizeof(ns->dev), "%s", dev);
	char rel[64];
	snprintf(rel, sizeof(rel), "class/net/%s", dev);
	int m = detached_sysfs();
	if (m >= 0) {
		ns->mnt_fd = m;
		ns->dir_fd = openat(m, rel, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	} else if (sys_is_ours()) {
		ns->dir_fd = openat(AT_FDCWD, "/sys", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (ns->dir_fd >= 0) {
			int d = openat(ns->dir_fd, rel, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
			close(ns->dir_fd);
			ns->dir_fd = d;
		}
	} else {
		snprintf(why, whylen,
			 "cannot reach the sysfs of %s: mounting one for this network namespace "
			 "failed (%s) and /sys belongs to another",
			 dev, strerror(-m));
		return m;
	}
	if (ns->dir_fd < 0) {
		err = -errno;
		snprintf(why, whylen, "no sysfs directory for %s: %s", dev, strerror(-err));
		goto fail;
	}
	long long idx;
	if (read_ll(ns->dir_fd, "ifindex", &idx) < 0 || idx != (long long)if_nametoindex(dev)) {
		err = -ENODEV;
		snprintf(why, whylen, "the sysfs entry of %s is not this namespace's %s", dev, dev);
		goto fail;
	}
	for (int k = 0; k < NAPI_N; k++) {
		err = read_ll(ns->dir_fd, names[k], &ns->now[k]);
		if (err) {
			snprintf(why, whylen, "cannot read %s of %s: %s%s", names[k], dev,
				 strerror(-err), err == -ENOENT ? " (kernel before 5.10?)" : "");
			goto fail;
		}
		ns->old[k] = ns->now[k];
	}
	return 0;
fail:
	napi_restore(ns);
	return err;
}

/* A record left by a run that died without restoring (SIGKILL, a crash): put its values back,
 * unless something else changed them since. */
static void recover(struct napi_settings *ns)
{
	struct record r;
	/* Our own pid in a record we have not written yet: an earlier process that had it. */
	if (!read_record(ns->saved_path, &r) || (r.pid != (int)getpid() && pid_alive(r.pid)))
		return;
	for (int k = 0; k < NAPI_N; k++) {
		if (!r.has[k])
			continue;
		if (ns->now[k] != r.set[k]) {
			fprintf(
			    stderr,
			    "sluice: %s of %s was left at %lld by a sluice run that died (pid %d), "
			    "but is %lld now: left as it is\n",
			    names[k], ns->dev, r.set[k], r.pid, ns->now[k]);
			continue;
		}
		int err = write_ll(ns->dir_fd, names[k], r.old[k]);
		if (err) {
			fprintf(stderr, "sluice: warning: cannot put back %s of %s to %lld: %s\n",
				names[k], ns->dev, r.old[k], strerror(-err));
			continue;
		}
		fprintf(
		    stderr,
		    "sluice: put back %s of %s to %lld (left at %lld by a sluice run that died, "
		    "pid %d)\n",
		    names[k], ns->dev, r.old[k], r.set[k], r.pid);
		ns->now[k] = ns->old[k] = r.old[k];
	}
	unlink(ns->saved_path);
}

int napi_apply(struct napi_settings *ns, char *why, size_t whylen)
{
	int err = record_path(ns->dev, ns->saved_path, sizeof(ns->saved_path));
	if (err) {
		snprintf(why, whylen, "cannot name the record of %s's NAPI settings: %s", ns->dev,
			 strerror(-err));
		ns->saved_path[0] = 0;
		return err;
	}
	struct record r;
	bool any = false;
	for (int k = 0; k < NAPI_N; k++)
		any |= ns->want[k] >= 0;
	/* Held by a live run: refused only if this run wants to change them too. */
	if (any && read_record(ns->saved_path, &r) && r.pid != (int)getpid() && pid_alive(r.pid)) {
		snprintf(
		    why, whylen,
		    "%s's NAPI settings are held by another sluice run (pid %d, recorded in %s)",
		    ns->dev, r.pid, ns->saved_path);
		ns->saved_path[0] = 0;
		return -EBUSY;
	}
	recover(ns);
	if (!any) {
		ns->saved_path[0] = 0;
		return 0;
	}
	/* Written down before anything changes, so a kill at any point leaves what to restore. */
	err = write_record(ns);
	if (err) {
		snprintf(why, whylen, "cannot write %s: %s", ns->saved_path, strerror(-err));
		ns->saved_path[0] = 0;
		return err;
	}
	for (int k = 0; k < NAPI_N; k++) {
		if (ns->want[k] < 0)
			continue;
		err = write_ll(ns->dir_fd, names[k], ns->want[k]);
		if (err) {
			snprintf(why, whylen, "cannot set %s of %s to %lld: %s", names[k], ns->dev,
				 ns->want[k], strerror(-err));
			napi_restore(ns);
			return err;
		}
		ns->changed[k] = true;
		ns->now[k] = ns->want[k];
		long long back;
		if (read_ll(ns->dir_fd, names[k], &back) == 0 && back != ns->want[k]) {
			snprintf(why, whylen,
				 "cannot set %s of %s to %lld: the kernel made it %lld", names[k],
				 ns->dev, ns->want[k], back);
			ns->now[k] = back;
			napi_restore(ns);
			return -ERANGE;
		}
	}
	return 0;
}

void napi_restore(struct napi_settings *ns)
{
	if (!ns->open)
		return;
	for (int k = 0; k < NAPI_N; k++) {
		if (!ns->changed[k] || ns->dir_fd < 0)
			continue;
		ns->changed[k] = false;
		long long cur;
		if (read_ll(ns->dir_fd, names[k], &cur) == 0 && cur != ns->now[k]) {
			fprintf(
			    stderr,
			    "sluice: warning: %s of %s was changed to %lld during the run: left as "
			    "it is (it was %lld before)\n",
			    names[k], ns->dev, cur, ns->old[k]);
			continue;
		}
		int err = write_ll(ns->dir_fd, names[k], ns->old[k]);
		if (err)
			fprintf(stderr, "sluice: warning: cannot restore %s of %s to %lld: %s\n",
				names[k], ns->dev, ns->old[k], strerror(-err));
		else
			ns->now[k] = ns->old[k];
	}
	if (ns->saved_path[0])
		unlink(ns->saved_path);
	ns->saved_path[0] = 0;
	if (ns->dir_fd >= 0)
		close(ns->dir_fd);
	if (ns->mnt_fd >= 0)
		close(ns->mnt_fd);
	ns->dir_fd = ns->mnt_fd = -1;
	ns->open = false;
}
