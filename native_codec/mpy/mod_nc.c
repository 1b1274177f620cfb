/* mod_nc.c — _nc, the MicroPython binding of native_codec: G.711 (ITU-T G.711), G.722 (ITU-T
 * G.722), IMA/DVI4 ADPCM (RFC 3551 §4.5.1, WAV IMA blocks), PLC (G.711 Appendix I and its 16 kHz
 * variant) and the media stack of ec_media.h (RTP/RTCP, RED, FEC, NACK, jitter buffer), with Opus
 * (RFC 7587, libopus 1.3.1) when compiled with EC_MEDIA_WITH_OPUS; unless compiled with
 * NC_VIDEO=0, also the baseline JPEG encoder (ITU-T T.81, ec_jpeg.h) and RTP/JPEG (RFC 2435,
 * ec_rtpjpeg.h): packetizing a scan in memory or one being encoded straight into the packets, and
 * reassembling frames. The API is hal/stubs/_nc.pyi.
 *
 * One source for the two forms MicroPython takes C in:
 *   - a dynamic native module, _nc.mpy (py/dynruntime.mk, MICROPY_ENABLE_DYNRUNTIME defined), for
 *     stock MicroPython on boards: native_codec/mpy/Makefile, host_tools/native/natmod.py;
 *   - a user C module compiled into a firmware (native_codec/mpy/micropython.mk,
 *     USER_C_MODULES=<native_codec>), as in the virtual devkit's firmware.
 *
 * Codec and media states are caller-owned memory, as everywhere in native_codec: each lives
 * inside a MicroPython object of type _nc.State (the C *_state_size() bytes, 8-byte aligned, freed
 * by the garbage collector), which Python code cannot write into, so the C code only ever sees a
 * state its own _init made. No malloc in C, no globals (but the natmod's type object, which the
 * dynamic runtime needs in writable memory). A closed media state can be handed back to
 * media_tx_new/media_rx_new (their optional first argument) and its memory is used again when it
 * is large enough: a device allocates its large call states once, while its heap is whole, and no
 * call set-up depends on finding tens of KiB in one piece of a heap that calls have fragmented.
 *
 * Every argument is checked before C sees it: a wrong type raises TypeError (buffers) or
 * ValueError (ints), a wrong size, range or alignment ValueError naming the argument; nothing is
 * read or written outside the buffers given. Functions ending in _into write into a caller's
 * writable buffer, return the bytes written and allocate nothing: they are the media path. */
#include <stddef.h>
#include <stdint.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#ifdef MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#define NC_DYN 1
#else
#include "py/runtime.h"
#include "py/objint.h"
#include "py/objstr.h"
#define NC_DYN 0
#endif
#pragma GCC diagnostic pop

#include "ec_adpcm.h"
#include "ec_g711.h"
#include "ec_g722.h"
#include "ec_media.h"
#include "ec_plc.h"
/* NC_VIDEO (default 1): the JPEG encoder and RTP/JPEG (ec_jpeg.c, ec_rtpjpeg.c); 0 leaves them out. */
#ifndef NC_VIDEO
#define NC_VIDEO 1
#endif
#if NC_VIDEO
#include "ec_jpeg.h"
#include "ec_rtpjpeg.h"
#endif
#ifdef EC_MEDIA_WITH_OPUS
#include "opus.h"
#endif

/* ---- states ---- */

#define NC_FREED 0u
#define NC_G722_ENC 0x4e430001u
#define NC_G722_DEC 0x4e430002u
#define NC_ADPCM 0x4e430003u
#define NC_PLC 0x4e430004u
#define NC_MEDIA_TX 0x4e430005u
#define NC_MEDIA_RX 0x4e430006u
#define NC_JPEG_ENC 0x4e430007u
#define NC_RTPJPEG_PACK 0x4e430008u
#define NC_RTPJPEG_DEPACK 0x4e430009u

typedef struct {
    mp_obj_base_t base;
    uint32_t kind;  /* NC_*, NC_FREED after media_free() */
    uint32_t size;  /* bytes of the C state */
    uint32_t cap;   /* bytes of mem[] (at least size; more in a state used again) */
    mp_obj_t ref;   /* an object the C state points into (the scan of rtpjpeg_pack_frame), or None:
                       kept here so the garbage collector keeps it while the state uses it */
    uint64_t mem[]; /* the C state, 8-byte aligned */
} nc_state_t;

#if NC_DYN
mp_obj_full_type_t nc_state_type;
#define NC_STATE_TYPE ((const mp_obj_type_t *)&nc_state_type)
#else
static MP_DEFINE_CONST_OBJ_TYPE(nc_state_type, MP_QSTR_State, MP_TYPE_FLAG_NONE);
#define NC_STATE_TYPE (&nc_state_type)
#endif

/* ---- error messages (no printf in a dynamic module: a small formatter) ---- */

typedef struct {
    char b[128];
    size_t n;
} nc_msg;

static void msg_s(nc_msg *m, const char *s)
{
    while (*s != '\0' && m->n < sizeof m->b) {
        m->b[m->n++] = *s++;
    }
}

static void msg_i(nc_msg *m, int64_t v)
{
    char d[12];
    size_t k = 0;
    uint32_t mag = (uint32_t)(v < 0 ? -v : v); /* |v| < 2**32 here */
    if (v < 0) {
        msg_s(m, "-");
    }
    do {
        d[k++] = (char)('0' + mag % 10u);
        mag /= 10u;
    } while (mag != 0u && k < sizeof d);
    while (k > 0 && m->n < sizeof m->b) {
        m->b[m->n++] = d[--k];
    }
}

static MP_NORETURN void msg_raise(const mp_obj_type_t *type, nc_msg *m)
{
    nlr_raise(mp_obj_new_exception_arg1(type, mp_obj_new_str(m->b, m->n)));
}

static MP_NORETURN void nc_value_error(const char *a, const char *b)
{
    nc_msg m = {{0}, 0};
    msg_s(&m, a);
    msg_s(&m, b);
    msg_raise(&mp_type_ValueError, &m);
}

static MP_NORETURN void nc_type_error(const char *a, const char *b)
{
    nc_msg m = {{0}, 0};
    msg_s(&m, a);
    msg_s(&m, b);
    msg_raise(&mp_type_TypeError, &m);
}

/* "<what>: <text> (<rc>)" for a C error the checks here should have prevented. */
static MP_NORETURN void nc_c_error(const char *what, int rc)
{
    nc_msg m = {{0}, 0};
    msg_s(&m, what);
    msg_s(&m, rc == EC_ERR_SHORT_BUFFER ? ": buffer too small (" :
               rc == EC_ERR_STATE ? ": state not initialised (" :
               rc == EC_ERR_MALFORMED ? ": malformed input (" :
               rc == EC_ERR_UNSUPPORTED ? ": unsupported (" : ": bad argument (");
    msg_i(&m, rc);
    msg_s(&m, ")");
    msg_raise(&mp_type_ValueError, &m);
}

static int nc_check(int rc, const char *what)
{
    if (rc < 0) {
        nc_c_error(what, rc);
    }
    return rc;
}

/* ---- arguments ---- */

/* An int argument in lo..hi (in steps of step from lo): a small int, or a long int below 2**32.
 * bool, float and the rest raise ValueError naming the argument, as the other backends do. */
static int64_t nc_int(mp_obj_t o, const char *name, int64_t lo, int64_t hi, int32_t step)
{
    int64_t v;
    int fits = 1;
    nc_msg m = {{0}, 0};
    if (mp_obj_is_small_int(o)) {
        v = MP_OBJ_SMALL_INT_VALUE(o);
    } else if (mp_obj_is_exact_type(o, &mp_type_int)) {
#if !NC_DYN && MICROPY_LONGINT_IMPL == MICROPY_LONGINT_IMPL_MPZ && UINTPTR_MAX == 0xFFFFFFFFu
        /* 0 .. 2**32 - 1 read without allocating (an RTP timestamp is a long int half of the
         * time); mp_uint_t is 32 bits here */
        mp_uint_t t = 0;
        fits = mpz_as_uint_checked(&((mp_obj_int_t *)MP_OBJ_TO_PTR(o))->mpz, &t);
#else
        uint32_t t = (uint32_t)mp_obj_get_int_truncated(o);
        fits = mp_obj_is_true(mp_binary_op(MP_BINARY_OP_EQUAL, o, mp_obj_new_int_from_uint(t)));
#endif
        v = (int64_t)t;
    } else {
        nc_value_error(name, " must be an int");
    }
    if (fits && v >= lo && v <= hi && (step <= 1 || (int32_t)(v - lo) % step == 0)) {
        return v;
    }
    msg_s(&m, name);
    msg_s(&m, " must be from ");
    msg_i(&m, lo);
    msg_s(&m, " to ");
    msg_i(&m, hi);
    if (step > 1) {
        msg_s(&m, " in steps of ");
        msg_i(&m, step);
    }
    if (fits) {
        msg_s(&m, ", got ");
        msg_i(&m, v);
    }
    msg_raise(&mp_type_ValueError, &m);
}

/* A flag: True, False, 0 or 1. */
static int nc_bool(mp_obj_t o, const char *name)
{
    if (o == mp_const_true || o == mp_const_false) {
        return o == mp_const_true;
    }
    if (mp_obj_is_small_int(o) && (MP_OBJ_SMALL_INT_VALUE(o) == 0 || MP_OBJ_SMALL_INT_VALUE(o) == 1)) {
        return (int)MP_OBJ_SMALL_INT_VALUE(o);
    }
    nc_value_error(name, " must be True or False");
}

/* A time in ms: any non-negative int, taken modulo 2**32 (the C clock wraps). */
static uint32_t nc_now(mp_obj_t o)
{
    if (mp_obj_is_small_int(o) && MP_OBJ_SMALL_INT_VALUE(o) >= 0) {
        return (uint32_t)MP_OBJ_SMALL_INT_VALUE(o);
    }
    if (mp_obj_is_exact_type(o, &mp_type_int) &&
        !mp_obj_is_true(mp_binary_op(MP_BINARY_OP_LESS, o, MP_OBJ_NEW_SMALL_INT(0)))) {
        return (uint32_t)mp_obj_get_int_truncated(o);
    }
    nc_value_error("now_ms must be a non-negative int (milliseconds)", "");
}

/* A readable bytes-like argument (bytes, bytearray, memoryview, array). str is refused: text
 * is not audio or a packet. */
static void nc_rbuf(mp_obj_t o, mp_buffer_info_t *bi, const char *name)
{
    if (mp_obj_is_str(o) || !mp_get_buffer(o, bi, MP_BUFFER_READ)) {
        nc_type_error(name, " must be a bytes-like object");
    }
}

