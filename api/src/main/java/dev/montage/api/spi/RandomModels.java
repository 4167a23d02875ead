package dev.montage.api.spi;

import java.net.URL;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Optionally implemented by the {@link ComponentFactory} of a {@link Recipe}: the model folders of its family that a
 * host can write with random weights, so that Montage runs, is tested and is measured without downloading weights.
 * The template says which files a folder holds; the tensors in them come from the components' own
 * {@link WeightLayout}s and {@link AttentionWeightLayout}s, so the files match what the components load.
 */
public interface RandomModels {

    /** The names of the random models, e.g. {@code tiny} (seconds on a CPU); never empty. */
    List<String> randomModels();

    /**
     * @throws IllegalArgumentException for a name not in {@link #randomModels()}
     */
    Template randomModel(String name);

    /**
     * The files of a random model folder.
     *
     * @param configurationFiles JSON configuration files by path in the folder (e.g. {@code unet/config.json}), each a
     *                           resource of the plugin
     * @param publishedFiles     paths in the folder whose values are the published configuration
     *                           ({@link PublishedConfiguration}) of the component reading the folder they lie in, e.g.
     *                           {@code unet/config.json} of a full-size model
     * @param weightFiles        the file each model key's tensors go to, by model key (e.g. {@code unet} →
     *                           {@code unet/diffusion_pytorch_model.safetensors}): a {@code .safetensors} file holds
     *                           the tensors by name; a {@code .bin} file is a torch zip checkpoint holding a
     *                           dictionary for each first part of the dotted names, as adapters' checkpoints are
     */
    record Template(Map<String, URL> configurationFiles, List<String> publishedFiles,
            Map<String, String> weightFiles) {

        public Template {
            configurationFiles = Collections.unmodifiableMap(new LinkedHashMap<>(configurationFiles));
            publishedFiles = List.copyOf(publishedFiles);
            weightFiles = Collections.unmodifiableMap(new LinkedHashMap<>(weightFiles));
            for (String file : weightFiles.values()) {
                if (!file.endsWith(".safetensors") && !file.endsWith(".bin")) {
                    throw new IllegalArgumentException("weight file '" + file
                            + "' is neither .safetensors nor .bin");
                }
            }
        }
    }
}
