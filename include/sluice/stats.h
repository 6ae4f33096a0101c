/*
 * Named counters. Every frame the stack drops increments exactly one counter
 * whose name says why; the rest count work done. The list is an X-macro so
 * names, enum values and documentation stay in one place.
 *
 * A running stack can publish its counters in a small self-describing file
 * (see struct sl_stats_file) that `sluice stats` reads without talking to it.
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdint.h>

/* X(name, is_drop, description) */
#define SL_STATS(X)                                                                                \
	X(rx_frames, 0, "frames received from the device")                                         \
	X(tx_frames, 0, "frames handed to the device for transmission")                            \
	X(tx_ring_full, 1, "output dropped: device TX queue full")                                 \
	X(tx_no_frame, 1, "output dropped: no free frame to build it in")                          \
	X(eth_short, 1, "frame shorter than an Ethernet header")                                   \
	X(eth_not_for_us, 1, "destination MAC neither ours, broadcast nor multicast")              \
	X(eth_bad_src, 1, "source MAC is multicast/broadcast")                                     \
	X(eth_vlan, 1, "VLAN-tagged frame (attach to the VLAN device instead)")                    \
	X(eth_unknown_type, 1, "ethertype not ARP/IPv4/IPv6")                                      \
	X(arp_rx, 0, "ARP packets accepted")                                                       \
	X(arp_short, 1, "ARP packet shorter than its header says")                                 \
	X(arp_unsupported, 1, "ARP for hardware/protocol other than Ethernet/IPv4")                \
	X(arp_bad_op, 1, "ARP opcode neither request nor reply")                                   \
	X(arp_bad_sender, 1, "ARP sender address is ours, zero, broadcast or multicast")           \
	X(arp_not_for_us, 1, "ARP request for an address we do not own")                           \
	X(arp_replies_sent, 0, "ARP replies sent")                                                 \
	X(arp_requests_sent, 0, "ARP requests sent (including retries and gratuitous)")            \
	X(arp_cache_full, 0, "ARP cache full of resolutions waited on: neighbour not entered")     \
	X(arp_pending_full, 1, "packet dropped: no room to wait for ARP resolution")               \
	X(arp_unresolved, 1, "packet dropped: ARP resolution timed out or its entry replaced")     \
	X(arp_evicted, 0, "ARP cache full: an entry replaced (a stale one, else least recent)")    \
	X(arp_off_link, 0, "ARP request from a sender off our prefixes: answered, not learned")    \
	X(arp_unsolicited, 1, "ARP reply for no entry of ours: not learned (only requests add)")   \
	X(ipv4_rx, 0, "IPv4 packets accepted")                                                     \
	X(ipv4_short, 1, "IPv4 packet shorter than its header")                                    \
	X(ipv4_bad_version, 1, "IPv4 version field is not 4")                                      \
	X(ipv4_bad_ihl, 1, "IPv4 header length < 20 bytes or beyond the packet")                   \
	X(ipv4_bad_len, 1, "IPv4 total length beyond the frame or below the header")               \
	X(ipv4_bad_csum, 1, "IPv4 header checksum wrong")                                          \
	X(ipv4_bad_src, 1, "IPv4 source is broadcast, multicast, zero or ours")                    \
	X(ipv4_not_for_us, 1, "IPv4 destination is not an address we own")                         \
	X(ipv4_frags_rx, 0, "IPv4 fragments received")                                             \
	X(ipv4_reasm_ok, 0, "IPv4 datagrams reassembled")                                          \
	X(ipv4_reasm_timeout, 1, "fragments dropped: datagram not completed in time")              \
	X(ipv4_reasm_overlap, 1, "fragment dropped: overlaps data with different bytes")           \
	X(ipv4_reasm_too_big, 1, "fragment dropped: datagram beyond 65535 bytes")                  \
	X(ipv4_reasm_bad_frag, 1, "fragment dropped: length not a multiple of 8, or empty")        \
	X(ipv4_reasm_no_mem, 1, "fragment dropped: reassembly memory budget exhausted")            \
	X(ipv4_reasm_dup, 1, "fragment dropped: duplicate of data already held")                   \
	X(ipv4_frags_sent, 0, "IPv4 fragments sent")                                               \
	X(ipv4_no_route, 1, "output dropped: no route to destination")                             \
	X(ipv4_too_big, 1, "output dropped: larger than the MTU with DF set")                      \
	X(ipv4_unknown_proto, 1, "IPv4 protocol nobody handles (answered protocol-unreachable)")   \
	X(udp_rx, 0, "UDP datagrams delivered")                                                    \
	X(udp_tx, 0, "UDP datagrams sent")                                                         \
	X(udp_short, 1, "UDP datagram shorter than its header")                                    \
	X(udp_bad_len, 1, "UDP length field disagrees with the IP length")                         \
	X(udp_bad_csum, 1, "UDP checksum wrong")                                                   \
	X(udp_no_port, 1, "UDP to a port nobody listens on (answered port-unreachable)")           \
	X(udp_rcvbuf_full, 1, "UDP datagram dropped: socket receive queue full")                   \
	X(udp_no_socket, 1, "UDP datagram no socket of its port takes (another address, another peer)") \
	X(udp_rcv_after_shutdown, 1, "UDP datagram for a socket shut down for reading: discarded") \
	X(tcp_rx, 0, "TCP segments accepted")                                                      \
	X(tcp_tx, 0, "TCP segments sent")                                                          \
	X(tcp_short, 1, "TCP segment shorter than its header")                                     \
	X(tcp_bad_off, 1, "TCP data offset below 20 or beyond the segment")                        \
	X(tcp_bad_csum, 1, "TCP checksum wrong")                                                   \
	X(tcp_bad_opts, 1, "TCP options malformed (length past the header, bad length)")           \
	X(tcp_bad_flags, 1, "TCP segment with no flags, SYN with FIN/RST, or without the SYN/ACK its state needs") \
	X(tcp_no_conn, 1, "TCP segment for no connection (answered with RST unless RST)")          \
	X(tcp_backlog_full, 0, "SYN backlog full: the oldest half-open connection was dropped")    \
	X(tcp_tw_recycled, 0, "connection table full: the oldest TIME-WAIT connection recycled")   \
	X(tcp_conn_limit, 1, "SYN or connect refused: connection table full")                      \
	X(tcp_no_mem, 1, "SYN, cookie ACK or connect refused: no memory for a control block")      \
	X(tcp_out_of_window, 1, "TCP segment outside the receive window (ACKed, dropped)")         \
	X(tcp_bad_ack, 1, "TCP ACK for data never sent or too old (RFC 5961 §5)")                  \
	X(tcp_rst_out_of_window, 1, "RST ignored: outside the window (RFC 5961 §3), in TIME-WAIT, or in SYN-SENT without an ACK") \
	X(tcp_challenge_acks, 0, "challenge ACKs sent (RFC 5961)")                                 \
	X(tcp_challenge_limited, 1, "challenge ACK not sent: rate limit")                          \
	X(tcp_ooo_dropped, 1, "out-of-order data dropped: out-of-order ranges full")               \
	X(tcp_rcv_after_shutdown, 1, "data arriving after shutdown(read) discarded")               \
	X(tcp_data_after_fin, 1, "segment text after the peer's FIN ignored (RFC 9293 §3.10.7.4)") \
	X(tcp_retransmits, 0, "TCP segments retransmitted")                                        \
	X(tcp_fast_retransmits, 0, "fast retransmits (three duplicate ACKs)")                      \
	X(tcp_rto_expired, 0, "retransmission timeouts")                                           \
	X(tcp_timeouts, 0, "connections aborted: retransmission or keepalive limit")               \
	X(tcp_resets_rx, 0, "connections reset by the peer")                                       \
	X(tcp_resets_tx, 0, "RST segments sent")                                                   \
	X(tcp_keepalive_probes, 0, "keepalive probes sent")                                        \
	X(tcp_persist_probes, 0, "zero-window probes sent")                                        \
	X(tcp_accepted, 0, "passive opens completed")                                              \
	X(tcp_connected, 0, "active opens completed")                                              \
	X(tcp_tx_deferred, 0, "TCP output deferred to the next poll: device batch full")           \
	X(tcp_sack_rx, 0, "ACKs received carrying SACK blocks (RFC 2018)")                         \
	X(tcp_sack_tx, 0, "ACKs sent carrying SACK blocks")                                        \
	X(tcp_dsack_rx, 0, "D-SACK blocks received: the peer got a segment twice (RFC 2883)")      \
	X(tcp_dsack_tx, 0, "D-SACK blocks sent for duplicate segments received")                   \
	X(tcp_sack_bad, 1, "SACK block ignored: outside SND.UNA..SND.MAX or inverted")             \
	X(tcp_rack_lost, 0, "segments marked lost by RACK (RFC 8985 §6.2)")                        \
	X(tcp_recoveries, 0, "fast recoveries entered (RFC 6675 / RFC 6582)")                      \
	X(tcp_tlp_probes, 0, "tail loss probes sent (RFC 8985 §7)")                                \
	X(tcp_tlp_recoveries, 0, "losses repaired by a tail loss probe (RFC 8985 §7.4)")           \
	X(tcp_spurious_rtx, 0, "retransmissions found spurious (D-SACK, RFC 3522 timestamps)")     \
	X(tcp_undo, 0, "congestion responses undone after spurious retransmission")                \
	X(tcp_paws_rejected, 1, "segment dropped by PAWS: timestamp older than TS.Recent (RFC 7323 §5)") \
	X(tcp_syncookies_sent, 0, "SYN-ACKs sent with a SYN cookie (RFC 4987 §3.6)")              \
	X(tcp_syncookies_ok, 0, "connections established from a valid SYN cookie")                 \
	X(tcp_syncookies_bad, 1, "ACK for a listener with no half-open connection and a bad cookie") \
	X(tcp_listen_overflow, 1, "handshake's last ACK dropped: the application's accept queue was full") \
	X(tcp_ts_missing, 1, "segment without timestamps on a connection that negotiated them (RFC 7323 §3.2)") \
	X(tcp_sack_reneged, 0, "peer discarded data it had SACKed: SACK marks cleared (RFC 2018 §8)") \
	X(tcp_sendmap_full, 0, "TCP output waited: the segment map of a connection was full")       \
	X(tcp_oow_ack_limited, 1, "ACK to an out-of-window segment not sent: per-connection limit") \
	X(tcp_icmp_bad_seq, 1, "ICMP error ignored: quoted sequence outside SND.UNA..SND.NXT")    \
	X(tcp_buf_allocated, 0, "bytes of TCP send and receive rings allocated (held: minus freed)") \
	X(tcp_buf_freed, 0, "bytes of TCP send and receive rings freed")                            \
	X(tcp_mem_bytes, 0, "bytes TCP holds now: control blocks, send/receive rings, segment maps") \
	X(tcp_mem_peak, 0, "the most tcp_mem_bytes has been since the stack opened")           \
	X(icmp_rx, 0, "ICMP messages accepted")                                                    \
	X(icmp_short, 1, "ICMP message shorter than 8 bytes")                                      \
	X(icmp_bad_csum, 1, "ICMP checksum wrong")                                                 \
	X(icmp_echo_replies, 0, "ICMP echo replies sent")                                          \
	X(icmp_echo_reply_unclaimed, 1, "ICMP echo reply dropped: no application receives them (sl_icmp_on_echo_reply)") \
	X(icmp_errors_rx, 0, "ICMP error messages received")                                       \
	X(icmp_errors_delivered, 0, "ICMP errors delivered to the socket they concern")            \
	X(icmp_errors_unclaimed, 1, "ICMP error received that no transport claimed")               \
	X(icmp_errors_sent, 0, "ICMP error messages sent")                                         \
	X(icmp_rate_limited, 1, "ICMP error not sent: rate limit")                                 \
	X(icmp_unhandled_type, 1, "ICMP type we do not act on")                                    \
	X(icmp_bcast_request, 1, "ICMP echo to a broadcast/multicast address ignored")             \
	X(ipv6_rx, 0, "IPv6 packets accepted")                                               \
	X(ipv6_tx, 0, "IPv6 packets sent (fragments counted one by one)")                        \
	X(ipv6_short, 1, "IPv6 packet shorter than its fixed header")                        \
	X(ipv6_bad_version, 1, "IPv6 EtherType with an IP version other than 6")             \
	X(ipv6_bad_len, 1, "IPv6 payload length beyond the frame (or a jumbogram)")          \
	X(ipv6_bad_src, 1, "IPv6 source multicast, ours, or unspecified outside DAD")        \
	X(ipv6_not_for_us, 1, "IPv6 destination not ours nor a group we are in")             \
	X(ipv6_tentative, 1, "IPv6 packet for an address still in DAD (only ND is accepted)") \
	X(ipv6_bad_hdr, 1, "malformed extension header (length past the packet, bad option)") \
	X(ipv6_unknown_opt, 1, "unknown option whose type says discard (RFC 8200 §4.2)")     \
	X(ipv6_hbh_not_first, 1, "hop-by-hop options header not first (RFC 8200 §4.1)")      \
	X(ipv6_rh0, 1, "routing header type 0 seen (RFC 5095)")                              \
	X(ipv6_routing, 1, "routing header with segments left: a host does not forward")     \
	X(ipv6_chain_too_long, 1, "extension-header chain longer than the stack walks")      \
	X(ipv6_unknown_proto, 1, "Next Header nobody handles (answered Parameter Problem)")  \
	X(ipv6_atomic_frags, 0, "atomic fragments processed as whole packets (RFC 6946)")    \
	X(ipv6_frags_rx, 0, "IPv6 fragments received")                                       \
	X(ipv6_reasm_ok, 0, "IPv6 datagrams reassembled")                                    \
	X(ipv6_reasm_timeout, 1, "IPv6 reassembly timed out")                                \
	X(ipv6_reasm_overlap, 1, "IPv6 overlapping fragments: datagram dropped (RFC 5722)")  \
	X(ipv6_reasm_too_big, 1, "IPv6 fragment beyond 65535 bytes of payload")              \
	X(ipv6_reasm_bad_frag, 1, "IPv6 fragment of bad length (not a multiple of 8)")       \
	X(ipv6_reasm_no_mem, 1, "IPv6 fragment dropped: reassembly budget exhausted")        \
	X(ipv6_reasm_dup, 1, "IPv6 duplicate fragment")                                      \
	X(ipv6_frag_no_upper, 1, "first fragment without the whole header chain (RFC 7112)") \
	X(ipv6_frags_sent, 0, "IPv6 fragments sent")                                         \
	X(ipv6_no_route, 1, "IPv6 output dropped: no route to destination")                  \
	X(ipv6_too_big, 1, "IPv6 output dropped: larger than the path MTU, fragmentation refused") \
	X(icmp6_rx, 0, "ICMPv6 messages received")                                           \
	X(icmp6_short, 1, "ICMPv6 message shorter than its header")                          \
	X(icmp6_bad_csum, 1, "ICMPv6 checksum wrong")                                        \
	X(icmp6_echo_replies, 0, "ICMPv6 echo replies sent")                                 \
	X(icmp6_echo_reply_unclaimed, 1, "ICMPv6 echo reply dropped: no application receives them (sl_icmp_on_echo_reply)") \
	X(icmp6_mcast_request, 0, "ICMPv6 echo requests to a multicast group (answered)")    \
	X(icmp6_errors_rx, 0, "ICMPv6 errors received")                                      \
	X(icmp6_errors_delivered, 0, "ICMPv6 errors passed to UDP/TCP")                      \
	X(icmp6_errors_unclaimed, 1, "ICMPv6 errors about nothing we have")                  \
	X(icmp6_errors_sent, 0, "ICMPv6 errors sent")                                        \
	X(icmp6_rate_limited, 1, "ICMPv6 errors not sent: rate limit")                       \
	X(icmp6_ptb_rx, 0, "Packet Too Big received: path MTU lowered")                      \
	X(icmp6_ptb_ignored, 1, "Packet Too Big below 1280 or malformed, ignored (RFC 8201)") \
	X(icmp6_unhandled_type, 1, "ICMPv6 type we do not act on (MLD, router solicitations, ...)") \
	X(nd_rx, 0, "Neighbor Discovery messages received")                                  \
	X(nd_bad, 1, "ND message failing RFC 4861 §7.1 validation (hop limit, code, options)") \
	X(nd_ns_rx, 0, "Neighbor Solicitations for our addresses")                           \
	X(nd_na_rx, 0, "Neighbor Advertisements received")                                   \
	X(nd_na_ignored, 1, "NA that changes nothing: no entry for its target, no target address for an entry being resolved, or another address without Override (RFC 4861 §7.2.5)") \
	X(nd_ns_sent, 0, "Neighbor Solicitations sent")                                      \
	X(nd_na_sent, 0, "Neighbor Advertisements sent")                                     \
	X(neigh_resolve_asked, 0, "neighbour resolutions asked of the application (shared mode: of the kernel) instead of ARP or NS") \
	X(neigh_set, 0, "neighbours set by the application (shared mode: from the kernel's table)") \
	X(loopback, 0, "frames to our own addresses delivered to ourselves")                     \
	X(loopback_full, 1, "frames to our own addresses dropped: the loopback queue was full")   \
	X(nd_not_for_us, 1, "NS for a target we do not own, or own only tentatively (RFC 4862 §5.4.3)") \
	X(nd_ra_ignored, 1, "router advertisements ignored (addresses are configured)")      \
	X(nd_redirect_ignored, 1, "redirects ignored")                                       \
	X(nd_dad_conflict, 1, "another node claims one of our IPv6 addresses")               \
	X(dev_rx_dropped, 1, "kernel: frames dropped for lack of space (XDP_STATISTICS)")          \
	X(dev_rx_invalid, 1, "kernel: invalid RX descriptors (XDP_STATISTICS)")                    \
	X(dev_tx_invalid, 1, "kernel: invalid TX descriptors (XDP_STATISTICS)")                    \
	X(dev_rx_ring_full, 1, "kernel: RX ring full (XDP_STATISTICS)")                            \
	X(dev_fill_empty, 0, "kernel: fill ring was empty (XDP_STATISTICS)")                       \
	X(dev_frame_owner_error, 1, "device returned a frame we did not give it (bug catcher)")    \
	X(dev_tx_ring_full, 1, "output dropped at submit: the kernel's TX ring had no room")       \
	X(dev_tx_batch_flush, 0, "TX array full mid-poll: submitted early, not dropped")           \
	X(dev_fill_reserved, 0, "refills that left the fill ring short to keep the TX reserve")    \
	X(dev_rx_multibuf, 0, "frames received in several buffers, gathered into a large one")     \
	X(dev_rx_chain_dropped, 1, "multi-buffer frame above a large buffer, or its chain broken") \
	X(dev_rx_no_large, 1, "multi-buffer frame dropped: no free large buffer to gather it")     \
	X(dev_tx_multibuf, 0, "frames sent in several TX descriptors (XDP_PKT_CONTD)")             \
	X(dev_tx_csum_offload, 0, "frames sent with their TCP/UDP checksum left to the device (TX metadata)") \
	X(dev_busy_polls, 0, "recvfrom calls that ran the queue's NAPI (preferred busy polling)")  \
	X(dev_handoff_out, 0, "frames of another queue's flow (gate-marked) passed to its stack")  \
	X(dev_handoff_in, 0, "frames of this stack's flows that came on another queue, taken")     \
	X(dev_handoff_full, 1, "frame for another queue's stack dropped: its mailbox was full")    \
	X(dev_handoff_no_home, 0, "frame marked for a queue no stack of this process serves: kept")  \
	X(dev_handoff_waiting, 0, "frames in this stack's handoff mailbox now; in a final summary, handed over after the stack stopped, discarded")

