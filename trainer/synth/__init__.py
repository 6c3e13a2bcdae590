"""Generated images with exact ground truth (NumPy and OpenCV only, no TensorFlow).

Used three ways: the trainer draws training data from MNIST *training* digits, and the benchmarks
and tests compose pages from MNIST *test* digits, always from seeds, so every image can be made again.
"""
