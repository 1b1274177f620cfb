"""`edgecall flash`: signed MCUboot images to a device's bootloader over SMP (smpclient)."""
