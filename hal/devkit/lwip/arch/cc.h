// arch/cc.h — lwIP's compiler/platform header for the devkit (Cortex-M4, GCC, no C library
// ctype): diagnostics are off, a failed assertion is ignored as in MicroPython's other ports.
#ifndef EDGECALL_DEVKIT_LWIP_ARCH_CC_H
#define EDGECALL_DEVKIT_LWIP_ARCH_CC_H

#define LWIP_PLATFORM_DIAG(x)
#define LWIP_PLATFORM_ASSERT(x)
#define LWIP_NO_CTYPE_H 1

#endif
