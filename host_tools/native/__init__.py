"""Builds of native_codec for its three targets: host (cffi), Cortex-M (PlatformIO + QEMU), wasm32."""
