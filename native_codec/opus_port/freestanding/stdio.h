/* stdio.h — for freestanding wasm32 builds of libopus: included, but only used by its assertion
 * and debug code, which these builds leave out (no ENABLE_ASSERTIONS, no stdio). */
#ifndef EDGECALL_FREESTANDING_STDIO_H
#define EDGECALL_FREESTANDING_STDIO_H

#include <stddef.h>

#endif
