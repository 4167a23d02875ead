package dev.montage.runtime.weights;

/**
 * Bounds on the work and memory a torch checkpoint may ask of its reader, so that a small hostile file is refused
 * with a {@link WeightFormatException} instead of hanging or exhausting the heap. The defaults hold real
 * checkpoints with a wide margin (an SDXL UNet's pickle runs about 100,000 operations); each can be raised with
 * the system property named, for checkpoints far larger than Montage's models.
 */
final class LoaderLimits {
    /** Pickle opcodes a {@code data.pkl} may run: {@code montage.pickle.maxOperations}, default 10,000,000. */
    static final long PICKLE_OPERATIONS = property("montage.pickle.maxOperations", 10_000_000);
    /** Memo entries a pickle may hold: {@code montage.pickle.maxMemo}, default 1,000,000. */
    static final long PICKLE_MEMO = property("montage.pickle.maxMemo", 1_000_000);
    /**
     * Objects of the unpickled tree, an object counted at every place it is reachable from (a pickle can share one
     * container many times over, and the reader names tensors by their path): {@code montage.pickle.maxObjects},
     * default 1,000,000.
     */
    static final long PICKLE_OBJECTS = property("montage.pickle.maxObjects", 1_000_000);
    /**
     * How many times its compressed size a DEFLATED zip entry may inflate to, beyond {@link #INFLATION_FLOOR}:
     * {@code montage.zip.maxInflationRatio}, default 100 (deflate reaches about 1000 on runs of zeros only).
     */
    static final long INFLATION_RATIO = property("montage.zip.maxInflationRatio", 100);
    /** Bytes any DEFLATED entry may inflate to whatever its ratio: 1 MiB. */
    static final long INFLATION_FLOOR = 1 << 20;

    private LoaderLimits() {
    }

    private static long property(String name, long defaultValue) {
        String value = System.getProperty(name);
        if (value == null) {
            return defaultValue;
        }
        try {
            long parsed = Long.parseLong(value.trim());
            if (parsed > 0) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below with what is accepted
        }
        throw new IllegalArgumentException("system property " + name + " must be a positive integer, got '"
                + value + "'");
    }
}
