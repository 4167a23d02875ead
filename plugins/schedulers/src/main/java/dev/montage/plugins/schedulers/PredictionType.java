package dev.montage.plugins.schedulers;

/** What the denoising model predicts (diffusers' {@code prediction_type}). */
enum PredictionType {
    /** The noise ε (SD, SDXL base). */
    EPSILON,
    /** The velocity v = ᾱ^½ ε − (1 − ᾱ)^½ x₀ (Imagen Video, section 2.4). */
    V_PREDICTION;

    /** The {@code prediction_type} setting ({@code epsilon} by default). */
    static PredictionType of(SchedulerSettings settings) {
        String name = settings.choice("prediction_type", "epsilon", SchedulerOptions.PREDICTION_TYPE.choices());
        return name.equals("epsilon") ? EPSILON : V_PREDICTION;
    }
}
