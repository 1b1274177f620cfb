// audio.c — the devkit board's microphone and speaker (module _devkit_audio, class Stream), 16-bit
// mono PCM in frames of frame_ms, on the board's own clock (its millisecond ticks), as an I2S codec with
// DMA rings would give them. The far ends are files in the device's folder on the host (QEMU's
// working directory), reached through semihosting (semihost.c):
//
// Microphone: the samples of a 16-bit mono PCM WAV file (RIFF/WAVE, "fmt " format 1 or 0xFFFE,
// then "data"), by default mic.wav (what `edgecall sim start --mic FILE` links there), silence
// without one and after its end. Frame k (k = 1, 2, ...) is ready k frame periods after the
// stream opened; a reader more than MIC_RING frames behind loses the oldest (counted in overruns),
// as the DMA ring would overwrite them. Each frame read is logged to mic.times as
// "<unix seconds> <byte offset in the WAV's samples> <bytes>".
// Speaker: each frame written is appended to speaker.raw (or the stream's own file) and logged to
// speaker.times (or <file>.times) the same way, stamped with the board's wall clock
// (time_devkit.c). The DAC starts SPK_START frame periods after the first write (the DMA ring is
// primed first) and then plays without a gap: a frame that comes after the queued ones have played
// is an underrun (counted; the DAC starts again as at the first write). A write that would queue
// more than MIC_RING frame periods waits (with Ctrl-C) until there is room, as I2S.write blocks on
// a full ring.
//
// Nothing is allocated per frame: frames are read into and written from the caller's buffers;
// the files are opened with the stream and closed by close() or the finaliser.
#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "py/smallint.h"
#include "semihost.h"

#define MIC_RING 8         // frames in the microphone's (and the speaker's) DMA ring
#define SPK_START 2        // frame periods from the first write to the DAC's start
#define PATH_LEN 128       // longest host path a stream takes
#define WAV_FORMAT_PCM 1
#define WAV_FORMAT_EXTENSIBLE 0xFFFE
#define DEFAULT_MIC "mic.wav"
#define MIC_LOG "mic.times"
#define SPEAKER "speaker.raw"
#define SPEAKER_LOG "speaker.times"

typedef struct _audio_stream_obj_t {
    mp_obj_base_t base;
    uint32_t rate;
    uint32_t frame_ms;
    uint32_t frame_bytes;
    int mic_fd;            // the WAV file, or -1: silence
    int mic_log_fd;
    int spk_fd;
    int spk_log_fd;
    uint32_t pcm_at;       // the WAV's samples: file offset and length in bytes
    uint32_t pcm_len;
    uint32_t t0;           // ticks_ms when the stream opened
    uint32_t taken;        // microphone frames read or lost
    uint32_t overruns;
    uint32_t underruns;
    uint32_t spk_end;      // ticks_ms when the speaker has played what it was given
    bool spk_started;
    bool open;
} audio_stream_obj_t;

// ---- small helpers

