/* Internal side of the neighbour table shared by the stacks of one interface. */
#ifndef SL_PROTO_NEIGH_SHARE_H
#define SL_PROTO_NEIGH_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include "sluice/ip.h"

struct sl_neigh_share;
uint64_t sl_neigh_share_gen(struct sl_neigh_share *s);
void sl_neigh_share_publish(struct sl_neigh_share *s, const sl_ip *ip, const uint8_t mac[6],
			    uint64_t now);
/* A stack has started resolving ip (it was not here): whoever receives the answer merges it. */
void sl_neigh_share_want(struct sl_neigh_share *s, const sl_ip *ip, uint64_t now);
/* Update ip's entry if there is one, known or wanted (RFC 826 merge); whether there was. */
bool sl_neigh_share_merge(struct sl_neigh_share *s, const sl_ip *ip, const uint8_t mac[6],
			  uint64_t now);
/* Entries learned before not_before are stale and not returned. */
bool sl_neigh_share_lookup(struct sl_neigh_share *s, const sl_ip *ip, uint8_t mac[6],
			   uint64_t not_before);

#endif
