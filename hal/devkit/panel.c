// panel.c — the devkit board's LEDs and buttons as the host sees and drives them (module
// _devkit_panel): files in the device folder on the host (QEMU's working directory), through
// semihosting, with the formats of host_tools/sim/board.py:
//   leds.json     written by the board on every change (write_leds: the caller's JSON text),
//                 replaced whole (a temporary file renamed over it, SYS_RENAME), so the host never
//                 reads half of one;
//   buttons.json  written by `edgecall sim press` (read_buttons: its bytes into the caller's buffer).
// hal/emu/led.py and hal/emu/button.py keep the state and the JSON; nothing is allocated here.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "semihost.h"

#define LEDS "leds.json"
#define LEDS_TMP "leds.json.tmp"
#define BUTTONS "buttons.json"

static int sh_rename(const char *from, const char *to) {
    uint32_t args[4] = { (uint32_t)from, (uint32_t)strlen(from), (uint32_t)to, (uint32_t)strlen(to) };
    register uint32_t r0 __asm__("r0") = 0x0F;  // SYS_RENAME
    register const void *r1 __asm__("r1") = args;
    __asm__ __volatile__ ("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

// write_leds(data): leds.json becomes `data` (bytes-like).
static mp_obj_t panel_write_leds(mp_obj_t data_in) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(data_in, &info, MP_BUFFER_READ);
    int fd = sh_open(LEDS_TMP, SH_MODE_WB);
    if (fd < 0) {
        mp_raise_OSError(MP_EIO);
    }
    int n = sh_write(fd, info.buf, info.len);
    sh_close(fd);
    if (n != (int)info.len || sh_rename(LEDS_TMP, LEDS) != 0) {
        mp_raise_OSError(MP_EIO);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(panel_write_leds_obj, panel_write_leds);

// read_buttons(buf) -> bytes of buttons.json read into buf (a writable buffer), 0 without the file;
// ValueError when the file does not fit.
static mp_obj_t panel_read_buttons(mp_obj_t buf_in) {
    mp_buffer_info_t info;
    mp_get_buffer_raise(buf_in, &info, MP_BUFFER_WRITE);
    int fd = sh_open(BUTTONS, SH_MODE_RB);
    if (fd < 0) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    int len = sh_flen(fd);
    int n = len >= 0 && (size_t)len <= info.len ? sh_read(fd, info.buf, (size_t)len) : -2;
    sh_close(fd);
    if (n == -2) {
        mp_raise_ValueError(MP_ERROR_TEXT("buttons.json does not fit the buffer"));
    }
    return MP_OBJ_NEW_SMALL_INT(n < 0 ? 0 : n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(panel_read_buttons_obj, panel_read_buttons);

static const mp_rom_map_elem_t devkit_panel_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__devkit_panel) },
    { MP_ROM_QSTR(MP_QSTR_write_leds), MP_ROM_PTR(&panel_write_leds_obj) },
    { MP_ROM_QSTR(MP_QSTR_read_buttons), MP_ROM_PTR(&panel_read_buttons_obj) },
};
static MP_DEFINE_CONST_DICT(devkit_panel_globals, devkit_panel_globals_table);

const mp_obj_module_t devkit_panel_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&devkit_panel_globals,
};

MP_REGISTER_MODULE(MP_QSTR__devkit_panel, devkit_panel_module);
