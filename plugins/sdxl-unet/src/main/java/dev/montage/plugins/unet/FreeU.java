package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.util.Optional;

/**
 * FreeU (Si et al. 2023), as diffusers' {@code enable_freeu} applies it: in the first two up blocks (the coarsest), the
 * first half of the backbone's channels is multiplied by b₁ or b₂ and the skip connection's lowest spatial frequencies
 * by s₁ or s₂ before they are concatenated. diffusers' {@code fourier_filter} scales the 2 × 2 block of the shifted 2-D
 * spectrum around its centre, the frequencies {−1, 0} along each axis, and keeps the real part of the inverse
 * transform; those four coefficients are computed here directly (a DFT of four frequencies, in float32 as diffusers
 * filters non-power-of-two and bf16 maps), which is the FFT's result without a transform of the whole map.
 *
 * @param s1 the skip scale of the first up block
 * @param s2 the skip scale of the second
 * @param b1 the backbone scale of the first
 * @param b2 the backbone scale of the second
 */
record FreeU(float s1, float s2, float b1, float b2) {
    /**
     * A scale as the option gives it: a positive decimal number (diffusers turns FreeU off altogether when a scale is
     * 0, so 0 is refused rather than taken as it would be).
     */
    private static final String SCALE = "\\s*(?!0+(\\.0+)?\\s*(,|$))\\d+(\\.\\d+)?";
    /** The option that turns FreeU on, {@code s1,s2,b1,b2} as diffusers' {@code enable_freeu} takes them. */
    static final OptionSpec<String> OPTION = OptionSpec.string("freeu", SCALE + "(\\s*,\\s*" + SCALE + "){3}\\s*",
            "four positive scales s1,s2,b1,b2, e.g. 0.9,0.2,1.3,1.4",
            "FreeU (diffusers' enable_freeu): the skip scales s1, s2 and backbone scales b1, b2 of the two coarsest up "
                    + "blocks; its authors' SDXL values are 0.9,0.2,1.3,1.4 (default: off)");

    /** The FreeU an option value asks for, if any. */
    static Optional<FreeU> of(Options options) {
        return options.find(OPTION).map(value -> {
            String[] v = value.strip().split("\\s*,\\s*");
            return new FreeU(Float.parseFloat(v[0]), Float.parseFloat(v[1]), Float.parseFloat(v[2]),
                    Float.parseFloat(v[3]));
        });
    }

    /** Whether up block {@code index} (coarsest first) is one FreeU acts on. */
    static boolean acts(int index) {
        return index < 2;
    }

    /** The backbone of up block {@code index} with the first half of its channels scaled, in its dtype. */
    NDArray backbone(int index, NDArray h, Kernels kernels) {
        long channels = h.getShape().get(1);
        float[] scale = new float[(int) channels];
        for (int c = 0; c < channels; c++) {
            scale[c] = c < channels / 2 ? (index == 0 ? b1 : b2) : 1f;
        }
        NDArray scales = h.getManager().create(scale, new Shape(1, channels, 1, 1));
        return h.mul(kernels.cast(scales, kernels.dtypeOf(h)));
    }

    /** The skip connection of up block {@code index} with its lowest frequencies scaled, in its dtype. */
    NDArray skip(int index, NDArray skip, Kernels kernels) {
        return fourierFilter(skip, index == 0 ? s1 : s2, kernels);
    }

    /**
     * diffusers' {@code fourier_filter(x, threshold=1, scale)}: x + (scale − 1) · Re(Σ_k X_k e^{2πi k·n} / (H W)) over
     * the frequencies k the mask scales, X the 2-D DFT of each [H, W] map.
     */
    static NDArray fourierFilter(NDArray x, float scale, Kernels kernels) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            ComputeDType dtype = kernels.dtypeOf(x);
            NDArray xf = Scopes.borrow(x, scope).toType(DataType.FLOAT32, false);
            long[] s = xf.getShape().getShape();
            int h = (int) s[2];
            int w = (int) s[3];
            Basis rows = Basis.of(scope, h);
            Basis columns = Basis.of(scope, w);
            // X = Σ x (cos a − i sin a)(cos b − i sin b): real (Ca x Cbᵀ − Sa x Sbᵀ), imaginary −(Sa x Cbᵀ + Ca x Sbᵀ);
            // the two products with the whole map, Ca x and Sa x, are taken once
            NDArray cx = rows.cos().matMul(xf);
            NDArray sx = rows.sin().matMul(xf);
            NDArray cbT = columns.cos().transpose();
            NDArray sbT = columns.sin().transpose();
            NDArray re = cx.matMul(cbT).sub(sx.matMul(sbT));
            NDArray im = sx.matMul(cbT).add(cx.matMul(sbT)).neg();
            // Re(X e^{i(a + b)}) summed over the frequencies, back on the [H, W] grid:
            // Caᵀ (Re Cb − Im Sb) − Saᵀ (Re Sb + Im Cb)
            NDArray low = rows.cos().transpose().matMul(re.matMul(columns.cos()).sub(im.matMul(columns.sin())))
                    .sub(rows.sin().transpose().matMul(re.matMul(columns.sin()).add(im.matMul(columns.cos()))));
            NDArray out = kernels.cast(xf.add(low.mul((scale - 1f) / ((float) h * w))), dtype);
            out.attach(caller);
            return out;
        }
    }

    /**
     * cos and sin of 2π f m / n for the frequencies f the mask scales along an axis of n, as [frequencies, n]: the
     * shifted indices {@code n/2 − 1} and {@code n/2} (Python's slice {@code [n//2 - 1 : n//2 + 1]}, so one index
     * for n = 1), each the frequency {@code index − n/2}.
     */
    private record Basis(NDArray cos, NDArray sin) {
        static Basis of(NDManager manager, int n) {
            int start = n / 2 - 1 < 0 ? n / 2 - 1 + n : n / 2 - 1;
            int end = Math.min(n / 2 + 1, n);
            int count = Math.max(end - start, 0);
            float[] cos = new float[count * n];
            float[] sin = new float[count * n];
            for (int j = 0; j < count; j++) {
                int frequency = start + j - n / 2;
                for (int m = 0; m < n; m++) {
                    double angle = 2 * Math.PI * frequency * m / n;
                    cos[j * n + m] = (float) Math.cos(angle);
                    sin[j * n + m] = (float) Math.sin(angle);
                }
            }
            return new Basis(manager.create(cos, new Shape(count, n)), manager.create(sin, new Shape(count, n)));
        }
    }
}
