// machine_devkit.c — the devkit's part of MicroPython's machine module (included by
// extmod/modmachine.c through MICROPY_PY_MACHINE_INCLUDEFILE): reset, bootloader, reset cause,
// unique id, frequency, idle and sleeps. The board's supervisor learns why QEMU stopped from its
// exit status (semihosting SYS_EXIT_EXTENDED): 42 reset, 43 bootloader; it tells the next boot
// the reset cause and the board's unique id on the command line ("reset=N uid=HEX").
#include "py/mphal.h"
#include "semihost.h"

#define DEVKIT_EXIT_RESET 42
#define DEVKIT_EXIT_BOOTLOADER 43
#define DEVKIT_CPU_HZ 25000000

enum { RESET_PWRON = 1, RESET_HARD = 2, RESET_WDT = 3, RESET_DEEPSLEEP = 4, RESET_SOFT = 5 };

#define MICROPY_PY_MACHINE_EXTRA_GLOBALS \
    { MP_ROM_QSTR(MP_QSTR_PWRON_RESET), MP_ROM_INT(RESET_PWRON) }, \
    { MP_ROM_QSTR(MP_QSTR_HARD_RESET), MP_ROM_INT(RESET_HARD) }, \
    { MP_ROM_QSTR(MP_QSTR_WDT_RESET), MP_ROM_INT(RESET_WDT) }, \
    { MP_ROM_QSTR(MP_QSTR_DEEPSLEEP_RESET), MP_ROM_INT(RESET_DEEPSLEEP) }, \
    { MP_ROM_QSTR(MP_QSTR_SOFT_RESET), MP_ROM_INT(RESET_SOFT) }, \

static void mp_machine_idle(void) {
    devkit_idle(1);  // the next interrupt, or 1 ms at most: the SysTick no longer ticks every ms
}

MP_NORETURN static void mp_machine_reset(void) {
    sh_exit(DEVKIT_EXIT_RESET);
}

static mp_int_t mp_machine_reset_cause(void) {
    char v[8];
    if (sh_arg("reset", v, sizeof(v)) == NULL) {
        return RESET_PWRON;
    }
    return v[0] >= '1' && v[0] <= '5' ? v[0] - '0' : RESET_PWRON;
}

MP_NORETURN void mp_machine_bootloader(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    (void)args;
    sh_exit(DEVKIT_EXIT_BOOTLOADER);
}

static mp_obj_t mp_machine_unique_id(void) {
    char hex[17];
    uint8_t id[8] = { 0 };
    if (sh_arg("uid", hex, sizeof(hex)) != NULL) {
        for (int i = 0; i < 8 && hex[2 * i] && hex[2 * i + 1]; i++) {
            uint8_t b = 0;
            for (int k = 0; k < 2; k++) {
                char c = hex[2 * i + k];
                b = (uint8_t)(b << 4) | (uint8_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            }
            id[i] = b;
        }
    }
    return mp_obj_new_bytes(id, sizeof(id));
}

static mp_obj_t mp_machine_get_freq(void) {
    return MP_OBJ_NEW_SMALL_INT(DEVKIT_CPU_HZ);
}

static void mp_machine_set_freq(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    (void)args;
    mp_raise_ValueError(MP_ERROR_TEXT("the devkit's clock is fixed at 25 MHz"));
}

static void mp_machine_lightsleep(size_t n_args, const mp_obj_t *args) {
    if (n_args == 0) {
        for (;;) {
            mp_event_wait_indefinite();
        }
    }
    mp_hal_delay_ms(mp_obj_get_int(args[0]));
}

MP_NORETURN static void mp_machine_deepsleep(size_t n_args, const mp_obj_t *args) {
    if (n_args > 0) {
        mp_hal_delay_ms(mp_obj_get_int(args[0]));
    }
    mp_machine_reset();
}
