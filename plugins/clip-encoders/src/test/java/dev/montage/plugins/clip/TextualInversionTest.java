package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.CheckpointWeights;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Textual inversion embeddings on the golden model's encoders: an embedding whose vectors are the token embeddings of
 * some words stands for those words in both towers, token for token.
 */
class TextualInversionTest {
    private static final String TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight";
    @TempDir
    Path dir;
    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
    }

    /** The rows of a tower's token embedding that the words' tokens select (without the sentinels). */
    private static float[][] rows(String tower, String tokenizer, String words) throws IOException {
        int[] ids = ClipTokenizer.load(Golden.model().resolve(tokenizer)).encodeUntruncated(words);
        try (SafetensorsReader reader = SafetensorsReader.open(Golden.model().resolve(tower)
                .resolve("model.safetensors"))) {
            RawTensor table = reader.tensor(TOKEN_EMBEDDING);
            int width = (int) table.shape()[1];
            float[] all = table.toFloatArray();
            float[][] rows = new float[ids.length - 2][];
            for (int i = 1; i < ids.length - 1; i++) {
                rows[i - 1] = Arrays.copyOfRange(all, ids[i] * width, (ids[i] + 1) * width);
            }
            return rows;
        }
    }

    private static RawTensor tensor(String name, float[][] rows) {
        ByteBuffer bytes = ByteBuffer.allocate(rows.length * rows[0].length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] row : rows) {
            for (float v : row) {
                bytes.putFloat(v);
            }
        }
        return new RawTensor(name, TensorDType.F32, new long[] {rows.length, rows[0].length}, bytes.flip());
    }

    /** An SDXL embedding file standing for the words in both towers. */
    private ModelWeights embedding(String name, String words) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        SafetensorsWriter.write(file, Map.of(), List.of(tensor(TextualInversions.FIRST, rows("text_encoder",
                "tokenizer", words)), tensor(TextualInversions.SECOND, rows("text_encoder_2", "tokenizer_2", words))));
        return weights(file);
    }

    private ModelWeights weights(Path file) throws IOException {
        TensorSource source = TensorSource.open(file);
        opened.add(source);
        return new CheckpointWeights(source, TestEngine.engine().device(), TestEngine.dtype(), TestEngine.kernels());
    }

    private SdxlTextEncoder encoder(Map<String, ModelWeights> files) {
        Path m = Golden.model();
        SdxlTextEncoder encoder = new SdxlTextEncoder(TestEngine.folder(m.resolve("tokenizer")),
                TestEngine.folder(m.resolve("tokenizer_2")), TestEngine.folder(m.resolve("text_encoder")),
                TestEngine.folder(m.resolve("text_encoder_2")), true, TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype(), PromptWeighting.NONE, TextualInversions.read(files, width("text_encoder"),
                        width("text_encoder_2")));
        opened.add(encoder);
        return encoder;
    }

    private static int width(String tower) {
        return ClipConfig.text(TestEngine.folder(Golden.model().resolve(tower)).config()).hiddenSize();
    }

    private static float[] tokens(SdxlTextEncoder encoder, String prompt) {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            TextEncoder.PromptEmbeddings e = encoder.encode(m, List.of(prompt));
            return TestEngine.kernels().cast(e.tokens(), dev.montage.api.host.ComputeDType.FLOAT32).toFloatArray();
        }
    }

    /**
     * A one-vector and a two-vector embedding each give the hidden states of the words they were made of, in both
     * towers and wherever the prompt names them (inside a word too, as added tokens are found); a prompt without them
     * encodes as without embeddings.
     */
    @Test
    void anEmbeddingStandsForTheWordsItsVectorsAreTheEmbeddingsOf() throws IOException {
        Map<String, ModelWeights> files = new LinkedHashMap<>();
        files.put("fido", embedding("fido", "dog"));
        files.put("BigCat", embedding("BigCat", "large cat"));
        SdxlTextEncoder with = encoder(files);
        SdxlTextEncoder without = SdxlTextEncoderGoldenTest.golden(PromptWeighting.NONE);
        opened.add(without);
        assertArrayEquals(tokens(without, "a dog and a large cat on a mat"), tokens(with,
                "a fido and a BigCat on a mat"), 1e-6f);
        assertArrayEquals(tokens(without, "a photo of a dog"), tokens(with, "a photo of a dog"));
        assertFalse(Arrays.equals(tokens(without, "a bigcat"), tokens(with, "a BigCat")),
                "found before the text is lower-cased, as added tokens are");
        // the tokens of "a BigCats": a, the embedding's two vectors after fido's one past the vocabulary, s
        int vocabulary = ClipConfig.text(TestEngine.folder(Golden.model().resolve("text_encoder")).config())
                .vocabSize();
        int[] plain = ClipTokenizer.load(Golden.model().resolve("tokenizer")).encodeUntruncated("a s");
        assertArrayEquals(new int[] {plain[0], plain[1], vocabulary + 1, vocabulary + 2, plain[2], plain[3]},
                Arrays.copyOf(with.tokenize(List.of("a BigCats"))[0][0], 6));
    }

    /** Files other than SDXL embeddings, or of other widths, are refused naming the file and what it should hold. */
    @Test
    void aFileThatIsNoSdxlEmbeddingIsRefusedByName() throws IOException {
        Path older = dir.resolve("old.safetensors");
        SafetensorsWriter.write(older, Map.of(), List.of(tensor("emb_params", new float[][] {{1, 2}})));
        IllegalArgumentException sd15 = assertThrows(IllegalArgumentException.class,
                () -> TextualInversions.read(Map.of("old", weights(older)), 32, 32));
        assertTrue(sd15.getMessage().contains("textual inversion 'old' (") && sd15.getMessage().contains(
                "holds [emb_params], an embedding of Stable Diffusion 1.x or 2.x; expected SDXL's clip_l [n, 32] and "
                        + "clip_g [n, 32]"), sd15.getMessage());
        Path narrow = dir.resolve("narrow.safetensors");
        SafetensorsWriter.write(narrow, Map.of(), List.of(tensor(TextualInversions.FIRST, new float[][] {{1, 2}}),
                tensor(TextualInversions.SECOND, new float[][] {{1, 2}})));
        IllegalArgumentException widths = assertThrows(IllegalArgumentException.class,
                () -> TextualInversions.read(Map.of("narrow", weights(narrow)), 32, 32));
        assertTrue(widths.getMessage().contains("has clip_l [1, 2] and clip_g [1, 2]; expected SDXL's clip_l [n, 32] "
                + "and clip_g [n, 32], the same n of vectors"), widths.getMessage());
    }
}
