package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Control;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.Options;
import dev.montage.plugins.unet.SdxlControlNet;
import dev.montage.plugins.unet.SdxlUNetFactory;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.ForwardingDenoisingModel;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Controls in whole generations on Montage's own tiny random model (written by the test, with its generic
 * {@code controlnet/}): guidance windows and residual sums of several controls, what reaches the ControlNet and the
 * UNet, errors for unknown types and missing weights, memory.
 */
class ControlNetBehaviourTest {
    @TempDir
    static Path dir;
    private static NDManager records;
    private static SdxlControlNet network;
    private static Recorder canny;
    private static Recorder depth;
    private static final List<ControlResiduals> UNET_CONTROL = new ArrayList<>();
    /** The UNet's prepare and step calls, each step with whether it saw the prepared context. */
    private static final List<String> UNET_EVENTS = new ArrayList<>();
    private static MontagePipeline pipeline;

    @BeforeAll
    static void build() throws Exception {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(ControlNetBehaviourTest.class.getClassLoader());
        RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry);
        registry.register(new RecordingUNetFactory(), "test");
        records = TestEngine.manager().newSubManager();
        network = SdxlControlNet.load("canny", TestEngine.folder(dir.resolve("controlnet")), TestEngine.manager(),
                TestEngine.kernels(), TestEngine.dtype());
        canny = new Recorder("canny", network);
        depth = new Recorder("depth", network);
        pipeline = TestEngine.pipeline(registry, dir).set(ComponentKind.DENOISING_MODEL, "recording-unet")
                .conditioner(canny).conditioner(depth).build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
        if (network != null) {
            network.close();
        }
        if (records != null) {
            records.close();
        }
    }

    static BufferedImage picture(Color color) {
        BufferedImage image = new BufferedImage(48, 40, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(color);
        g.fillRect(8, 6, 20, 24);
        g.dispose();
        return image;
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a cube on a table").size(64, 64).steps(4).seed(5);
    }

    private static float[] latents(GenerationRequest r) {
        clearRecords();
        Latents[] out = new Latents[1];
        pipeline.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    private static void clearRecords() {
        canny.calls.clear();
        depth.calls.clear();
        canny.events.clear();
        depth.events.clear();
        UNET_CONTROL.clear();
        UNET_EVENTS.clear();
    }

    @Test
    void windowsChooseTheActingControlsAndTheirResidualsAreSummed() {
        GenerationRequest r = request()
                .control(new Control("canny", picture(Color.WHITE), 0.7, 0, 0.5, Map.of()))
                .control(new Control("depth", picture(Color.GRAY), 0.4, 0.25, 1, Map.of()))
                .build();
        latents(r);
        // diffusers' keep flags for 4 steps: canny [0, 0.5] acts at steps 0 and 1, depth [0.25, 1] at 1, 2 and 3
        assertEquals(List.of("0@0.7", "1@0.7"), canny.labels());
        assertEquals(List.of("1@0.4", "2@0.4", "3@0.4"), depth.labels());
        assertEquals(4, UNET_CONTROL.size());
        assertResidualsEqual(canny.calls.get(0).residuals(), UNET_CONTROL.get(0));
        assertResidualsEqual(sum(canny.calls.get(1).residuals(), depth.calls.get(0).residuals()), UNET_CONTROL.get(1));
        assertResidualsEqual(depth.calls.get(1).residuals(), UNET_CONTROL.get(2));
        assertResidualsEqual(depth.calls.get(2).residuals(), UNET_CONTROL.get(3));
        // the CFG-doubled latents, the same picture in both halves, the 77 text tokens
        Call first = canny.calls.get(0);
        assertEquals(2, first.rows());
        assertEquals(77, first.contextTokens());
    }

    @Test
    void aControlOutsideItsWindowOrAtScaleZeroChangesNothing() {
        Control edges = new Control("canny", picture(Color.WHITE), 0.7, 0, 0.5, Map.of());
        float[] single = latents(request().control(edges).build());
        assertNull(UNET_CONTROL.get(2), "no control acts at step 2: the UNet gets no residuals");
        float[] withIdle = latents(request().control(edges)
                .control(new Control("depth", picture(Color.GRAY), 0, 0, 1, Map.of())).build());
        assertTrue(depth.calls.isEmpty(), "a control at scale 0 contributes exactly zero and is not run");
        assertArrayEquals(single, withIdle);
        float[] none = latents(request().build());
        float[] late = latents(request().control(new Control("canny", picture(Color.WHITE), 1, 0.9, 1, Map.of()))
                .steps(4).build());
        assertTrue(canny.calls.isEmpty(), "a window of [0.9, 1] holds no step of 4");
        assertArrayEquals(none, late);
        assertFalse(java.util.Arrays.equals(none, single));
    }

    @Test
    void theControlPictureHasARowPerImageAndGuidanceHalf() {
        Control edges = Control.of("canny", picture(Color.WHITE), 1);
        latents(request().steps(1).numImages(2).control(edges).build());
        assertEquals(4, canny.calls.get(0).rows(), "2 images x [uncond, cond]");
        latents(request().steps(1).guidanceScale(1).control(edges).build());
        assertEquals(1, canny.calls.get(0).rows(), "no guidance: one row");
    }

    @Test
    void eachControlSeesItsOwnContext() {
        latents(request().control(Control.fromRequestOptions("canny", picture(Color.WHITE), null, 1, 0, 1,
                Map.of("context", "full")))
                .subject(dev.montage.api.Subject.of(picture(Color.RED), "red.png", "cube",
                        new dev.montage.api.Box(0.2, 0.2, 0.8, 0.8)))
                .control(new Control("depth", picture(Color.GRAY), 1, 0, 1, Map.of())).build());
        assertEquals(77 + 4 + 4, canny.calls.get(0).contextTokens(), "full: text, dummy and subject tokens");
        assertEquals(77, depth.calls.get(0).contextTokens(), "text-only by default");
    }

    @Test
    void everyActingNetworkIsPreparedOnceBeforeItsFirstCallWithTheContextOfItsCalls() {
        latents(request().steps(3).control(Control.of("canny", picture(Color.WHITE), 1))
                .control(new Control("depth", picture(Color.GRAY), 1, 0.5, 1, Map.of())).build());
        assertEquals(List.of("prepare", "step 0", "step 1", "step 2"), UNET_EVENTS);
        assertEquals(List.of("prepare", "step 0", "step 1", "step 2"), canny.events);
        assertEquals(List.of("prepare", "step 2"), depth.events, "acting from step 2 of 3 on");
        latents(request().steps(3).control(Control.of("canny", picture(Color.WHITE), 1))
                .control(Control.of("depth", picture(Color.GRAY), 0)).build());
        assertEquals(List.of(), depth.events, "at scale 0 a control acts at no step");
    }

    @Test
    void anUnknownTypeOrOptionIsRefusedNamingIt() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipeline.generate(request()
                .control(Control.of("dpeth", picture(Color.WHITE), 1))
                .control(new Control("canny", picture(Color.WHITE), 1, 0, 1, Map.of("hihg", "9"))).build(),
                ProgressListener.NONE));
        assertEquals(List.of(new FieldError("controls[0].type", "no ControlNet serves 'dpeth'; did you mean depth? "
                + "(this pipeline has canny, depth; configure controlnet.dpeth, e.g. model=DIR in the control or "
                + "controlnets.dpeth in the profile)"), new FieldError("controls[1].options.hihg", "unknown option; "
                + "did you mean high? (expected an option of preprocessor 'canny': low, high, l2, input, resolution)")),
                e.errors());
    }

    @Test
    void aTypeWithoutPreprocessorTakesOnlyAReadyMadePicture() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        try (MontagePipeline misspelt = TestEngine.pipeline(registry, dir).controlTypes(List.of("cany")).build()) {
            InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> misspelt
                    .generate(request().control(new Control("cany", picture(Color.WHITE), 1, 0, 1,
                            Map.of("threshold", "40"))).control(Control.fromRequestOptions("cany", picture(Color.WHITE),
                            null, 1, 0, 1, Map.of("preprocess", "none", "threshold", "40"))).build(),
                            ProgressListener.NONE));
            assertEquals(List.of(new FieldError("controls[0].type", "unknown control type 'cany'; did you mean "
                    + "canny? (expected a type with an installed preprocessor: canny, depth, pose; preprocess=none "
                    + "gives a ready-made control picture to the 'cany' ControlNet as it is)"),
                    new FieldError("controls[1].options", "threshold: preprocess=none gives the picture to the "
                    + "ControlNet as it is, so it takes no preprocessor options")), e.errors());
            assertEquals(1, misspelt.generate(request().steps(1).control(Control.fromRequestOptions(
                    "cany", picture(Color.WHITE), null, 1, 0, 1, Map.of("preprocess", "none"))).build(),
                    ProgressListener.NONE).images().size());
        }
    }

    @Test
    void missingControlNetWeightsAreAnErrorNamingThem() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        Path missing = dir.resolve("no-such-controlnet");
        ProfileException e = assertThrows(ProfileException.class, () -> TestEngine.pipeline(registry, dir)
                .setting("models.controlnets.pose", missing).build());
        assertTrue(e.getMessage().contains("models.controlnets.pose") && e.getMessage().contains(missing.toString()),
                e.getMessage());
    }

    @Test
    void aTypeWithoutItsOwnFolderUsesTheGenericOneAndItsPreprocessor() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        BufferedImage edges = picture(Color.YELLOW);
        ConditionPreprocessor preprocessor = new ConditionPreprocessor() {
            @Override
            public String type() {
                return "seg";
            }

            @Override
            public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
                return edges;
            }
        };
        ControlImageRecorder listener = new ControlImageRecorder();
        try (MontagePipeline seg = TestEngine.pipeline(registry, dir).controlTypes(List.of("seg"))
                .preprocessor(preprocessor).build()) {
            var result = seg.generate(request().size(64, 48).steps(2)
                    .control(Control.of("seg", picture(Color.BLUE), 0.5)).build(), listener);
            assertEquals("sdxl-controlnet", result.parameters().get("component.conditioner.seg"));
            assertEquals(1, listener.images().size());
            assertEquals(64, listener.images().get(0).getWidth());
            assertEquals(48, listener.images().get(0).getHeight());
            // the preprocessor's 48x40 picture, resized to the output size
            assertEquals(0xFFFF00, listener.images().get(0).getRGB(20, 20) & 0xFFFFFF);
        }
    }

    @Test
    void memoryStaysFlatWithControls() {
        List<Integer> live = new ArrayList<>();
        ProgressListener count = (step, total, elapsed) -> {
            live.add(TestEngine.manager().getManagedArrays().size());
            return true;
        };
        int before = TestEngine.manager().getManagedArrays().size();
        clearRecords();
        canny.recording = false;
        depth.recording = false;
        try {
            pipeline.generate(request().steps(12).size(32, 32)
                    .control(new Control("canny", picture(Color.WHITE), 0.7, 0, 0.5, Map.of()))
                    .control(new Control("depth", picture(Color.GRAY), 0.4, 0.25, 1, Map.of())).build(), count);
        } finally {
            canny.recording = true;
            depth.recording = true;
        }
        assertEquals(12, live.size());
        assertEquals(1, live.subList(1, 12).stream().distinct().count(), live::toString);
        assertEquals(before, TestEngine.manager().getManagedArrays().size());
    }

    private static ControlResiduals sum(ControlResiduals a, ControlResiduals b) {
        List<NDArray> down = new ArrayList<>();
        for (int j = 0; j < a.down().size(); j++) {
            down.add(a.down().get(j).add(b.down().get(j)));
        }
        return new ControlResiduals(down, a.mid().add(b.mid()));
    }

    private static void assertResidualsEqual(ControlResiduals expected, ControlResiduals actual) {
        assertEquals(expected.down().size(), actual.down().size());
        for (int j = 0; j < expected.down().size(); j++) {
            assertArrayEquals(expected.down().get(j).toFloatArray(), actual.down().get(j).toFloatArray(), "down " + j);
        }
        assertArrayEquals(expected.mid().toFloatArray(), actual.mid().toFloatArray(), "mid");
    }

    private static ControlResiduals copy(ControlResiduals r) {
        if (r == null) {
            return null;
        }
        List<NDArray> down = new ArrayList<>();
        r.down().forEach(d -> down.add(keep(d)));
        return new ControlResiduals(down, keep(r.mid()));
    }

    private static NDArray keep(NDArray x) {
        NDArray c = x.duplicate();
        c.attach(records);
        return c;
    }

    /** One ControlNet call: step, scale, rows of the control image, context length, residuals returned. */
    private record Call(int step, float scale, long rows, long contextTokens, ControlResiduals residuals) {
    }

    /** The network under another type name, recording its calls. */
    private static final class Recorder implements Conditioner {
        private final String type;
        private final Conditioner network;
        final List<Call> calls = new ArrayList<>();
        final List<String> events = new ArrayList<>();
        private NDArray prepared;
        volatile boolean recording = true;

        Recorder(String type, Conditioner network) {
            this.type = type;
            this.network = network;
        }

        @Override
        public String type() {
            return type;
        }

        @Override
        public void prepare(EncoderContext context, GenerationContext ctx) {
            prepared = context.text();
            events.add("prepare");
            network.prepare(context, ctx);
        }

        @Override
        public ControlResiduals residuals(NDManager manager, DenoisingInput input, NDArray image, float scale,
                GenerationContext ctx) {
            events.add(stepEvent(ctx, input, prepared));
            ControlResiduals r = network.residuals(manager, input, image, scale, ctx);
            if (recording) {
                calls.add(new Call(ctx.step(), scale, image.getShape().get(0), input.context().text().getShape().get(1),
                        copy(r)));
            }
            return r;
        }

        List<String> labels() {
            return calls.stream().map(c -> c.step() + "@" + c.scale()).toList();
        }
    }

    /** The SDXL UNet, recording the control residuals it receives at every step. */
    public static final class RecordingUNetFactory implements ComponentFactory<DenoisingModel> {
        @Override
        public ComponentKind kind() {
            return ComponentKind.DENOISING_MODEL;
        }

        @Override
        public String id() {
            return "recording-unet";
        }

        @Override
        public DenoisingModel create(ComponentContext context) {
            DenoisingModel unet = new SdxlUNetFactory().create(context);
            return new RecordingUNet(unet);
        }
    }

    private static String stepEvent(GenerationContext ctx, DenoisingInput input, NDArray prepared) {
        return "step " + ctx.step() + (input.context().text() == prepared ? "" : " with another context");
    }

    private record RecordingUNet(DenoisingModel unet) implements ForwardingDenoisingModel, AutoCloseable {
        private static final GenerationContext.Key<NDArray> PREPARED = GenerationContext.Key.of("test.prepared",
                NDArray.class);

        @Override
        public DenoisingModel delegate() {
            return unet;
        }

        @Override
        public void prepare(EncoderContext context, GenerationContext ctx) {
            UNET_EVENTS.add("prepare");
            ctx.put(PREPARED, context.text());
            unet.prepare(context, ctx);
        }

        @Override
        public NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
            UNET_EVENTS.add(stepEvent(ctx, input, ctx.get(PREPARED)));
            if (canny.recording) {
                UNET_CONTROL.add(copy(input.control()));
            }
            return unet.predictNoise(manager, input, ctx);
        }

        @Override
        public void close() {
            try {
                ((AutoCloseable) unet).close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the UNet", e);
            }
        }
    }
}
