// camera.c — the devkit board's camera (module _devkit_camera, class Camera): frames of
// width x height pixels, RGB565 (16-bit little-endian words, r:5 g:6 b:5) or RGB888 (r, g, b
// bytes), delivered at `fps` frames per second on the board's own clock (its millisecond ticks), read
// into the caller's buffer (nothing is allocated per frame).
//
// Frame k (k = 1, 2, ...) is captured (k - 1) / fps seconds after the camera opened, as a
// sensor streaming from power-up would capture it. frame_into() gives the newest frame not yet
// given: it waits (with Ctrl-C) for the next one when the caller is early, and when the caller is
// late the frames it missed are gone (counted in dropped), so k follows the camera's clock.
//
// The pictures: the raw frames of the host folder given with `edgecall sim start --camera DIR`,
// listed by the host in camera.list in the device folder ("<bytes> <path>" per file, sorted by
// name, paths relative to the device folder; host_tools/sim/camera.py), those exactly one frame
// long in a loop (frame k is the ((k - 1) mod n)-th); without them, a moving test pattern
// (host_tools/sim/camera.py makes the same on the host): frame k has red = x + 4k,
// green = y + 2k, blue = 16 * ((x / 8) ^ (y / 8)) + k (mod 256), its first 4 bytes replaced by k
// (big-endian).
#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "semihost.h"

#define CAMERA_LIST "camera.list"
#define MAX_FILES 1024
#define LINE_LEN 256       // longest line of camera.list the camera takes
#define MAX_FRAME_BYTES (4u * 1024u * 1024u)

typedef struct _camera_obj_t {
    mp_obj_base_t base;
    uint32_t width;
    uint32_t height;
    uint32_t bpp;
    uint32_t frame_bytes;
    uint32_t fps;
    uint32_t t0;           // ticks_ms when the camera opened
    uint32_t k;            // the last frame given (0: none yet)
    uint32_t dropped;
    int list_fd;           // camera.list, or -1: the test pattern
    uint32_t nfiles;
    bool open;
    uint32_t line_at[];    // offsets in camera.list of the lines of the frames' files
} camera_obj_t;

static void pattern(uint8_t *p, uint32_t w, uint32_t h, uint32_t bpp, uint32_t k) {
    uint8_t *start = p;
    for (uint32_t y = 0; y < h; y++) {
        uint32_t g = (y + 2 * k) & 0xff;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t r = (x + 4 * k) & 0xff;
            uint32_t b = (16 * ((x >> 3) ^ (y >> 3)) + k) & 0xff;
            if (bpp == 2) {
                uint32_t v = (r >> 3) << 11 | (g >> 2) << 5 | b >> 3;
                *p++ = (uint8_t)v;
                *p++ = (uint8_t)(v >> 8);
            } else {
                *p++ = (uint8_t)r;
                *p++ = (uint8_t)g;
                *p++ = (uint8_t)b;
            }
        }
    }
    if (w * h * bpp >= 4) {
        start[0] = (uint8_t)(k >> 24);
        start[1] = (uint8_t)(k >> 16);
        start[2] = (uint8_t)(k >> 8);
        start[3] = (uint8_t)k;
    }
}

// One line of camera.list from `at` ("<bytes> <path>\n"): its length with the newline, the path
// copied into `path` and its size into `size`; 0 at the end, -1 for a line too long or malformed.
static int list_line(int fd, uint32_t at, char *path, uint32_t *size) {
    char buf[LINE_LEN + 1];
    if (sh_seek(fd, at) != 0) {
        return 0;
    }
    int n = sh_read(fd, buf, LINE_LEN);
    if (n <= 0) {
        return 0;
    }
    buf[n] = 0;
    char *nl = memchr(buf, '\n', (size_t)n);
    if (nl == NULL) {
        return -1;
    }
    *nl = 0;
    uint32_t v = 0;
    char *p = buf;
    for (; *p >= '0' && *p <= '9' && v <= MAX_FRAME_BYTES; p++) {
        v = v * 10 + (uint32_t)(*p - '0');
    }
    if (*p != ' ' || p == buf || p[1] == 0) {
        return -1;
    }
    strcpy(path, p + 1);
    *size = v;
    return (int)(nl - buf) + 1;
}

