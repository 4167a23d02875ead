package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Cancellation;
import dev.montage.api.Control;
import dev.montage.api.ControlNetContext;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * The MS-Diffusion generation loop over the SPIs: text and subject conditioning, ControlNet residuals,
 * classifier-free guidance with {@code [uncond, cond]} batches, the scheduler's steps and the decode. It knows no
 * concrete model.
 *
 * <p>Controls follow diffusers' {@code StableDiffusionXLControlNetPipeline}: each control's picture is preprocessed
 * and prepared once per generation; at step {@code i} of {@code N} a control acts with
 * {@code scale * keep_i}, {@code keep_i = !(i/N < start || (i+1)/N > end)}, and the residuals of all acting controls
 * are summed in request order. A control outside its window contributes exactly zero, so its network is not run.
 *
 * <p>Thread-safe: every generation keeps its state in its own {@link GenerationContext} and its own
 * sub-manager, released when the generation ends (per-step tensors are released every step).
 */
final class Pipeline {
    /**
     * The PyTorch {@code interpolate} modes of DJL's interpolation, by the upscaler each is: DJL's bilinear and
     * bicubic are PyTorch's antialiased ones (the same as the plain bilinear for an enlargement).
     */
    private static final Map<Hires.Upscaler, Integer> INTERPOLATION = Map.of(Hires.Upscaler.LATENT_NEAREST, 0,
            Hires.Upscaler.LATENT, 1, Hires.Upscaler.LATENT_ANTIALIASED, 1, Hires.Upscaler.LATENT_BICUBIC_ANTIALIASED,
            3);
    /** PyTorch's coefficient of its bicubic interpolation. */
    private static final float CUBIC_A = -0.75f;
    private final OnDemand<TextEncoder> textEncoder;
    private final OnDemand<ImageEncoder> imageEncoder;
    private final OnDemand<SubjectResampler> resampler;
    /** Read from the resampler at the first generation with subjects. */
    private volatile AdapterFields adapterFields;
    private final OnDemand<DenoisingModel> denoiser;
    private final Schedulers schedulers;
    private final String defaultScheduler;
    private final LatentDecoder decoder;
    private final ControlNets controlNets;
    private final NDManager root;
    private final Kernels kernels;
    private final ComputeDType dtype;
    private final Map<String, String> description;
    private final Runnable weightCheck;
    /** What the components' factories refuse in a request, checked before anything runs. */
    private final Function<GenerationRequest, List<FieldError>> requestCheck;
    /** What the denoiser takes besides the latents. */
    private final DenoiserInputs inputs;

    /**
     * What the denoiser takes besides the latents, as its factory provides it.
     *
     * @param guidanceEmbedding   the width of the guidance embedding it takes instead of classifier-free guidance
     *                            ({@link dev.montage.api.spi.Dimensions#GUIDANCE_EMBEDDING}), 0 for none
     * @param maskedImageChannels the channels of the masked picture's latents an inpainting denoiser takes with the
     *                            mask ({@link dev.montage.api.spi.Dimensions#MASKED_IMAGE_CHANNELS}), 0 for none
     */
    record DenoiserInputs(int guidanceEmbedding, int maskedImageChannels) {
    }

    /**
     * @param textEncoder      held, or created for each generation ({@link OnDemand}), as are the image encoder
     *                         and resampler
     * @param imageEncoder     null when this assembly takes no subjects
     * @param resampler        null likewise
     * @param denoiser         held, or created when a generation starts denoising
     * @param schedulers       the schedulers by id
     * @param defaultScheduler the id used when a request names none
     * @param controlNets      the control types this pipeline serves ({@link ControlNets#NONE} for none)
     * @param root             manager on the engine's device; each generation takes a sub-manager of it
     * @param description      component ids and model paths, embedded in every result's parameters
     * @param weightCheck      run after every generation: fails it when a component kept arrays of it
     * @param inputs           what the denoiser takes besides the latents
     * @param requestCheck     what the components' factories refuse in a request
     */
    Pipeline(OnDemand<TextEncoder> textEncoder, OnDemand<ImageEncoder> imageEncoder,
            OnDemand<SubjectResampler> resampler, OnDemand<DenoisingModel> denoiser, Schedulers schedulers,
            String defaultScheduler, LatentDecoder decoder, ControlNets controlNets, NDManager root, Kernels kernels,
            ComputeDType dtype, Map<String, String> description, Runnable weightCheck, DenoiserInputs inputs,
            Function<GenerationRequest, List<FieldError>> requestCheck) {
        this.inputs = Objects.requireNonNull(inputs, "inputs");
        this.requestCheck = Objects.requireNonNull(requestCheck, "requestCheck");
        this.textEncoder = Objects.requireNonNull(textEncoder, "textEncoder");
        this.imageEncoder = imageEncoder;
        this.resampler = resampler;
        this.denoiser = Objects.requireNonNull(denoiser, "denoiser");
        this.schedulers = Objects.requireNonNull(schedulers, "schedulers");
        this.defaultScheduler = defaultScheduler;
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        this.controlNets = Objects.requireNonNull(controlNets, "controlNets");
        this.root = root;
        this.kernels = kernels;
        this.dtype = dtype;
        this.description = Collections.unmodifiableMap(new LinkedHashMap<>(description));
        this.weightCheck = weightCheck;
        if (!schedulers.contains(defaultScheduler)) {
            throw new IllegalArgumentException("default scheduler '" + defaultScheduler + "' is not among "
                    + schedulers.ids());
        }
    }

    /**
     * This pipeline with another text encoder or denoiser (each where not null), the same other components, more
     * description entries and one more check after each generation.
     */
    Pipeline withModels(OnDemand<TextEncoder> otherTextEncoder, OnDemand<DenoisingModel> otherDenoiser,
            Map<String, String> moreDescription, Runnable moreWeightCheck) {
        Map<String, String> d = new LinkedHashMap<>(description);
        d.putAll(moreDescription);
        return new Pipeline(otherTextEncoder != null ? otherTextEncoder : textEncoder, imageEncoder, resampler,
                otherDenoiser != null ? otherDenoiser : denoiser, schedulers, defaultScheduler, decoder, controlNets,
                root, kernels, dtype, d, () -> {
                    weightCheck.run();
                    moreWeightCheck.run();
                }, inputs, requestCheck);
    }

    /** Scheduler ids this pipeline can run. */
    List<String> schedulerIds() {
        return schedulers.ids();
    }

    /** The ControlNets and condition preprocessors it runs, which check a request's controls. */
    ControlNets controlNets() {
        return controlNets;
    }

    /** Control types this pipeline has a ControlNet for, sorted; requests with other types are refused. */
    List<String> controlTypes() {
        return controlNets.types();
    }

    /** The scheduler id used when a request names none. */
    String defaultSchedulerId() {
        return defaultScheduler;
    }

    /** What the components' factories refuse in a request ({@link dev.montage.api.spi.RequestCheck}). */
    List<FieldError> requestProblems(GenerationRequest request) {
        return requestCheck.apply(request);
    }

