package dev.montage.api;

/**
 * A configuration that cannot be used: a profile's keys or values, model folders or files that are missing or
 * malformed, components whose sizes do not fit together, a component that cannot be created from its model files,
 * a LoRA that does not fit the pipeline's models. Reported when the pipeline is assembled, before any weight is read
 * where it can be told from the files' headers and configurations; a component whose weights do not match its model is
 * reported when it is created, naming it and its model keys, with the component's own error as the cause.
 */
public class ConfigurationException extends MontageException {
    private static final long serialVersionUID = 1L;

    public ConfigurationException(String message) {
        super(message);
    }

    public ConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