/* A writable bytes-like argument of at least need bytes. */
static void nc_wbuf(mp_obj_t o, mp_buffer_info_t *bi, const char *name, size_t need)
{
    nc_msg m = {{0}, 0};
    if (mp_obj_is_str(o) || !mp_get_buffer(o, bi, MP_BUFFER_READ)) {
        nc_type_error(name, " must be a writable bytes-like object");
    }
    if (mp_get_buffer(o, bi, MP_BUFFER_WRITE) && bi->len >= need) {
        return;
    }
    msg_s(&m, name);
    msg_s(&m, ": a writable buffer of ");
    msg_i(&m, (int64_t)need);
    msg_s(&m, " bytes is required");
    msg_raise(&mp_type_ValueError, &m);
}

/* int16 samples must start at an even address (a Cortex-M0 faults on unaligned halfwords). */
static void nc_align16(const mp_buffer_info_t *bi, const char *name)
{
    if (((uintptr_t)bi->buf & 1u) != 0u) {
        nc_value_error(name, " must start at an even address (int16 samples)");
    }
}

/* PCM input: whole int16 samples, aligned. Returns the sample count. */
static size_t nc_pcm_in(mp_obj_t o, mp_buffer_info_t *bi, const char *name)
{
    nc_rbuf(o, bi, name);
    if ((bi->len & 1u) != 0u) {
        nc_value_error(name, " must be whole int16 samples (an even number of bytes)");
    }
    nc_align16(bi, name);
    return bi->len / 2u;
}

static nc_state_t *nc_state(mp_obj_t o, uint32_t kind, const char *what)
{
    nc_state_t *s;
    if (!mp_obj_is_exact_type(o, NC_STATE_TYPE)) {
        nc_type_error(what, ": the state must be an _nc.State");
    }
    s = (nc_state_t *)MP_OBJ_TO_PTR(o);
    if (s->kind == NC_FREED) {
        nc_value_error(what, ": the state is closed");
    }
    if (s->kind != kind) {
        nc_value_error(what, ": a state of another kind was given");
    }
    return s;
}

static nc_state_t *nc_state_new(uint32_t kind, size_t size)
{
    nc_state_t *s = mp_obj_malloc_var(nc_state_t, mem, uint64_t, (size + 7u) / 8u, NC_STATE_TYPE);
    s->kind = kind;
    s->size = (uint32_t)size;
    s->cap = (uint32_t)((size + 7u) / 8u * 8u);
    s->ref = mp_const_none;
    return s;
}

/* A state for `size` bytes of C state: the memory of `spare` (a closed _nc.State with room
 * enough) when one is given, else a new object. A spare that is still open or too small is not
 * touched; a new state is made instead. */
static nc_state_t *nc_state_reuse(mp_obj_t spare, uint32_t kind, size_t size)
{
    nc_state_t *s;
    if (spare == mp_const_none) {
        return nc_state_new(kind, size);
    }
    s = (nc_state_t *)MP_OBJ_TO_PTR(spare);
    if (s->kind != NC_FREED || s->cap < size) {
        return nc_state_new(kind, size);
    }
    for (size_t i = 0; i < s->cap / 8u; i++) {
        s->mem[i] = 0u; /* as a new object's memory is */
    }
    s->kind = kind;
    s->size = (uint32_t)size;
    s->ref = mp_const_none;
    return s;
}

/* The optional first argument of media_tx_new/media_rx_new: a spare State or None (taken off
 * the arguments), else None; then lo..hi arguments must remain. */
static mp_obj_t nc_spare_arg(size_t *n_args, const mp_obj_t **a, size_t lo, size_t hi, const char *usage)
{
    mp_obj_t spare = mp_const_none;
    if (*n_args > 0u && ((*a)[0] == mp_const_none || mp_obj_is_exact_type((*a)[0], NC_STATE_TYPE))) {
        spare = (*a)[0];
        (*a)++;
        (*n_args)--;
    }
    if (*n_args < lo || *n_args > hi) {
        nc_value_error(usage, "");
    }
    return spare;
}

/* ---- new bytes objects for the allocating variants ---- */

typedef struct {
#if NC_DYN
    uint8_t *p;
#else
    vstr_t v;
#endif
} nc_out;

static uint8_t *nc_out_new(nc_out *o, size_t n)
{
#if NC_DYN
    o->p = (uint8_t *)m_malloc(n > 0u ? n : 1u);
    return o->p;
#else
    vstr_init_len(&o->v, n);
    return (uint8_t *)o->v.buf;
#endif
}

static mp_obj_t nc_out_bytes(nc_out *o, size_t n)
{
#if NC_DYN
    mp_obj_t r = mp_obj_new_bytes(o->p, n);
    m_free(o->p);
    return r;
#else
    o->v.len = n;
    return mp_obj_new_bytes_from_vstr(&o->v);
#endif
}

/* ---- G.711 ---- */

static int nc_law(mp_obj_t o)
{
    return (int)nc_int(o, "law (0: ulaw, 1: alaw)", 0, 1, 1);
}

static size_t g711_enc(mp_obj_t law_in, mp_obj_t pcm_in, uint8_t *out, size_t cap)
{
    mp_buffer_info_t pcm;
    int law = nc_law(law_in);
    size_t n = nc_pcm_in(pcm_in, &pcm, "pcm");
    if (cap < n) {
        nc_value_error("out", ": one byte per sample is required");
    }
    return n == 0u ? 0u : (size_t)nc_check(ec_g711_encode(law, (const int16_t *)pcm.buf, n, out, cap), "g711_encode");
}

static mp_obj_t nc_g711_encode(mp_obj_t law_in, mp_obj_t pcm_in)
{
    mp_buffer_info_t pcm;
    nc_out o;
    uint8_t *p;
    nc_pcm_in(pcm_in, &pcm, "pcm");
    p = nc_out_new(&o, pcm.len / 2u);
    return nc_out_bytes(&o, g711_enc(law_in, pcm_in, p, pcm.len / 2u));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_g711_encode_obj, nc_g711_encode);

static mp_obj_t nc_g711_encode_into(mp_obj_t law_in, mp_obj_t pcm_in, mp_obj_t out_in)
{
    mp_buffer_info_t pcm, out;
    nc_pcm_in(pcm_in, &pcm, "pcm");
    nc_wbuf(out_in, &out, "out", pcm.len / 2u);
    return MP_OBJ_NEW_SMALL_INT(g711_enc(law_in, pcm_in, (uint8_t *)out.buf, out.len));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_g711_encode_into_obj, nc_g711_encode_into);

static size_t g711_dec(mp_obj_t law_in, mp_obj_t data_in, int16_t *out, size_t cap)
{
    mp_buffer_info_t data;
    int law = nc_law(law_in);
    nc_rbuf(data_in, &data, "data");
    if (cap < data.len) {
        nc_value_error("out", ": two bytes per code are required");
    }
    if (data.len == 0u) {
        return 0u;
    }
    return 2u * (size_t)nc_check(ec_g711_decode(law, (const uint8_t *)data.buf, data.len, out, cap), "g711_decode");
}

static mp_obj_t nc_g711_decode(mp_obj_t law_in, mp_obj_t data_in)
{
    mp_buffer_info_t data;
    nc_out o;
    uint8_t *p;
    nc_rbuf(data_in, &data, "data");
    p = nc_out_new(&o, 2u * data.len);
    return nc_out_bytes(&o, g711_dec(law_in, data_in, (int16_t *)(void *)p, data.len));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_g711_decode_obj, nc_g711_decode);

static mp_obj_t nc_g711_decode_into(mp_obj_t law_in, mp_obj_t data_in, mp_obj_t out_in)
{
    mp_buffer_info_t data, out;
    nc_rbuf(data_in, &data, "data");
    nc_wbuf(out_in, &out, "out", 2u * data.len);
    nc_align16(&out, "out");
    return MP_OBJ_NEW_SMALL_INT(g711_dec(law_in, data_in, (int16_t *)out.buf, out.len / 2u));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_g711_decode_into_obj, nc_g711_decode_into);

/* ---- G.722 ---- */

static int nc_g722_bitrate(mp_obj_t o, const char *name)
{
    int64_t b = nc_int(o, name, 48000, 64000, 8000);
    if (b != 48000 && b != 56000 && b != 64000) {
        nc_value_error(name, " must be 64000, 56000 or 48000");
    }
    return (int)b;
}

