package dev.montage.runtime.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code server}: the headless HTTP server.
 *
 * @param host         interface to listen on ({@code 127.0.0.1} keeps it on this machine)
 * @param port         TCP port, 0 for any free one
 * @param queueSize    requests waiting beyond the running ones before new ones are refused
 * @param concurrency  generations running at once
 * @param outputDir    where generated images are kept; empty for the server's own choice
 * @param authTokenEnv name of the environment variable holding the bearer token clients must send; empty for no
 *                     authentication
 */
public record ServerSettings(String host, int port, int queueSize, int concurrency, Optional<Path> outputDir,
        Optional<String> authTokenEnv) {

    public ServerSettings {
        outputDir = Objects.requireNonNullElse(outputDir, Optional.empty());
        authTokenEnv = Objects.requireNonNullElse(authTokenEnv, Optional.empty());
    }
}
