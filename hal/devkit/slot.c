// slot.c — the board's view of its MCUboot slots: module _devkit_slot. The image header and TLVs
// of a slot (MCUboot docs/design.md, "Image format") and a slot's image trailer ("Image trailer",
// swap-using-scratch with BOOT_MAX_ALIGN 8: magic in the last 16 bytes, before it image_ok,
// copy_done and swap_info, 8 bytes each), read through semihosting from the slot files the
// bootloader keeps beside the board (boot/slot0.bin and boot/slot1.bin, relative to QEMU's working
// directory: the device folder; host_tools/sim/bootloader/trailer.py is the bootloader's side).
//
//   image(slot)        None, or ((major, minor, revision, build), SHA-256 TLV bytes)
//   tlv(slot, type)    the value of the image's first TLV of that type (protected area first), or None
//   trailer(slot)      None, or (magic, image_ok, copy_done, swap_info): MAGIC_* and FLAG_* codes
//   confirm()          MCUboot's boot_set_confirmed() for the primary slot: writes image_ok when the
//                      trailer's magic is good and image_ok unset; True when the primary image is
//                      confirmed afterwards (a trailer without magic: a programmed image, good as
//                      it is), False when the primary slot holds no image; OSError(EIO) on a
//                      failed read or write, OSError(EINVAL) on a corrupt trailer.
//
// Every offset read from the image is checked against the slot file's length before use; the
// only write is the 8-byte image_ok record of the primary slot, never past the image's end.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "semihost.h"

#define IMAGE_MAGIC         0x96f3b83dU
#define IMAGE_HEADER_SIZE   32
#define TLV_INFO_MAGIC      0x6907
#define TLV_PROT_INFO_MAGIC 0x6908
#define TLV_SHA256          0x10
#define SHA256_SIZE         32
#define TLV_VALUE_MAX       64

#define BOOT_MAX_ALIGN      8
#define BOOT_MAGIC_SIZE     16
// Offsets of the trailer's fields from the end of the slot.
#define OFF_MAGIC           BOOT_MAGIC_SIZE
#define OFF_IMAGE_OK        (OFF_MAGIC + BOOT_MAX_ALIGN)
#define OFF_COPY_DONE       (OFF_IMAGE_OK + BOOT_MAX_ALIGN)
#define OFF_SWAP_INFO       (OFF_COPY_DONE + BOOT_MAX_ALIGN)
#define TRAILER_FIELDS      (OFF_SWAP_INFO + 2 * BOOT_MAX_ALIGN)  // with swap_size

#define SLOT_MAX_BYTES      (16u * 1024u * 1024u)

// MCUboot's codes (bootutil_public.h): BOOT_MAGIC_GOOD/BAD/UNSET, BOOT_FLAG_SET/BAD/UNSET.
enum { MAGIC_GOOD = 1, MAGIC_BAD = 2, MAGIC_UNSET = 3 };
enum { FLAG_SET = 1, FLAG_BAD = 2, FLAG_UNSET = 3 };

static const uint8_t boot_magic[BOOT_MAGIC_SIZE] = {
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
};

typedef struct {
    int fd;
    uint32_t size;
} slot_file_t;

typedef struct {
    uint8_t major, minor;
    uint16_t revision;
    uint32_t build;
    uint32_t prot_off, prot_size;  // protected TLV area (prot_size 0: none)
    uint32_t tlv_off, tlv_size;    // TLV area, with its 4-byte info header
} image_info_t;

static uint16_t le16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static mp_int_t slot_arg(mp_obj_t arg) {
    mp_int_t n = mp_obj_get_int(arg);
    if (n != 0 && n != 1) {
        mp_raise_ValueError(MP_ERROR_TEXT("slot must be 0 or 1"));
    }
    return n;
}

// Opens a slot file; false when the slot has none. A file too short to hold a trailer or larger
// than any slot is not a slot: EIO.
static bool slot_open(mp_int_t n, int mode, slot_file_t *f) {
    f->fd = sh_open(n == 0 ? "boot/slot0.bin" : "boot/slot1.bin", mode);
    if (f->fd < 0) {
        return false;
    }
    int len = sh_flen(f->fd);
    if (len < IMAGE_HEADER_SIZE + TRAILER_FIELDS || (uint32_t)len > SLOT_MAX_BYTES) {
        sh_close(f->fd);
        mp_raise_OSError(MP_EIO);
    }
    f->size = (uint32_t)len;
    return true;
}

static bool read_at(const slot_file_t *f, uint32_t off, void *buf, uint32_t len) {
    if (off > f->size || len > f->size - off) {
        return false;
    }
    return sh_seek(f->fd, off) == 0 && sh_read(f->fd, buf, len) == (int)len;
}

