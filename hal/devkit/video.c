// video.c — the devkit board's frame memory and display (module _devkit_video), for hal/emu/video.py:
//
// Frame memory: FRAME_RAM_BYTES of the board's RAM set aside for camera frames, packet queues and
// reassembly buffers, outside the MicroPython heap (as a camera board keeps its frame buffers in
// a RAM region of their own): FrameMem(n) is a writable buffer of n bytes there, in whole pages
// of FRAME_PAGE bytes, given back by close() or when the object is collected (its finaliser; a
// soft reset sweeps every object, so nothing leaks across one). A closed FrameMem is no longer a
// buffer. Nothing in frame memory is scanned by the garbage collector.
//
// The display and the camera log are files in the device folder on the host (QEMU's working
// directory), reached through semihosting, in the formats host_tools/sim/camera.py reads:
//   display/<seq:06d>.jpg   each frame shown (the folder is made by the host at `sim start`:
//                           semihosting cannot make folders); seq 1, 2, ... continuing after the
//                           last file named in display.times when the board starts
//   display.times           "<unix seconds> <rtp ts> <file name> <bytes>" per frame shown, written
//                           after the file, so a line names a whole file
//   camera.times            "<unix seconds> <camera frame k> <rtp ts>" per frame captured
// Times are the board's wall clock (time_devkit.c: the host's time at power-on plus its ticks),
// in seconds with milliseconds. Nothing is allocated on the MicroPython heap per frame.
#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "semihost.h"

#define FRAME_RAM_BYTES (1024u * 1024u)
#define FRAME_PAGE 4096u
#define FRAME_PAGES (FRAME_RAM_BYTES / FRAME_PAGE)
#define DISPLAY_DIR "display/"
#define DISPLAY_TIMES "display.times"
#define CAMERA_TIMES "camera.times"
#define LOG_TAIL 160  // bytes of display.times read to find its last line

static uint8_t frame_ram[FRAME_RAM_BYTES] __attribute__((aligned(8)));
static uint8_t page_used[FRAME_PAGES];
static uint32_t display_seq;  // the number of the next display file; 0: not looked up since power-on

typedef struct _framemem_obj_t {
    mp_obj_base_t base;
    uint8_t *buf;  // NULL once closed
    uint32_t len;
    uint16_t page;
    uint16_t pages;
} framemem_obj_t;

static uint32_t pages_free(void) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < FRAME_PAGES; i++) {
        n += page_used[i] == 0;
    }
    return n;
}

// The first run of `pages` free pages: its first page, or -1.
static int find_pages(uint32_t pages) {
    uint32_t run = 0;
    for (uint32_t i = 0; i < FRAME_PAGES; i++) {
        run = page_used[i] ? 0 : run + 1;
        if (run == pages) {
            return (int)(i + 1 - pages);
        }
    }
    return -1;
}

// FrameMem(nbytes): nbytes (1 .. FRAME_RAM_BYTES) of frame memory, zeroed.
static mp_obj_t framemem_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    mp_int_t n = mp_obj_get_int(args[0]);
    if (n < 1 || (mp_uint_t)n > FRAME_RAM_BYTES) {
        mp_raise_ValueError(MP_ERROR_TEXT("FrameMem size must be from 1 to 1048576 bytes"));
    }
    uint32_t pages = ((uint32_t)n + FRAME_PAGE - 1) / FRAME_PAGE;
    int first = find_pages(pages);
    if (first < 0) {
        mp_raise_OSError(MP_ENOMEM);
    }
    framemem_obj_t *self = mp_obj_malloc_with_finaliser(framemem_obj_t, type);
    memset(&page_used[first], 1, pages);
    self->buf = &frame_ram[(uint32_t)first * FRAME_PAGE];
    self->len = (uint32_t)n;
    self->page = (uint16_t)first;
    self->pages = (uint16_t)pages;
    memset(self->buf, 0, self->len);
    return MP_OBJ_FROM_PTR(self);
}

