package dev.montage.api;

/**
 * A generation was asked to stop: its {@link ProgressListener} returned {@code false} from a step or {@code true}
 * from {@link ProgressListener#cancelRequested()}, or its thread was interrupted (the interrupt stays set). Nothing of
 * the generation remains.
 */
public class GenerationCancelledException extends MontageException {
    private static final long serialVersionUID = 1L;

    public GenerationCancelledException(String message) {
        super(message);
    }
}
