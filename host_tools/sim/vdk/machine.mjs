// Python run once per VM start, before boot.py: the `machine` module of the virtual devkit, a
// `gc` whose mem_free() matches the capped heap, the flash as the working directory, and
// `_vdkboot.run(name)`, which runs boot.py / main.py like a board's pyexec_file(). `_vdk` is the
// JS module the worker registers (uid, reset_cause, reset, bootloader). Nothing is left in the
// REPL's namespace.

export function bootSource(mount) {
  return `
def _vdk_setup():
    main_globals = globals()
    import sys, os, micropython, _vdk

    class machine:
        """The virtual devkit's machine module (a subset of MicroPython's)."""
        PWRON_RESET = 1
        HARD_RESET = 2
        WDT_RESET = 3
        DEEPSLEEP_RESET = 4
        SOFT_RESET = 5

        @staticmethod
        def unique_id():
            import binascii
            return binascii.unhexlify(_vdk.uid)

        @staticmethod
        def reset():
            _vdk.reset()

        @staticmethod
        def soft_reset():
            raise SystemExit

        @staticmethod
        def bootloader(*args):
            _vdk.bootloader()

        @staticmethod
        def reset_cause():
            return _vdk.reset_cause

        @staticmethod
        def freq(*args):
            return 125000000

        @staticmethod
        def idle():
            pass

        @staticmethod
        def disable_irq():
            return 0

        @staticmethod
        def enable_irq(state=0):
            pass

    import gc as _gc
    max_new_split = 128 * 1024 * 1024

    class gc:
        """gc with mem_free() as a board reports it.

        The npm build's gc.mem_free() adds gc_get_max_new_split() (a constant 128 MiB in
        ports/webassembly/main.c) for heap areas it could still add; the virtual devkit caps the heap,
        so that figure is taken out again.
        """
        collect = staticmethod(_gc.collect)
        enable = staticmethod(_gc.enable)
        disable = staticmethod(_gc.disable)
        isenabled = staticmethod(_gc.isenabled)
        mem_alloc = staticmethod(_gc.mem_alloc)
        threshold = staticmethod(_gc.threshold)

        @staticmethod
        def mem_free():
            return max(0, _gc.mem_free() - max_new_split)

    sys.modules["machine"] = machine
    sys.modules["gc"] = gc
    os.chdir(${JSON.stringify(mount)})
    sys.path[:] = ["", ".frozen", ${JSON.stringify(mount + "/lib")}]

    def run(name):
        """Runs a flash file in __main__ like a board's pyexec_file(); True: soft reset."""
        try:
            f = open(name)
        except OSError:
            return False
        with f:
            src = f.read()
        micropython.kbd_intr(3)
        try:
            exec(compile(src, name, "exec"), main_globals)
        except SystemExit:
            return True
        except BaseException as e:
            sys.print_exception(e)
        finally:
            micropython.kbd_intr(-1)
        return False

    class boot:
        pass

    boot.run = staticmethod(run)
    sys.modules["_vdkboot"] = boot

_vdk_setup()
del _vdk_setup
`;
}
