package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.WeightLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's multi-subject cross-attention, with the {@code to_k_ip}/{@code to_v_ip} projections of the
 * {@code ms_adapter} checkpoint ({@code ms_adapter.bin}, dictionary {@code ms_adapter}) bound to the layers of the
 * {@code unet} folder's configuration. Option {@code text_tokens} (default 77): context tokens that are text.
 */
public final class MultiSubjectAttentionFactory implements ComponentFactory<AttentionProcessor>, WeightLayout {
    /** The checkpoint key of the adapter weights. */
    public static final String CHECKPOINT_KEY = "ms_adapter";
    /** The dictionary of the checkpoint that holds the attention processors' weights. */
    static final String PROCESSORS = "ms_adapter";

    @Override
    public ComponentKind kind() {
        return ComponentKind.ATTENTION_PROCESSOR;
    }

    @Override
    public String id() {
        return "ms-diffusion";
    }

    @Override
    public String description() {
        return "MS-Diffusion multi-subject cross-attention: text attention + box-masked attention to subject tokens";
    }

    /**
     * @throws IllegalArgumentException naming the checkpoint when it has no {@code ms_adapter} entries or they do
     *     not fit the UNet's attention layers
     */
    @Override
    public AttentionProcessor create(ComponentContext context) {
        UNetConfig unet = UNetConfig.from(context.model(SdxlUNetFactory.MODEL_KEY).config());
        ModelWeights checkpoint = context.checkpoint(CHECKPOINT_KEY);
        if (checkpoint.names().stream().noneMatch(n -> n.startsWith(PROCESSORS + "."))) {
            throw new IllegalArgumentException(checkpoint.source() + " has no '" + PROCESSORS + ".*' tensors; "
                    + "expected the ms_adapter.bin written by MSAdapter.save_to_checkpoint");
        }
        return MultiSubjectAttention.bind(checkpoint.prefixed(PROCESSORS), unet.attentionLayers(),
                context.options().get(AttentionOptions.TEXT_TOKENS), context.manager());
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(AttentionOptions.TEXT_TOKENS);
    }

    /** Expects the text token count that starts every cross-attention context (option {@code text_tokens}). */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        return AttentionOptions.dimensions(context);
    }

    /** {@code ms_adapter}: the {@code ms_adapter.<i>.to_k_ip/to_v_ip.weight} entries (the resampler adds the rest). */
    @Override
    public Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs) {
        UNetConfig unet = UNetConfig.from(WeightLayout.require(configs, SdxlUNetFactory.MODEL_KEY));
        Map<String, long[]> shapes = new LinkedHashMap<>();
        MultiSubjectAttention.weightShapes(unet.attentionLayers())
                .forEach((name, shape) -> shapes.put(PROCESSORS + "." + name, shape));
        return Map.of(CHECKPOINT_KEY, shapes);
    }
}
