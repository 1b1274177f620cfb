/* custom_support.h — libopus's CUSTOM_SUPPORT hook (celt/os_support.h) for native_codec's builds of
 * libopus 1.3.1 (host, Cortex-M, wasm32; see host_tools/native/opus.py): no heap. opus_alloc()
 * returns NULL, so the opus_*_create() functions fail with OPUS_ALLOC_FAIL and never call malloc;
 * encoder and decoder states live in caller memory (opus_encoder_get_size() + opus_encoder_init(),
 * opus_decoder_get_size() + opus_decoder_init()), as native_codec's own codecs do. Scratch arrays
 * are C99 variable-length arrays on the stack (VAR_ARRAYS). */
#ifndef EDGECALL_OPUS_CUSTOM_SUPPORT_H
#define EDGECALL_OPUS_CUSTOM_SUPPORT_H

#include <stddef.h>

#define OVERRIDE_OPUS_ALLOC
#define OVERRIDE_OPUS_FREE

static inline void *opus_alloc(size_t size)
{
    (void)size;
    return NULL;
}

static inline void opus_free(void *ptr)
{
    (void)ptr;
}

#endif
