/* ec_err.h — error codes shared by every native_codec module.
 *
 * Functions return a non-negative count (samples, bytes) or EC_OK on success and one of these
 * negative codes on failure. A failing call writes nothing outside the buffers it was given and
 * leaves the state it was given unchanged unless its header says otherwise. */
#ifndef EC_ERR_H
#define EC_ERR_H

#define EC_OK 0
#define EC_ERR_ARG (-1)          /* a parameter is out of range or a pointer is NULL */
#define EC_ERR_SHORT_BUFFER (-2) /* the output (or state) buffer is too small */
#define EC_ERR_STATE (-3)        /* the state was not initialised by the matching _init */
#define EC_ERR_MALFORMED (-4)    /* the input does not parse */
#define EC_ERR_UNSUPPORTED (-5)  /* a valid but unsupported variant */

#endif
