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
#include "gate_int.h"

/*
 * The Makefile generates the skeleton with "name sl_gate", which would define
 * struct sl_gate, the name of our public handle. Rename the skeleton's type (and its
 * program/link members, which carry the same token) to sl_gate_skel while including it;
 * its functions keep their names (sl_gate__open_and_load ...).
 */
#define sl_gate sl_gate_skel
#include "gate.skel.h"
#undef sl_gate

int slg_prog_info(int prog_fd, struct bpf_prog_info *info, __u32 *map_ids, __u32 nmaps)
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
int slg_prog_is_ours(__u32 id)
{
	struct bpf_prog_info info;
	int fd, err;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	err = slg_prog_info(fd, &info, NULL, 0);
	close(fd);
	if (err)
		return err;
	return info.type == BPF_PROG_TYPE_XDP && !strcmp(info.name, GATE_PROG_NAME);
}

int slg_query(int ifindex, struct xdp_state *st)
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
	err = slg_prog_is_ours(st->prog_id);
	if (err < 0)
		return err;
	st->ours = err;
	return 0;
}

int slg_map_id_of(int fd, __u32 *id, char *name, size_t name_len)
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
int slg_prog_maps(__u32 prog_id, __u32 ids[M_N])
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
	err = slg_prog_info(fd, &info, all, 16);
	close(fd);
	if (err)
		return err;
	for (i = 0; i < info.nr_map_ids && i < 16; i++) {
		mfd = bpf_map_get_fd_by_id(all[i]);
		if (mfd < 0)
			return -errno;
		err = slg_map_id_of(mfd, &id, name, sizeof(name));
		close(mfd);
		if (err)
			return err;
		for (m = 0; m < M_N; m++)
			if (!strcmp(name, map_names[m]))
				ids[m] = id;
	}
	for (m = 0; m < M_N_REQUIRED; m++)
		if (!ids[m])
			return -ENOENT;
	return 0;
}

void slg_close_fds(int fds[M_N])
{
	int m;

	for (m = 0; m < M_N; m++) {
		if (fds[m] >= 0)
			close(fds[m]);
		fds[m] = -1;
	}
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
	err = slg_open_pins(dir, st->prog_id, fds);
	if (!err) {
		slg_close_fds(fds);
		return 0;
	}
	if (err != -ENOENT && err != -ESTALE)
		return err;
	err = slg_pin_prog_maps(dir, st->prog_id);
	if (!err)
		fprintf(stderr,
			"sluice: gate on %s was attached but not pinned here; pinned its "
			"maps under %s\n",
			ifname, dir);
	return err;
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
	ifindex = slg_ifindex_of(ifname);
	if (ifindex < 0)
		return ifindex;
	err = sl_gate_pin_dir(ifname, dir, sizeof(dir));
	if (err)
		return err;
	err = slg_ensure_bpffs(slg_bpffs_root());
	if (err)
		return err;
	lock = slg_lock_root(slg_bpffs_root(), true, LOCK_EX);
	if (lock < 0)
		return lock;
	slg_remove_stale_pins(ifname);

	err = slg_query(ifindex, &st);
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
	err = slg_prog_info(prog_fd, &info, NULL, 0);
	if (!err)
		err = slg_pin_prog_maps(dir, info.id);
	if (err) {
		detach_prog(ifindex, prog_fd,
			    used == SL_GATE_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
		slg_remove_pins(ifname);
		goto out;
	}
	if (mode_out)
		*mode_out = used;
out:
	/* The attachment and the pins hold the program and maps; our fds can go. */
	if (skel)
		sl_gate__destroy(skel);
	slg_unlock_root(lock);
	return err;
}

int sl_gate_detach(const char *ifname)
{
	struct xdp_state st;
	int ifindex, lock, prog_fd, err;

	if (slg_check_ifname(ifname))
		return -EINVAL;
	lock = slg_is_bpffs(slg_bpffs_root()) == 1 ? slg_lock_root(slg_bpffs_root(), true, LOCK_EX) : -1;
	ifindex = slg_ifindex_of(ifname);
	if (ifindex < 0) {
		/* The device and its XDP program are gone; leftover pins are not useful. */
		slg_remove_pins(ifname);
		err = ifindex;
		goto out;
	}
	err = slg_query(ifindex, &st);
	if (err)
		goto out;
	if (!st.prog_id || !st.ours) {
		if (slg_remove_pins(ifname))
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
	slg_remove_pins(ifname);
out:
	slg_unlock_root(lock);
	return err;
}

bool sl_gate_attached(const char *ifname)
{
	struct xdp_state st;
	int ifindex = slg_ifindex_of(ifname);

	return ifindex > 0 && slg_query(ifindex, &st) == 0 && st.prog_id && st.ours;
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
	ifindex = slg_ifindex_of(ifname);
	if (ifindex < 0)
		return ifindex;
	err = slg_query(ifindex, &st);
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
	g->lock_fd = slg_rules_lock(ifname);
	g->ifindex = ifindex;
	g->prog_id = st.prog_id;
	if (g->lock_fd < 0) {
		err = g->lock_fd;
		goto fail;
	}
	err = slg_prog_maps(st.prog_id, ids);
	if (err)
		goto fail;
	for (m = 0; m < M_N; m++) {
		if (!ids[m])
			continue; /* a map newer than the attached gate */
		g->fd[m] = bpf_map_get_fd_by_id(ids[m]);
		if (g->fd[m] < 0) {
			err = -errno;
			goto fail;
		}
	}
	struct bpf_map_info mi;
	__u32 mlen = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	err = bpf_obj_get_info_by_fd(g->fd[M_TUPLES], &mi, &mlen);
	if (err)
		goto fail;
	g->tuple_vsize = mi.value_size;
	*out = g;
	return 0;
fail:
	slg_close_fds(g->fd);
	slg_unlock_root(g->lock_fd);
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
	slg_close_fds(g->fd);
	slg_unlock_root(g->lock_fd);
	free(g);
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
