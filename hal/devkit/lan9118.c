// lan9118.c — the devkit's SMSC LAN9118 Ethernet controller (see lan9118.h). Register map and
// bit names after the LAN9118 datasheet (system control and status registers at 0x50..0xB4, MAC
// CSRs reached through MAC_CSR_CMD/DATA, the internal PHY at MII address 1 reached through the
// MAC's MII_ACC/MII_DATA). QEMU's model (hw/net/lan9118.c) completes resets and register
// accesses at once; the bounded waits here are for a real chip.
#include <string.h>

#include "lan9118.h"

// System control and status registers (byte offsets).
#define RX_DATA_FIFO   0x00
#define TX_DATA_FIFO   0x20
#define RX_STATUS_FIFO 0x40
#define ID_REV         0x50
#define IRQ_CFG        0x54
#define INT_STS        0x58
#define INT_EN         0x5C
#define BYTE_TEST      0x64
#define FIFO_INT       0x68
#define RX_CFG         0x6C
#define TX_CFG         0x70
#define HW_CFG         0x74
#define RX_FIFO_INF    0x7C
#define TX_FIFO_INF    0x80
#define PMT_CTRL       0x84
#define MAC_CSR_CMD    0xA4
#define MAC_CSR_DATA   0xA8

#define BYTE_TEST_VALUE 0x87654321u
#define ID_REV_LAN9118  0x0118u

#define IRQ_CFG_EN   (1u << 8)
#define IRQ_CFG_POL  (1u << 4)   // active high
#define IRQ_CFG_TYPE (1u << 0)   // push-pull
#define HW_CFG_SRST  (1u << 0)
#define PMT_READY    (1u << 0)
#define TX_CFG_ON    (1u << 1)
#define TX_CFG_SAO   (1u << 2)   // TX status FIFO may overrun: nobody needs to read it
#define CSR_BUSY     (1u << 31)
#define CSR_READ     (1u << 30)

// MAC CSRs (indices).
#define MAC_CR    1
#define MAC_ADDRH 2
#define MAC_ADDRL 3
#define MAC_MII_ACC  6
#define MAC_MII_DATA 7

#define MAC_CR_RXEN  (1u << 2)
#define MAC_CR_TXEN  (1u << 3)
#define MAC_CR_MCPAS (1u << 19)  // pass all multicast
#define MAC_CR_FDPX  (1u << 20)

#define MII_BUSY  (1u << 0)
#define MII_WRITE (1u << 1)
#define PHY_ADDR  1

// PHY registers.
#define PHY_BCR  0
#define PHY_BSR  1
#define PHY_ADV  4
#define PHY_ISR  29
#define PHY_IMR  30
#define PHY_BCR_RESET   (1u << 15)
#define PHY_BCR_ANEN    (1u << 12)
#define PHY_BCR_ANRESTART (1u << 9)
#define PHY_BSR_LINK    (1u << 2)
#define PHY_ADV_ALL     0x01E1u   // 10/100, half/full duplex, IEEE 802.3
#define PHY_INT_DOWN    (1u << 4)
#define PHY_INT_ANDONE  (1u << 6)

#define RX_STS_ES     (1u << 15)  // error summary
#define TXCMD_A_FIRST (1u << 13)
#define TXCMD_A_LAST  (1u << 12)

#define SPIN 100000

static const uint32_t ENABLED_INTS = LAN9118_INT_RSFL | LAN9118_INT_PHY | LAN9118_INT_RXE;

static inline uint32_t rd(const lan9118_t *self, uint32_t off) {
    return *(volatile uint32_t *)(self->base + off);
}

static inline void wr(const lan9118_t *self, uint32_t off, uint32_t v) {
    *(volatile uint32_t *)(self->base + off) = v;
}

static int csr_wait(const lan9118_t *self) {
    for (int i = 0; i < SPIN; i++) {
        if (!(rd(self, MAC_CSR_CMD) & CSR_BUSY)) {
            return 0;
        }
    }
    return LAN9118_ETIMEOUT;
}

