package dev.montage.api;

import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Cooperative cancellation inside the stages of a generation. The pipeline runs a generation {@link #within} the
 * request's cancel signal; model code, tokenizers and preprocessors call {@link #checkpoint()} at bounded intervals
 * (per network block or layer, per row band of an image operation), so that a cancel takes effect within one such
 * piece of work rather than at the end of a stage. A generation runs on one thread, which carries the signal; an
 * interrupt of that thread cancels too.
 */
public final class Cancellation {
    private static final ThreadLocal<BooleanSupplier> SIGNAL = new ThreadLocal<>();

    private Cancellation() {
    }

    /**
     * Runs {@code body} on this thread with {@code cancelRequested} as the signal {@link #checkpoint()} polls (within
     * an outer {@code within}, the inner signal replaces the outer one until it returns).
     */
    public static <T> T within(BooleanSupplier cancelRequested, Supplier<T> body) {
        Objects.requireNonNull(cancelRequested, "cancelRequested");
        BooleanSupplier outer = SIGNAL.get();
        SIGNAL.set(cancelRequested);
        try {
            return body.get();
        } finally {
            if (outer == null) {
                SIGNAL.remove();
            } else {
                SIGNAL.set(outer);
            }
        }
    }

    /**
     * Returns when the work on this thread may go on.
     *
     * @throws GenerationCancelledException when its generation was asked to stop or the thread was interrupted (the
     *                                      interrupt stays set)
     */
    public static void checkpoint() {
        if (Thread.currentThread().isInterrupted()) {
            throw new GenerationCancelledException("generation interrupted");
        }
        BooleanSupplier signal = SIGNAL.get();
        if (signal != null && signal.getAsBoolean()) {
            throw new GenerationCancelledException("generation cancelled");
        }
    }
}
