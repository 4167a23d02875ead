package dev.montage.plugins.vae;

import dev.montage.api.host.ComputeDType;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Profile settings of the VAE component.
 *
 * @param upcast  when the VAE runs in float32 instead of the pipeline's compute dtype
 * @param slicing decode a batch one image at a time (diffusers' {@code enable_slicing}): same pixels, peak
 *                activation memory of a single image
 */
record VaeOptions(Upcast upcast, boolean slicing) {
    static final String UPCAST = "upcast";
    static final String SLICING = "slicing";
    static final VaeOptions DEFAULT = new VaeOptions(Upcast.AUTO, false);

    /** The dtype policy. */
    enum Upcast {
        /**
         * diffusers 0.23's SDXL rule: float32 when the compute dtype is float16 and the config sets
         * {@code force_upcast} (the SDXL VAE overflows float16 activations). bfloat16 is left alone, as
         * diffusers does: it has float32's exponent range, so that overflow cannot happen.
         */
        AUTO,
        /** Always float32 (a little more precision for bf16 pipelines, at float32 cost). */
        ALWAYS,
        /** Always the compute dtype (for VAEs fine-tuned for fp16 whose config still says force_upcast). */
        NEVER;

        /** The dtype the VAE computes in. */
        ComputeDType dtypeFor(ComputeDType compute, boolean forceUpcast) {
            return switch (this) {
                case AUTO -> compute == ComputeDType.FLOAT16 && forceUpcast ? ComputeDType.FLOAT32 : compute;
                case ALWAYS -> ComputeDType.FLOAT32;
                case NEVER -> compute;
            };
        }
    }

    /**
     * Reads {@code upcast} ({@code auto | always | never}) and {@code slicing} ({@code true | false}).
     *
     * @throws IllegalArgumentException naming the option and the accepted values
     */
    static VaeOptions from(Map<String, String> options) {
        for (String key : options.keySet()) {
            if (!Set.of(UPCAST, SLICING).contains(key)) {
                throw new IllegalArgumentException("VAE option '" + key + "' is unknown, expected " + UPCAST + " or "
                        + SLICING);
            }
        }
        String upcast = options.getOrDefault(UPCAST, "auto").trim().toLowerCase(Locale.ROOT);
        Upcast policy = switch (upcast) {
            case "auto" -> Upcast.AUTO;
            case "always" -> Upcast.ALWAYS;
            case "never" -> Upcast.NEVER;
            default -> throw new IllegalArgumentException("VAE option '" + UPCAST + "' is '" + options.get(UPCAST)
                    + "', expected auto, always or never");
        };
        String slicing = options.getOrDefault(SLICING, "false").trim().toLowerCase(Locale.ROOT);
        if (!slicing.equals("true") && !slicing.equals("false")) {
            throw new IllegalArgumentException("VAE option '" + SLICING + "' is '" + options.get(SLICING)
                    + "', expected true or false");
        }
        return new VaeOptions(policy, Boolean.parseBoolean(slicing));
    }
}
