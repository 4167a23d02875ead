package dev.montage.dist.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How the headless server runs: where it listens, how much work it takes on, where results go, what it
 * accepts and who may call it. A profile's {@code server} section ({@link ServerSection}) maps onto this record one
 * key per field; the environment and command-line flags override it.
 *
 * @param host            interface to bind; {@code 127.0.0.1} keeps the server off the network
 * @param port            TCP port, 0 for any free one
 * @param queueSize       generations that may wait for a worker; one more is answered {@code 429}
 * @param concurrency     workers, i.e. generations running at the same time
 * @param outputDir       where results (PNGs and their JSON sidecars) and uploads are kept
 * @param maxBodyBytes    largest request body (JSON with inline images) before {@code 413}
 * @param maxImageBytes   largest single image, uploaded or inline (after base64 decoding), before {@code 413}
 * @param maxImagePixels  largest width × height of an input image, checked before the pixels are decoded
 * @param maxWidth        largest output width in pixels
 * @param maxHeight       largest output height in pixels
 * @param maxSteps        most denoising steps a request may ask for
 * @param maxImages       most images one request may ask for ({@code count})
 * @param maxOutputPixels most output pixels one request may ask for: width × height × count
 * @param maxSubjects     most subjects one request may have
 * @param maxControls     most controls one request may have
 * @param maxRequestPixels most input pixels one request may bring, all its pictures together, each checked from its
 *                        header before it is decoded
 * @param maxFinishedJobs ended generations kept in memory; older ones are answered from their result sidecar, or
 *                        not at all when they left none
 * @param maxEventStreams event streams open at the same time (each holds a connection); one more is {@code 503}
 * @param maxPreviewRequests phrase lookups and control previews ({@code POST /v1/phrases}, {@code /v1/preprocess})
 *                        computed at the same time; another waits a few seconds for one to end, then is {@code 503}
 * @param authToken       the bearer token every {@code /v1} and {@code /metrics} call must carry, if any
 * @param shutdownGrace   how long running generations may go on after shutdown began before they are cancelled
 * @param loraDir         the folder of LoRA files requests may name, if any (requests name files, never paths)
 * @param maxLoras        most LoRAs one request may name
 * @param loraVariants    how many sets of LoRAs stay loaded besides the model without them (each set's adapted
 *                        text encoder and denoiser)
 * @param previewEvery    how many steps apart a running generation's event stream gets a {@code preview} event; 0
 *                        for none
 */