static mp_int_t framemem_get_buffer(mp_obj_t self_in, mp_buffer_info_t *bufinfo, mp_uint_t flags) {
    (void)flags;
    framemem_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->buf == NULL) {
        return 1;  // closed: not a buffer any more
    }
    bufinfo->buf = self->buf;
    bufinfo->len = self->len;
    bufinfo->typecode = 'B';
    return 0;
}

static mp_obj_t framemem_unary_op(mp_unary_op_t op, mp_obj_t self_in) {
    framemem_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (op == MP_UNARY_OP_LEN) {
        return MP_OBJ_NEW_SMALL_INT(self->buf == NULL ? 0 : (mp_int_t)self->len);
    }
    return MP_OBJ_NULL;
}

// close(): the pages go back to the frame memory (idempotent; also the finaliser).
static mp_obj_t framemem_close(mp_obj_t self_in) {
    framemem_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->buf != NULL) {
        memset(&page_used[self->page], 0, self->pages);
        self->buf = NULL;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(framemem_close_obj, framemem_close);

static const mp_rom_map_elem_t framemem_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&framemem_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&framemem_close_obj) },
};
static MP_DEFINE_CONST_DICT(framemem_locals_dict, framemem_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    devkit_framemem_type,
    MP_QSTR_FrameMem,
    MP_TYPE_FLAG_NONE,
    make_new, framemem_make_new,
    buffer, framemem_get_buffer,
    unary_op, framemem_unary_op,
    locals_dict, &framemem_locals_dict
    );

// free() -> bytes of frame memory not in use (whole pages).
static mp_obj_t video_free(void) {
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)(pages_free() * FRAME_PAGE));
}
static MP_DEFINE_CONST_FUN_OBJ_0(video_free_obj, video_free);

// ---- text lines ----

static size_t fmt_u32(char *out, uint32_t v, size_t width) {
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    size_t i = 0;
    for (; n + i < width; i++) {
        out[i] = '0';
    }
    for (size_t j = 0; j < n; j++) {
        out[i + j] = tmp[n - 1 - j];
    }
    return i + n;
}

// "<unix seconds>.<ms>" on the board's wall clock.
static size_t fmt_now(char *out) {
    uint64_t ms = mp_hal_time_ns() / 1000000u;
    uint32_t s = (uint32_t)(ms / 1000u);
    size_t n = fmt_u32(out, s, 1);
    out[n++] = '.';
    return n + fmt_u32(out + n, (uint32_t)(ms - (uint64_t)s * 1000u), 3);
}

// Appends a line to a file of the device folder; false when it could not (sh_open_append: QEMU
// 7.2's semihosting opens "ab" without O_APPEND).
static bool append(const char *name, const char *line, size_t n) {
    int fd = sh_open_append(name);
    if (fd < 0) {
        return false;
    }
    int w = sh_write(fd, line, n);
    sh_close(fd);
    return w == (int)n;
}

// The number in the file name of display.times' last line ("<t> <ts> <NNNNNN.jpg> <bytes>"), 0
// without one.
static uint32_t last_logged_seq(void) {
    char buf[LOG_TAIL + 1];
    int fd = sh_open(DISPLAY_TIMES, SH_MODE_RB);
    if (fd < 0) {
        return 0;
    }
    int len = sh_flen(fd);
    uint32_t from = len > LOG_TAIL ? (uint32_t)len - LOG_TAIL : 0;
    int n = len > 0 && sh_seek(fd, from) == 0 ? sh_read(fd, buf, LOG_TAIL) : -1;
    sh_close(fd);
    if (n <= 0) {
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        n--;
    }
    buf[n] = 0;
    char *line = buf + n;
    while (line > buf && line[-1] != '\n') {
        line--;
    }
    // the third field
    for (int field = 0; field < 2; field++) {
        while (*line != 0 && *line != ' ') {
            line++;
        }
        while (*line == ' ') {
            line++;
        }
    }
    uint32_t seq = 0;
    int digits = 0;
    for (; *line >= '0' && *line <= '9' && digits < 9; line++, digits++) {
        seq = seq * 10 + (uint32_t)(*line - '0');
    }
    return digits > 0 && strncmp(line, ".jpg", 4) == 0 ? seq : 0;
}

