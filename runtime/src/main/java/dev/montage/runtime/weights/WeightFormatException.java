package dev.montage.runtime.weights;

import dev.montage.api.ConfigurationException;

/**
 * A checkpoint file is malformed, or does not hold what its index or the caller expects.
 *
 * <p>Messages name the offending file and, where there is one, the tensor, so that a user facing a
 * broken download knows which file to fetch again. A {@link ConfigurationException}: the configuration points at a
 * model file that cannot be used, and the remedy is the user's (fetch the file again, point at another). Unchecked
 * because it is raised from lookups such as {@link TensorSource#tensor(String)} that model builders call from
 * lambdas; genuine I/O failures stay {@link java.io.IOException}s.
 */
public class WeightFormatException extends ConfigurationException {
    private static final long serialVersionUID = 1L;

    public WeightFormatException(String message) {
        super(message);
    }

    public WeightFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
