package dev.montage.runtime.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Fuzzer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutated YAML and JSON profiles: each resolves, or is refused with a {@link ProfileException}, quickly. */
class ProfileFuzzTest {
    private static final String PROFILE = """
            engine:
              device: cpu
              dtype: float32
              threads: 2
            models:
              base: /models/sdxl
              variant: fp16
              controlnets: {canny: /models/canny, pose: /models/pose}
            components:
              attention:
                cross: ms-diffusion
                layers: {"mid_block\\\\..*attn2": text-only}
            defaults: {width: 512, height: 512, steps: 20, guidance: 5.0, negative_prompt: "blurry, 'low'"}
            options:
              scheduler: {timestep_spacing: trailing, steps_offset: 1}
            pipeline: {release_encoders: false, release_denoiser: true}
            """;
    private static final String JSON_PROFILE = """
            {"engine": {"device": "cpu"}, "defaults": {"steps": 4, "scheduler": "euler"},
             "options": {"decoder": {"upcast": "always"}}, "pipeline": {"release_encoders": true}}
            """;

    @TempDir
    Path dir;

    @Test
    void yamlProfiles() throws IOException {
        byte[] defaults;
        try (InputStream in = ProfileResolver.class.getResourceAsStream("defaults.yaml")) {
            defaults = in.readAllBytes();
        }
        fuzz("profile-yaml", 0x9A41, dir.resolve("p.yaml"), List.of(PROFILE.getBytes(StandardCharsets.UTF_8),
                defaults));
    }

    @Test
    void jsonProfiles() throws IOException {
        fuzz("profile-json", 0x150F, dir.resolve("p.json"), List.of(JSON_PROFILE.getBytes(StandardCharsets.UTF_8)));
    }

    private static void fuzz(String name, long seed, Path file, List<byte[]> seeds) {
        ProfileResolver resolver = new ProfileResolver(ProfileCatalog.classpath(ProfileFuzzTest.class.getClassLoader()),
                FakeModels.registry());
        int ran = new Fuzzer(name, seed, seeds).run(3000, Duration.ofSeconds(6), bytes -> {
            Files.write(file, bytes);
            resolver.resolve(List.of(file.toString()));
        }, ProfileException.class);
        assertTrue(ran > 100, "ran " + ran);
    }
}
