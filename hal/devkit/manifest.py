# manifest.py — what every devkit firmware freezes: the board's _boot.py (mounts the flash),
# asyncio, and what MicroPython's own tests expect of the qemu port (unittest and its frozen test
# modules). This alone is the base firmware: a MicroPython board as its maker ships it, onto
# which `edgecall deploy` can install the application. manifest_app.py adds the application.
include("$(MPY_DIR)/extmod/asyncio")
require("unittest")
freeze("$(BOARD_DIR)/modules", "_boot.py")
freeze("$(PORT_DIR)/test-frzmpy", ("frozen_asm_thumb.py", "frozen_const.py", "frozen_viper.py", "native_frozen_align.py"))
