/* Everything an application needs. */
#ifndef SLUICE_SLUICE_H
#define SLUICE_SLUICE_H
#include "sluice/errors.h"
#include "sluice/stats.h"
#include "sluice/dev.h"
#include "sluice/ip.h"
#include "sluice/stack.h"
#include "sluice/arp.h"
#include "sluice/icmp.h"
#include "sluice/udp.h"
#include "sluice/tcp.h"
#include "sluice/gate.h"
#endif
