package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.Box;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.SafetensorsReader;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Whole generations through the assembled pipeline, and the few-step case also through the command line, against
 * the official implementation's runs: final latents (within the case's tolerance) and the saved image (±1 level),
 * starting from the case's own noise, with the scheduler settings the case laid over the model's file given as
 * profile options.
 */
class PipelineGoldenTest {

    @ParameterizedTest
    @CsvSource({"single_subject_euler, euler", "two_subjects_ddim, ddim", "plain_sdxl_euler, euler",
        "fewstep_euler_trailing, euler"})
    void wholeGeneration(String name, String scheduler) throws IOException {
        MontagePipeline.Builder builder = TestEngine.pipeline(ComponentRegistry.fromClasspath(
                getClass().getClassLoader()), Golden.model());
        if (!hasSubjects(name)) {
            builder.withoutSubjects();
        }
        schedulerOptions(name).forEach((key, value) -> builder.setting(key, value, "golden case " + name));
        try (GoldenTensors golden = GoldenTensors.open(name); MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            GenerationResult result = pipeline.generate(request(name, scheduler, golden), ProgressListener.NONE,
                    latents);
            golden.assertClose("final_latents", latents[0].values(), golden.tolerance("final_latents"));
            BufferedImage expected = ImageIO.read(Golden.caseDir(name).resolve("image_0.png").toFile());
            assertEquals(1, result.images().size());
            assertImageMatches(name + "/image_0.png", expected, result.images().get(0));
            assertEquals(TestEngine.testDType().configName(), result.parameters().get("compute_dtype"),
                    "the generation ran in the tests' dtype");
        }
    }

    /**
     * The few-step case through {@code montage generate}, its spacing given as {@code --set
     * options.scheduler.timestep_spacing=trailing}: the latents it saves and the image it writes.
     */
    @Test
    void fewStepGenerationThroughTheCommandLine(@TempDir Path dir) throws IOException {
        String name = "fewstep_euler_trailing";
        JsonNode json = parameters(name);
        Path latentsFile = dir.resolve("latents.safetensors");
        List<String> args = new ArrayList<>(List.of("generate", "--model", Golden.model().toString(),
                "--device", TestEngine.testDevice(), "--dtype", TestEngine.testDType().configName(),
                "-p", json.get("prompt").asText(),
                "--width", json.get("width").asText(), "--height", json.get("height").asText(),
                "--steps", json.get("steps").asText(), "--guidance", json.get("guidance_scale").asText(),
                "--scheduler", "euler", "--init-latents",
                Golden.caseDir(name).resolve(name + ".safetensors") + ":init_latents",
                "--save-latents", latentsFile.toString(), "-o", dir.resolve("out").toString()));
        schedulerOptions(name).forEach((key, value) -> args.addAll(List.of("--set", key + "=" + value)));
        CommandRun run = CommandRun.montage(args.toArray(String[]::new));
        assertEquals(0, run.code(), run::toString);
        try (GoldenTensors golden = GoldenTensors.open(name);
                SafetensorsReader saved = SafetensorsReader.open(latentsFile)) {
            golden.assertClose("final_latents", saved.tensor("latents").toFloatArray(),
                    golden.tolerance("final_latents"));
        }
        BufferedImage expected = ImageIO.read(Golden.caseDir(name).resolve("image_0.png").toFile());
        assertImageMatches(name + "/image_0.png through montage generate", expected,
                ImageIO.read(Path.of(run.out().strip()).toFile()));
    }

    private static JsonNode parameters(String name) throws IOException {
        return new ObjectMapper().readTree(Golden.caseDir(name).resolve(name + ".json").toFile());
    }

    /**
     * The scheduler settings a case gave {@code from_config} over the model's file, as profile keys
     * ({@code options.scheduler.timestep_spacing}, ...).
     */
    static Map<String, String> schedulerOptions(String name) throws IOException {
        Map<String, String> options = new LinkedHashMap<>();
        parameters(name).path("scheduler_from_config_overrides").fields().forEachRemaining(
                e -> options.put("options.scheduler." + e.getKey(), e.getValue().asText()));
        return options;
    }

    /** Whether a case is an MS-Diffusion run (with subjects) rather than plain SDXL. */
    static boolean hasSubjects(String name) throws IOException {
        return parameters(name).has("phrases");
    }

    /** The request a golden case ran, starting from its own noise. */
    static GenerationRequest request(String name, String scheduler, GoldenTensors golden) throws IOException {
        Path dir = Golden.caseDir(name);
        JsonNode json = parameters(name);
        GenerationRequest.Builder b = GenerationRequest.builder(json.get("prompt").asText())
                .size(json.get("width").asInt(), json.get("height").asInt())
                .steps(json.get("steps").asInt())
                .guidanceScale(json.get("guidance_scale").asDouble())
                .scheduler(scheduler)
                .initLatents(new Latents(golden.shape("init_latents"), golden.floats("init_latents")));
        // without guidance the official pipeline encodes no negative prompt and the case names none
        if (json.path("negative_prompt_used").isTextual()) {
            b.negativePrompt(json.get("negative_prompt_used").asText());
        }
        if (json.has("phrases")) {
            b.imageScale(json.get("scale").asDouble());
            for (int i = 0; i < json.get("phrases").size(); i++) {
                JsonNode box = json.get("boxes").get(i);
                BufferedImage picture = ImageIO.read(dir.resolve("subject_" + i + ".png").toFile());
                b.subject(Subject.of(picture, "subject_" + i + ".png", json.get("phrases").get(i).asText(),
                        new Box(box.get(0).asDouble(), box.get(1).asDouble(), box.get(2).asDouble(),
                                box.get(3).asDouble())));
            }
        }
        return b.build();
    }

    /**
     * Asserts that an image differs from the golden one by at most {@link TestEngine#imageLevels()} levels in any
     * channel of any pixel.
     */
    static void assertImageMatches(String what, BufferedImage expected, BufferedImage actual) {
        int worst = maxLevelDifference(expected, actual);
        int bound = TestEngine.imageLevels();
        System.out.printf("golden %s: max level difference %d (bound %d)%n", what, worst, bound);
        assertTrue(worst <= bound, what + ": image differs by " + worst + " levels, more than " + bound);
    }

    static int maxLevelDifference(BufferedImage a, BufferedImage b) {
        assertEquals(a.getWidth(), b.getWidth());
        assertEquals(a.getHeight(), b.getHeight());
        int worst = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) {
                    worst = Math.max(worst, Math.abs(((p >> shift) & 0xFF) - ((q >> shift) & 0xFF)));
                }
            }
        }
        return worst;
    }
}
