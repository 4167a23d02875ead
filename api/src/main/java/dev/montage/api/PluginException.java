package dev.montage.api;

/**
 * A plugin that cannot be loaded or used (its API version, its descriptor or manifest, the plugin folder or framework
 * that holds it), or a component id that no installed plugin provides, named with the closest installed id.
 */
public class PluginException extends MontageException {
    private static final long serialVersionUID = 1L;

    public PluginException(String message) {
        super(message);
    }

    public PluginException(String message, Throwable cause) {
        super(message, cause);
    }
}
