package dev.montage.dist.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Suggestions;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.plugins.clip.SdxlTextEncoderFactory;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorSource;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;
import io.javalin.http.sse.SseClient;
import io.javalin.http.sse.SseHandler;
import io.javalin.http.util.MultipartUtil;
import io.javalin.json.JavalinJackson;
import jakarta.servlet.MultipartConfigElement;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.Part;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The headless HTTP server (Javalin on Jetty): the generation API of a {@link GenerationService}, uploads, the
 * event streams, introspection ({@code /v1/queue}, {@code /v1/plugins}, {@code /v1/models}), health, readiness,
 * Prometheus metrics and its own OpenAPI document at {@code /openapi.json}.
 *
 * <p>Every error answer is {@code {errors: [{field, message}]}}. With a token configured, {@code /v1/*} and
 * {@code /metrics} need {@code Authorization: Bearer <token>}; the header is never logged.
 */
public final class MontageServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MontageServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BEARER = "Bearer ";
    private static final String EVENT_STREAM = "text/event-stream";
    /** A comment line this often keeps proxies and the connector's idle timeout from closing a quiet stream. */
    private static final Duration KEEP_ALIVE = Duration.ofSeconds(10);
    /** How long a phrase lookup or control preview waits for another one to end before it is answered 503. */
    static final Duration PREVIEW_WAIT = Duration.ofSeconds(5);
    /** Room for the multipart boundaries and headers around an uploaded picture. */
    private static final long MULTIPART_OVERHEAD = 64 * 1024;
    private static final int MULTIPART_IN_MEMORY = 1 << 20;
    /** How much of a refused request's body is read and dropped so that its client gets the answer. */
    private static final long REFUSED_BODY_READ = 64L << 20;
    /** The request attribute that says its body has begun to be read. */
    private static final String BODY_ASKED = "montage.body-asked";
    /** An upload is one file part; the bound keeps a body of many tiny fields from costing a parse of each. */
    private static final int MAX_UPLOAD_PARTS = 16;
    /** How Jetty's multipart parser words its refusal of more parts than {@link #MAX_UPLOAD_PARTS}. */
    private static final String TOO_MANY_PARTS = "too many keys";
    /** How it words its refusal of a part or body over the sizes of {@link MultipartConfigElement}. */
    private static final String SIZE_EXCEEDED = "exceeded";
    private static final int DEFAULT_LIST_LIMIT = 100;
    private static final int MAX_LIST_LIMIT = 1000;
    /** The class path folder of the studio's files; {@code GET /} serves its {@link #STUDIO_INDEX}. */
    private static final String STUDIO_FOLDER = "/dev/montage/dist/studio/";
    private static final String STUDIO_INDEX = "index.html";
    /** A file name of the folder itself: no folders, no dot files. */
    private static final Pattern STUDIO_FILE = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]*");
    private static final Map<String, String> STUDIO_TYPES = Map.of("html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8", "css", "text/css; charset=utf-8", "svg", "image/svg+xml",
            "png", "image/png", "json", "application/json", "ico", "image/x-icon", "webp", "image/webp");
    private static final String STUDIO_POLICY = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            + "script-src 'self'; connect-src 'self'";

    /**
     * One route the server answers.
     *
     * @param method HTTP method, upper case
     * @param path   path with {@code {parameters}}, as OpenAPI writes it
     */
    record Route(String method, String path) {
    }

    private final ServerSettings settings;
    private final GenerationService service;
    private final ComponentRegistry registry;
    private final ServedModel model;
    private final UploadStore uploads;
    private final LoraCatalog loraCatalog;
    private final RequestJson requests;
    private final Semaphore eventStreams;
    private final Semaphore previews;
    private final byte[] tokenDigest;
    private final byte[] openApi;
    private final List<Route> routes = new CopyOnWriteArrayList<>();
    private final Javalin app;

    /** Request fields whose default the served model's profile decides. */
    private static final List<String> DEFAULTED = List.of("negativePrompt", "width", "height", "steps", "guidance",
            "scale", "count", "scheduler");

    /** The OpenAPI document, stating the defaults this server applies to the fields a request leaves out. */
    private static byte[] openApi(GenerationRequest defaults, String scheduler) throws IOException {
        JsonNode doc;
        try (InputStream in = MontageServer.class.getResourceAsStream("openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("the distribution lacks its resource openapi.json");
            }
            doc = JSON.readTree(in);
        }
        Map<String, Object> values = new LinkedHashMap<>(GenerationRecord.request(defaults, List.of(), List.of(),
                Map.of(), List.of()));
        values.put("scheduler", scheduler);
        JsonNode fields = doc.at("/components/schemas/GenerationRequest/properties");
        for (String field : DEFAULTED) {
            ((ObjectNode) fields.get(field)).set("default", JSON.valueToTree(values.get(field)));
        }
        return JSON.writeValueAsBytes(doc);
    }

    private MontageServer(ServerSettings settings, GenerationService service, ComponentRegistry registry,
            ServedModel model) throws IOException {
        this.settings = settings;
        this.service = service;
        this.registry = registry;
        this.model = model;
        this.uploads = new UploadStore(settings.outputDir().resolve("uploads"), settings.maxImagePixels());
        this.loraCatalog = new LoraCatalog(settings.loraDir(), LoraCatalog.NO_SERVER_FOLDER);
        this.requests = new RequestJson(settings, model.defaults(), service::schedulerProblems,
                service::requestProblems,
                service.defaultScheduler(), service.controlNets(), service.subjectFields(), uploads, loraCatalog,
                new SecureRandom()::nextLong);
        this.eventStreams = new Semaphore(settings.maxEventStreams());
        this.previews = new Semaphore(settings.maxPreviewRequests());
        this.tokenDigest = settings.authToken().map(MontageServer::sha256).orElse(null);
        this.openApi = openApi(model.defaults(), service.defaultScheduler());
        this.app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.startupWatcherEnabled = false;
            config.jsonMapper(new JavalinJackson(JSON, false));
            // Jetty bounds the parts of a multipart body by the form keys of the context
            config.jetty.modifyServletContextHandler(handler -> handler.setMaxFormKeys(MAX_UPLOAD_PARTS));
            config.events.handlerAdded(h -> {
                if (h.getHttpMethod().isHttpMethod()) {
                    routes.add(new Route(h.getHttpMethod().name(), h.getPath()));
                }
            });
            config.requestLogger.http((ctx, ms) -> LOG.debug("{} {} {} {} ms", ctx.method(), ctx.path(),
                    ctx.status().getCode(), Math.round(ms)));
            var r = config.routes;
            r.before("/v1/*", this::authorize);
            r.before("/metrics", this::authorize);
            r.post("/v1/uploads", this::upload);
            r.post("/v1/generations", this::submit);
            r.post("/v1/phrases", ctx -> previewing(ctx, this::phrases));
            r.post("/v1/preprocess", ctx -> previewing(ctx, this::preprocess));
            r.post("/v1/records", ctx -> ctx.json(ImportedRequest.of(jsonBody(ctx), requests)));
            r.get("/v1/generations", this::list);
            r.get("/v1/generations/{id}", ctx -> ctx.json(service.view(job(ctx))));
            r.delete("/v1/generations/{id}", this::cancel);
            r.get("/v1/generations/{id}/events", this::events);
            r.get("/v1/generations/{id}/images/{n}.png", this::image);
            r.get("/v1/queue", ctx -> ctx.json(service.queueView()));
            r.get("/v1/plugins", this::plugins);
            r.get("/v1/models", this::models);
            r.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
            r.get("/readyz", this::readiness);
            r.get("/metrics", ctx -> ctx.contentType(ServerMetrics.CONTENT_TYPE).result(service.metricsText()));
            r.get("/openapi.json", ctx -> ctx.contentType("application/json").result(openApi));
            r.get("/", ctx -> studio(ctx, STUDIO_INDEX));
            r.get("/studio/{file}", ctx -> studio(ctx, ctx.pathParam("file")));
            r.exception(ApiException.class, (e, ctx) -> {
                e.headers().forEach(ctx::header);
                errors(ctx, e.status(), e.errors());
            });
            r.exception(InvalidRequestException.class, (e, ctx) -> errors(ctx, 400, e.errors()));
            r.exception(GenerationService.QueueFullException.class, (e, ctx) -> {
                ctx.header("Retry-After", Long.toString(e.retryAfterSeconds()));
                errors(ctx, 429, List.of(new FieldError(null, e.getMessage())));
            });
            r.exception(RejectedExecutionException.class,
                    (e, ctx) -> errors(ctx, 503, List.of(new FieldError(null, e.getMessage()))));
            r.exception(HttpResponseException.class,
                    (e, ctx) -> errors(ctx, e.getStatus(), List.of(new FieldError(null, e.getMessage()))));
            r.exception(Exception.class, MontageServer::internalError);
        });
    }

    /**
     * Starts listening on {@link ServerSettings#host()} and {@link ServerSettings#port()}.
     *
     * @throws IOException when the output folder cannot be prepared
     */
    public static MontageServer start(ServerSettings settings, GenerationService service, ComponentRegistry registry,
            ServedModel model) throws IOException {
        MontageServer server = new MontageServer(settings, service, registry, model);
        server.app.start(settings.host(), settings.port());
        return server;
    }

    /** The port listened on (the chosen one when the settings asked for 0). */
    public int port() {
        return app.port();
    }

    /** {@code http://host:port}. */
    public String url() {
        String host = settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host();
        return "http://" + host + ":" + port();
    }

    /** The routes this server answers, for checking the OpenAPI document against. */
    List<Route> routes() {
        return List.copyOf(routes);
    }

    /** Shuts the service down gracefully ({@link ServerSettings#shutdownGrace()}), then stops listening. */
    @Override
    public void close() {
        service.shutdown(settings.shutdownGrace());
        app.stop();
    }

    private void authorize(Context ctx) {
        if (tokenDigest == null) {
            return;
        }
        String header = ctx.header("Authorization");
        if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            throw new ApiException(401, List.of(new FieldError(null,
                    "this server needs a bearer token: Authorization: Bearer <token>")),
                    Map.of("WWW-Authenticate", "Bearer realm=\"montage\""));
        }
        // compared as digests in constant time, so the answer time says nothing about the token
        if (!MessageDigest.isEqual(tokenDigest, sha256(header.substring(BEARER.length()).trim()))) {
            throw new ApiException(403, "the bearer token is not valid for this server");
        }
    }

    private void upload(Context ctx) throws IOException {
        long max = settings.maxImageBytes();
        if (ctx.req().getContentLengthLong() > max + MULTIPART_OVERHEAD) {
            throw ApiException.tooLarge("image", "the upload is " + ctx.req().getContentLengthLong()
                    + " bytes, more than the picture limit of " + max);
        }
        if (!ctx.isMultipartFormData()) {
            throw new InvalidRequestException(List.of(new FieldError("image",
                    "send multipart/form-data with the picture in a file part named image")));
        }
        ctx.req().setAttribute(MultipartUtil.MULTIPART_CONFIG_ATTRIBUTE, new MultipartConfigElement(
                System.getProperty("java.io.tmpdir"), max, max + MULTIPART_OVERHEAD, MULTIPART_IN_MEMORY));
        Part file;
        try {
            askingForBody(ctx);
            file = ctx.req().getPart("image");
        } catch (IOException | ServletException | RuntimeException e) {
            // Jetty drops the connection after a body it could not parse; a client must not send its next request on it
            ctx.header("Connection", "close");
            throw multipartProblem(e, max);
        }
        if (file == null || file.getSubmittedFileName() == null) {
            throw new InvalidRequestException(List.of(new FieldError("image", "is required: a file part named image")));
        }
        byte[] bytes;
        try (InputStream in = file.getInputStream()) {
            bytes = in.readAllBytes();
        }
        try {
            ctx.status(201).json(Map.of("id", uploads.put(bytes)));
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(List.of(new FieldError("image", e.getMessage())));
        }
    }

    /**
     * Jetty's multipart parser says what it refused (more parts than allowed, a part or request over the sizes, a
     * missing boundary) in an {@link IllegalStateException} somewhere in the chain of its answer; without one, the
     * body was cut short or had broken part headers.
     */
    private static RuntimeException multipartProblem(Exception e, long max) {
        String problem = e.getMessage();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IllegalStateException && t.getMessage() != null) {
                problem = t.getMessage();
                if (problem.contains(TOO_MANY_PARTS)) {
                    return new InvalidRequestException(List.of(new FieldError("image", "the multipart body has more "
                            + "than " + MAX_UPLOAD_PARTS + " parts; send the picture alone, in a file part named "
                            + "image")));
                }
                if (problem.contains(SIZE_EXCEEDED)) {
                    return ApiException.tooLarge("image", "the picture is larger than the limit of " + max + " bytes");
                }
            }
        }
        return new InvalidRequestException(List.of(new FieldError("image", "unreadable multipart body: " + problem)));
    }

    private void submit(Context ctx) throws IOException {
        RequestJson.Parsed parsed = requests.parse(jsonBody(ctx));
        GenerationService.Submission s = service.submit(parsed.request(), parsed.loras(), parsed.parameters());
        ctx.status(202).header("Location", "/v1/generations/" + s.id())
                .json(Map.of("id", s.id(), "position", s.position()));
    }

    /**
     * Runs a phrase lookup or control preview, at most {@link ServerSettings#maxPreviewRequests()} at a time: each
     * decodes pictures and may load a released text encoder, so an unbounded number would exhaust the memory that
     * generations need. One that finds them all busy for {@link #PREVIEW_WAIT} is {@code 503} with
     * {@code Retry-After}.
     */
    private void previewing(Context ctx, Handler preview) throws Exception {
        if (!previews.tryAcquire(PREVIEW_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new ApiException(503, List.of(new FieldError(null, "every place for phrase lookups and control "
                    + "previews is taken (server.max_preview_requests: " + settings.maxPreviewRequests() + "); try "
                    + "again shortly")), Map.of("Retry-After", "1"));
        }
        try {
            preview.handle(ctx);
        } finally {
            previews.release();
        }
    }

    private void phrases(Context ctx) throws IOException {
        RequestJson.PhraseQuery query = requests.phrases(jsonBody(ctx));
        ctx.json(PromptPhrases.of(query.prompt(), query.phrases(), service::locatePhrases));
    }

    private void preprocess(Context ctx) throws IOException {
        RequestJson.Preprocess p = requests.preprocess(jsonBody(ctx));
        BufferedImage image;
        try {
            image = service.controlImage(p.control(), p.width(), p.height());
        } catch (InvalidRequestException e) {
            // the preprocessor refused what it was given: the picture, or the keypoints it renders
            String field = p.control().data() != null ? "keypoints" : "image";
            throw new InvalidRequestException(e.errors().stream().map(x -> new FieldError(field, x.message()))
                    .toList());
        }
        ctx.contentType("image/png").header("Cache-Control", "no-store").result(PngFiles.encode(image, Map.of()));
    }

    /**
     * A file of the studio, the browser front end, from the class path. The page runs only scripts and styles of
     * this server ({@link #STUDIO_POLICY}); it sends the API token itself, so the files need none.
     */
    private void studio(Context ctx, String file) throws IOException {
        int dot = file.lastIndexOf('.');
        String type = dot < 0 ? null : STUDIO_TYPES.get(file.substring(dot + 1).toLowerCase(Locale.ROOT));
        byte[] bytes = null;
        if (type != null && STUDIO_FILE.matcher(file).matches()) {
            try (InputStream in = MontageServer.class.getResourceAsStream(STUDIO_FOLDER + file)) {
                bytes = in == null ? null : in.readAllBytes();
            }
        }
        if (bytes == null) {
            throw ApiException.notFound("the studio has no file '" + file + "'");
        }
        ctx.contentType(type).header("Content-Security-Policy", STUDIO_POLICY)
                .header("X-Content-Type-Options", "nosniff").header("Cache-Control", "no-cache").result(bytes);
    }

    /** The body of a JSON request, refused over {@link ServerSettings#maxBodyBytes()}. */
    private JsonNode jsonBody(Context ctx) throws IOException {
        long max = settings.maxBodyBytes();
        long declared = ctx.req().getContentLengthLong();
        if (declared > max) {
            throw ApiException.tooLarge("body", "is " + declared + " bytes, more than the limit of " + max
                    + "; send large pictures with POST /v1/uploads");
        }
        byte[] body;
        askingForBody(ctx);
        try (InputStream in = ctx.req().getInputStream()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        }
        if (body.length > max) {
            throw ApiException.tooLarge("body", "is more than the limit of " + max + " bytes");
        }
        try {
            return JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new InvalidRequestException(List.of(new FieldError("body", "is not valid JSON: "
                    + e.getOriginalMessage())));
        }
    }

    private void list(Context ctx) {
        int limit = DEFAULT_LIST_LIMIT;
        String given = ctx.queryParam("limit");
        if (given != null) {
            try {
                limit = Integer.parseInt(given);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_LIST_LIMIT) {
                throw new InvalidRequestException(List.of(new FieldError("limit",
                        "must be a whole number in 1.." + MAX_LIST_LIMIT + ", got '" + given + "'")));
            }
        }
        Optional<JobState> state = Optional.empty();
        String named = ctx.queryParam("state");
        if (named != null) {
            List<String> states = Arrays.stream(JobState.values()).map(JobState::apiName).toList();
            if (!states.contains(named)) {
                throw new InvalidRequestException(List.of(new FieldError("state", "unknown state '" + named + "'"
                        + Suggestions.didYouMean(named, states) + ", expected one of " + states)));
            }
            state = Optional.of(JobState.values()[states.indexOf(named)]);
        }
        ctx.json(Map.of("generations", service.list(state, limit)));
    }

    private void cancel(Context ctx) {
        Job job = job(ctx);
        switch (service.cancel(job)) {
            case CANCELLED -> ctx.status(200).json(service.view(job));
            case STOPPING -> ctx.status(202).json(service.view(job));
            case ALREADY_ENDED -> throw new ApiException(409, "generation " + job.id() + " has already ended: "
                    + job.state().apiName());
            default -> throw new IllegalStateException("unexpected cancel outcome");
        }
    }

    /**
     * Server-sent events of one job: everything so far (newer than {@code Last-Event-ID}), then live events
     * until the job ends. The stream is written by Javalin's SSE client on its own thread; the job only fills a
     * buffer.
     */
    private void events(Context ctx) throws Exception {
        Job job = job(ctx);
        String accept = ctx.header("Accept");
        if (accept == null || !accept.contains(EVENT_STREAM)) {
            throw new ApiException(406, "the events of a generation are a server-sent event stream: send Accept: "
                    + EVENT_STREAM);
        }
        if (!eventStreams.tryAcquire()) {
            throw new ApiException(503, "too many event streams are open (" + settings.maxEventStreams()
                    + "); poll GET /v1/generations/{id} instead");
        }
        long lastSeen = lastEventId(ctx);
        try {
            new SseHandler(client -> stream(client, job, lastSeen)).handle(ctx);
        } catch (Exception | Error e) {
            eventStreams.release();
            throw e;
        }
    }

    private void stream(SseClient client, Job job, long lastSeen) {
        try (EventSubscription subscription = job.subscribe(lastSeen)) {
            client.sendComment("events of generation " + job.id());
            while (!client.terminated()) {
                JobEvent event = subscription.next(KEEP_ALIVE);
                if (event == null) {
                    client.sendComment("keep-alive");
                    continue;
                }
                client.sendEvent(event.type(), event.data(), Long.toString(event.sequence()));
                if (event.terminal()) {
                    return;
                }
            }
            LOG.debug("Event stream of {} closed by the client", job.id());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            eventStreams.release();
        }
    }

    private static long lastEventId(Context ctx) {
        String header = ctx.header("Last-Event-ID");
        try {
            return header == null ? 0 : Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private void image(Context ctx) throws IOException {
        Job job = job(ctx);
        int n;
        try {
            n = Integer.parseInt(ctx.pathParam("n"));
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (job.state() != JobState.SUCCEEDED || n < 0 || n >= job.images()) {
            throw ApiException.notFound("generation " + job.id() + " has no image " + ctx.pathParam("n")
                    + " (state " + job.state().apiName() + ", " + job.images() + " image(s))");
        }
        Path file = service.results().image(job.id(), n);
        ctx.contentType("image/png")
                .header("Content-Disposition", "inline; filename=\"" + file.getFileName() + "\"")
                .header("Cache-Control", "private, max-age=31536000, immutable")
                .result(Files.readAllBytes(file));
    }

    private void plugins(Context ctx) {
        List<Map<String, Object>> plugins = new ArrayList<>();
        for (ComponentRegistry.Entry e : registry.entries()) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("kind", e.kind().name().toLowerCase(Locale.ROOT));
            p.put("id", e.id());
            p.put("source", e.source());
            p.put("factory", e.factory().getClass().getName());
            p.put("state", "active");
            plugins.add(p);
        }
        ctx.json(Map.of("plugins", plugins));
    }

    private void models(Context ctx) {
        List<Map<String, Object>> weights = new ArrayList<>();
        model.paths().base().ifPresent(base -> weights.add(weights("base", base)));
        // every file the installed components read that the model has, by key, and the explicit ones
        ModelPaths paths = model.paths().withDefaults(registry.modelFiles().values());
        Set<String> keys = new TreeSet<>(registry.modelFiles().keySet());
        keys.addAll(paths.paths().keySet());
        keys.forEach(key -> paths.resolve(key).ifPresent(path -> weights.add(weights(key, path))));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", model.paths().base().map(b -> b.getFileName().toString()).orElse("model"));
        m.put("randomWeights", model.randomWeights());
        m.put("variant", model.paths().variant().orElse(null));
        m.put("engine", model.engine());
        m.put("schedulers", service.schedulerIds());
        m.put("schedulerDescriptions", schedulerDescriptions());
        m.put("schedulerOptions", schedulerOptions());
        m.put("defaultScheduler", service.defaultScheduler());
        List<String> controlTypes = service.controlNets().types();
        m.put("controlTypes", controlTypes);
        m.put("controlNets", controlTypes.stream().map(this::controlNet).toList());
        m.put("weights", weights);
        m.put("loras", loraCatalog.names());
        m.put("embeddings", paths.resolve(SdxlTextEncoderFactory.EMBEDDINGS_KEY).map(MontageServer::embeddings)
                .orElse(List.of()));
        ctx.json(Map.of("models", List.of(m)));
    }

    /** The names of the textual inversion embeddings in their folder, which prompts may name. */
    private static List<String> embeddings(Path folder) {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(Files::isRegularFile).map(f -> TensorSource.WEIGHTS_FILE_NAME.matcher(
                    f.getFileName().toString())).filter(Matcher::matches).map(m -> m.group(1)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** What each scheduler is, as its plugin describes it; empty for one the pipeline was given as an instance. */
    private Map<String, String> schedulerDescriptions() {
        return perScheduler(ComponentFactory::description, "");
    }

    /**
     * The settings a request may give each scheduler ({@code schedulerOptions}), one line each as {@code montage
     * profile check} lists them; none for one the pipeline was given as an instance.
     */
    private Map<String, List<String>> schedulerOptions() {
        return perScheduler(f -> f.options().stream().map(OptionSpec::describe).toList(), List.of());
    }

    /** A fact of each served scheduler's factory, by id; {@code none} for a scheduler given as an instance. */
    private <T> Map<String, T> perScheduler(Function<ComponentFactory<?>, T> fact, T none) {
        List<String> registered = registry.ids(ComponentKind.SCHEDULER);
        Map<String, T> facts = new LinkedHashMap<>();
        for (String id : service.schedulerIds()) {
            facts.put(id, registered.contains(id)
                    ? fact.apply(registry.factory(ComponentKind.SCHEDULER, id, Object.class)) : none);
        }
        return facts;
    }

    /** A configured path: every one was loaded when the server started (the preflight), or it would not run. */
    private static Map<String, Object> weights(String key, Path path) {
        Map<String, Object> w = new LinkedHashMap<>();
        w.put("key", key);
        w.put("path", path.toString());
        w.put("status", status(path));
        return w;
    }

    /** The ControlNet of a served type; one without a folder has weights its condition plugin brings. */
    private Map<String, Object> controlNet(String type) {
        Path folder = model.paths().paths().get(ModelPaths.CONTROLNET_KEY_PREFIX + type);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", type);
        c.put("path", folder == null ? null : folder.toString());
        c.put("status", folder == null ? "loaded" : status(folder));
        return c;
    }

    private static String status(Path path) {
        return Files.exists(path) ? "loaded" : "loaded, since removed from disk";
    }

    private void readiness(Context ctx) {
        if (service.isReady()) {
            ctx.json(Map.of("ready", true));
        } else {
            ctx.status(503).json(Map.of("ready", false, "reason", service.notReadyReason()));
        }
    }

    private Job job(Context ctx) {
        String id = ctx.pathParam("id");
        return service.job(id).orElseThrow(() -> ApiException.notFound("no generation has the id '" + id + "' (of the "
                + "ended ones, the server remembers the newest " + settings.maxFinishedJobs() + " and those whose "
                + "results it stored)"));
    }

    /**
     * Answers an unexpected exception with 500, unless the exchange has already ended under it: an event stream cut by
     * the server stopping leaves a recycled request whose every accessor throws, and an exception out of this handler
     * would come back to it (Javalin hands a failing handler's exception to the handlers again), without end.
     */
    static void internalError(Exception e, Context ctx) {
        String request;
        try {
            request = ctx.method() + " " + ctx.path();
        } catch (RuntimeException ended) {
            LOG.debug("An exchange that had ended failed", e);
            return;
        }
        LOG.error("{} failed", request, e);
        try {
            errors(ctx, 500, List.of(new FieldError(null, "internal error: " + e.getClass().getSimpleName())));
        } catch (RuntimeException ended) {
            LOG.debug("The answer to {} could not be written", request, ended);
        }
    }

    private static void errors(Context ctx, int status, List<FieldError> errors) {
        discardBody(ctx);
        List<Map<String, Object>> list = new ArrayList<>();
        for (FieldError e : errors) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (e.field() != null) {
                m.put("field", e.field());
            }
            m.put("message", e.message());
            list.add(m);
        }
        ctx.status(status).json(Map.of("errors", list));
    }

    /**
     * Reads and drops what is left of the body of a request answered with an error. Jetty closes a connection whose
     * body was left unread, and the kernel then resets it: a client still sending (an upload or a JSON body over the
     * limit, a request without its token) would get a broken pipe instead of the answer. Past
     * {@link #REFUSED_BODY_READ} the connection is closed after the answer instead.
     */
    private static void discardBody(Context ctx) {
        if (ctx.method() != HandlerType.POST) {
            return;
        }
        if ("100-continue".equalsIgnoreCase(ctx.header("Expect")) && ctx.attribute(BODY_ASKED) == null) {
            return; // reading would ask the client for the body it has held back
        }
        if (ctx.req().getContentLengthLong() > REFUSED_BODY_READ) {
            ctx.header("Connection", "close");
            return;
        }
        try {
            InputStream in = ctx.req().getInputStream();
            byte[] buffer = new byte[8192];
            long left = REFUSED_BODY_READ;
            int n = 0;
            while (left > 0 && (n = in.read(buffer, 0, (int) Math.min(buffer.length, left))) >= 0) {
                left -= n;
            }
            if (n >= 0 && in.read() >= 0) {
                ctx.header("Connection", "close");
            }
        } catch (IOException | IllegalStateException e) {
            // a body cut short, or one read as characters; the connection cannot carry another request either way
            ctx.header("Connection", "close");
        }
    }

    /**
     * Notes that the body is about to be read: a client that sent {@code Expect: 100-continue} is told to send it
     * then, and must have it read to the end.
     */
    private static void askingForBody(Context ctx) {
        ctx.attribute(BODY_ASKED, true);
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