// Offsets of the lines of camera.list whose file is `frame_bytes` long (at most `max`, into `out`
// unless it is NULL); how many there are.
static uint32_t scan_list(int fd, uint32_t frame_bytes, uint32_t *out, uint32_t max) {
    char path[LINE_LEN];
    uint32_t at = 0, size, count = 0;
    int n;
    while (count < max && (n = list_line(fd, at, path, &size)) != 0) {
        if (n < 0) {
            break;  // a line too long or malformed ends the list
        }
        if (size == frame_bytes) {
            if (out != NULL) {
                out[count] = at;
            }
            count++;
        }
        at += (uint32_t)n;
    }
    return count;
}

static camera_obj_t *camera_get(mp_obj_t self_in) {
    camera_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->open) {
        mp_raise_ValueError(MP_ERROR_TEXT("camera is closed"));
    }
    return self;
}

// Camera(width, height, bytes_per_pixel, fps)
static mp_obj_t camera_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 4, 4, false);
    mp_int_t w = mp_obj_get_int(args[0]);
    mp_int_t h = mp_obj_get_int(args[1]);
    mp_int_t bpp = mp_obj_get_int(args[2]);
    mp_int_t fps = mp_obj_get_int(args[3]);
    if (w < 1 || h < 1 || w > 4096 || h > 4096 || (bpp != 2 && bpp != 3)
        || (uint64_t)w * (uint64_t)h * (uint64_t)bpp > MAX_FRAME_BYTES) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad frame size"));
    }
    if (fps < 1 || fps > 60) {
        mp_raise_ValueError(MP_ERROR_TEXT("fps must be from 1 to 60"));
    }
    uint32_t frame_bytes = (uint32_t)(w * h * bpp);
    // The list's lines of files one frame long: counted, then recorded in the object.
    int fd = sh_open(CAMERA_LIST, SH_MODE_RB);
    uint32_t count = fd >= 0 ? scan_list(fd, frame_bytes, NULL, MAX_FILES) : 0;
    camera_obj_t *self = mp_obj_malloc_var_with_finaliser(camera_obj_t, line_at, uint32_t, count, type);
    self->width = (uint32_t)w;
    self->height = (uint32_t)h;
    self->bpp = (uint32_t)bpp;
    self->frame_bytes = frame_bytes;
    self->fps = (uint32_t)fps;
    self->k = 0;
    self->dropped = 0;
    self->list_fd = -1;
    self->open = true;
    self->nfiles = count > 0 ? scan_list(fd, frame_bytes, self->line_at, count) : 0;
    if (self->nfiles > 0) {
        self->list_fd = fd;
    } else if (fd >= 0) {
        sh_close(fd);
    }
    self->t0 = mp_hal_ticks_ms();
    return MP_OBJ_FROM_PTR(self);
}

// The number of the newest frame captured by now.
static uint32_t camera_due(camera_obj_t *self) {
    uint32_t elapsed = mp_hal_ticks_ms() - self->t0;
    return (uint32_t)((uint64_t)elapsed * self->fps / 1000u) + 1;
}

