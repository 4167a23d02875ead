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
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Whole generations through the assembled pipeline against the official implementation's runs: final latents
 * (1e-3) and the saved image (±1 level), starting from the case's own noise.
 */
class PipelineGoldenTest {

    @ParameterizedTest
    @CsvSource({"single_subject_euler, euler", "two_subjects_ddim, ddim", "plain_sdxl_euler, euler"})
    void wholeGeneration(String name, String scheduler) throws IOException {
        MontagePipeline.Builder builder = TestEngine.pipeline(ComponentRegistry.fromClasspath(
                getClass().getClassLoader()), Golden.model());
        if (!hasSubjects(name)) {
            builder.withoutSubjects();
        }
        try (GoldenTensors golden = GoldenTensors.open(name); MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            GenerationResult result = pipeline.generate(request(name, scheduler, golden), ProgressListener.NONE,
                    latents);
            golden.assertClose("final_latents", latents[0].values(), 1e-3);
            BufferedImage expected = ImageIO.read(Golden.caseDir(name).resolve("image_0.png").toFile());
            assertEquals(1, result.images().size());
            int worst = maxLevelDifference(expected, result.images().get(0));
            System.out.printf("golden %s/image_0.png: max level difference %d%n", name, worst);
            assertTrue(worst <= 1, name + ": image differs by " + worst + " levels");
        }
    }

    private static JsonNode parameters(String name) throws IOException {
        return new ObjectMapper().readTree(Golden.caseDir(name).resolve(name + ".json").toFile());
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
                .negativePrompt(json.get("negative_prompt_used").asText())
                .size(json.get("width").asInt(), json.get("height").asInt())
                .steps(json.get("steps").asInt())
                .guidanceScale(json.get("guidance_scale").asDouble())
                .scheduler(scheduler)
                .initLatents(new Latents(golden.shape("init_latents"), golden.floats("init_latents")));
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
