/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front.h - the frontend half of the "pvnic" pair: its registration
 * (pvnic_plugin.c's front_start) and the hooks its unit test attaches it
 * with (no grants, no store).  The hosts start it through the plugin
 * table (src/accel/plugins.c), never by these names.
 */
#ifndef PVNET_ACCEL_PVNIC_FRONT_H
#define PVNET_ACCEL_PVNIC_FRONT_H

#include <stdint.h>

#include "pvnet/accel.h"

int pvnic_front_register(void);
int pvnic_front_unregister(void);
const struct pv_accel_front_ops *pvnic_front_ops_get(void);

/* For tests. */
int pvnic_front_test_attach(struct pv_accel_front_dev *dev, uint8_t *pages,
			    const uint32_t *ids, unsigned int mtu, int fds[3]);
uint64_t pvnic_front_test_nic_errors(struct pv_accel_front_dev *dev, unsigned int code);
void pvnic_front_test_set_features(struct pv_accel_front_dev *dev, uint32_t features);
uint64_t pvnic_front_test_bogus(struct pv_accel_front_dev *dev);
unsigned int pvnic_front_test_tx_free(struct pv_accel_front_dev *dev);
unsigned int pvnic_front_test_local_macs(struct pv_accel_front_dev *dev, const char *val,
					 uint64_t *bad);
uint64_t pvnic_front_test_lent(struct pv_accel_front_dev *dev, unsigned int *nlent);
int pvnic_front_test_src_addrs(struct pv_accel_front_dev *dev, const char *val);
int pvnic_front_test_tx_decide(uint32_t mtu, uint32_t features, const struct virtio_net_hdr *vh,
			       const uint8_t *frame, uint32_t len, uint16_t *mss);

#endif
