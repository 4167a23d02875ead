package dev.montage.runtime.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code server}: the headless HTTP server ({@code montage serve}), one key per setting of the
 * server's own settings.
 *
 * @param host                   interface to listen on ({@code 127.0.0.1} keeps it on this machine)
 * @param port                   TCP port, 0 for any free one
 * @param queueSize              requests waiting beyond the running ones before new ones are refused
 * @param concurrency            generations running at once
 * @param outputDir              where generated images and uploads are kept; empty for the server's own choice
 * @param maxBodyBytes           largest request body (JSON with inline images)
 * @param maxImageBytes          largest single input picture, uploaded or inline
 * @param maxImagePixels         largest width × height of an input picture
 * @param maxWidth               largest output width in pixels
 * @param maxHeight              largest output height in pixels
 * @param maxSteps               most denoising steps a request may ask for
 * @param maxImages              most images one request may ask for
 * @param maxOutputPixels        most output pixels one request may ask for: width × height × count
 * @param maxSubjects            most subjects one request may have
 * @param maxControls            most controls one request may have
 * @param maxRequestPixels       most input pixels one request may bring, all its pictures together (a picture used
 *                               twice counts twice)
 * @param maxFinishedJobs        ended generations whose state is kept in memory; older ones are answered from their
 *                               stored result or forgotten
 * @param maxEventStreams        event streams open at the same time
 * @param shutdownGraceSeconds   how long running generations may go on after shutdown began
 * @param authTokenEnv           name of the environment variable holding the bearer token clients must send; empty
 *                               for the server's default variable (authentication is off when that one is unset)
 * @param authTokenFile          file holding the bearer token; set at most one of it and {@code authTokenEnv}
 */
public record ServerSettings(String host, int port, int queueSize, int concurrency, Optional<Path> outputDir,
        int maxBodyBytes, int maxImageBytes, int maxImagePixels, int maxWidth, int maxHeight, int maxSteps,
        int maxImages, int maxOutputPixels, int maxSubjects, int maxControls, int maxRequestPixels,
        int maxFinishedJobs, int maxEventStreams, int shutdownGraceSeconds, Optional<String> authTokenEnv,
        Optional<Path> authTokenFile) {

    public ServerSettings {
        outputDir = Objects.requireNonNullElse(outputDir, Optional.empty());
        authTokenEnv = Objects.requireNonNullElse(authTokenEnv, Optional.empty());
        authTokenFile = Objects.requireNonNullElse(authTokenFile, Optional.empty());
    }
}
