package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.config.ProfileProblem;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The profile's server section: its keys and values are checked with the profile, each problem naming its source. */
class ServerSectionTest {
    private static final ClassLoader LOADER = ServerSectionTest.class.getClassLoader();
    private static final ComponentRegistry REGISTRY = ComponentRegistry.fromClasspath(LOADER);

    @TempDir
    Path dir;

    private static ProfileResolver resolver() {
        return new ProfileResolver(ProfileCatalog.classpath(LOADER), REGISTRY).section(ServerSection.PROFILE);
    }

    private String file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text).toString();
    }

    private static List<ProfileProblem> problems(ProfileResolver resolver, String... profiles) {
        return assertThrows(ProfileException.class, () -> resolver.resolve(List.of(profiles))).problems();
    }

    @Test
    void badPortConcurrencyAndTokenVariable() throws IOException {
        String bad = file("bad.yaml", "engine: {device: gpu}\nserver: {port: 70000, concurrency: 0, auth_token_env: "
                + "\"MY TOKEN\"}\n");
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of("engine.device", "server.port", "server.concurrency", "server.auth_token_env"),
                p.stream().map(ProfileProblem::key).toList());
        assertEquals(new ProfileProblem(bad + ":2", "server.port", "expected a TCP port from 0 (any free one) to "
                + "65535, got 70000"), p.get(1));
        assertEquals("expected the name of an environment variable (letters, digits, '_'), got 'MY TOKEN'",
                p.get(3).message());
    }

    @Test
    void limitsAndTokenSources() throws IOException {
        String bad = file("limits.yaml", "server:\n  max_steps: 0\n  shutdown_grace_seconds: -1\n"
                + "  auth_token_env: MY_TOKEN\n  auth_token_file: " + dir.resolve("no-token") + "\n");
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of("server.max_steps", "server.shutdown_grace_seconds", "server.auth_token_file",
                "server.auth_token_file"), p.stream().map(ProfileProblem::key).toList());
        assertEquals(new ProfileProblem(bad + ":2", "server.max_steps", "expected 1 or more steps, got 0"), p.get(0));
        assertEquals("set either server.auth_token_file or server.auth_token_env, not both", p.get(2).message());
        assertEquals(dir.resolve("no-token") + " does not exist; expected a file holding the bearer token",
                p.get(3).message());
    }

    @Test
    void theLoraFolderMustBeAFolderAndOneSetOfLorasMustFit() throws IOException {
        String bad = file("loras.yaml", "server:\n  lora_dir: " + dir.resolve("no-loras") + "\n  max_loras: -1\n"
                + "  lora_variants: 0\n");
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of(
                new ProfileProblem(bad + ":2", "server.lora_dir", dir.resolve("no-loras") + " does not exist; expected "
                        + "a folder of LoRA files (.safetensors)"),
                new ProfileProblem(bad + ":3", "server.max_loras", "expected 0 or more LoRAs, got -1"),
                new ProfileProblem(bad + ":4", "server.lora_variants", "expected 1 or more sets of LoRAs, got 0")), p);
    }

    @Test
    void unknownKeysAndWrongTypesFromFilesVariablesAndFlags() throws IOException {
        String bad = file("keys.yaml", "server:\n  queue_sise: 3\n  port: eighty\n");
        ProfileResolver r = resolver().environment(Map.of("MONTAGE_SERVER_CONCURRENCY", "two",
                "MONTAGE_SERVER_PROT", "80")).set("server.max_step", 3, "command line --set");
        assertEquals(List.of(
                new ProfileProblem("environment variable MONTAGE_SERVER_PROT", "server.prot", "unknown key; did you "
                        + "mean MONTAGE_SERVER_PORT? (expected one of " + String.join(", ", variables()) + ")"),
                new ProfileProblem("command line --set", "server.max_step", "unknown key; did you mean "
                        + "server.max_steps? (expected a dotted key such as engine.device or defaults.steps)"),
                new ProfileProblem(bad + ":2", "server.queue_sise", "unknown key; did you mean server.queue_size? "
                        + "(expected the keys of server: " + String.join(", ", keys()) + ")"),
                new ProfileProblem(bad + ":3", "server.port", "expected an integer, got the text 'eighty'"),
                new ProfileProblem("environment variable MONTAGE_SERVER_CONCURRENCY", "server.concurrency",
                        "expected an integer, got the text 'two'")), problems(r, bad));
    }

    @Test
    void relativePathsAreTakenFromTheProfileFilesFolder() throws IOException {
        Path token = Files.writeString(dir.resolve("token"), "secret\n");
        String profile = file("mine.yaml", "server:\n  output_dir: ~/montage-images\n  auth_token_file: token\n");
        ServerSection s = resolver().resolve(List.of(profile)).section(ServerSection.PROFILE);
        assertEquals(Optional.of(Path.of(System.getProperty("user.home"), "montage-images")), s.outputDir());
        assertEquals(Optional.of(token), s.authTokenFile());
    }

    private static List<String> keys() {
        return List.of("host", "port", "queue_size", "concurrency", "output_dir", "max_body_bytes", "max_image_bytes",
                "max_image_pixels", "max_width", "max_height", "max_steps", "max_images", "max_output_pixels",
                "max_subjects", "max_controls", "max_request_pixels", "max_finished_jobs", "max_event_streams",
                "max_preview_requests", "shutdown_grace_seconds", "auth_token_env", "auth_token_file", "lora_dir",
                "max_loras", "lora_variants", "preview_every");
    }

    private static List<String> variables() {
        return keys().stream().map(k -> ProfileResolver.environmentVariable("server." + k)).toList();
    }
}
