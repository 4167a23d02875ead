package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** SDXL prompt encoding and phrase embeddings against the official pipeline's tensors (tolerance 1e-4). */
class SdxlTextEncoderGoldenTest {
    private static final double ATOL = 1e-4;
    private static SdxlTextEncoder encoder;

    @BeforeAll
    static void load() {
        encoder = golden(PromptWeighting.NONE);
    }

    /** The encoder of the golden model. */
    static SdxlTextEncoder golden(PromptWeighting weighting) {
        Path m = Golden.model();
        return new SdxlTextEncoder(TestEngine.folder(m.resolve("tokenizer")),
                TestEngine.folder(m.resolve("tokenizer_2")),
                TestEngine.folder(m.resolve("text_encoder")), TestEngine.folder(m.resolve("text_encoder_2")), true,
                TestEngine.manager(), TestEngine.kernels(), TestEngine.dtype(), weighting, TextualInversions.NONE);
    }

    @AfterAll
    static void close() {
        if (encoder != null) {
            encoder.close();
        }
    }

    private static JsonNode caseJson(String name) throws IOException {
        return new ObjectMapper().readTree(Golden.caseDir(name).resolve(name + ".json").toFile());
    }

    @Test
    void tokenizerCaseSubset() throws IOException {
        JsonNode json = caseJson("tokenizer");
        List<String> prompts = new ArrayList<>();
        json.get("encode_prompt_subset").forEach(p -> prompts.add(p.asText()));
        try (GoldenTensors golden = GoldenTensors.open("tokenizer");
                NDManager m = TestEngine.manager().newSubManager()) {
            TextEncoder.PromptEmbeddings out = encoder.encode(m, prompts);
            golden.assertClose("encode_prompt.prompt_embeds", out.tokens(), ATOL);
            golden.assertClose("encode_prompt.pooled_prompt_embeds", out.pooled(), ATOL);
            golden.assertClose("text_encoder_1.pooler_output", encoder.encodePhrases(m, prompts), ATOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "controlnet_text_only", "plain_sdxl_euler"})
    void pipelineCases(String name) throws IOException {
        JsonNode json = caseJson(name);
        String prompt = json.get("prompt").asText();
        String negative = json.get("negative_prompt_used").asText();
        try (GoldenTensors golden = GoldenTensors.open(name); NDManager m = TestEngine.manager().newSubManager()) {
            int[][][] ids = encoder.tokenize(List.of(prompt, negative));
            assertArrayEquals(golden.longs("prompt_input_ids_1"), toLongs(ids[0][0]));
            assertArrayEquals(golden.longs("prompt_input_ids_2"), toLongs(ids[1][0]));
            assertArrayEquals(golden.longs("negative_input_ids_1"), toLongs(ids[0][1]));
            assertArrayEquals(golden.longs("negative_input_ids_2"), toLongs(ids[1][1]));
            TextEncoder.PromptEmbeddings cond = encoder.encode(m, List.of(prompt));
            TextEncoder.PromptEmbeddings uncond = encoder.encodeNegative(m, List.of(negative));
            golden.assertClose("prompt_embeds", cond.tokens(), ATOL);
            golden.assertClose("pooled_prompt_embeds", cond.pooled(), ATOL);
            golden.assertClose("negative_prompt_embeds", uncond.tokens(), ATOL);
            golden.assertClose("negative_pooled_prompt_embeds", uncond.pooled(), ATOL);
            if (json.has("phrases")) {
                List<String> phrases = new ArrayList<>();
                json.get("phrases").forEach(p -> phrases.add(p.asText()));
                NDArray phraseEmbeds = encoder.encodePhrases(m, phrases);
                golden.assertClose("phrase_embeds", phraseEmbeds, ATOL);
                long[] spans = golden.longs("phrase_idxes");
                long[] eots = golden.longs("eot_idxes");
                List<TextEncoder.TokenSpan> located = encoder.locatePhrases(prompt, phrases);
                for (int i = 0; i < phrases.size(); i++) {
                    assertEquals(new TextEncoder.TokenSpan((int) spans[2 * i], (int) spans[2 * i + 1]), located.get(i));
                    assertEquals(eots[i], encoder.endOfTextIndex(prompt));
                }
            }
        }
    }

    @Test
    void emptyNegativePromptBecomesZerosWhenTheModelAsks() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            TextEncoder.PromptEmbeddings e = encoder.encodeNegative(m, List.of("", "lowres"));
            assertEquals(0f, e.tokens().get(0).abs().sum().getFloat());
            assertEquals(0f, e.pooled().get(0).abs().sum().getFloat());
            TextEncoder.PromptEmbeddings plain = encoder.encode(m, List.of("lowres"));
            assertArrayEquals(plain.tokens().get(0).toFloatArray(), e.tokens().get(1).toFloatArray());
        }
    }

    @Test
    void encodingIsDeterministicAndLeavesNoArraysBehind() {
        try (NDManager warmUp = TestEngine.manager().newSubManager()) {
            // kernels are compiled on first use and stay cached for the engine's lifetime
            encoder.encode(warmUp, List.of("x"));
        }
        int before = TestEngine.manager().getManagedArrays().size();
        try (NDManager m = TestEngine.manager().newSubManager()) {
            TextEncoder.PromptEmbeddings a = encoder.encode(m, List.of("a dog on the beach"));
            TextEncoder.PromptEmbeddings b = encoder.encode(m, List.of("a dog on the beach"));
            assertArrayEquals(a.tokens().toFloatArray(), b.tokens().toFloatArray());
            assertArrayEquals(a.pooled().toFloatArray(), b.pooled().toFloatArray());
            encoder.encodePhrases(m, List.of("dog"));
            // only the returned arrays: 2 + 2 + 1
            assertEquals(5, m.getManagedArrays().size());
        }
        assertEquals(before, TestEngine.manager().getManagedArrays().size());
    }

    @Test
    void factoryIsFoundByServiceLoader() {
        boolean found = java.util.ServiceLoader.load(dev.montage.api.spi.ComponentFactory.class).stream()
                .anyMatch(p -> p.type() == SdxlTextEncoderFactory.class);
        assertEquals(true, found);
    }

    private static long[] toLongs(int[] ids) {
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = ids[i];
        }
        return out;
    }
}
