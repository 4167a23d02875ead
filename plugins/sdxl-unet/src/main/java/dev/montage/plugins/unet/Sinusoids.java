package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers' {@code Timesteps} / {@code get_timestep_embedding}: {@code f_k = exp(-ln(10000) k / (half - shift))},
 * output {@code [sin(t f), cos(t f)]} (or {@code [cos, sin]} with {@code flip_sin_to_cos}), in float32.
 *
 * <p>The arguments {@code t f} reach about 1000 radians, where one float32 ulp is 6e-5, so the frequencies must be
 * the reference's to the last bit. PyTorch computes them with its vectorised float32 exp (SLEEF's
 * {@code expf_u10}), which is not always correctly rounded (for 32 channels, {@code f_7} is one ulp above the
 * correctly rounded value, which moves {@code sin(751 f_7)} by 1.4e-6); builds differ in which exp they use, so
 * the frequencies are computed here with SLEEF's algorithm instead of the engine's exp.
 */
final class Sinusoids {
    private static final float LOG_MAX_PERIOD = (float) Math.log(10000);

    private Sinusoids() {
    }

    /**
     * @param values float32 [N] timesteps (or time ids)
     * @param dim    even output width
     * @return float32 [N, dim], attached to the manager of {@code values}
     */
    static NDArray embed(NDArray values, int dim, boolean flipSinToCos, float freqShift) {
        NDManager m = values.getManager();
        int half = dim / 2;
        NDArray freqs = m.create(frequencies(half, freqShift), new Shape(1, half));
        NDArray args = values.reshape(-1, 1).mul(freqs);
        NDArray sin = args.sin();
        NDArray cos = args.cos();
        return flipSinToCos ? cos.concat(sin, 1) : sin.concat(cos, 1);
    }

    /** {@code exp(-ln(10000) k / (half - shift))} for k = 0..half-1, each step rounded to float32 as PyTorch does. */
    static float[] frequencies(int half, float freqShift) {
        float[] out = new float[half];
        for (int k = 0; k < half; k++) {
            out[k] = sleefExpf(-LOG_MAX_PERIOD * k / (half - freqShift));
        }
        return out;
    }

    /**
     * SLEEF 3's {@code xexpf} (the {@code expf_u10} kernels PyTorch vectorises with, FMA variant): range reduction
     * by ln 2 in two parts, degree-6 polynomial, scaling by 2^q. Valid for the arguments used here (-104..100).
     */
    static float sleefExpf(float d) {
        int q = (int) Math.rint(d * 1.442695040888963407359924681001892137426645954152985934135449406931f);
        float s = Math.fma(q, -0.693145751953125f, d);
        s = Math.fma(q, -1.428606765330187045e-06f, s);
        float u = 0.000198527617612853646278381f;
        u = Math.fma(u, s, 0.00139304355252534151077271f);
        u = Math.fma(u, s, 0.00833336077630519866943359f);
        u = Math.fma(u, s, 0.0416664853692054748535156f);
        u = Math.fma(u, s, 0.166666671633720397949219f);
        u = Math.fma(u, s, 0.5f);
        u = 1f + Math.fma(s * s, u, s);
        return Math.scalb(u, q);
    }
}
