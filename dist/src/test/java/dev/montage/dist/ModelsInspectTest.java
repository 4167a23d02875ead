package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage models inspect}: what a weights file is, from its header, through the command line. */
class ModelsInspectTest {
    @TempDir
    Path dir;

    private static CommandRun inspect(Path file, String... options) {
        String[] args = Stream.of(new String[] {"models", "inspect"}, options, new String[] {file.toString()})
                .flatMap(Arrays::stream).toArray(String[]::new);
        return CommandRun.montage(args);
    }

    private static CommandRun succeeds(Path file, String... options) {
        CommandRun run = inspect(file, options);
        assertEquals(0, run.code(), run.err());
        return run;
    }

    private static void assertHas(CommandRun run, String... lines) {
        for (String line : lines) {
            assertTrue(run.out().contains(line), "expected '" + line + "' in:\n" + run.out());
        }
    }

    /** The tensor count and byte size of a safetensors file as its own reader gives them. */
    private static String[] counted(Path file) throws IOException {
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            long bytes = reader.names().stream().mapToLong(n -> reader.info(n).byteSize()).sum();
            return new String[] {"tensors: " + reader.names().size() + "\n", "size: " + bytes + " bytes\n"};
        }
    }

    @Test
    void singleFileCheckpointHoldsEveryModelKeyOfItsConfiguration() throws IOException {
        Path file = Golden.singleFile("tiny-sdxl.safetensors");
        CommandRun run = succeeds(file, "--config", Golden.model().toString());
        assertHas(run, "file: " + file + "\n", "format: safetensors\n", "dtypes: F16 1, F32 696\n",
                "architecture: holds model 'text_encoder' (52 tensors), model 'text_encoder_2' (53 tensors), "
                        + "model 'unet' (428 tensors), model 'vae' (176 tensors)\n",
                "configuration: " + Golden.model() + "\n");
        assertHas(run, counted(file));
        assertTrue(!run.out().contains("no installed component reads"), run.out());
    }

    @Test
    void singleFileCheckpointOfOtherSizesThanTheShippedConfigurationSaysWhyForEachModelKey() {
        CommandRun run = succeeds(Golden.singleFile("tiny-sdxl.safetensors"));
        assertHas(run, "architecture: no model key matches its configuration\n",
                "configuration: the published SDXL base configuration", "  model 'unet': ",
                "  model 'vae': the VAE (first_stage_model.*) does not match its configuration");
    }

    @Test
    void anSdxlTextualInversionEmbeddingIsNamedAsOne() throws IOException {
        Path file = dir.resolve("negative.safetensors");
        SafetensorsWriter.write(file, Map.of(), List.of(new RawTensor("clip_l", TensorDType.F32, new long[] {2, 4},
                ByteBuffer.allocate(32)), new RawTensor("clip_g", TensorDType.F32, new long[] {2, 8},
                        ByteBuffer.allocate(64))));
        assertHas(succeeds(file), "architecture: SDXL textual inversion embedding, 2 vectors (clip_l 4 wide, clip_g 8 "
                + "wide); a prompt names it by its file name when the file is in the folder of models.embeddings\n");
    }

    @Test
    void vaeFileHoldsTheVaeAlone() throws IOException {
        Path file = Golden.singleFile("tiny-sdxl-vae.safetensors");
        CommandRun run = succeeds(file, "--config", Golden.model().toString());
        assertHas(run, "dtypes: F32 176\n", "architecture: holds model 'vae' (176 tensors)\n");
        assertHas(run, counted(file));
    }

    @Test
    void loraGivesItsModulesAndRankByPrefixWithTheModelEachAdapts() throws IOException {
        Path file = Golden.dir().resolve("lora/tiny-lora-kohya.safetensors");
        CommandRun run = succeeds(file);
        assertHas(run, "architecture: kohya-ss LoRA, 192 modules\n",
                "  lora_te1_*: 18 modules, rank 4, adapts model 'text_encoder'\n",
                "  lora_te2_*: 18 modules, rank 4, adapts model 'text_encoder_2'\n",
                "  lora_unet_*: 156 modules, rank 4, adapts model 'unet'\n");
        assertHas(run, counted(file));
    }

    @Test
    void diffusersLorasGiveTheirModulesAndRankByPrefixWithTheModelEachAdapts() throws IOException {
        Path peft = DiffusersLoras.write(dir.resolve("peft.safetensors"), DiffusersLoras.Format.PEFT);
        CommandRun run = succeeds(peft);
        assertHas(run, "architecture: diffusers PEFT LoRA, 192 modules\n",
                "  text_encoder.*: 18 modules, rank 4, adapts model 'text_encoder'\n",
                "  text_encoder_2.*: 18 modules, rank 4, adapts model 'text_encoder_2'\n",
                "  unet.*: 156 modules, rank 4, adapts model 'unet'\n");
        assertHas(run, counted(peft));

        CommandRun older = succeeds(DiffusersLoras.write(dir.resolve("older.safetensors"),
                DiffusersLoras.Format.ATTENTION_PROCESSORS));
        assertHas(older, "architecture: diffusers 0.21-0.23 and diffusers attention-processor LoRA, 192 modules\n",
                "  unet.*: 156 modules, rank 4, adapts model 'unet'\n");
    }

    @Test
    void fileOfNoSingleFileLayoutListsItsNamePrefixes() throws IOException {
        Path file = Golden.model().resolve("unet/diffusion_pytorch_model.safetensors");
        CommandRun run = succeeds(file);
        assertHas(run, "architecture: unknown layout; tensors under add_embedding.linear_1.* (2), ",
                "down_blocks.0.* (");
        assertHas(run, counted(file));
    }

    @Test
    void torchZipCheckpointIsReadFromItsPickle() {
        CommandRun run = succeeds(Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin"));
        assertHas(run, "format: torch zip checkpoint\n", "tensors: 28\n", "dtypes: F32 28\n",
                "architecture: unknown layout; tensors under image_proj.norm.* (2), ");
    }

    @Test
    void folderGivesEachOfItsWeightsFiles() {
        Path folder = Golden.dir().resolve("ip-adapter");
        CommandRun run = succeeds(folder);
        assertHas(run, "format: folder\n", "file: " + folder.resolve("ip-adapter_tiny.bin") + "\n",
                "file: " + folder.resolve("ip-adapter_tiny.safetensors") + "\n", "format: torch zip checkpoint\n",
                "format: safetensors\n");
    }

    @Test
    void folderWithoutWeightsIsNamedWithWhatWasExpected() {
        CommandRun run = inspect(dir);
        assertEquals(2, run.code(), run.out());
        assertTrue(run.err().contains(dir + " holds no weights file; expected a .safetensors file"), run.err());
    }

    @Test
    void truncatedFileIsNamedWithWhatWasExpected() throws IOException {
        Path file = dir.resolve("truncated.safetensors");
        byte[] whole = Files.readAllBytes(Golden.singleFile("tiny-sdxl-vae.safetensors"));
        Files.write(file, Arrays.copyOf(whole, 64));
        CommandRun run = inspect(file);
        assertEquals(2, run.code(), run.out());
        assertTrue(run.err().contains("cannot read " + file + " (expected a .safetensors file"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void missingFileIsNamedWithWhatWasExpected() {
        Path file = dir.resolve("absent.safetensors");
        CommandRun run = inspect(file);
        assertEquals(2, run.code());
        assertTrue(run.err().contains(file + " does not exist; expected a .safetensors file"), run.err());
    }
}
