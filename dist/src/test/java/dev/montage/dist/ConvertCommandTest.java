package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.spi.ModelFile;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestZips;
import dev.montage.runtime.weights.HalfFloats;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code montage convert} against what diffusers writes: its {@code convert_diffusers_to_original_sdxl.py} for a
 * single file, {@code save_pretrained} for a folder.
 */
class ConvertCommandTest {
    /** The weights files of the golden folder that a single file holds, all written by save_pretrained. */
    private static final List<String> WEIGHTS = List.of("unet/diffusion_pytorch_model.safetensors",
            "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
            "text_encoder_2/model.safetensors");
    private static final String PROJECTION = "conditioner.embedders.1.model.text_projection";

    @TempDir
    Path dir;

    private static Path singleFile() {
        return Golden.singleFile("tiny-sdxl.safetensors");
    }

    private static CommandRun convert(String... args) {
        return CommandRun.montage(Stream.concat(Stream.of("convert"), Stream.of(args)).toArray(String[]::new));
    }

    private static CommandRun succeeds(String... args) {
        CommandRun run = convert(args);
        assertEquals(0, run.code(), run.err());
        return run;
    }

    private static void assertSameBytes(Path expected, Path actual) throws IOException {
        assertTrue(Files.isRegularFile(actual), actual + " was not written");
        assertArrayEquals(Files.readAllBytes(expected), Files.readAllBytes(actual), actual + " differs from " + expected);
    }

    @Test
    void aFolderBecomesTheSingleFileOfDiffusersScriptByteForByte() throws IOException {
        Path out = dir.resolve("tiny.safetensors");
        CommandRun run = succeeds(Golden.model().toString(), out.toString());
        assertSameBytes(singleFile(), out);
        assertTrue(run.out().contains("697 tensors (text_encoder 52, text_encoder_2 41, unet 428, vae 176)"),
                run.out());
        assertTrue(run.out().contains("not part of a single file, left out: controlnet, image_encoder, "
                + "ms_adapter.bin, ms_adapter_config.json, resampler_config.json, scheduler, tokenizer, tokenizer_2"),
                run.out());
    }

