/* insn_count.c — a QEMU TCG plugin (plugin API version 1, as QEMU 7.2 has it) that counts the
 * guest instructions of a whole emulated device: every translated block adds its number of
 * instructions to one counter each time it runs (an inline add, no helper call), so the count is
 * everything the CPU ran — MicroPython, the C modules, interrupt handlers, the idle loop.
 *
 *   qemu-system-arm ... -plugin PATH/libinsn_count.so,out=FILE,period_ms=N
 *
 * A thread of the plugin appends "<instructions> <CLOCK_MONOTONIC ns>\n" to FILE every N ms
 * (default 20) and once more when QEMU exits, so a host process can read the count at any moment
 * of its own monotonic clock (Python's time.monotonic_ns() is the same clock).
 *
 * A block left early (a synchronous exception taken inside it) still counts whole: a few
 * instructions per such exception at most. The plugin assumes one vCPU (the Cortex-M boards).
 *
 * The declarations below are the part of QEMU's plugin ABI (include/qemu/qemu-plugin.h, API
 * version 1) this file uses; Debian ships the plugin-enabled QEMU without the header.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- QEMU plugin ABI, version 1 */
#define PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;

typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;

enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 = 0 };

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

PLUGIN_EXPORT int qemu_plugin_version = 1;
PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* ---- the counter and its writer */
#define OUT_PATH_MAX 4096
#define PERIOD_MS_MIN 1
#define PERIOD_MS_MAX 10000

struct counter {
    uint64_t insns; /* written by the vCPU thread's inline adds; read by the writer (64-bit aligned) */
    FILE *out;
    unsigned period_ms;
    pthread_t writer;
    atomic_bool stop;
    pthread_mutex_t lock; /* one writer of `out` at a time: the thread, then the exit callback */
};

static struct counter counter;

static uint64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void write_sample(struct counter *c) {
    uint64_t n = __atomic_load_n(&c->insns, __ATOMIC_RELAXED);
    pthread_mutex_lock(&c->lock);
    if (c->out != NULL) {
        fprintf(c->out, "%" PRIu64 " %" PRIu64 "\n", n, monotonic_ns());
        fflush(c->out);
    }
    pthread_mutex_unlock(&c->lock);
}

static void *writer_main(void *arg) {
    struct counter *c = arg;
    struct timespec period = {(time_t)(c->period_ms / 1000u), (long)(c->period_ms % 1000u) * 1000000L};
    while (!atomic_load(&c->stop)) {
        write_sample(c);
        while (nanosleep(&period, &period) != 0 && errno == EINTR) {
        }
        period.tv_sec = (time_t)(c->period_ms / 1000u);
        period.tv_nsec = (long)(c->period_ms % 1000u) * 1000000L;
    }
    return NULL;
}

static void on_tb_translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counter.insns,
                                             (uint64_t)qemu_plugin_tb_n_insns(tb));
}

static void at_qemu_exit(qemu_plugin_id_t id, void *userdata) {
    struct counter *c = userdata;
    (void)id;
    atomic_store(&c->stop, true);
    pthread_join(c->writer, NULL);
    write_sample(c);
    pthread_mutex_lock(&c->lock);
    fclose(c->out);
    c->out = NULL;
    pthread_mutex_unlock(&c->lock);
}

/* "name=value" in argv: the value, or NULL. */
static const char *arg_value(int argc, char **argv, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
            return argv[i] + len + 1;
        }
    }
    return NULL;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *path = arg_value(argc, argv, "out");
    const char *period = arg_value(argc, argv, "period_ms");
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) != 0 && strncmp(argv[i], "period_ms=", 10) != 0) {
            fprintf(stderr, "insn_count: unknown argument %s (out=FILE, period_ms=N)\n", argv[i]);
            return -1;
        }
    }
    if (path == NULL || path[0] == '\0' || strlen(path) >= OUT_PATH_MAX) {
        fprintf(stderr, "insn_count: out=FILE is required\n");
        return -1;
    }
    counter.period_ms = 20;
    if (period != NULL) {
        char *end = NULL;
        unsigned long v = strtoul(period, &end, 10);
        if (end == period || *end != '\0' || v < PERIOD_MS_MIN || v > PERIOD_MS_MAX) {
            fprintf(stderr, "insn_count: period_ms must be %d..%d, not %s\n", PERIOD_MS_MIN, PERIOD_MS_MAX, period);
            return -1;
        }
        counter.period_ms = (unsigned)v;
    }
    counter.out = fopen(path, "a");
    if (counter.out == NULL) {
        fprintf(stderr, "insn_count: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    pthread_mutex_init(&counter.lock, NULL);
    atomic_store(&counter.stop, false);
    if (pthread_create(&counter.writer, NULL, writer_main, &counter) != 0) {
        fclose(counter.out);
        counter.out = NULL;
        fprintf(stderr, "insn_count: no writer thread\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_translated);
    qemu_plugin_register_atexit_cb(id, at_qemu_exit, &counter);
    return 0;
}
