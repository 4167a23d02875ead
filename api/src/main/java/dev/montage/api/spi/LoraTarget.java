package dev.montage.api.spi;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Optionally implemented by a {@link ComponentFactory} whose weights kohya-ss LoRAs adapt. The host applies a LoRA
 * module to the weight tensor the component names for it, fused as the tensor is read ({@code W + s * alpha / rank *
 * up @ down}), so the component's code is the same with or without LoRAs.
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
}
