"""edgekit: from accelerometer data to a TensorFlow Lite Micro sketch, with int8 parity proven on the desktop."""

__version__ = "0.1.0"
