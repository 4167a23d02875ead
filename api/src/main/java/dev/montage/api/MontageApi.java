package dev.montage.api;

/** Facts about this API that plugins are checked against. */
public final class MontageApi {

    /** The API version; plugins declare a range of it (see {@link dev.montage.api.spi.ComponentFactory}). */
    public static final String VERSION = "0.1.0";

    private MontageApi() {
    }
}