enum sl_stat {
#define SL_STAT_ENUM(name, drop, desc) SL_STAT_##name,
	SL_STATS(SL_STAT_ENUM)
#undef SL_STAT_ENUM
	    SL_STAT_N
};

struct sl_stats {
	uint64_t c[SL_STAT_N];
};

const char *sl_stat_name(unsigned i);
const char *sl_stat_desc(unsigned i);
int sl_stat_is_drop(unsigned i);

/*
 * The published stats file: a header, then n names of SL_STATS_NAME_LEN bytes,
 * then n little-endian uint64 values, updated in place by the stack (the live counters; the
 * device's copied in every 50 ms).
 * Path: /run/sluice/<netns-inode>/<ifname>/q<queue>.stats (sl_stats_path).
 */
#define SL_STATS_MAGIC 0x31535453434c53ULL /* "SLCSTS1" */
#define SL_STATS_NAME_LEN 32
struct sl_stats_file {
	uint64_t magic;
	uint32_t n;
	uint32_t pid;
	uint32_t queue;
	uint32_t zero_copy; /* 1 when the socket is in zero-copy mode */
	char ifname[16];
	char mode[16]; /* "native" or "generic" */
	char addr[48]; /* the stack's address as text */
	uint64_t frames_total;
	uint64_t frames_free; /* frames neither held by the stack nor queued to send: the free list
			      * and the frames the kernel holds to receive into */
			      /* char names[n][SL_STATS_NAME_LEN]; uint64_t values[n]; */
};