static int mac_read(const lan9118_t *self, uint32_t index, uint32_t *out) {
    wr(self, MAC_CSR_CMD, CSR_BUSY | CSR_READ | index);
    if (csr_wait(self) != 0) {
        return LAN9118_ETIMEOUT;
    }
    *out = rd(self, MAC_CSR_DATA);
    return 0;
}

static int mac_write(const lan9118_t *self, uint32_t index, uint32_t v) {
    wr(self, MAC_CSR_DATA, v);
    wr(self, MAC_CSR_CMD, CSR_BUSY | index);
    return csr_wait(self);
}

static int mii_wait(const lan9118_t *self) {
    for (int i = 0; i < SPIN; i++) {
        uint32_t acc;
        if (mac_read(self, MAC_MII_ACC, &acc) != 0) {
            return LAN9118_ETIMEOUT;
        }
        if (!(acc & MII_BUSY)) {
            return 0;
        }
    }
    return LAN9118_ETIMEOUT;
}

static int phy_read(const lan9118_t *self, uint32_t reg, uint32_t *out) {
    if (mii_wait(self) != 0 || mac_write(self, MAC_MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_BUSY) != 0
        || mii_wait(self) != 0 || mac_read(self, MAC_MII_DATA, out) != 0) {
        return LAN9118_ETIMEOUT;
    }
    *out &= 0xFFFF;
    return 0;
}

static int phy_write(const lan9118_t *self, uint32_t reg, uint32_t v) {
    if (mii_wait(self) != 0 || mac_write(self, MAC_MII_DATA, v & 0xFFFF) != 0
        || mac_write(self, MAC_MII_ACC, (PHY_ADDR << 11) | (reg << 6) | MII_WRITE | MII_BUSY) != 0) {
        return LAN9118_ETIMEOUT;
    }
    return mii_wait(self);
}

int lan9118_init(lan9118_t *self, uintptr_t base, const uint8_t mac[6]) {
    memset(self, 0, sizeof(*self));
    self->base = base;
    memcpy(self->mac, mac, 6);
    if (rd(self, BYTE_TEST) != BYTE_TEST_VALUE || (rd(self, ID_REV) >> 16) != ID_REV_LAN9118) {
        return LAN9118_ENODEV;
    }

    // Soft reset of the whole controller (the PHY included), then wait until it is ready.
    wr(self, IRQ_CFG, 0);
    wr(self, INT_EN, 0);
    wr(self, HW_CFG, HW_CFG_SRST);
    int i = 0;
    while ((rd(self, HW_CFG) & HW_CFG_SRST) || !(rd(self, PMT_CTRL) & PMT_READY)) {
        if (++i == SPIN) {
            return LAN9118_ETIMEOUT;
        }
    }

    // The address: ADDRL holds bytes 0..3, ADDRH bytes 4..5 (first byte lowest).
    uint32_t lo = mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24;
    uint32_t hi = mac[4] | (uint32_t)mac[5] << 8;
    if (mac_write(self, MAC_ADDRL, lo) != 0 || mac_write(self, MAC_ADDRH, hi) != 0) {
        return LAN9118_ETIMEOUT;
    }

    // PHY: reset, advertise everything, auto-negotiate; interrupt on link down and on
    // auto-negotiation done (the link coming up). Reading the source register clears it.
    uint32_t isr;
    if (phy_write(self, PHY_BCR, PHY_BCR_RESET) != 0
        || phy_write(self, PHY_ADV, PHY_ADV_ALL) != 0
        || phy_write(self, PHY_BCR, PHY_BCR_ANEN | PHY_BCR_ANRESTART) != 0
        || phy_write(self, PHY_IMR, PHY_INT_DOWN | PHY_INT_ANDONE) != 0
        || phy_read(self, PHY_ISR, &isr) != 0) {
        return LAN9118_ETIMEOUT;
    }

    // FIFOs: RX status level 0 (RSFL as soon as one frame waits), frames start at offset 0 and
    // end on a word; the TX status FIFO may overrun.
    wr(self, FIFO_INT, 0x48000000u);
    wr(self, RX_CFG, 0);
    wr(self, TX_CFG, TX_CFG_ON | TX_CFG_SAO);
    if (mac_write(self, MAC_CR, MAC_CR_RXEN | MAC_CR_TXEN | MAC_CR_FDPX | MAC_CR_MCPAS) != 0) {
        return LAN9118_ETIMEOUT;
    }

    wr(self, INT_STS, 0xFFFFFFFFu);
    wr(self, INT_EN, ENABLED_INTS);
    wr(self, IRQ_CFG, IRQ_CFG_EN | IRQ_CFG_POL | IRQ_CFG_TYPE);
    return 0;
}

