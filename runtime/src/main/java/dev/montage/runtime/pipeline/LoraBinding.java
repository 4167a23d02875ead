package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDManager;
import dev.montage.api.ConfigurationException;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.LoraTarget;
import dev.montage.api.spi.ModelFile;
import dev.montage.runtime.weights.LoraFile;
import dev.montage.runtime.weights.LoraWeights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which tensor of which model each module of a pipeline's LoRAs adapts: a kohya-ss module {@code <prefix>_<name>}
 * belongs to the model key a component declares for {@code <prefix>} ({@link LoraTarget#loraPrefixes()}) and adapts
 * the tensor that component names for {@code <name>} ({@link LoraTarget#loraModules}); a diffusers module
 * {@code <prefix>.<path>} likewise by {@link LoraTarget#diffusersLoraPrefixes()} and
 * {@link LoraTarget#diffusersLoraModules}. Reads tensor names and shapes only.
 */
final class LoraBinding {
    /** How many names an error lists. */
    private static final int LISTED = 10;

    /** A model key LoRAs may adapt: its tensors, by the module name of each that modules may adapt. */
    private record Model(String key, ModelWeights weights, Map<String, String> modules) {
    }

    /** By a module name's start, its prefix and separator ({@code lora_unet_}, {@code unet.}). */
    private final Map<String, Model> byPrefix = new LinkedHashMap<>();

    /** @param targets the components of the pipeline whose weights LoRAs may adapt, with their model files */
    LoraBinding(Map<LoraTarget, List<ModelFile>> targets, FolderComponentContext context) {
        targets.forEach((target, files) -> target.loraPrefixes().forEach((key, prefix) -> {
            boolean folder = files.stream().anyMatch(f -> f.key().equals(key) && f.folder());
            ModelWeights weights = folder ? context.model(key).weights() : context.checkpoint(key);
            byPrefix.put(prefix + "_", new Model(key, weights, target.loraModules(key, weights.names())));
            String diffusers = target.diffusersLoraPrefixes().get(key);
            if (diffusers != null) {
                byPrefix.put(diffusers + ".", new Model(key, weights,
                        target.diffusersLoraModules(key, weights.names())));
            }
        }));
    }

    /**
     * Binds the modules of every LoRA; those of several LoRAs on one tensor add up.
     *
     * @param ignoreUnmatched whether modules that name no layer of the pipeline's models are left out rather than
     *                        refused (a LoRA none of whose modules matches is refused either way)
     * @return by model key, the modules applied to each of its tensors
     * @throws ConfigurationException naming the LoRA and its modules that name no layer, whose shapes do not fit
     *     their layer's, or when none of its modules names a layer (a LoRA for another architecture)
     */
    Map<String, Map<String, List<LoraWeights.Applied>>> bind(List<Lora> loras, FolderComponentContext context,
            boolean ignoreUnmatched) {
        Map<String, Map<String, List<LoraWeights.Applied>>> applied = new LinkedHashMap<>();
        try (NDManager scope = context.manager().newSubManager()) {
            for (Lora lora : loras) {
                ModelWeights tensors = context.lora(lora.file());
                refuseCheckpoint(tensors);
                LoraFile file = new LoraFile(tensors, scope);
                List<String> unmatched = new ArrayList<>();
                List<String> misfits = new ArrayList<>();
                int matched = 0;
                for (LoraFile.Module module : file.modules().values()) {
                    Map.Entry<String, Model> owner = owner(module.name());
                    String tensor = owner == null ? null : owner.getValue().modules()
                            .get(module.name().substring(owner.getKey().length()));
                    if (tensor == null) {
                        unmatched.add(module.name());
                        continue;
                    }
                    matched++;
                    Model model = owner.getValue();
                    long[] shape = model.weights().shape(tensor);
                    if (!Arrays.equals(shape, module.target())) {
                        misfits.add(module.name() + " changes " + Arrays.toString(module.target()) + ", model '"
                                + model.key() + "' tensor '" + tensor + "' is " + Arrays.toString(shape));
                        continue;
                    }
                    applied.computeIfAbsent(model.key(), k -> new LinkedHashMap<>())
                            .computeIfAbsent(tensor, t -> new ArrayList<>())
                            .add(new LoraWeights.Applied(file, module.name(), lora.scale()));
                }
                check(file, matched, unmatched, misfits, ignoreUnmatched || lora.ignoreUnmatched());
            }
        }
        return applied;
    }

    private void check(LoraFile file, int matched, List<String> unmatched, List<String> misfits,
            boolean ignoreUnmatched) {
        String expected = "expected modules named " + String.join("*, ", byPrefix.keySet()) + "* after "
                + "the layers of this pipeline's models";
        if (matched == 0) {
            throw new ConfigurationException("LoRA " + file.source() + " is for another architecture: none of its "
                    + unmatched.size() + " modules " + listed(unmatched) + " names a layer of this pipeline's models; "
                    + expected);
        }
        if (!misfits.isEmpty()) {
            throw new ConfigurationException("LoRA " + file.source() + " is for another architecture: "
                    + misfits.size() + " of its modules do not fit their layers: " + listed(misfits));
        }
        if (!unmatched.isEmpty() && !ignoreUnmatched) {
            throw new ConfigurationException("LoRA " + file.source() + ": " + unmatched.size() + " of its "
                    + (matched + unmatched.size()) + " modules name no layer of this pipeline's models: "
                    + listed(unmatched) + "; " + expected + " (or ignore unmatched modules to apply the others)");
        }
    }

    /**
     * Refuses a file that holds a model's weights rather than a LoRA (a file given as a LoRA by mistake), naming the
     * model.
     */
    private void refuseCheckpoint(ModelWeights file) {
        if (LoraFile.holdsFactors(file.names())) {
            return;
        }
        for (Model model : byPrefix.values()) {
            long shared = file.names().stream().filter(model.weights().names()::contains).count();
            if (2 * shared > file.names().size()) {
                throw new ConfigurationException("LoRA " + file.source() + " is not a LoRA: it holds the "
                        + "weights of model '" + model.key() + "' (" + shared + " of its " + file.names().size()
                        + " tensors are named as that model's); expected a LoRA's down and up factors per module");
            }
        }
    }

    /** The prefix with its separator and model a module name starts with, or null. */
    private Map.Entry<String, Model> owner(String module) {
        for (Map.Entry<String, Model> e : byPrefix.entrySet()) {
            if (module.startsWith(e.getKey())) {
                return e;
            }
        }
        return null;
    }

    private static String listed(List<String> names) {
        return names.size() <= LISTED ? names.toString()
                : names.subList(0, LISTED) + " and " + (names.size() - LISTED) + " more";
    }
}