    @Test
    void aSingleFileBecomesTheFolderOfSavePretrainedByteForByte() throws IOException {
        Path out = dir.resolve("tiny");
        succeeds(singleFile().toString(), "--config", Golden.model().toString(), out.toString());
        for (String weights : WEIGHTS) {
            assertSameBytes(Golden.model().resolve(weights), out.resolve(weights));
        }
        for (String config : List.of("model_index.json", "unet/config.json", "vae/config.json",
                "text_encoder/config.json", "text_encoder_2/config.json", "tokenizer/vocab.json",
                "tokenizer_2/merges.txt", "scheduler/scheduler_config.json")) {
            assertSameBytes(Golden.model().resolve(config), out.resolve(config));
        }
        try (Stream<Path> top = Files.list(out)) {
            assertEquals(List.of("model_index.json", "scheduler", "text_encoder", "text_encoder_2", "tokenizer",
                    "tokenizer_2", "unet", "vae"), top.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void aFolderWrittenFromTheFileGivesTheFileBack() throws IOException {
        Path folder = dir.resolve("folder");
        succeeds(singleFile().toString(), "--config", Golden.model().toString(), folder.toString());
        Path back = dir.resolve("back.safetensors");
        succeeds(folder.toString(), back.toString());
        assertSameBytes(singleFile(), back);
    }

    @Test
    void stabilitysSpellingOfTheTextProjectionIsTransposedBack() throws IOException {
        // Stability's files store the matrix the pooled output is multiplied by ([in, out]), not the Linear weight
        Path stability = dir.resolve("stability.safetensors");
        List<RawTensor> tensors = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(singleFile())) {
            for (String name : reader.names()) {
                RawTensor t = reader.tensor(name);
                tensors.add(name.equals(PROJECTION + ".weight") ? transposed(t, PROJECTION) : t);
            }
            SafetensorsWriter.write(stability, Map.of(), tensors);
        }
        Path out = dir.resolve("from-stability");
        succeeds(stability.toString(), "--config", Golden.model().toString(), out.toString());
        assertSameBytes(Golden.model().resolve("text_encoder_2/model.safetensors"),
                out.resolve("text_encoder_2/model.safetensors"));
    }

    private static RawTensor transposed(RawTensor t, String name) {
        long[] shape = t.shape();
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        ByteBuffer in = t.data();
        ByteBuffer out = ByteBuffer.allocate(in.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) {
                out.putFloat(in.getFloat((r * cols + c) * Float.BYTES));
            }
        }
        return new RawTensor(name, t.dtype(), new long[] {cols, rows}, out.flip());
    }

    @ParameterizedTest
    @CsvSource({"--half, F16", "--bfloat16, BF16"})
    void narrowingStoresEveryFloatingPointTensorRoundedToNearestEven(String flag, TensorDType narrow)
            throws IOException {
        Path out = dir.resolve(narrow + ".safetensors");
        succeeds(flag, Golden.model().toString(), out.toString());
        try (SafetensorsReader narrowed = SafetensorsReader.open(out);
                SafetensorsReader full = SafetensorsReader.open(singleFile())) {
            assertEquals(full.names(), narrowed.names());
            for (String name : narrowed.names()) {
                TensorDType own = full.info(name).dtype();
                assertEquals(own.isFloating() ? narrow : own, narrowed.info(name).dtype(), name);
            }
            String name = "model.diffusion_model.input_blocks.0.0.weight";
            ByteBuffer f32 = full.tensor(name).data();
            ByteBuffer stored = narrowed.tensor(name).data();
            while (f32.hasRemaining()) {
                float value = f32.getFloat();
                assertEquals(narrow == TensorDType.F16 ? HalfFloats.fromFloat(value) : HalfFloats.floatToBf16(value),
                        stored.getShort(), name);
            }
        }
    }

    @Test
    void aFolderInBfloat16HoldsEveryModelItReadsInBfloat16AndTheRestAsItWas() throws IOException {
        Path out = dir.resolve("tiny-bf16");
        CommandRun run = succeeds("--bfloat16", Golden.model().toString(), out.toString());
        assertTrue(run.out().contains("wrote " + out + " in bfloat16: "), run.out());
        assertFalse(run.out().contains("left out"), run.out());
        for (String weights : List.of("unet/diffusion_pytorch_model.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
                "text_encoder_2/model.safetensors", "image_encoder/model.safetensors",
                "controlnet/diffusion_pytorch_model.safetensors")) {
            try (SafetensorsReader original = SafetensorsReader.open(Golden.model().resolve(weights));
                    SafetensorsReader stored = SafetensorsReader.open(out.resolve(weights))) {
                assertEquals(original.names(), stored.names(), weights);
                assertEquals(Map.of("format", "pt"), stored.metadata(), weights);
                for (String name : stored.names()) {
                    assertNarrowed(original.tensor(name), stored.tensor(name), TensorDType.BF16, weights);
                }
            }
        }
        try (TorchCheckpointSource original = TorchCheckpointSource.open(Golden.model().resolve("ms_adapter.bin"));
                TorchCheckpointSource stored = TorchCheckpointSource.open(out.resolve("ms_adapter.bin"))) {
            assertEquals(original.names(), stored.names());
            assertEquals(((Map<?, ?>) original.root()).keySet(), ((Map<?, ?>) stored.root()).keySet());
            for (String name : stored.names()) {
                assertNarrowed(original.tensor(name), stored.tensor(name), TensorDType.BF16, "ms_adapter.bin");
            }
        }
        for (String file : List.of("model_index.json", "unet/config.json", "image_encoder/config.json",
                "image_encoder/preprocessor_config.json", "tokenizer/vocab.json", "tokenizer_2/merges.txt",
                "scheduler/scheduler_config.json", "resampler_config.json", "ms_adapter_config.json")) {
            assertSameBytes(Golden.model().resolve(file), out.resolve(file));
        }
    }

    /** The original's value narrowed once, rounded to nearest even; integer tensors as they were. */
    private static void assertNarrowed(RawTensor original, RawTensor stored, TensorDType narrow, String file) {
        String what = file + ": " + original.name();
        if (!original.dtype().isFloating()) {
            assertEquals(original.dtype(), stored.dtype(), what);
            assertEquals(original.data(), stored.data(), what);
            return;
        }
        assertEquals(narrow, stored.dtype(), what);
        assertArrayEquals(original.shape(), stored.shape(), what);
        float[] values = original.toFloatArray();
        ByteBuffer bits = stored.data();
        for (float value : values) {
            assertEquals(narrow == TensorDType.F16 ? HalfFloats.fromFloat(value) : HalfFloats.floatToBf16(value),
                    bits.getShort(), what);
        }
    }

    /**
     * With subjects, so that the image encoder and ms_adapter.bin take part: weights stored in bf16 ahead give the
     * latents that the original's weights, rounded to bf16 as they load, give.
     */
    @Test
    void theFolderInBfloat16GeneratesInBfloat16WhatTheOriginalGenerates() throws IOException {
        Path out = dir.resolve("tiny-bf16");
        succeeds("--bfloat16", Golden.model().toString(), out.toString());
        float[] original = generatedLatents(Golden.model(), "original");
        float[] stored = generatedLatents(out, "stored");
        assertArrayEquals(original, stored);
    }

    private float[] generatedLatents(Path model, String name) throws IOException {
        Path latents = dir.resolve(name + ".safetensors");
        CommandRun run = CommandRun.montage("generate", "--model", model.toString(), "--device", "cpu", "--dtype",
                "bfloat16", "-p", "a ball on a table", "--width", "64", "--height", "64", "--steps", "2", "--seed",
                "3", "-s", "image=" + Path.of("src/main/dist/examples/ball.png").toAbsolutePath()
                        + ",phrase=ball,box=0.1,0.2,0.6,0.7",
                "--save-latents", latents.toString(), "-o", dir.resolve(name).toString());
        assertEquals(0, run.code(), run::toString);
        try (SafetensorsReader reader = SafetensorsReader.open(latents)) {
            return reader.tensor("latents").toFloatArray();
        }
    }

    @Test
    void aFolderInFloat16ReadsTheVariantAndShardsItIsGivenAndLeavesOutWhatNoComponentReads() throws IOException {
        // a copy of the golden folder whose text encoder is sharded, as an fp16 variant beside the full weights
        Path model = dir.resolve("model");
        copyTree(Golden.model(), model);
        Path encoder = model.resolve("text_encoder");
        SafetensorsWriter first = new SafetensorsWriter();
        SafetensorsWriter second = new SafetensorsWriter();
        Map<String, String> weightMap = new TreeMap<>();
        try (SafetensorsReader reader = SafetensorsReader.open(encoder.resolve("model.safetensors"))) {
            for (String name : reader.names()) {
                boolean inFirst = weightMap.size() % 2 == 0;
                (inFirst ? first : second).add(reader, name, TensorDType.F16);
                weightMap.put(name, inFirst ? "model.fp16-00001-of-00002.safetensors"
                        : "model.fp16-00002-of-00002.safetensors");
            }
            first.write(encoder.resolve("model.fp16-00001-of-00002.safetensors"));
            second.write(encoder.resolve("model.fp16-00002-of-00002.safetensors"));
        }
        Files.writeString(encoder.resolve("model.safetensors.index.fp16.json"), new ObjectMapper()
                .writeValueAsString(Map.of("metadata", Map.of(), "weight_map", weightMap)));
        Files.writeString(model.resolve("unet/diffusion_pytorch_model.msgpack"), "flax weights");
        // an IP-Adapter checkpoint where the IP-Adapter plugin reads it by default
        Files.copy(Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin"), model.resolve("ip-adapter.bin"));

        Path out = dir.resolve("tiny-f16");
        CommandRun run = succeeds("--half", "--variant", "fp16", model.toString(), out.toString());

        try (Stream<Path> files = Files.list(out.resolve("text_encoder"))) {
            assertEquals(List.of("config.json", "model.safetensors"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        try (SafetensorsReader original = SafetensorsReader.open(encoder.resolve("model.safetensors"));
                SafetensorsReader stored = SafetensorsReader.open(out.resolve("text_encoder/model.safetensors"))) {
            assertEquals(original.names(), stored.names());
            for (String name : stored.names()) {
                assertNarrowed(original.tensor(name), stored.tensor(name), TensorDType.F16, "text_encoder");
            }
        }
        try (TorchCheckpointSource original = TorchCheckpointSource.open(model.resolve("ip-adapter.bin"));
                TorchCheckpointSource stored = TorchCheckpointSource.open(out.resolve("ip-adapter.bin"))) {
            assertEquals(List.of("image_proj", "ip_adapter"), List.copyOf(((Map<?, ?>) stored.root()).keySet()));
            assertEquals(original.names(), stored.names());
            for (String name : stored.names()) {
                assertNarrowed(original.tensor(name), stored.tensor(name), TensorDType.F16, "ip-adapter.bin");
            }
        }
        assertTrue(run.out().contains("ip_adapter ("), run.out());
        assertTrue(run.out().contains("left out 2 weights files that no installed component reads: "
                + "text_encoder/model.safetensors, unet/diffusion_pytorch_model.msgpack"), run.out());
        assertFalse(Files.exists(out.resolve("unet/diffusion_pytorch_model.msgpack")));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        List<Path> all;
        try (Stream<Path> walk = Files.walk(from)) {
            all = walk.filter(Files::isRegularFile).toList();
        }
        for (Path p : all) {
            Path copy = to.resolve(from.relativize(p).toString());
            Files.createDirectories(copy.getParent());
            Files.copy(p, copy);
        }
    }

    @Test
    void aCheckpointThatIsNotDictionariesOfTensorsIsRefusedNamingWhatItHolds() throws IOException {
        Path model = dir.resolve("model");
        copyTree(Golden.model(), model);
        // torch.save({"epoch": 3}) as protocol 2 writes it: a training checkpoint's counter beside no tensors
        byte[] pickle = {(byte) 0x80, 2, '}', 'X', 5, 0, 0, 0, 'e', 'p', 'o', 'c', 'h', 'K', 3, 's', '.'};
        Path checkpoint = model.resolve("ms_adapter.bin");
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("ms_adapter/data.pkl", pickle);
        entries.put("ms_adapter/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        TestZips.write(checkpoint, entries, false);
        Path out = dir.resolve("out");
        CommandRun run = convert("--bfloat16", model.toString(), out.toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(checkpoint + " holds a Long (3) at 'epoch'; only dictionaries of tensors "
                + "(nested dictionaries too) can be stored in another dtype"), run.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aFolderBecomesAFolderOnlyInAnotherDtypeAndOutsideItself() throws IOException {
        Path out = dir.resolve("same");
        CommandRun run = convert(Golden.model().toString(), out.toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(out + " is not a .safetensors file, so " + Golden.model() + " would be written "
                + "as a folder, which changes only the stored dtype: give --half or --bfloat16"), run.err());
        assertFalse(Files.exists(out));

        Path model = Files.createDirectories(dir.resolve("model"));
        Files.writeString(model.resolve("model_index.json"), "{}");
        Path inside = model.resolve("bf16");
        run = convert("--bfloat16", model.toString(), inside.toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(inside + " is inside " + model + ", whose files are all read"), run.err());
        try (Stream<Path> left = Files.list(model)) {
            assertEquals(List.of("model_index.json"), left.map(p -> p.getFileName().toString()).toList());
        }
    }

    /**
     * What a third-party plugin may declare and the installed ones do not: a checkpoint file in safetensors, and two
     * model keys at one place. It is stored once, with its metadata.
     */
    @Test
    void aSafetensorsCheckpointFileReadUnderTwoKeysIsStoredOnceWithItsMetadata() throws IOException {
        Path model = Files.createDirectories(dir.resolve("model").resolve("adapters")).getParent();
        ByteBuffer values = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        values.putFloat(1f / 3).putFloat(-2.5e-3f).putFloat(65519f).putFloat(7f).flip();
        RawTensor weight = new RawTensor("proj.weight", TensorDType.F32, new long[] {2, 2}, values);
        RawTensor steps = new RawTensor("steps", TensorDType.I64, new long[] {1},
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1200));
        new SafetensorsWriter().metadata("trained_on", "dogs").add(weight).add(steps)
                .write(model.resolve("adapters/style.safetensors"));
        Files.writeString(model.resolve("adapters/notes.txt"), "a style adapter");
        ConvertCommand command = new ConvertCommand();
        command.source = model;
        command.target = dir.resolve("bf16");
        command.bfloat16 = true;
        StringWriter text = new StringWriter();
        command.toFolderInDtype(Map.of(
                "style", ModelFile.file("style", "adapters/style.safetensors", "a style adapter"),
                "style_mask", ModelFile.file("style_mask", "adapters/style.safetensors", "its mask").optional()),
                new PrintWriter(text, true));
        assertEquals("wrote " + command.target + " in bfloat16: style (2 tensors)", text.toString().strip());
        try (SafetensorsReader stored = SafetensorsReader.open(command.target.resolve("adapters/style.safetensors"))) {
            assertEquals(Map.of("trained_on", "dogs"), stored.metadata());
            assertNarrowed(weight, stored.tensor("proj.weight"), TensorDType.BF16, "style.safetensors");
            assertNarrowed(steps, stored.tensor("steps"), TensorDType.BF16, "style.safetensors");
        }
        assertEquals("a style adapter", Files.readString(command.target.resolve("adapters/notes.txt")));
    }

    @Test
    void halfAndBfloat16AreRefusedTogether() {
        CommandRun both = convert("--half", "--bfloat16", Golden.model().toString(),
                dir.resolve("both.safetensors").toString());
        assertEquals(2, both.code());
        assertTrue(both.err().contains("--half and --bfloat16 both choose the stored dtype; give one"), both.err());
    }

    @Test
    void anExistingOutputIsNeverReplaced() throws IOException {
        Path file = Files.writeString(dir.resolve("taken.safetensors"), "mine");
        CommandRun run = convert(Golden.model().toString(), file.toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(file + " exists"), run.err());
        assertEquals("mine", Files.readString(file));

        Path folder = Files.createDirectory(dir.resolve("taken"));
        run = convert(singleFile().toString(), "--config", Golden.model().toString(), folder.toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(folder + " exists"), run.err());
        try (Stream<Path> left = Files.list(folder); Stream<Path> all = Files.list(dir)) {
            assertEquals(0, left.count());
            assertFalse(all.anyMatch(p -> p.getFileName().toString().startsWith(".")), "a temporary file is left");
        }
    }

    @Test
    void aFileOfAnotherArchitectureIsRefusedNamingIt() throws IOException {
        // Stable Diffusion 1.x keeps its only text encoder under cond_stage_model and has no added embedding
        Path sd15 = dir.resolve("sd15.safetensors");
        try (SafetensorsReader reader = SafetensorsReader.open(singleFile())) {
            List<RawTensor> tensors = new ArrayList<>();
            reader.names().stream().filter(n -> !n.startsWith("conditioner.") && !n.contains("label_emb"))
                    .forEach(n -> tensors.add(reader.tensor(n)));
            RawTensor norm = reader.tensor("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight");
            tensors.add(norm.renamed("cond_stage_model.transformer.text_model.final_layer_norm.weight"));
            SafetensorsWriter.write(sd15, Map.of(), tensors);
        }
        Path out = dir.resolve("sd15");
        CommandRun run = convert(sd15.toString(), "--config", Golden.model().toString(), out.toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains(sd15 + " cannot be read as") && run.err().contains("Stable Diffusion 1.x/2.x"),
                run.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void aSingleFileNeedsItsConfiguration() {
        CommandRun run = convert(singleFile().toString(), dir.resolve("out").toString());
        assertEquals(2, run.code());
        assertTrue(run.err().contains("needs --config FOLDER"), run.err());
    }
}
