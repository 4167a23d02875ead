package dev.montage.api;

import java.util.Arrays;
import java.util.Locale;

/**
 * What the ControlNets of a generation cross-attend to. MS-Diffusion appends image tokens (dummy and subject
 * tokens) to the 77 text tokens of the context; a ControlNet was trained on text tokens only.
 */
public enum ControlNetContext {
    /**
     * The text tokens only: what MS-Diffusion's own ControlNet attention processor ({@code CNAttnProcessor2_0})
     * intends. The default.
     */
    TEXT_ONLY("text-only"),
    /**
     * Text and image tokens (zeros in the unconditional half): what the official {@code inference_controlnet.py}
     * actually runs, since it installs no ControlNet processor.
     */
    FULL("full");

    private final String configName;

    ControlNetContext(String configName) {
        this.configName = configName;
    }

    /** The name used in profiles, options and on the command line. */
    public String configName() {
        return configName;
    }

    /**
     * @throws IllegalArgumentException naming the value and the accepted ones
     */
    public static ControlNetContext parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (ControlNetContext c : values()) {
            if (c.configName.equals(n)) {
                return c;
            }
        }
        throw new IllegalArgumentException("ControlNet context must be one of "
                + Arrays.stream(values()).map(ControlNetContext::configName).toList() + ", got '" + name + "'");
    }
}