static mp_obj_t nc_g722_enc_new(mp_obj_t bitrate_in)
{
    int bitrate = nc_g722_bitrate(bitrate_in, "bitrate");
    size_t size = ec_g722_enc_state_size();
    nc_state_t *s = nc_state_new(NC_G722_ENC, size);
    nc_check(ec_g722_enc_init((ec_g722_enc *)(void *)s->mem, size, bitrate), "g722_enc_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_g722_enc_new_obj, nc_g722_enc_new);

static size_t g722_enc(mp_obj_t st_in, const mp_buffer_info_t *pcm, uint8_t *out, size_t cap)
{
    nc_state_t *s = nc_state(st_in, NC_G722_ENC, "g722_encode");
    size_t n = pcm->len / 2u;
    if (n == 0u) {
        return 0u;
    }
    return (size_t)nc_check(ec_g722_encode((ec_g722_enc *)(void *)s->mem, (const int16_t *)pcm->buf, n, out, cap),
                            "g722_encode");
}

static size_t g722_pcm(mp_obj_t pcm_in, mp_buffer_info_t *pcm)
{
    size_t n = nc_pcm_in(pcm_in, pcm, "pcm");
    if ((n & 1u) != 0u) {
        nc_value_error("pcm", " must be an even number of samples (two per G.722 codeword)");
    }
    return n / 2u;
}

static mp_obj_t nc_g722_encode(mp_obj_t st_in, mp_obj_t pcm_in)
{
    mp_buffer_info_t pcm;
    nc_out o;
    size_t n = g722_pcm(pcm_in, &pcm);
    uint8_t *p;
    nc_state(st_in, NC_G722_ENC, "g722_encode");
    p = nc_out_new(&o, n);
    return nc_out_bytes(&o, g722_enc(st_in, &pcm, p, n));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_g722_encode_obj, nc_g722_encode);

static mp_obj_t nc_g722_encode_into(mp_obj_t st_in, mp_obj_t pcm_in, mp_obj_t out_in)
{
    mp_buffer_info_t pcm, out;
    size_t n = g722_pcm(pcm_in, &pcm);
    nc_wbuf(out_in, &out, "out", n);
    return MP_OBJ_NEW_SMALL_INT(g722_enc(st_in, &pcm, (uint8_t *)out.buf, out.len));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_g722_encode_into_obj, nc_g722_encode_into);

static mp_obj_t nc_g722_dec_new(mp_obj_t bitrate_in)
{
    int bitrate = nc_g722_bitrate(bitrate_in, "bitrate");
    size_t size = ec_g722_dec_state_size();
    nc_state_t *s = nc_state_new(NC_G722_DEC, size);
    nc_check(ec_g722_dec_init((ec_g722_dec *)(void *)s->mem, size, bitrate), "g722_dec_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_g722_dec_new_obj, nc_g722_dec_new);

static size_t g722_dec(mp_obj_t st_in, const mp_buffer_info_t *data, int16_t *out, size_t cap)
{
    nc_state_t *s = nc_state(st_in, NC_G722_DEC, "g722_decode");
    if (data->len == 0u) {
        return 0u;
    }
    return 2u * (size_t)nc_check(ec_g722_decode((ec_g722_dec *)(void *)s->mem, (const uint8_t *)data->buf,
                                                data->len, out, cap), "g722_decode");
}

static mp_obj_t nc_g722_decode(mp_obj_t st_in, mp_obj_t data_in)
{
    mp_buffer_info_t data;
    nc_out o;
    uint8_t *p;
    nc_rbuf(data_in, &data, "data");
    nc_state(st_in, NC_G722_DEC, "g722_decode");
    p = nc_out_new(&o, 4u * data.len);
    return nc_out_bytes(&o, g722_dec(st_in, &data, (int16_t *)(void *)p, 2u * data.len));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_g722_decode_obj, nc_g722_decode);

static mp_obj_t nc_g722_decode_into(mp_obj_t st_in, mp_obj_t data_in, mp_obj_t out_in)
{
    mp_buffer_info_t data, out;
    nc_rbuf(data_in, &data, "data");
    nc_wbuf(out_in, &out, "out", 4u * data.len);
    nc_align16(&out, "out");
    return MP_OBJ_NEW_SMALL_INT(g722_dec(st_in, &data, (int16_t *)out.buf, out.len / 2u));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_g722_decode_into_obj, nc_g722_decode_into);

/* ---- IMA ADPCM: DVI4 payloads and WAV IMA blocks ---- */

static mp_obj_t nc_adpcm_new(void)
{
    size_t size = ec_adpcm_state_size();
    nc_state_t *s = nc_state_new(NC_ADPCM, size);
    nc_check(ec_adpcm_init((ec_adpcm *)(void *)s->mem, size), "adpcm_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_0(nc_adpcm_new_obj, nc_adpcm_new);

static size_t dvi4_pcm(mp_obj_t pcm_in, mp_buffer_info_t *pcm)
{
    size_t n = nc_pcm_in(pcm_in, pcm, "pcm");
    if ((n & 1u) != 0u) {
        nc_value_error("pcm", " must be an even number of samples (DVI4 packs two per byte)");
    }
    return EC_DVI4_HEADER + n / 2u;
}

static size_t dvi4_enc(mp_obj_t st_in, const mp_buffer_info_t *pcm, uint8_t *out, size_t cap)
{
    nc_state_t *s = nc_state(st_in, NC_ADPCM, "dvi4_encode");
    return (size_t)nc_check(ec_dvi4_encode((ec_adpcm *)(void *)s->mem, (const int16_t *)pcm->buf, pcm->len / 2u,
                                           out, cap), "dvi4_encode");
}

static mp_obj_t nc_dvi4_encode(mp_obj_t st_in, mp_obj_t pcm_in)
{
    mp_buffer_info_t pcm;
    nc_out o;
    size_t n = dvi4_pcm(pcm_in, &pcm);
    uint8_t *p;
    nc_state(st_in, NC_ADPCM, "dvi4_encode");
    p = nc_out_new(&o, n);
    return nc_out_bytes(&o, dvi4_enc(st_in, &pcm, p, n));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_dvi4_encode_obj, nc_dvi4_encode);

static mp_obj_t nc_dvi4_encode_into(mp_obj_t st_in, mp_obj_t pcm_in, mp_obj_t out_in)
{
    mp_buffer_info_t pcm, out;
    size_t n = dvi4_pcm(pcm_in, &pcm);
    nc_wbuf(out_in, &out, "out", n);
    return MP_OBJ_NEW_SMALL_INT(dvi4_enc(st_in, &pcm, (uint8_t *)out.buf, out.len));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_dvi4_encode_into_obj, nc_dvi4_encode_into);

static size_t dvi4_samples(mp_obj_t data_in, mp_buffer_info_t *data)
{
    nc_rbuf(data_in, data, "data");
    if (data->len < EC_DVI4_HEADER) {
        nc_value_error("data", ": a DVI4 payload has a 4-byte header");
    }
    return 2u * (data->len - EC_DVI4_HEADER);
}

static size_t dvi4_dec(mp_obj_t st_in, const mp_buffer_info_t *data, int16_t *out, size_t cap)
{
    nc_state_t *s = nc_state(st_in, NC_ADPCM, "dvi4_decode");
    int rc = ec_dvi4_decode((ec_adpcm *)(void *)s->mem, (const uint8_t *)data->buf, data->len, out, cap);
    if (rc == EC_ERR_MALFORMED) {
        nc_value_error("data", ": malformed DVI4 header (step index above 88)");
    }
    return 2u * (size_t)nc_check(rc, "dvi4_decode");
}

static mp_obj_t nc_dvi4_decode(mp_obj_t st_in, mp_obj_t data_in)
{
    mp_buffer_info_t data;
    nc_out o;
    size_t n = dvi4_samples(data_in, &data);
    uint8_t *p;
    nc_state(st_in, NC_ADPCM, "dvi4_decode");
    p = nc_out_new(&o, 2u * n);
    return nc_out_bytes(&o, dvi4_dec(st_in, &data, (int16_t *)(void *)p, n));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_dvi4_decode_obj, nc_dvi4_decode);

static mp_obj_t nc_dvi4_decode_into(mp_obj_t st_in, mp_obj_t data_in, mp_obj_t out_in)
{
    mp_buffer_info_t data, out;
    size_t n = dvi4_samples(data_in, &data);
    nc_wbuf(out_in, &out, "out", 2u * n);
    nc_align16(&out, "out");
    return MP_OBJ_NEW_SMALL_INT(dvi4_dec(st_in, &data, (int16_t *)out.buf, out.len / 2u));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_dvi4_decode_into_obj, nc_dvi4_decode_into);

/* One WAV IMA block of block_size bytes from exactly (block_size - 4) * 2 + 1 samples. */
static mp_obj_t nc_ima_encode(mp_obj_t st_in, mp_obj_t pcm_in, mp_obj_t block_size_in)
{
    mp_buffer_info_t pcm;
    nc_out o;
    size_t bs = (size_t)nc_int(block_size_in, "block_size", 5, 65536, 1);
    size_t n = nc_pcm_in(pcm_in, &pcm, "pcm");
    nc_state_t *s = nc_state(st_in, NC_ADPCM, "ima_encode");
    uint8_t *p;
    if (n != (bs - EC_IMA_WAV_HEADER) * 2u + 1u) {
        nc_value_error("pcm", " must be (block_size - 4) * 2 + 1 samples (one WAV IMA block)");
    }
    p = nc_out_new(&o, bs);
    return nc_out_bytes(&o, (size_t)nc_check(ec_ima_wav_encode_block((ec_adpcm *)(void *)s->mem,
                                                                     (const int16_t *)pcm.buf, n, p, bs),
                                             "ima_encode"));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_ima_encode_obj, nc_ima_encode);

/* One WAV IMA block (its length is the block size) → (len - 4) * 2 + 1 samples. */
static mp_obj_t nc_ima_decode(mp_obj_t st_in, mp_obj_t block_in)
{
    mp_buffer_info_t blk;
    nc_out o;
    nc_state_t *s = nc_state(st_in, NC_ADPCM, "ima_decode");
    size_t n;
    uint8_t *p;
    int rc;
    nc_rbuf(block_in, &blk, "block");
    if (blk.len < EC_IMA_WAV_HEADER + 1u || blk.len > 65536u) {
        nc_value_error("block", " must be one WAV IMA block of 5 to 65536 bytes");
    }
    n = (blk.len - EC_IMA_WAV_HEADER) * 2u + 1u;
    p = nc_out_new(&o, 2u * n);
    rc = ec_ima_wav_decode_block((ec_adpcm *)(void *)s->mem, (const uint8_t *)blk.buf, blk.len,
                                 (int16_t *)(void *)p, n);
    if (rc == EC_ERR_MALFORMED) {
        nc_value_error("block", ": malformed WAV IMA header (step index above 88)");
    }
    return nc_out_bytes(&o, 2u * (size_t)nc_check(rc, "ima_decode"));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_ima_decode_obj, nc_ima_decode);

/* ---- PLC: frames of whole 10 ms blocks ---- */

static mp_obj_t nc_plc_new(mp_obj_t rate_in)
{
    int64_t rate = nc_int(rate_in, "rate", 8000, 16000, 8000);
    size_t size = ec_plc_state_size();
    nc_state_t *s = nc_state_new(NC_PLC, size);
    nc_check(ec_plc_init((ec_plc *)(void *)s->mem, size, (int)rate), "plc_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_plc_new_obj, nc_plc_new);

static ec_plc *plc_state(mp_obj_t st_in, const char *what, size_t *block)
{
    nc_state_t *s = nc_state(st_in, NC_PLC, what);
    ec_plc *p = (ec_plc *)(void *)s->mem;
    *block = (size_t)nc_check(ec_plc_frame_size(p), what);
    return p;
}

static mp_obj_t nc_plc_frame(mp_obj_t st_in)
{
    size_t block;
    plc_state(st_in, "plc_frame", &block);
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)block);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_plc_frame_obj, nc_plc_frame);

/* Checks that a buffer of len bytes is a whole, non-zero number of 10 ms blocks. */
static void plc_blocks(size_t len, size_t block, const char *name)
{
    nc_msg m = {{0}, 0};
    if (len > 0u && len % (2u * block) == 0u) {
        return;
    }
    msg_s(&m, name);
    msg_s(&m, " must be whole 10 ms blocks of ");
    msg_i(&m, (int64_t)(2u * block));
    msg_s(&m, " bytes, got ");
    msg_i(&m, (int64_t)len);
    msg_raise(&mp_type_ValueError, &m);
}

static void plc_good(ec_plc *p, size_t block, const int16_t *in, int16_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i += block) {
        nc_check(ec_plc_good(p, in + i, out + i, block), "plc_good");
    }
}

static void plc_lost(ec_plc *p, size_t block, int16_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i += block) {
        nc_check(ec_plc_lost(p, out + i, block), "plc_lost");
    }
}

static mp_obj_t nc_plc_good(mp_obj_t st_in, mp_obj_t frame_in)
{
    mp_buffer_info_t f;
    nc_out o;
    size_t block;
    ec_plc *p = plc_state(st_in, "plc_good", &block);
    size_t n = nc_pcm_in(frame_in, &f, "frame");
    uint8_t *out;
    plc_blocks(f.len, block, "frame");
    out = nc_out_new(&o, f.len);
    plc_good(p, block, (const int16_t *)f.buf, (int16_t *)(void *)out, n);
    return nc_out_bytes(&o, f.len);
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_plc_good_obj, nc_plc_good);

/* out may be the frame itself. */
static mp_obj_t nc_plc_good_into(mp_obj_t st_in, mp_obj_t frame_in, mp_obj_t out_in)
{
    mp_buffer_info_t f, out;
    size_t block;
    ec_plc *p = plc_state(st_in, "plc_good_into", &block);
    size_t n = nc_pcm_in(frame_in, &f, "frame");
    plc_blocks(f.len, block, "frame");
    nc_wbuf(out_in, &out, "out", f.len);
    nc_align16(&out, "out");
    plc_good(p, block, (const int16_t *)f.buf, (int16_t *)out.buf, n);
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)f.len);
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_plc_good_into_obj, nc_plc_good_into);

/* One concealed 10 ms block. */
static mp_obj_t nc_plc_lost(mp_obj_t st_in)
{
    nc_out o;
    size_t block;
    ec_plc *p = plc_state(st_in, "plc_lost", &block);
    uint8_t *out = nc_out_new(&o, 2u * block);
    plc_lost(p, block, (int16_t *)(void *)out, block);
    return nc_out_bytes(&o, 2u * block);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_plc_lost_obj, nc_plc_lost);

/* Conceals the whole of out (whole 10 ms blocks). */
static mp_obj_t nc_plc_lost_into(mp_obj_t st_in, mp_obj_t out_in)
{
    mp_buffer_info_t out;
    size_t block;
    ec_plc *p = plc_state(st_in, "plc_lost_into", &block);
    nc_wbuf(out_in, &out, "out", 0u);
    nc_align16(&out, "out");
    plc_blocks(out.len, block, "out");
    plc_lost(p, block, (int16_t *)out.buf, out.len / 2u);
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)out.len);
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_plc_lost_into_obj, nc_plc_lost_into);

