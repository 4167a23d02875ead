package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Textual inversion embeddings of SDXL's two text encoders, as A1111 and Civitai share them: one file per embedding,
 * named by the file, holding {@code clip_l} [n, width of the first encoder] and {@code clip_g} [n, width of the
 * second]: n vectors that stand for the name wherever a prompt has it. As diffusers' {@code load_textual_inversion}
 * adds them to each tokenizer and encoder, each vector is a token after the encoder's vocabulary ({@code name},
 * {@code name_1}, ...), found in the text before it is normalised, whose row of the token embedding is the vector.
 */
final class TextualInversions {
    /** None. */
    static final TextualInversions NONE = new TextualInversions(List.of());
    static final String FIRST = "clip_l";
    static final String SECOND = "clip_g";

    /** One embedding: its name, how many vectors it has, and its file's tensors. */
    record Embedding(String name, int vectors, ModelWeights weights) {
    }

    private final List<Embedding> embeddings;

    private TextualInversions(List<Embedding> embeddings) {
        this.embeddings = List.copyOf(embeddings);
    }

    /**
     * Checks each file against the encoders' widths.
     *
     * @param files  the embeddings' tensors by name
     * @param first  the first text encoder's hidden width (CLIP ViT-L's 768)
     * @param second the second's (OpenCLIP bigG's 1280)
     * @throws IllegalArgumentException naming the file, what it holds and what was expected
     */
    static TextualInversions read(Map<String, ModelWeights> files, long first, long second) {
        List<Embedding> embeddings = new ArrayList<>();
        files.forEach((name, weights) -> {
            Set<String> held = weights.names();
            String expected = "expected SDXL's " + FIRST + " [n, " + first + "] and " + SECOND + " [n, " + second
                    + "]";
            if (!held.equals(Set.of(FIRST, SECOND))) {
                boolean older = held.contains("emb_params") || held.stream().anyMatch(n -> n.startsWith(
                        "string_to_param"));
                throw new IllegalArgumentException("textual inversion '" + name + "' (" + weights.source() + ") holds "
                        + held + (older ? ", an embedding of Stable Diffusion 1.x or 2.x" : "") + "; " + expected);
            }
            long[] l = weights.shape(FIRST);
            long[] g = weights.shape(SECOND);
            if (l.length != 2 || g.length != 2 || l[0] != g[0] || l[0] < 1 || l[1] != first || g[1] != second) {
                throw new IllegalArgumentException("textual inversion '" + name + "' (" + weights.source() + ") has "
                        + FIRST + " " + Arrays.toString(l) + " and " + SECOND + " " + Arrays.toString(g) + "; "
                        + expected + ", the same n of vectors");
            }
            embeddings.add(new Embedding(name, (int) l[0], weights));
        });
        return new TextualInversions(embeddings);
    }

    boolean isEmpty() {
        return embeddings.isEmpty();
    }

    /** Each embedding's name and number of vectors, in the order their tokens follow the vocabulary. */
    Map<String, Integer> vectors() {
        Map<String, Integer> vectors = new LinkedHashMap<>();
        embeddings.forEach(e -> vectors.put(e.name(), e.vectors()));
        return vectors;
    }

    /**
     * An encoder's token embedding with every embedding's vectors of {@code tensor} appended as rows, in the order of
     * {@link #vectors()}; the table given is closed.
     *
     * @param table   [vocabulary, width]
     * @param manager where the weights are kept
     */
    NDArray appended(NDArray table, String tensor, NDManager manager, Kernels kernels) {
        if (embeddings.isEmpty()) {
            return table;
        }
        long width = table.getShape().get(1);
        NDList rows = new NDList(table);
        for (Embedding e : embeddings) {
            rows.add(Weights.loading(e.weights(), manager, kernels).get(tensor, e.vectors(), width));
        }
        NDArray joined = NDArrays.concat(rows);
        joined.attach(manager);
        rows.close();
        return joined;
    }
}
