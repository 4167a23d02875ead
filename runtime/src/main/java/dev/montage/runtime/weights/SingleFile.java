package dev.montage.runtime.weights;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.SingleFileLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;

/**
 * A weights file in a layout the components map themselves ({@link SingleFileLayout}), as a profile gives it for the
 * base model or one model key: opened once, its header read, and every model key it holds mapped at once, so that
 * a tensor no component claims or a file of another architecture is refused before any weight is read.
 */
public final class SingleFile implements AutoCloseable {
    private final TensorSource source;
    private final Map<String, Map<String, MappedTensor>> views;
    private final Map<String, ModelConfig> configs;

    private SingleFile(TensorSource source, Map<String, Map<String, MappedTensor>> views,
            Map<String, ModelConfig> configs) {
        this.source = source;
        this.views = views;
        this.configs = configs;
    }

    /**
     * @param layouts the model keys to ask about, each with the layout of the component that reads it
     * @param configs the configuration of a model key held by a file of these tensors (name → shape), which its
     *                layout may adapt to the file ({@link SingleFileLayout#adapted})
     * @throws IllegalArgumentException naming the file when it cannot be read, when a component refuses it (all of
     *     their reasons), when it holds no model key or tensors that no component claims
     */
    public static SingleFile open(Path file, Map<String, SingleFileLayout> layouts,
            BiFunction<String, Map<String, long[]>, ModelConfig> configs) {
        TensorSource source;
        try {
            source = TensorSource.open(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot read the weights file " + file + ": " + e.getMessage(), e);
        }
        try {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            source.names().forEach(n -> shapes.put(n, source.info(n).shape()));
            Map<String, Map<String, MappedTensor>> views = new LinkedHashMap<>();
            Map<String, ModelConfig> used = new LinkedHashMap<>();
            List<String> refusals = new ArrayList<>();
            layouts.forEach((key, layout) -> {
                try {
                    ModelConfig config = layout.adapted(key, shapes, configs.apply(key, shapes));
                    used.put(key, config);
                    layout.view(key, shapes, config).ifPresent(v -> views.put(key, v));
                } catch (IllegalArgumentException e) {
                    refusals.add("model '" + key + "': " + e.getMessage());
                }
            });
            if (!refusals.isEmpty()) {
                throw new IllegalArgumentException(file + " cannot be read as " + String.join(", ", layouts.keySet())
                        + ":\n  - " + String.join("\n  - ", refusals));
            }
            if (views.isEmpty()) {
                throw new IllegalArgumentException(file + " holds none of the models " + String.join(", ",
                        layouts.keySet()) + " that the installed components read; its tensors are under "
                        + TensorNames.prefixes(shapes.keySet()));
            }
            Set<String> claimed = new HashSet<>();
            views.values().forEach(v -> v.values().forEach(m -> claimed.add(m.source())));
            Set<String> unknown = new TreeSet<>(shapes.keySet());
            unknown.removeAll(claimed);
            if (!unknown.isEmpty()) {
                List<String> list = List.copyOf(unknown);
                throw new IllegalArgumentException(file + " has " + list.size() + " tensors that no installed "
                        + "component reads as " + String.join(", ", views.keySet()) + ": "
                        + (list.size() <= SingleFileLayout.SHOWN ? list
                                : list.subList(0, SingleFileLayout.SHOWN) + " and "
                                        + (list.size() - SingleFileLayout.SHOWN) + " more"));
            }
            return new SingleFile(source, views, used);
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** The tensors of a model key by the names its component reads, where the file holds it. */
    public Optional<Map<String, MappedTensor>> view(String key) {
        return Optional.ofNullable(views.get(key));
    }

    /**
     * The tensors of a model key by the names its component reads, where the file holds it; they stay readable while
     * the file is open.
     */
    public Optional<TensorSource> tensors(String key) {
        return view(key).map(v -> new MappedTensorSource(source, v));
    }

    /** The configuration the tensors of a model key the file holds were mapped with. */
    public ModelConfig config(String key) {
        return configs.get(key);
    }

    /** The model keys the file holds. */
    public Set<String> keys() {
        return views.keySet();
    }

    /** The stored tensors. */
    public TensorSource source() {
        return source;
    }

    @Override
    public void close() {
        source.close();
    }
}