void lan9118_deinit(lan9118_t *self) {
    wr(self, INT_EN, 0);
    wr(self, INT_STS, 0xFFFFFFFFu);
    mac_write(self, MAC_CR, 0);
    wr(self, TX_CFG, 0);
}

bool lan9118_link_up(lan9118_t *self) {
    uint32_t bsr;
    return phy_read(self, PHY_BSR, &bsr) == 0 && (bsr & PHY_BSR_LINK);
}

uint32_t lan9118_irq_pending(lan9118_t *self) {
    return rd(self, INT_STS) & ENABLED_INTS;
}

void lan9118_irq_mask(lan9118_t *self) {
    wr(self, INT_EN, 0);
}

void lan9118_irq_ack(lan9118_t *self, uint32_t bits) {
    wr(self, INT_STS, bits);
}

void lan9118_irq_unmask(lan9118_t *self) {
    wr(self, INT_EN, ENABLED_INTS);
}

uint32_t lan9118_ack_phy(lan9118_t *self) {
    uint32_t isr = 0;
    phy_read(self, PHY_ISR, &isr);
    return isr;
}

int lan9118_rx(lan9118_t *self, uint32_t *buf, size_t cap) {
    if (((rd(self, RX_FIFO_INF) >> 16) & 0xFF) == 0) {
        return 0;
    }
    uint32_t status = rd(self, RX_STATUS_FIFO);
    size_t len = (status >> 16) & 0x3FFF;   // bytes in the FIFO, FCS included
    size_t words = (len + 3) / 4;
    bool keep = !(status & RX_STS_ES) && len >= 14 + 4 && len - 4 <= LAN9118_MAX_FRAME && words * 4 <= cap;
    for (size_t i = 0; i < words; i++) {
        uint32_t w = rd(self, RX_DATA_FIFO);
        if (keep) {
            buf[i] = w;
        }
    }
    if (!keep) {
        self->rx_dropped++;
        return -1;
    }
    self->rx_frames++;
    return (int)(len - 4);
}

int lan9118_tx(lan9118_t *self, const uint32_t *buf, size_t len) {
    if (len < 14 || len > LAN9118_MAX_FRAME) {
        self->tx_dropped++;
        return LAN9118_EINVAL;
    }
    size_t words = (len + 3) / 4;
    int i = 0;
    while ((rd(self, TX_FIFO_INF) & 0xFFFF) < words * 4 + 8) {
        if (++i == SPIN) {
            self->tx_dropped++;
            return LAN9118_ENOSPC;
        }
    }
    uint32_t tag = (self->tx_frames & 0xFFFF) << 16;
    wr(self, TX_DATA_FIFO, TXCMD_A_FIRST | TXCMD_A_LAST | (uint32_t)len);
    wr(self, TX_DATA_FIFO, tag | (uint32_t)len);
    for (size_t k = 0; k < words; k++) {
        wr(self, TX_DATA_FIFO, buf[k]);
    }
    self->tx_frames++;
    return 0;
}
