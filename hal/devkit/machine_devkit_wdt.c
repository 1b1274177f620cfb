// machine_devkit_wdt.c — machine.WDT on the mps2 FPGA image's CMSDK APB watchdog (0x40008000,
// Arm CMSDK technical reference: LOAD, CTRL INTEN|RESEN, LOCK 0x1ACCE551). It counts at the
// 25 MHz system clock; the first time-out raises its interrupt, the second resets the board, so
// the count is half the time-out. Included by extmod/machine_wdt.c.
#define WDOG_LOAD   (*(volatile uint32_t *)0x40008000)
#define WDOG_CTRL   (*(volatile uint32_t *)0x40008008)
#define WDOG_INTCLR (*(volatile uint32_t *)0x4000800C)
#define WDOG_LOCK   (*(volatile uint32_t *)0x40008C00)
#define WDOG_UNLOCK_KEY 0x1ACCE551u

typedef struct _machine_wdt_obj_t {
    mp_obj_base_t base;
} machine_wdt_obj_t;

static machine_wdt_obj_t machine_wdt_devkit = {{&machine_wdt_type}};

static machine_wdt_obj_t *mp_machine_wdt_make_new_instance(mp_int_t id, mp_int_t timeout_ms) {
    if (id != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("the devkit has one watchdog: id 0"));
    }
    if (timeout_ms < 1 || timeout_ms > 300000) {
        mp_raise_ValueError(MP_ERROR_TEXT("timeout must be 1..300000 ms"));
    }
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_LOAD = (uint32_t)timeout_ms * 12500u;  // 25 MHz / 2 per ms
    WDOG_CTRL = 3;  // INTEN | RESEN: once started it cannot be stopped
    WDOG_LOCK = 0;
    return &machine_wdt_devkit;
}

static void mp_machine_wdt_feed(machine_wdt_obj_t *self) {
    (void)self;
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_INTCLR = 1;  // also reloads the counter
    WDOG_LOCK = 0;
}
