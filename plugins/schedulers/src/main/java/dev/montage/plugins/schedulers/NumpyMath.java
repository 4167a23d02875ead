package dev.montage.plugins.schedulers;

/**
 * The numpy functions diffusers builds its timesteps with, computed operation by operation as numpy does, so
 * that the rounded timesteps agree in every case (a naive {@code start + i * step} rounds differently for some
 * step counts).
 */
final class NumpyMath {

    private NumpyMath() {
    }

    /** {@code np.linspace(start, stop, num)} (endpoint included), float64. */
    static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) {
            y[i] = num > 1 ? i * step + start : start;
        }
        if (num > 1) {
            y[num - 1] = stop;
        }
        return y;
    }

    /**
     * {@code np.arange(start, stop, step)} for float arguments: {@code ceil((stop - start) / step)} values, the
     * second one {@code start + step}, the others filled as {@code start + i * (second - start)}.
     */
    static double[] arange(double start, double stop, double step) {
        int length = (int) Math.max(0, Math.ceil((stop - start) / step));
        double[] out = new double[length];
        if (length > 0) {
            out[0] = start;
        }
        if (length > 1) {
            out[1] = start + step;
        }
        double delta = (start + step) - start;
        for (int i = 2; i < length; i++) {
            out[i] = start + i * delta;
        }
        return out;
    }

    /** {@code np.round}: half to even. */
    static double round(double x) {
        return Math.rint(x);
    }

    /**
     * {@code np.interp(x, np.arange(len(fp)), fp)}: linear interpolation of float32 values at integer abscissae,
     * computed in float64, clamped to the end values outside.
     */
    static double interp(double x, float[] fp) {
        int last = fp.length - 1;
        if (x >= last) {
            return fp[last];
        }
        if (x <= 0) {
            return fp[0];
        }
        int j = (int) Math.floor(x);
        if (j == x) {
            return fp[j];
        }
        double slope = (double) fp[j + 1] - fp[j]; // divided by xp[j + 1] - xp[j] = 1
        return slope * (x - j) + fp[j];
    }
}
