"""SCons build script of the edgecall-qemu platform (run by PlatformIO's `pio run`).

Builds one bare-metal ELF per program for the board's Cortex-M core with Debian's
arm-none-eabi-gcc from PATH: no libc (-nostdlib; libgcc for the division and 64-bit helpers), the
platform's startup code and the board's linker script (ldscripts/), garbage collection of unused
sections. The project's sources come from `build_src_filter` as usual; the program's own main
source is chosen by the env option `custom_program` (a name: <custom_program_dir>/<name>.c,
default dir tests/c), overridden by the environment variable EDGECALL_PROGRAM, and names the ELF:
.pio/build/<env>/<name>.elf. Objects are shared between programs, so switching is incremental.

An environment may add one third-party library built from its own automake source lists
(libopus, which host_tools/native/opus.py fetches into build/): `custom_lib_dir` (its folder,
relative to the project), `custom_lib_sources` (`file.mk:VARIABLE` entries naming the lists),
`custom_lib_flags` (its defines and include paths, relative to the project) and `custom_lib_opt`
(its optimisation, -O2 by default). The library is compiled with the core's flags and these only,
not with the project's -Wall -Wextra -Werror, and linked as a static archive.

`pio run -e <env> -t upload` runs the ELF in qemu-system-arm (semihosting, -icount shift=0) with
the arguments of the env option `custom_program_args`.
"""
import os
import shlex
import shutil
import sys

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

PLATFORM_DIR = platform.get_dir()
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-objcopy")

missing = [tool for tool in TOOLS if shutil.which(tool) is None]
if missing:
    sys.stderr.write(
        "Error: {} not found in PATH. The edgecall-qemu platform uses Debian's GNU Arm toolchain: "
        "install the packages gcc-arm-none-eabi and libnewlib-arm-none-eabi "
        "(./edgecall installs them).\n".format(", ".join(missing))
    )
    env.Exit(1)

program = os.environ.get("EDGECALL_PROGRAM") or env.GetProjectOption("custom_program", "")
program_dir = env.GetProjectOption("custom_program_dir", "tests/c")
if not program:
    sys.stderr.write("Error: set `custom_program` in [env:{}] or EDGECALL_PROGRAM\n".format(env["PIOENV"]))
    env.Exit(1)
program_src = os.path.join(env.subst("$PROJECT_DIR"), program_dir, program + ".c")
if not os.path.isfile(program_src):
    sys.stderr.write(f"Error: program source {program_src} does not exist\n")
    env.Exit(1)

cpu_flags = ["-mcpu={}".format(board.get("build.cpu")), "-mthumb", "-mfloat-abi=soft"]

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="gdb-multiarch",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    PROGNAME=program,
    PROGSUFFIX=".elf",
    # absolute, so that -T needs no search path (PlatformIO adds ldscripts/ to LIBPATH for INCLUDE)
    LDSCRIPT_PATH=os.path.join(PLATFORM_DIR, "ldscripts", board.get("build.ldscript")),
    SIZEPROGREGEXP=r"^(?:\.text|\.data|\.ARM\.exidx|\.ARM\.extab)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

env.Append(
    ASFLAGS=cpu_flags,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=cpu_flags + ["-ffunction-sections", "-fdata-sections"],
    CPPDEFINES=[("F_CPU", board.get("build.f_cpu")), ("EDGECALL_QEMU", 1)],
    LINKFLAGS=cpu_flags
    + [
        "-nostdlib",
        "-Wl,--gc-sections",
        "-Wl,--no-warn-rwx-segments",
        "-Wl,-Map,{}".format(os.path.join("$BUILD_DIR", "${PROGNAME}.map")),
    ],
    LIBS=["gcc"],
)

# The board's startup code and the selected program, compiled with the project's flags.
env.BuildSources(os.path.join("$BUILD_DIR", "startup"), os.path.join(PLATFORM_DIR, "startup"))
env.BuildSources(
    os.path.join("$BUILD_DIR", "program"),
    os.path.join("$PROJECT_DIR", program_dir),
    f"-<*> +<{program}.c>",
)


def automake_list(path, variable):
    """The file names of `VARIABLE = a.c \\ b.c ...` in an automake fragment."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    names, on = [], False
    for line in lines:
        if not on and line.split("=", 1)[0].strip() == variable and "=" in line:
            on, line = True, line.split("=", 1)[1]
        if on:
            names += line.replace("\\", " ").split()
            if not line.rstrip().endswith("\\"):
                break
    if not names:
        sys.stderr.write(f"Error: {path} has no list {variable}\n")
        env.Exit(1)
    return names


lib_dir = env.GetProjectOption("custom_lib_dir", "")
if lib_dir:
    project_dir = env.subst("$PROJECT_DIR")
    lib_root = os.path.join(project_dir, lib_dir)
    if not os.path.isdir(lib_root):
        sys.stderr.write(
            f"Error: {lib_dir} does not exist: run ./edgecall, which fetches it "
            "(libopus: python -m host_tools.native.opus)\n"
        )
        env.Exit(1)
    lib_sources = []
    for entry in env.GetProjectOption("custom_lib_sources", "").split():
        mk, variable = entry.split(":", 1)
        lib_sources += automake_list(os.path.join(lib_root, mk), variable)
    lib_env = env.Clone()  # before BuildProgram adds the project's build_flags to env
    lib_flags = lib_env.ParseFlagsExtended(
        [env.GetProjectOption("custom_lib_opt", "-O2"), env.GetProjectOption("custom_lib_flags", "")]
    )
    lib_flags["CPPPATH"] = [p if os.path.isabs(p) else os.path.join(project_dir, p) for p in lib_flags.get("CPPPATH", [])]
    lib_env.Append(**lib_flags)
    lib_filter = "-<*> " + " ".join(f"+<{name}>" for name in lib_sources)
    env.Prepend(LIBS=[lib_env.BuildLibrary(os.path.join("$BUILD_DIR", "lib" + os.path.basename(lib_dir)), lib_root, lib_filter)])

target_elf = env.BuildProgram()
AlwaysBuild(env.Alias("nobuild", target_elf))
target_buildprog = env.Alias("buildprog", target_elf, target_elf)

target_size = env.Alias(
    "size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")
)
AlwaysBuild(target_size)

# "upload" = run in QEMU, semihosting console on stdout, exit status of the program.
semihosting = ",".join(
    ["enable=on", "target=native", "chardev=semihost", f"arg={program}"]
    + ["arg={}".format(a.replace(",", ",,")) for a in shlex.split(env.GetProjectOption("custom_program_args", ""))]
)
env.Replace(
    UPLOADER="qemu-system-arm",
    UPLOADCMD=" ".join(
        [
            "$UPLOADER",
            "-M", board.get("build.qemu_machine"),
            "-display", "none", "-serial", "none", "-monitor", "none",
            "-chardev", "stdio,id=semihost",
            "-semihosting-config", shlex.quote(semihosting),
            "-icount", "shift=0",
            "-kernel", "$SOURCE",
        ]
    ),
)
AlwaysBuild(env.Alias("upload", target_elf, env.VerboseAction("$UPLOADCMD", "Running $SOURCE in QEMU")))

Default([target_buildprog, target_size])