static size_t fmt_u32(char *out, uint32_t v) {
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

// "<unix seconds with ms> <offset> <bytes>\n" on the board's wall clock (32-bit arithmetic but
// for one division: the M4 divides 32-bit words in hardware).
static void log_frame(int fd, uint32_t offset, uint32_t nbytes) {
    if (fd < 0) {
        return;
    }
    char line[48];
    uint64_t ms = mp_hal_time_ns() / 1000000u;
    uint32_t s = (uint32_t)(ms / 1000u);
    uint32_t frac = (uint32_t)(ms - (uint64_t)s * 1000u);
    size_t n = fmt_u32(line, s);
    line[n++] = '.';
    line[n++] = (char)('0' + frac / 100);
    line[n++] = (char)('0' + frac / 10 % 10);
    line[n++] = (char)('0' + frac % 10);
    line[n++] = ' ';
    n += fmt_u32(line + n, offset);
    line[n++] = ' ';
    n += fmt_u32(line + n, nbytes);
    line[n++] = '\n';
    sh_write(fd, line, n);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static bool read_at(int fd, uint32_t pos, void *buf, size_t len) {
    return sh_seek(fd, pos) == 0 && sh_read(fd, buf, len) == (int)len;
}

// Finds the samples of a 16-bit mono PCM WAV file: 0, -1 (not one), -2 (another rate).
static int wav_samples(int fd, uint32_t rate, uint32_t *at, uint32_t *len) {
    int flen = sh_flen(fd);
    uint8_t hdr[16];
    if (flen < 12 || !read_at(fd, 0, hdr, 12) || memcmp(hdr, "RIFF", 4) != 0 || memcmp(hdr + 8, "WAVE", 4) != 0) {
        return -1;
    }
    uint64_t pos = 12;
    bool have_fmt = false;
    uint32_t fmt_rate = 0;
    while (pos + 8 <= (uint64_t)flen) {
        if (!read_at(fd, (uint32_t)pos, hdr, 8)) {
            return -1;
        }
        uint32_t size = le32(hdr + 4);
        uint64_t body = pos + 8;
        if (memcmp(hdr, "fmt ", 4) == 0 && size >= 16) {
            if (body + 16 > (uint64_t)flen || !read_at(fd, (uint32_t)body, hdr, 16)) {
                return -1;
            }
            uint16_t format = le16(hdr), channels = le16(hdr + 2), bits = le16(hdr + 14);
            if ((format != WAV_FORMAT_PCM && format != WAV_FORMAT_EXTENSIBLE) || channels != 1 || bits != 16) {
                return -1;
            }
            fmt_rate = le32(hdr + 4);
            have_fmt = true;
        } else if (memcmp(hdr, "data", 4) == 0 && have_fmt) {
            if (fmt_rate != rate) {
                return -2;
            }
            uint64_t end = body + size < (uint64_t)flen ? body + size : (uint64_t)flen;
            *at = (uint32_t)body;
            *len = (uint32_t)(end - body) & ~1u;
            return 0;
        }
        pos = body + size + (size & 1u);
    }
    return -1;
}

static const char *path_arg(mp_obj_t obj, const char *what) {
    size_t n;
    const char *s = mp_obj_str_get_data(obj, &n);
    if (n >= PATH_LEN || strlen(s) != n) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s: a host path of at most %d characters"), what,
            PATH_LEN - 1);
    }
    return s;
}

static void stream_close_files(audio_stream_obj_t *self) {
    int *fds[] = { &self->mic_fd, &self->mic_log_fd, &self->spk_fd, &self->spk_log_fd };
    for (size_t i = 0; i < MP_ARRAY_SIZE(fds); i++) {
        if (*fds[i] >= 0) {
            sh_close(*fds[i]);
            *fds[i] = -1;
        }
    }
    self->open = false;
}

static audio_stream_obj_t *stream_get(mp_obj_t self_in) {
    audio_stream_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->open) {
        mp_raise_ValueError(MP_ERROR_TEXT("stream is closed"));
    }
    return self;
}

// Stream(rate, frame_ms, mic, speaker): mic None = the board's microphone (mic.wav, silence
// without it), "" = silence, else a WAV file's host path; speaker None = speaker.raw, else a path.
static mp_obj_t stream_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 4, 4, false);
    mp_int_t rate = mp_obj_get_int(args[0]);
    mp_int_t frame_ms = mp_obj_get_int(args[1]);
    if (rate < 8000 || rate > 48000 || frame_ms < 1 || frame_ms > 100 || (rate * frame_ms) % 1000 != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad rate or frame_ms"));
    }
    const char *mic = args[2] == mp_const_none ? NULL : path_arg(args[2], "mic");
    const char *spk = args[3] == mp_const_none ? NULL : path_arg(args[3], "speaker");

    audio_stream_obj_t *self = mp_obj_malloc_with_finaliser(audio_stream_obj_t, type);
    self->rate = (uint32_t)rate;
    self->frame_ms = (uint32_t)frame_ms;
    self->frame_bytes = (uint32_t)(rate * frame_ms / 1000 * 2);
    self->mic_fd = self->mic_log_fd = self->spk_fd = self->spk_log_fd = -1;
    self->pcm_at = self->pcm_len = 0;
    self->taken = self->overruns = self->underruns = 0;
    self->spk_started = false;
    self->open = true;

    if (mic == NULL || mic[0] != 0) {
        self->mic_fd = sh_open(mic == NULL ? DEFAULT_MIC : mic, SH_MODE_RB);
        if (self->mic_fd < 0 && mic != NULL) {
            stream_close_files(self);
            mp_raise_ValueError(MP_ERROR_TEXT("mic: not a readable 16-bit mono PCM WAV file"));
        }
        if (self->mic_fd >= 0) {
            int rc = wav_samples(self->mic_fd, self->rate, &self->pcm_at, &self->pcm_len);
            if (rc != 0) {
                stream_close_files(self);
                mp_raise_ValueError(rc == -2 ? MP_ERROR_TEXT("mic: WAV rate differs from the stream's")
                    : MP_ERROR_TEXT("mic: not a readable 16-bit mono PCM WAV file"));
            }
        }
    }
    char log_path[PATH_LEN + 8];
    strcpy(log_path, spk == NULL ? SPEAKER_LOG : spk);
    if (spk != NULL) {
        strcat(log_path, ".times");
    }
    self->spk_fd = sh_open_append(spk == NULL ? SPEAKER : spk);
    self->spk_log_fd = sh_open_append(log_path);
    self->mic_log_fd = sh_open_append(MIC_LOG);
    if (self->spk_fd < 0 || self->spk_log_fd < 0 || self->mic_log_fd < 0) {
        stream_close_files(self);
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("speaker: cannot open %s on the host"),
            spk == NULL ? SPEAKER : spk);
    }
    self->t0 = mp_hal_ticks_ms();
    return MP_OBJ_FROM_PTR(self);
}

