package dev.montage.runtime.weights;

/**
 * A checkpoint file is malformed, or does not hold what its index or the caller expects.
 *
 * <p>Messages name the offending file and, where there is one, the tensor, so that a user facing a
 * broken download knows which file to fetch again. Unchecked because it is raised from lookups such as
 * {@link TensorSource#tensor(String)} that model builders call from lambdas; genuine I/O failures stay
 * {@link java.io.IOException}s.
 */
public class WeightFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WeightFormatException(String message) {
        super(message);
    }

    public WeightFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
