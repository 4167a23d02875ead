package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

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
    void theEnvironmentSetsTheTokenAndNothingPrintsIt() {
        ServerSettings plain = ServerSettings.builder().authToken("from-profile").build();
        ServerSettings fromEnv = plain.withEnvironment(Map.of(ServerSettings.TOKEN_ENV, "from-env"));
        assertEquals(Optional.of("from-env"), fromEnv.authToken());
        assertSame(plain, plain.withEnvironment(Map.of()));
        assertFalse(fromEnv.toString().contains("from-env"), fromEnv.toString());
        assertTrue(fromEnv.toString().contains("auth=bearer token"));
    }
}
