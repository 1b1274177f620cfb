// time_devkit.c — wall-clock time of the devkit (included by extmod/modtime.c through
// MICROPY_PY_TIME_INCLUDEFILE). The board has no battery-backed RTC: the supervisor gives the
// host's Unix time at power-on ("time=SECONDS.MMM" on the command line, as a board's network time
// would) and the board's millisecond ticks (clock_devkit.c, a hardware counter) carry it on.
#include "py/obj.h"
#include "py/mphal.h"
#include "shared/timeutils/timeutils.h"
#include "semihost.h"

static uint64_t devkit_epoch_ns(void) {
    static uint64_t boot_ms;
    static int known;
    if (!known) {
        // "time=SECONDS[.MMM]": the host's Unix time when it started the board, to the ms.
        char v[24];
        uint64_t s = 0, ms = 0;
        if (sh_arg("time", v, sizeof(v)) != NULL) {
            const char *p = v;
            for (; *p >= '0' && *p <= '9'; p++) {
                s = s * 10 + (uint64_t)(*p - '0');
            }
            if (*p == '.') {
                p++;
                for (int i = 0; i < 3; i++) {
                    ms = ms * 10 + (*p >= '0' && *p <= '9' ? (uint64_t)(*p++ - '0') : 0);
                }
            }
        }
        boot_ms = s * 1000 + ms;
        known = 1;
    }
    return (boot_ms + (uint64_t)mp_hal_ticks_ms()) * 1000000ull;
}

uint64_t mp_hal_time_ns(void) {
    return devkit_epoch_ns();
}

static void mp_time_localtime_get(timeutils_struct_time_t *tm) {
    timeutils_seconds_since_epoch_to_struct_time(devkit_epoch_ns() / 1000000000ull, tm);
}

static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_ull(devkit_epoch_ns() / 1000000000ull);
}

// FAT file times (lib/oofatfs): the same clock, packed as FatFs wants it.
uint32_t get_fattime(void) {
    timeutils_struct_time_t tm;
    mp_time_localtime_get(&tm);
    return ((uint32_t)(tm.tm_year - 1980) << 25) | ((uint32_t)tm.tm_mon << 21) | ((uint32_t)tm.tm_mday << 16)
           | ((uint32_t)tm.tm_hour << 11) | ((uint32_t)tm.tm_min << 5) | ((uint32_t)tm.tm_sec / 2);
}
