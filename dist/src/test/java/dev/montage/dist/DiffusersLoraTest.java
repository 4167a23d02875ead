package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.ConfigurationException;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.dist.DiffusersLoras.Format;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRAs in diffusers' formats, and in float16 and bfloat16: the golden kohya-ss LoRA written in each (module by
 * module after the generator's record of its layers) gives {@code lora_kohya_euler} bit for bit as the kohya-ss file
 * does, or within rounding for the narrower dtypes; the files that are refused, by name.
 */
class DiffusersLoraTest {
    /**
     * How far a float16 copy of the LoRA may move the case's final latents from the float32 one's: its factors round
     * by at most 2^-11 relatively, so each weight's change moves by up to about 1e-3 of itself, and the final latents
     * by about that fraction of what the LoRA changes in them (4.5); measured 4.1e-3.
     */
    private static final double FLOAT16_TOLERANCE = 1e-2;
    /** The same for bfloat16, whose factors round by at most 2^-8 relatively (8 times float16's); measured 3.1e-2. */
    private static final double BFLOAT16_TOLERANCE = 8e-2;

    /** The case with the kohya-ss file, which every format must give. */
    private static float[] kohya;

    @TempDir
    Path tmp;

    private static float[] caseLatents(Lora... loras) throws IOException {
        MontagePipeline.Builder builder = LoraTest.pipeline();
        for (Lora lora : loras) {
            builder.lora(lora);
        }
        try (GoldenTensors golden = GoldenTensors.open(LoraTest.CASE); MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            pipeline.generate(LoraTest.request(golden), ProgressListener.NONE, latents);
            return latents[0].values();
        }
    }

    private static synchronized float[] kohya() throws IOException {
        if (kohya == null) {
            kohya = caseLatents(new Lora(DiffusersLoras.kohya(), LoraTest.scale()));
            try (GoldenTensors golden = GoldenTensors.open(LoraTest.CASE)) {
                golden.assertClose("final_latents", kohya, golden.tolerance("final_latents"));
            }
        }
        return kohya;
    }

    private static float[] caseWith(Path file) throws IOException {
        return caseLatents(new Lora(file, LoraTest.scale()));
    }

    @Test
    void peftFormatGivesTheKohyaGeneration() throws IOException {
        assertArrayEquals(kohya(), caseWith(DiffusersLoras.write(tmp.resolve("peft.safetensors"), Format.PEFT)));
    }

    @Test
    void diffusers023FormatGivesTheKohyaGeneration() throws IOException {
        assertArrayEquals(kohya(), caseWith(DiffusersLoras.write(tmp.resolve("d023.safetensors"),
                Format.DIFFUSERS_0_23)));
    }

    /** Attention-processor names for the UNet's self-attentions and the first text encoder, 0.23 names elsewhere. */
    @Test
    void attentionProcessorSpellingGivesTheKohyaGeneration() throws IOException {
        assertArrayEquals(kohya(), caseWith(DiffusersLoras.write(tmp.resolve("processors.safetensors"),
                Format.ATTENTION_PROCESSORS)));
    }

    /** The UNet's modules from a kohya-ss file and the text encoders' from a PEFT file make up the whole LoRA. */
    @Test
    void lorasOfDifferentFormatsApplyTogether() throws IOException {
        Path unet = DiffusersLoras.kohya(tmp.resolve("unet.safetensors"), TensorDType.F32,
                m -> m.model().equals("unet"));
        Path text = DiffusersLoras.write(tmp.resolve("text.safetensors"), Format.PEFT, TensorDType.F32,
                m -> !m.model().equals("unet"));
        assertArrayEquals(kohya(), caseLatents(new Lora(unet, LoraTest.scale()), new Lora(text, LoraTest.scale())));
    }

    @Test
    void float16AndBfloat16LorasApplyAsTheFloat32OneUpToRounding() throws IOException {
        float[] half = caseWith(DiffusersLoras.kohya(tmp.resolve("f16.safetensors"), TensorDType.F16, m -> true));
        float[] bf16 = caseWith(DiffusersLoras.write(tmp.resolve("bf16.safetensors"), Format.PEFT, TensorDType.BF16,
                m -> true));
        double halfError = GoldenTensors.maxAbsDiff(kohya(), half);
        double bf16Error = GoldenTensors.maxAbsDiff(kohya(), bf16);
        System.out.printf("%s with the LoRA in float16: final latents max |diff| %.3g from float32's, in bfloat16 "
                + "%.3g%n", LoraTest.CASE, halfError, bf16Error);
        assertTrue(halfError > 0 && halfError < FLOAT16_TOLERANCE, "float16: " + halfError);
        assertTrue(bf16Error > 0 && bf16Error < BFLOAT16_TOLERANCE, "bfloat16: " + bf16Error);
    }

    /** A float16 PEFT file under bfloat16 compute keeps to the bound the float32 kohya-ss file keeps to there. */
    @Test
    void aFloat16DiffusersLoraAppliesInBfloat16() throws IOException {
        Path file = DiffusersLoras.write(tmp.resolve("peft-f16.safetensors"), Format.PEFT, TensorDType.F16,
                m -> true);
        float[] with = LoraTest.generate(tmp.resolve("with"), "bfloat16", "--lora", file + ":" + LoraTest.scale());
        float[] without = LoraTest.generate(tmp.resolve("without"), "bfloat16");
        try (GoldenTensors golden = GoldenTensors.open(LoraTest.CASE)) {
            float[] official = golden.floats("final_latents");
            double withError = GoldenTensors.maxAbsDiff(official, with);
            double withoutError = GoldenTensors.maxAbsDiff(official, without);
            System.out.printf("%s in bfloat16 with a float16 PEFT LoRA: final latents max |diff| %.3g, %.3g without%n",
                    LoraTest.CASE, withError, withoutError);
            assertTrue(withError < withoutError / 4, withError + " with the LoRA, " + withoutError + " without");
        }
    }