public record ServerSettings(
        String host,
        int port,
        int queueSize,
        int concurrency,
        Path outputDir,
        long maxBodyBytes,
        long maxImageBytes,
        long maxImagePixels,
        int maxWidth,
        int maxHeight,
        int maxSteps,
        int maxImages,
        long maxOutputPixels,
        int maxSubjects,
        int maxControls,
        long maxRequestPixels,
        int maxFinishedJobs,
        int maxEventStreams,
        int maxPreviewRequests,
        Optional<String> authToken,
        Duration shutdownGrace,
        Optional<Path> loraDir,
        int maxLoras,
        int loraVariants,
        int previewEvery) {

    /** Environment variable holding {@link #authToken()} when the profile names neither a file nor a variable. */
    public static final String TOKEN_ENV = "MONTAGE_API_TOKEN";

    /**
     * @throws IllegalArgumentException naming every setting that is out of range
     */
    public ServerSettings {
        authToken = Objects.requireNonNullElse(authToken, Optional.empty());
        loraDir = Objects.requireNonNullElse(loraDir, Optional.empty());
        List<String> problems = new ArrayList<>();
        if (host == null || host.isBlank()) {
            problems.add("host must name an interface, e.g. 127.0.0.1");
        }
        if (port < 0 || port > 65535) {
            problems.add("port must be in 0..65535 (0 = any free port), got " + port);
        }
        positive(problems, "queueSize", queueSize);
        positive(problems, "concurrency", concurrency);
        if (outputDir == null) {
            problems.add("outputDir is required");
        }
        positive(problems, "maxBodyBytes", maxBodyBytes);
        positive(problems, "maxImageBytes", maxImageBytes);
        positive(problems, "maxImagePixels", maxImagePixels);
        positive(problems, "maxWidth", maxWidth);
        positive(problems, "maxHeight", maxHeight);
        positive(problems, "maxSteps", maxSteps);
        positive(problems, "maxImages", maxImages);
        positive(problems, "maxOutputPixels", maxOutputPixels);
        notNegative(problems, "maxSubjects", maxSubjects);
        notNegative(problems, "maxControls", maxControls);
        positive(problems, "maxRequestPixels", maxRequestPixels);
        positive(problems, "maxFinishedJobs", maxFinishedJobs);
        positive(problems, "maxEventStreams", maxEventStreams);
        positive(problems, "maxPreviewRequests", maxPreviewRequests);
        if (authToken.isPresent() && authToken.get().isBlank()) {
            problems.add("authToken must not be blank (leave it out to turn authentication off)");
        }
        if (shutdownGrace == null || shutdownGrace.isNegative()) {
            problems.add("shutdownGrace must be a duration >= 0, got " + shutdownGrace);
        }
        notNegative(problems, "maxLoras", maxLoras);
        positive(problems, "loraVariants", loraVariants);
        notNegative(problems, "previewEvery", previewEvery);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("server settings: " + String.join("; ", problems));
        }
    }

    private static void positive(List<String> problems, String name, long value) {
        if (value <= 0) {
            problems.add(name + " must be > 0, got " + value);
        }
    }

    private static void notNegative(List<String> problems, String name, long value) {
        if (value < 0) {
            problems.add(name + " must be >= 0, got " + value);
        }
    }

    /** The defaults: loopback only, port 8080, one worker, a queue of 16, SDXL-sized bounds, no token. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these settings. */
    public Builder toBuilder() {
        return new Builder().host(host).port(port).queueSize(queueSize).concurrency(concurrency).outputDir(outputDir)
                .maxBodyBytes(maxBodyBytes).maxImageBytes(maxImageBytes).maxImagePixels(maxImagePixels)
                .maxSize(maxWidth, maxHeight).maxSteps(maxSteps).maxImages(maxImages).maxOutputPixels(maxOutputPixels)
                .maxSubjects(maxSubjects).maxControls(maxControls).maxRequestPixels(maxRequestPixels)
                .maxFinishedJobs(maxFinishedJobs).maxEventStreams(maxEventStreams)
                .maxPreviewRequests(maxPreviewRequests).authToken(authToken.orElse(null)).shutdownGrace(shutdownGrace)
                .loraDir(loraDir.orElse(null)).maxLoras(maxLoras).loraVariants(loraVariants).previewEvery(previewEvery);
    }

    /**
     * The settings a profile's {@code server} section holds (the resolver has applied the environment's and the
     * command line's overrides to it), with the bearer token read from the file or the variable the section names.
     *
     * @param section     the resolved profile's {@code server} section
     * @param environment where the token variable is read: {@code server.auth_token_env}, else {@value #TOKEN_ENV}
     * @throws IllegalArgumentException when the token file cannot be read or is empty, or the variable that
     *                                  {@code server.auth_token_env} names is not set
     */
    public static ServerSettings fromProfile(ServerSection section, Map<String, String> environment) {
        Builder b = builder().host(section.host()).port(section.port()).queueSize(section.queueSize())
                .concurrency(section.concurrency()).maxBodyBytes(section.maxBodyBytes())
                .maxImageBytes(section.maxImageBytes()).maxImagePixels(section.maxImagePixels())
                .maxSize(section.maxWidth(), section.maxHeight()).maxSteps(section.maxSteps())
                .maxImages(section.maxImages()).maxOutputPixels(section.maxOutputPixels())
                .maxSubjects(section.maxSubjects()).maxControls(section.maxControls())
                .maxRequestPixels(section.maxRequestPixels()).maxFinishedJobs(section.maxFinishedJobs())
                .maxEventStreams(section.maxEventStreams()).maxPreviewRequests(section.maxPreviewRequests())
                .shutdownGrace(Duration.ofSeconds(section.shutdownGraceSeconds()))
                .authToken(token(section, environment)).maxLoras(section.maxLoras())
                .loraVariants(section.loraVariants()).previewEvery(section.previewEvery());
        section.outputDir().ifPresent(b::outputDir);
        section.loraDir().ifPresent(b::loraDir);
        return b.build();
    }

    private static String token(ServerSection section, Map<String, String> environment) {
        if (section.authTokenFile().isPresent()) {
            Path file = section.authTokenFile().get();
            String token;
            try {
                token = Files.readString(file).trim();
            } catch (IOException e) {
                throw new IllegalArgumentException("server.auth_token_file: cannot read " + file + ": " + e, e);
            }
            if (token.isEmpty()) {
                throw new IllegalArgumentException("server.auth_token_file: " + file + " is empty; expected the "
                        + "bearer token clients must send");
            }
            return token;
        }
        String variable = section.authTokenEnv().orElse(TOKEN_ENV);
        String token = environment.get(variable);
        if (token != null && !token.isBlank()) {
            return token.trim();
        }
        if (section.authTokenEnv().isPresent()) {
            // the operator asked for authentication: serving without it would be a silent downgrade
            throw new IllegalArgumentException("server.auth_token_env: the environment variable " + variable
                    + " is not set; expected the bearer token clients must send");
        }
        return null;
    }

    /** Never shows the token: settings are logged. */
    @Override
    public String toString() {
        return "ServerSettings[host=" + host + ", port=" + port + ", queueSize=" + queueSize + ", concurrency="
                + concurrency + ", outputDir=" + outputDir + ", maxBodyBytes=" + maxBodyBytes + ", maxImageBytes="
                + maxImageBytes + ", maxImagePixels=" + maxImagePixels + ", maxSize=" + maxWidth + "x" + maxHeight
                + ", maxSteps=" + maxSteps + ", maxImages=" + maxImages + ", maxOutputPixels=" + maxOutputPixels
                + ", maxSubjects=" + maxSubjects + ", maxControls=" + maxControls + ", maxRequestPixels="
                + maxRequestPixels + ", maxFinishedJobs=" + maxFinishedJobs + ", maxEventStreams=" + maxEventStreams
                + ", maxPreviewRequests=" + maxPreviewRequests
                + ", auth=" + (authToken.isPresent() ? "bearer token" : "off") + ", shutdownGrace=" + shutdownGrace
                + ", loraDir=" + loraDir.map(Path::toString).orElse("none") + ", maxLoras=" + maxLoras
                + ", loraVariants=" + loraVariants + ", previewEvery=" + previewEvery + "]";
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 8080;
        private int queueSize = 16;
        private int concurrency = 1;
        private Path outputDir = Path.of("montage-server-out");
        private long maxBodyBytes = 32L << 20;
        private long maxImageBytes = 16L << 20;
        private long maxImagePixels = 4096L * 4096;
        private int maxWidth = 2048;
        private int maxHeight = 2048;
        private int maxSteps = 150;
        private int maxImages = 8;
        private long maxOutputPixels = 8L * 1024 * 1024;
        private int maxSubjects = 8;
        private int maxControls = 8;
        private long maxRequestPixels = 2L * 4096 * 4096;
        private int maxFinishedJobs = 1000;
        private int maxEventStreams = 64;
        private int maxPreviewRequests = 2;
        private String authToken;
        private Duration shutdownGrace = Duration.ofSeconds(30);
        private Path loraDir;
        private int maxLoras = 4;
        private int loraVariants = 1;
        private int previewEvery = 5;

        private Builder() {
        }

        public Builder host(String v) {
            host = v;
            return this;
        }

        public Builder port(int v) {
            port = v;
            return this;
        }

        public Builder queueSize(int v) {
            queueSize = v;
            return this;
        }

        public Builder concurrency(int v) {
            concurrency = v;
            return this;
        }

        public Builder outputDir(Path v) {
            outputDir = v;
            return this;
        }

        public Builder maxBodyBytes(long v) {
            maxBodyBytes = v;
            return this;
        }

        public Builder maxImageBytes(long v) {
            maxImageBytes = v;
            return this;
        }

        public Builder maxImagePixels(long v) {
            maxImagePixels = v;
            return this;
        }

        public Builder maxSize(int width, int height) {
            maxWidth = width;
            maxHeight = height;
            return this;
        }

        public Builder maxSteps(int v) {
            maxSteps = v;
            return this;
        }

        public Builder maxImages(int v) {
            maxImages = v;
            return this;
        }

        public Builder maxOutputPixels(long v) {
            maxOutputPixels = v;
            return this;
        }

        public Builder maxSubjects(int v) {
            maxSubjects = v;
            return this;
        }

        public Builder maxControls(int v) {
            maxControls = v;
            return this;
        }

        public Builder maxRequestPixels(long v) {
            maxRequestPixels = v;
            return this;
        }

        public Builder maxFinishedJobs(int v) {
            maxFinishedJobs = v;
            return this;
        }

        public Builder maxEventStreams(int v) {
            maxEventStreams = v;
            return this;
        }

        public Builder maxPreviewRequests(int v) {
            maxPreviewRequests = v;
            return this;
        }

        /** The bearer token, or null for no authentication. */
        public Builder authToken(String v) {
            authToken = v;
            return this;
        }

        public Builder shutdownGrace(Duration v) {
            shutdownGrace = v;
            return this;
        }

        /** @param v the folder of LoRA files requests may name, null for none */
        public Builder loraDir(Path v) {
            loraDir = v;
            return this;
        }

        public Builder maxLoras(int v) {
            maxLoras = v;
            return this;
        }

        public Builder loraVariants(int v) {
            loraVariants = v;
            return this;
        }

        /** @param v steps between previews in the event stream, 0 for none */
        public Builder previewEvery(int v) {
            previewEvery = v;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming every setting that is out of range
         */
        public ServerSettings build() {
            return new ServerSettings(host, port, queueSize, concurrency, outputDir, maxBodyBytes, maxImageBytes,
                    maxImagePixels, maxWidth, maxHeight, maxSteps, maxImages, maxOutputPixels, maxSubjects,
                    maxControls, maxRequestPixels, maxFinishedJobs, maxEventStreams, maxPreviewRequests,
                    Optional.ofNullable(authToken), shutdownGrace, Optional.ofNullable(loraDir), maxLoras,
                    loraVariants, previewEvery);
        }
    }
}