// show(frame, n, pkt) -> the display file's number, or 0 when the display could not write it:
// frame[0:n] (a complete JPEG) becomes display/<seq:06d>.jpg, and display.times gets its line with
// the RTP timestamp of pkt (the packet that completed it: bytes 4..7, big-endian).
static mp_obj_t video_show(mp_obj_t frame_in, mp_obj_t n_in, mp_obj_t pkt_in) {
    mp_buffer_info_t frame, pkt;
    mp_get_buffer_raise(frame_in, &frame, MP_BUFFER_READ);
    mp_get_buffer_raise(pkt_in, &pkt, MP_BUFFER_READ);
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 1 || (size_t)n > frame.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("n must be from 1 to len(frame)"));
    }
    if (pkt.len < 12) {
        mp_raise_ValueError(MP_ERROR_TEXT("pkt must be an RTP packet (12 bytes or more)"));
    }
    if (display_seq == 0) {
        display_seq = last_logged_seq() + 1;
    }
    const uint8_t *p = pkt.buf;
    uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    char name[8 + 16];  // "display/" + "NNNNNN.jpg" (up to 9 digits)
    size_t at = strlen(DISPLAY_DIR);
    memcpy(name, DISPLAY_DIR, at);
    size_t nl = fmt_u32(name + at, display_seq, 6);
    memcpy(name + at + nl, ".jpg", 5);
    int fd = sh_open(name, SH_MODE_WB);
    if (fd < 0) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    int w = sh_write(fd, frame.buf, (size_t)n);
    sh_close(fd);
    if (w != (int)n) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    char line[64];
    size_t k = fmt_now(line);
    line[k++] = ' ';
    k += fmt_u32(line + k, ts, 1);
    line[k++] = ' ';
    memcpy(line + k, name + at, nl + 4);
    k += nl + 4;
    line[k++] = ' ';
    k += fmt_u32(line + k, (uint32_t)n, 1);
    line[k++] = '\n';
    if (!append(DISPLAY_TIMES, line, k)) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    return MP_OBJ_NEW_SMALL_INT((mp_int_t)display_seq++);
}
static MP_DEFINE_CONST_FUN_OBJ_3(video_show_obj, video_show);

// captured(k, ts) -> True when camera.times got the line "<unix seconds> <k> <ts>".
static mp_obj_t video_captured(mp_obj_t k_in, mp_obj_t ts_in) {
    uint32_t k = (uint32_t)mp_obj_get_int_truncated(k_in);
    uint32_t ts = (uint32_t)mp_obj_get_int_truncated(ts_in);
    char line[48];
    size_t n = fmt_now(line);
    line[n++] = ' ';
    n += fmt_u32(line + n, k, 1);
    line[n++] = ' ';
    n += fmt_u32(line + n, ts, 1);
    line[n++] = '\n';
    return mp_obj_new_bool(append(CAMERA_TIMES, line, n));
}
static MP_DEFINE_CONST_FUN_OBJ_2(video_captured_obj, video_captured);

static const mp_rom_map_elem_t devkit_video_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__devkit_video) },
    { MP_ROM_QSTR(MP_QSTR_FrameMem), MP_ROM_PTR(&devkit_framemem_type) },
    { MP_ROM_QSTR(MP_QSTR_free), MP_ROM_PTR(&video_free_obj) },
    { MP_ROM_QSTR(MP_QSTR_show), MP_ROM_PTR(&video_show_obj) },
    { MP_ROM_QSTR(MP_QSTR_captured), MP_ROM_PTR(&video_captured_obj) },
};
static MP_DEFINE_CONST_DICT(devkit_video_globals, devkit_video_globals_table);

const mp_obj_module_t devkit_video_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&devkit_video_globals,
};

MP_REGISTER_MODULE(MP_QSTR__devkit_video, devkit_video_module);
