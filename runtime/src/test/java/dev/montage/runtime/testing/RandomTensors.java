package dev.montage.runtime.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/** Seeded random test inputs. */
public final class RandomTensors {
    private RandomTensors() {
    }

    /** A float32 array of standard normal values from {@code random}. */
    public static NDArray gaussian(NDManager m, Random random, long... shape) {
        Shape s = new Shape(shape);
        float[] values = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return m.create(values, s);
    }
}
