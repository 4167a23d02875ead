package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * IP-Adapter chosen from profile settings (its resampler and cross-attention, its checkpoint) on the tiny model:
 * {@code ip_adapter_euler} as a whole generation against the official code, scale 0 against plain SDXL bit for bit,
 * and the subject fields IP-Adapter does not read refused by name.
 */
class IpAdapterPipelineTest {
    private static final String CASE = "ip_adapter_euler";
    private static MontagePipeline ip;

    @BeforeAll
    static void build() {
        ip = ipAdapter(Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin")).build();
    }

    @AfterAll
    static void close() {
        if (ip != null) {
            ip.close();
        }
    }

    static MontagePipeline.Builder ipAdapter(Path checkpoint) {
        return TestEngine.pipeline(ComponentRegistry.fromClasspath(IpAdapterPipelineTest.class.getClassLoader()),
                        Golden.model())
                .setting("models.ip_adapter", checkpoint)
                .setting("components.resampler", "ip-adapter")
                .setting("components.attention.cross", "ip-adapter");
    }

    @Test
    void theGoldenCaseAsAWholeGeneration() throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE)) {
            Latents[] latents = new Latents[1];
            GenerationResult result = ip.generate(request(golden, 0.7), ProgressListener.NONE, latents);
            golden.assertClose("final_latents", latents[0].values(), golden.tolerance("final_latents"));
            BufferedImage expected = ImageIO.read(Golden.caseDir(CASE).resolve("image_0.png").toFile());
            PipelineGoldenTest.assertImageMatches(CASE + "/image_0.png", expected, result.images().get(0));
            assertEquals("ip-adapter", result.parameters().get("component.subject_resampler"));
        }
    }

    @Test
    void scaleZeroIsPlainSdxlBitForBit() throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE);
                MontagePipeline plain = TestEngine.pipeline(ComponentRegistry.fromClasspath(
                        getClass().getClassLoader()), Golden.model()).withoutSubjects().build()) {
            Latents[] withAdapter = new Latents[1];
            Latents[] without = new Latents[1];
            GenerationRequest zero = request(golden, 0);
            ip.generate(zero, ProgressListener.NONE, withAdapter);
            GenerationRequest.Builder noSubjects = GenerationRequest.builder(zero.prompt())
                    .negativePrompt(zero.negativePrompt()).size(zero.width(), zero.height()).steps(zero.steps())
                    .guidanceScale(zero.guidanceScale()).scheduler("euler").initLatents(zero.initLatents().get());
            plain.generate(noSubjects.build(), ProgressListener.NONE, without);
            assertArrayEquals(without[0].values(), withAdapter[0].values());
        }
    }

    /** A canny ControlNet acts beside the image prompt, as it does beside MS-Diffusion's subjects. */
    @Test
    void aControlNetActsBesideTheImagePrompt() throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE);
                MontagePipeline controlled = ipAdapter(Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin"))
                        .setting("models.controlnets.canny", Golden.model().resolve("controlnet")).build()) {
            BufferedImage edges = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
            edges.getGraphics().fillRect(16, 16, 32, 32);
            GenerationRequest plain = request(golden, 0.7);
            Latents[] without = new Latents[1];
            Latents[] with = new Latents[1];
            controlled.generate(plain, ProgressListener.NONE, without);
            GenerationResult result = controlled.generate(plain.toBuilder()
                    .control(new Control("canny", edges, 0.8, 0, 1, Map.of())).build(), ProgressListener.NONE, with);
            assertEquals("ip-adapter", result.parameters().get("component.subject_resampler"));
            assertTrue(GoldenTensors.maxAbsDiff(without[0].values(), with[0].values()) > 1e-3,
                    "the control changes the generation");
        }
    }

    /** A LoRA adapts the UNet and text encoders under the image prompt, as it does under MS-Diffusion's subjects. */
    @Test
    void aLoraActsUnderTheImagePrompt() throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE);
                MontagePipeline adapted = ipAdapter(Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin"))
                        .lora(new Lora(Golden.dir().resolve("lora/tiny-lora-kohya.safetensors"), 0.8)).build()) {
            Latents[] without = new Latents[1];
            Latents[] with = new Latents[1];
            ip.generate(request(golden, 0.7), ProgressListener.NONE, without);
            GenerationResult result = adapted.generate(request(golden, 0.7), ProgressListener.NONE, with);
            assertEquals("ip-adapter", result.parameters().get("component.subject_resampler"));
            assertTrue(GoldenTensors.maxAbsDiff(without[0].values(), with[0].values()) > 1e-3,
                    "the LoRA changes the generation");
        }
    }

    /**
     * Perturbed-attention guidance runs beside the image prompt, its perturbed rows taking the image prompt as the
     * conditional ones do: where its scale is 0 at every step the golden case's latents are unchanged.
     */
    @Test
    void perturbedAttentionGuidanceActsBesideTheImagePrompt() throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE)) {
            GenerationRequest plain = request(golden, 0.7);
            Latents[] without = new Latents[1];
            Latents[] faded = new Latents[1];
            Latents[] guided = new Latents[1];
            ip.generate(plain, ProgressListener.NONE, without);
            ip.generate(plain.toBuilder().perturbedAttention(new PerturbedAttention(1, 1, List.of())).build(),
                    ProgressListener.NONE, faded);
            assertArrayEquals(without[0].values(), faded[0].values(), (float) TestEngine.tolerance(2e-5, 4));
            ip.generate(plain.toBuilder().perturbedAttention(PerturbedAttention.of(3)).build(), ProgressListener.NONE,
                    guided);
            assertTrue(GoldenTensors.maxAbsDiff(without[0].values(), guided[0].values()) > 1e-4,
                    "the guidance changes the generation");
        }
    }

    @Test
    void fieldsIpAdapterDoesNotReadAreRefusedByName() throws IOException {
        BufferedImage picture = picture();
        InvalidRequestException phrase = assertThrows(InvalidRequestException.class, () -> ip.generate(
                GenerationRequest.builder("a toy").size(64, 64).steps(1)
                        .subject(Subject.of(picture, "toy.png", "toy", Box.NONE)).build()));
        assertEquals("subjects[0].phrase", phrase.errors().get(0).field());
        assertTrue(phrase.getMessage().contains("subject resampler 'ip-adapter' reads no phrases"), phrase.getMessage());
        InvalidRequestException auto = assertThrows(InvalidRequestException.class, () -> ip.generate(
                GenerationRequest.builder("a toy").size(64, 64).steps(3).autoLayout(new AutoLayout(0.3, 2))
                        .subject(Subject.of(picture, "toy.png", null, Box.NONE).withDropGrounding(true)).build()));
        assertEquals(2, auto.errors().size(), auto.getMessage());
    }

    private static BufferedImage picture() throws IOException {
        return ImageIO.read(Golden.caseDir(CASE).resolve("subject_0.png").toFile());
    }

    /** The case's request: its prompt, negative prompt, size, steps, guidance and noise, one picture at a scale. */
    private static GenerationRequest request(GoldenTensors golden, double scale) throws IOException {
        return GenerationRequest.builder("a toy on a wooden table, best quality").negativePrompt("blurry, lowres")
                .size(64, 64).steps(5).guidanceScale(5.0).scheduler("euler").imageScale(scale)
                .initLatents(new Latents(golden.shape("init_latents"), golden.floats("init_latents")))
                .subject(Subject.of(picture(), "subject_0.png", null, Box.NONE)).build();
    }
}
