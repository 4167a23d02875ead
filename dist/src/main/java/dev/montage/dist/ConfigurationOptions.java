package dev.montage.dist;

import dev.montage.dist.server.ServerSection;
import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The options of every command that reads a configuration: the profile layers, overrides by dotted key, and the
 * most used overrides as flags. They win over the profiles and over {@code MONTAGE_*} environment variables.
 */
final class ConfigurationOptions {
    /** Environment variable naming the profiles when {@code --profile} is not given. */
    static final String PROFILE_VARIABLE = "MONTAGE_PROFILE";

    @Option(names = "--profile", split = ",", paramLabel = "NAME|FILE", description = "Profiles, weakest first: "
            + "shipped names (tiny, cpu, cuda-fp16, ip-adapter, server) or YAML/JSON files (default: $" + PROFILE_VARIABLE
            + ", else the built-in defaults).")
    List<String> profiles = new ArrayList<>();

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set a profile key, e.g. --set engine.threads=8 "
            + "(repeatable; KEY= clears it).")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--model", description = "A single-file SDXL checkpoint (.safetensors; models.config gives its "
            + "configuration files and tokenizers) or an MS-Diffusion model folder: SDXL diffusers folder with "
            + "image_encoder/ and ms_adapter.bin (sets models.base; default: the profile's, else the embedded tiny model with random "
            + "weights).")
    Path model;

    @Option(names = "--lora", paramLabel = "FILE[:SCALE]", description = "Apply a LoRA (.safetensors, kohya-ss or diffusers format) to the "
            + "UNet and the text encoders at load, with this scale (default 1); repeatable, LoRAs add up.")
    List<String> loras = new ArrayList<>();

    @Option(names = "--lora-ignore-unmatched", description = "Leave out LoRA modules that name no layer of the models "
            + "instead of refusing them, for every LoRA (models.loras[i].ignore_unmatched for one LoRA).")
    boolean loraIgnoreUnmatched;

    @Option(names = "--device", description = "cpu, cuda, cuda:N or auto (sets engine.device).")
    String device;

    @Option(names = "--dtype", description = "float32, bfloat16, float16 or auto (sets engine.dtype).")
    String dtype;

    /**
     * A pipeline builder with these options over the profiles and the environment. Profiles may hold the server's
     * section whatever the command: one profile serves {@code generate} and {@code serve} alike.
     */
    MontagePipeline.Builder builder(Map<String, String> environment, ComponentRegistry registry) {
        List<String> layers = profiles;
        String fromEnvironment = environment.get(PROFILE_VARIABLE);
        if (layers.isEmpty() && fromEnvironment != null && !fromEnvironment.isBlank()) {
            layers = List.of(fromEnvironment.split(","));
        }
        MontagePipeline.Builder builder = MontagePipeline.builder().catalog(catalog()).registry(registry)
                .section(ServerSection.PROFILE).environment(environment)
                .profile(layers.stream().map(String::trim).toArray(String[]::new));
        settings.forEach((key, value) -> builder.setting(key, value.isEmpty() ? null : value,
                "command line --set"));
        flag(builder, "models.base", model, "--model");
        flag(builder, "engine.device", device, "--device");
        flag(builder, "engine.dtype", dtype, "--dtype");
        loras.forEach(l -> builder.lora(Lora.parse(l)));
        if (loraIgnoreUnmatched) {
            builder.ignoreUnmatchedLoraModules();
        }
        return builder;
    }

    /** Sets {@code key} to a flag's value when the flag was given. */
    static void flag(MontagePipeline.Builder builder, String key, Object value, String flag) {
        if (value != null) {
            builder.setting(key, value, "command line " + flag);
        }
    }

    /** Shipped profiles: the distribution's {@code profiles/} folder (editable), then the class path. */
    static ProfileCatalog catalog() {
        ProfileCatalog catalog = ProfileCatalog.classpath(Montage.class.getClassLoader());
        String home = System.getProperty("montage.dist.home");
        return home == null ? catalog : catalog.withFolder(Path.of(home, "profiles"));
    }
}
