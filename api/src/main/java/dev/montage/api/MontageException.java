package dev.montage.api;

/**
 * The base of every error Montage reports to its user: catching it catches what a request, a configuration, a plugin
 * or a cancel can make a generation or an assembly fail with. The subclass says whose move it is:
 * {@link InvalidRequestException} (the request), {@link ConfigurationException} (the profile, the model files, the
 * components' assembly), {@link PluginException} (an installed plugin or a component id no plugin provides),
 * {@link GenerationCancelledException} (the generation was asked to stop).
 *
 * <p>Mistakes in calling code (a null argument, an instance of the wrong type, a closed pipeline) stay the standard
 * Java exceptions ({@link NullPointerException}, {@link IllegalArgumentException}, {@link IllegalStateException}).
 */
public abstract class MontageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    protected MontageException(String message) {
        super(message);
    }

    protected MontageException(String message, Throwable cause) {
        super(message, cause);
    }
}