/* ---- the media stack ---- */

#ifdef EC_MEDIA_WITH_OPUS
#define NC_MAX_CODEC EC_MEDIA_OPUS
#else
#define NC_MAX_CODEC EC_MEDIA_DVI4
#endif

static int nc_codec(mp_obj_t o)
{
    int64_t c = nc_int(o, "codec (0 pcmu, 1 pcma, 2 g722, 3 dvi4, 4 opus)", 0, EC_MEDIA_OPUS, 1);
    if (c > NC_MAX_CODEC) {
        nc_value_error("codec 4 (opus) is not in this _nc: it was built without libopus", "");
    }
    return (int)c;
}

static void nc_pts(mp_obj_t red_in, mp_obj_t fec_in, int *red, int *fec)
{
    *red = (int)nc_int(red_in, "pt_red", 96, 127, 1);
    *fec = (int)nc_int(fec_in, "pt_fec", 96, 127, 1);
    if (*red == *fec) {
        nc_value_error("pt_red and pt_fec must differ", "");
    }
}

static int nc_pt_opus(mp_obj_t o, int pt_red, int pt_fec)
{
    int pt = (int)nc_int(o, "pt_opus", 96, 127, 1);
    if (pt == pt_red || pt == pt_fec) {
        nc_value_error("pt_opus must differ from pt_red and pt_fec", "");
    }
    return pt;
}

static void nc_msg_pair(const char *a, int x, const char *b, int y, const char *c)
{
    nc_msg m = {{0}, 0};
    msg_s(&m, a);
    msg_i(&m, x);
    msg_s(&m, b);
    msg_i(&m, y);
    msg_s(&m, c);
    msg_raise(&mp_type_ValueError, &m);
}

/* media_tx_new([spare,] codec, ptime_ms, max_ptime_ms, red, fec_group, nack, cache_packets, adapt,
 *              g722_bitrate, pt_red, pt_fec, rtcp_interval_ms, ssrc, ts0, seq0, fec_seq0
 *              [, pt_opus, opus_bitrate, opus_complexity, opus_loss_perc])
 * spare: a closed State (or None) whose memory is used when it is large enough. */
static mp_obj_t nc_media_tx_new(size_t n_args, const mp_obj_t *a)
{
    ec_media_tx_config c = {0};
    nc_state_t *s;
    size_t size;
    int opus;
    mp_obj_t spare = nc_spare_arg(&n_args, &a, 16u, 20u, "media_tx_new: takes a spare state (optional) and 16 to 20 arguments");
    c.codec = nc_codec(a[0]);
    opus = c.codec == EC_MEDIA_OPUS;
    c.ptime_ms = (int)nc_int(a[1], "ptime_ms", 10, 60, 10);
    if (opus && c.ptime_ms != 20) {
        nc_msg_pair("ptime_ms must be 20 for opus (one 20 ms frame per packet), got ", c.ptime_ms, "", 0, "");
    }
    c.red = nc_bool(a[3], "red");
    c.fec_group = (int)nc_int(a[4], "fec_group", 0, 16, 1);
    if (opus && (c.red || c.fec_group)) {
        nc_value_error("red and fec_group are not used with opus (its in-band FEC is): leave them off", "");
    }
    c.max_ptime_ms = (int)nc_int(a[2], "max_ptime_ms", 10, 60, 10);
    if (c.ptime_ms > c.max_ptime_ms) {
        nc_msg_pair("ptime_ms (", c.ptime_ms, ") must not exceed max_ptime_ms (", c.max_ptime_ms, ")");
    }
    if (c.fec_group == 1) {
        nc_value_error("fec_group must be 0 (off) or from 2 to 16, got 1", "");
    }
    c.nack = nc_bool(a[5], "nack");
    c.cache_packets = (int)nc_int(a[6], "cache_packets", 8, 1024, 1);
    if (c.cache_packets < c.fec_group + 6) {
        nc_msg_pair("cache_packets must be at least fec_group + 6 (", c.fec_group + 6, "), got ", c.cache_packets, "");
    }
    c.adapt = nc_bool(a[7], "adapt");
    c.g722_bitrate = nc_g722_bitrate(a[8], "g722_bitrate");
    nc_pts(a[9], a[10], &c.pt_red, &c.pt_fec);
    c.rtcp_interval_ms = (int)nc_int(a[11], "rtcp_interval_ms", 100, 60000, 1);
    c.ssrc = (uint32_t)nc_int(a[12], "ssrc", 0, 0xFFFFFFFF, 1);
    c.ts0 = (uint32_t)nc_int(a[13], "ts", 0, 0xFFFFFFFF, 1);
    c.seq0 = (uint16_t)nc_int(a[14], "seq", 0, 0xFFFF, 1);
    c.fec_seq0 = (uint16_t)nc_int(a[15], "fec_seq", 0, 0xFFFF, 1);
    if (opus) {
        c.pt_opus = n_args > 16 ? nc_pt_opus(a[16], c.pt_red, c.pt_fec) : EC_MEDIA_OPUS_PT;
        c.opus_bitrate = n_args > 17 ? (int)nc_int(a[17], "opus_bitrate", 6000, 64000, 1) : EC_MEDIA_OPUS_BITRATE;
        c.opus_complexity = n_args > 18 ? (int)nc_int(a[18], "opus_complexity", 0, 10, 1) : 0;
        c.opus_loss_perc = n_args > 19 ? (int)nc_int(a[19], "opus_loss_perc", 0, 100, 1) : 0;
    }
    size = ec_media_tx_state_size(&c);
    if (size == 0u) {
        nc_value_error("media_tx_new: the configuration is not valid", "");
    }
    s = nc_state_reuse(spare, NC_MEDIA_TX, size);
    nc_check(ec_media_tx_init((ec_media_tx *)(void *)s->mem, size, &c), "media_tx_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(nc_media_tx_new_obj, 16, 21, nc_media_tx_new);

static ec_media_tx *tx_state(mp_obj_t st_in, const char *what)
{
    return (ec_media_tx *)(void *)nc_state(st_in, NC_MEDIA_TX, what)->mem;
}

static mp_obj_t nc_media_tx_push(mp_obj_t st_in, mp_obj_t pcm_in, mp_obj_t now_in)
{
    ec_media_tx *st = tx_state(st_in, "MediaSender.push");
    uint32_t now = nc_now(now_in);
    mp_buffer_info_t pcm;
    int16_t copy[EC_MEDIA_MAX_BLOCKS * 160]; /* the longest push: 60 ms at 16 kHz */
    const int16_t *samples;
    size_t n, blk = 2u * (size_t)st->block_samples;
    nc_rbuf(pcm_in, &pcm, "pcm");
    n = pcm.len / 2u;
    if (n == 0u || pcm.len % blk != 0u || pcm.len > blk * (size_t)(st->max_ptime_ms / 10) || pcm.len > sizeof copy) {
        nc_msg m = {{0}, 0};
        msg_s(&m, "MediaSender.push: PCM must be whole 10 ms blocks of ");
        msg_i(&m, (int64_t)blk);
        msg_s(&m, " bytes, at most ");
        msg_i(&m, st->max_ptime_ms);
        msg_s(&m, " ms, got ");
        msg_i(&m, (int64_t)pcm.len);
        msg_s(&m, " bytes");
        msg_raise(&mp_type_ValueError, &m);
    }
    samples = (const int16_t *)pcm.buf;
    if (((uintptr_t)pcm.buf & 1u) != 0u) { /* PCM inside a packet or file at an odd offset */
        const uint8_t *src = (const uint8_t *)pcm.buf;
        uint8_t *dst = (uint8_t *)copy;
        size_t i;
        for (i = 0; i < pcm.len; i++) {
            dst[i] = src[i];
        }
        samples = copy;
    }
    nc_check(ec_media_tx_push(st, samples, n, now), "MediaSender.push");
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_media_tx_push_obj, nc_media_tx_push);

static int tx_poll(mp_obj_t st_in, uint32_t now, uint8_t *out, size_t cap)
{
    int rc = ec_media_tx_poll(tx_state(st_in, "MediaSender.poll"), now, out, cap);
    if (rc == EC_ERR_SHORT_BUFFER) {
        nc_value_error("MediaSender.poll: the buffer is too small for the next packet ",
                       "(EC_MEDIA_MAX_PACKET, 1024 bytes, always suffice)");
    }
    return nc_check(rc, "MediaSender.poll");
}

/* The next packet as new bytes, or None. */
static mp_obj_t nc_media_tx_poll(mp_obj_t st_in, mp_obj_t now_in)
{
    uint8_t pkt[EC_MEDIA_MAX_PACKET];
    int n = tx_poll(st_in, nc_now(now_in), pkt, sizeof pkt);
    return n > 0 ? mp_obj_new_bytes(pkt, (size_t)n) : mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_media_tx_poll_obj, nc_media_tx_poll);

/* The next packet written to the start of buf; its length, 0 when there is none. */
static mp_obj_t nc_media_tx_poll_into(mp_obj_t st_in, mp_obj_t buf_in, mp_obj_t now_in)
{
    mp_buffer_info_t buf;
    uint32_t now = nc_now(now_in);
    tx_state(st_in, "MediaSender.poll_into");
    nc_wbuf(buf_in, &buf, "buf", 1u);
    return MP_OBJ_NEW_SMALL_INT(tx_poll(st_in, now, (uint8_t *)buf.buf, buf.len));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_media_tx_poll_into_obj, nc_media_tx_poll_into);

/* RTCP feedback: True when it parsed (and was used), False when not. */
static mp_obj_t nc_media_tx_on_packet(mp_obj_t st_in, mp_obj_t pkt_in, mp_obj_t now_in)
{
    ec_media_tx *st = tx_state(st_in, "MediaSender.on_packet");
    uint32_t now = nc_now(now_in);
    mp_buffer_info_t pkt;
    int rc;
    nc_rbuf(pkt_in, &pkt, "packet");
    rc = ec_media_tx_on_packet(st, (const uint8_t *)pkt.buf, pkt.len, now);
    if (rc == EC_ERR_MALFORMED) {
        return mp_const_false;
    }
    nc_check(rc, "MediaSender.on_packet");
    return mp_const_true;
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_media_tx_on_packet_obj, nc_media_tx_on_packet);

static void put_u(mp_obj_t d, qstr key, uint32_t v)
{
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(key), mp_obj_new_int_from_uint(v));
}

static void put_i(mp_obj_t d, qstr key, int32_t v)
{
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(key), mp_obj_new_int(v));
}

