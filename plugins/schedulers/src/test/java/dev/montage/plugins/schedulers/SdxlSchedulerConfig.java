package dev.montage.plugins.schedulers;

import dev.montage.api.host.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/** SDXL base's {@code scheduler/scheduler_config.json} (an EulerDiscreteScheduler configuration), for tests. */
final class SdxlSchedulerConfig {
    static final String SOURCE = "sdxl/scheduler/scheduler_config.json";

    private SdxlSchedulerConfig() {
    }

    /** The file's values. */
    static Map<String, Object> values() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("_class_name", "EulerDiscreteScheduler");
        v.put("_diffusers_version", "0.19.0.dev0");
        v.put("beta_end", 0.012);
        v.put("beta_schedule", "scaled_linear");
        v.put("beta_start", 0.00085);
        v.put("clip_sample", false);
        v.put("interpolation_type", "linear");
        v.put("num_train_timesteps", 1000);
        v.put("prediction_type", "epsilon");
        v.put("sample_max_value", 1.0);
        v.put("set_alpha_to_one", false);
        v.put("skip_prk_steps", true);
        v.put("steps_offset", 1);
        v.put("timestep_spacing", "leading");
        v.put("trained_betas", null);
        v.put("use_karras_sigmas", false);
        return v;
    }

    /** The file as settings. */
    static SchedulerSettings settings() {
        return SchedulerSettings.of(new ModelConfig(SOURCE, values()));
    }

    /** The file with some settings overridden, as a request would. */
    static SchedulerSettings settings(Map<String, ?> overrides) {
        return settings().with("test override", overrides);
    }

    /** ᾱ_t of the file's scaled-linear betas, computed independently in float64. */
    static double alphaCumprod(int t) {
        double a = Math.sqrt(0.00085);
        double b = Math.sqrt(0.012);
        double product = 1;
        for (int i = 0; i <= t; i++) {
            double beta = Math.pow(a + (b - a) * i / 999, 2);
            product *= 1 - beta;
        }
        return product;
    }
}
