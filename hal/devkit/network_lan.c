// network_lan.c — network.LAN on the devkit: the board's LAN9118 Ethernet (lan_netif.c) with
// the methods of MicroPython's network.LAN on STM32 boards: active(), isconnected(), status(),
// ipconfig() (and the older ifconfig()), config('mac' / 'hostname'). network.LAN() returns the
// board's one interface. active(True) starts DHCP; the address shows in ipconfig('addr4').
//
// status(): 0 inactive, 1 active without link, 2 link up without an address, 3 link up with an
// address (isconnected()). status('counters'): frames received, dropped on receive, sent,
// dropped on send, and the runs of the lwIP service (lan_netif.c).
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "extmod/modnetwork.h"
#include "lwip/dhcp.h"
#include "lwip/netif.h"

#include "lan9118.h"
#include "lan_netif.h"

#define DHCP_WAIT_MS 10000

typedef struct _network_lan_obj_t {
    mp_obj_base_t base;
} network_lan_obj_t;

static const network_lan_obj_t network_lan_obj = { { &network_lan_type } };

static void network_lan_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)self_in;
    (void)kind;
    const ip4_addr_t *ip = netif_ip4_addr(devkit_lan_netif());
    uint32_t a = ip4_addr_get_u32(ip);
    mp_printf(print, "<LAN %d %u.%u.%u.%u>", devkit_lan_status(),
        (unsigned)(a & 0xff), (unsigned)(a >> 8 & 0xff), (unsigned)(a >> 16 & 0xff), (unsigned)(a >> 24));
}

static mp_obj_t network_lan_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    (void)type;
    mp_arg_check_num(n_args, n_kw, 0, 1, false);
    if (n_args == 1 && mp_obj_get_int(args[0]) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("the devkit has one LAN interface: 0"));
    }
    return MP_OBJ_FROM_PTR(&network_lan_obj);
}

static void raise_start_error(int rc) {
    if (rc == LAN9118_ENODEV) {
        mp_raise_OSError(MP_ENODEV);
    }
    mp_raise_OSError(MP_ETIMEDOUT);
}

static mp_obj_t network_lan_active(size_t n_args, const mp_obj_t *args) {
    if (n_args == 1) {
        return mp_obj_new_bool(devkit_lan_active());
    }
    if (mp_obj_is_true(args[1])) {
        int rc = devkit_lan_start();
        if (rc != 0) {
            raise_start_error(rc);
        }
    } else {
        devkit_lan_stop();
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_lan_active_obj, 1, 2, network_lan_active);

static mp_obj_t network_lan_isconnected(mp_obj_t self_in) {
    (void)self_in;
    return mp_obj_new_bool(devkit_lan_status() == 3);
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_lan_isconnected_obj, network_lan_isconnected);

static mp_obj_t network_lan_status(size_t n_args, const mp_obj_t *args) {
    if (n_args == 1) {
        return MP_OBJ_NEW_SMALL_INT(devkit_lan_status());
    }
    if (mp_obj_str_get_qstr(args[1]) == MP_QSTR_counters) {
        uint32_t c[DEVKIT_LAN_COUNTERS];
        devkit_lan_counters(c);
        mp_obj_t items[DEVKIT_LAN_COUNTERS];
        for (int i = 0; i < DEVKIT_LAN_COUNTERS; i++) {
            items[i] = mp_obj_new_int_from_uint(c[i]);
        }
        return mp_obj_new_tuple(DEVKIT_LAN_COUNTERS, items);
    }
    mp_raise_ValueError(MP_ERROR_TEXT("unknown status param"));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_lan_status_obj, 1, 2, network_lan_status);

// Runs one of extmod/network_lwip.c's netif functions under the lwIP lock; the lock is released
// also when it raises.
typedef mp_obj_t (*netif_call_t)(struct netif *netif, size_t n_args, const mp_obj_t *args, mp_map_t *kwargs);

static mp_obj_t call_locked(netif_call_t fn, size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    uint32_t lock = devkit_net_lock();
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t ret = fn(devkit_lan_netif(), n_args, args, kwargs);
        nlr_pop();
        devkit_net_unlock(lock);
        return ret;
    }
    devkit_net_unlock(lock);
    nlr_jump(nlr.ret_val);
}

