package dev.montage.plugins.schedulers;

/**
 * The quantile function of the beta distribution, which the beta noise schedule spaces its levels by (scipy's
 * {@code stats.beta.ppf}, which diffusers calls): the inverse of the regularized incomplete beta function, found by
 * bisection to double precision. Written here rather than taken from a library because the levels must agree with
 * scipy's to its precision (about 1e-15), which general-purpose solvers do not aim for by default.
 */
final class BetaDistribution {
    /** Lanczos' approximation of Γ, g = 7, n = 9: relative error about 1e-15. */
    private static final double LANCZOS_G = 7;
    private static final double[] LANCZOS = {0.99999999999980993, 676.5203681218851, -1259.1392167224028,
        771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
        1.5056327351493116e-7};
    private static final int MAX_TERMS = 300;
    private static final double EPSILON = 1e-16;
    private static final double TINY = 1e-300;

    private BetaDistribution() {
    }

    /** x with I_x(a, b) = p, for p in [0, 1]. */
    static double ppf(double p, double a, double b) {
        if (p <= 0) {
            return 0;
        }
        if (p >= 1) {
            return 1;
        }
        double low = 0;
        double high = 1;
        for (int i = 0; i < 200 && high - low > Math.ulp(high); i++) {
            double mid = 0.5 * (low + high);
            if (cdf(mid, a, b) < p) {
                low = mid;
            } else {
                high = mid;
            }
        }
        return 0.5 * (low + high);
    }

    /** The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
    static double cdf(double x, double a, double b) {
        if (x <= 0) {
            return 0;
        }
        if (x >= 1) {
            return 1;
        }
        // the fraction converges fast below the mean; above it, by the symmetry I_x(a, b) = 1 − I_{1−x}(b, a)
        if (x > (a + 1) / (a + b + 2)) {
            return 1 - cdf(1 - x, b, a);
        }
        double front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b)) / a;
        double c = 1;
        double d = nonZero(1 - (a + b) * x / (a + 1));
        d = 1 / d;
        double f = d;
        for (int m = 1; m <= MAX_TERMS; m++) {
            // the even step, then the odd one
            double even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 / nonZero(1 + even * d);
            c = nonZero(1 + even / c);
            f *= c * d;
            double odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 / nonZero(1 + odd * d);
            c = nonZero(1 + odd / c);
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < EPSILON) {
                break;
            }
        }
        return front * f;
    }

    private static double nonZero(double v) {
        return Math.abs(v) < TINY ? TINY : v;
    }

    /** log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b). */
    static double logBeta(double a, double b) {
        return logGamma(a) + logGamma(b) - logGamma(a + b);
    }

    /** log Γ(x) for x &gt; 0 (Lanczos; the reflection formula below 1/2). */
    static double logGamma(double x) {
        if (x < 0.5) {
            return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
        }
        double z = x - 1;
        double sum = LANCZOS[0];
        for (int i = 1; i < LANCZOS.length; i++) {
            sum += LANCZOS[i] / (z + i);
        }
        double t = z + LANCZOS_G + 0.5;
        return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
    }
}
