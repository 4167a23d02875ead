package dev.montage.plugins.unet;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.WeightLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's multi-subject cross-attention, with the {@code to_k_ip}/{@code to_v_ip} projections of the
 * {@code ms_adapter} checkpoint ({@code ms_adapter.bin}, dictionary {@code ms_adapter}) bound to the layers of the
 * {@code unet} folder's configuration.
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

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.file(CHECKPOINT_KEY, "ms_adapter.bin",
                "MS-Diffusion's ms_adapter.bin (torch checkpoint)"), SdxlUNetFactory.MODEL_FILE);
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
                context.manager());
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
