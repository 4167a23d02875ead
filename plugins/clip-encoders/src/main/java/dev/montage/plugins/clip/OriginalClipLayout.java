package dev.montage.plugins.clip;

import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.SingleFileLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * SDXL's text encoders in a single-file checkpoint: the first (CLIP ViT-L) with transformers' names under
 * {@code conditioner.embedders.0.transformer.}, the second (OpenCLIP bigG) with OpenCLIP's names under
 * {@code conditioner.embedders.1.model.}, its attention's q, k and v fused into rows of {@code attn.in_proj_*}.
 */
final class OriginalClipLayout {
    static final String FIRST = "conditioner.embedders.0.transformer.";
    static final String SECOND = "conditioner.embedders.1.model.";
    /** Stable Diffusion 1.x/2.x keep their only text encoder here. */
    private static final String LEGACY = "cond_stage_model.";
    private static final String REFINER = "conditioner.embedders.0.model.";
    private static final Pattern LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\.(.+)");
    private static final Map<String, String> PARTS = Map.of("layer_norm1", "ln_1", "layer_norm2", "ln_2",
            "self_attn.out_proj", "attn.out_proj", "mlp.fc1", "mlp.c_fc", "mlp.fc2", "mlp.c_proj");
    private static final Map<String, Integer> FUSED = Map.of("self_attn.q_proj", 0, "self_attn.k_proj", 1,
            "self_attn.v_proj", 2);

    private OriginalClipLayout() {
    }

    /**
     * @param second   whether this is the second (OpenCLIP) encoder
     * @param expected the encoder's tensors by transformers name, as its configuration makes them
     */
    static Optional<Map<String, MappedTensor>> view(boolean second, Map<String, long[]> file,
            Map<String, long[]> expected) {
        if (has(file, LEGACY)) {
            throw new IllegalArgumentException("the file keeps its text encoder under " + LEGACY + "*: a Stable "
                    + "Diffusion 1.x/2.x checkpoint; expected SDXL base (" + FIRST + "* and " + SECOND + "*)");
        }
        if (has(file, REFINER) && !has(file, SECOND)) {
            throw new IllegalArgumentException("the file has one OpenCLIP text encoder, under " + REFINER
                    + "*: the SDXL refiner; expected SDXL base (" + FIRST + "* and " + SECOND + "*)");
        }
        String prefix = second ? SECOND : FIRST;
        if (!has(file, prefix)) {
            return Optional.empty();
        }
        String what = "the " + (second ? "second" : "first") + " text encoder (" + prefix + "*)";
        if (!second) {
            return Optional.of(SingleFileLayout.map(what, file, expected,
                    e -> MappedTensor.of(prefix + e.getKey(), e.getValue())));
        }
        return Optional.of(SingleFileLayout.map(what, file, expected, e -> openClip(file, e.getKey(), e.getValue())));
    }

    /**
     * An encoder's tensors as a single-file checkpoint stores them, the second one's text projection as diffusers'
     * converter writes it (a Linear weight, {@code text_projection.weight}).
     */
    static Map<String, long[]> stored(boolean second, Map<String, long[]> expected) {
        Map<String, long[]> stored = new LinkedHashMap<>();
        expected.forEach((name, shape) -> {
            if (!second) {
                stored.put(FIRST + name, shape);
                return;
            }
            MappedTensor m = openClip(Map.of(), name, shape);
            long[] whole = m.shape();
            if (m.rowCount() >= 0) {
                whole[0] *= FUSED.size();
            }
            stored.put(m.source(), whole);
        });
        return stored;
    }

    private static MappedTensor openClip(Map<String, long[]> file, String name, long[] shape) {
        switch (name) {
            case "text_model.embeddings.token_embedding.weight":
                return MappedTensor.of(SECOND + "token_embedding.weight", shape);
            case "text_model.embeddings.position_embedding.weight":
                return MappedTensor.of(SECOND + "positional_embedding", shape);
            case "text_projection.weight":
                // a Linear weight ([out, in]) where converted from diffusers, the matrix x is multiplied by
                // ([in, out]) as Stability's releases store it
                return !file.containsKey(SECOND + "text_projection")
                        ? MappedTensor.of(SECOND + "text_projection.weight", shape)
                        : MappedTensor.transposed(SECOND + "text_projection", shape);
            default:
                break;
        }
        if (name.startsWith("text_model.final_layer_norm.")) {
            return MappedTensor.of(SECOND + "ln_final." + name.substring("text_model.final_layer_norm.".length()),
                    shape);
        }
        Matcher m = LAYER.matcher(name);
        if (!m.matches()) {
            return MappedTensor.of(SECOND + name, shape);
        }
        String block = SECOND + "transformer.resblocks." + m.group(1) + ".";
        String rest = m.group(2);
        int dot = rest.lastIndexOf('.');
        String module = rest.substring(0, dot);
        String kind = rest.substring(dot + 1);
        Integer part = FUSED.get(module);
        if (part != null) {
            String fused = block + "attn.in_proj_" + kind;
            long[] stored = file.get(fused);
            // the width is what the file has: a third of the fused rows
            long width = stored == null ? shape[0] : stored[0] / 3;
            return MappedTensor.rows(fused, part * width, width, shape);
        }
        return MappedTensor.of(block + PARTS.getOrDefault(module, module) + "." + kind, shape);
    }

    private static boolean has(Map<String, long[]> file, String prefix) {
        return file.keySet().stream().anyMatch(n -> n.startsWith(prefix));
    }
}