    /** What is wrong with a request's scheduler and its settings ({@link Schedulers#problems}). */
    List<FieldError> schedulerProblems(String id, Map<String, String> options) {
        return schedulers.problems(id, options);
    }

    /**
     * Runs one generation.
     *
     * @throws GenerationCancelledException when the listener asked to stop; nothing of the generation remains
     * @throws InvalidRequestException naming what in the request this pipeline cannot serve
     */
    GenerationResult generate(GenerationRequest request, ProgressListener listener) {
        return generate(request, listener, null);
    }

    /**
     * As {@link #generate(GenerationRequest, ProgressListener)}, also returning the final latents in
     * {@code finalLatents[0]} when that array is given (for comparisons across implementations). The listener's
     * {@link ProgressListener#cancelRequested()} and an interrupt of the calling thread are polled inside every stage.
     */
    GenerationResult generate(GenerationRequest request, ProgressListener listener, Latents[] finalLatents) {
        return Cancellation.within(listener::cancelRequested, () -> run(request, listener, finalLatents));
    }

    private GenerationResult run(GenerationRequest request, ProgressListener listener, Latents[] finalLatents) {
        long start = System.nanoTime();
        String schedulerId = request.scheduler().orElse(defaultScheduler);
        Scheduler scheduler = schedulers.forRequest(schedulerId, request.schedulerOptions());
        GenerationRequest second = request.hires().isPresent() ? secondPass(request) : null;
        String secondId = second == null ? null : second.scheduler().orElse(defaultScheduler);
        // a pass without a scheduler of its own runs the request's
        Scheduler secondScheduler = second == null ? null
                : request.hires().orElseThrow().scheduler().isPresent() ? hiresScheduler(secondId, second) : scheduler;
        List<FieldError> refused = new ArrayList<>(requestCheck.apply(request));
        if (second != null) {
            requestCheck.apply(second).forEach(e -> refused.add(new FieldError("hires", "the second pass at "
                    + second.width() + "x" + second.height() + ": " + e.field() + " " + e.message())));
        }
        if (!refused.isEmpty()) {
            throw new InvalidRequestException(refused);
        }
        if (!request.subjects().isEmpty() && (imageEncoder == null || resampler == null)) {
            throw new InvalidRequestException(List.of(new FieldError("subjects", "this pipeline has no image encoder "
                    + "or resampler, so it cannot take " + request.subjects().size() + " subjects")));
        }
        controlNets.check(request);
        try (NDManager gen = root.newSubManager()) {
            NDArray latents;
            if (second == null) {
                latents = denoise(gen, request, started(scheduler, request, gen), schedulerId, null,
                        new Progress(listener, 0, 0, start, null)).latents();
            } else {
                Hires hires = request.hires().orElseThrow();
                int taken = hires.stepsTaken(request.steps());
                Scheduler.Run firstRun = started(scheduler, request, gen);
                Scheduler.Run secondRun = started(secondScheduler, second, gen);
                int firstEvaluations = evaluations(firstRun, request, request.stepsTaken());
                int total = firstEvaluations + evaluations(secondRun, second, taken);
                // the output's control pictures are those of the second pass
                Pass first = denoise(gen, request, firstRun, schedulerId, null,
                        new Progress(new PassListener(listener, "", false), 0, total, start, null));
                stage(listener, "upscaling");
                Enlarged enlarged = new Enlarged(upscaled(gen, first.latents(), hires, second), hires.strength(),
                        taken);
                first.latents().close();
                // the encoders need not make the prompts and subjects again unless the second pass has prompts of its
                // own or its guidance adds or drops the unconditional rows
                Encoded encoded = rowsOf(second).equals(rowsOf(request))
                        && second.prompt().equals(request.prompt())
                        && second.negativePrompt().equals(request.negativePrompt()) ? first.encoded() : null;
                latents = denoise(gen, second, secondRun, secondId, enlarged, new Progress(
                        new PassListener(listener, "hires ", true), firstEvaluations, total, start, encoded))
                        .latents();
            }
            if (finalLatents != null && finalLatents.length > 0) {
                finalLatents[0] = toLatents(latents);
            }
            stage(listener, "decoding");
            List<BufferedImage> images;
            try (NDManager decode = gen.newSubManager()) {
                images = Images.fromTensor(decoder.decode(decode, latents));
            }
            Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
            weightCheck.run();
            return new GenerationResult(images, request, parameters(request, schedulerId), elapsed);
        }
    }

    /** A run of the request's steps, its fresh noise drawn from the request's seed. */
    private static Scheduler.Run started(Scheduler scheduler, GenerationRequest request, NDManager gen) {
        return scheduler.start(request.steps(), gen, (manager, shape, index) ->
                manager.create(Noise.step(request.seed(), index, shape.getShape()), shape));
    }

    /**
     * The model evaluations of a pass that takes the last {@code taken} of the request's steps, which the progress
     * counts (two per step but the last for second-order samplers).
     */
    private static int evaluations(Scheduler.Run run, GenerationRequest request, int taken) {
        return run.timesteps().length - run.firstEvaluationOf(request.steps() - taken);
    }

    /**
     * Where one denoising pass stands among a generation's: its evaluations among all, for the listener, and what an
     * earlier pass encoded.
     *
     * @param offset  the evaluations of earlier passes
     * @param total   the evaluations of every pass, or 0 for a generation of one pass
     * @param start   when the generation began ({@link System#nanoTime()})
     * @param encoded what the encoders made of the request in an earlier pass, or null to encode it
     */
    private record Progress(ProgressListener listener, int offset, int total, long start, Encoded encoded) {
    }

    /**
     * The listener of one pass of a generation with a second: its stages named as that pass's, and the control
     * pictures reported by the pass whose size the output has.
     */
    private static final class PassListener extends ForwardingProgressListener {
        private final String prefix;
        private final boolean controlImages;

        PassListener(ProgressListener listener, String prefix, boolean controlImages) {
            super(listener);
            this.prefix = prefix;
            this.controlImages = controlImages;
        }

        @Override
        public void onStage(String stage) {
            super.onStage(prefix + stage);
        }

        @Override
        public void onControlImage(int index, Control control, BufferedImage image) {
            if (controlImages) {
                super.onControlImage(index, control, image);
            }
        }
    }

    /**
     * A first pass's result at the size of a second.
     *
     * @param latents  [images, C, h, w] float32
     * @param strength the second pass's strength
     * @param taken    the steps the second pass takes
     */
    private record Enlarged(NDArray latents, double strength, int taken) {
    }

