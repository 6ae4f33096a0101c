/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The gate's user-space half, inside the library: what its files share. gate.c owns the
 * program (load, attach, detach, open a handle through the interface, socket slots,
 * counters), gate_fs.c the bpf filesystem, namespaces, pins and locks, gate_rules.c the rules
 * (encoding, ids, add, del, list).
 */
#ifndef SL_DEV_GATE_INT_H
#define SL_DEV_GATE_INT_H
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

#define GATE_PROG_NAME "sl_gate"
#define DEFAULT_BPFFS "/sys/fs/bpf"

/* The maps from M_N_REQUIRED on came later: a gate attached by an older build lacks them
 * (their fd is -1) and works without what they add. */
enum gate_map { M_XSKS, M_OWNED, M_PORTS, M_TUPLES, M_COUNTERS, M_RULE_STATS, M_CONF, M_N };
#define M_N_REQUIRED M_CONF

/* Pin file names: the map names of bpf/gate.bpf.c. */
static const char *const map_names[M_N] __attribute__((unused)) = {
    [M_XSKS] = "sl_xsks",     [M_OWNED] = "sl_owned",	    [M_PORTS] = "sl_ports",
    [M_TUPLES] = "sl_tuples", [M_COUNTERS] = "sl_counters", [M_RULE_STATS] = "sl_rule_stats",
    [M_CONF] = "sl_conf",
};

static const char *const counter_names[SL_GATE_N_COUNTERS] __attribute__((unused)) =
    SL_GATE_COUNTER_NAMES;

struct sl_gate {
	int fd[M_N];
	int lock_fd; /* /run/sluice/<netns>/<ifname>/rules.lock, flock'ed around rule changes */
	int ncpus;
	int ifindex;	   /* the interface it was opened on, in the opener's namespace */
	__u32 tuple_vsize; /* sl_tuples' value size: 8 in gates built before homes */
	__u32 prog_id;	   /* the program whose maps fd[] holds */
};

/* What is attached to an interface right now. */
struct xdp_state {
	__u32 prog_id;		/* 0: nothing attached */
	bool ours;		/* exactly one program, named sl_gate */
	enum sl_gate_mode mode; /* valid when prog_id != 0 */
	__u32 mode_flag;	/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
};

const char *slg_bpffs_root(void);
int slg_check_ifname(const char *ifname);
int slg_ifindex_of(const char *ifname);
int slg_netns_ino(unsigned long *ino);
int slg_pin_path(const char *dir, enum gate_map m, char *buf, size_t len);
int slg_is_bpffs(const char *path);
int slg_private_mount_ns(void);
int slg_ensure_bpffs(const char *root);
int slg_mkdir_one(const char *path);
int slg_lock_root(const char *root, bool create, int how);
void slg_unlock_root(int fd);
int slg_make_pin_dir(const char *dir);
int slg_open_pins(const char *dir, __u32 prog_id, int fds[M_N]);
int slg_pin_prog_maps(const char *dir, __u32 prog_id);
int slg_remove_pins(const char *ifname);
void slg_remove_dir_pins(const char *dir);
bool slg_netns_alive(unsigned long ino);
void slg_remove_stale_pins(const char *skip_ifname);
int slg_rules_lock(const char *ifname);
int slg_prog_info(int prog_fd, struct bpf_prog_info *info, __u32 *map_ids, __u32 nmaps);
int slg_prog_is_ours(__u32 id);
int slg_query(int ifindex, struct xdp_state *st);
int slg_map_id_of(int fd, __u32 *id, char *name, size_t name_len);
int slg_prog_maps(__u32 prog_id, __u32 ids[M_N]);
void slg_close_fds(int fds[M_N]);

#endif