static mp_obj_t nc_media_tx_stats(mp_obj_t st_in)
{
    ec_media_tx_stats s;
    mp_obj_t d;
    ec_media_tx *st = tx_state(st_in, "MediaSender.stats");
    nc_check(ec_media_tx_get_stats(st, &s), "MediaSender.stats");
    d = mp_obj_new_dict(26);
    put_u(d, MP_QSTR_packets, s.packets);
    put_u(d, MP_QSTR_octets, s.octets);
    put_u(d, MP_QSTR_media_packets, s.media_packets);
    put_u(d, MP_QSTR_fec_packets, s.fec_packets);
    put_u(d, MP_QSTR_red_packets, s.red_packets);
    put_u(d, MP_QSTR_retransmissions, s.retransmissions);
    put_u(d, MP_QSTR_sr_sent, s.sr_sent);
    put_u(d, MP_QSTR_rr_received, s.rr_received);
    put_u(d, MP_QSTR_nack_received, s.nack_received);
    put_u(d, MP_QSTR_nack_seqs, s.nack_seqs);
    put_u(d, MP_QSTR_nack_unavailable, s.nack_unavailable);
    put_u(d, MP_QSTR_fraction_lost, s.fraction_lost);
    put_i(d, MP_QSTR_cumulative_lost, s.cumulative_lost);
    put_u(d, MP_QSTR_jitter, s.jitter);
    put_i(d, MP_QSTR_rtt_ms, s.rtt_ms);
    put_u(d, MP_QSTR_level, s.level);
    put_u(d, MP_QSTR_level_changes, s.level_changes);
    put_u(d, MP_QSTR_loss_smoothed_q8, s.loss_smoothed_q8);
    put_u(d, MP_QSTR_ptime_ms, s.ptime_ms);
    put_u(d, MP_QSTR_red, s.red);
    put_u(d, MP_QSTR_fec_group, s.fec_group);
    put_u(d, MP_QSTR_g722_bitrate, s.g722_bitrate);
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        ec_media_opus_stats o;
        nc_check(ec_media_tx_opus_stats(st, &o), "MediaSender.stats");
        put_u(d, MP_QSTR_opus_bitrate, o.bitrate);
        put_u(d, MP_QSTR_opus_loss_perc, o.loss_perc);
        put_u(d, MP_QSTR_opus_inband_fec, o.inband_fec);
        put_u(d, MP_QSTR_opus_encode_errors, o.encode_errors);
    }
#endif
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_media_tx_stats_obj, nc_media_tx_stats);

/* media_rx_new([spare,] codec, ptime_ms, max_ptime_ms, buffer_ms, delay_ms, min_delay_ms,
 *              max_delay_ms, nack, nack_retry_ms, fec_slots, pt_red, pt_fec, rtcp_interval_ms, ssrc
 *              [, pt_opus])
 * delay_ms: None for the adaptive buffer, else a fixed delay of 1 .. buffer_ms - 20.
 * spare: a closed State (or None) whose memory is used when it is large enough. */
