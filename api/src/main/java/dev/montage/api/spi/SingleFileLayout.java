package dev.montage.api.spi;

import dev.montage.api.host.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Optionally implemented by a {@link ComponentFactory} whose weights may come from one file in a layout other than
 * its own: a single-file checkpoint that holds every component of a model under prefixes and names of its original
 * training code (as A1111 and ComfyUI use them), or a file of this component alone in either layout. The host opens
 * such a file when a profile gives it as the base model or as one of the component's model keys, asks every
 * installed component that implements this which of its model keys the file holds, and hands the component a view
 * of the file under its own names: tensors are renamed, sliced, transposed and reshaped as they are read, and no
 * converted copy is written. A stored tensor that no component claims is an error naming it, and so is a file that
 * holds no component at all.
 */
public interface SingleFileLayout {
    /** How many names a message lists (the closest stored name is looked up for each). */
    int SHOWN = 12;

    /**
     * The model keys a file may hold for this component, among those it declares
     * ({@link ComponentFactory#modelFiles()}), e.g. {@code unet}; the host asks only about these, each with its configuration, and reads the others (a
     * tokenizer, a scheduler) from folders as usual.
     */
    Set<String> singleFileKeys();

    /**
     * The model keys a file of this component alone may hold when a profile gives it for the key itself, but that a
     * single-file checkpoint of a whole model never holds (e.g. {@code controlnet}); each stands for its typed keys
     * {@code <key>.<name>} too (e.g. {@code controlnet.canny}). None by default.
     */
    default Set<String> componentFileKeys() {
        return Set.of();
    }

    /**
     * The configuration of a model key held by a file, where no configuration folder has its {@code config.json}:
     * e.g. a ControlNet's derived from the UNet's configuration and the file's tensors. The host asks before it
     * falls back to a published configuration ({@link PublishedConfiguration}). None by default.
     *
     * @param key     one of {@link #singleFileKeys()} or {@link #componentFileKeys()} (or a typed key of one)
     * @param file    every tensor of the file: name → stored shape
     * @param configs the configuration of another model key, as the host resolves it
     * @throws IllegalArgumentException when a configuration it needs cannot be had or does not fit the file
     */
    default Optional<ModelConfig> configuration(String key, Map<String, long[]> file,
            Function<String, ModelConfig> configs) {
        return Optional.empty();
    }

    /**
     * The configuration a file's tensors call for, given the one its folder, the configuration folder or the published
     * files give: where variants of a model share one layout and differ in a size the file shows, the file decides, as
     * A1111 picks a checkpoint's configuration from its tensors (e.g. a UNet's input channels from its first
     * convolution: nine for an inpainting checkpoint). The host maps the file and builds the component with what this
     * returns. The given configuration by default.
     *
     * @param key    one of {@link #singleFileKeys()} or {@link #componentFileKeys()} (or a typed key of one)
     * @param file   every tensor of the file: name → stored shape
     * @param config the key's configuration as the host found it
     */
    default ModelConfig adapted(String key, Map<String, long[]> file, ModelConfig config) {
        return config;
    }

    /**
     * The tensors of one model key in a file.
     *
     * @param key    one of {@link #singleFileKeys()} or {@link #componentFileKeys()} (or a typed key of one)
     * @param file   every tensor of the file: name → stored shape (no data is read)
     * @param config the key's configuration ({@code config.json}) the component will be built with
     * @return the tensors the component reads under that key, by its names, where the file holds them; empty where
     *     the file holds nothing of this key
     * @throws IllegalArgumentException naming the file's tensors, what was found and what was expected, when the
     *     file holds this key's component in a form the component cannot read (another architecture, tensors
     *     missing or of other shapes)
     */
    Optional<Map<String, MappedTensor>> view(String key, Map<String, long[]> file, ModelConfig config);

    /**
     * The tensors of one model key as a single-file checkpoint of this layout stores them, so that the host can write
     * such a file from the component's own weights: {@link #view} of a file holding these tensors must read every
     * tensor of the component, and the host writes each stored tensor from the component's tensors that
     * {@code view} maps onto it (joining row ranges, transposing back, reshaping).
     *
     * @param key    one of {@link #singleFileKeys()}
     * @param config the key's configuration
     * @return stored name → stored shape, in the spelling the layout writes where it reads several; empty where this
     *     layout is only read (the default)
     */
    default Optional<Map<String, long[]>> storedTensors(String key, ModelConfig config) {
        return Optional.empty();
    }

    /**
     * Maps each tensor a component expects to where it lies in a file, checking that it is there with a shape that
     * yields the expected one.
     *
     * @param what     how messages name the part of the file, e.g. {@code the UNet (model.diffusion_model.*)}
     * @param file     the file's tensors, name → stored shape
     * @param expected the component's tensors, name → shape
     * @param locate   where a component tensor of that name and shape lies in the file
     * @throws IllegalArgumentException listing every missing tensor (with the closest stored name) and every stored
     *     tensor whose shape does not fit
     */
    static Map<String, MappedTensor> map(String what, Map<String, long[]> file, Map<String, long[]> expected,
            Function<Map.Entry<String, long[]>, MappedTensor> locate) {
        Map<String, MappedTensor> view = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        List<String> misfit = new ArrayList<>();
        Collection<String> stored = file.keySet();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            MappedTensor m = locate.apply(e);
            long[] shape = file.get(m.source());
            if (shape == null) {
                missing.add(m.source());
            } else if (!m.fits(shape)) {
                misfit.add(m.source() + " is " + Arrays.toString(shape) + ", expected " + m);
            } else {
                view.put(e.getKey(), m);
            }
        }
        if (!missing.isEmpty() || !misfit.isEmpty()) {
            throw new IllegalArgumentException(what + " does not match its configuration: "
                    + (missing.isEmpty() ? "" : missing.size() + " missing " + abbreviate(missing.stream()
                            .limit(SHOWN).map(n -> n + Suggestions.didYouMean(n, stored)).toList(), missing.size()))
                    + (!missing.isEmpty() && !misfit.isEmpty() ? "; " : "")
                    + (misfit.isEmpty() ? "" : misfit.size() + " of another shape "
                            + abbreviate(misfit.stream().limit(SHOWN).toList(), misfit.size())));
        }
        return view;
    }

    private static String abbreviate(List<String> shown, int all) {
        return shown + (all > shown.size() ? " and " + (all - shown.size()) + " more" : "");
    }
}