    /**
     * PyTorch's {@code interpolate(x, size=(height, width), mode=..., antialias=...)} of a latent upscaler, without
     * corner alignment, as A1111's latent upscalers call it.
     */
    static NDArray interpolated(NDArray x, Hires.Upscaler upscaler, int height, int width) {
        if (!INTERPOLATION.containsKey(upscaler)) {
            boolean exact = upscaler == Hires.Upscaler.LATENT_NEAREST_EXACT;
            long[] shape = x.getShape().getShape();
            float[] rowsDone = separable(x.toFloatArray(), (int) (shape[0] * shape[1]), (int) shape[2],
                    (int) shape[3], height, exact);
            float[] out = transpose(separable(transpose(rowsDone, (int) (shape[0] * shape[1]), height,
                    (int) shape[3]), (int) (shape[0] * shape[1]), (int) shape[3], height, width, exact),
                    (int) (shape[0] * shape[1]), width, height);
            return x.getManager().create(out, new Shape(shape[0], shape[1], height, width));
        }
        return x.getNDArrayInternal().interpolation(new long[] {height, width}, INTERPOLATION.get(upscaler), false);
    }

    /**
     * Enlarges the first axis of [planes, in, columns] to {@code out} as PyTorch's nearest-exact (each row from the
     * one its centre falls in: min(floor((i + 0.5) · in / out), in − 1)) or bicubic (its cubic convolution with
     * A = −0.75 around (i + 0.5) · in / out − 0.5, the four taps clamped to the rows) interpolation does.
     */
    private static float[] separable(float[] x, int planes, int in, int columns, int out, boolean nearestExact) {
        float[] y = new float[planes * out * columns];
        float scale = (float) in / out;
        for (int i = 0; i < out; i++) {
            int[] taps;
            float[] weights;
            if (nearestExact) {
                taps = new int[] {Math.min((int) Math.floor((i + 0.5f) * scale), in - 1)};
                weights = new float[] {1};
            } else {
                float real = scale * (i + 0.5f) - 0.5f;
                int base = (int) Math.floor(real);
                float t = real - base;
                taps = new int[4];
                for (int k = 0; k < 4; k++) {
                    taps[k] = Math.max(0, Math.min(in - 1, base - 1 + k));
                }
                weights = new float[] {cubicFar(t + 1), cubicNear(t), cubicNear(1 - t), cubicFar(2 - t)};
            }
            for (int p = 0; p < planes; p++) {
                for (int c = 0; c < columns; c++) {
                    float sum = 0;
                    for (int k = 0; k < taps.length; k++) {
                        sum += weights[k] * x[(p * in + taps[k]) * columns + c];
                    }
                    y[(p * out + i) * columns + c] = sum;
                }
            }
        }
        return y;
    }

    /** PyTorch's {@code cubic_convolution1}, for |x| ≤ 1, A = −0.75. */
    private static float cubicNear(float x) {
        return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
    }

    /** PyTorch's {@code cubic_convolution2}, for 1 &lt; |x| &lt; 2, A = −0.75. */
    private static float cubicFar(float x) {
        return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
    }

