"""Training-time augmentation that mimics what the edge pipeline feeds the model.

The edge side crops a digit from a photo or scan, fits it into a 20x20 box, centres it by its centre
of mass and brings its stroke near MNIST's width. What survives that is a slightly shifted, rotated,
rescaled or sheared digit with a thicker or thinner pen, so those are the variations we train on.
All randomness is stateless and derived from a per-batch seed, so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

from edge.runtime.metadata import InputSpec


@dataclass(frozen=True)
class AugmentConfig:
    max_shift: float = 2.0  # pixels
    max_rotation: float = 12.0  # degrees
    scale_range: tuple[float, float] = (0.88, 1.12)
    max_shear: float = 0.15
    max_aspect: float = 0.1  # relative change of width against height
    thicken: float = 0.6  # strongest blend towards a 3x3 dilation
    thin: float = 0.45  # strongest blend towards a 3x3 erosion
    clean_fraction: float = 0.15  # share of images left untouched


def _affine_params(seed, n: int, cfg: AugmentConfig, centre: tuple[float, float]) -> tf.Tensor:
    """Per-image inverse affine transforms (output -> input), as [a0 a1 a2 b0 b1 b2 0 0] rows."""
    seeds = tf.random.experimental.stateless_split(seed, 6)

    def uniform(i, lo, hi):
        return tf.random.stateless_uniform([n], seeds[i], lo, hi)

    angle = uniform(0, -cfg.max_rotation, cfg.max_rotation) * (math.pi / 180.0)
    scale = uniform(1, *cfg.scale_range)
    aspect = uniform(2, -cfg.max_aspect, cfg.max_aspect)
    shear = uniform(3, -cfg.max_shear, cfg.max_shear)
    tx = uniform(4, -cfg.max_shift, cfg.max_shift)
    ty = uniform(5, -cfg.max_shift, cfg.max_shift)
    sx, sy = scale * (1.0 + aspect), scale * (1.0 - aspect)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map: p' = R @ Shear @ diag(sx, sy) @ (p - c) + c + t. Its 2x2 part:
    m00, m01 = cos * sx, (cos * shear - sin) * sy
    m10, m11 = sin * sx, (sin * shear + cos) * sy
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    cx, cy = centre
    # p = M^-1 (p' - c - t) + c
    ox, oy = -cx - tx, -cy - ty
    a2 = i00 * ox + i01 * oy + cx
    b2 = i10 * ox + i11 * oy + cy
    zeros = tf.zeros_like(angle)
    return tf.stack([i00, i01, a2, i10, i11, b2, zeros, zeros], axis=1)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, spec: InputSpec, cfg: AugmentConfig = AugmentConfig()) -> tf.Tensor:
    """Augment a batch of model inputs (N, height, width, 1), scaled as ``spec`` says, with a
    stateless seed of shape [2]. Transforms turn about the image centre (the digits are centred
    there, ``spec.centering``); what comes in from outside is paper."""
    n = tf.shape(images)[0]
    paper = spec.offset  # pixel 0
    ink = 255.0 * spec.scale + spec.offset  # pixel 255
    lo, hi = min(paper, ink), max(paper, ink)
    s_affine, s_stroke, s_keep = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    transforms = _affine_params(s_affine, n, cfg, ((spec.width - 1) / 2.0, (spec.height - 1) / 2.0))
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=paper,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    # Stroke width: blend towards a dilation (thicker pen) or an erosion (thinner pen), of the ink.
    sign = 1.0 if ink >= paper else -1.0
    dilated = sign * tf.nn.max_pool2d(sign * warped, 3, 1, "SAME")
    eroded = -sign * tf.nn.max_pool2d(-sign * warped, 3, 1, "SAME")
    amount = tf.random.stateless_uniform([n, 1, 1, 1], s_stroke, -cfg.thin, cfg.thicken)
    stroked = tf.where(
        amount >= 0, warped + amount * (dilated - warped), warped + (-amount) * (eroded - warped)
    )
    keep = tf.random.stateless_uniform([n, 1, 1, 1], s_keep) < cfg.clean_fraction
    return tf.clip_by_value(tf.where(keep, images, stroked), lo, hi)
