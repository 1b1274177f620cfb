// lan9118.h — driver for the SMSC LAN9118 Ethernet controller of the devkit (QEMU's mps2-an386
// maps it at 0x40200000, interrupt 13 of the FPGA image). The controller's state is the caller's
// (lan9118_t); the driver owns no memory and calls no allocator. Frames move through the
// controller's FIFOs in 32-bit words (PIO), the way the datasheet's host interface describes it.
#ifndef EDGECALL_LAN9118_H
#define EDGECALL_LAN9118_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAN9118_BASE 0x40200000u
#define LAN9118_IRQ 13

// The largest frame the driver moves (without the FCS); a longer one is dropped.
#define LAN9118_MAX_FRAME 1536

// Interrupt sources the driver enables (INT_STS / INT_EN bits).
#define LAN9118_INT_RSFL (1u << 3)    // RX status FIFO above its level: frames to read
#define LAN9118_INT_PHY  (1u << 18)   // the PHY's interrupt: link up or down
#define LAN9118_INT_RXE  (1u << 14)   // receiver error

typedef struct _lan9118_t {
    uintptr_t base;
    uint8_t mac[6];
    uint32_t rx_frames;     // frames handed to the caller
    uint32_t rx_dropped;    // frames dropped: receive errors, too long, no room in the caller's buffer
    uint32_t tx_frames;
    uint32_t tx_dropped;    // frames not sent: too long, or no room in the TX FIFO in time
} lan9118_t;

// Negative error codes.
#define LAN9118_ENODEV   (-1)  // no LAN9118 at the address (BYTE_TEST/ID_REV wrong)
#define LAN9118_ETIMEOUT (-2)  // the controller did not finish a reset or a register access
#define LAN9118_EINVAL   (-3)  // bad argument (frame length)
#define LAN9118_ENOSPC   (-4)  // TX FIFO full

// Resets the controller and its PHY, sets the MAC address and the frame filter (own address,
// broadcast, all multicast), enables the receiver, the transmitter and the interrupts RSFL and
// PHY (active-high push-pull output). 0 or a negative error code.
int lan9118_init(lan9118_t *self, uintptr_t base, const uint8_t mac[6]);

// Stops the receiver and the transmitter and masks every interrupt.
void lan9118_deinit(lan9118_t *self);

// True when the PHY reports the link up (basic status register, link status bit).
bool lan9118_link_up(lan9118_t *self);

// Interrupt handling. pending() reads INT_STS & INT_EN; mask() masks all interrupts (the line
// falls); ack(bits) clears the given INT_STS bits; unmask() enables the driver's interrupts again
// (the line rises at once if a source is still set). ack_phy() reads the PHY's interrupt source
// register, which clears the PHY's interrupt; it returns the source bits.
uint32_t lan9118_irq_pending(lan9118_t *self);
void lan9118_irq_mask(lan9118_t *self);
void lan9118_irq_ack(lan9118_t *self, uint32_t bits);
void lan9118_irq_unmask(lan9118_t *self);
uint32_t lan9118_ack_phy(lan9118_t *self);

// Receives the next frame into buf (capacity cap bytes, word-aligned). Returns its length without
// the FCS, 0 when no frame is waiting, or -1 when a frame was dropped (error, or longer than cap):
// call again for the next one.
int lan9118_rx(lan9118_t *self, uint32_t *buf, size_t cap);

// Sends one frame of len bytes (14..LAN9118_MAX_FRAME) from buf (word-aligned). 0 or a negative
// error code.
int lan9118_tx(lan9118_t *self, const uint32_t *buf, size_t len);

#endif
