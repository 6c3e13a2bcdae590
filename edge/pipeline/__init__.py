"""The core pipeline: pure stages from an image to a reading (no files, cameras or windows here)."""
