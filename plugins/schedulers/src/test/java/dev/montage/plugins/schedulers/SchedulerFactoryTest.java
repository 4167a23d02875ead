package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The factories as the host finds them, building from a component context. */
class SchedulerFactoryTest {

    /** A context whose only model is a scheduler folder, with the given profile options. */
    private record Context(ModelFolder scheduler, Map<String, String> given) implements ComponentContext {
        @Override
        public Options options() {
            return Options.of("options.scheduler", given);
        }

        @Override
        public ModelFolder model(String key) {
            if (!key.equals("scheduler")) {
                throw new IllegalArgumentException("no model '" + key + "'");
            }
            return scheduler;
        }

        @Override
        public Device device() {
            throw new UnsupportedOperationException();
        }

        @Override
        public ComputeDType dtype() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Kernels kernels() {
            throw new UnsupportedOperationException();
        }

        @Override
        public NDManager manager() {
            throw new UnsupportedOperationException();
        }

        @Override
        public ModelWeights checkpoint(String key) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<Path> path(String key) {
            return Optional.empty();
        }

        @Override
        public ModelConfig pipelineConfig() {
            throw new UnsupportedOperationException();
        }
    }

    /** A scheduler folder holding SDXL's {@code scheduler_config.json}. */
    private record SdxlSchedulerFolder() implements ModelFolder {
        @Override
        public Path path() {
            return Path.of("sdxl/scheduler");
        }

        @Override
        public ModelConfig config() {
            throw new IllegalArgumentException("a scheduler folder has no config.json");
        }

        @Override
        public ModelConfig json(String fileName) {
            assertEquals("scheduler_config.json", fileName);
            return new ModelConfig(SdxlSchedulerConfig.SOURCE, SdxlSchedulerConfig.values());
        }

        @Override
        public ModelWeights weights() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Path file(String name) {
            throw new UnsupportedOperationException();
        }
    }

