package dev.montage.samples.luminance;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.Scheduler;
import java.util.List;

/**
 * Factory of {@code sample-euler-exponential}: reads the training noise schedule from the base model's
 * {@code scheduler/scheduler_config.json} (diffusers keys {@code beta_start}, {@code beta_end},
 * {@code beta_schedule} linear or scaled_linear, {@code num_train_timesteps}, {@code prediction_type} epsilon).
 */
public final class ExponentialEulerSchedulerFactory implements ComponentFactory<Scheduler> {

    /** Found through {@code META-INF/services}. */
    public ExponentialEulerSchedulerFactory() {
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.SCHEDULER;
    }

    @Override
    public String id() {
        return "sample-euler-exponential";
    }

    @Override
    public String description() {
        return "Euler sampler on an exponential sigma schedule (sample third-party plugin)";
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.folder("scheduler", "scheduler",
                "a diffusers scheduler folder (scheduler_config.json)"));
    }

    @Override
    public Scheduler create(ComponentContext context) {
        return new ExponentialEulerScheduler(betas(context.model("scheduler").json("scheduler_config.json")));
    }

    /** The training betas the configuration describes. */
    static double[] betas(ModelConfig config) {
        String prediction = config.getString("prediction_type", "epsilon");
        if (!prediction.equals("epsilon")) {
            throw new IllegalArgumentException(config.source() + ": prediction_type '" + prediction
                    + "' is not supported by sample-euler-exponential, expected 'epsilon'");
        }
        int n = config.getInt("num_train_timesteps");
        double start = config.getDouble("beta_start");
        double end = config.getDouble("beta_end");
        String schedule = config.getString("beta_schedule", "linear");
        boolean scaled = switch (schedule) {
            case "linear" -> false;
            case "scaled_linear" -> true;
            default -> throw new IllegalArgumentException(config.source() + ": beta_schedule '" + schedule
                    + "' is not supported by sample-euler-exponential, expected linear or scaled_linear");
        };
        if (n < 2) {
            throw new IllegalArgumentException(config.source() + ": num_train_timesteps must be at least 2, got " + n);
        }
        double[] betas = new double[n];
        for (int t = 0; t < n; t++) {
            double f = (double) t / (n - 1);
            betas[t] = scaled ? Math.pow(Math.sqrt(start) + f * (Math.sqrt(end) - Math.sqrt(start)), 2)
                    : start + f * (end - start);
        }
        return betas;
    }
}
