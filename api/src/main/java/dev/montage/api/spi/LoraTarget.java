package dev.montage.api.spi;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Optionally implemented by a {@link ComponentFactory} whose weights LoRAs adapt, in the kohya-ss format or in
 * diffusers' formats. The host applies a LoRA module to the weight tensor the component names for it, fused as the
 * tensor is read ({@code W + s * alpha / rank * up @ down}), so the component's code is the same with or without
 * LoRAs.
 */
public interface LoraTarget {

    /** The suffix of a layer's weight tensor. */
    String WEIGHT = ".weight";

    /**
     * The LoRA name prefix of each model key whose checkpoint LoRAs adapt, e.g. {@code unet} → {@code lora_unet}: a
     * module {@code lora_unet_<name>} adapts a tensor of model {@code unet}.
     */
    Map<String, String> loraPrefixes();

    /**
     * The weight tensors of a model key's checkpoint that LoRA modules may adapt, by module name (the LoRA name after
     * the prefix and its {@code _}). The default takes each {@code .weight} tensor by its module path with {@code .}
     * as {@code _}, which is the naming of a checkpoint whose layout LoRAs were trained on (e.g. a transformers text
     * encoder: {@code text_model.encoder.layers.0.mlp.fc1.weight} → {@code text_model_encoder_layers_0_mlp_fc1}).
     *
     * @param key         one of the keys of {@link #loraPrefixes()}
     * @param tensorNames the tensor names of the key's checkpoint
     * @return tensor name by module name
     */
    default Map<String, String> loraModules(String key, Set<String> tensorNames) {
        Map<String, String> modules = new LinkedHashMap<>();
        for (String name : tensorNames) {
            if (name.endsWith(WEIGHT)) {
                modules.put(name.substring(0, name.length() - WEIGHT.length()).replace('.', '_'), name);
            }
        }
        return modules;
    }

    /**
     * The prefix of each model key's modules in diffusers' LoRA formats, which name a module {@code <prefix>.<module
     * path>} ({@code unet.down_blocks.1.attentions.0.proj_in}, {@code text_encoder_2.text_model.encoder.layers.0
     * .mlp.fc1}). The default is each key of {@link #loraPrefixes()} itself, diffusers naming a pipeline's models by
     * their folders.
     */
    default Map<String, String> diffusersLoraPrefixes() {
        Map<String, String> prefixes = new LinkedHashMap<>();
        loraPrefixes().keySet().forEach(key -> prefixes.put(key, key));
        return prefixes;
    }

    /**
     * The weight tensors of a model key's checkpoint that diffusers-format LoRA modules may adapt, by module path (the
     * name after the prefix and its {@code .}). The default takes each {@code .weight} tensor by its path without the
     * suffix, diffusers LoRAs naming the modules of the diffusers or transformers model whose checkpoint it is; a
     * component adds aliases where LoRAs name a layer otherwise (diffusers' attention processors, e.g.
     * {@code attn1.processor.to_q} for {@code attn1.to_q}).
     *
     * @param key         one of the keys of {@link #diffusersLoraPrefixes()}
     * @param tensorNames the tensor names of the key's checkpoint
     * @return tensor name by module path
     */
    default Map<String, String> diffusersLoraModules(String key, Set<String> tensorNames) {
        Map<String, String> modules = new LinkedHashMap<>();
        for (String name : tensorNames) {
            if (name.endsWith(WEIGHT)) {
                modules.put(name.substring(0, name.length() - WEIGHT.length()), name);
            }
        }
        return modules;
    }

    /**
     * The modules with an alias beside each module whose name matches a pattern, for the same tensor.
     *
     * @param modules     tensor name by module name, which is not changed
     * @param pattern     the module names that have an alias
     * @param replacement the alias of a matching name, with {@code $n} for its groups
     * @return the modules and their aliases
     */
    static Map<String, String> withAliases(Map<String, String> modules, Pattern pattern, String replacement) {
        Map<String, String> all = new LinkedHashMap<>(modules);
        modules.forEach((module, tensor) -> {
            Matcher m = pattern.matcher(module);
            if (m.matches()) {
                all.put(m.replaceFirst(replacement), tensor);
            }
        });
        return all;
    }
}
