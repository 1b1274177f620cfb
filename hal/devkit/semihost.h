// semihost.h — ARM semihosting calls the devkit board uses (Arm "Semihosting for AArch32 and
// AArch64", version 2.0): files on the host (the flash, the audio and camera streams), the
// command line the supervisor gives the board, and exit with a status.
#ifndef EDGECALL_SEMIHOST_H
#define EDGECALL_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#define SH_MODE_RB  1   // "rb"
#define SH_MODE_RPB 3   // "r+b"
#define SH_MODE_WB  5   // "wb"
#define SH_MODE_AB  9   // "ab": creates, never truncates; QEMU 7.2 does not append (see sh_open_append)

// Each returns a negative value on failure.
int sh_open(const char *path, int mode);
// Opens a host file for appending: created when missing, positioned at its end. QEMU 7.2 opens
// mode "ab" without O_APPEND (writes start at offset 0, over what is there), so the position is
// set here; the caller is then the file's only writer, as every devkit log file's is.
int sh_open_append(const char *path);
int sh_close(int fd);
// Bytes transferred (0..len), or -1.
int sh_read(int fd, void *buf, size_t len);
int sh_write(int fd, const void *buf, size_t len);
int sh_seek(int fd, uint32_t pos);
int sh_flen(int fd);
// The command line the supervisor passed (QEMU -append), NUL-terminated; 0 or -1.
int sh_cmdline(char *buf, size_t len);
// The value of "key=value" in the command line, or NULL (buffer is static, read once).
const char *sh_arg(const char *key, char *out, size_t out_len);
// Writes a NUL-terminated string to the semihosting console: the supervisor's event channel.
void sh_write0(const char *text);
__attribute__((noreturn)) void sh_exit(int status);

#endif
