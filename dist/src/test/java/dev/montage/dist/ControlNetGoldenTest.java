package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.ControlNetContext;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.plugins.unet.SdxlControlNet;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ControlNet case {@code controlnet_text_only} through the assembled pipeline: the whole generation (final
 * latents 1e-3, image ±1 level) with the golden ControlNet as {@code models.controlnets.canny} and the case's control
 * image taken as it is ({@code preprocess=none}); and the full-context mode, which must differ from it and give the
 * residuals of the network run by hand on the full 77 + K token context.
 */
class ControlNetGoldenTest {
    private static final String CASE = "controlnet_text_only";
    private static JsonNode json;
    private static GoldenTensors golden;
    private static BufferedImage controlImage;

    @BeforeAll
    static void open() throws IOException {
        Path dir = Golden.caseDir(CASE);
        json = new ObjectMapper().readTree(dir.resolve(CASE + ".json").toFile());
        golden = GoldenTensors.open(CASE);
        controlImage = ImageIO.read(dir.resolve("control_image.png").toFile());
    }

    @AfterAll
    static void close() {
        if (golden != null) {
            golden.close();
        }
    }

    private static GenerationRequest request(Map<String, String> controlOptions) throws IOException {
        Path dir = Golden.caseDir(CASE);
        GenerationRequest.Builder b = GenerationRequest.builder(json.get("prompt").asText())
                .negativePrompt(json.get("negative_prompt_used").asText())
                .size(json.get("width").asInt(), json.get("height").asInt())
                .steps(json.get("steps").asInt())
                .guidanceScale(json.get("guidance_scale").asDouble())
                .imageScale(json.get("scale").asDouble())
                .scheduler("euler")
                .initLatents(new Latents(golden.shape("init_latents"), golden.floats("init_latents")));
        JsonNode box = json.get("boxes").get(0);
        b.subject(Subject.of(ImageIO.read(dir.resolve("subject_0.png").toFile()), "subject_0.png",
                json.get("phrases").get(0).asText(), new Box(box.get(0).asDouble(), box.get(1).asDouble(),
                        box.get(2).asDouble(), box.get(3).asDouble())));
        JsonNode cn = json.get("controlnets").get(0);
        b.control(Control.fromRequestOptions("canny", controlImage, null, cn.get("conditioning_scale").asDouble(),
                cn.get("control_guidance_start").asDouble(), cn.get("control_guidance_end").asDouble(),
                controlOptions));
        return b.build();
    }

    private static MontagePipeline.Builder builder() {
        Path model = Golden.model();
        return TestEngine.pipeline(ComponentRegistry.fromClasspath(ControlNetGoldenTest.class.getClassLoader()), model)
                .setting("models.controlnets.canny", model.resolve("controlnet"));
    }

    @Test
    void textOnlyWholeGenerationMatches() throws IOException {
        List<BufferedImage> seen = new ArrayList<>();
        ProgressListener listener = new ProgressListener() {
            @Override
            public boolean onStep(int step, int total, java.time.Duration elapsed) {
                return true;
            }

            @Override
            public void onControlImage(int index, Control control, BufferedImage image) {
                seen.add(image);
            }
        };
        try (MontagePipeline pipeline = builder().build()) {
            Latents[] latents = new Latents[1];
            GenerationResult result = pipeline.generate(request(Map.of("preprocess", "none")), listener, latents);
            golden.assertClose("final_latents", latents[0].values(), 1e-3);
            PipelineGoldenTest.assertImageMatches(CASE + "/image_0.png",
                    ImageIO.read(Golden.caseDir(CASE).resolve("image_0.png").toFile()), result.images().get(0));
            assertEquals(1, seen.size());
            assertEquals(0, PipelineGoldenTest.maxLevelDifference(controlImage, seen.get(0)),
                    "the control image goes to the ControlNet unchanged");
            assertEquals("type=canny,scale=0.8,start=0.0,end=1.0,context=text-only,preprocess=none",
                    result.parameters().get("control.0"));
            assertEquals("sdxl-controlnet", result.parameters().get("component.conditioner.canny"));
        }
    }

    @Test
    void aControlNetFileInEitherLayoutGivesTheFoldersGenerationBitForBit(@TempDir Path dir) throws IOException {
        Map<String, String> options = Map.of("preprocess", "none");
        float[] folder = finalLatents(builder(), options);
        golden.assertClose("final_latents", folder, 1e-3);
        for (Path file : List.of(ControlNetFiles.diffusers(dir.resolve("controlnet-canny-sdxl.safetensors")),
                ControlNetFiles.original(dir.resolve("control-canny-sdxl.safetensors"), "control_model.", n -> false))) {
            float[] fromFile = finalLatents(TestEngine.pipeline(ComponentRegistry.fromClasspath(
                    ControlNetGoldenTest.class.getClassLoader()), Golden.model())
                    .setting("models.controlnets.canny", file), options);
            assertArrayEquals(folder, fromFile, file.getFileName() + " gives another generation than the folder");
        }
    }

