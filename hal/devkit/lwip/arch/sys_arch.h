// arch/sys_arch.h — nothing: lwIP runs without an OS (NO_SYS) on the devkit.