// The image's header and the bounds of its TLV areas; false when the slot holds no image (erased,
// or not an MCUboot image that fits before the trailer).
static bool read_image(const slot_file_t *f, image_info_t *info) {
    uint8_t h[IMAGE_HEADER_SIZE];
    if (!read_at(f, 0, h, sizeof(h)) || le32(h) != IMAGE_MAGIC) {
        return false;
    }
    uint32_t hdr_size = le16(h + 8);
    uint32_t prot = le16(h + 10);
    uint32_t img_size = le32(h + 12);
    uint32_t limit = f->size - TRAILER_FIELDS;
    if (hdr_size < IMAGE_HEADER_SIZE || hdr_size > limit || img_size > limit - hdr_size
        || prot > limit - hdr_size - img_size) {
        return false;
    }
    info->major = h[20];
    info->minor = h[21];
    info->revision = le16(h + 22);
    info->build = le32(h + 24);
    info->prot_off = hdr_size + img_size;
    info->prot_size = prot;
    info->tlv_off = info->prot_off + prot;
    uint8_t t[4];
    if (prot != 0) {
        if (!read_at(f, info->prot_off, t, sizeof(t)) || le16(t) != TLV_PROT_INFO_MAGIC || le16(t + 2) != prot) {
            return false;
        }
    }
    if (info->tlv_off > limit - sizeof(t) || !read_at(f, info->tlv_off, t, sizeof(t)) || le16(t) != TLV_INFO_MAGIC) {
        return false;
    }
    info->tlv_size = le16(t + 2);
    return info->tlv_size >= sizeof(t) && info->tlv_size <= limit - info->tlv_off;
}

// Looks for a TLV of `type` in [start + 4, start + size); its length (copied into buf), -1 if
// absent, -2 if the area is malformed or the value larger than buf.
static int find_in_area(const slot_file_t *f, uint32_t start, uint32_t size, uint16_t type, uint8_t *buf,
    uint32_t buf_len) {
    uint32_t pos = start + 4, end = start + size;
    while (pos < end) {
        uint8_t e[4];
        if (end - pos < sizeof(e) || !read_at(f, pos, e, sizeof(e))) {
            return -2;
        }
        uint32_t len = le16(e + 2);
        if (len > end - pos - sizeof(e)) {
            return -2;
        }
        if (le16(e) == type) {
            if (len > buf_len || !read_at(f, pos + sizeof(e), buf, len)) {
                return -2;
            }
            return (int)len;
        }
        pos += sizeof(e) + len;
    }
    return -1;
}

static int find_tlv(const slot_file_t *f, const image_info_t *info, uint16_t type, uint8_t *buf, uint32_t buf_len) {
    if (info->prot_size != 0) {
        int n = find_in_area(f, info->prot_off, info->prot_size, type, buf, buf_len);
        if (n != -1) {
            return n;
        }
    }
    return find_in_area(f, info->tlv_off, info->tlv_size, type, buf, buf_len);
}

static int flag_code(uint8_t b) {
    return b == 0x01 ? FLAG_SET : b == 0xff ? FLAG_UNSET : FLAG_BAD;
}

static int magic_code(const uint8_t *m) {
    if (memcmp(m, boot_magic, BOOT_MAGIC_SIZE) == 0) {
        return MAGIC_GOOD;
    }
    for (int i = 0; i < BOOT_MAGIC_SIZE; i++) {
        if (m[i] != 0xff) {
            return MAGIC_BAD;
        }
    }
    return MAGIC_UNSET;
}

// The last TRAILER_FIELDS bytes of the slot.
static void read_trailer(const slot_file_t *f, uint8_t *t) {
    if (!read_at(f, f->size - TRAILER_FIELDS, t, TRAILER_FIELDS)) {
        sh_close(f->fd);
        mp_raise_OSError(MP_EIO);
    }
}

#define FIELD(t, off) ((t)[TRAILER_FIELDS - (off)])

static mp_obj_t slot_image(mp_obj_t slot_in) {
    slot_file_t f;
    if (!slot_open(slot_arg(slot_in), SH_MODE_RB, &f)) {
        return mp_const_none;
    }
    image_info_t info;
    uint8_t hash[SHA256_SIZE];
    bool ok = read_image(&f, &info) && find_tlv(&f, &info, TLV_SHA256, hash, sizeof(hash)) == SHA256_SIZE;
    sh_close(f.fd);
    if (!ok) {
        return mp_const_none;
    }
    mp_obj_t version[4] = {
        MP_OBJ_NEW_SMALL_INT(info.major), MP_OBJ_NEW_SMALL_INT(info.minor),
        MP_OBJ_NEW_SMALL_INT(info.revision), mp_obj_new_int_from_uint(info.build),
    };
    mp_obj_t out[2] = { mp_obj_new_tuple(4, version), mp_obj_new_bytes(hash, sizeof(hash)) };
    return mp_obj_new_tuple(2, out);
}
static MP_DEFINE_CONST_FUN_OBJ_1(slot_image_obj, slot_image);

