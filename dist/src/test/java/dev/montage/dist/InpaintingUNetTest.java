package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.Latents;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ModelFile;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.ForwardingDenoisingModel;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An inpainting UNet ({@code in_channels} 9: the latents, the mask and the masked picture's latents, as diffusers' SDXL
 * inpainting UNet), made from the tiny model's UNet by widening its {@code conv_in}.
 */
class InpaintingUNetTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CAPTURING = "test-capturing-unet";
    @TempDir
    static Path dir;
    private static MontagePipeline plain;
    /** The widened UNet whose new input channels have zero weights: it computes what the plain one does. */
    private static MontagePipeline zeroed;
    /** The widened UNet with weights on its new channels, its inputs captured. */
    private static MontagePipeline inpainting;
    /** The inputs the capturing UNet's first call of each generation got, channels 4 to 8. */
    private static final List<float[]> EXTRA = new ArrayList<>();

    @BeforeAll
    static void build() throws IOException {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(InpaintingUNetTest.class.getClassLoader());
        registry.register(capturing(registry.factory(ComponentKind.DENOISING_MODEL, "sdxl-unet",
                DenoisingModel.class)), "test-plugin");
        plain = TestEngine.pipeline(registry, TinyModel.folder()).build();
        zeroed = TestEngine.pipeline(registry, widened("zeroed", 0f)).build();
        inpainting = TestEngine.pipeline(registry, widened("inpainting", 0.05f))
                .setting("components.unet", CAPTURING).build();
    }

    @AfterAll
    static void close() {
        for (MontagePipeline p : new MontagePipeline[] {plain, zeroed, inpainting}) {
            if (p != null) {
                p.close();
            }
        }
    }

    /** The tiny model's folders, linked, with a UNet of nine input channels: the new ones weighted by {@code w}. */
    private static Path widened(String name, float w) throws IOException {
        Path model = dir.resolve(name);
        Files.createDirectories(model.resolve("unet"));
        try (Stream<Path> entries = Files.list(TinyModel.folder())) {
            for (Path e : entries.filter(e -> !e.getFileName().toString().equals("unet")).toList()) {
                Files.createSymbolicLink(model.resolve(e.getFileName()), e.toAbsolutePath());
            }
        }
        Path unet = TinyModel.folder().resolve("unet");
        ObjectNode config = (ObjectNode) JSON.readTree(unet.resolve("config.json").toFile());
        config.put("in_channels", 9);
        JSON.writeValue(model.resolve("unet/config.json").toFile(), config);
        List<RawTensor> tensors = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(unet.resolve("diffusion_pytorch_model.safetensors"))) {
            for (String tensor : reader.names()) {
                RawTensor t = reader.tensor(tensor);
                tensors.add(tensor.equals("conv_in.weight") ? widenedConvIn(t, w) : t);
            }
        }
        SafetensorsWriter.write(model.resolve("unet/diffusion_pytorch_model.safetensors"), Map.of("format", "pt"),
                tensors);
        return model;
    }

    /** [out, 4, k, k] to [out, 9, k, k]: the first four input channels as they were, the others {@code w}. */
    private static RawTensor widenedConvIn(RawTensor t, float w) {
        long[] s = t.shape();
        float[] old = t.toFloatArray();
        int kernel = (int) (s[2] * s[3]);
        ByteBuffer bytes = ByteBuffer.allocate((int) (s[0] * 9 * kernel) * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int o = 0; o < s[0]; o++) {
            for (int c = 0; c < 9; c++) {
                for (int k = 0; k < kernel; k++) {
                    bytes.putFloat(c < 4 ? old[(o * 4 + c) * kernel + k] : w * (((o + c + k) % 5) - 2));
                }
            }
        }
        return new RawTensor(t.name(), TensorDType.F32, new long[] {s[0], 9, s[2], s[3]}, bytes.flip());
    }

    /** The sdxl-unet factory under another id, its UNet recording the extra input channels of each generation. */
    private static ComponentFactory<DenoisingModel> capturing(ComponentFactory<DenoisingModel> base) {
        return new ComponentFactory<>() {
            @Override
            public ComponentKind kind() {
                return ComponentKind.DENOISING_MODEL;
            }

            @Override
            public String id() {
                return CAPTURING;
            }

            @Override
            public List<ModelFile> modelFiles() {
                return base.modelFiles();
            }

            @Override
            public Dimensions dimensions(ComponentContext context) {
                return base.dimensions(context);
            }

            @Override
            public DenoisingModel create(ComponentContext context) {
                DenoisingModel unet = base.create(context);
                return new ForwardingDenoisingModel() {
                    @Override
                    public DenoisingModel delegate() {
                        return unet;
                    }

                    @Override
                    public NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
                        if (ctx.step() == 0) {
                            synchronized (EXTRA) {
                                // through the host's cast: the compute dtype may be bf16, which DJL cannot read
                                EXTRA.add(TestEngine.kernels().cast(input.latents().get(":, 4:"),
                                        ComputeDType.FLOAT32).toFloatArray());
                            }
                        }
                        return unet.predictNoise(manager, input, ctx);
                    }
                };
            }
        };
    }

    private static BufferedImage picture(Color left, Color right) {
        return ImageToImageGenerationTest.halves(left, right);
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a dog").size(32, 32).steps(4).seed(3).guidanceScale(3);
    }

    private static float[] latents(MontagePipeline p, GenerationRequest r) {
        Latents[] out = new Latents[1];
        p.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    /** The mask's and masked picture's channels of the capturing UNet's first call of a generation. */
    private static float[] extra(GenerationRequest r) {
        synchronized (EXTRA) {
            EXTRA.clear();
        }
        inpainting.generate(r, ProgressListener.NONE);
        synchronized (EXTRA) {
            return EXTRA.get(0);
        }
    }

    /**
     * With zero weights on its new channels the widened UNet computes what the plain one does: from noise, from a
     * picture below full strength (where an inpainting run also starts from the noised picture), with a hires pass,
     * and with perturbed-attention guidance.
     */
    @Test
    void itsNewChannelsAddToWhatThePlainUNetComputes() {
        GenerationRequest noise = request().build();
        assertArrayEquals(latents(plain, noise), latents(zeroed, noise), 1e-5f);
        GenerationRequest fromPicture = request().initImage(new InitImage(picture(Color.RED, Color.BLUE), "start.png",
                0.5)).build();
        assertArrayEquals(latents(plain, fromPicture), latents(zeroed, fromPicture), 1e-5f);
        // a hires pass: its second pass at the larger size takes a mask and a grey masked picture of that size
        GenerationRequest hires = request().hires(new Hires(48, 48, 0.5, 0, Hires.Upscaler.LATENT)).build();
        assertArrayEquals(latents(plain, hires), latents(zeroed, hires), 1e-5f);
        assertFalse(Arrays.equals(latents(zeroed, noise), latents(inpainting, noise)), "the new channels are read");
        // perturbed-attention guidance: the perturbed rows take the mask and masked picture too
        GenerationRequest guided = fromPicture.toBuilder().perturbedAttention(PerturbedAttention.of(3)).build();
        assertArrayEquals(latents(plain, guided), latents(zeroed, guided), 1e-5f);
        assertFalse(Arrays.equals(latents(plain, fromPicture), latents(plain, guided)));
    }

    /**
     * An inpainting checkpoint in the single-file layout (the widened folder as {@code montage convert} writes it, as
     * diffusers' conversion script would) reads with {@code models.config} naming the plain model's folder, whose UNet
     * configuration says four input channels: the file's {@code conv_in} decides, as A1111 reads such a checkpoint.
     * It computes what the same weights in the folder do, and so does the folder {@code montage convert} makes of it
     * with that configuration, whose UNet configuration says nine; {@code models inspect} names the channels taken.
     */
    @Test
    void aSingleFileInpaintingCheckpointTakesItsInputChannelsFromItsFirstConvolution() throws IOException {
        GenerationRequest r = request().initImage(new InitImage(picture(Color.RED, Color.BLUE), "start.png", 1)
                .withMask(picture(Color.BLACK, Color.WHITE), "mask.png")).build();
        Path folder = dir.resolve("inpainting");
        Path file = dir.resolve("inpainting.safetensors");
        Path converted = dir.resolve("converted");
        assertEquals(0, Montage.run("convert", folder.toString(), file.toString()));
        assertEquals(0, Montage.run("convert", file.toString(), converted.toString(), "--config",
                TinyModel.folder().toString()));
        assertEquals(9, JSON.readTree(converted.resolve("unet/config.json").toFile()).get("in_channels").asInt());
        CommandRun inspect = CommandRun.montage("models", "inspect", "--config", TinyModel.folder().toString(),
                file.toString());
        assertTrue(inspect.out().contains("  model 'unet': " + TinyModel.folder().resolve("unet/config.json")
                + " with in_channels 9 as model.diffusion_model.input_blocks.0.0.weight has them\n"), inspect.out());
        ComponentRegistry registry = ComponentRegistry.fromClasspath(InpaintingUNetTest.class.getClassLoader());
        try (MontagePipeline fromFolder = TestEngine.pipeline(registry, folder).withoutSubjects().build();
                MontagePipeline fromFile = TestEngine.pipeline(registry, file)
                        .setting("models.config", TinyModel.folder().toString()).withoutSubjects().build();
                MontagePipeline fromConverted = TestEngine.pipeline(registry, converted).withoutSubjects().build()) {
            float[] expected = latents(fromFolder, r);
            assertArrayEquals(expected, latents(fromFile, r));
            assertArrayEquals(expected, latents(fromConverted, r));
        }
    }

    /**
     * The UNet gets the mask (1 where it repaints; white alone without one) beside the masked picture's latents, the
     * same for both halves of classifier-free guidance; the masked picture does not depend on what the mask repaints,
     * and without a mask or a picture it is grey alone.
     */
    @Test
    void itTakesTheMaskAndTheMaskedPicturesLatents() {
        InitImage halves = new InitImage(picture(Color.RED, Color.BLUE), "start.png", 1).withMask(
                picture(Color.BLACK, Color.WHITE), "mask.png");
        float[] extra = extra(request().initImage(halves).build());
        // [2 rows, 1 + 4 channels, 4, 4]: the mask's right half repaints
        int plane = 16;
        int row = 5 * plane;
        assertEquals(2 * row, extra.length);
        for (int i = 0; i < plane; i++) {
            assertEquals(i % 4 < 2 ? 0f : 1f, extra[i], "mask cell " + i);
        }
        assertArrayEquals(Arrays.copyOfRange(extra, 0, row), Arrays.copyOfRange(extra, row, 2 * row),
                "the unconditional rows get the same");
        InitImage otherRepainted = new InitImage(picture(Color.RED, Color.GREEN), "start.png", 1).withMask(
                picture(Color.BLACK, Color.WHITE), "mask.png");
        assertArrayEquals(extra, extra(request().initImage(otherRepainted).build()),
                "what the mask repaints is not seen");
        InitImage otherKept = new InitImage(picture(Color.YELLOW, Color.BLUE), "start.png", 1).withMask(
                picture(Color.BLACK, Color.WHITE), "mask.png");
        assertFalse(Arrays.equals(extra, extra(request().initImage(otherKept).build())), "what it keeps is seen");

        float[] none = extra(request().build());
        float[] unmasked = extra(request().initImage(new InitImage(picture(Color.RED, Color.BLUE), "start.png", 0.5))
                .build());
        for (int i = 0; i < plane; i++) {
            assertEquals(1f, none[i], "no mask repaints everywhere: cell " + i);
        }
        assertArrayEquals(none, unmasked, "without a mask the masked picture is grey alone, as without a picture");
    }
}
