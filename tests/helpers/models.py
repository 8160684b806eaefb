"""Small Keras models converted on the spot, for tests that need an int8 file of a particular kind."""

from __future__ import annotations

import numpy as np


def float_input_model() -> bytes:
    """A full-integer model that keeps float32 input/output (a QUANTIZE op at its entry)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input(batch_shape=(1, 64))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.uniform(-3, 3, (1, 64)).astype(np.float32)] for _ in range(20))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()