    private static Map<String, ComponentFactory<?>> factories() {
        Map<String, ComponentFactory<?>> byId = new TreeMap<>();
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.kind() == ComponentKind.SCHEDULER) {
                byId.put(f.id(), f);
            }
        }
        return byId;
    }

    private static Scheduler create(String id, Map<String, String> options) {
        return (Scheduler) factories().get(id).create(new Context(new SdxlSchedulerFolder(), options));
    }

    @Test
    void serviceLoaderFindsEveryScheduler() {
        assertEquals("[ddim, dpm2, dpm2-ancestral, dpm2-ancestral-karras, dpm2-karras, dpmpp-2m, dpmpp-2m-karras, "
                + "dpmpp-2m-sde, dpmpp-2m-sde-karras, dpmpp-2s-ancestral, dpmpp-2s-ancestral-karras, dpmpp-3m-sde, "
                + "dpmpp-3m-sde-karras, dpmpp-sde, dpmpp-sde-karras, euler, euler-ancestral, euler-ancestral-karras, "
                + "euler-karras, heun, heun-karras, lcm, lms, lms-karras, unipc]", factories().keySet().toString());
        factories().values().forEach(f -> assertTrue(!f.description().isBlank() && f.apiVersionRange() != null));
    }

    @Test
    void buildsFromTheSchedulerConfig() {
        Scheduler.StepNoise zeros = (manager, shape, index) -> manager.zeros(shape);
        assertArrayEquals(new float[] {751, 501, 251, 1}, create("euler", Map.of())
                .start(4, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {667, 334, 1}, create("ddim", Map.of())
                .start(3, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {801, 601, 401, 201}, create("dpmpp-2m", Map.of())
                .start(4, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {999, 687, 146, 0}, create("dpmpp-2m-karras", Map.of())
                .start(4, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {751, 501, 251, 1}, create("euler-ancestral", Map.of())
                .start(4, TestEngine.manager(), zeros).timesteps());
        assertArrayEquals(new float[] {801, 601, 401, 201}, create("dpmpp-2m-sde", Map.of())
                .start(4, TestEngine.manager(), zeros).timesteps());
        assertArrayEquals(new float[] {999, 687, 146, 0}, create("dpmpp-2m-sde-karras", Map.of())
                .start(4, TestEngine.manager(), zeros).timesteps());
        assertArrayEquals(new float[] {999, 759, 519, 279}, create("lcm", Map.of())
                .start(4, TestEngine.manager(), zeros).timesteps(), "the file's spacing and offset are not LCM's");
        assertArrayEquals(new float[] {999, 799, 599}, create("lcm", Map.of("original_inference_steps", "5"))
                .start(3, TestEngine.manager(), zeros).timesteps());
        IllegalStateException withoutNoise = assertThrows(IllegalStateException.class,
                () -> create("dpmpp-2m-sde", Map.of()).start(4, TestEngine.manager()));
        assertTrue(withoutNoise.getMessage().contains("adds fresh noise at each step"), withoutNoise.getMessage());
        float[] karras = create("euler-karras", Map.of()).start(4, TestEngine.manager()).timesteps();
        assertEquals(411.41538902894206, karras[1], 1e-3, "Karras sigmas give fractional timesteps");
        assertArrayEquals(new float[] {751, 501, 501, 251, 251, 1, 1}, create("heun", Map.of())
                .start(4, TestEngine.manager()).timesteps(), "Heun evaluates each step but the first twice");
        float[] heunKarras = create("heun-karras", Map.of()).start(4, TestEngine.manager()).timesteps();
        assertEquals(karras[1], heunKarras[1], "Euler's Karras noise levels");
        assertEquals(karras[1], heunKarras[2]);
        assertEquals(7, create("dpm2", Map.of()).start(4, TestEngine.manager()).timesteps().length);
        assertEquals(7, create("dpm2-ancestral-karras", Map.of()).start(4, TestEngine.manager(), zeros).timesteps()
                .length);
        float[] sde = create("dpmpp-sde", Map.of()).start(4, TestEngine.manager(), zeros).timesteps();
        assertEquals(7, sde.length, "DPM++ SDE evaluates each step but the last twice");
        assertArrayEquals(new float[] {751, 501, 251, 1}, new float[] {sde[0], sde[2], sde[4], sde[6]});
        assertEquals(karras[1], create("dpmpp-sde-karras", Map.of()).start(4, TestEngine.manager(), zeros)
                .timesteps()[2], 1e-3, "Euler's Karras noise levels");
        IllegalStateException sdeWithoutNoise = assertThrows(IllegalStateException.class,
                () -> create("dpmpp-sde", Map.of()).start(4, TestEngine.manager()));
        assertEquals("DPM++ SDE adds fresh noise at each step: start it with the generation's step noise",
                sdeWithoutNoise.getMessage());
    }

    @Test
    void profileOptionsOverrideTheFileAndRequestsOverrideBoth() {
        Scheduler trailing = create("euler", Map.of("timestep_spacing", "trailing", "steps_offset", "0"));
        assertArrayEquals(new float[] {999, 749, 499, 249}, trailing.start(4, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {999, 666, 333, 0},
                trailing.withOverrides(Map.of("timestep_spacing", "linspace"))
                .start(4, TestEngine.manager()).timesteps());
        // the id fixes Karras sigmas over the profile; a request may repeat that, not contradict it
        Scheduler karras = create("euler-karras", Map.of("use_karras_sigmas", "false"));
        assertEquals(411.41538902894206, karras.start(4, TestEngine.manager()).timesteps()[1], 1e-3);
        assertEquals(411.41538902894206, karras.withOverrides(Map.of("use_karras_sigmas", "TRUE"))
                .start(4, TestEngine.manager()).timesteps()[1], 1e-3);
        IllegalArgumentException fixed = assertThrows(IllegalArgumentException.class,
                () -> karras.withOverrides(Map.of("use_karras_sigmas", false)));
        assertEquals("scheduler id 'euler-karras' fixes 'use_karras_sigmas' = true; a request cannot change it "
                + "(another scheduler id has the other value)", fixed.getMessage());
    }

    @Test
    void aRequestMayGiveOnlyWhatItsSchedulerReads() {
        IllegalArgumentException notRead = assertThrows(IllegalArgumentException.class,
                () -> create("euler", Map.of()).withOverrides(Map.of("eta", "0.5")));
        assertEquals("this scheduler does not read 'eta' (it reads: num_train_timesteps, beta_start, beta_end, "
                + "beta_schedule, prediction_type, timestep_spacing, steps_offset, use_karras_sigmas, "
                + "use_exponential_sigmas, use_beta_sigmas, use_kl_optimal_sigmas, use_align_your_steps_sigmas, "
                + "interpolation_type, rescale_betas_zero_snr)",
                notRead.getMessage());
        IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
                () -> create("ddim", Map.of()).withOverrides(Map.of("etta", "0.5")));
        assertTrue(typo.getMessage().startsWith("this scheduler does not read 'etta'; did you mean eta? (it reads: "),
                typo.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> create("euler-ancestral", Map.of()).withOverrides(Map.of("use_karras_sigmas", "true")),
                "Euler ancestral has no Karras sigmas to turn on");
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                () -> create("ddim", Map.of()).withOverrides(Map.of("clip_sample_range", "wide")));
        assertEquals("request's scheduler options: 'clip_sample_range' must be a number, got 'wide'",
                range.getMessage());
    }

    @Test
    void badProfileOptionNamesTheOptionAndTheScheduler() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> create("dpmpp-2m", Map.of("solver_order", "two")));
        assertEquals("options.scheduler.solver_order: expected an integer in 1..3, got 'two'", e.getMessage());
        IllegalArgumentException unsupported = assertThrows(IllegalArgumentException.class,
                () -> create("dpmpp-2m-sde", Map.of("solver_order", "3")));
        assertEquals("profile options of scheduler 'dpmpp-2m-sde': 'solver_order' = 3 is not supported by Montage's "
                + "schedulers (the third-order solver is the ODE's (algorithm_type dpmsolver++), as in diffusers 0.23)",
                unsupported.getMessage());
        create("dpmpp-2m", Map.of("solver_order", "3"));
        IllegalArgumentException steps = assertThrows(IllegalArgumentException.class,
                () -> create("unipc", Map.of("disable_corrector", "first")));
        assertEquals("options.scheduler.disable_corrector: expected step indices, e.g. 0, 2, got 'first'",
                steps.getMessage());
        create("unipc", Map.of("disable_corrector", "0,2"));
    }

    @Test
    void eachSchedulerDeclaresTheSettingsItReadsWithoutDefaults() {
        Map<String, ComponentFactory<?>> all = factories();
        assertEquals(List.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type",
                "timestep_spacing", "steps_offset", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                "use_kl_optimal_sigmas", "use_align_your_steps_sigmas", "interpolation_type",
                "rescale_betas_zero_snr"), names(all.get("euler")));
        assertEquals(names(all.get("euler")), names(all.get("euler-karras")));
        assertEquals(List.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type",
                "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"), names(all.get("euler-ancestral")));
        assertFalse(names(all.get("heun")).contains("rescale_betas_zero_snr"), "diffusers' Heun has no such setting");
        assertTrue(names(all.get("ddim")).containsAll(List.of("clip_sample", "set_alpha_to_one")));
        assertTrue(names(all.get("dpmpp-2m")).containsAll(List.of("solver_order", "lambda_min_clipped",
                "use_exponential_sigmas")));
        assertTrue(names(all.get("dpmpp-3m-sde")).containsAll(List.of("use_karras_sigmas", "use_exponential_sigmas",
                "eta")));
        assertFalse(names(all.get("unipc")).contains("use_exponential_sigmas"), "UniPC has Karras sigmas only");
        all.values().forEach(f -> f.options().forEach(o -> assertTrue(o.defaultValue().isEmpty(), o.name()
                + ": an option not given keeps the model's scheduler_config.json value")));
        all.values().forEach(f -> f.options().forEach(o -> assertTrue(SchedulerSettings.KNOWN_KEYS.contains(
                o.name()), o.name() + " is a diffusers setting")));
    }

    private static List<String> names(ComponentFactory<?> factory) {
        return factory.options().stream().map(OptionSpec::name).toList();
    }

    @Test
    void optionsReachTheSchedulerTyped() {
        Scheduler plain = create("dpmpp-2m", Map.of());
        Scheduler clipped = create("dpmpp-2m", Map.of("lambda_min_clipped", "-inf", "lower_order_final", "TRUE"));
        assertArrayEquals(plain.start(4, TestEngine.manager()).timesteps(),
                clipped.start(4, TestEngine.manager()).timesteps(), "the defaults given explicitly change nothing");
        assertArrayEquals(new float[] {999, 666, 333, 0}, create("euler", Map.of("timestep_spacing", "linspace"))
                .start(4, TestEngine.manager()).timesteps());
    }

    @Test
    void readsTheGoldenModelsSchedulerFolder() {
        ComponentContext context = new Context(TestEngine.folder(Golden.model().resolve("scheduler")), Map.of());
        Scheduler euler = (Scheduler) factories().get("euler").create(context);
        assertArrayEquals(new float[] {751, 501, 251, 1}, euler.start(4, TestEngine.manager()).timesteps());
    }
}
