// moddevkit.c — the `devkit` module: the board's own peripherals that MicroPython has no
// standard class for. devkit.Flash() is the flash block device (flashbdev.c) that the frozen
// _boot.py mounts as littlefs at /.
#include "py/runtime.h"

extern const mp_obj_type_t devkit_flash_type;

static const mp_rom_map_elem_t devkit_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_devkit) },
    { MP_ROM_QSTR(MP_QSTR_Flash), MP_ROM_PTR(&devkit_flash_type) },
};
static MP_DEFINE_CONST_DICT(devkit_module_globals, devkit_module_globals_table);

const mp_obj_module_t devkit_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&devkit_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_devkit, devkit_module);