// Microphone frames waiting to be read (at most MIC_RING); older ones are counted as overruns.
static uint32_t mic_waiting(audio_stream_obj_t *self) {
    uint32_t due = (mp_hal_ticks_ms() - self->t0) / self->frame_ms;
    if (due - self->taken > MIC_RING) {
        self->overruns += due - self->taken - MIC_RING;
        self->taken = due - MIC_RING;
    }
    return due - self->taken;
}

static void mic_take(audio_stream_obj_t *self, uint8_t *buf) {
    // The frame's offset in the WAV's samples (logged modulo 2^32: 37 hours at 16 kHz).
    uint64_t at = (uint64_t)self->taken * self->frame_bytes;
    uint32_t got = 0;
    if (self->mic_fd >= 0 && at < self->pcm_len) {
        uint32_t want = self->pcm_len - (uint32_t)at;
        want = want < self->frame_bytes ? want : self->frame_bytes;
        if (!read_at(self->mic_fd, self->pcm_at + (uint32_t)at, buf, want)) {
            mp_raise_OSError(MP_EIO);
        }
        got = want;
    }
    memset(buf + got, 0, self->frame_bytes - got);
    self->taken++;
    log_frame(self->mic_log_fd, (uint32_t)at, self->frame_bytes);
}

// ready() -> frames waiting (0: none is due yet).
static mp_obj_t stream_ready(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(mic_waiting(stream_get(self_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(stream_ready_obj, stream_ready);

// next_ms() -> the time.ticks_ms() at which the next microphone frame is ready (in the past
// when one is ready now): a reader can sleep until then instead of polling.
static mp_obj_t stream_next_ms(mp_obj_t self_in) {
    audio_stream_obj_t *self = stream_get(self_in);
    uint32_t waiting = mic_waiting(self);
    uint32_t due = self->t0 + (self->taken + 1u) * self->frame_ms;
    if (waiting > 0) {
        due = mp_hal_ticks_ms();
    }
    return MP_OBJ_NEW_SMALL_INT(due & (MICROPY_PY_TIME_TICKS_PERIOD - 1));
}
static MP_DEFINE_CONST_FUN_OBJ_1(stream_next_ms_obj, stream_next_ms);

// readinto(buf) -> True with the next frame in buf (exactly frame_bytes, writable), False if none is due.
static mp_obj_t stream_readinto(mp_obj_t self_in, mp_obj_t buf_in) {
    audio_stream_obj_t *self = stream_get(self_in);
    mp_buffer_info_t info;
    if (!mp_get_buffer(buf_in, &info, MP_BUFFER_WRITE) || info.len != self->frame_bytes) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("buffer must be a writable %d-byte buffer"),
            (int)self->frame_bytes);
    }
    if (mic_waiting(self) == 0) {
        return mp_const_false;
    }
    mic_take(self, info.buf);
    return mp_const_true;
}
static MP_DEFINE_CONST_FUN_OBJ_2(stream_readinto_obj, stream_readinto);

// read() -> the next frame as new bytes, or None if none is due.
static mp_obj_t stream_read(mp_obj_t self_in) {
    audio_stream_obj_t *self = stream_get(self_in);
    if (mic_waiting(self) == 0) {
        return mp_const_none;
    }
    vstr_t vstr;
    vstr_init_len(&vstr, self->frame_bytes);
    mic_take(self, (uint8_t *)vstr.buf);
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(stream_read_obj, stream_read);

// write(pcm): plays whole 16-bit samples (any bytes-like object).
static mp_obj_t stream_write(mp_obj_t self_in, mp_obj_t pcm_in) {
    audio_stream_obj_t *self = stream_get(self_in);
    mp_buffer_info_t info;
    mp_get_buffer_raise(pcm_in, &info, MP_BUFFER_READ);
    if (info.len == 0 || info.len % 2 != 0 || info.len > 0x7fffffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("pcm must be whole 16-bit samples"));
    }
    uint32_t dur = (uint32_t)((uint64_t)info.len / 2 * 1000u / self->rate);
    uint32_t now = mp_hal_ticks_ms();
    if (self->spk_started) {
        // A full ring: wait for room (frames ahead of the DAC, in ms).
        while ((int32_t)(self->spk_end - now) > (int32_t)(MIC_RING * self->frame_ms)) {
            mp_event_wait_ms(self->spk_end - now - MIC_RING * self->frame_ms);
            now = mp_hal_ticks_ms();
        }
    }
    if (!self->spk_started || (int32_t)(now - self->spk_end) > 0) {
        if (self->spk_started) {
            self->underruns++;
        }
        self->spk_started = true;
        self->spk_end = now + SPK_START * self->frame_ms + dur;
    } else {
        self->spk_end += dur;
    }
    int offset = sh_flen(self->spk_fd);
    if (offset < 0 || sh_write(self->spk_fd, info.buf, info.len) != (int)info.len) {
        mp_raise_OSError(MP_EIO);
    }
    log_frame(self->spk_log_fd, (uint32_t)offset, (uint32_t)info.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(stream_write_obj, stream_write);

// counters() -> (overruns, underruns, frames read or lost).
static mp_obj_t stream_counters(mp_obj_t self_in) {
    audio_stream_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->open) {
        mic_waiting(self);
    }
    mp_obj_t items[3] = {
        mp_obj_new_int_from_uint(self->overruns), mp_obj_new_int_from_uint(self->underruns),
        mp_obj_new_int_from_uint(self->taken),
    };
    return mp_obj_new_tuple(3, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(stream_counters_obj, stream_counters);

static mp_obj_t stream_close(mp_obj_t self_in) {
    stream_close_files(MP_OBJ_TO_PTR(self_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(stream_close_obj, stream_close);

static const mp_rom_map_elem_t stream_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_ready), MP_ROM_PTR(&stream_ready_obj) },
    { MP_ROM_QSTR(MP_QSTR_next_ms), MP_ROM_PTR(&stream_next_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&stream_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_counters), MP_ROM_PTR(&stream_counters_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&stream_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&stream_close_obj) },
};
static MP_DEFINE_CONST_DICT(stream_locals_dict, stream_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    devkit_audio_stream_type,
    MP_QSTR_Stream,
    MP_TYPE_FLAG_NONE,
    make_new, stream_make_new,
    locals_dict, &stream_locals_dict
    );

static const mp_rom_map_elem_t devkit_audio_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__devkit_audio) },
    { MP_ROM_QSTR(MP_QSTR_Stream), MP_ROM_PTR(&devkit_audio_stream_type) },
    { MP_ROM_QSTR(MP_QSTR_RING), MP_ROM_INT(MIC_RING) },
};
static MP_DEFINE_CONST_DICT(devkit_audio_globals, devkit_audio_globals_table);

const mp_obj_module_t devkit_audio_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&devkit_audio_globals,
};

MP_REGISTER_MODULE(MP_QSTR__devkit_audio, devkit_audio_module);
