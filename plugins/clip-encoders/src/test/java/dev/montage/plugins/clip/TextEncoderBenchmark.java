package dev.montage.plugins.clip;

import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import dev.montage.runtime.weights.RandomCheckpoint;
import dev.montage.runtime.weights.TensorDType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Tokenizing and encoding 100 prompts with SDXL's real-size text encoders (CLIP ViT-L/14 + OpenCLIP bigG/14
 * configurations, random fp16 weights written on the fly) and the CLIP tokenizers of the golden folder, read in
 * place. Not a test: {@code java -cp <test class path> dev.montage.plugins.clip.TextEncoderBenchmark
 * [golden dir] [dtype] [runs]}; prints the median of the runs.
 */
final class TextEncoderBenchmark {
    private static final Map<String, Object> CLIP_L = Map.of("hidden_size", 768, "intermediate_size", 3072,
            "num_hidden_layers", 12, "num_attention_heads", 12, "hidden_act", "quick_gelu", "vocab_size", 49408,
            "max_position_embeddings", 77, "projection_dim", 768, "eos_token_id", 2, "layer_norm_eps", 1e-5);
    private static final Map<String, Object> BIG_G = Map.of("hidden_size", 1280, "intermediate_size", 5120,
            "num_hidden_layers", 32, "num_attention_heads", 20, "hidden_act", "gelu", "vocab_size", 49408,
            "max_position_embeddings", 77, "projection_dim", 1280, "eos_token_id", 2, "layer_norm_eps", 1e-5);

    private TextEncoderBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path golden = Path.of(args.length > 0 ? args[0] : "../shared/golden").resolve("tiny-sdxl-msd");
        String dtype = args.length > 1 ? args[1] : "float32";
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Path dir = Files.createTempDirectory("montage-textenc-bench");
        Path te1 = writeEncoder(dir.resolve("text_encoder"), CLIP_L, false);
        Path te2 = writeEncoder(dir.resolve("text_encoder_2"), BIG_G, true);
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            prompts.add("best quality, high quality, photo " + i + " of a dog and a cat on the beach at sunset");
        }
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", dtype))) {
            System.out.println(engine.describe());
            Optional<String> none = Optional.empty();
            try (LocalModelFolder tok1 = folder(golden.resolve("tokenizer"), engine);
                    LocalModelFolder tok2 = folder(golden.resolve("tokenizer_2"), engine);
                    LocalModelFolder f1 = folder(te1, engine);
                    LocalModelFolder f2 = folder(te2, engine);
                    SdxlTextEncoder encoder = new SdxlTextEncoder(tok1, tok2, f1, f2, true, engine.manager(),
                            engine.kernels(), engine.computeDType(), PromptWeighting.NONE, TextualInversions.NONE)) {
                long[] tokenizeNanos = new long[runs];
                long[] encodeNanos = new long[runs];
                for (int r = 0; r < runs; r++) {
                    long t0 = System.nanoTime();
                    encoder.tokenize(prompts);
                    tokenizeNanos[r] = System.nanoTime() - t0;
                    t0 = System.nanoTime();
                    for (int i = 0; i < prompts.size(); i += 10) {
                        try (NDManager m = engine.manager().newSubManager()) {
                            TextEncoder.PromptEmbeddings e = encoder.encode(m, prompts.subList(i, i + 10));
                            e.tokens().getShape();
                        }
                    }
                    encodeNanos[r] = System.nanoTime() - t0;
                }
                System.out.printf("tokenize 100 prompts (both tokenizers): median %.1f ms%n", median(tokenizeNanos) / 1e6);
                System.out.printf("encode 100 prompts (batches of 10, both towers): median %.2f s (runs %s)%n",
                        median(encodeNanos) / 1e9, Arrays.toString(Arrays.stream(encodeNanos).map(n -> n / 1_000_000).toArray()));
            }
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static LocalModelFolder folder(Path p, MontageEngine engine) {
        return new LocalModelFolder(p, Optional.empty(), engine.device(), engine.computeDType(), engine.kernels());
    }

    private static Path writeEncoder(Path dir, Map<String, Object> config, boolean projection) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), new com.fasterxml.jackson.databind.ObjectMapper()
                .writeValueAsString(config));
        ClipConfig c = ClipConfig.text(new ModelConfig(dir + "/config.json", config));
        RandomCheckpoint.write(dir.resolve("model.safetensors"), ClipTextModel.weightShapes(c, projection),
                TensorDType.F16, 42);
        return dir;
    }

    private static double median(long[] values) {
        long[] s = values.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
