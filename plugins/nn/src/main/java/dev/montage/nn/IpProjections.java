package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.EncoderContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An image adapter's decoupled key and value projections of its image tokens ({@code to_k_ip}, {@code to_v_ip}:
 * bias-free linears) for each cross-attention layer of a denoising model, numbered as MS-Diffusion's and IP-Adapter's
 * checkpoints number them: entry {@code i} ({@code <i>.to_k_ip.weight}) belongs to layer {@code i} of the model's
 * attention processors (diffusers' {@code attn_processors} order), and only cross-attention layers have one. Owns
 * its weights.
 */
public final class IpProjections implements AutoCloseable {
    private static final Pattern ENTRY = Pattern.compile("(\\d+)\\.(to_k_ip|to_v_ip)\\.weight");

    /**
     * The weights [out, in] of one layer's projections, multiplied with the kernels of the layer they serve.
     *
     * @param key   {@code to_k_ip.weight}
     * @param value {@code to_v_ip.weight}
     */
    public record Projection(NDArray key, NDArray value) {
    }

    private final String adapter;
    private final Map<String, Projection> byLayer;
    private final NDManager manager;

    private IpProjections(String adapter, Map<String, Projection> byLayer, NDManager manager) {
        this.adapter = adapter;
        this.byLayer = Map.copyOf(byLayer);
        this.manager = manager;
    }

    /**
     * Loads the projections of every cross-attention layer.
     *
     * @param weights the adapter's dictionary of projections ({@code <i>.to_k_ip.weight}, {@code <i>.to_v_ip.weight})
     * @param layers  the denoising model's attention layers, in its processors' order
     * @param adapter how messages name the dictionary, e.g. {@code ms_adapter}
     * @throws IllegalArgumentException naming the checkpoint and the layers whose entries are missing, unexpected or
     *     of the wrong shape
     */
    public static IpProjections bind(ModelWeights weights, List<AttentionLayerSpec> layers, NDManager parent,
            String adapter) {
        Map<String, String> expected = new LinkedHashMap<>();
        weightShapes(layers).keySet().forEach(name -> expected.put(name,
                layers.get(Integer.parseInt(name.substring(0, name.indexOf('.')))).name()));
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : expected.entrySet()) {
            if (!weights.contains(e.getKey())) {
                problems.add("missing '" + e.getKey() + "' for layer " + e.getValue());
            }
        }
        for (String name : new TreeSet<>(weights.names())) {
            if (!expected.containsKey(name)) {
                Matcher m = ENTRY.matcher(name);
                int index = m.matches() ? Integer.parseInt(m.group(1)) : -1;
                String where = index < 0 ? "not an adapter projection"
                        : index >= layers.size() ? "the denoising model has only " + layers.size() + " attention layers"
                        : "layer " + layers.get(index).name() + " is self-attention";
                problems.add("unexpected '" + name + "' (" + where + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(weights.source() + " does not fit the denoising model's "
                    + layers.size() + " attention layers: " + String.join("; ", problems));
        }
        NDManager manager = parent.newSubManager();
        try {
            Weights p = Weights.loading(weights, manager, null);
            Map<String, Projection> byLayer = new HashMap<>();
            for (int i = 0; i < layers.size(); i++) {
                AttentionLayerSpec layer = layers.get(i);
                if (layer.isCrossAttention()) {
                    try {
                        byLayer.put(layer.name(), new Projection(
                                p.linearWeight(i + ".to_k_ip.weight", layer.channels(), layer.contextChannels()),
                                p.linearWeight(i + ".to_v_ip.weight", layer.channels(), layer.contextChannels())));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(adapter + " entry " + i + " (layer " + layer.name() + "): "
                                + e.getMessage(), e);
                    }
                }
            }
            return new IpProjections(adapter, byLayer, manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The projection tensors a denoising model's layers need, by name inside the adapter's dictionary. */
    public static Map<String, long[]> weightShapes(List<AttentionLayerSpec> layers) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            AttentionLayerSpec layer = layers.get(i);
            if (layer.isCrossAttention()) {
                shapes.put(i + ".to_k_ip.weight", new long[] {layer.channels(), layer.contextChannels()});
                shapes.put(i + ".to_v_ip.weight", new long[] {layer.channels(), layer.contextChannels()});
            }
        }
        return shapes;
    }

    /**
     * @throws IllegalArgumentException naming the layer when these projections were bound to another model
     */
    public Projection get(AttentionLayer layer) {
        Projection p = byLayer.get(layer.name());
        if (p == null) {
            throw new IllegalArgumentException(adapter + " has no projections for layer " + layer.name()
                    + "; it was bound to another denoising model");
        }
        return p;
    }

    /**
     * What a decoupled cross-attention processor prepares for a generation ({@link
     * dev.montage.api.spi.AttentionProcessor#prepare}): the keys and values of the text tokens through the layer's
     * own projections and, when the context has subjects, of their tokens through this adapter's.
     */
    public void prepare(AttentionLayer layer, EncoderContext context, GenerationContext ctx) {
        ContextProjections cache = ContextProjections.of(ctx);
        cache.text(layer, context.text());
        context.subjects().ifPresent(subjects -> cache.image(layer, get(layer), subjects.tokens()));
    }

    @Override
    public void close() {
        manager.close();
    }
}
