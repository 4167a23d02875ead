package dev.montage.api.spi;

import java.net.URL;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Optionally implemented by a {@link ComponentFactory} made for a published model: the configuration files of its
 * model keys as that model's release has them (e.g. {@code unet/config.json} of SDXL base), shipped as resources of
 * the plugin. The host reads them where the base model is a single-file checkpoint and no configuration folder is
 * given, and checks the file's shapes against them before any weight is read; tools write full-size random models
 * from them.
 */
public interface PublishedConfiguration {

    /**
     * What the published model is, for messages, e.g. {@code SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0)}.
     */
    String publishedModel();

    /**
     * The configuration files of a model key as the published model has them in that key's folder.
     *
     * @param key a model key this component reads, e.g. {@code unet}
     * @return file name (e.g. {@code config.json}) → the resource holding it (JSON); empty for a key the component
     *     has none of
     */
    Map<String, URL> publishedFiles(String key);

    /**
     * The files of a model key that a plugin ships as resources beside a class, as {@code <folder>/<key>/<file>}.
     *
     * @param owner     the class the resources lie beside (in its package's folder)
     * @param folder    the folder of the published model's files, e.g. {@code sdxl-base}
     * @param keys      the model keys shipped there
     * @param key       the model key asked for
     * @param fileNames the files each key has there, e.g. {@code config.json}
     * @return file name → resource; empty for a key not among {@code keys}
     * @throws IllegalStateException when the plugin lacks a resource it declares
     */
    static Map<String, URL> resources(Class<?> owner, String folder, Set<String> keys, String key,
            String... fileNames) {
        if (!keys.contains(key)) {
            return Map.of();
        }
        Map<String, URL> files = new LinkedHashMap<>();
        for (String name : fileNames) {
            String path = folder + "/" + key + "/" + name;
            URL url = owner.getResource(path);
            if (url == null) {
                throw new IllegalStateException(owner.getName() + " lacks its resource " + path);
            }
            files.put(name, url);
        }
        return files;
    }
}
