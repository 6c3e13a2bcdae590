"""Edge side: read handwritten digits in images, scans and camera frames with a TFLite model."""

__version__ = "0.1.0"