    private ConfigurationException refused(Path file) {
        return assertThrows(ConfigurationException.class,
                () -> LoraTest.pipeline().lora(new Lora(file, 1)).validate());
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
        }
    }

    @Test
    void unmatchedModulesAreListedUnlessIgnoredByTheLoraOrItsProfileEntry() throws IOException {
        Path file = withModule(DiffusersLoras.write(tmp.resolve("peft.safetensors"), Format.PEFT),
                "unet.down_blocks.9.attentions.0.proj_in", tmp.resolve("extra.safetensors"));
        assertMentions(refused(file), "1 of its 193 modules name no layer", "[unet.down_blocks.9.attentions.0.proj_in]",
                "expected modules named", "unet.*", "text_encoder_2.*", "lora_unet_*");
        LoraTest.pipeline().lora(new Lora(file, 1, true)).validate();

        Path profile = Files.writeString(tmp.resolve("ignore.yaml"), "models:\n  loras:\n    - path: " + file
                + "\n      ignore_unmatched: true\n");
        LoraTest.pipeline().profile(profile.toString()).validate();
        Path strict = Files.writeString(tmp.resolve("strict.yaml"), "models:\n  loras:\n    - path: " + file
                + "\n      ignore_unmatched: false\n");
        assertThrows(ConfigurationException.class, () -> LoraTest.pipeline().profile(strict.toString()).validate());
    }

    @Test
    void theProfileKeyIsValidated() throws IOException {
        Path profile = Files.writeString(tmp.resolve("bad.yaml"), "models:\n  loras:\n    - path: "
                + DiffusersLoras.kohya() + "\n      ignore_unmatched: sometimes\n    - path: " + DiffusersLoras.kohya()
                + "\n      ignore_unmached: true\n");
        ProfileException e = assertThrows(ProfileException.class,
                () -> LoraTest.pipeline().profile(profile.toString()).validate());
        assertMentions(e, "models.loras[0].ignore_unmatched", "true or false", "ignore_unmached",
                "ignore_unmatched?");
    }

    @Test
    void aRankMismatchIsNamed() throws IOException {
        Path file = tmp.resolve("ranks.safetensors");
        module(new SafetensorsWriter(), "unet.down_blocks.1.attentions.0.proj_out", new long[] {4, 64},
                new long[] {64, 8}).write(file);
        assertMentions(refused(file), "'unet.down_blocks.1.attentions.0.proj_out' has rank 4 in "
                + "unet.down_blocks.1.attentions.0.proj_out.lora_A.weight [4, 64] but 8 in "
                + "unet.down_blocks.1.attentions.0.proj_out.lora_B.weight [64, 8]");
    }

    @Test
    void aLoraForAnotherArchitectureIsNamed() throws IOException {
        // Stable Diffusion 1.x's text encoder is wider; a Flux LoRA names its model transformer
        Path sd1 = tmp.resolve("sd1.safetensors");
        module(new SafetensorsWriter(), "text_encoder.text_model.encoder.layers.0.mlp.fc1", new long[] {4, 768},
                new long[] {3072, 4}).write(sd1);
        assertMentions(refused(sd1), "is for another architecture: 1 of its modules do not fit their layers: "
                + "[text_encoder.text_model.encoder.layers.0.mlp.fc1 changes [3072, 768], model 'text_encoder' "
                + "tensor 'text_model.encoder.layers.0.mlp.fc1.weight' is [");
        Path flux = tmp.resolve("flux.safetensors");
        module(new SafetensorsWriter(), "transformer.single_transformer_blocks.0.attn.to_q", new long[] {4, 3072},
                new long[] {3072, 4}).write(flux);
        assertMentions(refused(flux), "is for another architecture: none of its 1 modules "
                + "[transformer.single_transformer_blocks.0.attn.to_q] names a layer");
    }

    @Test
    void aFileThatIsNoLoraSaysWhatItHolds() {
        Path unet = Golden.model().resolve("unet/diffusion_pytorch_model.safetensors");
        assertMentions(refused(unet), "is not a LoRA: it holds the weights of model 'unet' (");
        assertMentions(refused(Golden.singleFile("tiny-sdxl.safetensors")),
                "is not a LoRA: none of its 697 tensors is a LoRA factor", "<module>.lora_A.weight and "
                        + "<module>.lora_B.weight (diffusers PEFT)", "its tensors are under ",
                "model.diffusion_model.* (428)");
    }

    /** A LoRA with one more module, of the shape of {@code proj_in} of the tiny UNet. */
    private static Path withModule(Path lora, String module, Path file) throws IOException {
        SafetensorsWriter writer = new SafetensorsWriter();
        try (SafetensorsReader reader = SafetensorsReader.open(lora)) {
            for (String name : reader.names()) {
                RawTensor t = reader.tensor(name);
                writer.add(name, t.dtype(), t.shape(), t.data());
            }
            module(writer, module, new long[] {4, 64}, new long[] {64, 4}).write(file);
        }
        return file;
    }

    private static SafetensorsWriter module(SafetensorsWriter writer, String name, long[] down, long[] up) {
        return writer.add(name + ".lora_A.weight", TensorDType.F32, down, LoraTest.zeros(down))
                .add(name + ".lora_B.weight", TensorDType.F32, up, LoraTest.zeros(up));
    }
}
