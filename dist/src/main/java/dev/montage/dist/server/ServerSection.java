package dev.montage.dist.server;

import dev.montage.runtime.config.ProfileChecks;
import dev.montage.runtime.config.ProfileSection;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Profile section {@code server}: the headless HTTP server ({@code montage serve}), one key per setting of
 * {@link ServerSettings}. Its keys, meanings and built-in defaults are in {@code server-defaults.yaml} beside this
 * class.
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
 * @param maxPreviewRequests     phrase lookups and control previews computed at the same time
 * @param shutdownGraceSeconds   how long running generations may go on after shutdown began
 * @param authTokenEnv           name of the environment variable holding the bearer token clients must send; empty
 *                               for the server's default variable (authentication is off when that one is unset)
 * @param authTokenFile          file holding the bearer token; set at most one of it and {@code authTokenEnv}
 * @param loraDir                folder of the LoRA files requests may name; empty for none
 * @param maxLoras               most LoRAs one request may name
 * @param loraVariants           sets of LoRAs kept loaded besides the model without them
 * @param previewEvery           steps between the previews of a running generation's event stream; 0 for none
 */
public record ServerSection(String host, int port, int queueSize, int concurrency, Optional<Path> outputDir,
        int maxBodyBytes, int maxImageBytes, int maxImagePixels, int maxWidth, int maxHeight, int maxSteps,
        int maxImages, int maxOutputPixels, int maxSubjects, int maxControls, int maxRequestPixels,
        int maxFinishedJobs, int maxEventStreams, int maxPreviewRequests, int shutdownGraceSeconds,
        Optional<String> authTokenEnv, Optional<Path> authTokenFile, Optional<Path> loraDir, int maxLoras,
        int loraVariants, int previewEvery) {

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final String DEFAULTS_RESOURCE = "server-defaults.yaml";

    /** The section for the profile resolver: every command that reads a profile registers it. */
    public static final ProfileSection<ServerSection> PROFILE = new ProfileSection<>("server", ServerSection.class,
            defaults(), ServerSection::check);

    public ServerSection {
        outputDir = Objects.requireNonNullElse(outputDir, Optional.empty());
        authTokenEnv = Objects.requireNonNullElse(authTokenEnv, Optional.empty());
        authTokenFile = Objects.requireNonNullElse(authTokenFile, Optional.empty());
        loraDir = Objects.requireNonNullElse(loraDir, Optional.empty());
    }

    /** What the key's types do not say: ranges, the token's sources. */
    private static void check(ServerSection s, ProfileChecks checks) {
        if (s.host().isBlank()) {
            checks.problem("server.host", "expected a host name or address to listen on, e.g. 127.0.0.1, got a "
                    + "blank");
        }
        if (s.port() < 0 || s.port() > 65535) {
            checks.problem("server.port", "expected a TCP port from 0 (any free one) to 65535, got " + s.port());
        }
        checks.atLeast("server.queue_size", s.queueSize(), 1, "waiting requests");
        checks.atLeast("server.concurrency", s.concurrency(), 1, "generations at once");
        checks.atLeast("server.max_body_bytes", s.maxBodyBytes(), 1, "bytes");
        checks.atLeast("server.max_image_bytes", s.maxImageBytes(), 1, "bytes");
        checks.atLeast("server.max_image_pixels", s.maxImagePixels(), 1, "pixels");
        checks.atLeast("server.max_width", s.maxWidth(), 1, "pixels");
        checks.atLeast("server.max_height", s.maxHeight(), 1, "pixels");
        checks.atLeast("server.max_steps", s.maxSteps(), 1, "steps");
        checks.atLeast("server.max_images", s.maxImages(), 1, "images");
        checks.atLeast("server.max_output_pixels", s.maxOutputPixels(), 1, "pixels");
        checks.atLeast("server.max_subjects", s.maxSubjects(), 0, "subjects");
        checks.atLeast("server.max_controls", s.maxControls(), 0, "controls");
        checks.atLeast("server.max_request_pixels", s.maxRequestPixels(), 1, "pixels");
        checks.atLeast("server.max_finished_jobs", s.maxFinishedJobs(), 1, "generations");
        checks.atLeast("server.max_event_streams", s.maxEventStreams(), 1, "event streams");
        checks.atLeast("server.max_preview_requests", s.maxPreviewRequests(), 1, "previews at once");
        checks.atLeast("server.shutdown_grace_seconds", s.shutdownGraceSeconds(), 0, "seconds");
        s.authTokenEnv().filter(n -> !ENV_NAME.matcher(n).matches()).ifPresent(n -> checks.problem(
                "server.auth_token_env", "expected the name of an environment variable (letters, digits, '_'), got '"
                        + n + "'"));
        if (s.authTokenEnv().isPresent() && s.authTokenFile().isPresent()) {
            checks.problem("server.auth_token_file", "set either server.auth_token_file or server.auth_token_env, "
                    + "not both");
        }
        s.authTokenFile().ifPresent(f -> checks.file("server.auth_token_file", f, "a file holding the bearer token"));
        s.loraDir().ifPresent(d -> checks.folder("server.lora_dir", d, "a folder of LoRA files (.safetensors)"));
        checks.atLeast("server.max_loras", s.maxLoras(), 0, "LoRAs");
        checks.atLeast("server.lora_variants", s.loraVariants(), 1, "sets of LoRAs");
        checks.atLeast("server.preview_every", s.previewEvery(), 0, "steps");
    }

    private static String defaults() {
        try (InputStream in = ServerSection.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the server lacks its resource " + DEFAULTS_RESOURCE);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + DEFAULTS_RESOURCE, e);
        }
    }
}