static mp_obj_t nc_media_rx_new(size_t n_args, const mp_obj_t *a)
{
    ec_media_rx_config c = {0};
    nc_state_t *s;
    size_t size;
    int minp, minbuf;
    mp_obj_t spare = nc_spare_arg(&n_args, &a, 14u, 15u, "media_rx_new: takes a spare state (optional) and 14 or 15 arguments");
    c.codec = nc_codec(a[0]);
    c.ptime_ms = (int)nc_int(a[1], "ptime_ms", 10, 60, 10);
    minp = c.codec == EC_MEDIA_OPUS ? 20 : 10;
    c.max_ptime_ms = (int)nc_int(a[2], "max_ptime_ms", minp, 60, 10);
    minbuf = 2 * c.max_ptime_ms > 80 ? 2 * c.max_ptime_ms : 80;
    c.buffer_ms = (int)nc_int(a[3], "buffer_ms", minbuf, 2000, 10);
    c.fixed_delay_ms = a[4] == mp_const_none ? 0 : (int)nc_int(a[4], "delay_ms", 1, c.buffer_ms - 20, 1);
    c.min_delay_ms = (int)nc_int(a[5], "min_delay_ms", 0, 2000, 1);
    c.max_delay_ms = (int)nc_int(a[6], "max_delay_ms", 0, 2000, 1);
    c.nack = nc_bool(a[7], "nack");
    c.nack_retry_ms = (int)nc_int(a[8], "nack_retry_ms", 10, 1000, 1);
    c.fec_slots = (int)nc_int(a[9], "fec_slots", 0, 4, 1);
    nc_pts(a[10], a[11], &c.pt_red, &c.pt_fec);
    c.rtcp_interval_ms = (int)nc_int(a[12], "rtcp_interval_ms", 100, 60000, 1);
    c.ssrc = (uint32_t)nc_int(a[13], "ssrc", 0, 0xFFFFFFFF, 1);
    if (c.codec == EC_MEDIA_OPUS) {
        c.pt_opus = n_args > 14 ? nc_pt_opus(a[14], c.pt_red, c.pt_fec) : EC_MEDIA_OPUS_PT;
    }
    size = ec_media_rx_state_size(&c);
    if (size == 0u) {
        nc_value_error("media_rx_new: the configuration is not valid", "");
    }
    s = nc_state_reuse(spare, NC_MEDIA_RX, size);
    nc_check(ec_media_rx_init((ec_media_rx *)(void *)s->mem, size, &c), "media_rx_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(nc_media_rx_new_obj, 14, 16, nc_media_rx_new);

static ec_media_rx *rx_state(mp_obj_t st_in, const char *what)
{
    return (ec_media_rx *)(void *)nc_state(st_in, NC_MEDIA_RX, what)->mem;
}

static mp_obj_t nc_media_rx_frame_bytes(mp_obj_t st_in)
{
    ec_media_rx *st = rx_state(st_in, "MediaReceiver.frame_bytes");
    return MP_OBJ_NEW_SMALL_INT(2 * nc_check(ec_media_rx_frame_samples(st), "MediaReceiver.frame_bytes"));
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_media_rx_frame_bytes_obj, nc_media_rx_frame_bytes);

/* EC_MEDIA_RX_* (>= 0), EC_ERR_MALFORMED or EC_ERR_UNSUPPORTED: a packet off the network is
 * never an error. */
static mp_obj_t nc_media_rx_packet(mp_obj_t st_in, mp_obj_t pkt_in, mp_obj_t now_in)
{
    ec_media_rx *st = rx_state(st_in, "MediaReceiver.on_packet");
    uint32_t now = nc_now(now_in);
    mp_buffer_info_t pkt;
    int rc;
    nc_rbuf(pkt_in, &pkt, "packet");
    rc = ec_media_rx_packet(st, (const uint8_t *)pkt.buf, pkt.len, now);
    if (rc < 0 && rc != EC_ERR_MALFORMED && rc != EC_ERR_UNSUPPORTED) {
        nc_c_error("MediaReceiver.on_packet", rc);
    }
    return MP_OBJ_NEW_SMALL_INT(rc);
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_media_rx_packet_obj, nc_media_rx_packet);

static mp_obj_t nc_media_rx_pull_into(mp_obj_t st_in, mp_obj_t buf_in, mp_obj_t now_in)
{
    ec_media_rx *st = rx_state(st_in, "MediaReceiver.pull_into");
    uint32_t now = nc_now(now_in);
    mp_buffer_info_t buf;
    size_t fs = (size_t)nc_check(ec_media_rx_frame_samples(st), "MediaReceiver.pull_into");
    nc_wbuf(buf_in, &buf, "MediaReceiver.pull_into", 2u * fs);
    nc_align16(&buf, "buf");
    return MP_OBJ_NEW_SMALL_INT(2 * nc_check(ec_media_rx_pull(st, now, (int16_t *)buf.buf, buf.len / 2u),
                                             "MediaReceiver.pull"));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_media_rx_pull_into_obj, nc_media_rx_pull_into);

static mp_obj_t nc_media_rx_pull(mp_obj_t st_in, mp_obj_t now_in)
{
    ec_media_rx *st = rx_state(st_in, "MediaReceiver.pull");
    uint32_t now = nc_now(now_in);
    size_t fs = (size_t)nc_check(ec_media_rx_frame_samples(st), "MediaReceiver.pull");
    nc_out o;
    uint8_t *p = nc_out_new(&o, 2u * fs);
    int n = nc_check(ec_media_rx_pull(st, now, (int16_t *)(void *)p, fs), "MediaReceiver.pull");
    return nc_out_bytes(&o, 2u * (size_t)n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_media_rx_pull_obj, nc_media_rx_pull);

static int rx_feedback(mp_obj_t st_in, uint32_t now, uint8_t *out, size_t cap)
{
    int rc = ec_media_rx_poll_feedback(rx_state(st_in, "MediaReceiver.poll_feedback"), now, out, cap);
    if (rc == EC_ERR_SHORT_BUFFER) {
        nc_value_error("MediaReceiver.poll_feedback: the buffer is too small for the feedback ",
                       "(EC_MEDIA_MAX_PACKET, 1024 bytes, always suffice)");
    }
    return nc_check(rc, "MediaReceiver.poll_feedback");
}

static mp_obj_t nc_media_rx_poll_feedback(mp_obj_t st_in, mp_obj_t now_in)
{
    uint8_t pkt[EC_MEDIA_MAX_PACKET];
    int n = rx_feedback(st_in, nc_now(now_in), pkt, sizeof pkt);
    return n > 0 ? mp_obj_new_bytes(pkt, (size_t)n) : mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_media_rx_poll_feedback_obj, nc_media_rx_poll_feedback);

static mp_obj_t nc_media_rx_poll_feedback_into(mp_obj_t st_in, mp_obj_t buf_in, mp_obj_t now_in)
{
    mp_buffer_info_t buf;
    uint32_t now = nc_now(now_in);
    rx_state(st_in, "MediaReceiver.poll_feedback_into");
    nc_wbuf(buf_in, &buf, "buf", 1u);
    return MP_OBJ_NEW_SMALL_INT(rx_feedback(st_in, now, (uint8_t *)buf.buf, buf.len));
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_media_rx_poll_feedback_into_obj, nc_media_rx_poll_feedback_into);

static mp_obj_t nc_media_rx_stats(mp_obj_t st_in, mp_obj_t now_in)
{
    ec_media_rx_stats s;
    mp_obj_t d;
    ec_media_rx *st = rx_state(st_in, "MediaReceiver.stats");
    nc_check(ec_media_rx_get_stats(st, nc_now(now_in), &s), "MediaReceiver.stats");
    d = mp_obj_new_dict(41);
    put_u(d, MP_QSTR_ssrc, s.ssrc);
    put_u(d, MP_QSTR_received, s.received);
    put_u(d, MP_QSTR_expected, s.expected);
    put_i(d, MP_QSTR_lost, s.lost);
    put_u(d, MP_QSTR_fraction_lost, s.fraction_lost);
    put_u(d, MP_QSTR_ext_highest_seq, s.ext_highest_seq);
    put_u(d, MP_QSTR_jitter, s.jitter);
    put_u(d, MP_QSTR_rtp_packets, s.rtp_packets);
    put_u(d, MP_QSTR_late, s.late);
    put_u(d, MP_QSTR_duplicates, s.duplicates);
    put_u(d, MP_QSTR_overflow, s.overflow);
    put_u(d, MP_QSTR_flushes, s.flushes);
    put_u(d, MP_QSTR_recovered_red, s.recovered_red);
    put_u(d, MP_QSTR_recovered_fec, s.recovered_fec);
    put_u(d, MP_QSTR_nack_recovered, s.nack_recovered);
    put_u(d, MP_QSTR_fec_packets, s.fec_packets);
    put_u(d, MP_QSTR_red_packets, s.red_packets);
    put_u(d, MP_QSTR_played, s.played);
    put_u(d, MP_QSTR_concealed, s.concealed);
    put_u(d, MP_QSTR_stretched, s.stretched);
    put_u(d, MP_QSTR_compressed, s.compressed);
    put_u(d, MP_QSTR_skipped, s.skipped);
    put_u(d, MP_QSTR_silent, s.silent);
    put_u(d, MP_QSTR_malformed, s.malformed);
    put_u(d, MP_QSTR_ignored, s.ignored);
    put_u(d, MP_QSTR_rtcp_packets, s.rtcp_packets);
    put_u(d, MP_QSTR_sr_received, s.sr_received);
    put_u(d, MP_QSTR_nack_sent, s.nack_sent);
    put_u(d, MP_QSTR_nack_seqs, s.nack_seqs);
    put_u(d, MP_QSTR_rr_sent, s.rr_sent);
    put_u(d, MP_QSTR_ssrc_changes, s.ssrc_changes);
    put_u(d, MP_QSTR_ts_jumps, s.ts_jumps);
    put_i(d, MP_QSTR_target_delay_ms, s.target_delay_ms);
    put_i(d, MP_QSTR_delay_ms, s.delay_ms);
    put_i(d, MP_QSTR_buffered_ms, s.buffered_ms);
    put_u(d, MP_QSTR_g722_bitrate, s.g722_bitrate);
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        ec_media_opus_stats o;
        nc_check(ec_media_rx_opus_stats(st, &o), "MediaReceiver.stats");
        put_u(d, MP_QSTR_recovered_opus_fec, o.recovered_fec);
        put_u(d, MP_QSTR_opus_plc_frames, o.plc_frames);
        put_u(d, MP_QSTR_opus_plc_blocks, o.plc_blocks);
        put_u(d, MP_QSTR_opus_bad_payloads, o.bad_payloads);
        put_u(d, MP_QSTR_opus_decode_errors, o.decode_errors);
    }
#endif
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_media_rx_stats_obj, nc_media_rx_stats);

#if NC_VIDEO
/* ---- video: baseline JPEG (ec_jpeg.h) and RTP/JPEG (ec_rtpjpeg.h, RFC 2435) ---- */

/* The packed input formats (one plane): EC_JPEG_RGB888, RGB565LE, RGB565BE, YUYV. */
#define NC_JPEG_MAX_FORMAT EC_JPEG_YUYV
/* The smallest reassembly buffer: the rebuilt JFIF header, EOI and one byte of scan. */
#define NC_DEPACK_MIN_FRAME (EC_RTPJPEG_FRAME_OVERHEAD + 1u)

/* The packetizer's state: the C packetizer, the description of the frames it sends, and the
 * quality they were described with (to check the encoder a streamed frame comes from). */
typedef struct {
    ec_rtpjpeg_pack pack;
    ec_rtpjpeg_frame fr;
    uint8_t quality;
} nc_pack_t;

static ec_jpeg_enc *jpeg_state(mp_obj_t st_in, const char *what)
{
    return (ec_jpeg_enc *)(void *)nc_state(st_in, NC_JPEG_ENC, what)->mem;
}

/* Bytes of one line and of one frame of the encoder's input (packed formats). */
static size_t jpeg_line_bytes(const ec_jpeg_enc *st)
{
    size_t w = st->p.width;
    return st->p.format == EC_JPEG_RGB888 ? 3u * w : st->p.format == EC_JPEG_YUYV ? 4u * ((w + 1u) / 2u) : 2u * w;
}

/* The input frame: exactly one frame of the encoder's format. */
static void jpeg_frame_in(const ec_jpeg_enc *st, mp_obj_t frame_in, mp_buffer_info_t *bi, ec_jpeg_rows *rows)
{
    size_t line = jpeg_line_bytes(st);
    uint64_t need = (uint64_t)line * st->p.height;
    nc_rbuf(frame_in, bi, "frame");
    if ((uint64_t)bi->len != need) {
        nc_msg m = {{0}, 0};
        msg_s(&m, "frame must be ");
        msg_i(&m, (int64_t)need);
        msg_s(&m, " bytes (one frame of the encoder's size and format), got ");
        msg_i(&m, (int64_t)bi->len);
        msg_raise(&mp_type_ValueError, &m);
    }
    rows->plane[0] = (const uint8_t *)bi->buf;
    rows->plane[1] = NULL;
    rows->plane[2] = NULL;
    rows->stride[0] = line;
    rows->stride[1] = 0;
    rows->stride[2] = 0;
}

/* jpeg_enc_new(width, height, fmt, subsampling, quality, scan_only, restart_interval) */
static mp_obj_t nc_jpeg_enc_new(size_t n_args, const mp_obj_t *a)
{
    ec_jpeg_params p;
    size_t size = ec_jpeg_enc_state_size();
    nc_state_t *s;
    (void)n_args;
    p.width = (uint16_t)nc_int(a[0], "width", 1, 65535, 1);
    p.height = (uint16_t)nc_int(a[1], "height", 1, 65535, 1);
    p.format = (uint8_t)nc_int(a[2], "fmt (0 rgb888, 1 rgb565le, 2 rgb565be, 3 yuyv)", 0, NC_JPEG_MAX_FORMAT, 1);
    p.subsampling = (uint8_t)nc_int(a[3], "subsampling (0: 4:2:0, 1: 4:2:2)", 0, 1, 1);
    p.quality = (uint8_t)nc_int(a[4], "quality", 1, 100, 1);
    p.flags = nc_bool(a[5], "scan_only") ? EC_JPEG_SCAN_ONLY : 0u;
    p.restart_interval = (uint16_t)nc_int(a[6], "restart_interval", 0, 65535, 1);
    s = nc_state_new(NC_JPEG_ENC, size);
    nc_check(ec_jpeg_enc_init((ec_jpeg_enc *)(void *)s->mem, size, &p), "jpeg_enc_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(nc_jpeg_enc_new_obj, 7, 7, nc_jpeg_enc_new);

/* The whole next frame into out[0..cap): its length; *done = 0 when it did not fit. */
static size_t jpeg_encode_frame(ec_jpeg_enc *st, const ec_jpeg_rows *rows, uint8_t *out, size_t cap, int *done)
{
    int n;
    nc_check(ec_jpeg_enc_new_frame(st), "jpeg_encode");
    n = nc_check(ec_jpeg_enc_frame(st, rows, out, cap), "jpeg_encode");
    *done = nc_check(ec_jpeg_enc_done(st), "jpeg_encode");
    return (size_t)n;
}

#if NC_DYN
#define NC_GROW(p, old_n, new_n) ((uint8_t *)m_realloc((p), (new_n)))
#define NC_FREE(p, n) m_free(p)
#else
#define NC_GROW(p, old_n, new_n) m_renew(uint8_t, (p), (old_n), (new_n))
#define NC_FREE(p, n) m_del(uint8_t, (p), (n))
#endif

/* A whole frame (JFIF, or the scan with scan_only) as new bytes. */
static mp_obj_t nc_jpeg_encode(mp_obj_t st_in, mp_obj_t frame_in)
{
    ec_jpeg_enc *st = jpeg_state(st_in, "jpeg_encode");
    mp_buffer_info_t bi;
    ec_jpeg_rows rows;
    size_t cap = 4096u, len;
    uint8_t *p;
    int done = 0;
    mp_obj_t r;
    jpeg_frame_in(st, frame_in, &bi, &rows);
    p = (uint8_t *)m_malloc(cap);
    len = jpeg_encode_frame(st, &rows, p, cap, &done);
    while (!done) {
        int n;
        p = NC_GROW(p, cap, 2u * cap);
        cap *= 2u;
        n = nc_check(ec_jpeg_enc_frame(st, &rows, p + len, cap - len), "jpeg_encode");
        len += (size_t)n;
        done = nc_check(ec_jpeg_enc_done(st), "jpeg_encode");
    }
    r = mp_obj_new_bytes(p, len);
    NC_FREE(p, cap);
    return r;
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_jpeg_encode_obj, nc_jpeg_encode);

/* A whole frame into out; ValueError when out cannot hold it. */
static mp_obj_t nc_jpeg_encode_into(mp_obj_t st_in, mp_obj_t frame_in, mp_obj_t out_in)
{
    ec_jpeg_enc *st = jpeg_state(st_in, "jpeg_encode_into");
    mp_buffer_info_t bi, out;
    ec_jpeg_rows rows;
    size_t n;
    int done = 0;
    jpeg_frame_in(st, frame_in, &bi, &rows);
    nc_wbuf(out_in, &out, "out", 1u);
    n = jpeg_encode_frame(st, &rows, (uint8_t *)out.buf, out.len, &done);
    if (!done) {
        nc_msg m = {{0}, 0};
        msg_s(&m, "jpeg_encode_into: the coded frame does not fit out (");
        msg_i(&m, (int64_t)out.len);
        msg_s(&m, " bytes)");
        msg_raise(&mp_type_ValueError, &m);
    }
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)n);
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_jpeg_encode_into_obj, nc_jpeg_encode_into);

/* rtpjpeg_pack_new(width, height, subsampling, quality, restart_interval, ssrc, pt, mtu, seq) */
static mp_obj_t nc_rtpjpeg_pack_new(size_t n_args, const mp_obj_t *a)
{
    size_t size = sizeof(nc_pack_t);
    nc_state_t *s;
    nc_pack_t *pk;
    int w, h, sub, q, ri, pt, mtu;
    uint32_t ssrc;
    uint16_t seq;
    (void)n_args;
    w = (int)nc_int(a[0], "width", 1, EC_RTPJPEG_MAX_SIZE, 1);
    h = (int)nc_int(a[1], "height", 1, EC_RTPJPEG_MAX_SIZE, 1);
    sub = (int)nc_int(a[2], "subsampling (0: 4:2:0, 1: 4:2:2)", 0, 1, 1);
    q = (int)nc_int(a[3], "quality", 1, 100, 1);
    ri = (int)nc_int(a[4], "restart_interval", 0, 65535, 1);
    ssrc = (uint32_t)nc_int(a[5], "ssrc", 0, 0xFFFFFFFF, 1);
    pt = (int)nc_int(a[6], "pt", 0, 127, 1);
    mtu = (int)nc_int(a[7], "mtu", EC_RTPJPEG_MIN_MTU, 65535, 1);
    seq = (uint16_t)nc_int(a[8], "seq", 0, 0xFFFF, 1);
    s = nc_state_new(NC_RTPJPEG_PACK, size);
    pk = (nc_pack_t *)(void *)s->mem;
    nc_check(ec_rtpjpeg_pack_init(&pk->pack, sizeof pk->pack, ssrc, pt, mtu, seq), "rtpjpeg_pack_new");
    nc_check(ec_rtpjpeg_frame_for((uint16_t)w, (uint16_t)h, sub, q, (uint16_t)ri, &pk->fr), "rtpjpeg_pack_new");
    pk->quality = (uint8_t)q;
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(nc_rtpjpeg_pack_new_obj, 9, 9, nc_rtpjpeg_pack_new);

static nc_pack_t *pack_state(mp_obj_t st_in, const char *what, nc_state_t **s)
{
    *s = nc_state(st_in, NC_RTPJPEG_PACK, what);
    return (nc_pack_t *)(void *)(*s)->mem;
}

/* rtpjpeg_pack_frame(st, scan, ts[, n]): packetizes the entropy-coded scan scan[0..n) (n: all of
 * it) with RTP timestamp ts; the state keeps a reference to scan until its last packet. */
static mp_obj_t nc_rtpjpeg_pack_frame(size_t n_args, const mp_obj_t *a)
{
    nc_state_t *s;
    nc_pack_t *pk = pack_state(a[0], "rtpjpeg_pack_frame", &s);
    mp_buffer_info_t scan;
    uint32_t ts = (uint32_t)nc_int(a[2], "ts", 0, 0xFFFFFFFF, 1);
    size_t n;
    nc_rbuf(a[1], &scan, "scan");
    n = n_args > 3 ? (size_t)nc_int(a[3], "n (the scan's length)", 1, (int64_t)scan.len, 1) : scan.len;
    if (n == 0u || n > 0xffffffu) {
        nc_value_error("scan", " must be 1 to 16777215 bytes (RFC 2435's 24-bit fragment offset)");
    }
    nc_check(ec_rtpjpeg_pack_frame(&pk->pack, &pk->fr, (const uint8_t *)scan.buf, n, ts), "rtpjpeg_pack_frame");
    s->ref = a[1];
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(nc_rtpjpeg_pack_frame_obj, 3, 4, nc_rtpjpeg_pack_frame);

/* The next packet of a frame given whole (rtpjpeg_pack_frame) into pkt: its length, 0 when done. */
static int pack_next(mp_obj_t st_in, const char *what, uint8_t *pkt, size_t cap)
{
    nc_state_t *s;
    nc_pack_t *pk = pack_state(st_in, what, &s);
    mp_buffer_info_t scan;
    int n;
    if (!pk->pack.active) {
        return 0;
    }
    if (pk->pack.streaming) {
        nc_value_error(what, ": the frame is streamed (rtpjpeg_pack_stream): use rtpjpeg_pack_encode_into");
    }
    /* The scan must still be where the packetizer points (a bytearray that grew has moved). */
    if (!mp_get_buffer(s->ref, &scan, MP_BUFFER_READ) || scan.buf != (const void *)pk->pack.scan ||
        scan.len < pk->pack.scan_len) {
        pk->pack.active = 0;
        s->ref = mp_const_none;
        nc_value_error(what, ": the scan given to rtpjpeg_pack_frame was resized: the frame is abandoned");
    }
    n = nc_check(ec_rtpjpeg_pack_next(&pk->pack, pkt, cap), what);
    if (!pk->pack.active) {
        s->ref = mp_const_none;
    }
    return n;
}

static mp_obj_t nc_rtpjpeg_pack_next(mp_obj_t st_in)
{
    nc_state_t *s;
    nc_pack_t *pk = pack_state(st_in, "rtpjpeg_pack_next", &s);
    nc_out o;
    uint8_t *p;
    if (!pk->pack.active) {
        return mp_const_none;
    }
    p = nc_out_new(&o, pk->pack.mtu);
    return nc_out_bytes(&o, (size_t)pack_next(st_in, "rtpjpeg_pack_next", p, pk->pack.mtu));
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_rtpjpeg_pack_next_obj, nc_rtpjpeg_pack_next);

static mp_obj_t nc_rtpjpeg_pack_next_into(mp_obj_t st_in, mp_obj_t pkt_in)
{
    mp_buffer_info_t pkt;
    nc_state_t *s;
    nc_wbuf(pkt_in, &pkt, "pkt", pack_state(st_in, "rtpjpeg_pack_next_into", &s)->pack.mtu);
    return MP_OBJ_NEW_SMALL_INT(pack_next(st_in, "rtpjpeg_pack_next_into", (uint8_t *)pkt.buf, pkt.len));
}
static MP_DEFINE_CONST_FUN_OBJ_2(nc_rtpjpeg_pack_next_into_obj, nc_rtpjpeg_pack_next_into);

/* The encoder of a streamed frame: scan only, and the frame the packetizer describes. */
static ec_jpeg_enc *stream_encoder(const nc_pack_t *pk, mp_obj_t enc_in, const char *what)
{
    ec_jpeg_enc *enc = jpeg_state(enc_in, what);
    if (!(enc->p.flags & EC_JPEG_SCAN_ONLY) || enc->p.width != pk->fr.width || enc->p.height != pk->fr.height ||
        (enc->p.subsampling == EC_JPEG_420) != (pk->fr.type == 1) || enc->p.quality != pk->quality ||
        enc->p.restart_interval != pk->fr.restart_interval) {
        nc_value_error(what, ": the encoder must be scan_only with the packetizer's size, subsampling, "
                             "quality and restart_interval");
    }
    return enc;
}

/* rtpjpeg_pack_stream(st, enc, ts): starts a frame that enc encodes while it is packetized. */
static mp_obj_t nc_rtpjpeg_pack_stream(mp_obj_t st_in, mp_obj_t enc_in, mp_obj_t ts_in)
{
    nc_state_t *s;
    nc_pack_t *pk = pack_state(st_in, "rtpjpeg_pack_stream", &s);
    ec_jpeg_enc *enc = stream_encoder(pk, enc_in, "rtpjpeg_pack_stream");
    uint32_t ts = (uint32_t)nc_int(ts_in, "ts", 0, 0xFFFFFFFF, 1);
    nc_check(ec_jpeg_enc_new_frame(enc), "rtpjpeg_pack_stream");
    nc_check(ec_rtpjpeg_pack_stream(&pk->pack, &pk->fr, ts), "rtpjpeg_pack_stream");
    s->ref = mp_const_none;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_rtpjpeg_pack_stream_obj, nc_rtpjpeg_pack_stream);

/* rtpjpeg_pack_encode_into(st, enc, frame, pkt): the next packet of the streamed frame, the
 * encoder writing the scan straight into it after the headers; its length, 0 when the frame is
 * done. frame: the same camera frame at every call of the frame. */
static mp_obj_t nc_rtpjpeg_pack_encode_into(size_t n_args, const mp_obj_t *a)
{
    nc_state_t *s;
    nc_pack_t *pk = pack_state(a[0], "rtpjpeg_pack_encode_into", &s);
    ec_jpeg_enc *enc = stream_encoder(pk, a[1], "rtpjpeg_pack_encode_into");
    mp_buffer_info_t frame, pkt;
    ec_jpeg_rows rows;
    uint8_t *p;
    int h, n, done;
    (void)n_args;
    jpeg_frame_in(enc, a[2], &frame, &rows);
    nc_wbuf(a[3], &pkt, "pkt", pk->pack.mtu);
    if (!pk->pack.active) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    if (!pk->pack.streaming) {
        nc_value_error("rtpjpeg_pack_encode_into", ": the frame was given whole: use rtpjpeg_pack_next_into");
    }
    if (nc_check(ec_jpeg_enc_done(enc), "rtpjpeg_pack_encode_into")) {
        nc_value_error("rtpjpeg_pack_encode_into", ": the encoder has no more of this frame (was it restarted?)");
    }
    p = (uint8_t *)pkt.buf;
    h = nc_check(ec_rtpjpeg_pack_header(&pk->pack, p, pk->pack.mtu), "rtpjpeg_pack_encode_into");
    n = nc_check(ec_jpeg_enc_frame(enc, &rows, p + h, (size_t)pk->pack.mtu - (size_t)h), "rtpjpeg_pack_encode_into");
    done = nc_check(ec_jpeg_enc_done(enc), "rtpjpeg_pack_encode_into");
    if (n == 0) {
        nc_c_error("rtpjpeg_pack_encode_into", EC_ERR_STATE); /* the encoder stalled: not reached */
    }
    return MP_OBJ_NEW_SMALL_INT(nc_check(ec_rtpjpeg_pack_commit(&pk->pack, p, (size_t)n, done),
                                         "rtpjpeg_pack_encode_into"));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(nc_rtpjpeg_pack_encode_into_obj, 4, 4, nc_rtpjpeg_pack_encode_into);

/* Bytes of the current (or last) frame's scan packetized so far: its whole length once done. */
static mp_obj_t nc_rtpjpeg_pack_sent(mp_obj_t st_in)
{
    nc_state_t *s;
    return mp_obj_new_int_from_uint(pack_state(st_in, "rtpjpeg_pack_sent", &s)->pack.off);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_rtpjpeg_pack_sent_obj, nc_rtpjpeg_pack_sent);

static mp_obj_t nc_rtpjpeg_depack_new(void)
{
    size_t size = ec_rtpjpeg_depack_state_size();
    nc_state_t *s = nc_state_new(NC_RTPJPEG_DEPACK, size);
    nc_check(ec_rtpjpeg_depack_init((ec_rtpjpeg_depack *)(void *)s->mem, size), "rtpjpeg_depack_new");
    return MP_OBJ_FROM_PTR(s);
}
static MP_DEFINE_CONST_FUN_OBJ_0(nc_rtpjpeg_depack_new_obj, nc_rtpjpeg_depack_new);

/* rtpjpeg_depack_push(st, pkt, frame): one RTP/JPEG packet; frame is the reassembly buffer (the
 * same at every call). The length n of the complete JFIF frame now at frame[0..n), 0 when none
 * completed, -4 (malformed) or -5 (unsupported): a packet never raises. */
static mp_obj_t nc_rtpjpeg_depack_push(mp_obj_t st_in, mp_obj_t pkt_in, mp_obj_t frame_in)
{
    ec_rtpjpeg_depack *st = (ec_rtpjpeg_depack *)(void *)nc_state(st_in, NC_RTPJPEG_DEPACK, "rtpjpeg_depack_push")->mem;
    mp_buffer_info_t pkt, frame;
    int rc;
    nc_rbuf(pkt_in, &pkt, "pkt");
    nc_wbuf(frame_in, &frame, "frame", NC_DEPACK_MIN_FRAME);
    rc = ec_rtpjpeg_depack_push(st, (const uint8_t *)pkt.buf, pkt.len, (uint8_t *)frame.buf, frame.len);
    if (rc < 0 && rc != EC_ERR_MALFORMED && rc != EC_ERR_UNSUPPORTED) {
        nc_c_error("rtpjpeg_depack_push", rc);
    }
    return MP_OBJ_NEW_SMALL_INT(rc);
}
static MP_DEFINE_CONST_FUN_OBJ_3(nc_rtpjpeg_depack_push_obj, nc_rtpjpeg_depack_push);

/* {"frames": delivered, "dropped": given up incomplete (counted when the next frame starts)} */
static mp_obj_t nc_rtpjpeg_depack_stats(mp_obj_t st_in)
{
    const ec_rtpjpeg_depack *st =
        (const ec_rtpjpeg_depack *)(void *)nc_state(st_in, NC_RTPJPEG_DEPACK, "rtpjpeg_depack_stats")->mem;
    mp_obj_t d = mp_obj_new_dict(2);
    put_u(d, MP_QSTR_frames, st->frames);
    put_u(d, MP_QSTR_dropped, st->dropped);
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_rtpjpeg_depack_stats_obj, nc_rtpjpeg_depack_stats);
#endif

/* Closes any state: later calls with it raise ValueError; the GC frees its memory. */
static mp_obj_t nc_media_free(mp_obj_t st_in)
{
    if (!mp_obj_is_exact_type(st_in, NC_STATE_TYPE)) {
        nc_type_error("media_free", ": the state must be an _nc.State");
    }
    ((nc_state_t *)MP_OBJ_TO_PTR(st_in))->kind = NC_FREED;
    ((nc_state_t *)MP_OBJ_TO_PTR(st_in))->ref = mp_const_none;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_media_free_obj, nc_media_free);

/* Bytes of C state a State holds (the *_state_size() it was made with). */
static mp_obj_t nc_state_bytes(mp_obj_t st_in)
{
    if (!mp_obj_is_exact_type(st_in, NC_STATE_TYPE)) {
        nc_type_error("state_bytes", ": the state must be an _nc.State");
    }
    return mp_obj_new_int_from_uint(((nc_state_t *)MP_OBJ_TO_PTR(st_in))->size);
}
static MP_DEFINE_CONST_FUN_OBJ_1(nc_state_bytes_obj, nc_state_bytes);

#ifdef EC_MEDIA_WITH_OPUS
/* libopus's version string; only present in builds with Opus (hal.board.codec.OPUS). */
static mp_obj_t nc_opus_version(void)
{
    const char *v = opus_get_version_string();
    size_t n = 0;
    while (v[n] != '\0') {
        n++;
    }
    return mp_obj_new_str(v, n);
}
static MP_DEFINE_CONST_FUN_OBJ_0(nc_opus_version_obj, nc_opus_version);
#endif

/* ---- the module ---- */

/* The functions: (name, function object). Written out in full: mpy_ld finds a dynamic module's
 * qstrs by scanning the source text for MP_QSTR_ names. */
#define NC_FUNCTIONS(X) \
    X(MP_QSTR_g711_encode, nc_g711_encode_obj) \
    X(MP_QSTR_g711_encode_into, nc_g711_encode_into_obj) \
    X(MP_QSTR_g711_decode, nc_g711_decode_obj) \
    X(MP_QSTR_g711_decode_into, nc_g711_decode_into_obj) \
    X(MP_QSTR_g722_enc_new, nc_g722_enc_new_obj) \
    X(MP_QSTR_g722_encode, nc_g722_encode_obj) \
    X(MP_QSTR_g722_encode_into, nc_g722_encode_into_obj) \
    X(MP_QSTR_g722_dec_new, nc_g722_dec_new_obj) \
    X(MP_QSTR_g722_decode, nc_g722_decode_obj) \
    X(MP_QSTR_g722_decode_into, nc_g722_decode_into_obj) \
    X(MP_QSTR_adpcm_new, nc_adpcm_new_obj) \
    X(MP_QSTR_dvi4_encode, nc_dvi4_encode_obj) \
    X(MP_QSTR_dvi4_encode_into, nc_dvi4_encode_into_obj) \
    X(MP_QSTR_dvi4_decode, nc_dvi4_decode_obj) \
    X(MP_QSTR_dvi4_decode_into, nc_dvi4_decode_into_obj) \
    X(MP_QSTR_ima_encode, nc_ima_encode_obj) \
    X(MP_QSTR_ima_decode, nc_ima_decode_obj) \
    X(MP_QSTR_plc_new, nc_plc_new_obj) \
    X(MP_QSTR_plc_frame, nc_plc_frame_obj) \
    X(MP_QSTR_plc_good, nc_plc_good_obj) \
    X(MP_QSTR_plc_good_into, nc_plc_good_into_obj) \
    X(MP_QSTR_plc_lost, nc_plc_lost_obj) \
    X(MP_QSTR_plc_lost_into, nc_plc_lost_into_obj) \
    X(MP_QSTR_media_tx_new, nc_media_tx_new_obj) \
    X(MP_QSTR_media_tx_push, nc_media_tx_push_obj) \
    X(MP_QSTR_media_tx_poll, nc_media_tx_poll_obj) \
    X(MP_QSTR_media_tx_poll_into, nc_media_tx_poll_into_obj) \
    X(MP_QSTR_media_tx_on_packet, nc_media_tx_on_packet_obj) \
    X(MP_QSTR_media_tx_stats, nc_media_tx_stats_obj) \
    X(MP_QSTR_media_rx_new, nc_media_rx_new_obj) \
    X(MP_QSTR_media_rx_frame_bytes, nc_media_rx_frame_bytes_obj) \
    X(MP_QSTR_media_rx_packet, nc_media_rx_packet_obj) \
    X(MP_QSTR_media_rx_pull, nc_media_rx_pull_obj) \
    X(MP_QSTR_media_rx_pull_into, nc_media_rx_pull_into_obj) \
    X(MP_QSTR_media_rx_poll_feedback, nc_media_rx_poll_feedback_obj) \
    X(MP_QSTR_media_rx_poll_feedback_into, nc_media_rx_poll_feedback_into_obj) \
    X(MP_QSTR_media_rx_stats, nc_media_rx_stats_obj) \
    X(MP_QSTR_media_free, nc_media_free_obj) \
    X(MP_QSTR_state_bytes, nc_state_bytes_obj)

#define NC_VIDEO_FUNCTIONS(X) \
    X(MP_QSTR_jpeg_enc_new, nc_jpeg_enc_new_obj) \
    X(MP_QSTR_jpeg_encode, nc_jpeg_encode_obj) \
    X(MP_QSTR_jpeg_encode_into, nc_jpeg_encode_into_obj) \
    X(MP_QSTR_rtpjpeg_pack_new, nc_rtpjpeg_pack_new_obj) \
    X(MP_QSTR_rtpjpeg_pack_frame, nc_rtpjpeg_pack_frame_obj) \
    X(MP_QSTR_rtpjpeg_pack_next, nc_rtpjpeg_pack_next_obj) \
    X(MP_QSTR_rtpjpeg_pack_next_into, nc_rtpjpeg_pack_next_into_obj) \
    X(MP_QSTR_rtpjpeg_pack_stream, nc_rtpjpeg_pack_stream_obj) \
    X(MP_QSTR_rtpjpeg_pack_encode_into, nc_rtpjpeg_pack_encode_into_obj) \
    X(MP_QSTR_rtpjpeg_pack_sent, nc_rtpjpeg_pack_sent_obj) \
    X(MP_QSTR_rtpjpeg_depack_new, nc_rtpjpeg_depack_new_obj) \
    X(MP_QSTR_rtpjpeg_depack_push, nc_rtpjpeg_depack_push_obj) \
    X(MP_QSTR_rtpjpeg_depack_stats, nc_rtpjpeg_depack_stats_obj)

#if NC_DYN

#define NC_STORE(q, obj) mp_store_global(q, MP_OBJ_FROM_PTR(&obj));

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args)
{
    MP_DYNRUNTIME_INIT_ENTRY
    (void)n_args;
    (void)n_kw;
    (void)args;
    nc_state_type.base.type = (void *)&mp_type_type;
    nc_state_type.flags = MP_TYPE_FLAG_NONE;
    nc_state_type.name = MP_QSTR_State;
    mp_store_global(MP_QSTR_State, MP_OBJ_FROM_PTR(&nc_state_type));
    mp_store_global(MP_QSTR_MAX_PACKET, MP_OBJ_NEW_SMALL_INT(EC_MEDIA_MAX_PACKET));
    NC_FUNCTIONS(NC_STORE)
#if NC_VIDEO
    NC_VIDEO_FUNCTIONS(NC_STORE)
#endif
#ifdef EC_MEDIA_WITH_OPUS
    NC_STORE(MP_QSTR_opus_version, nc_opus_version_obj)
#endif
    MP_DYNRUNTIME_INIT_EXIT
}

/* The C library functions the compiler and libopus call: a dynamic module links no libc, the
 * firmware's own are reached through its function table. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

void *memcpy(void *dst, const void *src, size_t n)
{
    return mp_fun_table.memmove_(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
    return mp_fun_table.memmove_(dst, src, n);
}

void *memset(void *dst, int c, size_t n)
{
    return mp_fun_table.memset_(dst, c, n);
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n > 0u; n--, p++, q++) {
        if (*p != *q) {
            return (int)*p - (int)*q;
        }
    }
    return 0;
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

#else

#define NC_ENTRY(q, obj) {MP_ROM_QSTR(q), MP_ROM_PTR(&obj)},

static const mp_rom_map_elem_t nc_module_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__nc)},
    {MP_ROM_QSTR(MP_QSTR_State), MP_ROM_PTR(&nc_state_type)},
    {MP_ROM_QSTR(MP_QSTR_MAX_PACKET), MP_ROM_INT(EC_MEDIA_MAX_PACKET)},
    NC_FUNCTIONS(NC_ENTRY)
#if NC_VIDEO
    NC_VIDEO_FUNCTIONS(NC_ENTRY)
#endif
#ifdef EC_MEDIA_WITH_OPUS
    NC_ENTRY(MP_QSTR_opus_version, nc_opus_version_obj)
#endif
};
static MP_DEFINE_CONST_DICT(nc_module_globals, nc_module_globals_table);

const mp_obj_module_t nc_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&nc_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__nc, nc_user_cmodule);

#endif
