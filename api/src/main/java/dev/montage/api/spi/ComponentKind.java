package dev.montage.api.spi;

/** The slots a pipeline is assembled from; each component factory fills one kind. */
public enum ComponentKind {
    TEXT_ENCODER(TextEncoder.class),
    IMAGE_ENCODER(ImageEncoder.class),
    SUBJECT_RESAMPLER(SubjectResampler.class),
    ATTENTION_PROCESSOR(AttentionProcessor.class),
    DENOISING_MODEL(DenoisingModel.class),
    CONDITIONER(Conditioner.class),
    CONDITION_PREPROCESSOR(ConditionPreprocessor.class),
    SCHEDULER(Scheduler.class),
    LATENT_DECODER(LatentDecoder.class),
    RECIPE(Recipe.class);

    private final Class<?> type;

    ComponentKind(Class<?> type) {
        this.type = type;
    }

    /** The interface a component of this kind implements. */
    public Class<?> type() {
        return type;
    }
}
