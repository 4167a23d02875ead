package dev.montage.api.spi;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A model file or folder a component reads, under the key it asks its {@link dev.montage.api.host.ComponentContext}
 * for ({@code model(key)}, {@code checkpoint(key)} or {@code path(key)}). A profile sets it as {@code models.<key>};
 * unset, it is {@code defaultPath} inside the base model folder. The host learns a pipeline's files from its
 * components' declarations: it checks them before loading and refuses a {@code models} key that no installed
 * component reads.
 *
 * @param key         the model key, lower-case letters, digits and {@code _}
 * @param defaultPath where it is inside the base model folder
 * @param folder      whether it is a folder (a diffusers or transformers model folder) rather than a file
 * @param required    whether the component cannot do without it
 * @param description what is expected there, for messages, e.g. {@code MS-Diffusion's ms_adapter.bin (torch
 *                    checkpoint)}
 */
public record ModelFile(String key, String defaultPath, boolean folder, boolean required, String description) {
    private static final Pattern KEY = Pattern.compile("[a-z0-9_]+");

    public ModelFile {
        if (key == null || !KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("a model key is lower-case letters, digits and '_', got '" + key + "'");
        }
        Objects.requireNonNull(defaultPath, "defaultPath");
        Objects.requireNonNull(description, "description");
    }

    /** A folder the component needs. */
    public static ModelFile folder(String key, String defaultPath, String description) {
        return new ModelFile(key, defaultPath, true, true, description);
    }

    /** A file the component needs. */
    public static ModelFile file(String key, String defaultPath, String description) {
        return new ModelFile(key, defaultPath, false, true, description);
    }

    /** The same file or folder, which the component can do without. */
    public ModelFile optional() {
        return new ModelFile(key, defaultPath, folder, false, description);
    }
}
