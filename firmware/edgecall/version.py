# version.py — the firmware version (the image build writes the real one into manifest.json).
VERSION = "0.1.0"
