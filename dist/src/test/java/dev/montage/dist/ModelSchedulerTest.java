package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model's {@code scheduler/scheduler_config.json} names its scheduler class, which diffusers' {@code from_pretrained}
 * creates: where no profile layer names a scheduler, the installed one porting that class is the default.
 */
class ModelSchedulerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** The tiny model's folders, linked, with its scheduler file naming {@code className}. */
    private Path modelWithScheduler(String className) throws IOException {
        Path model = dir.resolve(className);
        Files.createDirectories(model.resolve("scheduler"));
        try (Stream<Path> entries = Files.list(TinyModel.folder())) {
            for (Path e : entries.filter(e -> !e.getFileName().toString().equals("scheduler")).toList()) {
                Files.createSymbolicLink(model.resolve(e.getFileName()), e.toAbsolutePath());
            }
        }
        ObjectNode config = (ObjectNode) JSON.readTree(TinyModel.folder().resolve("scheduler/scheduler_config.json")
                .toFile());
        config.put("_class_name", className);
        JSON.writeValue(model.resolve("scheduler/scheduler_config.json").toFile(), config);
        return model;
    }

    @Test
    void aModelsSchedulerClassIsItsDefaultWhereNoProfileNamesOne() throws IOException {
        Map<String, String> byClass = Map.ofEntries(Map.entry("UniPCMultistepScheduler", "unipc"),
                Map.entry("DDIMScheduler", "ddim"), Map.entry("LCMScheduler", "lcm"),
                Map.entry("EulerAncestralDiscreteScheduler", "euler-ancestral"),
                Map.entry("DPMSolverMultistepScheduler", "dpmpp-2m"), Map.entry("EulerDiscreteScheduler", "euler"),
                Map.entry("HeunDiscreteScheduler", "heun"), Map.entry("KDPM2DiscreteScheduler", "dpm2"),
                Map.entry("KDPM2AncestralDiscreteScheduler", "dpm2-ancestral"),
                Map.entry("LMSDiscreteScheduler", "lms"), Map.entry("DPMSolverSDEScheduler", "dpmpp-sde"));
        for (Map.Entry<String, String> e : byClass.entrySet()) {
            Path model = modelWithScheduler(e.getKey());
            ResolvedProfile resolved = TestEngine.pipeline(TinyModel.registry(), model).validate();
            assertEquals(e.getValue(), resolved.profile().defaults().scheduler(), e.getKey());
            String origin = resolved.origin("defaults.scheduler");
            assertEquals(e.getValue().equals("euler") ? ProfileResolver.DEFAULTS_SOURCE
                    : model.resolve("scheduler/scheduler_config.json") + " (_class_name " + e.getKey() + ")", origin);
        }
    }

    @Test
    void aSchedulerTheProfileNamesOrAClassNoneOfTheInstalledPortsKeepsTheDefault() throws IOException {
        Path uniPc = modelWithScheduler("UniPCMultistepScheduler");
        assertEquals("ddim", TestEngine.pipeline(TinyModel.registry(), uniPc).setting("defaults.scheduler", "ddim")
                .validate().profile().defaults().scheduler(), "a profile's scheduler wins over the model's");
        for (String unknown : List.of("PNDMScheduler", "")) {
            Path model = modelWithScheduler(unknown);
            ResolvedProfile resolved = TestEngine.pipeline(TinyModel.registry(), model).validate();
            assertEquals("euler", resolved.profile().defaults().scheduler(), "'" + unknown + "' is none of the "
                    + "installed schedulers");
            assertEquals(unknown.isEmpty() ? ProfileResolver.DEFAULTS_SOURCE : ProfileResolver.DEFAULTS_SOURCE + "; "
                    + model.resolve("scheduler/scheduler_config.json") + " names PNDMScheduler, which no "
                    + "installed scheduler ports; euler runs instead unless defaults.scheduler or a request names "
                    + "another", resolved.origin("defaults.scheduler"), "a class none ports is said");
        }
    }

    /** A built pipeline runs the model's scheduler for a request that names none, and records it. */
    @Test
    void aRequestNamingNoSchedulerRunsTheModels() throws IOException {
        try (MontagePipeline pipeline = TestEngine.pipeline(TinyModel.registry(),
                modelWithScheduler("UniPCMultistepScheduler")).build()) {
            assertEquals("unipc", pipeline.defaultSchedulerId());
            assertEquals("unipc", pipeline.generate(GenerationRequest.builder("a dog").size(32, 32).steps(3)
                    .guidanceScale(1).seed(1).build(), ProgressListener.NONE).parameters().get("scheduler"));
            assertTrue(pipeline.profile().describe().contains("(_class_name UniPCMultistepScheduler)"),
                    pipeline.profile().describe());
        }
    }
}