static void camera_fill(camera_obj_t *self, uint8_t *buf, uint32_t k) {
    if (self->nfiles == 0) {
        pattern(buf, self->width, self->height, self->bpp, k);
        return;
    }
    char path[LINE_LEN];
    uint32_t size;
    if (list_line(self->list_fd, self->line_at[(k - 1) % self->nfiles], path, &size) <= 0) {
        mp_raise_OSError(MP_EIO);
    }
    int fd = sh_open(path, SH_MODE_RB);
    if (fd < 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    int got = sh_read(fd, buf, self->frame_bytes);
    sh_close(fd);
    if (got != (int)self->frame_bytes) {
        mp_raise_OSError(MP_EIO);
    }
}

// The next frame into buf (frame_bytes); its number.
static uint32_t camera_next(camera_obj_t *self, uint8_t *buf) {
    uint32_t next = self->k + 1;
    uint32_t due = camera_due(self);
    while (due < next) {
        // Early: wait for frame `next`, captured at ceil((next - 1) * 1000 / fps) ms.
        uint32_t at = (uint32_t)(((uint64_t)(next - 1) * 1000u + self->fps - 1) / self->fps);
        uint32_t elapsed = mp_hal_ticks_ms() - self->t0;
        mp_event_wait_ms(at > elapsed ? at - elapsed : 1);
        due = camera_due(self);
    }
    camera_fill(self, buf, due);
    self->dropped += due - next;
    self->k = due;
    return due;
}

// frame_into(buf) -> k: the next frame into buf (exactly frame_bytes, writable).
static mp_obj_t camera_frame_into(mp_obj_t self_in, mp_obj_t buf_in) {
    camera_obj_t *self = camera_get(self_in);
    mp_buffer_info_t info;
    if (!mp_get_buffer(buf_in, &info, MP_BUFFER_WRITE) || info.len != self->frame_bytes) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("buffer must be a writable %d-byte buffer"),
            (int)self->frame_bytes);
    }
    return mp_obj_new_int_from_uint(camera_next(self, info.buf));
}
static MP_DEFINE_CONST_FUN_OBJ_2(camera_frame_into_obj, camera_frame_into);

// frame() -> the next frame as new bytes (one allocation of frame_bytes).
static mp_obj_t camera_frame(mp_obj_t self_in) {
    camera_obj_t *self = camera_get(self_in);
    vstr_t vstr;
    vstr_init_len(&vstr, self->frame_bytes);
    camera_next(self, (uint8_t *)vstr.buf);
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(camera_frame_obj, camera_frame);

// ready() -> True when a frame not yet given has been captured (frame_into will not wait).
static mp_obj_t camera_ready(mp_obj_t self_in) {
    camera_obj_t *self = camera_get(self_in);
    return mp_obj_new_bool(camera_due(self) > self->k);
}
static MP_DEFINE_CONST_FUN_OBJ_1(camera_ready_obj, camera_ready);

// counters() -> (last frame given, frames dropped, files in the loop: 0 = the test pattern).
static mp_obj_t camera_counters(mp_obj_t self_in) {
    camera_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_obj_t items[3] = {
        mp_obj_new_int_from_uint(self->k), mp_obj_new_int_from_uint(self->dropped),
        mp_obj_new_int_from_uint(self->nfiles),
    };
    return mp_obj_new_tuple(3, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(camera_counters_obj, camera_counters);

static mp_obj_t camera_close(mp_obj_t self_in) {
    camera_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->list_fd >= 0) {
        sh_close(self->list_fd);
        self->list_fd = -1;
    }
    self->open = false;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(camera_close_obj, camera_close);

static const mp_rom_map_elem_t camera_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_frame_into), MP_ROM_PTR(&camera_frame_into_obj) },
    { MP_ROM_QSTR(MP_QSTR_frame), MP_ROM_PTR(&camera_frame_obj) },
    { MP_ROM_QSTR(MP_QSTR_ready), MP_ROM_PTR(&camera_ready_obj) },
    { MP_ROM_QSTR(MP_QSTR_counters), MP_ROM_PTR(&camera_counters_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&camera_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&camera_close_obj) },
};
static MP_DEFINE_CONST_DICT(camera_locals_dict, camera_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    devkit_camera_type,
    MP_QSTR_Camera,
    MP_TYPE_FLAG_NONE,
    make_new, camera_make_new,
    locals_dict, &camera_locals_dict
    );

static const mp_rom_map_elem_t devkit_camera_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__devkit_camera) },
    { MP_ROM_QSTR(MP_QSTR_Camera), MP_ROM_PTR(&devkit_camera_type) },
};
static MP_DEFINE_CONST_DICT(devkit_camera_globals, devkit_camera_globals_table);

const mp_obj_module_t devkit_camera_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&devkit_camera_globals,
};

MP_REGISTER_MODULE(MP_QSTR__devkit_camera, devkit_camera_module);