static mp_obj_t ifconfig_static(struct netif *netif, size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    (void)kwargs;
    return mod_network_nic_ifconfig(netif, n_args, args);
}

static mp_obj_t network_lan_ifconfig(size_t n_args, const mp_obj_t *args) {
    if (n_args == 2 && args[1] == MP_OBJ_NEW_QSTR(MP_QSTR_dhcp)) {
        // (Re)start DHCP, then wait for the address outside the lock, so lwIP can run.
        struct netif *netif = devkit_lan_netif();
        uint32_t lock = devkit_net_lock();
        if (dhcp_supplied_address(netif)) {
            dhcp_renew(netif);
        } else {
            dhcp_release_and_stop(netif);
            dhcp_start(netif);
        }
        devkit_net_unlock(lock);
        mp_uint_t start = mp_hal_ticks_ms();
        while (!dhcp_supplied_address(netif)) {
            if (mp_hal_ticks_ms() - start > DHCP_WAIT_MS) {
                mp_raise_OSError(MP_ETIMEDOUT);
            }
            mp_event_wait_ms(10);
        }
        return mp_const_none;
    }
    return call_locked(ifconfig_static, n_args - 1, args + 1, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_lan_ifconfig_obj, 1, 2, network_lan_ifconfig);

static mp_obj_t network_lan_ipconfig(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    return call_locked(mod_network_nic_ipconfig, n_args - 1, args + 1, kwargs);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_lan_ipconfig_obj, 1, network_lan_ipconfig);

static mp_obj_t network_lan_config(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    if (kwargs->used == 0) {
        if (n_args != 2) {
            mp_raise_TypeError(MP_ERROR_TEXT("must query one param"));
        }
        switch (mp_obj_str_get_qstr(args[1])) {
            case MP_QSTR_mac: {
                uint8_t mac[6];
                devkit_lan_mac(mac);
                return mp_obj_new_bytes(mac, 6);
            }
            case MP_QSTR_hostname:
                return mod_network_hostname(0, NULL);
            default:
                mp_raise_ValueError(MP_ERROR_TEXT("unknown config param"));
        }
    }
    if (n_args != 1) {
        mp_raise_TypeError(MP_ERROR_TEXT("can't specify pos and kw args"));
    }
    for (size_t i = 0; i < kwargs->alloc; i++) {
        if (!mp_map_slot_is_filled(kwargs, i)) {
            continue;
        }
        mp_map_elem_t *e = &kwargs->table[i];
        switch (mp_obj_str_get_qstr(e->key)) {
            case MP_QSTR_mac: {
                mp_buffer_info_t buf;
                mp_get_buffer_raise(e->value, &buf, MP_BUFFER_READ);
                if (buf.len != 6) {
                    mp_raise_ValueError(MP_ERROR_TEXT("mac must be 6 bytes"));
                }
                if (devkit_lan_active()) {
                    mp_raise_msg(&mp_type_OSError, MP_ERROR_TEXT("the MAC can change only while the LAN is inactive"));
                }
                devkit_lan_set_mac(buf.buf);
                break;
            }
            case MP_QSTR_hostname:
                mod_network_hostname(1, &e->value);
                break;
            default:
                mp_raise_ValueError(MP_ERROR_TEXT("unknown config param"));
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_lan_config_obj, 1, network_lan_config);

static const mp_rom_map_elem_t network_lan_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_active), MP_ROM_PTR(&network_lan_active_obj) },
    { MP_ROM_QSTR(MP_QSTR_isconnected), MP_ROM_PTR(&network_lan_isconnected_obj) },
    { MP_ROM_QSTR(MP_QSTR_status), MP_ROM_PTR(&network_lan_status_obj) },
    { MP_ROM_QSTR(MP_QSTR_ifconfig), MP_ROM_PTR(&network_lan_ifconfig_obj) },
    { MP_ROM_QSTR(MP_QSTR_ipconfig), MP_ROM_PTR(&network_lan_ipconfig_obj) },
    { MP_ROM_QSTR(MP_QSTR_config), MP_ROM_PTR(&network_lan_config_obj) },
};
static MP_DEFINE_CONST_DICT(network_lan_locals_dict, network_lan_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_lan_type,
    MP_QSTR_LAN,
    MP_TYPE_FLAG_NONE,
    make_new, network_lan_make_new,
    print, network_lan_print,
    locals_dict, &network_lan_locals_dict
    );
