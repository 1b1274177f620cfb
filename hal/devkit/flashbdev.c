// flashbdev.c — the devkit's flash: a NOR-like block device backed by a file on the host
// (semihosting; the supervisor names it with "flash=" on the command line, default flash.bin in
// the device folder). MicroPython's block-device protocol (extended form: readblocks/writeblocks
// with an offset, ioctl 1..6) as documented for vfs.AbstractBlockDev, used by vfs.VfsLfs2 from
// the frozen _boot.py. Every write reaches the host file at once, as a program operation
// reaches a real flash: a power cut loses only what littlefs had not written yet.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "extmod/vfs.h"
#include "semihost.h"

#define BLOCK MICROPY_BOARD_FLASH_BLOCK
#define NBLOCKS (MICROPY_BOARD_FLASH_BYTES / MICROPY_BOARD_FLASH_BLOCK)

typedef struct _devkit_flash_obj_t {
    mp_obj_base_t base;
} devkit_flash_obj_t;

static int flash_fd = -1;

static int flash_open(void) {
    if (flash_fd >= 0) {
        return flash_fd;
    }
    char path[128];
    if (sh_arg("flash", path, sizeof(path)) == NULL) {
        strcpy(path, "flash.bin");
    }
    int fd = sh_open(path, SH_MODE_RPB);
    if (fd < 0) {
        // A new board: the flash is erased (all ones).
        fd = sh_open(path, SH_MODE_WB);
        if (fd < 0) {
            return -1;
        }
        static const uint8_t ones[256] = { [0 ... 255] = 0xff };
        for (uint32_t i = 0; i < MICROPY_BOARD_FLASH_BYTES / sizeof(ones); i++) {
            if (sh_write(fd, ones, sizeof(ones)) != (int)sizeof(ones)) {
                sh_close(fd);
                return -1;
            }
        }
        sh_close(fd);
        fd = sh_open(path, SH_MODE_RPB);
        if (fd < 0) {
            return -1;
        }
    }
    if (sh_flen(fd) != MICROPY_BOARD_FLASH_BYTES) {
        sh_close(fd);
        return -1;
    }
    flash_fd = fd;
    return fd;
}

static void check_range(mp_int_t block, mp_int_t off, size_t len) {
    if (block < 0 || off < 0 || (uint32_t)block >= NBLOCKS
        || (uint64_t)block * BLOCK + (uint64_t)off + len > MICROPY_BOARD_FLASH_BYTES) {
        mp_raise_ValueError(MP_ERROR_TEXT("flash address out of range"));
    }
}

static int flash_io(bool write, uint32_t addr, void *buf, size_t len) {
    int fd = flash_open();
    if (fd < 0 || sh_seek(fd, addr) != 0) {
        return -MP_EIO;
    }
    int n = write ? sh_write(fd, buf, len) : sh_read(fd, buf, len);
    return n == (int)len ? 0 : -MP_EIO;
}

static mp_obj_t devkit_flash_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 0, false);
    if (flash_open() < 0) {
        mp_raise_OSError(MP_EIO);
    }
    devkit_flash_obj_t *self = mp_obj_malloc(devkit_flash_obj_t, type);
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t blocks_rw(bool write, size_t n_args, const mp_obj_t *args) {
    mp_int_t block = mp_obj_get_int(args[1]);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(args[2], &bufinfo, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    mp_int_t off = n_args > 3 ? mp_obj_get_int(args[3]) : 0;
    check_range(block, off, bufinfo.len);
    int rc = flash_io(write, (uint32_t)(block * BLOCK + off), bufinfo.buf, bufinfo.len);
    return MP_OBJ_NEW_SMALL_INT(rc);
}

static mp_obj_t devkit_flash_readblocks(size_t n_args, const mp_obj_t *args) {
    return blocks_rw(false, n_args, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(devkit_flash_readblocks_obj, 3, 4, devkit_flash_readblocks);

static mp_obj_t devkit_flash_writeblocks(size_t n_args, const mp_obj_t *args) {
    return blocks_rw(true, n_args, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(devkit_flash_writeblocks_obj, 3, 4, devkit_flash_writeblocks);

static mp_obj_t devkit_flash_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_INIT:
        case MP_BLOCKDEV_IOCTL_DEINIT:
        case MP_BLOCKDEV_IOCTL_SYNC:
            return MP_OBJ_NEW_SMALL_INT(0);
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(NBLOCKS);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(BLOCK);
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE: {
            mp_int_t block = mp_obj_get_int(arg_in);
            check_range(block, 0, BLOCK);
            static uint8_t ones[256];
            memset(ones, 0xff, sizeof(ones));
            for (uint32_t i = 0; i < BLOCK; i += sizeof(ones)) {
                if (flash_io(true, (uint32_t)block * BLOCK + i, ones, sizeof(ones)) != 0) {
                    return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
                }
            }
            return MP_OBJ_NEW_SMALL_INT(0);
        }
        default:
            return mp_const_none;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(devkit_flash_ioctl_obj, devkit_flash_ioctl);

static const mp_rom_map_elem_t devkit_flash_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&devkit_flash_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&devkit_flash_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&devkit_flash_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(devkit_flash_locals_dict, devkit_flash_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    devkit_flash_type,
    MP_QSTR_Flash,
    MP_TYPE_FLAG_NONE,
    make_new, devkit_flash_make_new,
    locals_dict, &devkit_flash_locals_dict
    );
