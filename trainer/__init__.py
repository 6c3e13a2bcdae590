"""Workstation side: MNIST in, a verified full-integer .tflite digit model out."""