    @Test
    void keepFlagsAndScalesPerStepAreTheReferences() throws IOException {
        Control control = request(Map.of()).controls().get(0);
        int steps = json.get("steps").asInt();
        float[] keep = new float[steps];
        float[] scale = new float[steps];
        for (int i = 0; i < steps; i++) {
            keep[i] = control.activeAt(i, steps) ? 1 : 0;
            scale[i] = (float) (control.conditioningScale() * keep[i]);
        }
        golden.assertClose("controlnet.keep", keep, 0);
        golden.assertClose("controlnet.cond_scale", scale, 0);
    }

    @Test
    void fullContextDiffersAndMatchesTheNetworkOnTheWholeContext() throws IOException {
        SdxlControlNet network = SdxlControlNet.load("canny",
                TestEngine.folder(Golden.model().resolve("controlnet")), TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype());
        try (NDManager m = TestEngine.manager().newSubManager(); network) {
            Recording recording = new Recording(network, m);
            float[] textOnly = finalLatents(builder().conditioner(recording), Map.of("preprocess", "none"));
            long textTokens = recording.contextTokens;
            ControlResiduals textOnlyResiduals = recording.first;

            Recording full = new Recording(network, m);
            float[] viaOption = finalLatents(builder().conditioner(full),
                    Map.of("preprocess", "none", "context", "full"));
            float[] viaDefault = finalLatents(builder().conditioner(new Recording(network, m))
                    .controlNetContext(ControlNetContext.FULL), Map.of("preprocess", "none"));
            assertEquals(77, textTokens);
            assertEquals(85, full.contextTokens, "77 text tokens + 4 dummy + 4 subject tokens");
            assertArrayEquals(viaOption, viaDefault, "the request's option and the pipeline default agree");

            double change = GoldenTensors.maxAbsDiff(textOnly, viaOption);
            System.out.printf("full vs text-only ControlNet context: final latents differ by %.3g%n", change);
            assertTrue(change > 1e-3, "the full context changes the result beyond the latents' tolerance");

            // by hand: the network on the reference's whole [uncond; cond] context of step 0
            NDArray context = m.create(golden.floats("uncond_embeds_full"), new Shape(golden.shape("uncond_embeds_full")))
                    .concat(m.create(golden.floats("cond_embeds_full"), new Shape(golden.shape("cond_embeds_full"))), 0);
            DenoisingInput input = new DenoisingInput(array(m, "step0.latent_model_input"),
                    golden.floats("step0.timestep")[0], EncoderContext.text(context), array(m, "add_text_embeds"), array(m, "add_time_ids"),
                    null);
            ControlResiduals manual = network.residuals(m, input, array(m, "controlnet.cond_image"), 0.8f,
                    new GenerationContext(request(Map.of())));
            double fullError = 0;
            double fromTextOnly = 0;
            for (int j = 0; j < manual.down().size(); j++) {
                fullError = Math.max(fullError, diff(manual.down().get(j), full.first.down().get(j)));
                fromTextOnly = Math.max(fromTextOnly, diff(manual.down().get(j), textOnlyResiduals.down().get(j)));
                golden.assertClose("step0.controlnet.down." + j, textOnlyResiduals.down().get(j), 1e-4);
            }
            fullError = Math.max(fullError, diff(manual.mid(), full.first.mid()));
            golden.assertClose("step0.controlnet.mid", textOnlyResiduals.mid(), 1e-4);
            System.out.printf("full-context step-0 residuals: pipeline vs by hand %.3g, text-only vs by hand %.3g%n",
                    fullError, fromTextOnly);
            assertTrue(fullError <= 1e-4, "pipeline's full-context residuals differ from the manual ones by "
                    + fullError);
            assertTrue(fromTextOnly > 1e-4, "text-only residuals must differ from full-context ones");
        }
    }

    private static float[] finalLatents(MontagePipeline.Builder builder, Map<String, String> options)
            throws IOException {
        try (MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            pipeline.generate(request(options), ProgressListener.NONE, latents);
            return latents[0].values();
        }
    }

    private static NDArray array(NDManager m, String name) {
        return m.create(golden.floats(name), new Shape(golden.shape(name)));
    }

    private static double diff(NDArray a, NDArray b) {
        return GoldenTensors.maxAbsDiff(a.toFloatArray(), b.toFloatArray());
    }

    /** The network, keeping a copy of its first call's residuals and the context length it saw. */
    private static final class Recording implements Conditioner {
        private final Conditioner delegate;
        private final NDManager keep;
        ControlResiduals first;
        long contextTokens;

        Recording(Conditioner delegate, NDManager keep) {
            this.delegate = delegate;
            this.keep = keep;
        }

        @Override
        public String type() {
            return delegate.type();
        }

        @Override
        public ControlResiduals residuals(NDManager manager, DenoisingInput input, NDArray image, float scale,
                GenerationContext ctx) {
            ControlResiduals r = delegate.residuals(manager, input, image, scale, ctx);
            if (first == null) {
                contextTokens = input.context().text().getShape().get(1);
                List<NDArray> down = new ArrayList<>();
                r.down().forEach(d -> down.add(copy(d)));
                first = new ControlResiduals(down, copy(r.mid()));
            }
            return r;
        }

        private NDArray copy(NDArray x) {
            NDArray c = x.duplicate();
            c.attach(keep);
            return c;
        }
    }
}