int sl_stats_path(const char *ifname, unsigned queue, char *buf, unsigned long len);


/*
 * The published connection table (sl_stack_publish_conns): a header, then cap records of
 * which the first n are valid, rewritten by the stack every 50 ms (not per packet). The
 * writer makes seq odd while it writes and even when done: a reader copies the file and
 * retries while seq was odd or changed. Path: .../q<queue>.conns beside the stats file.
 */
#define SL_CONNS_MAGIC 0x31534e4e4f434c53ULL /* "SLCONNS1" */
struct sl_conn_record {
	uint8_t local[16], remote[16]; /* sl_ip */
	uint16_t lport, rport;
	char state[16];
	char cc[12];
	uint8_t wscale_ok, sack_ok, ts_ok, snd_wscale, rcv_wscale, pad[3];
	uint32_t mss, cwnd, ssthresh, snd_wnd, rcv_wnd, pipe, sacked, lost;
	uint64_t srtt_us, rttvar_us, rto_us, min_rtt_us;
	uint64_t retransmits, bytes_sent, bytes_received, segs_in, segs_out;
	uint64_t recoveries, rto_count, tlp_probes, spurious_undone, dsacks_rx, dsacks_tx;
};
struct sl_conns_file {
	uint64_t magic;
	uint64_t seq;
	uint64_t updated_ns; /* the stack's clock at the last update */
	uint32_t pid;
	uint32_t cap;	/* records in the file */
	uint32_t n;	/* valid records */
	uint32_t total; /* connections the stack has (n < total when cap is too small) */
	uint32_t record_size;
	uint32_t pad;
	/* struct sl_conn_record records[cap]; */
};
/* The path of a stack's connection table (q<queue>.conns). */
int sl_conns_path(const char *ifname, unsigned queue, char *buf, unsigned long len);

/* What one running stack published (the reader side, beside the writer in the library). */
struct sl_stack_snapshot {
	struct sl_stats_file h;
	char (*names)[SL_STATS_NAME_LEN]; /* h.n counter names */
	uint64_t *vals;			  /* h.n values */
	struct sl_conns_file ch;
	struct sl_conn_record *conns; /* ch.n of them, NULL when none published */
};
/* Every stack running on ifname in this network namespace (files of stacks that died are
 * skipped), sorted by queue: returns how many, or -errno. Free with sl_stack_snapshots_free. */
int sl_stack_snapshots(const char *ifname, struct sl_stack_snapshot **out);
void sl_stack_snapshots_free(struct sl_stack_snapshot *s, int n);

#endif
