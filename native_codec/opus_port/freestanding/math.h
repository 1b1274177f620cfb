/* math.h — for freestanding wasm32 builds of libopus. The fixed-point configuration computes in
 * integers; this header is included by shared code but its functions are not called. */
#ifndef EDGECALL_FREESTANDING_MATH_H
#define EDGECALL_FREESTANDING_MATH_H

#endif
