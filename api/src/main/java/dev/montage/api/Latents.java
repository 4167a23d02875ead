package dev.montage.api;

import java.util.Arrays;

/**
 * A latent tensor held in Java memory: starting noise handed in with a request (diffusers' {@code latents=}:
 * the raw noise before {@code init_noise_sigma} scaling), or the final latents of a generation, as used to
 * compare results across implementations.
 *
 * @param shape  [B, C, h, w]
 * @param values row-major float32 values, {@code B*C*h*w} of them
 */
public record Latents(long[] shape, float[] values) {

    /**
     * @throws IllegalArgumentException when the shape is not 4-D and positive or does not match the values
     */
    public Latents {
        if (shape == null || shape.length != 4 || Arrays.stream(shape).anyMatch(d -> d <= 0)) {
            throw new IllegalArgumentException("latents must have a positive 4-D shape [B, C, h, w], got "
                    + Arrays.toString(shape));
        }
        long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        if (values == null || values.length != n) {
            throw new IllegalArgumentException("latents of shape " + Arrays.toString(shape) + " need " + n
                    + " values, got " + (values == null ? 0 : values.length));
        }
        shape = shape.clone();
        values = values.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public float[] values() {
        return values.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Latents l && Arrays.equals(shape, l.shape) && Arrays.equals(values, l.values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "Latents" + Arrays.toString(shape);
    }
}
