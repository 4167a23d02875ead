package dev.montage.api;

/** Facts about this API that plugins are checked against. */
public final class MontageApi {

    /** The API version; plugins declare a range of it (see {@link dev.montage.api.spi.ComponentFactory}). */
    public static final String VERSION = "0.2.9";

    /**
     * The versions a plugin compiled against this API runs with: this minor line (the API is before 1.0, so a minor
     * version may break it). Plugins declare it with {@link dev.montage.api.spi.BuiltFor}.
     */
    public static final String COMPATIBLE_RANGE = "[0.2,0.3)";

    private MontageApi() {
    }
}
