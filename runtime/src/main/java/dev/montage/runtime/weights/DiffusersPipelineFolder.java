package dev.montage.runtime.weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A diffusers pipeline folder: {@code model_index.json} naming each component (sub-folder) with its library
 * and class, plus pipeline-level settings such as {@code force_zeros_for_empty_prompt}.
 */
public final class DiffusersPipelineFolder {

    /**
     * One component entry of {@code model_index.json}.
     *
     * @param name      the sub-folder, e.g. {@code unet}
     * @param library   e.g. {@code diffusers}, {@code transformers}
     * @param className e.g. {@code UNet2DConditionModel}
     */
    public record Component(String name, String library, String className) {
    }

    private final Path path;
    private final String pipelineClass;
    private final Map<String, Component> components;
    private final Map<String, Object> settings;

    private DiffusersPipelineFolder(Path path, String pipelineClass, Map<String, Component> components,
            Map<String, Object> settings) {
        this.path = path;
        this.pipelineClass = pipelineClass;
        this.components = components;
        this.settings = settings;
    }

    /**
     * Reads {@code folder/model_index.json}.
     *
     * @throws IllegalArgumentException naming the file and the malformed entry
     */
    public static DiffusersPipelineFolder open(Path folder) {
        Path index = folder.resolve("model_index.json");
        if (!Files.isRegularFile(index)) {
            throw new IllegalArgumentException(folder + " is not a diffusers pipeline folder: model_index.json is missing");
        }
        Map<String, Object> json = JsonFiles.readObject(index);
        Map<String, Component> components = new LinkedHashMap<>();
        Map<String, Object> settings = new LinkedHashMap<>();
        String pipelineClass = Objects.toString(json.get("_class_name"), "");
        for (Map.Entry<String, Object> e : json.entrySet()) {
            String key = e.getKey();
            if (key.startsWith("_")) {
                continue;
            }
            if (e.getValue() instanceof List<?> pair) {
                // diffusers writes [null, null] for optional components that are absent
                if (pair.size() != 2) {
                    throw new IllegalArgumentException(index + ": component '" + key
                            + "' must be [library, class], got " + pair);
                }
                if (pair.get(0) != null && pair.get(1) != null) {
                    components.put(key, new Component(key, pair.get(0).toString(), pair.get(1).toString()));
                }
            } else {
                settings.put(key, e.getValue());
            }
        }
        return new DiffusersPipelineFolder(folder, pipelineClass, Collections.unmodifiableMap(components),
                Collections.unmodifiableMap(settings));
    }

    public Path path() {
        return path;
    }

    /** {@code _class_name}, e.g. {@code StableDiffusionXLPipeline}. */
    public String pipelineClass() {
        return pipelineClass;
    }

    /** The components present, in file order. */
    public Map<String, Component> components() {
        return components;
    }

    /** Pipeline-level settings (keys that are not components and do not start with '_'). */
    public Map<String, Object> settings() {
        return settings;
    }

    /** {@code force_zeros_for_empty_prompt}: SDXL replaces an empty negative prompt's embeddings by zeros. */
    public boolean forceZerosForEmptyPrompt() {
        return Boolean.TRUE.equals(settings.get("force_zeros_for_empty_prompt"));
    }

    /**
     * The folder of a component.
     *
     * @throws IllegalArgumentException naming the pipeline folder, the component and the ones it has
     */
    public Path componentFolder(String name) {
        if (!components.containsKey(name)) {
            throw new IllegalArgumentException(path + "/model_index.json has no component '" + name
                    + "', it has " + components.keySet());
        }
        Path folder = path.resolve(name);
        if (!Files.isDirectory(folder)) {
            throw new IllegalArgumentException("component '" + name + "' is listed in " + path
                    + "/model_index.json but its folder " + folder + " is missing");
        }
        return folder;
    }
}