static mp_obj_t slot_tlv(mp_obj_t slot_in, mp_obj_t type_in) {
    mp_int_t type = mp_obj_get_int(type_in);
    if (type < 0 || type > 0xffff) {
        mp_raise_ValueError(MP_ERROR_TEXT("TLV type must be 0..0xffff"));
    }
    slot_file_t f;
    if (!slot_open(slot_arg(slot_in), SH_MODE_RB, &f)) {
        return mp_const_none;
    }
    image_info_t info;
    uint8_t value[TLV_VALUE_MAX];
    int n = read_image(&f, &info) ? find_tlv(&f, &info, (uint16_t)type, value, sizeof(value)) : -1;
    sh_close(f.fd);
    return n < 0 ? mp_const_none : mp_obj_new_bytes(value, (size_t)n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(slot_tlv_obj, slot_tlv);

static mp_obj_t slot_trailer(mp_obj_t slot_in) {
    slot_file_t f;
    if (!slot_open(slot_arg(slot_in), SH_MODE_RB, &f)) {
        return mp_const_none;
    }
    uint8_t t[TRAILER_FIELDS];
    read_trailer(&f, t);
    sh_close(f.fd);
    mp_obj_t out[4] = {
        MP_OBJ_NEW_SMALL_INT(magic_code(&FIELD(t, OFF_MAGIC))),
        MP_OBJ_NEW_SMALL_INT(flag_code(FIELD(t, OFF_IMAGE_OK))),
        MP_OBJ_NEW_SMALL_INT(flag_code(FIELD(t, OFF_COPY_DONE))),
        MP_OBJ_NEW_SMALL_INT(FIELD(t, OFF_SWAP_INFO)),
    };
    return mp_obj_new_tuple(4, out);
}
static MP_DEFINE_CONST_FUN_OBJ_1(slot_trailer_obj, slot_trailer);

static mp_obj_t slot_confirm(void) {
    slot_file_t f;
    if (!slot_open(0, SH_MODE_RPB, &f)) {
        return mp_const_false;
    }
    image_info_t info;
    if (!read_image(&f, &info)) {
        sh_close(f.fd);
        return mp_const_false;
    }
    uint8_t t[TRAILER_FIELDS];
    read_trailer(&f, t);
    int magic = magic_code(&FIELD(t, OFF_MAGIC));
    int image_ok = flag_code(FIELD(t, OFF_IMAGE_OK));
    if (magic == MAGIC_UNSET || (magic == MAGIC_GOOD && image_ok == FLAG_SET)) {
        sh_close(f.fd);
        return mp_const_true;  // a programmed image (no swap ever ran), or already confirmed
    }
    if (magic == MAGIC_BAD || image_ok == FLAG_BAD) {
        sh_close(f.fd);
        mp_raise_OSError(MP_EINVAL);
    }
    uint8_t record[BOOT_MAX_ALIGN];
    memset(record, 0xff, sizeof(record));
    record[0] = 0x01;
    bool ok = sh_seek(f.fd, f.size - OFF_IMAGE_OK) == 0 && sh_write(f.fd, record, sizeof(record)) == (int)sizeof(record);
    sh_close(f.fd);
    if (!ok) {
        mp_raise_OSError(MP_EIO);
    }
    return mp_const_true;
}
static MP_DEFINE_CONST_FUN_OBJ_0(slot_confirm_obj, slot_confirm);

static const mp_rom_map_elem_t slot_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__devkit_slot) },
    { MP_ROM_QSTR(MP_QSTR_image), MP_ROM_PTR(&slot_image_obj) },
    { MP_ROM_QSTR(MP_QSTR_tlv), MP_ROM_PTR(&slot_tlv_obj) },
    { MP_ROM_QSTR(MP_QSTR_trailer), MP_ROM_PTR(&slot_trailer_obj) },
    { MP_ROM_QSTR(MP_QSTR_confirm), MP_ROM_PTR(&slot_confirm_obj) },
    { MP_ROM_QSTR(MP_QSTR_MAGIC_GOOD), MP_ROM_INT(MAGIC_GOOD) },
    { MP_ROM_QSTR(MP_QSTR_MAGIC_BAD), MP_ROM_INT(MAGIC_BAD) },
    { MP_ROM_QSTR(MP_QSTR_MAGIC_UNSET), MP_ROM_INT(MAGIC_UNSET) },
    { MP_ROM_QSTR(MP_QSTR_FLAG_SET), MP_ROM_INT(FLAG_SET) },
    { MP_ROM_QSTR(MP_QSTR_FLAG_BAD), MP_ROM_INT(FLAG_BAD) },
    { MP_ROM_QSTR(MP_QSTR_FLAG_UNSET), MP_ROM_INT(FLAG_UNSET) },
};
static MP_DEFINE_CONST_DICT(slot_module_globals, slot_module_globals_table);

const mp_obj_module_t devkit_slot_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&slot_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__devkit_slot, devkit_slot_module);