    /** [planes, rows, columns] to [planes, columns, rows]. */
    private static float[] transpose(float[] x, int planes, int rows, int columns) {
        float[] y = new float[x.length];
        for (int p = 0; p < planes; p++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < columns; c++) {
                    y[(p * columns + c) * rows + r] = x[(p * rows + r) * columns + c];
                }
            }
        }
        return y;
    }

    /**
     * The request of a hires pass: its size, steps, guidance and, where it names them, prompts and scheduler with its
     * settings, from the first pass's latents.
     *
     * @throws InvalidRequestException naming the fields under {@code hires}
     */
    private static GenerationRequest secondPass(GenerationRequest request) {
        Hires hires = request.hires().orElseThrow();
        double guidance = hires.guidance(request.guidanceScale());
        // the request's guidance rescale where the second pass is guided too
        GenerationRequest.Builder b = request.toBuilder().size(hires.width(), hires.height())
                .steps(hires.steps(request.steps())).guidanceScale(guidance)
                .guidanceRescale(guidance > 1 ? request.guidanceRescale() : 0).initLatents(null).hires(null);
        hires.scheduler().ifPresent(id -> b.scheduler(id).schedulerOptions(hires.schedulerOptions()));
        hires.prompt().ifPresent(b::prompt);
        hires.negativePrompt().ifPresent(b::negativePrompt);
        try {
            return b.build();
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException(e.errors().stream().map(err -> new FieldError("hires." + err.field(),
                    err.message())).toList());
        }
    }

    /**
     * The scheduler a hires pass names, with its settings.
     *
     * @throws InvalidRequestException naming {@code hires.scheduler} or {@code hires.schedulerOptions.<name>}
     */
    private Scheduler hiresScheduler(String id, GenerationRequest second) {
        try {
            return schedulers.forRequest(id, second.schedulerOptions());
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException(e.errors().stream().map(err -> new FieldError("hires." + err.field(),
                    err.message())).toList());
        }
    }

    /**
     * One denoising pass: the request's conditioning, then its last {@code taken} steps from the noise, the init image
     * or the latents of a first pass.
     *
     * @param enlarged a first pass's result to start from, or null
     */
    private Pass denoise(NDManager gen, GenerationRequest request, Scheduler.Run run, String schedulerId,
            Enlarged enlarged, Progress progress) {
        ProgressListener listener = progress.listener();
        GenerationContext ctx = new GenerationContext(request);
        // a run from a picture begins at the first evaluation of the first step it takes, as diffusers'
        // get_timesteps: its latents come first, so that a sampler or decoder that cannot start from a picture
        // fails before the encoders run
        int begin = run.firstEvaluationOf(request.steps() - (enlarged != null ? enlarged.taken()
                : request.stepsTaken()));
        FromPicture fromPicture;
        if (enlarged != null) {
            try (NDManager scope = gen.newSubManager()) {
                fromPicture = started(gen, scope, request, schedulerId, run, begin, Scopes.borrow(enlarged.latents(),
                        scope), null, enlarged.strength(), "a hires pass");
            }
            enlarged.latents().close();
        } else {
            fromPicture = request.initImage().isPresent() ? fromPicture(gen, request, schedulerId, run, begin,
                    listener) : null;
        }
        BatchRows rows = rowsOf(request);
        NDArray inpainting = inputs.maskedImageChannels() > 0 ? inpaintingInput(gen, request, rows, listener)
                : null;
        if (!request.controls().isEmpty()) {
            stage(listener, "preparing control images");
        }
        List<PreparedControl> controls = prepareControls(gen, request, rows, listener);
        Encoded encoded = progress.encoded();
        if (encoded == null) {
            stage(listener, "encoding prompt");
            encoded = encoded(gen, request, rows);
        }
        Conditioning c = conditioning(gen, request, rows, encoded, controls).withInpainting(inpainting);
        NDArray latents;
        // a released denoiser is loaded here, after the encoders are closed, and closed before decoding
        try (OnDemand.Lease<DenoisingModel> lease = denoiser.lease()) {
            DenoisingModel unet = lease.get();
            request.perturbedAttention().ifPresent(p -> ctx.put(PerturbedSelfAttention.KEY,
                    new PerturbedSelfAttention.Perturbation(perturbedLayers(unet, p), request.numImages())));
            if (fromPicture != null && fromPicture.start() != null) {
                latents = fromPicture.start();
            } else {
                NDArray noise = initialLatents(gen, request, unet);
                latents = noise.mul(run.initNoiseSigma());
                noise.close();
            }
            float[] timesteps = run.timesteps();
            int total = timesteps.length - begin;
            int all = progress.total() > 0 ? progress.total() : total;
            // the context's keys and values are the same at every step: computed here, not in the first step
            unet.prepare(c.context(), ctx);
            c.controls().stream().filter(p -> p.actsIn(total))
                    .forEach(p -> p.network().prepare(p.context(), ctx));
            stage(listener, "denoising");
            for (int i = 0; i < total; i++) {
                ctx.setStep(i, total);
                latents = step(gen, unet, run, begin + i, timesteps[begin + i], latents, c, request, ctx);
                // an inpainting denoiser sees the mask itself; a plain one keeps the picture outside it
                if (fromPicture != null && fromPicture.mask() != null && inpainting == null) {
                    latents = fromPicture.keepOutsideMask(gen, run, begin + i, i == total - 1, latents);
                }
                Duration elapsed = Duration.ofNanos(System.nanoTime() - progress.start());
                int done = progress.offset() + i + 1;
                if (!listener.onStep(done, all, elapsed) && done < all) {
                    throw new GenerationCancelledException("generation cancelled after step " + done + " of " + all);
                }
                preview(gen, latents, done, all, listener);
            }
        }
        return new Pass(latents, encoded);
    }

    /**
     * What a denoising pass gives.
     *
     * @param latents [images, C, h, w] float32 in the generation's scope
     * @param encoded what the encoders made of the request, which a second pass takes again
     */
    private record Pass(NDArray latents, Encoded encoded) {
    }

    /**
     * A first pass's latents enlarged to the second pass's size: bilinearly as latents, or decoded, resized with
     * Pillow's Lanczos and encoded again (each image's posterior sampled with the posterior noise of its seed), as
     * A1111's latent and Lanczos upscalers.
     *
     * @return [images, C, h, w] float32 in {@code gen}
     */
    private NDArray upscaled(NDManager gen, NDArray first, Hires hires, GenerationRequest second) {
        int factor = decoder.scaleFactor();
        if (hires.upscaler().latent()) {
            NDArray up = interpolated(first, hires.upscaler(), hires.height() / factor, hires.width() / factor);
            up.attach(gen);
            return up;
        }
        try (NDManager scope = gen.newSubManager()) {
            List<BufferedImage> pictures;
            try (NDManager decode = scope.newSubManager()) {
                pictures = Images.fromTensor(decoder.decode(decode, first));
            }
            NDList resized = new NDList();
            for (BufferedImage picture : pictures) {
                resized.add(ControlImages.toTensor(scope, PilResampler.resize(RgbImage.of(picture, null),
                        hires.width(), hires.height(), ResampleFilter.LANCZOS), 1));
            }
            NDArray sampled = encoded(scope, NDArrays.concat(resized), second, Noise::posterior);
            sampled.attach(gen);
            return sampled;
        }
    }

    /**
     * The decoder's preview of the first image after {@code step}, when the listener asks for one at this step; none
     * after the last step, which the decoded result follows at once.
     */
    private void preview(NDManager gen, NDArray latents, int step, int total, ProgressListener listener) {
        int every = listener.previewEvery();
        if (every <= 0 || step % every != 0 || step >= total) {
            return;
        }
        try (NDManager scope = gen.newSubManager()) {
            NDArray first = Scopes.borrow(latents, scope).get(new NDIndex("0:1"));
            decoder.preview(scope, first).ifPresent(p -> listener.onPreview(step, total,
                    Images.fromTensor(p).get(0)));
        }
    }

    /**
     * Where each phrase sits in the prompt's tokens, as auto layout finds it; the text encoder is loaded for the
     * call when encoders are released.
     */
    List<TextEncoder.TokenSpan> locatePhrases(String prompt, List<String> phrases) {
        try (OnDemand.Lease<TextEncoder> lease = textEncoder.lease()) {
            return lease.get().locatePhrases(prompt, phrases);
        }
    }

    /**
     * The conditioning picture a control's ControlNet receives in a generation of this size.
     *
     * @throws InvalidRequestException as {@link ControlNets#check} names the control's problems ({@code type},
     *     {@code options.<name>}), or when the preprocessor refuses the control
     */
    BufferedImage controlImage(Control control, int width, int height) {
        List<FieldError> problems = controlNets.problems(control, "control");
        if (!problems.isEmpty()) {
            throw new InvalidRequestException(problems);
        }
        return ControlImages.conditioningImage("control ('" + control.type() + "')", control,
                controlNets.preprocessors().get(control.type()), width, height).toBufferedImage();
    }

    private static void stage(ProgressListener listener, String name) {
        Cancellation.checkpoint();
        listener.onStage(name);
    }

    /**
     * The parts of the request's batch; a guidance-distilled denoiser takes the scale as an input, so it has no
     * unconditional part.
     */
    private BatchRows rowsOf(GenerationRequest request) {
        return new BatchRows(request.guidanceEnabled() && inputs.guidanceEmbedding() == 0,
                request.perturbedAttention().isPresent());
    }

    /**
     * The self-attention layers of the denoiser that perturbed-attention guidance perturbs.
     *
     * @throws InvalidRequestException naming {@code perturbedAttention.layers[i]} when a pattern is found in no
     *     self-attention layer's name
     */
    private static Set<String> perturbedLayers(DenoisingModel unet, PerturbedAttention guidance) {
        List<String> selfAttention = unet.attentionLayers().stream().filter(l -> !l.isCrossAttention())
                .map(AttentionLayerSpec::name).toList();
        List<FieldError> errors = new ArrayList<>();
        Set<String> perturbed = new HashSet<>();
        for (int i = 0; i < guidance.layers().size(); i++) {
            int index = i;
            List<String> found = selfAttention.stream().filter(name -> guidance.finds(index, name)).toList();
            if (found.isEmpty()) {
                errors.add(new FieldError("perturbedAttention.layers[" + i + "]", "'" + guidance.layers().get(i)
                        + "' is found in the name of no self-attention layer of the denoiser ("
                        + selfAttention.size() + " layers, e.g. " + selfAttention.stream().limit(2).toList() + ")"));
            }
            perturbed.addAll(found);
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        return Set.copyOf(perturbed);
    }

    /**
     * Everything of a pass that does not depend on the latents: computed once per pass.
     *
     * @param controls   the request's controls, each with the context its network cross-attends to
     * @param guidance   the guidance embedding of a guidance-distilled denoiser, or null
     * @param inpainting what an inpainting denoiser takes beside the latents ({@link #inpaintingInput}), or null
     */
    private record Conditioning(EncoderContext context, NDArray pooled, NDArray timeIds, BatchRows rows,
            NDArray guidance, List<PreparedControl> controls, NDArray inpainting) {
        Conditioning withInpainting(NDArray input) {
            return new Conditioning(context, pooled, timeIds, rows, guidance, controls, input);
        }
    }

    /**
     * A control ready for the steps.
     *
     * @param image   [rows, 3, H, W] in the compute dtype
     * @param context what its network cross-attends to (set once the prompt is encoded)
     */
    private record PreparedControl(Control control, Conditioner network, NDArray image, ControlNetContext mode,
            EncoderContext context) {
        PreparedControl withContext(EncoderContext c) {
            return new PreparedControl(control, network, image, mode, c);
        }

        /** The conditioning scale its residuals are multiplied by. */
        float scale() {
            return (float) control.conditioningScale();
        }

        /** Whether the control acts at step {@code step} of {@code steps}: inside its window, at a scale not 0. */
        boolean actsAt(int step, int steps) {
            return scale() != 0 && control.activeAt(step, steps);
        }

        /** Whether the control acts at any of {@code steps} steps. */
        boolean actsIn(int steps) {
            return IntStream.range(0, steps).anyMatch(i -> actsAt(i, steps));
        }
    }

    private List<PreparedControl> prepareControls(NDManager gen, GenerationRequest request, BatchRows batch,
            ProgressListener listener) {
        int rows = batch.parts() * request.numImages();
        List<PreparedControl> out = new ArrayList<>();
        for (int i = 0; i < request.controls().size(); i++) {
            Control control = request.controls().get(i);
            RgbImage picture = ControlImages.conditioningImage(i, control,
                    controlNets.preprocessors().get(control.type()), request.width(), request.height());
            listener.onControlImage(i, control, picture.toBufferedImage());
            NDArray image = castToCompute(ControlImages.toTensor(gen, picture, rows));
            out.add(new PreparedControl(control, controlNets.conditioners().get(control.type()), image,
                    controlNets.contextOf(control), null));
        }
        return out;
    }

    /** Whether this pipeline has an image encoder and resampler, so takes subjects. */
    boolean takesSubjects() {
        return imageEncoder != null && resampler != null;
    }

    /**
     * The subject fields the pipeline's adapter reads, asked of the resampler once (they do not change).
     *
     * @throws IllegalStateException when the pipeline takes no subjects
     */
    SubjectFields subjectFields() {
        AdapterFields known = adapterFields;
        if (known != null) {
            return known.fields();
        }
        if (resampler == null) {
            throw new IllegalStateException("this pipeline takes no subjects");
        }
        try (OnDemand.Lease<SubjectResampler> lease = resampler.lease()) {
            return adapter(lease.get()).fields();
        }
    }

    /** What the subject adapter reads, asked of the resampler once. */
    private AdapterFields adapter(SubjectResampler r) {
        AdapterFields known = adapterFields;
        if (known == null) {
            known = new AdapterFields(new SubjectFields(r.subjectFields(), "subject resampler '"
                    + description.getOrDefault("component.subject_resampler", "given") + "'"), r.imageFeatures());
            adapterFields = known;
        }
        return known;
    }

    /** The subject fields and image features the pipeline's resampler reads. */
    private record AdapterFields(SubjectFields fields, ImageEncoder.Features features) {
    }

    /**
     * The conditioning of a request; with subjects, the resampler is held through the encoding (a released one is
     * created once per generation), and the subjects are checked against what it reads first.
     *
     * @throws InvalidRequestException naming each subject field the adapter does not read or lacks
     */
    /**
     * What the encoders make of the request: the same for every pass of a generation, as it does not depend on the
     * size (a subject's box is relative).
     *
     * @param context the text tokens [rows, L, D], and the subjects' conditioning where there are subjects
     * @param pooled  [rows, P]
     */
    private record Encoded(EncoderContext context, NDArray pooled) {
    }

    private Encoded encoded(NDManager gen, GenerationRequest request, BatchRows rows) {
        if (request.subjects().isEmpty()) {
            return encoded(gen, request, rows, null);
        }
        try (OnDemand.Lease<SubjectResampler> lease = resampler.lease()) {
            List<FieldError> problems = adapter(lease.get()).fields().problems(request);
            if (!problems.isEmpty()) {
                throw new InvalidRequestException(problems);
            }
            return encoded(gen, request, rows, lease.get());
        }
    }

    /** @param adapter the resampler, null without subjects */
    private Encoded encoded(NDManager gen, GenerationRequest request, BatchRows rows, SubjectResampler adapter) {
        int n = request.numImages();
        boolean withSubjects = adapter != null;
        boolean withPhrases = withSubjects
                && adapter(adapter).fields().reads().contains(SubjectResampler.SubjectField.PHRASE);
        List<String> phrases = request.subjects().stream().map(Subject::phrase).toList();
        // the encoders run one after the other, so that released ones are never resident together
        TextEncoder.PromptEmbeddings cond;
        TextEncoder.PromptEmbeddings uncond = null;
        NDArray phraseEmbeds = null;
        TextLayout text;
        try (OnDemand.Lease<TextEncoder> lease = textEncoder.lease()) {
            TextEncoder encoder = lease.get();
            cond = encoder.encode(gen, Collections.nCopies(n, request.prompt()));
            if (rows.guided()) {
                uncond = encoder.encodeNegative(gen, Collections.nCopies(n, request.negativePrompt()));
            }
            if (withPhrases) {
                phraseEmbeds = encoder.encodePhrases(gen, phrases);
            }
            text = withPhrases ? new TextLayout(encoder.locatePhrases(request.prompt(), phrases),
                    encoder.endOfTextIndex(request.prompt())) : new TextLayout(List.of(), -1);
        }
        NDArray textTokens = rows.of(uncond == null ? null : uncond.tokens(), cond.tokens());
        Optional<SubjectConditioning> subjects = withSubjects
                ? Optional.of(subjects(gen, request, rows, phraseEmbeds, text, adapter)) : Optional.empty();
        NDArray pooled = rows.of(uncond == null ? null : uncond.pooled(), cond.pooled());
        return new Encoded(new EncoderContext(textTokens, subjects), pooled);
    }

    /**
     * Everything of a pass that does not depend on the latents: the encoders' output, SDXL's size conditioning, each
     * control with the context its network cross-attends to, and a guidance-distilled denoiser's embedding.
     */
    private Conditioning conditioning(NDManager gen, GenerationRequest request, BatchRows rows, Encoded encoded,
            List<PreparedControl> controls) {
        int n = request.numImages();
        NDArray textTokens = encoded.context().text();
        Optional<SubjectConditioning> subjects = encoded.context().subjects();
        float[] ids = timeIds(request.height(), request.width(), rows.parts() * n);
        NDArray timeIds = castToCompute(gen.create(ids, new Shape(ids.length / 6, 6)));
        EncoderContext textOnly = EncoderContext.text(textTokens);
        // the joined context is made only when a control asks for it
        boolean anyFull = controls.stream().anyMatch(p -> p.mode() == ControlNetContext.FULL);
        EncoderContext full = anyFull ? subjects.map(s -> EncoderContext.text(textTokens.concat(s.tokens(), 1)))
                .orElse(textOnly) : textOnly;
        List<PreparedControl> withContext = controls.stream()
                .map(p -> p.withContext(p.mode() == ControlNetContext.FULL ? full : textOnly)).toList();
        int width = inputs.guidanceEmbedding();
        NDArray guidance = width == 0 ? null : castToCompute(rows.repeated(gen.create(GuidanceEmbedding.of(
                request.guidanceScale(), width, n), new Shape(n, width))));
        return new Conditioning(encoded.context(), encoded.pooled(), timeIds, rows, guidance, withContext, null);
    }

    /** What the subjects' layout needs of the text encoder, taken while it is open. */
    private record TextLayout(List<TextEncoder.TokenSpan> phraseSpans, int endOfText) {
    }

    /**
     * SDXL's micro-conditioning per batch row: original size (h, w), crop top-left (0, 0), target size (h, w),
     * as diffusers' pipeline sets it when neither is given.
     */
    static float[] timeIds(int height, int width, int rows) {
        float[] ids = new float[rows * 6];
        for (int b = 0; b < rows; b++) {
            System.arraycopy(new float[] {height, width, 0, 0, height, width}, 0, ids, b * 6, 6);
        }
        return ids;
    }

    /**
     * The subjects' conditioning: the resampler's dummy and subject tokens for every conditional row, and for the
     * unconditional ones what the resampler asks for ({@link SubjectResampler#unconditional()}). {@code phraseEmbeds} (the
     * phrases' text embeddings, null when the adapter reads none) are closed here.
     */
    private SubjectConditioning subjects(NDManager gen, GenerationRequest request, BatchRows batch,
            NDArray phraseEmbeds, TextLayout text, SubjectResampler r) {
        List<Subject> subjects = request.subjects();
        List<BufferedImage> pictures = new ArrayList<>();
        float[] boxes = new float[subjects.size() * 4];
        boolean[] drop = new boolean[subjects.size()];
        for (int i = 0; i < subjects.size(); i++) {
            Subject s = subjects.get(i);
            pictures.add(s.image());
            System.arraycopy(s.box().toArray(), 0, boxes, i * 4, 4);
            drop[i] = s.dropGrounding();
        }
        int n = request.numImages();
        boolean guided = batch.guided();
        NDArray rows;
        int perSubject;
        try (NDManager scope = gen.newSubManager()) {
            if (phraseEmbeds != null) {
                phraseEmbeds.attach(scope);
            }
            SubjectResampler.Unconditional unconditional = r.unconditional();
            ImageEncoder.Features features = adapter(r).features();
            NDArray imageEmbeds;
            NDArray blankEmbeds = null;
            try (OnDemand.Lease<ImageEncoder> lease = imageEncoder.lease()) {
                imageEmbeds = lease.get().encode(scope, pictures, features);
                if (guided && unconditional == SubjectResampler.Unconditional.BLANK_PICTURE_FEATURES) {
                    blankEmbeds = lease.get().encodeBlank(scope, subjects.size(), features);
                }
            }
            NDArray boxArray = castToCompute(scope.create(boxes, new Shape(subjects.size(), 4)));
            NDArray background = r.dummyTokens(scope);
            NDArray condRow = background.concat(flatTokens(r.resample(scope, imageEmbeds, phraseEmbeds, boxArray,
                    drop)), 1);
            NDArray uncondRow = !guided ? null : switch (unconditional) {
                case ZERO_TOKENS -> kernels.zeros(scope, condRow.getShape(), dtype);
                case ZERO_FEATURES -> background.concat(flatTokens(r.resample(scope,
                        kernels.zeros(scope, imageEmbeds.getShape(), dtype), phraseEmbeds, boxArray, drop)), 1);
                case BLANK_PICTURE_FEATURES -> background.concat(flatTokens(r.resample(scope, blankEmbeds,
                        phraseEmbeds, boxArray, drop)), 1);
            };
            rows = batch.of(uncondRow == null ? null : uncondRow.repeat(0, n), condRow.repeat(0, n));
            perSubject = r.tokensPerSubject();
            rows.attach(gen);
        }
        int dummy = (int) (rows.getShape().get(1) - (long) subjects.size() * perSubject);
        boolean ownScales = subjects.stream().anyMatch(s -> s.scale().isPresent());
        return new SubjectConditioning(rows, guided ? n : 0, dummy, perSubject,
                subjects.stream().map(Subject::box).toList(), request.imageScale(),
                ownScales ? Optional.of(request.subjectScales()) : Optional.empty(), text.phraseSpans(),
                text.endOfText(), request.autoLayout());
    }

    /** [N, T, D] subject tokens as one row [1, N·T, D]. */
    private static NDArray flatTokens(NDArray tokens) {
        long[] s = tokens.getShape().getShape();
        return tokens.reshape(1, s[0] * s[1], s[2]);
    }

    /** @param i the scheduler's evaluation index (the context's step counts from the first a run takes) */
    private NDArray step(NDManager gen, DenoisingModel unet, Scheduler.Run run, int i, float t, NDArray latents,
            Conditioning c, GenerationRequest request, GenerationContext ctx) {
        Cancellation.checkpoint();
        try (NDManager step = gen.newSubManager()) {
            // DJL attaches results to the receiver's manager: work on an alias owned by this step
            NDArray current = Scopes.borrow(latents, step);
            NDArray scaled = run.scaleModelInput(current, i);
            NDArray rows = c.rows().repeated(scaled);
            // arrays are joined in float32 and cast after: the compute dtype may be one DJL cannot be handed
            NDArray withMask = c.inpainting() == null ? null
                    : castToCompute(rows.concat(Scopes.borrow(c.inpainting(), step), 1));
            // ControlNets see the latents alone: an inpainting denoiser's input needs them only for its controls
            NDArray input = withMask == null || !c.controls().isEmpty() ? castToCompute(rows) : null;
            DenoisingModel.ControlResiduals control = controlResiduals(step, ctx.step(), ctx.totalSteps(), input, t, c,
                    ctx);
            NDArray unetInput = withMask == null ? input : withMask;
            NDArray eps = unet.predictNoise(step, new DenoisingModel.DenoisingInput(unetInput, t, c.context(),
                    c.pooled(), c.timeIds(), control, c.guidance()), ctx);
            NDArray next = run.step(toFloat32(guided(eps, c.rows(), t, request)), i, current);
            // on a GPU the step's work is only queued when this returns; reading one value waits for it, so that a
            // step is reported (the listener's elapsed time, bench's step figure) once it is computed
            next.getFloat(0, 0, 0, 0);
            next.attach(gen);
            latents.close();
            return next;
        }
    }

    /**
     * The prediction a step takes from the parts of the batch's ({@link BatchRows}): with classifier-free guidance
     * uncond + g · (cond − uncond), else cond; with perturbed-attention guidance plus s_t · (cond − perturbed); then
     * with guidance rescale {@link #rescaled} towards cond, as diffusers' PAG pipelines combine them.
     */
    static NDArray guided(NDArray eps, BatchRows rows, float t, GenerationRequest request) {
        if (rows.parts() == 1) {
            return eps;
        }
        NDList parts = eps.split(rows.parts(), 0);
        NDArray cond = parts.get(rows.conditional());
        NDArray guided = cond;
        if (rows.guided()) {
            NDArray uncond = parts.get(0);
            guided = uncond.add(cond.sub(uncond).mul((float) request.guidanceScale()));
        }
        if (rows.perturbed()) {
            double scale = request.perturbedAttention().orElseThrow().scaleAt(t);
            guided = guided.add(cond.sub(parts.get(parts.size() - 1)).mul((float) scale));
        }
        if (rows.guided() && request.guidanceRescale() > 0) {
            guided = rescaled(toFloat32(guided), toFloat32(cond), request.guidanceRescale());
        }
        return guided;
    }

    /**
     * diffusers' {@code rescale_noise_cfg}: the guided prediction scaled towards the standard deviation of the
     * conditional one, image by image (torch's unbiased {@code std} over channels and pixels), by φ:
     * φ · cfg · std(cond) / std(cfg) + (1 − φ) · cfg. In float32.
     */
    static NDArray rescaled(NDArray cfg, NDArray cond, double phi) {
        NDArray ratio = std(cond).div(std(cfg)).reshape(cfg.getShape().get(0), 1, 1, 1);
        return cfg.mul(ratio).mul((float) phi).add(cfg.mul((float) (1 - phi)));
    }

    /** Each image's unbiased standard deviation over its channels and pixels, as [N, 1]. */
    private static NDArray std(NDArray x) {
        long images = x.getShape().get(0);
        NDArray flat = x.reshape(images, -1);
        NDArray centred = flat.sub(flat.mean(new int[] {1}, true));
        return centred.square().sum(new int[] {1}, true).div((float) (flat.getShape().get(1) - 1)).sqrt();
    }

    /** The summed residuals of the controls acting at step {@code i}, or null when none acts. */
    private DenoisingModel.ControlResiduals controlResiduals(NDManager step, int i, int steps, NDArray input, float t,
            Conditioning c, GenerationContext ctx) {
        DenoisingModel.ControlResiduals sum = null;
        for (PreparedControl p : c.controls()) {
            if (!p.actsAt(i, steps)) {
                continue;
            }
            DenoisingModel.ControlResiduals r = p.network().residuals(step, new DenoisingModel.DenoisingInput(input,
                    t, p.context(), c.pooled(), c.timeIds(), null), p.image(), p.scale(), ctx);
            sum = sum == null ? r : add(sum, r, p.control().type());
        }
        return sum;
    }

    private static DenoisingModel.ControlResiduals add(DenoisingModel.ControlResiduals a,
            DenoisingModel.ControlResiduals b, String type) {
        if (a.down().size() != b.down().size()) {
            throw new IllegalStateException("ControlNet '" + type + "' gave " + b.down().size()
                    + " down residuals, the ControlNets before it " + a.down().size());
        }
        List<NDArray> down = new ArrayList<>();
        for (int j = 0; j < a.down().size(); j++) {
            down.add(a.down().get(j).add(b.down().get(j)));
        }
        return new DenoisingModel.ControlResiduals(down, a.mid().add(b.mid()));
    }

    /**
     * What a run from a picture starts from, in the generation's scope.
     *
     * @param start   the latents of the first step taken, or null to start from noise (a masked run at strength 1)
     * @param picture the picture's latents, null without a mask
     * @param noise   the starting noise, null without a mask
     * @param mask    [1, 1, h, w]: 1 where the run repaints, 0 where it keeps the picture; null for none
     * @param kept    1 − mask, made once for every step's blend; null without a mask
     */
    private record FromPicture(NDArray start, NDArray picture, NDArray noise, NDArray mask, NDArray kept) {

        /**
         * diffusers' inpainting with a UNet of four input channels: after evaluation {@code index}, the latents
         * outside the mask are the picture's noised to the next evaluation's level, after the last the picture's own.
         */
        NDArray keepOutsideMask(NDManager gen, Scheduler.Run run, int index, boolean last, NDArray latents) {
            try (NDManager scope = gen.newSubManager()) {
                NDArray x = Scopes.borrow(latents, scope);
                NDArray clean = Scopes.borrow(picture, scope);
                NDArray proper = last ? clean : run.addNoise(clean, Scopes.borrow(noise, scope), index + 1);
                NDArray blended = Scopes.borrow(kept, scope).mul(proper).add(Scopes.borrow(mask, scope).mul(x));
                blended.attach(gen);
                latents.close();
                return blended;
            }
        }
    }

    /**
     * The init image's latents noised to the level of evaluation {@code begin}, as diffusers'
     * {@code StableDiffusionXLImg2ImgPipeline.prepare_latents}: the picture resized to the generation's size (Pillow's
     * Lanczos, as its image processor), encoded once, its posterior sampled for image b with the posterior noise of
     * seed + b and noised with the starting noise of seed + b (a batch's images are the generations of their seeds).
     * With a mask, as its {@code StableDiffusionXLInpaintPipeline}: the picture's latents, the noise and the mask are
     * kept for the steps, and at strength 1 the run starts from noise.
     *
     * @throws InvalidRequestException naming {@code initImage} when the decoder cannot encode, {@code scheduler} when
     *     the sampler cannot start from a picture
     */
    private FromPicture fromPicture(NDManager gen, GenerationRequest request, String schedulerId, Scheduler.Run run,
            int begin, ProgressListener listener) {
        stage(listener, "encoding init image");
        InitImage init = request.initImage().orElseThrow();
        try (NDManager scope = gen.newSubManager()) {
            NDArray sampled = encoded(scope, ControlImages.toTensor(scope, resized(request), 1), request,
                    Noise::posterior);
            return started(gen, scope, request, schedulerId, run, begin, sampled, init.mask(), init.strength(),
                    "an initImage");
        }
    }

    /**
     * A run from a picture's latents ({@code sampled}, in {@code scope}): noised to the level of evaluation
     * {@code begin} with the starting noise of seed + b, and with a mask what the steps keep of the picture.
     *
     * @param what what the run starts from, for messages
     * @throws InvalidRequestException naming {@code scheduler} when the sampler cannot start from a picture
     */
    private FromPicture started(NDManager gen, NDManager scope, GenerationRequest request, String schedulerId,
            Scheduler.Run run, int begin, NDArray sampled, BufferedImage maskImage, double strength, String what) {
        long[] shape = sampled.getShape().getShape();
        NDArray noise = scope.create(startingNoise(request, shape), new Shape(shape));
        // an inpainting denoiser runs as diffusers' inpaint pipeline, without a mask as with one of white alone
        boolean masked = maskImage != null || inputs.maskedImageChannels() > 0;
        NDArray start;
        try {
            start = run.addNoise(sampled, noise, begin);
        } catch (UnsupportedOperationException e) {
            throw new InvalidRequestException(List.of(new FieldError("scheduler", "'" + schedulerId + "': "
                    + e.getMessage() + ", so it cannot take " + what)));
        }
        if (masked && strength == 1) {
            // diffusers' inpainting at full strength starts from the noise alone
            start = null;
        }
        if (maskImage == null) {
            if (start != null) {
                start.attach(gen);
            }
            return new FromPicture(start, null, null, null, null);
        }
        NDArray mask = scope.create(LatentMask.of(maskImage, request.width(), request.height(),
                decoder.scaleFactor()), new Shape(1, 1, shape[2], shape[3]));
        NDArray kept = mask.neg().add(1f);
        for (NDArray generation : new NDArray[] {start, sampled, noise, mask, kept}) {
            if (generation != null) {
                generation.attach(gen);
            }
        }
        return new FromPicture(start, sampled, noise, mask, kept);
    }

    /**
     * What an inpainting denoiser takes beside the latents, as diffusers' SDXL inpaint pipeline prepares it
     * ({@code prepare_mask_latents}): the mask on the latent grid, and the latents of the masked picture (the init
     * image, grey where the mask repaints), its posterior sampled for image b with the masked-picture noise of
     * seed + b. Without a mask the mask is white, so without an init image too the masked picture is grey alone.
     *
     * @return [rows, 1 + C, h, w] float32, the images' rows repeated for each part of the batch
     * @throws InvalidRequestException naming {@code initImage} when the decoder cannot encode
     */
    private NDArray inpaintingInput(NDManager gen, GenerationRequest request, BatchRows batch,
            ProgressListener listener) {
        stage(listener, "encoding masked picture");
        int width = request.width();
        int height = request.height();
        int factor = decoder.scaleFactor();
        Optional<InitImage> init = request.initImage();
        float[] repaint = init.map(InitImage::mask).map(m -> LatentMask.binarized(m, width, height))
                .orElseGet(() -> filled(width * height, 1f));
        float[] pixels = filled(3 * width * height, 0.5f);
        if (init.isPresent()) {
            RgbImage picture = resized(request);
            int plane = width * height;
            for (int i = 0; i < plane; i++) {
                for (int ch = 0; ch < 3; ch++) {
                    // diffusers' init_image * (mask < 0.5) in -1..1 is mid-grey in 0..1
                    pixels[ch * plane + i] = repaint[i] == 1f ? 0.5f : (picture.pixels()[i * 3 + ch] & 0xFF) / 255f;
                }
            }
        }
        try (NDManager scope = gen.newSubManager()) {
            NDArray masked = encoded(scope, scope.create(pixels, new Shape(1, 3, height, width)), request,
                    Noise::maskedPosterior);
            long[] shape = masked.getShape().getShape();
            NDArray mask = scope.create(LatentMask.toLatentGrid(repaint, width, height, factor),
                    new Shape(1, 1, shape[2], shape[3])).repeat(0, request.numImages());
            NDArray input = mask.concat(masked, 1);
            NDArray rows = batch.repeated(input);
            rows.attach(gen);
            return rows;
        }
    }

    /** The init image resized to the generation's size with Pillow's Lanczos, as diffusers' image processor. */
    private static RgbImage resized(GenerationRequest request) {
        return PilResampler.resize(RgbImage.of(request.initImage().orElseThrow().image(), null), request.width(),
                request.height(), ResampleFilter.LANCZOS);
    }

    /**
     * A picture's latents: the decoder's posterior of {@code pixels} (one picture), sampled for image b of the request
     * with the noise {@code stream} draws from seed + b.
     *
     * @return [images, C, h, w] float32, in {@code scope}
     * @throws InvalidRequestException naming {@code initImage} when the decoder cannot encode
     */
    private NDArray encoded(NDManager scope, NDArray pixels, GenerationRequest request,
            BiFunction<Long, long[], float[]> stream) {
        LatentDecoder.Posterior posterior;
        try {
            posterior = decoder.encode(scope, pixels);
        } catch (UnsupportedOperationException e) {
            throw new InvalidRequestException(List.of(new FieldError("initImage", e.getMessage())));
        }
        long[] shape = posterior.mean().getShape().getShape();
        shape[0] = request.numImages();
        return toFloat32(posterior.sample(scope.create(stream.apply(request.seed(), shape), new Shape(shape))));
    }

    private static float[] filled(int size, float value) {
        float[] out = new float[size];
        Arrays.fill(out, value);
        return out;
    }

    private NDArray initialLatents(NDManager gen, GenerationRequest request, DenoisingModel unet) {
        int factor = decoder.scaleFactor();
        long[] shape = {request.numImages(), unet.latentChannels(), request.height() / factor,
            request.width() / factor};
        if (request.initLatents().isPresent()) {
            Latents given = request.initLatents().get();
            if (!Arrays.equals(given.shape(), shape)) {
                throw new InvalidRequestException(List.of(new FieldError("initLatents", "has shape "
                        + Arrays.toString(given.shape()) + ", expected " + Arrays.toString(shape) + " for "
                        + request.width() + "x" + request.height())));
            }
            return gen.create(given.values(), new Shape(shape));
        }
        return gen.create(startingNoise(request, shape), new Shape(shape));
    }

    /** The starting noise of a request of latent shape {@code shape}, with its seed's noise drawn where it says. */
    private float[] startingNoise(GenerationRequest request, long[] shape) {
        int factor = decoder.scaleFactor();
        return Noise.starting(request.seed(), request.variation(), request.seedResizeFrom().map(r -> new int[] {
            r.height() / factor, r.width() / factor}), shape);
    }

    private NDArray castToCompute(NDArray x) {
        if (dtype == ComputeDType.FLOAT32) {
            return x;
        }
        NDArray cast = kernels.cast(x, dtype);
        x.close();
        return cast;
    }

    /** Latents and scheduler arithmetic stay in float32, as diffusers keeps them. */
    private static NDArray toFloat32(NDArray x) {
        return x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
    }

    private static Latents toLatents(NDArray latents) {
        return new Latents(latents.getShape().getShape(), latents.toFloatArray());
    }

    /**
     * What made a result besides its request: the scheduler that ran, the compute dtype, each control's effective
     * settings and the pipeline's description (components, model paths, engine, LoRAs).
     */
    private Map<String, String> parameters(GenerationRequest r, String schedulerId) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("scheduler", schedulerId);
        p.put("compute_dtype", dtype.configName());
        for (int i = 0; i < r.controls().size(); i++) {
            Control c = r.controls().get(i);
            StringBuilder spec = new StringBuilder("type=" + c.type() + ",scale=" + c.conditioningScale() + ",start="
                    + c.guidanceStart() + ",end=" + c.guidanceEnd() + ",context="
                    + controlNets.contextOf(c).configName());
            c.requestOptions().forEach((k, v) -> {
                if (!k.equals(Control.CONTEXT_OPTION)) {
                    spec.append(',').append(k).append('=').append(v);
                }
            });
            p.put("control." + i, spec.toString());
        }
        p.putAll(description);
        return p;
    }
}
