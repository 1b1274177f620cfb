# manifest_app.py — an EdgeCall image: the base firmware (manifest.py) with the application and
# its hardware layer as the image build laid them out in $(EDGECALL_GEN) (firmware/edgecall with
# the image's version.py, hal/ with the board backend and hal/emu, the emulated board's own devices:
# host_tools/firmware/build.py's "devkit" file set) and _main.py, which starts the application at boot.
include("$(BOARD_DIR)/manifest.py")
freeze("$(BOARD_DIR)/modules", "_main.py")
package("edgecall", base_path="$(EDGECALL_GEN)")
package("hal", base_path="$(EDGECALL_GEN)")
