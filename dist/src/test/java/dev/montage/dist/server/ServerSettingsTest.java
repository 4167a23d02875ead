package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerSettingsTest {
    @Test
    void defaultsKeepTheServerOnLoopback() {
        ServerSettings s = ServerSettings.builder().build();
        assertEquals("127.0.0.1", s.host());
        assertEquals(1, s.concurrency());
        assertEquals(Optional.empty(), s.authToken());
        assertEquals(s, s.toBuilder().build());
    }

    @Test
    void everyBadSettingIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerSettings.builder()
                .port(70000).queueSize(0).concurrency(-1).maxSteps(0).authToken(" ")
                .shutdownGrace(Duration.ofSeconds(-1)).build());
        for (String name : new String[] {"port", "queueSize", "concurrency", "maxSteps", "authToken",
            "shutdownGrace"}) {
            assertTrue(e.getMessage().contains(name + " must"), name + " in " + e.getMessage());
        }
    }

    @Test
    void theBuiltInDefaultsAndTheShippedServerProfileAreTheseSettingsDefaults() {
        assertEquals(ServerSettings.builder().build(), ServerSettings.fromProfile(section(), Map.of()));
        assertEquals(ServerSettings.builder().build(), ServerSettings.fromProfile(section("server"), Map.of()));
    }

    @Test
    void theTokenComesFromTheFileOrTheVariableTheProfileNamesAndNothingPrintsIt(@TempDir Path dir)
            throws IOException {
        ServerSettings fromEnv = ServerSettings.fromProfile(section(), Map.of(ServerSettings.TOKEN_ENV, "from-env"));
        assertEquals(Optional.of("from-env"), fromEnv.authToken());
        assertFalse(fromEnv.toString().contains("from-env"), fromEnv.toString());
        assertTrue(fromEnv.toString().contains("auth=bearer token"));

        Path named = Files.writeString(dir.resolve("named.yaml"), "server: {auth_token_env: MY_TOKEN}\n");
        assertEquals(Optional.of("mine"), ServerSettings.fromProfile(section(named.toString()),
                Map.of("MY_TOKEN", "mine", ServerSettings.TOKEN_ENV, "other")).authToken());
        IllegalArgumentException unset = assertThrows(IllegalArgumentException.class,
                () -> ServerSettings.fromProfile(section(named.toString()), Map.of(ServerSettings.TOKEN_ENV, "x")));
        assertEquals("server.auth_token_env: the environment variable MY_TOKEN is not set; expected the bearer "
                + "token clients must send", unset.getMessage());

        Path token = Files.writeString(dir.resolve("token"), "from-file\n");
        Path inFile = Files.writeString(dir.resolve("file.yaml"), "server: {auth_token_file: " + token + "}\n");
        assertEquals(Optional.of("from-file"), ServerSettings.fromProfile(section(inFile.toString()),
                Map.of(ServerSettings.TOKEN_ENV, "from-env")).authToken());
    }

    private static ServerSection section(String... profiles) {
        ClassLoader loader = ServerSettingsTest.class.getClassLoader();
        return new ProfileResolver(ProfileCatalog.classpath(loader), ComponentRegistry.fromClasspath(loader))
                .section(ServerSection.PROFILE).resolve(List.of(profiles)).section(ServerSection.PROFILE);
    }
}
